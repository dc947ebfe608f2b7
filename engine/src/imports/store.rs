//! The `imports` table: one row per imported file, its counts, and (while it runs in the
//! background) the file itself.

use budgetsmart_proto::engine::v1 as pb;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::convert::timestamp;
use crate::error::{AppError, AppResult};

/// An import row, without its file.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ImportRow {
    pub id: Uuid,
    pub file_name: String,
    pub format: String,
    pub profile: Option<String>,
    pub status: String,
    pub rows_total: i32,
    pub rows_done: i32,
    pub imported: i32,
    pub duplicates: i32,
    pub errors: sqlx::types::Json<Vec<RowProblem>>,
    pub balance_warning: Option<String>,
    pub accounts: sqlx::types::Json<Vec<AccountSummary>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub undone_at: Option<DateTime<Utc>>,
}

pub(crate) const COLUMNS: &str = "id, file_name, format, profile, status, rows_total, rows_done, imported, \
     duplicates, errors, balance_warning, accounts, created_at, finished_at, undone_at";

/// A row the import refused, by line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RowProblem {
    pub line: u32,
    pub message: String,
}

impl From<RowProblem> for pb::ImportError {
    fn from(p: RowProblem) -> Self {
        pb::ImportError { line: p.line, message: p.message }
    }
}

/// An account the file named and what became of it, as kept with the import.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct AccountSummary {
    pub account_id: Option<Uuid>,
    pub name: String,
    pub number_hint: String,
    pub created: bool,
    pub rows: u32,
    pub currency: String,
    pub opening_balance: Option<String>,
    pub closing_balance: Option<String>,
}

impl From<&AccountSummary> for pb::ImportAccount {
    fn from(a: &AccountSummary) -> Self {
        pb::ImportAccount {
            account_id: a.account_id.map(|id| id.to_string()).unwrap_or_default(),
            name: a.name.clone(),
            number_hint: a.number_hint.clone(),
            created: a.created,
            rows: a.rows,
            currency: a.currency.clone(),
            opening_balance: balance(a.opening_balance.as_deref(), &a.currency),
            closing_balance: balance(a.closing_balance.as_deref(), &a.currency),
        }
    }
}

fn balance(amount: Option<&str>, currency: &str) -> Option<budgetsmart_proto::common::v1::Money> {
    let amount: rust_decimal::Decimal = amount?.parse().ok()?;
    Some(crate::convert::money(amount, currency))
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

impl From<ImportRow> for pb::ImportRecord {
    fn from(row: ImportRow) -> Self {
        pb::ImportRecord {
            id: row.id.to_string(),
            file_name: row.file_name,
            format: row.format,
            status: row.status,
            rows_total: count(row.rows_total),
            rows_done: count(row.rows_done),
            imported: count(row.imported),
            duplicates: count(row.duplicates),
            errors: row.errors.0.into_iter().map(Into::into).collect(),
            balance_warning: row.balance_warning,
            created_at: Some(timestamp(row.created_at)),
            finished_at: row.finished_at.map(timestamp),
            undone_at: row.undone_at.map(timestamp),
            profile: row.profile.unwrap_or_default(),
            accounts: row.accounts.0.iter().map(Into::into).collect(),
        }
    }
}

/// What a new import row starts with.
pub struct NewImport<'a> {
    pub id: Uuid,
    pub file_name: &'a str,
    pub format: &'a str,
    pub profile: Option<&'a str>,
    pub rows_total: u32,
    pub accounts: &'a [AccountSummary],
    pub options: serde_json::Value,
    /// The file, kept only while the import runs in the background.
    pub content: Option<&'a [u8]>,
}

pub async fn insert(conn: &mut PgConnection, user_id: Uuid, new: &NewImport<'_>) -> AppResult<ImportRow> {
    let sql = format!(
        "INSERT INTO imports (id, user_id, file_name, format, profile, status, rows_total, accounts, options, content) \
         VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, $9) RETURNING {COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(new.id)
        .bind(user_id)
        .bind(new.file_name)
        .bind(new.format)
        .bind(new.profile)
        .bind(i32::try_from(new.rows_total).unwrap_or(i32::MAX))
        .bind(sqlx::types::Json(new.accounts))
        .bind(&new.options)
        .bind(new.content)
        .fetch_one(conn)
        .await?)
}

/// Where an import stands: written after every batch, in the batch's transaction.
pub struct Progress<'a> {
    pub rows_done: u32,
    pub imported: u32,
    pub duplicates: u32,
    pub errors: &'a [RowProblem],
}

pub async fn record_progress(conn: &mut PgConnection, id: Uuid, progress: &Progress<'_>) -> AppResult<()> {
    sqlx::query(
        "UPDATE imports SET rows_done = $2, imported = $3, duplicates = $4, errors = $5 WHERE id = $1",
    )
    .bind(id)
    .bind(i32::try_from(progress.rows_done).unwrap_or(i32::MAX))
    .bind(i32::try_from(progress.imported).unwrap_or(i32::MAX))
    .bind(i32::try_from(progress.duplicates).unwrap_or(i32::MAX))
    .bind(sqlx::types::Json(progress.errors))
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends an import: its counts, the balance check, and the file dropped.
pub async fn finish(
    conn: &mut PgConnection,
    id: Uuid,
    progress: &Progress<'_>,
    accounts: &[AccountSummary],
    balance_warning: Option<&str>,
) -> AppResult<ImportRow> {
    record_progress(conn, id, progress).await?;
    let sql = format!(
        "UPDATE imports SET status = 'done', accounts = $2, balance_warning = $3, content = NULL, \
         finished_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(sqlx::types::Json(accounts))
        .bind(balance_warning)
        .fetch_one(conn)
        .await?)
}

/// Marks a background import failed; nothing it wrote is kept (see `worker`).
pub async fn fail(conn: &mut PgConnection, id: Uuid, message: &str) -> AppResult<()> {
    sqlx::query(
        "UPDATE imports SET status = 'failed', content = NULL, finished_at = now(), imported = 0, \
         errors = jsonb_build_array(jsonb_build_object('line', 0, 'message', $2::text)) WHERE id = $1",
    )
    .bind(id)
    .bind(message)
    .execute(conn)
    .await?;
    Ok(())
}

/// The caller's import `id`.
pub async fn find(conn: &mut PgConnection, user_id: Uuid, id: Uuid) -> AppResult<ImportRow> {
    let sql = format!("SELECT {COLUMNS} FROM imports WHERE user_id = $1 AND id = $2");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("import"))
}
