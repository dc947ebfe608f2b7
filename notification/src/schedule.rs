//! When an email may go out: after quiet hours, at the daily digest time, and on the 1st of
//! the month for the summary. All in the user's time zone; pure functions of the clock.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::preferences::QuietHours;

/// The local time the daily digest goes out, and the monthly summary on the 1st.
pub const DIGEST_TIME: NaiveTime = match NaiveTime::from_hms_opt(8, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// The earliest moment from `now` outside the quiet hours.
pub fn release_time(now: DateTime<Utc>, tz: Tz, quiet: Option<QuietHours>) -> DateTime<Utc> {
    let Some(QuietHours { start, end }) = quiet else { return now };
    if start == end {
        return now;
    }
    let local = now.with_timezone(&tz).naive_local();
    let t = local.time();
    let inside = if start < end { start <= t && t < end } else { t >= start || t < end };
    if !inside {
        return now;
    }
    // Overnight windows after midnight, and daytime windows, end today; the evening part of
    // an overnight window ends tomorrow.
    let day = if t < end { local.date() } else { local.date() + Days::new(1) };
    at_local(tz, day.and_time(end)).max(now)
}

/// When an email queued at `now` for the daily digest goes out: the next digest time, moved
/// past quiet hours if they cover it.
pub fn next_digest(now: DateTime<Utc>, tz: Tz, quiet: Option<QuietHours>) -> DateTime<Utc> {
    let local = now.with_timezone(&tz).naive_local();
    let today = at_local(tz, local.date().and_time(DIGEST_TIME));
    let next =
        if today > now { today } else { at_local(tz, (local.date() + Days::new(1)).and_time(DIGEST_TIME)) };
    release_time(next, tz, quiet)
}

/// The month a scheduled summary is due for at `now`, if one is: on the 1st, from the digest
/// time on, the month that just ended.
pub fn summary_due(now: DateTime<Utc>, tz: Tz) -> Option<NaiveDate> {
    let local = now.with_timezone(&tz).naive_local();
    if local.day() != 1 || local.time() < DIGEST_TIME {
        return None;
    }
    let first = local.date();
    first.checked_sub_months(chrono::Months::new(1))
}

/// The first day of the month `now` falls in, in `tz`.
pub fn current_month(now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    let local = now.with_timezone(&tz).date_naive();
    local.with_day(1).unwrap_or(local)
}

/// A local wall-clock time as an instant. In a DST gap the wall clock skips, so the time an
/// hour later is used; in an overlap, the earlier instant.
fn at_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    tz.from_local_datetime(&local)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(local + chrono::Duration::hours(1))).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&local))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("a valid time").with_timezone(&Utc)
    }

    fn quiet(start: &str, end: &str) -> Option<QuietHours> {
        let p = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").expect("HH:MM");
        Some(QuietHours { start: p(start), end: p(end) })
    }

    #[test]
    fn outside_quiet_hours_is_now() {
        let now = utc("2026-12-01T12:00:00Z");
        assert_eq!(release_time(now, chrono_tz::UTC, quiet("22:00", "07:00")), now);
        assert_eq!(release_time(now, chrono_tz::UTC, None), now);
    }

    #[test]
    fn overnight_window_holds_until_morning_in_the_users_zone() {
        // 23:30 in Paris (UTC+1 in December) is inside 22:00–07:00; release is 07:00 Paris.
        let now = utc("2026-12-01T22:30:00Z");
        assert_eq!(
            release_time(now, chrono_tz::Europe::Paris, quiet("22:00", "07:00")),
            utc("2026-12-02T06:00:00Z")
        );
        // 03:00 Paris, after midnight: released the same local day.
        let now = utc("2026-12-02T02:00:00Z");
        assert_eq!(
            release_time(now, chrono_tz::Europe::Paris, quiet("22:00", "07:00")),
            utc("2026-12-02T06:00:00Z")
        );
    }

    #[test]
    fn daytime_window_and_dst_gap() {
        let now = utc("2026-12-01T12:30:00Z");
        assert_eq!(release_time(now, chrono_tz::UTC, quiet("12:00", "13:00")), utc("2026-12-01T13:00:00Z"));
        // New York springs forward at 02:00 on 2026-03-08: a window ending 02:30 ends at 03:30 EDT.
        let now = utc("2026-03-08T06:45:00Z"); // 01:45 EST
        let released = release_time(now, chrono_tz::America::New_York, quiet("01:00", "02:30"));
        assert_eq!(released, utc("2026-03-08T07:30:00Z"));
    }

    #[test]
    fn digest_goes_at_eight_local_past_quiet_hours() {
        let tz = chrono_tz::UTC;
        assert_eq!(next_digest(utc("2026-12-01T07:00:00Z"), tz, None), utc("2026-12-01T08:00:00Z"));
        assert_eq!(next_digest(utc("2026-12-01T09:00:00Z"), tz, None), utc("2026-12-02T08:00:00Z"));
        assert_eq!(
            next_digest(utc("2026-12-01T09:00:00Z"), tz, quiet("22:00", "09:30")),
            utc("2026-12-02T09:30:00Z")
        );
    }

    #[test]
    fn summary_is_due_on_the_first_for_the_month_before() {
        let tz = chrono_tz::Asia::Tokyo; // UTC+9
        assert_eq!(
            summary_due(utc("2026-11-30T23:30:00Z"), tz),
            Some(NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"))
        );
        assert_eq!(summary_due(utc("2026-11-30T20:00:00Z"), tz), None); // 05:00 on the 1st
        assert_eq!(summary_due(utc("2026-12-02T12:00:00Z"), tz), None);
        assert_eq!(
            summary_due(utc("2027-01-01T09:00:00Z"), chrono_tz::UTC),
            Some(NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"))
        );
    }
}
