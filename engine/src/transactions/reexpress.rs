//! Expressing stored transactions in the home currency again: when rates arrive for rows that
//! waited for them, and when a user chooses another home currency.
//!
//! Each changed row gets a new version and a `transaction_updated` (with its previous state),
//! so analytics moves it between its totals exactly as for an edit, and the budgets it
//! touches are re-evaluated. The original amount and currency never change.

use budgetsmart_common::events::{self, EventContext};
use budgetsmart_proto::events::v1 as ev;
use chrono::Utc;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::budgets::thresholds;
use crate::convert::timestamp;
use crate::error::{AppError, AppResult};
use crate::rates::conversion::{Conversion, RateSource};
use crate::rates::store::{Quotes, currency_of};
use crate::transactions::store::{COLUMNS, TransactionRow};

/// Rows converted per database transaction when rates arrive.
const BATCH: i64 = 500;

/// Stores `conversion` on `before` (one of `user_id`'s rows), with its event.
async fn store(
    conn: &mut PgConnection,
    ctx: &EventContext,
    before: &TransactionRow,
    conversion: &Conversion,
) -> AppResult<TransactionRow> {
    let sql = format!(
        "UPDATE transactions SET home_currency = $3, home_amount = $4, rate = $5, rate_date = $6, \
         rate_source = $7, version = version + 1, updated_at = now() \
         WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"
    );
    let after: TransactionRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(before.user_id)
        .bind(before.id)
        .bind(conversion.home_currency.code())
        .bind(conversion.home_amount)
        .bind(conversion.rate)
        .bind(conversion.rate_date)
        .bind(conversion.source.map(RateSource::as_str))
        .fetch_one(&mut *conn)
        .await?;
    let event = ev::TransactionUpdated {
        transaction: Some(after.event_data()),
        previous: Some(before.event_data()),
        occurred_at: Some(timestamp(Utc::now())),
    };
    events::enqueue(conn, ctx, &event).await?;
    Ok(after)
}

/// Counts every transaction whose rate was pending and is now known (after a rate load).
/// Returns how many were converted; the rest keep waiting.
pub async fn resolve_pending(pool: &PgPool) -> AppResult<u64> {
    let mut resolved = 0;
    // Keyset over the pending rows: a row that stays pending is passed, not read again.
    let mut after: Option<(Uuid, Uuid)> = None;
    loop {
        let mut tx = pool.begin().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM transactions WHERE home_amount IS NULL \
             AND ($1::uuid IS NULL OR (user_id, id) > ($1, $2)) \
             ORDER BY user_id, id LIMIT $3 FOR UPDATE SKIP LOCKED"
        );
        let rows: Vec<TransactionRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(after.map(|a| a.0))
            .bind(after.map(|a| a.1))
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await?;
        let Some(last) = rows.last() else { break };
        after = Some((last.user_id, last.id));
        let mut quotes = Quotes::default();
        let mut touched: Vec<(Uuid, Vec<_>)> = Vec::new();
        for row in &rows {
            let home = currency_of(row.home_currency())?;
            let conversion = match quotes
                .express(&mut tx, row.amount, currency_of(row.currency())?, row.occurred_on, home)
                .await
            {
                Ok(conversion) if !conversion.is_pending() => conversion,
                Ok(_) | Err(AppError::Validation(_)) => continue,
                Err(other) => return Err(other),
            };
            let ctx = EventContext { user_id: Some(row.user_id), ..EventContext::default() };
            let stored = store(&mut tx, &ctx, row, &conversion).await?;
            match touched.last_mut() {
                Some((user, keys)) if *user == row.user_id => keys.extend(stored.spending_keys()),
                _ => touched.push((row.user_id, stored.spending_keys())),
            }
            resolved += 1;
        }
        for (user_id, keys) in touched {
            let ctx = EventContext { user_id: Some(user_id), ..EventContext::default() };
            thresholds::after_change(&mut tx, &ctx, user_id, keys, None).await?;
        }
        tx.commit().await?;
    }
    if resolved > 0 {
        tracing::info!(resolved, "transactions waiting for a rate are now counted");
    }
    Ok(resolved)
}

/// Re-expresses a user's whole history in their current home currency (on
/// `home_currency_changed`, in the consumer's transaction). Reading the current home, not the
/// event's, makes two quick changes end in the right one whatever order they arrive in.
pub async fn rehome(conn: &mut PgConnection, user_id: Uuid) -> AppResult<u64> {
    let Some(code): Option<String> = sqlx::query_scalar("SELECT default_currency FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(0);
    };
    let home = currency_of(&code)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM transactions WHERE user_id = $1 AND home_currency <> $2 \
         ORDER BY occurred_on, id FOR UPDATE"
    );
    let rows: Vec<TransactionRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(home.code())
        .fetch_all(&mut *conn)
        .await?;
    let ctx = EventContext { user_id: Some(user_id), ..EventContext::default() };
    let mut quotes = Quotes::default();
    let mut touched = Vec::new();
    for row in &rows {
        // A bank's rate was to the old home currency; the reference rate applies to the new.
        let conversion =
            match quotes.express(conn, row.amount, currency_of(row.currency())?, row.occurred_on, home).await
            {
                Ok(conversion) => conversion,
                // Too large to hold in the new currency: it waits, as for a missing rate.
                Err(AppError::Validation(_)) => Conversion::pending(home),
                Err(other) => return Err(other),
            };
        touched.extend(row.spending_keys());
        let stored = store(conn, &ctx, row, &conversion).await?;
        touched.extend(stored.spending_keys());
    }
    thresholds::after_change(conn, &ctx, user_id, touched, None).await?;
    tracing::info!(%user_id, home = home.code(), rows = rows.len(), "history re-expressed in the new home currency");
    Ok(rows.len() as u64)
}
