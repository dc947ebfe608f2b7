//! The insights feed: filled by `insight_generated`, read by the Insights service, most
//! relevant first; an insight's relevance halves every 30 days, so news outranks history.

use budgetsmart_common::events::{HandlerError, IncomingEvent};
use budgetsmart_common::grpc::caller;
use budgetsmart_proto::engine::v1 as pb;
use budgetsmart_proto::events::v1 as ev;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::convert::timestamp;
use crate::error::AppError;
use crate::state::AppState;
use budgetsmart_common::pagination::{self, Page};

#[derive(sqlx::FromRow)]
struct InsightRow {
    id: Uuid,
    kind: String,
    title: String,
    body: String,
    data: serde_json::Value,
    generated_at: DateTime<Utc>,
    relevance: f64,
    rank: f64,
}

/// Days over which an insight's relevance halves.
const HALF_LIFE_DAYS: f64 = 30.0;
/// The least relevance stored, so its logarithm is finite.
const MIN_RELEVANCE: f64 = 0.001;

/// The relevance of an insight issued at `generated_at` with `relevance`, as of `now`.
fn relevance_now(relevance: f64, generated_at: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    let age_days = (now - generated_at).num_seconds().max(0) as f64 / 86_400.0;
    let value = relevance * 0.5_f64.powf(age_days / HALF_LIFE_DAYS);
    (value * 10_000.0).round() / 10_000.0
}

/// Stores an insight for its user; ignores users that no longer exist.
pub async fn apply(conn: &mut PgConnection, event: &IncomingEvent) -> Result<(), HandlerError> {
    let insight: ev::InsightGenerated = event.decode()?;
    let bad = |what: &str| HandlerError::Permanent(anyhow::anyhow!("insight_generated: {what}"));
    let id = Uuid::parse_str(&insight.insight_id).map_err(|_| bad("insight_id is not a UUID"))?;
    let user_id = Uuid::parse_str(&insight.user_id).map_err(|_| bad("user_id is not a UUID"))?;
    let data: serde_json::Value = if insight.data_json.trim().is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_str(&insight.data_json).map_err(|_| bad("data_json is not JSON"))?
    };
    let generated_at = insight
        .generated_at
        .and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .unwrap_or_else(Utc::now);
    // Older producers send no relevance: they rank as a middling insight.
    let relevance = if insight.relevance.is_finite() && insight.relevance > 0.0 {
        insight.relevance.clamp(MIN_RELEVANCE, 1.0)
    } else {
        0.3
    };
    sqlx::query(
        "INSERT INTO insights (id, user_id, kind, title, body, data, generated_at, relevance, rank) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, \
         ln($8) + ln(2) * extract(epoch FROM $7::timestamptz) / (86400 * 30) \
         WHERE EXISTS (SELECT 1 FROM users WHERE id = $2) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(user_id)
    .bind(&insight.kind)
    .bind(&insight.title)
    .bind(&insight.body)
    .bind(data)
    .bind(generated_at)
    .bind(relevance)
    .execute(conn)
    .await?;
    Ok(())
}

/// Implements `budgetsmart.engine.v1.Insights`.
pub struct InsightsService {
    state: AppState,
}

impl InsightsService {
    /// A service over `state`.
    pub fn new(state: AppState) -> Self {
        InsightsService { state }
    }
}

#[tonic::async_trait]
impl pb::insights_server::Insights for InsightsService {
    #[tracing::instrument(skip_all)]
    async fn list_insights(
        &self,
        request: Request<pb::ListInsightsRequest>,
    ) -> Result<Response<pb::ListInsightsResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let page = Page::from_request(request.get_ref().page.as_ref()).map_err(AppError::from)?;
        let (after_rank, after_id) = match page.after.as_deref() {
            Some([rank, id]) => (
                Some(
                    rank.parse::<f64>()
                        .ok()
                        .filter(|r| r.is_finite())
                        .ok_or_else(|| AppError::field("cursor", "is invalid"))?,
                ),
                Some(Uuid::parse_str(id).map_err(|_| AppError::field("cursor", "is invalid"))?),
            ),
            Some(_) => return Err(AppError::field("cursor", "is invalid").into()),
            None => (None, None),
        };
        let rows: Vec<InsightRow> = sqlx::query_as(
            "SELECT id, kind, title, body, data, generated_at, relevance, rank FROM insights WHERE user_id = $1 \
             AND ($2::float8 IS NULL OR (rank, id) < ($2, $3)) \
             ORDER BY rank DESC, id DESC LIMIT $4",
        )
        .bind(user_id)
        .bind(after_rank)
        .bind(after_id)
        .bind(page.limit + 1)
        .fetch_all(&self.state.pool)
        .await
        .map_err(AppError::from)?;
        let (rows, next_cursor) =
            pagination::finish(rows, page.limit, |r| vec![r.rank.to_string(), r.id.to_string()]);
        let now = Utc::now();
        let insights = rows
            .into_iter()
            .map(|r| pb::Insight {
                id: r.id.to_string(),
                kind: r.kind,
                title: r.title,
                body: r.body,
                data_json: r.data.to_string(),
                relevance: relevance_now(r.relevance, r.generated_at, now),
                generated_at: Some(timestamp(r.generated_at)),
            })
            .collect();
        Ok(Response::new(pb::ListInsightsResponse { insights, next_cursor }))
    }
}
