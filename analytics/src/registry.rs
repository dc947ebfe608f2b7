//! The model registry (`ml_models`): per series, every candidate with its parameters and
//! backtest metrics, and the one chosen.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::monthend::Trained;

/// A metric for storage: four decimals, and JSON null for anything not finite.
fn metric(value: Option<f64>) -> Value {
    match value.filter(|v| v.is_finite()) {
        Some(v) => json!((v * 10_000.0).round() / 10_000.0),
        None => Value::Null,
    }
}

/// The stored candidate list of a selection.
pub fn candidates_json(trained: &Trained) -> Value {
    Value::Array(
        trained
            .selection
            .candidates
            .iter()
            .map(|c| {
                json!({
                    "model": c.model.name(),
                    "smape": metric(c.smape),
                    "mase": metric(c.mase),
                    "coverage_80": metric(c.coverage_80),
                    "params": c.params,
                })
            })
            .collect(),
    )
}

/// Records the latest selection for one series.
pub async fn save(
    conn: &mut PgConnection,
    user: Uuid,
    series: &str,
    trained: &Trained,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ml_models (user_id, series, n_points, granularity, chosen, candidates, trained_at) \
         VALUES ($1, $2, $3, $4, $5, $6, now()) ON CONFLICT (user_id, series) DO UPDATE SET \
         n_points = EXCLUDED.n_points, granularity = EXCLUDED.granularity, chosen = EXCLUDED.chosen, \
         candidates = EXCLUDED.candidates, trained_at = EXCLUDED.trained_at",
    )
    .bind(user)
    .bind(series)
    .bind(i32::try_from(trained.selection.n_points).unwrap_or(i32::MAX))
    .bind(trained.granularity)
    .bind(trained.selection.chosen.name())
    .bind(candidates_json(trained))
    .execute(conn)
    .await?;
    Ok(())
}

/// One registry row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entry {
    /// Series name, e.g. `total:USD`.
    pub series: String,
    /// Points in the series.
    pub n_points: i32,
    /// "monthly" or "daily".
    pub granularity: String,
    /// The chosen model.
    pub chosen: String,
    /// Candidates as stored by [`save`].
    pub candidates: Value,
    /// When it was selected.
    pub trained_at: DateTime<Utc>,
}

/// The user's registry, totals first.
pub async fn list(conn: &mut PgConnection, user: Uuid) -> Result<Vec<Entry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT series, n_points, granularity, chosen, candidates, trained_at FROM ml_models \
         WHERE user_id = $1 ORDER BY series NOT LIKE 'total:%', series",
    )
    .bind(user)
    .fetch_all(conn)
    .await
}
