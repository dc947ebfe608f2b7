//! Accounts: the stored row and lookups, always scoped to the owner.

use budgetsmart_proto::engine::v1 as pb;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::convert::timestamp;
use crate::error::{AppError, AppResult};
use crate::validation::Violations;

/// The types an account may have.
pub const TYPES: [&str; 4] = ["checking", "savings", "credit_card", "cash"];

/// An account row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRow {
    pub id: Uuid,
    pub name: String,
    pub institution: Option<String>,
    pub currency: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    /// The number as the bank's files write it; never answered whole.
    pub number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) const COLUMNS: &str = "id, name, institution, currency, type, number, created_at, updated_at";

impl AccountRow {
    pub fn currency(&self) -> &str {
        self.currency.trim()
    }
}

/// The last four characters of an account number: enough for a person to tell their accounts
/// apart, not enough to be worth stealing from a screenshot.
pub fn number_hint(number: &str) -> String {
    let chars: Vec<char> = number.chars().filter(|c| !c.is_whitespace()).collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

impl From<AccountRow> for pb::Account {
    fn from(row: AccountRow) -> Self {
        pb::Account {
            id: row.id.to_string(),
            currency: row.currency().to_owned(),
            name: row.name,
            r#type: row.kind,
            institution: row.institution,
            number_hint: row.number.as_deref().map(number_hint).filter(|h| !h.is_empty()),
            created_at: Some(timestamp(row.created_at)),
            updated_at: Some(timestamp(row.updated_at)),
        }
    }
}

pub(crate) fn check_type(violations: &mut Violations, kind: &str) -> String {
    let kind = kind.trim().to_lowercase();
    if !TYPES.contains(&kind.as_str()) {
        violations.add("type", "must be \"checking\", \"savings\", \"credit_card\" or \"cash\"");
    }
    kind
}

/// The caller's account `id`; another person's is not found, as if it did not exist.
pub async fn find(conn: &mut PgConnection, user_id: Uuid, id: Uuid) -> AppResult<AccountRow> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE user_id = $1 AND id = $2");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("account"))
}

/// The caller's account with this number, if they have one.
pub async fn by_number(
    conn: &mut PgConnection,
    user_id: Uuid,
    number: &str,
) -> AppResult<Option<AccountRow>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE user_id = $1 AND number = $2");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_id).bind(number).fetch_optional(conn).await?)
}

/// What a new account is made of.
pub struct NewAccount<'a> {
    pub name: &'a str,
    pub institution: Option<&'a str>,
    pub currency: &'a str,
    pub kind: &'a str,
    pub number: Option<&'a str>,
}

pub async fn insert(conn: &mut PgConnection, user_id: Uuid, new: &NewAccount<'_>) -> AppResult<AccountRow> {
    let sql = format!(
        "INSERT INTO accounts (id, user_id, name, institution, currency, type, number) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Uuid::now_v7())
        .bind(user_id)
        .bind(new.name)
        .bind(new.institution)
        .bind(new.currency)
        .bind(new.kind)
        .bind(new.number)
        .fetch_one(conn)
        .await?)
}

/// Gives an account that had no number the one a file names, so the next file of that
/// account finds it.
pub async fn adopt_number(conn: &mut PgConnection, user_id: Uuid, id: Uuid, number: &str) -> AppResult<()> {
    sqlx::query("UPDATE accounts SET number = $3, updated_at = now() WHERE user_id = $1 AND id = $2 AND number IS NULL")
        .bind(user_id)
        .bind(id)
        .bind(number)
        .execute(conn)
        .await?;
    Ok(())
}
