//! Users: their currency and time zone from `user_registered`, and forgetting them on
//! `user_deleted`.

use budgetsmart_common::events::HandlerError;
use budgetsmart_proto::events::v1 as ev;
use sqlx::PgConnection;
use uuid::Uuid;

use super::uuid;

/// Every table holding a user's data, emptied when the account is deleted.
const USER_TABLES: &[&str] = &[
    "goal_contributions",
    "goals",
    "transactions",
    "daily_totals",
    "budgets",
    "ml_models",
    "forecasts",
    "training_requests",
    "anomalies",
    "anomaly_suppressions",
    "recurring_payments",
    "recurring_corrections",
    "insights_issued",
    "categorizer_models",
    "users",
];

/// Records a new user's preferences (a replay changes nothing once they are deleted).
pub async fn register(conn: &mut PgConnection, event: ev::UserRegistered) -> Result<(), HandlerError> {
    let user = uuid("user_registered", "user_id", &event.user_id)?;
    store(conn, user, &event.default_currency, &event.timezone).await
}

/// A changed profile: a new home currency (reports and forecasts follow it, and the engine
/// re-expresses the transactions) or time zone (when days and months begin). The user's
/// models are retrained in the new terms.
pub async fn update(conn: &mut PgConnection, event: ev::UserUpdated) -> Result<(), HandlerError> {
    let user = uuid("user_updated", "user_id", &event.user_id)?;
    store(conn, user, &event.default_currency, &event.timezone).await?;
    sqlx::query("INSERT INTO training_requests (user_id) SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM deleted_users WHERE user_id = $1)")
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}

async fn store(
    conn: &mut PgConnection,
    user: uuid::Uuid,
    currency: &str,
    timezone: &str,
) -> Result<(), HandlerError> {
    let currency = Some(currency.trim()).filter(|c| !c.is_empty()).unwrap_or("USD");
    let timezone = Some(timezone.trim()).filter(|t| !t.is_empty()).unwrap_or("UTC");
    sqlx::query(
        "INSERT INTO users (user_id, default_currency, timezone) \
         SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM deleted_users WHERE user_id = $1) \
         ON CONFLICT (user_id) DO UPDATE SET default_currency = EXCLUDED.default_currency, \
         timezone = EXCLUDED.timezone",
    )
    .bind(user)
    .bind(currency)
    .bind(timezone)
    .execute(conn)
    .await?;
    Ok(())
}

/// Drops everything analytics holds about the user, and remembers that they are gone.
pub async fn forget(conn: &mut PgConnection, event: ev::UserDeleted) -> Result<(), HandlerError> {
    let user = uuid("user_deleted", "user_id", &event.user_id)?;
    sqlx::query("INSERT INTO deleted_users (user_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(user)
        .execute(&mut *conn)
        .await?;
    for table in USER_TABLES {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE user_id = $1")))
            .bind(user)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Whether the user deleted their account; their late events are dropped.
pub async fn is_deleted(conn: &mut PgConnection, user: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM deleted_users WHERE user_id = $1)")
        .bind(user)
        .fetch_one(conn)
        .await
}
