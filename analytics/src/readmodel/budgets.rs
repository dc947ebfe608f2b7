//! Budgets: the latest version of each, with its limits, for forecasts.

use budgetsmart_common::events::HandlerError;
use budgetsmart_common::money;
use budgetsmart_proto::common::v1::Money;
use budgetsmart_proto::events::v1 as ev;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{malformed, users, uuid};
use crate::{history, retraining};

fn limit(event: &str, field: &str, value: &Option<Money>) -> Result<Decimal, HandlerError> {
    let value = value.as_ref().ok_or_else(|| malformed(event, format!("{field} is missing")))?;
    money::from_proto(value).map(|(v, _)| v).map_err(|e| malformed(event, format!("{field} {e}")))
}

/// Stores a budget's new state unless a newer one (or its deletion) is already held.
pub async fn upsert(conn: &mut PgConnection, event: ev::BudgetUpdated) -> Result<(), HandlerError> {
    const EVENT: &str = "budget_updated";
    let budget = uuid(EVENT, "budget_id", &event.budget_id)?;
    let user = uuid(EVENT, "user_id", &event.user_id)?;
    let month = history::parse_month(&event.month).ok_or_else(|| malformed(EVENT, "month is not YYYY-MM"))?;
    let total = limit(EVENT, "total_limit", &event.total_limit)?;
    let mut categories = Vec::with_capacity(event.category_limits.len());
    for c in &event.category_limits {
        let id = uuid(EVENT, "category_id", &c.category_id)?;
        let value = limit(EVENT, "category limit", &c.limit)?;
        categories.push(serde_json::json!({ "category_id": id, "limit": value.to_string() }));
    }
    if users::is_deleted(conn, user).await? {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO budgets (budget_id, user_id, month, currency, total_limit, category_limits, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (budget_id) DO UPDATE SET month = EXCLUDED.month, currency = EXCLUDED.currency, \
         total_limit = EXCLUDED.total_limit, category_limits = EXCLUDED.category_limits, \
         version = EXCLUDED.version \
         WHERE budgets.version < EXCLUDED.version AND NOT budgets.deleted AND budgets.user_id = EXCLUDED.user_id",
    )
    .bind(budget)
    .bind(user)
    .bind(month)
    .bind(&event.currency)
    .bind(total)
    .bind(serde_json::Value::Array(categories))
    .bind(event.version)
    .execute(&mut *conn)
    .await?;
    retraining::request(conn, user).await?;
    Ok(())
}

/// Marks a budget deleted for good (budget ids are never reused) and drops its forecast.
pub async fn delete(conn: &mut PgConnection, event: ev::BudgetDeleted) -> Result<(), HandlerError> {
    const EVENT: &str = "budget_deleted";
    let budget = uuid(EVENT, "budget_id", &event.budget_id)?;
    let user = uuid(EVENT, "user_id", &event.user_id)?;
    let month = history::parse_month(&event.month).ok_or_else(|| malformed(EVENT, "month is not YYYY-MM"))?;
    sqlx::query(
        "INSERT INTO budgets (budget_id, user_id, month, currency, total_limit, version, deleted) \
         VALUES ($1, $2, $3, $4, 0, $5, true) \
         ON CONFLICT (budget_id) DO UPDATE SET deleted = true, version = EXCLUDED.version \
         WHERE budgets.user_id = EXCLUDED.user_id",
    )
    .bind(budget)
    .bind(user)
    .bind(month)
    .bind(&event.currency)
    .bind(i64::MAX)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM forecasts WHERE budget_id = $1 AND user_id = $2")
        .bind(budget)
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}

/// A budget as the read model holds it.
#[derive(Debug, Clone)]
pub struct Budget {
    /// Its id.
    pub id: Uuid,
    /// First day of its month.
    pub month: NaiveDate,
    /// Its currency.
    pub currency: String,
    /// The total limit.
    pub total_limit: Decimal,
    /// Limits per category.
    pub category_limits: Vec<(Uuid, Decimal)>,
}

#[derive(sqlx::FromRow)]
struct BudgetRow {
    budget_id: Uuid,
    month: NaiveDate,
    currency: String,
    total_limit: Decimal,
    category_limits: serde_json::Value,
}

impl From<BudgetRow> for Budget {
    fn from(row: BudgetRow) -> Budget {
        let category_limits = row
            .category_limits
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let id = c["category_id"].as_str()?.parse().ok()?;
                let limit = c["limit"].as_str()?.parse().ok()?;
                Some((id, limit))
            })
            .collect();
        Budget {
            id: row.budget_id,
            month: row.month,
            currency: row.currency,
            total_limit: row.total_limit,
            category_limits,
        }
    }
}

const COLUMNS: &str = "budget_id, month, currency, total_limit, category_limits";

/// The caller's budget `id`, unless deleted.
pub async fn find(conn: &mut PgConnection, user: Uuid, id: Uuid) -> Result<Option<Budget>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM budgets WHERE user_id = $1 AND budget_id = $2 AND NOT deleted");
    let row: Option<BudgetRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user).bind(id).fetch_optional(conn).await?;
    Ok(row.map(Budget::from))
}

/// The caller's budget for `month` in `currency`, if any.
pub async fn for_month(
    conn: &mut PgConnection,
    user: Uuid,
    month: NaiveDate,
    currency: &str,
) -> Result<Option<Budget>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM budgets WHERE user_id = $1 AND month = $2 AND currency = $3 AND NOT deleted"
    );
    let row: Option<BudgetRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user)
        .bind(month)
        .bind(currency)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(Budget::from))
}

/// The caller's budgets from `month` on (the ones a forecast can still change).
pub async fn from_month(
    conn: &mut PgConnection,
    user: Uuid,
    month: NaiveDate,
) -> Result<Vec<Budget>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM budgets WHERE user_id = $1 AND month >= $2 AND NOT deleted ORDER BY month, currency"
    );
    let rows: Vec<BudgetRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user).bind(month).fetch_all(conn).await?;
    Ok(rows.into_iter().map(Budget::from).collect())
}
