//! Stored anomalies: kept in step with detection, with the user's feedback, and announced
//! as `anomaly_detected` once each.

use std::collections::{HashMap, HashSet};

use budgetsmart_common::events::{self, EventContext};
use budgetsmart_common::money;
use budgetsmart_proto::events::v1 as ev;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Finding, Kind};
use crate::history::Debit;

/// A stored anomaly, as the API shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AnomalyRow {
    pub id: Uuid,
    pub transaction_id: Uuid,
    pub kind: String,
    pub score: f64,
    pub explanation: String,
    pub status: String,
    pub occurred_on: NaiveDate,
    pub description: String,
    pub merchant: String,
    pub amount: Decimal,
    pub currency: String,
    pub category_id: Option<Uuid>,
    pub detected_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, transaction_id, kind, score, explanation, status, occurred_on, description, \
                       merchant, amount, currency, category_id, detected_at";

/// Which transactions anomaly detection set apart (open or confirmed), and which the user put
/// back (`not_anomaly`), for the one-off split of forecasts and insights.
pub async fn flags(conn: &mut PgConnection, user: Uuid) -> Result<crate::oneoffs::Flags, sqlx::Error> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT transaction_id, status FROM anomalies WHERE user_id = $1 \
         AND status IN ('open', 'confirmed', 'not_anomaly')",
    )
    .bind(user)
    .fetch_all(conn)
    .await?;
    let mut flags = crate::oneoffs::Flags::default();
    for (transaction, status) in rows {
        if status == "not_anomaly" {
            flags.not_anomalies.insert(transaction);
        } else {
            flags.anomalies.insert(transaction);
        }
    }
    // A transaction put back is regular, whatever else was flagged on it.
    let back = flags.not_anomalies.clone();
    flags.anomalies.retain(|t| !back.contains(t));
    Ok(flags)
}

/// The user's `(merchant, kind)` pairs marked `not_anomaly`.
pub async fn suppressions(
    conn: &mut PgConnection,
    user: Uuid,
) -> Result<HashSet<(String, Kind)>, sqlx::Error> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT merchant, kind FROM anomaly_suppressions WHERE user_id = $1")
            .bind(user)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().filter_map(|(m, k)| Kind::parse(&k).map(|k| (m, k))).collect())
}

/// What `sync` compares of a held anomaly.
#[derive(sqlx::FromRow)]
struct Held {
    transaction_id: Uuid,
    kind: String,
    status: String,
    score: f64,
    explanation: String,
    occurred_on: NaiveDate,
    description: String,
    amount: Decimal,
    category_id: Option<Uuid>,
}

impl Held {
    /// Nothing to write: the user gave feedback, or the open row already says this.
    fn settled(&self, finding: &Finding, debit: &Debit) -> bool {
        let feedback = self.status != "open" && self.status != "withdrawn";
        feedback
            || (self.status == "open"
                && self.score == finding.score
                && self.explanation == finding.explanation
                && self.occurred_on == debit.occurred_on
                && self.description == debit.description
                && self.amount == debit.amount
                && self.category_id == debit.category_id)
    }
}

/// Makes the stored anomalies match `findings`. New ones are inserted and announced with
/// `anomaly_detected`; open ones no longer found are marked `withdrawn` (hidden), and come
/// back without a second announcement if found again; those with feedback stay as they are.
/// Only the deletion of the transaction itself (or its becoming a credit) removes a row.
/// Every write re-checks the status, so feedback committed meanwhile is never overwritten.
/// Returns how many events were enqueued.
pub async fn sync(
    conn: &mut PgConnection,
    user: Uuid,
    findings: &[Finding],
    debits: &[Debit],
) -> Result<usize, sqlx::Error> {
    sqlx::query(
        "DELETE FROM anomalies a USING transactions t WHERE a.user_id = $1 AND t.transaction_id = a.transaction_id \
         AND (t.deleted OR t.kind <> 'debit')",
    )
    .bind(user)
    .execute(&mut *conn)
    .await?;
    let held: Vec<Held> = sqlx::query_as(
        "SELECT transaction_id, kind, status, score, explanation, occurred_on, description, amount, category_id \
         FROM anomalies WHERE user_id = $1",
    )
    .bind(user)
    .fetch_all(&mut *conn)
    .await?;
    let found: HashSet<(Uuid, &str)> = findings.iter().map(|f| (f.transaction_id, f.kind.as_str())).collect();
    let gone: Vec<(Uuid, &str)> = held
        .iter()
        .filter(|h| h.status == "open" && !found.contains(&(h.transaction_id, h.kind.as_str())))
        .map(|h| (h.transaction_id, h.kind.as_str()))
        .collect();
    for (transaction, kind) in gone {
        sqlx::query(
            "UPDATE anomalies SET status = 'withdrawn' \
             WHERE user_id = $1 AND transaction_id = $2 AND kind = $3 AND status = 'open'",
        )
        .bind(user)
        .bind(transaction)
        .bind(kind)
        .execute(&mut *conn)
        .await?;
    }
    let known: HashMap<(Uuid, &str), &Held> =
        held.iter().map(|h| ((h.transaction_id, h.kind.as_str()), h)).collect();
    let by_id: HashMap<Uuid, &Debit> = debits.iter().map(|d| (d.transaction_id, d)).collect();
    let mut published = 0;
    for finding in findings {
        let Some(debit) = by_id.get(&finding.transaction_id) else { continue };
        match known.get(&(finding.transaction_id, finding.kind.as_str())) {
            Some(held) if held.settled(finding, debit) => {}
            // New, found again, or the numbers or the transaction itself changed.
            _ => published += usize::from(upsert(conn, user, finding, debit).await?),
        }
    }
    Ok(published)
}

/// Writes a finding: inserts it, or refreshes an open or withdrawn one (reopening it). A row
/// with feedback is left alone, even if the feedback was committed after `sync` read it.
/// Only a new row is announced with `anomaly_detected`; returns whether it was new.
async fn upsert(
    conn: &mut PgConnection,
    user: Uuid,
    finding: &Finding,
    debit: &Debit,
) -> Result<bool, sqlx::Error> {
    let detected_at = Utc::now();
    let written: Option<(Uuid, bool)> = sqlx::query_as(
        "INSERT INTO anomalies (id, user_id, transaction_id, kind, score, explanation, occurred_on, \
         description, merchant, amount, currency, category_id, detected_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (user_id, transaction_id, kind) DO UPDATE SET status = 'open', score = EXCLUDED.score, \
         explanation = EXCLUDED.explanation, occurred_on = EXCLUDED.occurred_on, description = EXCLUDED.description, \
         merchant = EXCLUDED.merchant, amount = EXCLUDED.amount, currency = EXCLUDED.currency, \
         category_id = EXCLUDED.category_id WHERE anomalies.status IN ('open', 'withdrawn') \
         RETURNING id, (xmax = 0) AS inserted",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(finding.transaction_id)
    .bind(finding.kind.as_str())
    .bind(finding.score)
    .bind(&finding.explanation)
    .bind(debit.occurred_on)
    .bind(&debit.description)
    .bind(&debit.merchant)
    .bind(debit.amount)
    .bind(&debit.currency)
    .bind(debit.category_id)
    .bind(detected_at)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, true)) = written else { return Ok(false) };
    let event = ev::AnomalyDetected {
        anomaly_id: id.to_string(),
        user_id: user.to_string(),
        transaction_id: finding.transaction_id.to_string(),
        score: format!("{:.4}", finding.score),
        explanation: finding.explanation.clone(),
        detected_at: Some(prost_types::Timestamp {
            seconds: detected_at.timestamp(),
            nanos: detected_at.timestamp_subsec_nanos() as i32,
        }),
        kind: finding.kind.as_str().to_owned(),
        amount: Some(money::to_proto(debit.amount, &debit.currency)),
        description: debit.description.clone(),
        occurred_on: debit.occurred_on.to_string(),
        category_id: debit.category_id.map(|c| c.to_string()),
        paid: debit
            .original_amount
            .zip(debit.original_currency.as_deref())
            .map(|(a, c)| money::to_proto(a, c)),
    };
    let ctx = EventContext { user_id: Some(user), ..EventContext::default() };
    events::enqueue(conn, &ctx, &event).await?;
    Ok(true)
}

/// The user's anomalies with `status` (open and confirmed when `None`), newest first, after
/// the `(occurred_on, id)` cursor.
pub async fn list(
    conn: &mut PgConnection,
    user: Uuid,
    status: Option<&str>,
    after: Option<(NaiveDate, Uuid)>,
    limit: i64,
) -> Result<Vec<AnomalyRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM anomalies WHERE user_id = $1 \
         AND (($2::text IS NULL AND status IN ('open', 'confirmed')) OR status = $2) \
         AND ($3::date IS NULL OR (occurred_on, id) < ($3, $4)) \
         ORDER BY occurred_on DESC, id DESC LIMIT $5"
    )))
    .bind(user)
    .bind(status)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Records the user's verdict on one of their anomalies; `not_anomaly` also suppresses that
/// kind at that merchant from then on. `None` when the user has no such anomaly.
pub async fn feedback(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
    status: &str,
) -> Result<Option<AnomalyRow>, sqlx::Error> {
    let row: Option<AnomalyRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE anomalies SET status = $3, feedback_at = now() WHERE user_id = $1 AND id = $2 \
         AND status <> 'withdrawn' RETURNING {COLUMNS}"
    )))
    .bind(user)
    .bind(id)
    .bind(status)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    if status == "not_anomaly" {
        sqlx::query(
            "INSERT INTO anomaly_suppressions (user_id, merchant, kind) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(user)
        .bind(&row.merchant)
        .bind(&row.kind)
        .execute(&mut *conn)
        .await?;
    } else {
        // A later "confirmed" takes back an earlier "not_anomaly" of this pattern.
        sqlx::query("DELETE FROM anomaly_suppressions WHERE user_id = $1 AND merchant = $2 AND kind = $3")
            .bind(user)
            .bind(&row.merchant)
            .bind(&row.kind)
            .execute(&mut *conn)
            .await?;
    }
    Ok(Some(row))
}
