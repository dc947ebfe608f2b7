//! `/analytics/recurring`: detected recurring payments and subscriptions.

use axum::Json;
use axum::extract::State;
use budgetsmart_proto::analytics::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::{Amount, CurrencyCode, amount};
use crate::state::AppState;

/// How often a recurring payment comes.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Cadence {
    Weekly,
    Biweekly,
    Monthly,
    Quarterly,
    Yearly,
}

/// `subscription`: a fixed price; `bill`: an amount that varies.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum RecurringKind {
    Subscription,
    Bill,
}

/// A lasting change of a subscription's price.
#[derive(Serialize, ToSchema)]
#[schema(as = PriceChange)]
pub struct PriceChangeJson {
    /// The first charge at the new price.
    #[schema(format = Date)]
    on: String,
    #[schema(value_type = Amount)]
    from: String,
    #[schema(value_type = Amount)]
    to: String,
}

/// The API's recurring-payment object.
#[derive(Serialize, ToSchema)]
#[schema(as = RecurringPayment)]
pub struct RecurringJson {
    id: String,
    /// The normalised merchant.
    merchant: String,
    #[schema(format = Uuid, required = true)]
    category_id: Option<String>,
    #[schema(value_type = Cadence)]
    cadence: String,
    /// The typical number of days between charges.
    cadence_days: u32,
    /// The latest charge.
    #[schema(value_type = Amount)]
    amount: String,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    #[schema(value_type = RecurringKind)]
    kind: String,
    #[schema(format = Date)]
    first_seen: String,
    #[schema(format = Date)]
    last_seen: String,
    #[schema(format = Date)]
    next_expected: String,
    occurrences: u32,
    /// False once the next charge is overdue by more than the cadence allows.
    active: bool,
    price_changes: Vec<PriceChangeJson>,
}

/// Every recurring payment of the caller, in one page.
#[derive(Serialize, ToSchema)]
#[schema(as = RecurringPayments)]
pub struct RecurringList {
    data: Vec<RecurringJson>,
    /// Always `null`: there is only one page.
    #[schema(required = true)]
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

/// Detected recurring payments and subscriptions, active first.
///
/// One page: a user has a bounded number of them.
#[utoipa::path(
    get,
    path = "/analytics/recurring",
    tag = "analytics",
    operation_id = "list_recurring",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller's recurring payments", body = RecurringList))
)]
pub async fn list(State(state): State<AppState>, _user: AuthUser) -> Result<Json<RecurringList>, ApiError> {
    let listed = state.analytics.clone().list_recurring(pb::ListRecurringRequest {}).await?.into_inner();
    Ok(Json(RecurringList { data: listed.data.into_iter().map(Into::into).collect(), next_cursor: None }))
}
