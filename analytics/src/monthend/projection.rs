//! One series' month-end projection: the models' forecast of what is still to come, the
//! spread around it, and the parts (recurring payments due, a one-off allowance) added on
//! top. Pure functions over a series' daily spending; `super` reads the history and
//! assembles the answer.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::forecasting::metrics::{Z80, Z95, normal_cdf};
use crate::forecasting::{Selection, Settings, select};
use crate::history::{self, DailySpend};
use crate::parts::OneOffRisk;

/// Complete months needed before a series is modelled monthly.
pub const MIN_MONTHS: usize = 6;
/// Days of history needed for any projection.
pub const MIN_DAYS: i64 = 14;
/// Months of history the monthly models see.
pub(super) const MONTHLY_HISTORY: i32 = 36;
/// Days of history the daily models see.
const DAILY_HISTORY: i64 = 120;

/// A selection made for one series, for the registry.
#[derive(Debug, Clone)]
pub struct Trained {
    /// "monthly" or "daily".
    pub granularity: &'static str,
    /// The backtest evidence and the chosen model.
    pub selection: Selection,
}

/// One series' month-end projection, in the series' currency as `f64`.
#[derive(Debug, Clone)]
pub struct Projected {
    /// Expected month-end total (booked plus expected remaining).
    pub total: f64,
    /// 80 % interval of the total.
    pub interval_80: (f64, f64),
    /// 95 % interval of the total.
    pub interval_95: (f64, f64),
    /// Standard deviation of the remaining spending.
    pub sigma: f64,
    /// Expected spending on each remaining day.
    pub daily_mean: Vec<(NaiveDate, f64)>,
    /// The model that made it.
    pub model: String,
    /// The chance of a one-off before the month ends and its expected size, when the series
    /// has had one-offs: the total is then a mixture, most likely without one.
    pub one_off: Option<OneOffRisk>,
}

/// The distribution of a month-end total: normal around `center` with `sigma`, and with
/// probability `chance` a one-off of `size` on top.
#[derive(Debug, Clone, Copy)]
struct Mixture {
    center: f64,
    sigma: f64,
    chance: f64,
    size: f64,
}

/// The standard normal quantile of `p` in (0, 1), by bisection on the CDF.
fn z_of(p: f64) -> f64 {
    let (mut low, mut high) = (-10.0, 10.0);
    for _ in 0..100 {
        let mid = 0.5 * (low + high);
        if normal_cdf(mid) < p {
            low = mid;
        } else {
            high = mid;
        }
    }
    0.5 * (low + high)
}

impl Mixture {
    fn above(&self, x: f64) -> f64 {
        let tail = |c: f64| {
            if self.sigma <= 0.0 {
                if c > x { 1.0 } else { 0.0 }
            } else {
                1.0 - normal_cdf((x - c) / self.sigma)
            }
        };
        (1.0 - self.chance) * tail(self.center) + self.chance * tail(self.center + self.size)
    }

    /// The value below which a share `q` of the distribution lies (bisection on the CDF).
    fn quantile(&self, q: f64) -> f64 {
        let spread = 8.0 * self.sigma.max(1e-9);
        let (mut low, mut high) = (self.center - spread, self.center + self.size.max(0.0) + spread);
        for _ in 0..100 {
            let mid = 0.5 * (low + high);
            if 1.0 - self.above(mid) < q {
                low = mid;
            } else {
                high = mid;
            }
        }
        0.5 * (low + high)
    }
}

/// A series' booked spending, and its projection when there is enough history.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Booked in the month up to and including the as-of day (exact).
    pub spent: Decimal,
    /// `None`: insufficient data.
    pub projected: Option<Projected>,
    /// The model selection behind it.
    pub trained: Option<Trained>,
}

impl Projected {
    /// Probability that the month-end total exceeds `limit`. With a one-off possible, the
    /// total is most likely the regular one, and over by a one-off with its chance.
    pub fn probability_over(&self, spent: f64, limit: f64) -> f64 {
        let p = if spent > limit { 1.0 } else { self.mixture().above(limit) };
        (p.clamp(0.0, 1.0) * 10_000.0).round() / 10_000.0
    }

    fn mixture(&self) -> Mixture {
        match self.one_off {
            Some(r) => Mixture {
                center: self.total - r.chance * r.size,
                sigma: self.sigma,
                chance: r.chance,
                size: r.size,
            },
            None => Mixture { center: self.total, sigma: self.sigma, chance: 0.0, size: 0.0 },
        }
    }

    /// The first remaining day on which the expected cumulative spending exceeds `limit`.
    pub fn breach_date(&self, spent: f64, limit: f64) -> Option<NaiveDate> {
        let mut cumulative = spent;
        self.daily_mean.iter().find_map(|(day, mean)| {
            cumulative += mean;
            (cumulative > limit).then_some(*day)
        })
    }
}

fn days(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    from.iter_days().take_while(|d| *d <= to).collect()
}

pub(super) fn f64_of(value: Decimal) -> f64 {
    value.to_f64().unwrap_or(0.0)
}

/// What `spend` booked in `month` up to and including `as_of`.
fn booked(spend: &DailySpend, month: NaiveDate, as_of: NaiveDate) -> Decimal {
    let (start, end) = (history::month_start(month), history::month_end(month));
    if as_of < start { Decimal::ZERO } else { spend.range(start..=as_of.min(end)).map(|(_, v)| *v).sum() }
}

/// The first day of spending, when it is at least [`MIN_DAYS`] before `as_of` (inclusive).
fn enough_history(spend: &DailySpend, as_of: NaiveDate) -> Option<NaiveDate> {
    let first = spend.range(..=as_of).next().map(|(d, _)| *d)?;
    ((as_of - first).num_days() + 1 >= MIN_DAYS).then_some(first)
}

/// Projects one series' spending for `month` (its first day) as seen on `as_of`.
pub fn project(spend: &DailySpend, month: NaiveDate, as_of: NaiveDate) -> Outcome {
    let (start, end) = (history::month_start(month), history::month_end(month));
    let spent = booked(spend, month, as_of);
    let spent_f = f64_of(spent);
    if end < as_of {
        // A past month is known, not forecast.
        let exact = Projected {
            total: spent_f,
            interval_80: (spent_f, spent_f),
            interval_95: (spent_f, spent_f),
            sigma: 0.0,
            daily_mean: Vec::new(),
            model: "actual".into(),
            one_off: None,
        };
        return Outcome { spent, projected: Some(exact), trained: None };
    }
    let insufficient = Outcome { spent, projected: None, trained: None };
    let Some(first) = enough_history(spend, as_of) else { return insufficient };
    let remaining_days = days(start.max(as_of.succ_opt().unwrap_or(as_of)), end);
    let current = history::month_start(as_of);
    let first_full =
        if first.day() <= 7 { history::month_start(first) } else { history::shift_months(first, 1) };
    let first_full = first_full.max(history::shift_months(current, -MONTHLY_HISTORY));
    let last_full = history::shift_months(current, -1);
    let months = if first_full <= last_full {
        history::monthly_totals(spend, first_full, last_full)
    } else {
        Vec::new()
    };
    let modelled = if months.len() >= MIN_MONTHS {
        monthly(spend, &months, start, as_of, &remaining_days)
    } else {
        daily(spend, first, as_of, &remaining_days)
    };
    let Some((remaining, trained)) = modelled else { return insufficient };
    let interval = |(lower, upper): (f64, f64)| (spent_f + lower, spent_f + upper);
    let projected = Projected {
        total: spent_f + remaining.mean,
        interval_80: interval(remaining.interval_80),
        interval_95: interval(remaining.interval_95),
        sigma: remaining.sigma,
        daily_mean: remaining.daily_mean,
        model: trained.selection.chosen.name().to_owned(),
        one_off: None,
    };
    Outcome { spent, projected: Some(projected), trained: Some(trained) }
}

/// What is still to come of a month, by part.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Components {
    /// Recurring payments still due.
    pub recurring_due: f64,
    /// Regular spending still to come.
    pub regular: f64,
    /// The one-off allowance.
    pub one_off_allowance: f64,
}

/// Projects one series from its regular part, adding the recurring payments still due (by
/// day) and the one-off allowance. `all` is every debit of the series, for what is booked.
pub fn project_parts(
    all: &DailySpend,
    regular: &DailySpend,
    due: &[(NaiveDate, Decimal)],
    one_off: Option<OneOffRisk>,
    month: NaiveDate,
    as_of: NaiveDate,
) -> (Outcome, Components) {
    if history::month_end(month) < as_of {
        // A past month is known: `project` answers it without selecting a model.
        return (project(all, month, as_of), Components::default());
    }
    let booked_all = booked(all, month, as_of);
    let modelled = project(regular, month, as_of);
    let due_total: f64 = due.iter().map(|(_, v)| f64_of(*v)).sum();
    let allowance = one_off.map_or(0.0, |r| r.chance * r.size);
    let spent = f64_of(booked_all);
    let (regular_p, trained) = match (modelled.projected, enough_history(all, as_of)) {
        (Some(p), _) => (p, modelled.trained),
        // Everything of the series recurs (the rent's own category): nothing is left to model.
        (None, Some(_)) => {
            let only = Projected {
                total: f64_of(modelled.spent),
                interval_80: (f64_of(modelled.spent), f64_of(modelled.spent)),
                interval_95: (f64_of(modelled.spent), f64_of(modelled.spent)),
                sigma: 0.0,
                daily_mean: Vec::new(),
                model: "recurring".into(),
                one_off: None,
            };
            (only, None)
        }
        (None, None) => {
            return (Outcome { spent: booked_all, projected: None, trained: None }, Components::default());
        }
    };
    let regular_left = (regular_p.total - f64_of(modelled.spent)).max(0.0);
    // Booked (all of it), then the regular model's remaining with its interval, moved by the
    // recurring payments due; a possible one-off widens it upwards by its chance.
    let shift = spent - f64_of(modelled.spent) + due_total;
    let center = regular_p.total + shift;
    let moved = |(lower, upper): (f64, f64), z: f64| {
        let Some(risk) = one_off.filter(|r| r.chance > 0.0 && r.size > 0.0) else {
            return (lower + shift, upper + shift);
        };
        // The interval's own spread, as a normal one, mixed with the one-off.
        let sigma = ((upper - lower) / (2.0 * z)).max(0.0);
        let mixture = Mixture { center, sigma, chance: risk.chance, size: risk.size };
        let level = 2.0 * normal_cdf(z) - 1.0;
        let tail = (1.0 - level) / 2.0;
        let central = (mixture.quantile(tail).max(spent), mixture.quantile(1.0 - tail));
        // The shortest interval with the level's mass: while a one-off is less likely than the
        // interval leaves out, that is the regular spread alone, a little wider. Otherwise a
        // person would read "between 2 and 2,650" for a month that is most likely 70.
        if 1.0 - risk.chance > level {
            let inner = level / (1.0 - risk.chance);
            let zi = z_of((1.0 + inner) / 2.0);
            let regular = ((center - zi * sigma).max(spent), center + zi * sigma);
            if regular.1 - regular.0 < central.1 - central.0 {
                return regular;
            }
        }
        central
    };
    let per_day =
        if regular_p.daily_mean.is_empty() { 0.0 } else { allowance / regular_p.daily_mean.len() as f64 };
    let mut daily_mean: Vec<(NaiveDate, f64)> =
        regular_p.daily_mean.iter().map(|(d, m)| (*d, m + per_day)).collect();
    for (day, amount) in due {
        match daily_mean.iter_mut().find(|(d, _)| d == day) {
            Some(slot) => slot.1 += f64_of(*amount),
            None => daily_mean.push((*day, f64_of(*amount))),
        }
    }
    daily_mean.sort_by_key(|(d, _)| *d);
    let total = spent + regular_left + due_total + allowance;
    // An interval holds its projection: with a rare large one-off the projection (which sets
    // its allowance aside) can lie above the likely range, which then reaches up to it.
    let holding = |(lower, upper): (f64, f64)| (lower.min(total), upper.max(total));
    let projected = Projected {
        total,
        interval_80: holding(moved(regular_p.interval_80, Z80)),
        interval_95: holding(moved(regular_p.interval_95, Z95)),
        sigma: regular_p.sigma,
        daily_mean,
        model: regular_p.model,
        one_off: one_off.filter(|r| r.chance > 0.0),
    };
    let components =
        Components { recurring_due: due_total, regular: regular_left, one_off_allowance: allowance };
    (Outcome { spent: booked_all, projected: Some(projected), trained }, components)
}

/// Expected spending still to come, with its spread.
struct Remaining {
    mean: f64,
    interval_80: (f64, f64),
    interval_95: (f64, f64),
    sigma: f64,
    daily_mean: Vec<(NaiveDate, f64)>,
}

fn monthly(
    spend: &DailySpend,
    months: &[(NaiveDate, Decimal)],
    start: NaiveDate,
    as_of: NaiveDate,
    remaining_days: &[NaiveDate],
) -> Option<(Remaining, Trained)> {
    let current = history::month_start(as_of);
    let y: Vec<f64> = months.iter().map(|(_, v)| f64_of(*v)).collect();
    let ahead = (start.year() - current.year()) * 12 + start.month() as i32 - current.month() as i32;
    let horizon = usize::try_from(ahead).ok()? + 1;
    let selection = select(&y, &Settings::monthly(horizon))?;
    let p = &selection.forecast;
    let i = horizon - 1;
    let share = if start == current { remaining_share(spend, months, as_of) } else { 1.0 };
    let mean = share * p.mean[i];
    let per_day = if remaining_days.is_empty() { 0.0 } else { mean / remaining_days.len() as f64 };
    let remaining = Remaining {
        mean,
        interval_80: (share * p.lower_80[i], share * p.upper_80[i]),
        interval_95: (share * p.lower_95[i], share * p.upper_95[i]),
        sigma: share * p.sigma[i],
        daily_mean: remaining_days.iter().map(|d| (*d, per_day)).collect(),
    };
    Some((remaining, Trained { granularity: "monthly", selection }))
}

/// The share of a month's spending that, in the user's past months, came after the point of
/// the month `as_of` has reached.
fn remaining_share(spend: &DailySpend, months: &[(NaiveDate, Decimal)], as_of: NaiveDate) -> f64 {
    let length = |m: NaiveDate| f64::from(history::month_end(m).day());
    let elapsed = f64::from(as_of.day()) / length(as_of);
    let (mut booked, mut total) = (Decimal::ZERO, Decimal::ZERO);
    for (month, sum) in months.iter().rev().take(12) {
        let cutoff = (elapsed * length(*month)).round() as i64;
        if let Some(last) = month.checked_add_signed(chrono::Duration::days(cutoff - 1)) {
            booked += spend.range(*month..=last).map(|(_, v)| *v).sum::<Decimal>();
        }
        total += *sum;
    }
    if total.is_zero() { 1.0 - elapsed } else { (1.0 - f64_of(booked) / f64_of(total)).clamp(0.0, 1.0) }
}

fn daily(
    spend: &DailySpend,
    first: NaiveDate,
    as_of: NaiveDate,
    remaining_days: &[NaiveDate],
) -> Option<(Remaining, Trained)> {
    // Today is partly booked: the models learn from complete days up to yesterday.
    let from = first.max(as_of - chrono::Duration::days(DAILY_HISTORY));
    let y: Vec<f64> =
        days(from, as_of.pred_opt()?).iter().map(|d| spend.get(d).map_or(0.0, |v| f64_of(*v))).collect();
    let steps = usize::try_from((remaining_days.last().copied().unwrap_or(as_of) - as_of).num_days()).ok()?;
    let selection = select(&y, &Settings::daily(steps.max(1)))?;
    let p = &selection.forecast;
    let step_of = |d: &NaiveDate| usize::try_from((*d - as_of).num_days() - 1).ok();
    let daily_mean: Vec<(NaiveDate, f64)> = remaining_days
        .iter()
        .filter_map(|d| step_of(d).and_then(|i| p.mean.get(i)).map(|m| (*d, *m)))
        .collect();
    let mean: f64 = daily_mean.iter().map(|(_, m)| m).sum();
    // Daily errors are close to independent, so the spread of the sum adds in quadrature.
    let sigma = remaining_days
        .iter()
        .filter_map(|d| step_of(d).and_then(|i| p.sigma.get(i)))
        .map(|s| s * s)
        .sum::<f64>()
        .sqrt();
    let remaining = Remaining {
        mean,
        interval_80: ((mean - Z80 * sigma).max(0.0), mean + Z80 * sigma),
        interval_95: ((mean - Z95 * sigma).max(0.0), mean + Z95 * sigma),
        sigma,
        daily_mean,
    };
    Some((remaining, Trained { granularity: "daily", selection }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    /// Rent of 1,000 on the 1st and 20 a day otherwise, from `from` to `to`.
    fn steady(from: &str, to: &str) -> DailySpend {
        days(day(from), day(to))
            .into_iter()
            .map(|d| (d, if d.day() == 1 { Decimal::new(1000, 0) } else { Decimal::new(20, 0) }))
            .collect()
    }

    #[test]
    fn booked_spending_is_known_and_only_the_rest_is_forecast() {
        let spend = steady("2024-01-01", "2025-06-15");
        let outcome = project(&spend, day("2025-06-01"), day("2025-06-15"));
        assert_eq!(outcome.spent, Decimal::new(1000 + 14 * 20, 0));
        let p = outcome.projected.expect("enough history");
        assert_eq!(outcome.trained.as_ref().map(|t| t.granularity), Some("monthly"));
        // 15 days of 20 remain: the month ends near 1,580.
        assert!((p.total - 1580.0).abs() < 60.0, "{}", p.total);
        assert!(p.interval_80.0 >= 1280.0 && p.interval_80.0 <= p.total && p.total <= p.interval_80.1);
        assert!(p.interval_95.0 <= p.interval_80.0 && p.interval_95.1 >= p.interval_80.1);
        assert!(p.probability_over(1280.0, 1500.0) > 0.5);
        assert!(p.probability_over(1280.0, 3000.0) < 0.05);
    }

    #[test]
    fn young_histories_are_modelled_daily_and_new_ones_are_insufficient() {
        let spend = steady("2025-05-20", "2025-06-15");
        let outcome = project(&spend, day("2025-06-01"), day("2025-06-15"));
        assert_eq!(outcome.trained.as_ref().map(|t| t.granularity), Some("daily"));
        let p = outcome.projected.expect("four weeks are enough");
        assert!(p.total > f64_of(outcome.spent));
        assert_eq!(p.daily_mean.len(), 15);

        let new = steady("2025-06-10", "2025-06-15");
        assert!(project(&new, day("2025-06-01"), day("2025-06-15")).projected.is_none());
        assert!(project(&DailySpend::new(), day("2025-06-01"), day("2025-06-15")).projected.is_none());
    }

    #[test]
    fn a_rare_one_off_raises_the_chance_of_going_over_but_not_the_likely_range() {
        let spend = steady("2024-01-01", "2025-06-15");
        let risk = OneOffRisk { chance: 0.1, size: 2000.0 };
        let (month, as_of) = (day("2025-06-01"), day("2025-06-15"));
        let (outcome, parts) = project_parts(&spend, &spend, &[], Some(risk), month, as_of);
        let p = outcome.projected.expect("projected");
        assert!((parts.one_off_allowance - 200.0).abs() < 1e-9, "{parts:?}");
        // About 1,580 without it, 1,780 with its expected share.
        assert!((p.total - 1780.0).abs() < 60.0, "{}", p.total);
        // Nine months in ten have no one-off: the 80 % range stays around the regular month.
        assert!(p.interval_80.1 < 1900.0, "{:?}", p.interval_80);
        // The 95 % range cannot leave a one-off out.
        assert!(p.interval_95.1 > 3000.0, "{:?}", p.interval_95);
        let over = p.probability_over(1280.0, 2500.0);
        assert!((0.08..=0.12).contains(&over), "{over}");
    }

    #[test]
    fn past_months_are_actuals() {
        let spend = steady("2025-01-01", "2025-06-15");
        let outcome = project(&spend, day("2025-03-01"), day("2025-06-15"));
        let p = outcome.projected.expect("actual");
        assert_eq!(p.model, "actual");
        assert_eq!(outcome.spent, Decimal::new(1000 + 30 * 20, 0));
        assert_eq!(p.probability_over(1600.0, 1500.0), 1.0);
    }
}
