//! `/analytics/anomalies`: flagged transactions and the caller's feedback on them.

use axum::Json;
use axum::extract::{Path, State};
use budgetsmart_proto::analytics::v1 as pb;
use serde::{Deserialize, Serialize};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, QueryMap};
use crate::json::{ListPage, amount, timestamp};
use crate::state::AppState;

/// The API's anomaly object.
#[derive(Serialize)]
pub struct AnomalyJson {
    id: String,
    transaction_id: String,
    kind: String,
    score: f64,
    explanation: String,
    status: String,
    occurred_on: String,
    description: String,
    merchant: String,
    amount: String,
    currency: String,
    category_id: Option<String>,
    detected_at: Option<String>,
}

impl From<pb::Anomaly> for AnomalyJson {
    fn from(a: pb::Anomaly) -> Self {
        AnomalyJson {
            currency: a.amount.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default(),
            amount: amount(&a.amount),
            id: a.id,
            transaction_id: a.transaction_id,
            kind: a.kind,
            // Finite by construction in analytics; clamped again so JSON never sees NaN.
            score: if a.score.is_finite() { a.score.clamp(0.0, 1.0) } else { 0.0 },
            explanation: a.explanation,
            status: a.status,
            occurred_on: a.occurred_on,
            description: a.description,
            merchant: a.merchant,
            category_id: a.category_id,
            detected_at: timestamp(a.detected_at),
        }
    }
}

/// GET /analytics/anomalies?status=&limit=&cursor=, newest first.
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    query: QueryMap,
) -> Result<Json<ListPage<AnomalyJson>>, ApiError> {
    let request = pb::ListAnomaliesRequest {
        status: query.get("status").unwrap_or_default(),
        page: Some(query.page()?),
    };
    let listed = state.analytics.clone().list_anomalies(request).await?.into_inner();
    Ok(Json(ListPage::new(listed.data.into_iter().map(Into::into).collect(), listed.next_cursor)))
}

#[derive(Deserialize)]
pub struct FeedbackBody {
    feedback: String,
}

/// PATCH /analytics/anomalies/{id} `{feedback: "not_anomaly"|"confirmed"}`.
pub async fn feedback(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<FeedbackBody>,
) -> Result<Json<AnomalyJson>, ApiError> {
    let request = pb::UpdateAnomalyRequest { id, feedback: body.feedback };
    let updated = state.analytics.clone().update_anomaly(request).await?.into_inner();
    Ok(Json(updated.into()))
}
