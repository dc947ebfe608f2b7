//! `DELETE /imports/{id}`: the import's rows go, in batches inside one transaction, each with
//! its `transaction_deleted`, and the budgets they counted against are re-evaluated. The
//! import stays in the history, marked undone; undoing it again answers the same. Accounts the
//! import created stay: the person may have named them, and other imports may use them.

use std::collections::BTreeSet;

use budgetsmart_common::events::{self, EventContext};
use budgetsmart_proto::events::v1 as ev;
use chrono::{NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::budgets::thresholds;
use crate::convert::timestamp;
use crate::error::{AppError, AppResult};
use crate::imports::store::{COLUMNS, ImportRow};
use crate::transactions::store::{self as transactions, TransactionRow};

/// Rows deleted per statement.
const BATCH: i64 = 1_000;

/// Removes every row `import_id` wrote; answers how many.
pub async fn remove_rows(
    conn: &mut PgConnection,
    ctx: &EventContext,
    user_id: Uuid,
    import_id: Uuid,
) -> AppResult<u64> {
    let mut touched: BTreeSet<(NaiveDate, String)> = BTreeSet::new();
    let mut removed = 0u64;
    let sql = format!(
        "DELETE FROM transactions WHERE id IN (SELECT id FROM transactions WHERE user_id = $1 AND import_id = $2 \
         LIMIT $3) RETURNING {}",
        transactions::COLUMNS
    );
    loop {
        let rows: Vec<TransactionRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(user_id)
            .bind(import_id)
            .bind(BATCH)
            .fetch_all(&mut *conn)
            .await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let event = ev::TransactionDeleted {
                transaction: Some(row.event_data()),
                occurred_at: Some(timestamp(Utc::now())),
            };
            events::enqueue(&mut *conn, ctx, &event).await?;
            touched.extend(row.spending_keys());
        }
        removed += rows.len() as u64;
    }
    if !touched.is_empty() {
        thresholds::after_change(conn, ctx, user_id, touched.into_iter().collect(), None).await?;
    }
    Ok(removed)
}

/// Undoes the caller's import `id`.
pub async fn undo(
    conn: &mut PgConnection,
    ctx: &EventContext,
    user_id: Uuid,
    id: Uuid,
) -> AppResult<ImportRow> {
    // The same lock an import takes: an undo never interleaves with a write of the same user.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
        .bind(user_id.to_string())
        .execute(&mut *conn)
        .await?;
    let sql = format!("SELECT {COLUMNS} FROM imports WHERE user_id = $1 AND id = $2 FOR UPDATE");
    let import: ImportRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound("import"))?;
    if import.undone_at.is_some() {
        return Ok(import);
    }
    if import.status == "running" {
        return Err(AppError::Conflict("the import is still running; undo it once it has finished".into()));
    }
    remove_rows(conn, ctx, user_id, id).await?;
    let sql = format!("UPDATE imports SET undone_at = now() WHERE id = $1 RETURNING {COLUMNS}");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(&mut *conn).await?)
}
