//! `/insights`: the feed analytics fills.

use axum::Json;
use axum::extract::State;
use budgetsmart_proto::engine::v1 as pb;
use serde::Serialize;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::QueryMap;
use crate::json::{ListPage, timestamp};
use crate::state::AppState;

#[derive(Serialize)]
pub struct InsightJson {
    id: String,
    kind: String,
    title: String,
    body: String,
    data: serde_json::Value,
    generated_at: Option<String>,
}

/// GET /insights, newest first.
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    query: QueryMap,
) -> Result<Json<ListPage<InsightJson>>, ApiError> {
    let request = pb::ListInsightsRequest { page: Some(query.page()?) };
    let listed = state.engine.insights.clone().list_insights(request).await?.into_inner();
    let data = listed
        .insights
        .into_iter()
        .map(|i| InsightJson {
            id: i.id,
            kind: i.kind,
            title: i.title,
            body: i.body,
            data: serde_json::from_str(&i.data_json).unwrap_or(serde_json::Value::Null),
            generated_at: timestamp(i.generated_at),
        })
        .collect();
    Ok(Json(ListPage::new(data, listed.next_cursor)))
}
