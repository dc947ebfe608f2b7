//! The deliveries table: every email's state, attempts, last error and SMTP reply.
//!
//! States: `queued` (waiting for `not_before`) → `sending` (claimed, with a lease) → `sent`,
//! or back to `queued` with a later `not_before` after a transient failure, or `failed` after
//! the last attempt or a permanent refusal. `suppressed` records an email the preferences
//! stopped. Retries are rows, not timers, so they survive a restart.
//!
//! `attempts` doubles as a fencing token: a worker records an outcome only while the row is
//! still `sending` with the attempt it claimed, so a worker that outlived its lease cannot
//! overwrite the worker that took the row over.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::kind::Kind;

/// What an email's state is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting to be sent.
    Queued,
    /// Stopped by the preferences; never sent.
    Suppressed,
}

/// An email to record.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// The addressee.
    pub user_id: Uuid,
    /// Its kind.
    pub kind: Kind,
    /// What caused it; with user and kind, unique.
    pub dedupe_key: String,
    /// The address.
    pub recipient: String,
    /// The subject line, for the history.
    pub subject: String,
    /// The template data.
    pub payload: Value,
    /// Held for the daily digest.
    pub digest: bool,
    /// Not sent before this.
    pub not_before: DateTime<Utc>,
    /// Queued, or suppressed.
    pub status: Status,
    /// Why it was suppressed.
    pub note: Option<String>,
}

/// Records `delivery`; `None` if the same cause already gave an email (a redelivered event).
pub async fn insert(conn: &mut PgConnection, delivery: &NewDelivery) -> sqlx::Result<Option<Uuid>> {
    let id = Uuid::now_v7();
    let status = match delivery.status {
        Status::Queued => "queued",
        Status::Suppressed => "suppressed",
    };
    // A link's token (a password reset's) is kept only while the email may still be sent:
    // a suppressed email never will be, and a finished one drops it (`mark_sent`, `finish_unsent`).
    let mut payload = delivery.payload.clone();
    if delivery.status == Status::Suppressed
        && let Some(fields) = payload.as_object_mut()
    {
        fields.remove("token");
    }
    sqlx::query_scalar(
        "INSERT INTO deliveries (id, user_id, kind, dedupe_key, status, recipient, subject, payload, digest, \
           not_before, last_error, message_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (user_id, kind, dedupe_key) DO NOTHING RETURNING id",
    )
    .bind(id)
    .bind(delivery.user_id)
    .bind(delivery.kind.as_str())
    .bind(&delivery.dedupe_key)
    .bind(status)
    .bind(&delivery.recipient)
    .bind(&delivery.subject)
    .bind(&payload)
    .bind(delivery.digest)
    .bind(delivery.not_before)
    .bind(&delivery.note)
    .bind(message_id(id))
    .fetch_optional(conn)
    .await
}

/// Whether `cause` already gave `user_id` an email of `kind`.
pub async fn exists(pool: &PgPool, user_id: Uuid, kind: Kind, dedupe_key: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM deliveries WHERE user_id = $1 AND kind = $2 AND dedupe_key = $3)",
    )
    .bind(user_id)
    .bind(kind.as_str())
    .bind(dedupe_key)
    .fetch_one(pool)
    .await
}

/// The Message-ID header of delivery `id`: fixed per row, so every attempt carries the same one.
pub fn message_id(id: Uuid) -> String {
    format!("<{}@budgetsmart>", id.simple())
}

/// A claimed email, ready to render and send.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    /// The row.
    pub id: Uuid,
    /// The addressee.
    pub user_id: Uuid,
    /// Its kind, as stored.
    pub kind: String,
    /// The address at queueing time.
    pub recipient: String,
    /// The template data.
    pub payload: Value,
    /// Held for the digest.
    pub digest: bool,
    /// This attempt's number (the fencing token).
    pub attempts: i32,
    /// The Message-ID header.
    pub message_id: String,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

/// Claims up to `limit` due emails for `lease`: queued ones whose time has come, and sending
/// ones whose sender's lease ran out (it died mid-send). Users take turns: every user's oldest
/// due email comes before anyone's second (`row_number()` per user), so one user's flood of
/// alerts cannot hold back everyone else's mail; within a turn, oldest first. The due
/// condition is checked again on the locked row, so a row another sender claimed meanwhile is
/// never claimed twice. A user's digest rows come together so one digest carries them all. Row locks alone do not ensure that: two
/// senders claiming at once could each take one of a user's digest rows (the other's being
/// locked, hence skipped) and send two digests. So a digest row is only taken under its
/// user's advisory lock, which the first claimant holds for the statement: the other skips
/// every row of that user.
///
/// The turns are ranked once, in a materialised CTE cut to four times the batch, before any row
/// is joined or locked: with the ranking as a plain subquery the planner, misled by a burst of
/// fresh rows, once chose a nested loop that re-ranked every due row for each one, and a claim
/// took 20 s (`make bench`, 3,000 alerts: 2 emails/s). Rows beyond the cut that others hold
/// locked are skipped, as before; the next claim, a moment later, takes them.
pub async fn claim(conn: &mut PgConnection, limit: i64, lease: Duration) -> sqlx::Result<Vec<Claimed>> {
    sqlx::query_as(
        "WITH turns AS MATERIALIZED ( \
           SELECT id, turn, not_before, user_id FROM ( \
             SELECT id, not_before, user_id, \
                    row_number() OVER (PARTITION BY user_id ORDER BY not_before, id) AS turn \
             FROM deliveries \
             WHERE (status = 'queued' AND not_before <= now()) OR (status = 'sending' AND lease_until < now())) t \
           ORDER BY turn, not_before, user_id LIMIT $1 * 4) \
         UPDATE deliveries d SET status = 'sending', attempts = d.attempts + 1, \
           lease_until = now() + make_interval(secs => $2) \
         FROM (SELECT c.id FROM turns r JOIN deliveries c ON c.id = r.id \
               WHERE ((c.status = 'queued' AND c.not_before <= now()) \
                      OR (c.status = 'sending' AND c.lease_until < now())) \
                 AND (NOT c.digest OR pg_try_advisory_xact_lock(hashtextextended(c.user_id::text, 11))) \
               ORDER BY r.turn, r.not_before, r.user_id LIMIT $1 FOR UPDATE OF c SKIP LOCKED) due \
         WHERE d.id = due.id \
         RETURNING d.id, d.user_id, d.kind, d.recipient, d.payload, d.digest, d.attempts, d.message_id, d.created_at",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(conn)
    .await
}

/// Claims the rest of `user_id`'s due digest rows, so one digest carries them all however the
/// batch was cut.
pub async fn claim_digest(
    conn: &mut PgConnection,
    user_id: Uuid,
    lease: Duration,
) -> sqlx::Result<Vec<Claimed>> {
    sqlx::query_as(
        "UPDATE deliveries d SET status = 'sending', attempts = d.attempts + 1, \
           lease_until = now() + make_interval(secs => $2) \
         FROM (SELECT id FROM deliveries \
               WHERE user_id = $1 AND digest AND status = 'queued' AND not_before <= now() \
               FOR UPDATE SKIP LOCKED) due \
         WHERE d.id = due.id \
         RETURNING d.id, d.user_id, d.kind, d.recipient, d.payload, d.digest, d.attempts, d.message_id, d.created_at",
    )
    .bind(user_id)
    .bind(lease.as_secs_f64())
    .fetch_all(conn)
    .await
}

/// Extends the claim on `rows` just before SMTP is spoken, so the time spent gathering and
/// rendering never eats into the lease the send relies on; `false` if any claim was lost
/// (another worker took a row over), and then nothing may be sent.
pub async fn renew(conn: &mut PgConnection, rows: &[Claimed], lease: Duration) -> sqlx::Result<bool> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let attempts: Vec<i32> = rows.iter().map(|r| r.attempts).collect();
    let renewed = sqlx::query(
        "UPDATE deliveries d SET lease_until = now() + make_interval(secs => $3) \
         FROM unnest($1::uuid[], $2::int[]) AS c(id, attempts) \
         WHERE d.id = c.id AND d.attempts = c.attempts AND d.status = 'sending'",
    )
    .bind(&ids)
    .bind(&attempts)
    .bind(lease.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(renewed.rows_affected() == rows.len() as u64)
}

/// The soonest moment a queued email comes due, if any is queued.
pub async fn next_due(pool: &PgPool) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "SELECT min(t) FROM (SELECT min(not_before) AS t FROM deliveries WHERE status = 'queued' \
         UNION ALL SELECT min(lease_until) FROM deliveries WHERE status = 'sending') x",
    )
    .fetch_one(pool)
    .await
}

/// Records a send; `false` if the claim was lost meanwhile.
pub async fn mark_sent(
    conn: &mut PgConnection,
    claimed: &Claimed,
    subject: Option<&str>,
    reply: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE deliveries SET status = 'sent', sent_at = now(), lease_until = NULL, smtp_reply = $3, \
           subject = COALESCE($4, subject), last_error = NULL, payload = payload - 'token' \
         WHERE id = $1 AND status = 'sending' AND attempts = $2",
    )
    .bind(claimed.id)
    .bind(claimed.attempts)
    .bind(reply)
    .bind(subject)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts a claimed email back to wait until `retry_at`, with the error that stopped it.
pub async fn retry_later(
    conn: &mut PgConnection,
    claimed: &Claimed,
    error: &str,
    retry_at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE deliveries SET status = 'queued', not_before = $3, lease_until = NULL, last_error = $4 \
         WHERE id = $1 AND status = 'sending' AND attempts = $2",
    )
    .bind(claimed.id)
    .bind(claimed.attempts)
    .bind(retry_at)
    .bind(truncate(error))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a claimed email as `failed` or `suppressed`, with why.
pub async fn finish_unsent(
    conn: &mut PgConnection,
    claimed: &Claimed,
    status: &str,
    why: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE deliveries SET status = $3, lease_until = NULL, last_error = $4, payload = payload - 'token' \
         WHERE id = $1 AND status = 'sending' AND attempts = $2",
    )
    .bind(claimed.id)
    .bind(claimed.attempts)
    .bind(status)
    .bind(truncate(why))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Errors can quote whole server replies; the history keeps the start.
fn truncate(text: &str) -> String {
    text.chars().take(500).collect()
}

/// One row of the history.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRow {
    /// The email.
    pub id: Uuid,
    /// Its kind.
    pub kind: String,
    /// Its subject.
    pub subject: String,
    /// Its state.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When the SMTP server took it.
    pub sent_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed, or why it was suppressed.
    pub last_error: Option<String>,
    /// The earliest it goes out.
    pub not_before: DateTime<Utc>,
}

/// The user's emails, newest first, after `before` (an id from the previous page).
pub async fn history(
    conn: &mut PgConnection,
    user_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<HistoryRow>> {
    sqlx::query_as(
        "SELECT id, kind, subject, status, attempts, created_at, sent_at, last_error, not_before \
         FROM deliveries WHERE user_id = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await
}
