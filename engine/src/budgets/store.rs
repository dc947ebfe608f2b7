//! Budgets: one per user, month and currency, with optional category limits, alert
//! thresholds, and a status that shows spending against them.

use std::collections::HashSet;

use budgetsmart_common::currency::Currency;
use budgetsmart_proto::engine::v1 as pb;
use budgetsmart_proto::events::v1 as ev;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::categories::store as categories;
use crate::convert::{money, timestamp};
use crate::error::{AppError, AppResult};
use crate::validation::{Violations, format_month, next_month};

/// Thresholds when the client gives none: half-way, nearly there, and over.
pub const DEFAULT_THRESHOLDS: [i32; 3] = [50, 80, 100];
/// Largest threshold accepted, in percent.
const MAX_THRESHOLD: u32 = 1000;
/// Most thresholds per budget.
const MAX_THRESHOLDS: usize = 10;
/// Most category limits per budget.
const MAX_CATEGORY_LIMITS: usize = 100;

/// A budget row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BudgetRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub month: NaiveDate,
    pub currency: String,
    pub total_limit: Decimal,
    pub alert_thresholds: Vec<i32>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Columns of [`BudgetRow`], for `SELECT`/`RETURNING`.
pub const COLUMNS: &str =
    "id, user_id, month, currency, total_limit, alert_thresholds, version, created_at, updated_at";

/// A budget with its category limits.
pub struct Budget {
    pub row: BudgetRow,
    pub limits: Vec<(Uuid, Decimal)>,
}

impl Budget {
    pub(crate) fn currency(&self) -> &str {
        self.row.currency.trim()
    }

    pub(crate) fn to_proto(&self) -> pb::Budget {
        pb::Budget {
            id: self.row.id.to_string(),
            month: format_month(self.row.month),
            currency: self.currency().to_owned(),
            total_limit: Some(money(self.row.total_limit, self.currency())),
            category_limits: self
                .limits
                .iter()
                .map(|(category, limit)| pb::CategoryLimit {
                    category_id: category.to_string(),
                    limit: Some(money(*limit, self.currency())),
                })
                .collect(),
            alert_thresholds: self.row.alert_thresholds.iter().map(|t| *t as u32).collect(),
            created_at: Some(timestamp(self.row.created_at)),
            updated_at: Some(timestamp(self.row.updated_at)),
        }
    }

    pub(crate) fn updated_event(&self, created: bool) -> ev::BudgetUpdated {
        ev::BudgetUpdated {
            budget_id: self.row.id.to_string(),
            user_id: self.row.user_id.to_string(),
            month: format_month(self.row.month),
            currency: self.currency().to_owned(),
            total_limit: Some(money(self.row.total_limit, self.currency())),
            category_limits: self
                .limits
                .iter()
                .map(|(category, limit)| ev::CategoryLimit {
                    category_id: category.to_string(),
                    limit: Some(money(*limit, self.currency())),
                })
                .collect(),
            alert_thresholds: self.row.alert_thresholds.iter().map(|t| *t as u32).collect(),
            version: self.row.version,
            created,
            occurred_at: Some(timestamp(Utc::now())),
        }
    }
}

/// Loads a budget of `user_id`, optionally locking it against concurrent spending checks.
pub async fn find(conn: &mut PgConnection, user_id: Uuid, id: Uuid, lock: bool) -> AppResult<Budget> {
    let sql = format!(
        "SELECT {COLUMNS} FROM budgets WHERE user_id = $1 AND id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row: BudgetRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound("budget"))?;
    let limits = load_limits(conn, row.id).await?;
    Ok(Budget { row, limits })
}

/// The category limits of a budget, ordered by category id.
pub async fn load_limits(conn: &mut PgConnection, budget_id: Uuid) -> AppResult<Vec<(Uuid, Decimal)>> {
    Ok(sqlx::query_as(
        "SELECT category_id, limit_amount FROM budget_category_limits WHERE budget_id = $1 ORDER BY category_id",
    )
    .bind(budget_id)
    .fetch_all(conn)
    .await?)
}

pub(crate) fn check_thresholds(violations: &mut Violations, raw: &[u32]) -> Vec<i32> {
    if raw.is_empty() {
        return DEFAULT_THRESHOLDS.to_vec();
    }
    if raw.len() > MAX_THRESHOLDS {
        violations.add("alert_thresholds", format!("must have at most {MAX_THRESHOLDS} entries"));
    }
    if raw.iter().any(|t| *t == 0 || *t > MAX_THRESHOLD) {
        violations.add("alert_thresholds", format!("each must be a percentage from 1 to {MAX_THRESHOLD}"));
    }
    let mut thresholds: Vec<i32> = raw.iter().map(|t| (*t).min(MAX_THRESHOLD) as i32).collect();
    thresholds.sort_unstable();
    thresholds.dedup();
    thresholds
}

/// Validates category limits: UUIDs, unique, positive amounts in the budget's currency, and
/// categories the caller owns.
pub(crate) async fn check_limits(
    conn: &mut PgConnection,
    violations: &mut Violations,
    user_id: Uuid,
    raw: &[pb::CategoryLimit],
    currency: Option<Currency>,
) -> AppResult<Vec<(Uuid, Decimal)>> {
    if raw.len() > MAX_CATEGORY_LIMITS {
        violations.add("category_limits", format!("must have at most {MAX_CATEGORY_LIMITS} entries"));
        return Ok(Vec::new());
    }
    let mut limits = Vec::with_capacity(raw.len());
    let mut seen = HashSet::new();
    for (i, limit) in raw.iter().enumerate() {
        let id = violations.uuid(&format!("category_limits[{i}].category_id"), &limit.category_id);
        if let Some(id) = id
            && !seen.insert(id)
        {
            violations.add(format!("category_limits[{i}].category_id"), "appears more than once");
        }
        if let Some(money) = &limit.limit
            && let Some(currency) = currency
            && !money.currency_code.trim().is_empty()
            && money.currency_code.trim() != currency.code()
        {
            violations.add(format!("category_limits[{i}].limit"), "must be in the budget's currency");
        }
        let amount = violations.positive_amount(
            &format!("category_limits[{i}].limit"),
            limit.limit.as_ref(),
            currency,
        );
        if let (Some(id), Some(amount)) = (id, amount) {
            limits.push((id, amount));
        }
    }
    let ids: Vec<Uuid> = limits.iter().map(|(id, _)| *id).collect();
    for missing in categories::missing(conn, user_id, &ids).await? {
        if let Some(i) = raw.iter().position(|l| l.category_id.trim() == missing.to_string()) {
            violations.add(format!("category_limits[{i}].category_id"), "no such category");
        }
    }
    limits.sort_by_key(|(id, _)| *id);
    Ok(limits)
}

pub(crate) async fn store_limits(
    conn: &mut PgConnection,
    budget: &BudgetRow,
    limits: &[(Uuid, Decimal)],
) -> AppResult<()> {
    sqlx::query("DELETE FROM budget_category_limits WHERE budget_id = $1")
        .bind(budget.id)
        .execute(&mut *conn)
        .await?;
    let ids: Vec<Uuid> = limits.iter().map(|(id, _)| *id).collect();
    let amounts: Vec<Decimal> = limits.iter().map(|(_, amount)| *amount).collect();
    sqlx::query(
        "INSERT INTO budget_category_limits (budget_id, user_id, category_id, limit_amount) \
         SELECT $1, $2, c, a FROM UNNEST($3::uuid[], $4::numeric[]) AS l(c, a)",
    )
    .bind(budget.id)
    .bind(budget.user_id)
    .bind(&ids)
    .bind(&amounts)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Spending of one month and currency: total debits and debits per category.
pub struct Spending {
    pub total: Decimal,
    pub by_category: Vec<(Uuid, Decimal)>,
}

/// The debits a budget in currency `$2` counts during the month `[$3, $4)`: those booked in
/// that currency, and, when it is the owner's home currency, every other one converted.
pub const SPENDING_IN: &str =
    "(currency = $2 OR home_currency = $2) AND type = 'debit' AND occurred_on >= $3 AND occurred_on < $4";
/// Their sum in the budget's currency. A transaction whose rate is pending has no home amount
/// and adds nothing until its rate arrives.
pub const SPENT: &str = "COALESCE(SUM(CASE WHEN home_currency = $2 THEN home_amount ELSE amount END), 0)";

/// Sums the user's debits in `currency` during `month`.
pub async fn spending(
    conn: &mut PgConnection,
    user_id: Uuid,
    month: NaiveDate,
    currency: &str,
) -> AppResult<Spending> {
    let sql = format!(
        "SELECT category_id, {SPENT} FROM transactions WHERE user_id = $1 AND {SPENDING_IN} GROUP BY category_id"
    );
    let rows: Vec<(Option<Uuid>, Decimal)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(currency)
        .bind(month)
        .bind(next_month(month))
        .fetch_all(conn)
        .await?;
    let total = rows.iter().map(|(_, sum)| *sum).sum();
    let by_category = rows.into_iter().filter_map(|(c, sum)| c.map(|c| (c, sum))).collect();
    Ok(Spending { total, by_category })
}

/// Locks and loads the budget covering `month` and `currency`, with its limits, if the user
/// has one. One round trip: this runs on every transaction write.
pub async fn find_for_spending(
    conn: &mut PgConnection,
    user_id: Uuid,
    month: NaiveDate,
    currency: &str,
) -> AppResult<Option<Budget>> {
    #[derive(sqlx::FromRow)]
    struct Locked {
        #[sqlx(flatten)]
        row: BudgetRow,
        limit_ids: Vec<Uuid>,
        limit_amounts: Vec<Decimal>,
    }
    let sql = format!(
        "SELECT {COLUMNS}, \
         ARRAY(SELECT category_id FROM budget_category_limits l WHERE l.budget_id = b.id ORDER BY category_id) \
         AS limit_ids, \
         ARRAY(SELECT limit_amount FROM budget_category_limits l WHERE l.budget_id = b.id ORDER BY category_id) \
         AS limit_amounts \
         FROM budgets b WHERE user_id = $1 AND month = $2 AND currency = $3 FOR UPDATE OF b"
    );
    let locked: Option<Locked> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(month)
        .bind(currency)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(locked.map(|l| Budget { row: l.row, limits: l.limit_ids.into_iter().zip(l.limit_amounts).collect() }))
}
