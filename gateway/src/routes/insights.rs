//! `/insights`: the feed analytics fills.

use axum::Json;
use axum::extract::State;
use budgetsmart_proto::engine::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::QueryMap;
use crate::json::{ListPage, PageParams, timestamp};
use crate::openapi::problems;
use crate::state::AppState;

/// Something analytics noticed about the user's money.
#[derive(Serialize, ToSchema)]
#[schema(as = Insight)]
pub struct InsightJson {
    #[schema(format = Uuid)]
    id: String,
    /// e.g. `category_above_average`, `projected_overspend`, `subscription_detected`,
    /// `price_increase`, `savings_opportunity`; more may be added.
    #[schema(example = "category_above_average")]
    kind: String,
    title: String,
    body: String,
    /// The amount the insight is about, as a decimal string, when it has one.
    #[schema(required = true, example = "42.50")]
    amount: Option<String>,
    #[schema(required = true, example = "USD")]
    currency: Option<String>,
    /// The facts behind the insight; the keys depend on `kind`.
    #[schema(value_type = Option<Object>, required = true)]
    data: serde_json::Value,
    /// How much it matters now, in [0, 1]: its relevance when issued, halved every 30 days.
    /// The feed is sorted by it.
    #[schema(minimum = 0, maximum = 1, example = 0.42)]
    relevance: f64,
    /// What it compared: `{months: ["YYYY-MM", ...], figures: {...}}`; null for insights
    /// issued before evidence was kept.
    #[schema(value_type = Option<Object>, required = true)]
    evidence: serde_json::Value,
    #[schema(format = DateTime, required = true)]
    generated_at: Option<String>,
    /// When analytics generated it (the contract's name; `generated_at` is kept for clients
    /// that read it).
    #[schema(format = DateTime, required = true)]
    created_at: Option<String>,
}

impl From<pb::Insight> for InsightJson {
    fn from(i: pb::Insight) -> Self {
        let data: serde_json::Value = serde_json::from_str(&i.data_json).unwrap_or(serde_json::Value::Null);
        let text = |key: &str| data[key].as_str().map(str::to_owned);
        InsightJson {
            amount: text("amount"),
            currency: text("currency"),
            relevance: if i.relevance.is_finite() { i.relevance.clamp(0.0, 1.0) } else { 0.0 },
            evidence: data.get("evidence").cloned().unwrap_or(serde_json::Value::Null),
            id: i.id,
            kind: i.kind,
            title: i.title,
            body: i.body,
            generated_at: timestamp(i.generated_at),
            created_at: timestamp(i.generated_at),
            data,
        }
    }
}

/// The caller's insights feed, most relevant first.
///
/// An insight's relevance halves every 30 days, so recent news outranks old history.
#[utoipa::path(
    get,
    path = "/insights",
    tag = "insights",
    operation_id = "list_insights",
    security(("bearer" = [])),
    params(
        PageParams,
    ),
    responses(
        (status = 200, description = "A page of insights", body = ListPage<InsightJson>),
        problems::BadQuery,
        problems::Unprocessable,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    query: QueryMap,
) -> Result<Json<ListPage<InsightJson>>, ApiError> {
    let request = pb::ListInsightsRequest { page: Some(query.page()?) };
    let listed = state.engine.insights.clone().list_insights(request).await?.into_inner();
    let data = listed.insights.into_iter().map(InsightJson::from).collect();
    Ok(Json(ListPage::new(data, listed.next_cursor)))
}
