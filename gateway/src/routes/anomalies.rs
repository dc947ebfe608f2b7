//! `/analytics/anomalies`: flagged transactions and the caller's feedback on them.

use axum::Json;
use axum::extract::{Path, State};
use budgetsmart_proto::analytics::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, QueryMap};
use crate::json::{Amount, CurrencyCode, ListPage, PageParams, amount, timestamp};
use crate::openapi::problems;
use crate::state::AppState;

/// Where an anomaly stands: `open` until the user says `confirmed` or `not_anomaly`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum AnomalyStatus {
    Open,
    Confirmed,
    NotAnomaly,
}

/// The user's verdict on an anomaly.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum AnomalyFeedback {
    NotAnomaly,
    Confirmed,
}

/// The API's anomaly object: a flagged transaction.
#[derive(Serialize, ToSchema)]
#[schema(as = Anomaly)]
pub struct AnomalyJson {
    #[schema(format = Uuid)]
    id: String,
    #[schema(format = Uuid)]
    transaction_id: String,
    /// `amount_spike`, `new_merchant` or `duplicate`; more may be added.
    #[schema(example = "amount_spike")]
    kind: String,
    /// How unusual, in [0, 1]; 0.5 is the detection threshold.
    #[schema(minimum = 0, maximum = 1)]
    score: f64,
    #[schema(example = "7.5× your usual spend at Whole Foods of 85.44 USD.")]
    explanation: String,
    #[schema(value_type = AnomalyStatus)]
    status: String,
    #[schema(format = Date)]
    occurred_on: String,
    description: String,
    /// The normalised merchant.
    merchant: String,
    #[schema(value_type = Amount)]
    amount: String,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    #[schema(format = Uuid, required = true)]
    category_id: Option<String>,
    #[schema(format = DateTime, required = true)]
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

/// Flagged transactions, newest first.
///
/// Open and confirmed ones unless `status` picks one.
#[utoipa::path(
    get,
    path = "/analytics/anomalies",
    tag = "analytics",
    operation_id = "list_anomalies",
    security(("bearer" = [])),
    params(
        ("status" = inline(Option<AnomalyStatus>), Query, description = "Only anomalies in this state"),
        PageParams,
    ),
    responses(
        (status = 200, description = "A page of anomalies", body = ListPage<AnomalyJson>),
        problems::BadQuery,
        problems::Unprocessable,
    )
)]
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

#[derive(Deserialize, ToSchema)]
#[schema(as = AnomalyFeedbackRequest)]
pub struct FeedbackBody {
    /// `not_anomaly` makes that kind of finding at that merchant normal from now on;
    /// `confirmed` keeps the anomaly for good.
    #[schema(value_type = AnomalyFeedback)]
    feedback: String,
}

/// Tell whether a flagged transaction really is an anomaly.
#[utoipa::path(
    patch,
    path = "/analytics/anomalies/{id}",
    tag = "analytics",
    operation_id = "update_anomaly",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The anomaly's id")),
    request_body(content = FeedbackBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The anomaly with its new status", body = AnomalyJson),
        problems::JsonBody,
        problems::NotFound,
    )
)]
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
