//! Who an email goes to: the service's copy of each user's address, name, currency and time
//! zone, kept from `user_registered` / `user_updated`, or fetched from the engine when an event
//! about a user arrives before any profile event did.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

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
}

impl Recipient {
    /// The time zone, falling back to UTC for a name this build does not know.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }
}

/// Stores `recipient` as of `at` (the engine's time of the change), unless a newer profile is
/// already stored, since profile events may arrive out of order, or the account was deleted.
pub async fn upsert(conn: &mut PgConnection, recipient: &Recipient, at: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO recipients (user_id, email, name, currency, timezone, updated_at) \
         SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM forgotten_users WHERE user_id = $1) \
         ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name, \
           currency = EXCLUDED.currency, timezone = EXCLUDED.timezone, updated_at = EXCLUDED.updated_at \
         WHERE recipients.updated_at <= EXCLUDED.updated_at",
    )
    .bind(recipient.user_id)
    .bind(&recipient.email)
    .bind(&recipient.name)
    .bind(&recipient.currency)
    .bind(&recipient.timezone)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The stored recipient, if any.
pub async fn find(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<Option<Recipient>> {
    sqlx::query_as(
        "SELECT user_id, email, name, trim(currency) AS currency, timezone FROM recipients WHERE user_id = $1",
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
