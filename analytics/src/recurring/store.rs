//! Stored recurring payments: rewritten by each retraining, with stable ids per merchant.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::Recurring;
use super::explain::explain;

/// A stored recurring payment, as the API shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecurringRow {
    pub id: Uuid,
    pub merchant: String,
    pub currency: String,
    pub category_id: Option<Uuid>,
    pub cadence: String,
    pub cadence_days: i32,
    pub amount: Decimal,
    pub fixed_price: bool,
    pub first_seen: NaiveDate,
    pub last_seen: NaiveDate,
    pub next_expected: NaiveDate,
    pub occurrences: i32,
    pub active: bool,
    /// `[{on, from, to}]` with decimal strings.
    pub price_changes: serde_json::Value,
    pub updated_at: DateTime<Utc>,
    /// "debit" or "credit".
    pub direction: String,
    /// "subscription", "bill", "housing", "loan" or "income".
    pub kind: String,
    /// Whether the kind is the person's correction.
    pub kind_corrected: bool,
    /// "active", "late" or "ended".
    pub status: String,
    /// What the next charge should be (absent only on rows from before it was kept).
    pub expected_amount: Option<Decimal>,
    /// The sentence with the numbers.
    pub explanation: String,
}

impl RecurringRow {
    /// Whether cancelling it is a saving a person could make.
    pub fn is_subscription(&self) -> bool {
        self.kind == "subscription"
    }

    /// What the next charge should be.
    pub fn expected(&self) -> Decimal {
        self.expected_amount.unwrap_or(self.amount)
    }
}

const COLUMNS: &str = "id, merchant, currency, category_id, cadence, cadence_days, amount, fixed_price, \
                       first_seen, last_seen, next_expected, occurrences, active, price_changes, updated_at, \
                       direction, kind, kind_corrected, status, expected_amount, explanation";

/// Replaces the user's recurring payments with `found` as of `today`, keeping the id of each
/// merchant's series. Returns the stored rows.
pub async fn sync(
    conn: &mut PgConnection,
    user: Uuid,
    found: &[Recurring],
    today: NaiveDate,
) -> Result<Vec<RecurringRow>, sqlx::Error> {
    let mut kept = Vec::with_capacity(found.len());
    for r in found {
        let changes: Vec<serde_json::Value> = r
            .price_changes
            .iter()
            .map(|c| serde_json::json!({ "on": c.on, "from": c.from.normalize().to_string(), "to": c.to.normalize().to_string() }))
            .collect();
        let row: RecurringRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO recurring_payments (id, user_id, merchant, currency, category_id, cadence, cadence_days, \
             amount, fixed_price, first_seen, last_seen, next_expected, occurrences, active, price_changes, \
             direction, kind, kind_corrected, status, expected_amount, explanation) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) \
             ON CONFLICT (user_id, currency, merchant, direction) DO UPDATE SET category_id = EXCLUDED.category_id, \
             cadence = EXCLUDED.cadence, cadence_days = EXCLUDED.cadence_days, amount = EXCLUDED.amount, \
             fixed_price = EXCLUDED.fixed_price, first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen, \
             next_expected = EXCLUDED.next_expected, occurrences = EXCLUDED.occurrences, active = EXCLUDED.active, \
             price_changes = EXCLUDED.price_changes, kind = EXCLUDED.kind, kind_corrected = EXCLUDED.kind_corrected, \
             status = EXCLUDED.status, expected_amount = EXCLUDED.expected_amount, \
             explanation = EXCLUDED.explanation, updated_at = now() RETURNING {COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(user)
        .bind(&r.merchant)
        .bind(&r.currency)
        .bind(r.category_id)
        .bind(r.cadence.as_str())
        .bind(r.cadence.days() as i32)
        .bind(r.amount)
        .bind(r.fixed_price)
        .bind(r.first_seen)
        .bind(r.last_seen)
        .bind(r.next_expected)
        .bind(r.occurrences as i32)
        .bind(r.active())
        .bind(serde_json::Value::Array(changes))
        .bind(if r.credit { "credit" } else { "debit" })
        .bind(r.kind.as_str())
        .bind(r.kind_corrected)
        .bind(r.status.as_str())
        .bind(r.expected_amount)
        .bind(explain(r, today))
        .fetch_one(&mut *conn)
        .await?;
        kept.push(row);
    }
    let ids: Vec<Uuid> = kept.iter().map(|r| r.id).collect();
    sqlx::query("DELETE FROM recurring_payments WHERE user_id = $1 AND NOT (id = ANY($2))")
        .bind(user)
        .bind(&ids)
        .execute(conn)
        .await?;
    Ok(kept)
}

/// The user's recurring payments: active ones first, then late, then ended; by merchant.
pub async fn list(conn: &mut PgConnection, user: Uuid) -> Result<Vec<RecurringRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM recurring_payments WHERE user_id = $1 \
         ORDER BY array_position(ARRAY['active', 'late', 'ended'], status), merchant, currency, direction"
    )))
    .bind(user)
    .fetch_all(conn)
    .await
}

/// One of the user's recurring payments, locked for a correction.
pub async fn find_for_update(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
) -> Result<Option<RecurringRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM recurring_payments WHERE user_id = $1 AND id = $2 FOR UPDATE"
    )))
    .bind(user)
    .bind(id)
    .fetch_optional(conn)
    .await
}
