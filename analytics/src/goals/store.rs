//! The `goals` and `goal_contributions` tables, and what a goal has saved month by month.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::history::{month_start, shift_months};

/// A stored goal.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GoalRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub target_amount: Decimal,
    pub currency: String,
    pub target_date: Option<NaiveDate>,
    pub category_id: Option<Uuid>,
    pub status: String,
    pub at_risk_announced: bool,
    pub reached_announced: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Columns of [`GoalRow`].
pub const COLUMNS: &str = "id, user_id, name, target_amount, currency, target_date, category_id, status, \
                           at_risk_announced, reached_announced, created_at, updated_at";

/// A new goal, validated.
pub struct NewGoal {
    pub name: String,
    pub target_amount: Decimal,
    pub currency: String,
    pub target_date: Option<NaiveDate>,
    pub category_id: Option<Uuid>,
}

pub async fn insert(conn: &mut PgConnection, user: Uuid, new: &NewGoal) -> Result<GoalRow, sqlx::Error> {
    let sql = format!(
        "INSERT INTO goals (id, user_id, name, target_amount, currency, target_date, category_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Uuid::now_v7())
        .bind(user)
        .bind(&new.name)
        .bind(new.target_amount)
        .bind(&new.currency)
        .bind(new.target_date)
        .bind(new.category_id)
        .fetch_one(conn)
        .await
}

/// One of `user`'s goals, locked for an update when `lock`.
pub async fn find(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Option<GoalRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM goals WHERE user_id = $1 AND id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user).bind(id).fetch_optional(conn).await
}

/// A page of `user`'s goals, newest first, after the goal id `after`.
pub async fn list(
    conn: &mut PgConnection,
    user: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<GoalRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM goals WHERE user_id = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user).bind(after).bind(limit).fetch_all(conn).await
}

/// Every goal of `user`, for the nightly review.
pub async fn all_of(conn: &mut PgConnection, user: Uuid) -> Result<Vec<GoalRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM goals WHERE user_id = $1 ORDER BY id FOR UPDATE");
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user).fetch_all(conn).await
}

/// Stores a changed goal (the fields a PATCH may change).
pub async fn update(conn: &mut PgConnection, goal: &GoalRow) -> Result<GoalRow, sqlx::Error> {
    let sql = format!(
        "UPDATE goals SET name = $3, target_amount = $4, target_date = $5, category_id = $6, updated_at = now() \
         WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(goal.user_id)
        .bind(goal.id)
        .bind(&goal.name)
        .bind(goal.target_amount)
        .bind(goal.target_date)
        .bind(goal.category_id)
        .fetch_one(conn)
        .await
}

/// Records the evaluated status and what has been announced.
pub async fn set_status(conn: &mut PgConnection, goal: &GoalRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE goals SET status = $3, at_risk_announced = $4, reached_announced = $5, reviewed_at = now() \
         WHERE user_id = $1 AND id = $2",
    )
    .bind(goal.user_id)
    .bind(goal.id)
    .bind(&goal.status)
    .bind(goal.at_risk_announced)
    .bind(goal.reached_announced)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes one of `user`'s goals (its contributions go with it); whether it existed.
pub async fn delete(conn: &mut PgConnection, user: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM goals WHERE user_id = $1 AND id = $2")
        .bind(user)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// A stored contribution.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContributionRow {
    pub id: Uuid,
    pub amount: Decimal,
    pub occurred_on: NaiveDate,
}

pub async fn add_contribution(
    conn: &mut PgConnection,
    goal: &GoalRow,
    amount: Decimal,
    occurred_on: NaiveDate,
) -> Result<ContributionRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO goal_contributions (id, goal_id, user_id, amount, occurred_on) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, amount, occurred_on",
    )
    .bind(Uuid::now_v7())
    .bind(goal.id)
    .bind(goal.user_id)
    .bind(amount)
    .bind(occurred_on)
    .fetch_one(conn)
    .await
}

/// A page of a goal's contributions, newest first, after `(day, id)`.
pub async fn contributions(
    conn: &mut PgConnection,
    goal: &GoalRow,
    after: Option<(NaiveDate, Uuid)>,
    limit: i64,
) -> Result<Vec<ContributionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, amount, occurred_on FROM goal_contributions WHERE user_id = $1 AND goal_id = $2 \
         AND ($3::date IS NULL OR (occurred_on, id) < ($3, $4)) ORDER BY occurred_on DESC, id DESC LIMIT $5",
    )
    .bind(goal.user_id)
    .bind(goal.id)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// What a goal has saved: in total, per complete month (oldest first, at most `months` of
/// them, ending last month), and so far this month.
pub struct Saved {
    pub total: Decimal,
    pub monthly: Vec<f64>,
    pub this_month: f64,
}

/// The goal's contributions plus, with a linked category, that category's net flow in the
/// goal's currency: a debit (money moved to savings) adds, a credit (taken out) subtracts.
/// A transaction counted in the home currency but paid in the goal's counts as paid.
pub async fn saved(
    conn: &mut PgConnection,
    goal: &GoalRow,
    today: NaiveDate,
    months: usize,
) -> Result<Saved, sqlx::Error> {
    let rows: Vec<(NaiveDate, Decimal)> = sqlx::query_as(
        "SELECT month, SUM(amount)::numeric FROM ( \
           SELECT date_trunc('month', occurred_on)::date AS month, amount FROM goal_contributions \
           WHERE user_id = $1 AND goal_id = $2 \
           UNION ALL \
           SELECT date_trunc('month', occurred_on)::date, \
                  (CASE WHEN kind = 'debit' THEN 1 ELSE -1 END) \
                  * (CASE WHEN currency = $4 THEN amount ELSE original_amount END) \
           FROM transactions WHERE user_id = $1 AND $3::uuid IS NOT NULL AND category_id = $3 AND NOT deleted \
           AND (currency = $4 OR original_currency = $4) \
         ) flows GROUP BY month ORDER BY month",
    )
    .bind(goal.user_id)
    .bind(goal.id)
    .bind(goal.category_id)
    .bind(goal.currency.trim())
    .fetch_all(conn)
    .await?;
    let by_month: BTreeMap<NaiveDate, Decimal> = rows.into_iter().collect();
    let total = by_month.values().copied().sum();
    let current = month_start(today);
    let this_month = by_month.get(&current).and_then(|v| v.to_f64()).unwrap_or(0.0);
    // Complete months from the first flow (or the goal's own month) to last month.
    let first =
        by_month.keys().next().copied().unwrap_or(current).min(month_start(goal.created_at.date_naive()));
    let first = first.max(shift_months(current, -(months as i32)));
    let mut monthly = Vec::new();
    let mut month = first;
    while month < current {
        monthly.push(by_month.get(&month).and_then(|v| v.to_f64()).unwrap_or(0.0));
        month = shift_months(month, 1);
    }
    Ok(Saved { total, monthly, this_month })
}
