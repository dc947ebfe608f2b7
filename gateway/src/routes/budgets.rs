//! `/budgets` and `/budgets/{id}/status`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use budgetsmart_proto::engine::v1 as pb;
use serde::{Deserialize, Serialize};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, QueryMap};
use crate::json::{FieldErrors, ListPage, amount, percent, timestamp};
use crate::state::AppState;

#[derive(Serialize, Deserialize)]
pub struct CategoryLimitJson {
    category_id: String,
    limit: String,
}

#[derive(Serialize)]
pub struct BudgetJson {
    id: String,
    month: String,
    currency: String,
    total_limit: String,
    category_limits: Vec<CategoryLimitJson>,
    alert_thresholds: Vec<u32>,
    created_at: Option<String>,
    updated_at: Option<String>,
}

impl From<pb::Budget> for BudgetJson {
    fn from(b: pb::Budget) -> Self {
        BudgetJson {
            id: b.id,
            month: b.month,
            currency: b.currency,
            total_limit: amount(&b.total_limit),
            category_limits: b
                .category_limits
                .into_iter()
                .map(|l| CategoryLimitJson { category_id: l.category_id, limit: amount(&l.limit) })
                .collect(),
            alert_thresholds: b.alert_thresholds,
            created_at: timestamp(b.created_at),
            updated_at: timestamp(b.updated_at),
        }
    }
}

#[derive(Deserialize)]
pub struct CreateBody {
    month: String,
    currency: String,
    total_limit: String,
    #[serde(default)]
    category_limits: Vec<CategoryLimitJson>,
    #[serde(default)]
    alert_thresholds: Vec<u32>,
}

#[derive(Deserialize)]
pub struct UpdateBody {
    total_limit: Option<String>,
    category_limits: Option<Vec<CategoryLimitJson>>,
    alert_thresholds: Option<Vec<u32>>,
}

fn limits(errors: &mut FieldErrors, raw: &[CategoryLimitJson], currency: &str) -> Vec<pb::CategoryLimit> {
    raw.iter()
        .enumerate()
        .map(|(i, l)| pb::CategoryLimit {
            category_id: l.category_id.clone(),
            limit: errors.money(&format!("category_limits[{i}].limit"), &l.limit, currency),
        })
        .collect()
}

/// GET /budgets, newest month first.
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    query: QueryMap,
) -> Result<Json<ListPage<BudgetJson>>, ApiError> {
    let listed = state
        .engine
        .budgets
        .clone()
        .list_budgets(pb::ListBudgetsRequest { page: Some(query.page()?) })
        .await?
        .into_inner();
    Ok(Json(ListPage::new(listed.budgets.into_iter().map(Into::into).collect(), listed.next_cursor)))
}

/// POST /budgets → 201; 409 if the month and currency already have one.
pub async fn create(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<BudgetJson>), ApiError> {
    let mut errors = FieldErrors::default();
    let total_limit = errors.money("total_limit", &body.total_limit, &body.currency);
    let category_limits = limits(&mut errors, &body.category_limits, &body.currency);
    errors.finish()?;
    let request = pb::CreateBudgetRequest {
        month: body.month,
        currency: body.currency,
        total_limit,
        category_limits,
        alert_thresholds: body.alert_thresholds,
    };
    let created = state.engine.budgets.clone().create_budget(request).await?.into_inner();
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// GET /budgets/{id}.
pub async fn get(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<BudgetJson>, ApiError> {
    Ok(Json(state.engine.budgets.clone().get_budget(pb::GetBudgetRequest { id }).await?.into_inner().into()))
}

/// PATCH /budgets/{id}: `category_limits` and `alert_thresholds`, when given, replace the old.
pub async fn update(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<BudgetJson>, ApiError> {
    let mut errors = FieldErrors::default();
    // An empty currency code tells the engine to use the budget's own.
    let total_limit = body.total_limit.as_deref().and_then(|t| errors.money("total_limit", t, ""));
    let category_limits = body.category_limits.as_deref().map(|l| limits(&mut errors, l, ""));
    errors.finish()?;
    let request = pb::UpdateBudgetRequest {
        id,
        total_limit,
        replace_category_limits: category_limits.is_some(),
        category_limits: category_limits.unwrap_or_default(),
        replace_alert_thresholds: body.alert_thresholds.is_some(),
        alert_thresholds: body.alert_thresholds.unwrap_or_default(),
    };
    Ok(Json(state.engine.budgets.clone().update_budget(request).await?.into_inner().into()))
}

/// DELETE /budgets/{id} → 204.
pub async fn delete(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.budgets.clone().delete_budget(pb::DeleteBudgetRequest { id }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GET /budgets/{id}/status.
pub async fn status(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let s =
        state.engine.budgets.clone().get_budget_status(pb::GetBudgetStatusRequest { id }).await?.into_inner();
    let categories: Vec<serde_json::Value> = s
        .categories
        .iter()
        .map(|c| {
            serde_json::json!({
                "category_id": c.category_id,
                "limit": amount(&c.limit),
                "spent": amount(&c.spent),
                "percent_used": percent(&c.percent_used),
            })
        })
        .collect();
    // Analytics sends the whole projection; older forecasts only had the totals.
    let forecast = s.forecast.map(|f| match &f.detail {
        Some(detail) => super::analytics::forecast_json(detail),
        None => serde_json::json!({
            "projected_total": amount(&f.projected_total),
            "interval_80": { "lower": amount(&f.lower_80), "upper": amount(&f.upper_80) },
            "interval_95": { "lower": amount(&f.lower_95), "upper": amount(&f.upper_95) },
            "probability_over_budget": percent(&f.probability_over_budget),
            "model": f.model,
            "generated_at": timestamp(f.generated_at),
        }),
    });
    Ok(Json(serde_json::json!({
        "budget_id": s.budget_id,
        "month": s.month,
        "currency": s.currency,
        "total_limit": amount(&s.total_limit),
        "spent": amount(&s.spent),
        "remaining": amount(&s.remaining),
        "percent_used": percent(&s.percent_used),
        "categories": categories,
        "forecast": forecast,
    })))
}
