//! `/analytics/recurring`: detected recurring payments and subscriptions.

use axum::Json;
use axum::extract::State;
use budgetsmart_proto::analytics::v1 as pb;
use serde::Serialize;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::amount;
use crate::state::AppState;

#[derive(Serialize)]
pub struct PriceChangeJson {
    on: String,
    from: String,
    to: String,
}

/// The API's recurring-payment object.
#[derive(Serialize)]
pub struct RecurringJson {
    id: String,
    merchant: String,
    category_id: Option<String>,
    cadence: String,
    cadence_days: u32,
    amount: String,
    currency: String,
    kind: String,
    first_seen: String,
    last_seen: String,
    next_expected: String,
    occurrences: u32,
    active: bool,
    price_changes: Vec<PriceChangeJson>,
}

#[derive(Serialize)]
pub struct RecurringList {
    data: Vec<RecurringJson>,
    next_cursor: Option<String>,
}

impl From<pb::RecurringPayment> for RecurringJson {
    fn from(r: pb::RecurringPayment) -> Self {
        RecurringJson {
            currency: r.amount.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default(),
            amount: amount(&r.amount),
            id: r.id,
            merchant: r.merchant,
            category_id: r.category_id,
            cadence: r.cadence,
            cadence_days: r.cadence_days,
            kind: r.kind,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            next_expected: r.next_expected,
            occurrences: r.occurrences,
            active: r.active,
            price_changes: r
                .price_changes
                .into_iter()
                .map(|c| PriceChangeJson { on: c.on, from: amount(&c.from), to: amount(&c.to) })
                .collect(),
        }
    }
}

/// GET /analytics/recurring: active first. One page: a user has a bounded number of them.
pub async fn list(State(state): State<AppState>, _user: AuthUser) -> Result<Json<RecurringList>, ApiError> {
    let listed = state.analytics.clone().list_recurring(pb::ListRecurringRequest {}).await?.into_inner();
    Ok(Json(RecurringList { data: listed.data.into_iter().map(Into::into).collect(), next_cursor: None }))
}
