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
    /// The amount the insight is about, as a decimal string, when it has one.
    amount: Option<String>,
    currency: Option<String>,
    data: serde_json::Value,
    generated_at: Option<String>,
    /// When analytics generated it (the contract's name; `generated_at` is kept for clients
    /// that read it).
    created_at: Option<String>,
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
        .map(|i| {
            let data: serde_json::Value =
                serde_json::from_str(&i.data_json).unwrap_or(serde_json::Value::Null);
            let text = |key: &str| data[key].as_str().map(str::to_owned);
            InsightJson {
                amount: text("amount"),
                currency: text("currency"),
                id: i.id,
                kind: i.kind,
                title: i.title,
                body: i.body,
                generated_at: timestamp(i.generated_at),
                created_at: timestamp(i.generated_at),
                data,
            }
        })
        .collect();
    Ok(Json(ListPage::new(data, listed.next_cursor)))
}
