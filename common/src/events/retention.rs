//! Retention of the inbox and the event journal, with a window that keeps dedup safe.
//!
//! The inbox is how a consumer knows it has applied an event, so deleting a row could let a
//! late redelivery of that event be applied twice. The rule that prevents it: rows are deleted
//! only once *received* more than `window` ago, and the consumer refuses (acknowledges without
//! effect) any event *created* more than `window` ago ([`expired`]). An event created after the
//! cut-off was received after it too, so its row is still there; an event whose row may be
//! gone is refused. Event ids are UUIDv7, so the creation time is in the id itself.
//!
//! The outbox needs almost none: a row is deleted when the broker confirms it routed the
//! event, and an unpublished row is never dropped. The exception is a row the broker kept
//! returning as unroutable (no queue bound for it) for longer than the window: any consumer
//! would refuse it as expired by now, so it is dropped, counted and logged by event type.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::{self, ConfigError};

/// `EVENT_RETENTION_DAYS` and how often the sweep runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// `EVENT_RETENTION_DAYS`, default 14: how long inbox rows and journal entries are kept,
    /// and the age past which a delivered event is refused as possibly already applied. Longer
    /// than any outage a queue would sit out holding messages.
    pub window: Duration,
    /// How often the sweep runs (hourly).
    pub every: Duration,
}

impl RetentionConfig {
    /// Reads `EVENT_RETENTION_DAYS` (at least 1).
    pub fn from_env() -> Result<RetentionConfig, ConfigError> {
        let days: u64 = config::parse("EVENT_RETENTION_DAYS", 14)?;
        if days == 0 {
            return Err(ConfigError {
                name: "EVENT_RETENTION_DAYS".into(),
                problem: "must be at least 1".into(),
            });
        }
        Ok(RetentionConfig { window: Duration::from_secs(days * 86_400), every: Duration::from_secs(3_600) })
    }
}

impl Default for RetentionConfig {
    fn default() -> RetentionConfig {
        RetentionConfig { window: Duration::from_secs(14 * 86_400), every: Duration::from_secs(3_600) }
    }
}

/// When the event with this id was created, if the id is a UUIDv7.
pub fn created_at(id: Uuid) -> Option<DateTime<Utc>> {
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
}

/// Whether an event is older than the window, so its inbox row may have been swept: it is
/// then refused rather than risk applying it twice. The creation time comes from the UUIDv7
/// id, else from the AMQP timestamp; an event with neither is not refused.
pub fn expired(id: Uuid, published_at: Option<DateTime<Utc>>, window: Duration, now: DateTime<Utc>) -> bool {
    let Some(created) = created_at(id).or(published_at) else { return false };
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    created < now - window
}

/// Deletes, in batches, inbox rows and journal entries (`received_events`, which every schema
/// has from common's migration) received before the window; returns how many rows went.
pub async fn sweep(pool: &PgPool, window: Duration) -> Result<u64, sqlx::Error> {
    let window = window.as_secs_f64();
    let mut deleted = 0;
    for table in ["inbox", "received_events"] {
        loop {
            // Batches keep each transaction short, so consumers never wait on a long delete.
            let sql = format!(
                "DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} \
                 WHERE received_at < now() - make_interval(secs => $1) LIMIT 5000)"
            );
            let done =
                sqlx::query(sqlx::AssertSqlSafe(sql)).bind(window).execute(pool).await?.rows_affected();
            deleted += done;
            if done < 5000 {
                break;
            }
        }
    }
    // Unroutable for the whole window: no consumer could apply it any more.
    let expired: Vec<(String, i64)> = sqlx::query_as(
        "WITH gone AS (DELETE FROM outbox WHERE attempts > 0 \
         AND occurred_at < now() - make_interval(secs => $1) RETURNING event_type) \
         SELECT event_type, count(*) FROM gone GROUP BY event_type",
    )
    .bind(window)
    .fetch_all(pool)
    .await?;
    for (event, count) in expired {
        tracing::warn!(event, count, "events no queue took within the retention window were dropped");
        metrics::counter!("events_unroutable_expired_total", "event" => event)
            .increment(count.unsigned_abs());
        deleted += count.unsigned_abs();
    }
    Ok(deleted)
}

/// Sweeps every `config.every` until `shutdown`.
pub async fn run(pool: PgPool, config: RetentionConfig, shutdown: CancellationToken) {
    loop {
        match sweep(&pool, config.window).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "retention: old inbox and journal rows removed"),
            Err(error) => tracing::warn!(%error, "retention sweep failed; it runs again later"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(config.every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_older_than_the_window_is_refused_by_its_id_or_timestamp() {
        let now = Utc::now();
        let day = Duration::from_secs(86_400);
        let fresh = Uuid::now_v7();
        assert!(!expired(fresh, None, day, now));
        let old = Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            (now - chrono::Duration::days(3)).timestamp() as u64,
            0,
        ));
        assert!(expired(old, None, day, now));
        assert!(!expired(old, None, Duration::from_secs(7 * 86_400), now));
        // Not a UUIDv7: the AMQP timestamp decides, and with neither nothing is refused.
        let v4 = Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef);
        assert!(expired(v4, Some(now - chrono::Duration::days(2)), day, now));
        assert!(!expired(v4, None, day, now));
    }
}
