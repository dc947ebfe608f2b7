//! The retraining queue: consumers ask for a user's models to be retrained; the trainer
//! takes each user once the requests have gone quiet, so an import of 2,000 rows trains once.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Asks for `user`'s models to be retrained, inside the transaction that changed the data.
pub async fn request(conn: &mut PgConnection, user: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO training_requests (user_id) VALUES ($1)").bind(user).execute(conn).await?;
    Ok(())
}

/// Users due for retraining: no request for `quiet`, or a request older than `max_wait`
/// (so that a steady trickle of events cannot postpone training for ever).
pub async fn due(
    pool: &PgPool,
    quiet: Duration,
    max_wait: Duration,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT user_id FROM training_requests GROUP BY user_id \
         HAVING max(requested_at) <= clock_timestamp() - make_interval(secs => $1) \
             OR min(requested_at) <= clock_timestamp() - make_interval(secs => $2) \
         ORDER BY min(requested_at) LIMIT $3",
    )
    .bind(quiet.as_secs_f64())
    .bind(max_wait.as_secs_f64())
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Claims `user` for this trainer until the transaction ends; `None` if another replica has
/// it. Returns the newest request id the training will cover.
pub async fn claim(conn: &mut PgConnection, user: Uuid) -> Result<Option<i64>, sqlx::Error> {
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended($1::text, 7))")
        .bind(user)
        .fetch_one(&mut *conn)
        .await?;
    if !locked {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT max(id) FROM training_requests WHERE user_id = $1")
        .bind(user)
        .fetch_one(conn)
        .await
}

/// The two stages of a retraining, committed and retried apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Model selection, the registry and the forecasts of open budgets.
    Forecasts,
    /// Recurring payments, anomalies, insights and the categorisation model.
    Review,
}

impl Stage {
    /// The request column that records this stage served the request.
    fn column(self) -> &'static str {
        match self {
            Stage::Forecasts => "forecasts_done",
            Stage::Review => "review_done",
        }
    }
}

/// Whether any of `user`'s requests up to `up_to` still waits for `stage`.
pub async fn pending(
    conn: &mut PgConnection,
    user: Uuid,
    up_to: i64,
    stage: Stage,
) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM training_requests WHERE user_id = $1 AND id <= $2 AND NOT {})",
        stage.column()
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(user).bind(up_to).fetch_one(conn).await
}

/// Marks the requests up to `up_to` served by `stage`, and deletes those both stages have
/// served; later requests trigger another training.
pub async fn served(
    conn: &mut PgConnection,
    user: Uuid,
    up_to: i64,
    stage: Stage,
) -> Result<(), sqlx::Error> {
    let sql =
        format!("UPDATE training_requests SET {} = true WHERE user_id = $1 AND id <= $2", stage.column());
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user).bind(up_to).execute(&mut *conn).await?;
    sqlx::query(
        "DELETE FROM training_requests WHERE user_id = $1 AND id <= $2 AND forecasts_done AND review_done",
    )
    .bind(user)
    .bind(up_to)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves a user's pending requests `delay` into the future, so a training that keeps failing
/// is retried at that pace rather than at every poll.
pub async fn postpone(pool: &PgPool, user: Uuid, delay: Duration) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE training_requests SET requested_at = clock_timestamp() + make_interval(secs => $2) \
         WHERE user_id = $1",
    )
    .bind(user)
    .bind(delay.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(())
}
