//! `POST /transactions/categorize`: a category suggestion for a transaction not yet stored.
//! The engine owns the categories, so their names come from it; analytics owns the models.

use axum::Json;
use axum::extract::State;
use budgetsmart_proto::analytics::v1 as pb;
use budgetsmart_proto::engine::v1 as engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::json::{CurrencyCode, FieldErrors, PositiveAmount, TransactionType};
use crate::openapi::problems;
use crate::state::AppState;

/// A transaction not yet stored, to suggest a category for.
#[derive(Deserialize, ToSchema)]
#[schema(as = CategorizeRequest)]
pub struct CategorizeBody {
    #[schema(min_length = 1, max_length = 500, example = "WHOLEFDS MKT #123")]
    description: String,
    #[schema(value_type = PositiveAmount)]
    amount: String,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    /// "debit" (default) or "credit".
    #[serde(rename = "type", default)]
    #[schema(value_type = Option<TransactionType>)]
    kind: Option<String>,
}

/// Which model made a suggestion: the user's own, or the one trained on everyone's.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum CategorizeModel {
    User,
    Global,
}

#[derive(Serialize, ToSchema)]
#[schema(as = CategoryScore)]
pub struct Alternative {
    #[schema(format = Uuid)]
    category_id: String,
    #[schema(minimum = 0, maximum = 1)]
    confidence: f64,
}

/// A category suggestion.
#[derive(Serialize, ToSchema)]
#[schema(as = Categorization)]
pub struct CategorizeJson {
    /// `null` when no model knows anything about the text.
    #[schema(format = Uuid, required = true)]
    category_id: Option<String>,
    /// The suggested category's name, for display.
    #[schema(required = true)]
    category_name: Option<String>,
    #[schema(minimum = 0, maximum = 1)]
    confidence: f64,
    /// "user" or "global"; null when neither model knows the text.
    #[schema(value_type = Option<CategorizeModel>, required = true)]
    model: Option<String>,
    /// The next most likely categories, most likely first.
    alternatives: Vec<Alternative>,
}

fn finite(value: f64) -> f64 {
    if value.is_finite() { value.clamp(0.0, 1.0) } else { 0.0 }
}

/// Suggest a category for a transaction before booking it.
#[utoipa::path(
    post,
    path = "/transactions/categorize",
    tag = "transactions",
    operation_id = "categorize_transaction",
    security(("bearer" = [])),
    request_body(content = CategorizeBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The suggestion and its alternatives", body = CategorizeJson),
        problems::JsonBody,
    )
)]
pub async fn categorize(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(body): ApiJson<CategorizeBody>,
) -> Result<Json<CategorizeJson>, ApiError> {
    let mut errors = FieldErrors::default();
    let amount = errors.money("amount", &body.amount, &body.currency);
    errors.finish()?;
    let categories = state
        .engine
        .categories
        .clone()
        .list_categories(engine::ListCategoriesRequest {})
        .await?
        .into_inner()
        .categories;
    let request = pb::CategorizeRequest {
        items: vec![pb::CategorizeItem {
            description: body.description,
            amount,
            r#type: body.kind.unwrap_or_default(),
        }],
        categories: categories
            .iter()
            .map(|c| pb::CategoryOption { id: c.id.clone(), name: c.name.clone(), kind: c.kind.clone() })
            .collect(),
    };
    let answer = state.analytics.clone().categorize(request).await?.into_inner();
    let suggestion = answer.results.into_iter().next().unwrap_or_default();
    let name = suggestion
        .category_id
        .as_ref()
        .and_then(|id| categories.iter().find(|c| &c.id == id))
        .map(|c| c.name.clone());
    Ok(Json(CategorizeJson {
        category_id: suggestion.category_id,
        category_name: name,
        confidence: finite(suggestion.confidence),
        model: Some(suggestion.model).filter(|m| !m.is_empty()),
        alternatives: suggestion
            .alternatives
            .into_iter()
            .map(|a| Alternative { category_id: a.category_id, confidence: finite(a.confidence) })
            .collect(),
    }))
}
