//! `/analytics/recurring`: detected recurring payments and subscriptions.

use std::borrow::Cow;

use axum::Json;
use axum::extract::{Path, State};
use budgetsmart_proto::analytics::v1 as pb;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::json::{self, Amount, CurrencyCode, ListPage, amount};
use crate::openapi::problems;
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

/// What a recurring payment is: `subscription` (a service one can cancel), `bill`
/// (utilities, phone, internet, insurance), `housing` (rent, mortgage), `loan`, or `income`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum RecurringKind {
    Subscription,
    Bill,
    Housing,
    Loan,
    Income,
}

/// `active` until the next charge is overdue past the cadence's grace, then `late`, and
/// `ended` once a further cadence has passed without one.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum RecurringStatus {
    Active,
    Late,
    Ended,
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
    /// True while `status` is `active`.
    active: bool,
    #[schema(value_type = RecurringStatus)]
    status: String,
    /// What the next charge should be: the price, or a varying bill's recent median.
    #[schema(value_type = Amount)]
    expected_amount: String,
    /// Whether `kind` is the caller's own correction.
    kind_corrected: bool,
    /// `debit`, or `credit` for income.
    #[schema(example = "debit")]
    direction: String,
    /// What it is and why, with its numbers and what comes next.
    #[schema(
        example = "Maple Street is your housing payment (its category, Housing): 1,450.00 USD every month, 18 charges since 1 Jun 2025. The next is expected around 1 Jan 2027."
    )]
    explanation: String,
    price_changes: Vec<PriceChangeJson>,
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
            status: r.status,
            expected_amount: amount(&r.expected_amount),
            kind_corrected: r.kind_corrected,
            direction: r.direction,
            explanation: r.explanation,
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
    responses((status = 200, description = "The caller's recurring payments", body = ListPage<RecurringJson>))
)]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<ListPage<RecurringJson>>, ApiError> {
    let listed = state.analytics.clone().list_recurring(pb::ListRecurringRequest {}).await?.into_inner();
    // One page: `next_cursor` is always null.
    Ok(Json(ListPage::new(listed.data.into_iter().map(Into::into).collect(), String::new())))
}

/// A correction: what the payment is, or that it does not recur (one of the two).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectionBody {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    not_recurring: Option<bool>,
}

impl utoipa::PartialSchema for CorrectionBody {
    fn schema() -> RefOr<Schema> {
        json::one_of(
            "The payment's right `kind`, or `not_recurring: true`",
            [
                json!({"type": "object", "title": "Its kind", "required": ["kind"],
                    "properties": {
                        "kind": {"$ref": "#/components/schemas/RecurringKind"},
                        "not_recurring": {"type": ["boolean", "null"], "enum": [false, null]}},
                    "additionalProperties": false,
                    "description": "Kept across rescans, and applied to the category's other payments the classifier has no stronger evidence about."}),
                json!({"type": "object", "title": "Not a recurring payment", "required": ["not_recurring"],
                    "properties": {"not_recurring": {"type": "boolean", "enum": [true]}},
                    "additionalProperties": false,
                    "description": "These charges are no longer listed, forecast as due, or suggested as a saving, after any rescan."}),
            ],
        )
    }
}

impl utoipa::ToSchema for CorrectionBody {
    fn name() -> Cow<'static, str> {
        "RecurringCorrection".into()
    }
}

/// Correct a recurring payment: its kind, or that it does not recur.
///
/// The correction survives every rescan. Give `kind`, or `not_recurring: true`, not both.
#[utoipa::path(
    patch,
    path = "/analytics/recurring/{id}",
    tag = "analytics",
    operation_id = "update_recurring",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The recurring payment's id")),
    request_body(content = CorrectionBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The corrected recurring payment", body = RecurringJson),
        problems::JsonBody,
        problems::NotFound,
    )
)]
pub async fn correct(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CorrectionBody>,
) -> Result<Json<RecurringJson>, ApiError> {
    let request = pb::UpdateRecurringRequest {
        id,
        kind: body.kind.unwrap_or_default(),
        not_recurring: body.not_recurring.unwrap_or(false),
    };
    let corrected = state.analytics.clone().update_recurring(request).await?.into_inner();
    Ok(Json(corrected.into()))
}
