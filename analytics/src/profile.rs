//! What analytics knows of a user: their default currency and time zone, and so their today.

use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use sqlx::PgConnection;
use uuid::Uuid;

/// A user's preferences from `user_registered`, with defaults for users not yet seen.
#[derive(Debug, Clone)]
pub struct Profile {
    /// ISO 4217 code reports default to.
    pub currency: String,
    /// IANA zone that decides when a day and a month begin.
    pub timezone: Tz,
}

impl Profile {
    /// Today in the user's time zone.
    pub fn today(&self) -> NaiveDate {
        Utc::now().with_timezone(&self.timezone).date_naive()
    }
}

/// The user's profile; USD and UTC until their `user_registered` has been applied.
pub async fn load(conn: &mut PgConnection, user: Uuid) -> Result<Profile, sqlx::Error> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT default_currency, timezone FROM users WHERE user_id = $1")
            .bind(user)
            .fetch_optional(conn)
            .await?;
    let (currency, timezone) = row.unwrap_or_else(|| ("USD".into(), "UTC".into()));
    Ok(Profile { currency, timezone: timezone.parse().unwrap_or(Tz::UTC) })
}
