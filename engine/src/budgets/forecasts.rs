//! The latest month-end forecast per budget, fed by `prediction_completed`.

use budgetsmart_common::events::{HandlerError, IncomingEvent};
use budgetsmart_common::money;
use budgetsmart_proto::common::v1::{Money, MonthEndForecast};
use budgetsmart_proto::engine::v1 as pb;
use budgetsmart_proto::events::v1 as ev;
use chrono::{DateTime, Utc};
use prost::Message;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::convert::{self, timestamp};
use crate::error::AppResult;

#[derive(sqlx::FromRow)]
struct ForecastRow {
    projected_total: Decimal,
    lower_80: Decimal,
    upper_80: Decimal,
    lower_95: Decimal,
    upper_95: Decimal,
    probability_over_budget: Decimal,
    model: String,
    generated_at: DateTime<Utc>,
    detail: Option<Vec<u8>>,
}

/// The stored forecast of a budget, if any.
pub async fn latest(
    conn: &mut PgConnection,
    budget_id: Uuid,
    currency: &str,
) -> AppResult<Option<pb::Forecast>> {
    let row: Option<ForecastRow> = sqlx::query_as(
        "SELECT projected_total, lower_80, upper_80, lower_95, upper_95, probability_over_budget, model, \
         generated_at, detail FROM budget_forecasts WHERE budget_id = $1",
    )
    .bind(budget_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| pb::Forecast {
        projected_total: Some(convert::money(r.projected_total, currency)),
        lower_80: Some(convert::money(r.lower_80, currency)),
        upper_80: Some(convert::money(r.upper_80, currency)),
        lower_95: Some(convert::money(r.lower_95, currency)),
        upper_95: Some(convert::money(r.upper_95, currency)),
        probability_over_budget: r.probability_over_budget.normalize().to_string(),
        model: r.model,
        generated_at: Some(timestamp(r.generated_at)),
        // A detail that no longer decodes is dropped rather than failing the status.
        detail: r.detail.and_then(|bytes| MonthEndForecast::decode(bytes.as_slice()).ok()),
    }))
}

/// Stores a forecast if it is newer than the one held: events may arrive out of order.
pub async fn apply(conn: &mut PgConnection, event: &IncomingEvent) -> Result<(), HandlerError> {
    let p: ev::PredictionCompleted = event.decode()?;
    let bad = |what: &str| HandlerError::Permanent(anyhow::anyhow!("prediction_completed: {what}"));
    let uuid =
        |field: &str, value: &str| Uuid::parse_str(value).map_err(|_| bad(&format!("{field} is not a UUID")));
    let amount = |field: &str, value: &Option<Money>| -> Result<Decimal, HandlerError> {
        let value = value.as_ref().ok_or_else(|| bad(&format!("{field} is missing")))?;
        money::from_proto(value).map(|(v, _)| v).map_err(|_| bad(&format!("{field} is malformed")))
    };
    let probability: Decimal = p
        .probability_over_budget
        .parse()
        .ok()
        .filter(|v: &Decimal| (Decimal::ZERO..=Decimal::ONE).contains(v))
        .ok_or_else(|| bad("probability_over_budget is not within 0..1"))?;
    let generated_at = p
        .generated_at
        .and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .ok_or_else(|| bad("generated_at is missing"))?;
    sqlx::query(
        "INSERT INTO budget_forecasts (budget_id, prediction_id, projected_total, lower_80, upper_80, lower_95, \
         upper_95, probability_over_budget, model, generated_at, detail) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $12 WHERE EXISTS \
         (SELECT 1 FROM budgets WHERE id = $1 AND user_id = $11) \
         ON CONFLICT (budget_id) DO UPDATE SET prediction_id = EXCLUDED.prediction_id, \
         projected_total = EXCLUDED.projected_total, lower_80 = EXCLUDED.lower_80, upper_80 = EXCLUDED.upper_80, \
         lower_95 = EXCLUDED.lower_95, upper_95 = EXCLUDED.upper_95, \
         probability_over_budget = EXCLUDED.probability_over_budget, model = EXCLUDED.model, \
         generated_at = EXCLUDED.generated_at, detail = EXCLUDED.detail WHERE budget_forecasts.generated_at < EXCLUDED.generated_at",
    )
    .bind(uuid("budget_id", &p.budget_id)?)
    .bind(uuid("prediction_id", &p.prediction_id)?)
    .bind(amount("projected_total", &p.projected_total)?)
    .bind(amount("lower_80", &p.lower_80)?)
    .bind(amount("upper_80", &p.upper_80)?)
    .bind(amount("lower_95", &p.lower_95)?)
    .bind(amount("upper_95", &p.upper_95)?)
    .bind(probability)
    .bind(&p.model)
    .bind(generated_at)
    .bind(uuid("user_id", &p.user_id)?)
    .bind(p.forecast.as_ref().map(Message::encode_to_vec))
    .execute(conn)
    .await?;
    Ok(())
}
