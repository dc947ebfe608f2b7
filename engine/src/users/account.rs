//! The stored account: its row, finding it, checking an address's shape, and checking its
//! password. Plain pieces that registration, verification, reset and two-factor sign-in
//! build on; nothing here calls them back.

use budgetsmart_proto::engine::v1 as pb;
use budgetsmart_proto::events::v1 as ev;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::convert::timestamp;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::validation::Violations;

/// Longest email address (RFC 5321 path limit).
pub const MAX_EMAIL: usize = 254;

/// A user row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub default_currency: String,
    pub timezone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When a link sent to the address was used; `None` until then.
    pub email_verified_at: Option<DateTime<Utc>>,
}

impl UserRow {
    /// The whole profile as `user_updated` carries it.
    pub fn updated_event(&self) -> ev::UserUpdated {
        ev::UserUpdated {
            user_id: self.id.to_string(),
            email: self.email.clone(),
            name: self.name.clone(),
            default_currency: self.default_currency.trim().to_owned(),
            timezone: self.timezone.clone(),
            occurred_at: Some(timestamp(Utc::now())),
            email_verified: Some(self.email_verified_at.is_some()),
        }
    }
}

impl From<UserRow> for pb::User {
    fn from(row: UserRow) -> Self {
        pb::User {
            id: row.id.to_string(),
            email: row.email,
            name: row.name,
            default_currency: row.default_currency.trim().to_owned(),
            timezone: row.timezone,
            created_at: Some(timestamp(row.created_at)),
            updated_at: Some(timestamp(row.updated_at)),
            email_verified: row.email_verified_at.is_some(),
            // Filled in by `GetMe`, which looks it up.
            mfa_enabled: false,
        }
    }
}

/// The columns of a [`UserRow`], for queries that return one.
pub const USER_COLUMNS: &str = "id, email, name, password_hash, default_currency, timezone, created_at, updated_at, \
     email_verified_at";

/// Checks an email address's shape; deliverability is the mail system's business.
pub fn check_email(violations: &mut Violations, email: &str) -> String {
    check_address(violations, "email", email)
}

/// [`check_email`] for a field of another name (`new_email`).
pub fn check_address(violations: &mut Violations, field: &str, email: &str) -> String {
    let email = email.trim().to_owned();
    let well_formed = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
    }) && !email.chars().any(char::is_whitespace);
    if email.chars().count() > MAX_EMAIL {
        violations.add(field, format!("must be at most {MAX_EMAIL} characters"));
    } else if !well_formed {
        violations.add(field, "must be an email address such as ana@example.com");
    }
    email
}

/// Finds a user by email, case-insensitively.
#[tracing::instrument(skip_all)]
pub async fn find_by_email(conn: &mut PgConnection, email: &str) -> AppResult<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1)");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(email.trim()).fetch_optional(conn).await?)
}

/// Loads the caller's own row.
pub async fn find(conn: &mut PgConnection, user_id: Uuid) -> AppResult<UserRow> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("user"))
}

/// Checks that `password` is `user`'s, as `field`. Guessing it with a stolen access token is
/// throttled like a login.
pub async fn confirm_password(
    state: &AppState,
    user: &UserRow,
    password: String,
    field: &str,
) -> AppResult<()> {
    let attempt = state.throttle.password_change(user.id).await?;
    let valid = match state.passwords.verify(password, Some(user.password_hash.clone())).await {
        Ok(valid) => valid,
        Err(error) => {
            state.throttle.forgive(attempt).await;
            return Err(error);
        }
    };
    if !valid {
        return Err(AppError::field(field, "is not the current password"));
    }
    state.throttle.succeeded(attempt).await
}
