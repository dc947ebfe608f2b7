//! Who an email goes to: the service's copy of each user's address, name, currency and time
//! zone, kept from `user_registered` / `user_updated`, or fetched from the engine when an event
//! about a user arrives before any profile event did.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Why an email to an unproven address was held back, as the history shows it.
pub const UNVERIFIED: &str = "the email address is not verified yet";

/// A user as email needs them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Recipient {
    /// The user.
    pub user_id: Uuid,
    /// Where email goes.
    pub email: String,
    /// How emails greet them.
    pub name: String,
    /// Default currency (ISO 4217), for amounts without their own.
    pub currency: String,
    /// IANA time zone, for quiet hours, digests and the 1st of the month.
    pub timezone: String,
    /// Whether the address is proven; until it is, only security email goes to it.
    pub email_verified: bool,
}

impl Recipient {
    /// The time zone, falling back to UTC for a name this build does not know.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }
}

/// Stores `recipient` as of `at` (the engine's time of the change), unless a newer profile is
/// already stored, since profile events may arrive out of order, or the account was deleted.
/// `verified` is `None` when the source does not say (an event from an older engine): a new
/// row is then unverified, and a stored one keeps its state.
pub async fn upsert(
    conn: &mut PgConnection,
    recipient: &Recipient,
    verified: Option<bool>,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO recipients (user_id, email, name, currency, timezone, updated_at, email_verified) \
         SELECT $1, $2, $3, $4, $5, $6, COALESCE($7, false) \
         WHERE NOT EXISTS (SELECT 1 FROM forgotten_users WHERE user_id = $1) \
         ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name, \
           currency = EXCLUDED.currency, timezone = EXCLUDED.timezone, updated_at = EXCLUDED.updated_at, \
           email_verified = COALESCE($7, recipients.email_verified) \
         WHERE recipients.updated_at <= EXCLUDED.updated_at",
    )
    .bind(recipient.user_id)
    .bind(&recipient.email)
    .bind(&recipient.name)
    .bind(&recipient.currency)
    .bind(&recipient.timezone)
    .bind(at)
    .bind(verified)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that `user_id`'s address `email` is proven as of `at`. Verification is never
/// undone, so a profile event older than `at` arriving later cannot make it unverified (the
/// row's `updated_at` moves to `at`).
pub async fn mark_verified(
    conn: &mut PgConnection,
    user_id: Uuid,
    email: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE recipients SET email_verified = true, \
           email = CASE WHEN updated_at <= $3 THEN $2 ELSE email END, updated_at = greatest(updated_at, $3) \
         WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(email)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// "j***@example.com": enough to recognise an address, not to harvest it from a link.
pub fn mask(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".to_owned(),
    }
}

/// The stored recipient, if any.
pub async fn find(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<Option<Recipient>> {
    sqlx::query_as(
        "SELECT user_id, email, name, trim(currency) AS currency, timezone, email_verified \
         FROM recipients WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

/// Drops everything this service keeps about a deleted user (profile, preferences, emails) and
/// remembers that they are gone.
pub async fn forget(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO forgotten_users (user_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    for table in ["deliveries", "preferences", "recipients"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE user_id = $1")))
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
