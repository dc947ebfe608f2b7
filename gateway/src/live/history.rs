//! The Redis side: each user's recent events in arrival order, shared by every replica, so a
//! stream can resume (`Last-Event-ID`) or catch up on whichever replica it lands.

use std::collections::HashSet;
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::time::Instant;
use uuid::Uuid;

use super::event::{LiveEvent, live_events};

/// Events kept per user for resumption.
const HISTORY_LEN: i64 = 200;
/// How long a user's history outlives their last event.
const HISTORY_TTL_SECS: i64 = 24 * 3600;
/// A history write may delay the live feed by at most this much.
const WRITE_TIMEOUT: Duration = Duration::from_millis(500);
/// After a failed write, live events skip the history for this long instead of each waiting
/// for Redis to time out again.
const WRITE_PAUSE: Duration = Duration::from_secs(5);
/// A history read (on resume or catch-up) gives up after this.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// The users' histories: one sorted set per user, scored by arrival time (µs).
#[derive(Clone)]
pub(super) struct History {
    redis: ConnectionManager,
    key_prefix: String,
}

impl History {
    pub(super) fn new(redis: ConnectionManager, key_prefix: String) -> History {
        History { redis, key_prefix }
    }

    /// The user's stored events in arrival order, each id once.
    pub(super) async fn read(&self, user_id: Uuid) -> anyhow::Result<Vec<LiveEvent>> {
        let mut redis = self.redis.clone();
        let mut read = redis::cmd("ZRANGE");
        read.arg(self.key(user_id)).arg(0).arg(-1).arg("WITHSCORES");
        let entries = tokio::time::timeout(READ_TIMEOUT, read.query_async::<Vec<(String, f64)>>(&mut redis))
            .await
            .map_err(|_| anyhow::anyhow!("Redis did not answer the history read in time"))??;
        Ok(parse_history(user_id, entries))
    }

    fn key(&self, user_id: Uuid) -> String {
        format!("{}live:{user_id}", self.key_prefix)
    }

    /// Adds `event` to its user's history. `NX` keeps the first replica's arrival time, so
    /// every replica writing the same member leaves one entry with one score.
    pub(super) async fn store(&self, event: &LiveEvent, writes_paused_until: &mut Option<Instant>) {
        if writes_paused_until.is_some_and(|until| Instant::now() < until) {
            return;
        }
        let key = self.key(event.user_id);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("ZADD")
            .arg(&key)
            .arg("NX")
            .arg(event.arrived)
            .arg(member(event))
            .ignore()
            .cmd("ZREMRANGEBYRANK")
            .arg(&key)
            .arg(0)
            .arg(-(HISTORY_LEN + 1))
            .ignore()
            .cmd("EXPIRE")
            .arg(&key)
            .arg(HISTORY_TTL_SECS)
            .ignore();
        let mut redis = self.redis.clone();
        let failure = match tokio::time::timeout(WRITE_TIMEOUT, pipe.exec_async(&mut redis)).await {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error.to_string()),
            Err(_) => Some("timed out".to_owned()),
        };
        match failure {
            None => *writes_paused_until = None,
            Some(error) => {
                // Live delivery goes on; only resumption over this gap is lost.
                tracing::warn!(error, pause = ?WRITE_PAUSE, "cannot write the live history");
                *writes_paused_until = Some(Instant::now() + WRITE_PAUSE);
            }
        }
    }

    /// Deletes a deleted user's history (every replica does; deleting twice is harmless).
    pub(super) async fn forget(&self, user_id: Uuid) {
        let mut redis = self.redis.clone();
        let mut delete = redis::cmd("DEL");
        delete.arg(self.key(user_id));
        match tokio::time::timeout(WRITE_TIMEOUT, delete.exec_async(&mut redis)).await {
            Ok(Ok(())) => {}
            // It expires within a day anyway.
            Ok(Err(error)) => tracing::warn!(error = %error, "cannot delete a deleted user's live history"),
            Err(_) => tracing::warn!("deleting a deleted user's live history timed out"),
        }
    }
}

/// The history member: `<id> <event> <data>`. Built only from the delivery, so every replica
/// writes the same bytes and `ZADD NX` keeps one entry.
fn member(event: &LiveEvent) -> String {
    format!("{} {} {}", event.id, event.event, event.data)
}

fn parse_member(user_id: Uuid, member: &str, arrived: i64) -> Option<LiveEvent> {
    let mut parts = member.splitn(3, ' ');
    let id = Uuid::parse_str(parts.next()?).ok()?;
    let name = parts.next()?;
    let event = live_events().into_iter().find(|known| *known == name)?;
    let data = parts.next()?.to_owned();
    Some(LiveEvent { id, user_id, event, data, arrived })
}

/// Sorted by arrival; an id stored twice (two versions' views during a rolling deploy) is
/// kept once, at its first arrival.
fn parse_history(user_id: Uuid, entries: Vec<(String, f64)>) -> Vec<LiveEvent> {
    // Scores are whole microseconds, exact in an f64 until the year 2255.
    let mut events: Vec<LiveEvent> = entries
        .into_iter()
        .filter_map(|(member, score)| parse_member(user_id, &member, score as i64))
        .collect();
    events.sort_by_key(|e| (e.arrived, e.id));
    let mut seen = HashSet::new();
    events.retain(|e| seen.insert(e.id));
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use budgetsmart_common::events::DomainEvent;
    use budgetsmart_proto::events::v1 as ev;

    #[test]
    fn a_member_round_trips_and_unknown_names_are_skipped() {
        let user = Uuid::now_v7();
        let original = LiveEvent {
            id: Uuid::now_v7(),
            user_id: user,
            event: ev::BudgetThresholdReached::NAME,
            data: r#"{"title":"a b  c"}"#.into(),
            arrived: 1_700_000_000_123_456,
        };
        let back = parse_member(user, &member(&original), original.arrived).expect("parses");
        assert_eq!(back, original);
        assert!(parse_member(user, &format!("{} user_registered {{}}", Uuid::now_v7()), 1).is_none());
        assert!(parse_member(user, "not-a-uuid insight_generated {}", 1).is_none());
    }

    #[test]
    fn history_is_in_arrival_order_with_each_id_once() {
        let user = Uuid::now_v7();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let entries = vec![
            (format!("{b} insight_generated {{\"v\":1}}"), 10.0),
            (format!("{a} insight_generated {{}}"), 20.0),
            (format!("{b} insight_generated {{\"v\":2}}"), 30.0),
        ];
        let history = parse_history(user, entries);
        assert_eq!(history.iter().map(|e| e.id).collect::<Vec<_>>(), vec![b, a]);
        assert_eq!(history[0].data, "{\"v\":1}");
    }
}
