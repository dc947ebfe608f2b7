//! `/analytics/*`: summaries, trends, forecasts, the model registry and charts, answered by
//! the analytics service. Category names come from the engine, which owns them.
//!
//! Every answer is a `Serialize` struct that also derives its OpenAPI schema, so what is sent
//! and what is documented are one definition: the forecast in `forecast` (the budget status
//! shows it too), the summary, trends and model registry in `reports`.

mod forecast;
mod reports;

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use budgetsmart_proto::analytics::v1 as pb;
use budgetsmart_proto::engine::v1 as engine;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::QueryMap;
use crate::json::{CurrencyCode, Month};
use crate::openapi::problems;
use crate::state::AppState;

pub use forecast::{BudgetForecastJson, ForecastJson};
use reports::{GroupBy, ModelsJson, SummaryJson, TrendsJson};

/// Display names of the caller's categories by id.
async fn category_names(state: &AppState) -> Result<HashMap<String, String>, ApiError> {
    let listed = state.engine.categories.clone().list_categories(engine::ListCategoriesRequest {}).await?;
    Ok(listed.into_inner().categories.into_iter().map(|c| (c.id, c.name)).collect())
}

/// Spending and income aggregates by category or by month.
#[utoipa::path(
    get,
    path = "/analytics/summary",
    tag = "analytics",
    operation_id = "get_summary",
    security(("bearer" = [])),
    params(
        (
            "from" = Option<String>,
            Query,
            format = Date,
            description = "First day; the current month's first by default"
        ),
        ("to" = Option<String>, Query, format = Date, description = "Last day, inclusive; today by default"),
        ("group_by" = inline(Option<GroupBy>), Query, description = "`category` by default"),
        (
            "currency" = Option<CurrencyCode>,
            Query,
            description = "ISO 4217 (any case is read, upper case is documented); the user's default currency by default"
        ),
    ),
    responses(
        (status = 200, description = "The summary", body = SummaryJson),
        problems::BadQuery,
        problems::Unprocessable,
    )
)]
pub async fn summary(
    State(state): State<AppState>,
    _user: AuthUser,
    query: QueryMap,
) -> Result<Json<SummaryJson>, ApiError> {
    let request = pb::SummaryRequest {
        from: query.get("from").unwrap_or_default(),
        to: query.get("to").unwrap_or_default(),
        group_by: query.get("group_by").unwrap_or_default(),
        currency: query.get("currency").unwrap_or_default(),
    };
    let s = state.analytics.clone().get_summary(request).await?.into_inner();
    let names = if s.group_by == "category" { category_names(&state).await? } else { HashMap::new() };
    Ok(Json(SummaryJson::new(s, &names)))
}

/// Month-over-month spending per category, with 3-month averages.
#[utoipa::path(
    get,
    path = "/analytics/trends",
    tag = "analytics",
    operation_id = "get_trends",
    security(("bearer" = [])),
    params(
        (
            "months" = Option<u32>,
            Query,
            minimum = 2,
            maximum = 24,
            description = "Complete months before the current one, 6 by default"
        ),
        (
            "currency" = Option<CurrencyCode>,
            Query,
            description = "ISO 4217 (any case is read, upper case is documented); the user's default currency by default"
        ),
    ),
    responses(
        (status = 200, description = "The trends", body = TrendsJson),
        problems::BadQuery,
        problems::Unprocessable,
    )
)]
pub async fn trends(
    State(state): State<AppState>,
    _user: AuthUser,
    query: QueryMap,
) -> Result<Json<TrendsJson>, ApiError> {
    // 0 is the wire's "the default" (proto3 has no absent integer), so a client's 0 must be
    // refused here, not passed on to mean 6.
    let months = match query.get("months") {
        None => 0,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|months| (2..=24).contains(months))
            .ok_or_else(|| ApiError::field("months", "must be a whole number from 2 to 24"))?,
    };
    let request = pb::TrendsRequest { months, currency: query.get("currency").unwrap_or_default() };
    let t = state.analytics.clone().get_trends(request).await?.into_inner();
    let names = category_names(&state).await?;
    Ok(Json(TrendsJson::new(t, &names)))
}

/// The month-end projection for a budget or a month.
///
/// With 80 % and 95 % intervals and the probability of exceeding the budget. Give either
/// `budget_id` or `month`; neither means the current month.
#[utoipa::path(
    get,
    path = "/analytics/forecast",
    tag = "analytics",
    operation_id = "get_forecast",
    security(("bearer" = [])),
    params(
        ("budget_id" = Option<String>, Query, format = Uuid, description = "Project this budget's month"),
        (
            "month" = Option<Month>,
            Query,
            description = "Project this month"
        ),
        (
            "currency" = Option<CurrencyCode>,
            Query,
            description = "ISO 4217 (any case is read, upper case is documented); the user's default currency by default"
        ),
    ),
    responses(
        (status = 200, description = "The projection", body = ForecastJson),
        problems::BadQuery,
        problems::NotFound,
        problems::Unprocessable,
    )
)]
pub async fn forecast(
    State(state): State<AppState>,
    _user: AuthUser,
    query: QueryMap,
) -> Result<Json<ForecastJson>, ApiError> {
    let (budget_id, month) = (query.get("budget_id"), query.get("month"));
    if budget_id.is_some() && month.is_some() {
        return Err(ApiError::field("month", "give either budget_id or month, not both"));
    }
    let request = pb::ForecastRequest {
        budget_id: budget_id.unwrap_or_default(),
        month: month.unwrap_or_default(),
        currency: query.get("currency").unwrap_or_default(),
    };
    let f = state.analytics.clone().get_forecast(request).await?.into_inner();
    Ok(Json(ForecastJson::from(&f)))
}

/// The per-series model comparison: candidates, backtest metrics, the chosen model.
#[utoipa::path(
    get,
    path = "/analytics/models",
    tag = "analytics",
    operation_id = "list_models",
    security(("bearer" = [])),
    responses((status = 200, description = "The model registry of the caller's series", body = ModelsJson))
)]
pub async fn models(State(state): State<AppState>, _user: AuthUser) -> Result<Json<ModelsJson>, ApiError> {
    let m = state.analytics.clone().list_models(pb::ListModelsRequest {}).await?.into_inner();
    Ok(Json(ModelsJson::from(m)))
}

/// A server-rendered chart.
///
/// `spending-by-category` draws the last twelve months; `forecast` draws a budget's month
/// (`budget_id`) with its projection and intervals.
#[utoipa::path(
    get,
    path = "/analytics/charts/{file}",
    tag = "analytics",
    operation_id = "get_chart",
    security(("bearer" = [])),
    params(
        (
            "file" = String,
            Path,
            pattern = r"^(spending-by-category|forecast)\.(svg|png)$",
            description = "The chart and its format, e.g. `spending-by-category.svg`"
        ),
        ("budget_id" = Option<String>, Query, format = Uuid, description = "For `forecast`: the budget"),
        (
            "currency" = Option<CurrencyCode>,
            Query,
            description = "ISO 4217 (any case is read, upper case is documented); the user's default currency by default"
        ),
        (
            "month" = Option<Month>,
            Query,
            description = "For `spending-by-category`: the last month drawn (YYYY-MM), this month by default"
        ),
    ),
    responses(
        (
            status = 200,
            description = "The chart",
            content((String = "image/svg+xml"), ("image/png")),
            headers(("Cache-Control" = String, description = "`private, max-age=60`"))
        ),
        problems::BadQuery,
        problems::NotFound,
        problems::Unprocessable,
    )
)]
pub async fn chart(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(file): Path<String>,
    query: QueryMap,
) -> Result<Response, ApiError> {
    let (name, format) =
        file.rsplit_once('.').ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such chart"))?;
    // Checked for every chart: one that does not use it must not take a malformed one either.
    if query.get("budget_id").is_some_and(|id| uuid::Uuid::parse_str(&id).is_err()) {
        return Err(ApiError::field("budget_id", "must be a UUID"));
    }
    if !matches!(format, "svg" | "png") {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "charts are .svg or .png"));
    }
    let labels = if name == "spending-by-category" { category_names(&state).await? } else { HashMap::new() };
    let request = pb::ChartRequest {
        name: name.to_owned(),
        format: format.to_owned(),
        budget_id: query.get("budget_id").unwrap_or_default(),
        currency: query.get("currency").unwrap_or_default(),
        labels,
        month: query.get("month").unwrap_or_default(),
    };
    let chart = state.analytics.clone().render_chart(request).await?.into_inner();
    let content_type = HeaderValue::from_str(&chart.content_type)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "an internal error occurred"))?;
    let mut response = (StatusCode::OK, chart.body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, content_type);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=60"));
    Ok(response)
}
