//! Budget alerts: `budget_threshold_reached` once per budget, scope and threshold.
//!
//! A row in `budget_alerts` marks a threshold that has fired. Spending is re-evaluated under a
//! lock on the budget row whenever it may have changed; crossing a threshold inserts the row
//! and the event in the same transaction, and dropping back below deletes the row, re-arming
//! it. The lock serialises concurrent changes to one budget, so two debits racing past 80 %
//! produce one event, not two or none.

use budgetsmart_common::events::{self, EventContext};
use budgetsmart_proto::events::v1 as ev;
use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::budgets::store::{self as budgets, Budget, SPENDING_IN, SPENT, Spending};
use crate::convert::{money, timestamp};
use crate::error::AppResult;
use crate::validation::format_month;
use crate::validation::next_month;

/// Scope key of the whole-budget limit.
const TOTAL: &str = "total";

/// Re-evaluates the budgets covering each `(month, currency)` touched by a change.
pub async fn after_change(
    conn: &mut PgConnection,
    ctx: &EventContext,
    user_id: Uuid,
    mut touched: Vec<(NaiveDate, String)>,
    trigger: Option<&ev::TransactionData>,
) -> AppResult<()> {
    // A stable order means two changes that touch the same two budgets lock them alike.
    touched.sort();
    touched.dedup();
    for (month, currency) in touched {
        if let Some(budget) = budgets::find_for_spending(conn, user_id, month, &currency).await? {
            evaluate(conn, ctx, &budget, trigger).await?;
        }
    }
    Ok(())
}

/// Fires and re-arms the thresholds of one budget, which the caller has locked.
pub async fn evaluate(
    conn: &mut PgConnection,
    ctx: &EventContext,
    budget: &Budget,
    trigger: Option<&ev::TransactionData>,
) -> AppResult<()> {
    let currency = budget.row.currency.trim();
    let (spent, fired) = spending_and_fired(conn, budget).await?;
    let mut scopes = vec![(TOTAL.to_owned(), None, budget.row.total_limit, spent.total)];
    for (category, limit) in &budget.limits {
        let used = spent.by_category.iter().find(|(c, _)| c == category).map(|(_, s)| *s).unwrap_or_default();
        scopes.push((category.to_string(), Some(*category), *limit, used));
    }

    let mut fire = Vec::new();
    let mut current = Vec::new();
    for (scope, category, limit, used) in &scopes {
        for threshold in &budget.row.alert_thresholds {
            current.push((scope.clone(), *threshold));
            let crossed = *used * Decimal::from(100) >= *limit * Decimal::from(*threshold);
            if crossed && !fired.contains(&(scope.clone(), *threshold)) {
                fire.push((scope.clone(), *category, *threshold, *limit, *used));
            }
        }
    }
    // Re-arm what spending fell back below, and forget thresholds or limits that were removed.
    let rearm: Vec<&(String, i32)> = fired
        .iter()
        .filter(|key| {
            let still_crossed = scopes.iter().any(|(scope, _, limit, used)| {
                *scope == key.0 && *used * Decimal::from(100) >= *limit * Decimal::from(key.1)
            });
            !still_crossed || !current.contains(key)
        })
        .collect();
    for (scope, threshold) in rearm {
        sqlx::query("DELETE FROM budget_alerts WHERE budget_id = $1 AND scope = $2 AND threshold = $3")
            .bind(budget.row.id)
            .bind(scope)
            .bind(threshold)
            .execute(&mut *conn)
            .await?;
    }

    for (scope, category, threshold, limit, used) in fire {
        sqlx::query(
            "INSERT INTO budget_alerts (budget_id, scope, threshold) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(budget.row.id)
        .bind(&scope)
        .bind(threshold)
        .execute(&mut *conn)
        .await?;
        let category_name = match category {
            Some(category) => category_name(conn, budget.row.user_id, category).await?,
            None => None,
        };
        let event = ev::BudgetThresholdReached {
            budget_id: budget.row.id.to_string(),
            user_id: budget.row.user_id.to_string(),
            month: format_month(budget.row.month),
            scope: if category.is_some() { "category" } else { TOTAL }.to_owned(),
            category_id: category.map(|c| c.to_string()),
            threshold_percent: threshold as u32,
            limit: Some(money(limit, currency)),
            spent: Some(money(used, currency)),
            transaction_id: trigger.map(|t| t.transaction_id.clone()),
            occurred_at: Some(timestamp(Utc::now())),
            transaction: trigger.cloned(),
            category_name,
            currency: currency.to_owned(),
        };
        events::enqueue(conn, ctx, &event).await?;
        tracing::info!(budget_id = %budget.row.id, scope, threshold, "budget threshold reached");
    }
    Ok(())
}

/// The name of one of the user's categories, for alerts that name it.
async fn category_name(conn: &mut PgConnection, user_id: Uuid, category: Uuid) -> AppResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT name FROM categories WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(category)
        .fetch_optional(conn)
        .await?)
}

/// Spending per category and the fired alerts, in one round trip: this runs on every write.
async fn spending_and_fired(
    conn: &mut PgConnection,
    budget: &Budget,
) -> AppResult<(Spending, Vec<(String, i32)>)> {
    /// Either a spending sum (`key` = category, `sum`) or a fired alert (`key` = scope, `threshold`).
    #[derive(sqlx::FromRow)]
    struct Row {
        is_spending: bool,
        key: Option<String>,
        sum: Option<Decimal>,
        threshold: Option<i32>,
    }
    let sql = format!(
        "SELECT true AS is_spending, category_id::text AS key, {SPENT} AS sum, NULL::int AS threshold \
         FROM transactions WHERE user_id = $1 AND {SPENDING_IN} GROUP BY category_id \
         UNION ALL SELECT false, scope, NULL, threshold FROM budget_alerts WHERE budget_id = $5"
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(budget.row.user_id)
        .bind(budget.row.currency.trim())
        .bind(budget.row.month)
        .bind(next_month(budget.row.month))
        .bind(budget.row.id)
        .fetch_all(conn)
        .await?;
    let mut spending = Spending { total: Decimal::ZERO, by_category: Vec::new() };
    let mut fired = Vec::new();
    for Row { is_spending, key, sum, threshold } in rows {
        if is_spending {
            let sum = sum.unwrap_or_default();
            spending.total += sum;
            if let Some(category) = key.and_then(|k| Uuid::parse_str(&k).ok()) {
                spending.by_category.push((category, sum));
            }
        } else if let (Some(scope), Some(threshold)) = (key, threshold) {
            fired.push((scope, threshold));
        }
    }
    Ok((spending, fired))
}
