//! `POST /transactions/categorize`: a category suggestion for a transaction not yet stored.
//! The engine owns the categories, so their names come from it; analytics owns the models.

use axum::Json;
use axum::extract::State;
use budgetsmart_proto::analytics::v1 as pb;
use budgetsmart_proto::engine::v1 as engine;
use serde::{Deserialize, Serialize};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::json::FieldErrors;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct CategorizeBody {
    description: String,
    amount: String,
    currency: String,
    /// "debit" (default) or "credit".
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

#[derive(Serialize)]
pub struct Alternative {
    category_id: String,
    confidence: f64,
}

#[derive(Serialize)]
pub struct CategorizeJson {
    category_id: Option<String>,
    /// The suggested category's name, for display.
    category_name: Option<String>,
    confidence: f64,
    /// "user" or "global"; null when neither model knows the text.
    model: Option<String>,
    alternatives: Vec<Alternative>,
}

fn finite(value: f64) -> f64 {
    if value.is_finite() { value.clamp(0.0, 1.0) } else { 0.0 }
}

/// POST /transactions/categorize `{description, amount, currency, type?}`.
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
