//! The monthly summary on the 1st: a periodic scan queues, for every user whose local date
//! is the 1st and whose local time is past the digest hour, the summary of the month that
//! just ended. The row's key (`summary:YYYY-MM`) makes the scan safe to repeat and to run
//! on several replicas at once.

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::deliveries;
use crate::intake::{self, Intake};
use crate::kind::Kind;
use crate::recipients::Recipient;
use crate::schedule;
use crate::summary;

/// How often the scan runs.
pub const SCAN_INTERVAL: Duration = Duration::from_secs(60);
/// Recipients read per query.
const BATCH: i64 = 500;

/// Scans every [`SCAN_INTERVAL`] until `shutdown`.
pub async fn run(pool: PgPool, intake: Intake, shutdown: CancellationToken) {
    loop {
        match queue_due(&pool, &intake, Utc::now()).await {
            Ok(0) => {}
            Ok(queued) => tracing::info!(queued, "monthly summaries queued"),
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "the monthly summary scan failed; it runs again")
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SCAN_INTERVAL) => {}
        }
    }
}

/// Queues `recipient`'s summary of `month` unless it already is; whether it was new.
async fn queue_one(
    pool: &PgPool,
    intake: &Intake,
    recipient: &Recipient,
    month: NaiveDate,
) -> anyhow::Result<bool> {
    let key = format!("summary:{}", month.format("%Y-%m"));
    // Cheap check first: the scan repeats every minute all day on the 1st.
    if deliveries::exists(pool, recipient.user_id, Kind::MonthlySummary, &key).await? {
        return Ok(false);
    }
    let mut tx = pool.begin().await?;
    let request = intake::Request {
        user_id: recipient.user_id,
        kind: Kind::MonthlySummary,
        dedupe_key: key,
        payload: json!({ "month": month.format("%Y-%m").to_string() }),
        score: None,
        subject_payload: Some(summary::subject_context(month)),
        requested: false,
        to: None,
    };
    let queued = intake.queue(&mut tx, request).await.map_err(|e| anyhow::anyhow!("{e}"))?.is_some();
    tx.commit().await?;
    Ok(queued)
}

/// Queues the summaries due at `now`; how many were new.
pub async fn queue_due(pool: &PgPool, intake: &Intake, now: DateTime<Utc>) -> anyhow::Result<usize> {
    // Somewhere it is the 1st only from the last day of a month (UTC+14) to the 2nd (UTC−12).
    let tomorrow = now + chrono::Duration::days(1);
    if now.day() != 1 && now.day() != 2 && tomorrow.day() != 1 {
        return Ok(0);
    }
    let mut queued = 0;
    let mut after = Uuid::nil();
    loop {
        let batch: Vec<Recipient> = sqlx::query_as(
            "SELECT user_id, email, name, trim(currency) AS currency, timezone, email_verified \
             FROM recipients WHERE user_id > $1 ORDER BY user_id LIMIT $2",
        )
        .bind(after)
        .bind(BATCH)
        .fetch_all(pool)
        .await?;
        let Some(last) = batch.last() else { break };
        after = last.user_id;
        // An unproven address gets no summary (and no suppressed row a month, either).
        for recipient in batch.iter().filter(|r| r.email_verified) {
            let Some(month) = schedule::summary_due(now, recipient.tz()) else { continue };
            match queue_one(pool, intake, recipient, month).await {
                Ok(true) => queued += 1,
                Ok(false) => {}
                // One user's trouble must not hold up everyone after them; the next scan retries.
                Err(error) => {
                    tracing::warn!(user_id = %recipient.user_id, error = %format!("{error:#}"), "cannot queue a monthly summary")
                }
            }
        }
    }
    if queued > 0 {
        intake.wake_sender();
    }
    Ok(queued)
}
