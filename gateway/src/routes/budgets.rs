//! `/budgets` and `/budgets/{id}/status`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use budgetsmart_proto::engine::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::analytics::BudgetForecastJson;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, QueryMap};
use crate::json::{
    Amount, CurrencyCode, FieldErrors, ListPage, Month, PageParams, PositiveAmount, amount, percent,
    timestamp,
};
use crate::openapi::problems;
use crate::state::AppState;

/// A limit for one category within a budget, in the budget's currency.
#[derive(Serialize, Deserialize, ToSchema)]
#[schema(as = CategoryLimit)]
pub struct CategoryLimitJson {
    #[schema(format = Uuid)]
    category_id: String,
    #[schema(value_type = PositiveAmount)]
    limit: String,
}

/// A monthly budget: one per user, month and currency.
#[derive(Serialize, ToSchema)]
#[schema(as = Budget)]
pub struct BudgetJson {
    #[schema(format = Uuid)]
    id: String,
    #[schema(value_type = Month)]
    month: String,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    #[schema(value_type = Amount)]
    total_limit: String,
    category_limits: Vec<CategoryLimitJson>,
    /// Percentages of the limit that send an alert when spending reaches them, ascending.
    #[schema(example = json!([50, 80, 100]))]
    alert_thresholds: Vec<u32>,
    #[schema(format = DateTime, required = true)]
    created_at: Option<String>,
    #[schema(format = DateTime, required = true)]
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

#[derive(Deserialize, ToSchema)]
#[schema(as = NewBudget)]
pub struct CreateBody {
    #[schema(value_type = Month)]
    month: String,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    #[schema(value_type = PositiveAmount)]
    total_limit: String,
    /// Per-category limits in the budget's currency; each category at most once.
    #[serde(default)]
    #[schema(max_items = 100)]
    category_limits: Vec<CategoryLimitJson>,
    /// Percentages of the limit (1 to 1000) that send an alert; empty or absent means 50, 80, 100.
    #[serde(default)]
    #[schema(max_items = 10, minimum = 1, maximum = 1000, example = json!([50, 80, 100]))]
    alert_thresholds: Vec<u32>,
}

/// The fields to change; an absent (or `null`) field keeps its value. The lists, when
/// given, replace the old ones whole.
#[derive(Deserialize, ToSchema)]
#[schema(as = BudgetPatch)]
pub struct UpdateBody {
    /// In the budget's currency.
    #[schema(value_type = Option<PositiveAmount>)]
    total_limit: Option<String>,
    #[schema(max_items = 100)]
    category_limits: Option<Vec<CategoryLimitJson>>,
    #[schema(max_items = 10, minimum = 1, maximum = 1000)]
    alert_thresholds: Option<Vec<u32>>,
}

/// One category's spending against its limit.
#[derive(Serialize, ToSchema)]
#[schema(as = BudgetCategoryStatus)]
pub struct CategoryStatusJson {
    #[schema(format = Uuid)]
    category_id: String,
    #[schema(value_type = Amount)]
    limit: String,
    #[schema(value_type = Amount)]
    spent: String,
    /// Percent of the limit spent, e.g. `82.5`.
    #[schema(required = true)]
    percent_used: Option<f64>,
}

/// A budget's month so far: spent against the limits, and the latest projection.
#[derive(Serialize, ToSchema)]
#[schema(as = BudgetStatus)]
pub struct BudgetStatusJson {
    #[schema(format = Uuid)]
    budget_id: String,
    #[schema(value_type = Month)]
    month: String,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    #[schema(value_type = Amount)]
    total_limit: String,
    /// Debits booked in the month and currency.
    #[schema(value_type = Amount)]
    spent: String,
    /// `total_limit - spent`; negative once overspent.
    #[schema(value_type = Amount)]
    remaining: String,
    /// Percent of the limit spent, e.g. `82.0`.
    #[schema(required = true)]
    percent_used: Option<f64>,
    categories: Vec<CategoryStatusJson>,
    /// The latest month-end projection, `null` until analytics has made one.
    #[schema(required = true)]
    forecast: Option<BudgetForecastJson>,
}

impl From<pb::BudgetStatus> for BudgetStatusJson {
    fn from(s: pb::BudgetStatus) -> Self {
        BudgetStatusJson {
            total_limit: amount(&s.total_limit),
            spent: amount(&s.spent),
            remaining: amount(&s.remaining),
            percent_used: percent(&s.percent_used),
            categories: s
                .categories
                .iter()
                .map(|c| CategoryStatusJson {
                    category_id: c.category_id.clone(),
                    limit: amount(&c.limit),
                    spent: amount(&c.spent),
                    percent_used: percent(&c.percent_used),
                })
                .collect(),
            // Analytics sends the whole projection; older forecasts only had the totals.
            forecast: s.forecast.as_ref().map(BudgetForecastJson::from),
            budget_id: s.budget_id,
            month: s.month,
            currency: s.currency,
        }
    }
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

/// The caller's budgets, newest month first.
#[utoipa::path(
    get,
    path = "/budgets",
    tag = "budgets",
    operation_id = "list_budgets",
    security(("bearer" = [])),
    params(
        PageParams,
    ),
    responses(
        (status = 200, description = "A page of budgets", body = ListPage<BudgetJson>),
        problems::BadQuery,
        problems::Unprocessable,
    )
)]
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

/// Create a budget.
///
/// One budget per user, month and currency: another is refused with 409.
#[utoipa::path(
    post,
    path = "/budgets",
    tag = "budgets",
    operation_id = "create_budget",
    security(("bearer" = [])),
    request_body(content = CreateBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The budget was created", body = BudgetJson),
        problems::JsonBody,
        problems::Conflict,
    )
)]
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

/// One budget.
#[utoipa::path(
    get,
    path = "/budgets/{id}",
    tag = "budgets",
    operation_id = "get_budget",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The budget's id")),
    responses(
        (status = 200, description = "The budget", body = BudgetJson),
        problems::NotFound,
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<BudgetJson>, ApiError> {
    Ok(Json(state.engine.budgets.clone().get_budget(pb::GetBudgetRequest { id }).await?.into_inner().into()))
}

/// Change a budget's limits or thresholds.
///
/// `category_limits` and `alert_thresholds`, when given, replace the old ones.
#[utoipa::path(
    patch,
    path = "/budgets/{id}",
    tag = "budgets",
    operation_id = "update_budget",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The budget's id")),
    request_body(content = UpdateBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated budget", body = BudgetJson),
        problems::JsonBody,
        problems::NotFound,
    )
)]
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

/// Delete a budget.
#[utoipa::path(
    delete,
    path = "/budgets/{id}",
    tag = "budgets",
    operation_id = "delete_budget",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The budget's id")),
    responses(
        (status = 204, description = "The budget is gone"),
        problems::NotFound,
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.budgets.clone().delete_budget(pb::DeleteBudgetRequest { id }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Spending against a budget, overall and per category, with its latest forecast.
#[utoipa::path(
    get,
    path = "/budgets/{id}/status",
    tag = "budgets",
    operation_id = "get_budget_status",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The budget's id")),
    responses(
        (status = 200, description = "The budget's status", body = BudgetStatusJson),
        problems::NotFound,
    )
)]
pub async fn status(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<BudgetStatusJson>, ApiError> {
    let s =
        state.engine.budgets.clone().get_budget_status(pb::GetBudgetStatusRequest { id }).await?.into_inner();
    Ok(Json(BudgetStatusJson::from(s)))
}
