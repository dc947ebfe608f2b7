//! `/analytics/*`: summaries, trends, forecasts, the model registry and charts, answered by
//! the analytics service. Category names come from the engine, which owns them.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use budgetsmart_proto::analytics::v1 as pb;
use budgetsmart_proto::common::v1::{MoneyInterval, MonthEndForecast};
use budgetsmart_proto::engine::v1 as engine;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::QueryMap;
use crate::json::{Amount, CurrencyCode, Month, amount, timestamp};
use crate::openapi::problems;
use crate::state::AppState;

// Doc-only schemas: the handlers here build their answers with `json!`, so these structs
// describe those shapes for the OpenAPI document. The e2e test `openapi` checks real answers
// against them, so a field added to a `json!` without its twin here fails it.

/// A range of money: a prediction interval.
#[derive(ToSchema)]
#[schema(as = MoneyInterval)]
pub struct MoneyIntervalDoc {
    pub lower: Amount,
    pub upper: Amount,
}

/// `ok`, or `insufficient_data` when there is too little history (the projections are then
/// `null`).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ForecastStatus {
    Ok,
    InsufficientData,
}

/// One category's month-end projection.
#[derive(ToSchema)]
#[schema(as = CategoryForecast)]
pub struct CategoryForecastDoc {
    pub category_id: String,
    pub projected: Amount,
    #[schema(required = true)]
    pub interval_80: Option<MoneyIntervalDoc>,
    #[schema(required = true)]
    pub interval_95: Option<MoneyIntervalDoc>,
    /// The budget's limit for this category, if it has one.
    #[schema(required = true)]
    pub limit: Option<Amount>,
    /// In [0, 1]; set when the category has a limit.
    #[schema(required = true, minimum = 0, maximum = 1)]
    pub probability_over_limit: Option<f64>,
    /// The model that produced it.
    pub model: String,
    /// What is still to come of this category, by part.
    #[schema(required = true)]
    pub components: Option<ForecastComponentsDoc>,
}

/// What is still to come of the month after `spent_to_date`, by part; with it they make the
/// projection.
#[derive(ToSchema)]
#[schema(as = ForecastComponents)]
pub struct ForecastComponentsDoc {
    /// Recurring payments still due this month, at their expected amounts.
    pub recurring_due: Amount,
    /// Everyday spending still to come, from the model chosen for the regular series.
    pub regular: Amount,
    /// One-off purchases at their rate over the last twelve months, for the rest of the month.
    pub one_off_allowance: Amount,
}

/// A one-off purchase the models did not learn from, so it is not repeated.
#[derive(ToSchema)]
#[schema(as = ExcludedOneOff)]
pub struct ExcludedOneOffDoc {
    #[schema(format = Uuid)]
    pub transaction_id: String,
    #[schema(format = Date)]
    pub occurred_on: String,
    pub description: String,
    pub amount: Amount,
    /// `anomaly` (flagged) or `large_infrequent`.
    pub reason: String,
}

/// A month-end spending projection: booked spending is known, only the rest of the month is
/// forecast.
#[derive(ToSchema)]
#[schema(as = Forecast)]
pub struct ForecastDoc {
    pub status: ForecastStatus,
    pub month: Month,
    pub currency: CurrencyCode,
    #[schema(format = Uuid, required = true)]
    pub budget_id: Option<String>,
    #[schema(required = true)]
    pub total_limit: Option<Amount>,
    pub spent_to_date: Amount,
    #[schema(required = true)]
    pub projected_total: Option<Amount>,
    #[schema(required = true)]
    pub interval_80: Option<MoneyIntervalDoc>,
    #[schema(required = true)]
    pub interval_95: Option<MoneyIntervalDoc>,
    /// In [0, 1]; set when there is a limit and a projection.
    #[schema(required = true, minimum = 0, maximum = 1)]
    pub probability_over_budget: Option<f64>,
    /// When spending crossed, or is projected to cross, the limit.
    #[schema(format = Date, required = true)]
    pub projected_breach_date: Option<String>,
    #[schema(required = true)]
    pub model: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub generated_at: Option<String>,
    /// The day (in the user's time zone) the projection was made for.
    #[schema(format = Date)]
    pub as_of: String,
    pub categories: Vec<CategoryForecastDoc>,
    /// What is still to come, by part; null without a projection.
    #[schema(required = true)]
    pub components: Option<ForecastComponentsDoc>,
    /// One-offs of the last twelve months left out of the regular series, newest first.
    pub excluded_one_offs: Vec<ExcludedOneOffDoc>,
    /// How the projection was made, with its numbers.
    pub explanation: String,
}

/// The totals of a forecast made before analytics sent whole projections.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ForecastTotals)]
pub struct ForecastTotalsDoc {
    pub projected_total: Amount,
    pub interval_80: MoneyIntervalDoc,
    pub interval_95: MoneyIntervalDoc,
    #[schema(required = true, minimum = 0, maximum = 1)]
    pub probability_over_budget: Option<f64>,
    pub model: String,
    #[schema(format = DateTime, required = true)]
    pub generated_at: Option<String>,
}

/// A budget's latest forecast: the whole projection, or only its totals when it was made
/// before analytics sent whole projections.
#[derive(ToSchema)]
#[serde(untagged)]
#[schema(as = BudgetForecast)]
pub enum BudgetForecastDoc {
    Projection(Box<ForecastDoc>),
    Totals(ForecastTotalsDoc),
}

/// `category` (the default) or `month`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum GroupBy {
    Category,
    Month,
}

#[derive(ToSchema)]
#[schema(as = SummaryGroup)]
pub struct SummaryGroupDoc {
    /// A category id (`uncategorized` when none) or a month `YYYY-MM`.
    pub key: String,
    /// The category's name, or the month.
    pub label: String,
    pub spent: Amount,
    pub income: Amount,
    /// Transactions counted.
    pub count: u64,
}

#[derive(ToSchema)]
#[schema(as = MerchantTotal)]
pub struct MerchantDoc {
    /// The normalised merchant name.
    pub merchant: String,
    pub spent: Amount,
    pub count: u64,
}

/// Spending and income over a date range.
#[derive(ToSchema)]
#[schema(as = Summary)]
pub struct SummaryDoc {
    #[schema(format = Date)]
    pub from: String,
    #[schema(format = Date)]
    pub to: String,
    pub currency: CurrencyCode,
    pub group_by: GroupBy,
    pub groups: Vec<SummaryGroupDoc>,
    pub total_spent: Amount,
    pub total_income: Amount,
    /// Where the money went, largest first.
    pub top_merchants: Vec<MerchantDoc>,
}

#[derive(ToSchema)]
#[schema(as = MonthSpent)]
pub struct MonthSpentDoc {
    pub month: Month,
    pub spent: Amount,
}

#[derive(ToSchema)]
#[schema(as = CategoryTrend)]
pub struct CategoryTrendDoc {
    /// `null` for uncategorised spending.
    #[schema(format = Uuid, required = true)]
    pub category_id: Option<String>,
    pub name: String,
    pub monthly: Vec<MonthSpentDoc>,
    /// The mean of the last three months.
    pub average_3m: Amount,
    /// Percent change of the last month against the one before; `null` after a zero month.
    #[schema(required = true)]
    pub change_pct: Option<f64>,
}

/// Monthly spending per category over the complete months before the current one.
#[derive(ToSchema)]
#[schema(as = Trends)]
pub struct TrendsDoc {
    pub currency: CurrencyCode,
    /// How many months are shown.
    pub months: u32,
    pub categories: Vec<CategoryTrendDoc>,
}

/// One candidate model's backtest.
#[derive(ToSchema)]
#[schema(as = ModelCandidate)]
pub struct CandidateDoc {
    pub model: String,
    #[schema(required = true)]
    pub smape: Option<f64>,
    #[schema(required = true)]
    pub mase: Option<f64>,
    /// Out-of-sample coverage of the 80 % interval.
    #[schema(required = true)]
    pub coverage_80: Option<f64>,
    /// The fitted parameters.
    #[schema(value_type = Option<Object>, required = true)]
    pub params: Value,
}

#[derive(ToSchema)]
#[schema(as = SeriesModel)]
pub struct SeriesModelDoc {
    /// The series, e.g. `total:USD` or `category:<id>:USD`.
    pub series: String,
    pub n_points: u32,
    /// `monthly` or `daily`.
    pub granularity: String,
    /// The chosen candidate's `model`.
    pub chosen: String,
    /// RFC 3339.
    pub trained_at: String,
    pub candidates: Vec<CandidateDoc>,
}

/// The per-series model comparison.
#[derive(ToSchema)]
#[schema(as = Models)]
pub struct ModelsDoc {
    pub data: Vec<SeriesModelDoc>,
}

/// Display names of the caller's categories by id.
async fn category_names(state: &AppState) -> Result<HashMap<String, String>, ApiError> {
    let listed = state.engine.categories.clone().list_categories(engine::ListCategoriesRequest {}).await?;
    Ok(listed.into_inner().categories.into_iter().map(|c| (c.id, c.name)).collect())
}

/// A finite number, or null (NaN and infinity never leave the gateway).
fn number(value: Option<f64>) -> Value {
    value.and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
}

fn interval(i: &Option<MoneyInterval>) -> Value {
    match i {
        Some(i) => json!({ "lower": amount(&i.lower), "upper": amount(&i.upper) }),
        None => Value::Null,
    }
}

fn optional_amount(m: &Option<budgetsmart_proto::common::v1::Money>) -> Value {
    m.as_ref().map_or(Value::Null, |_| Value::String(amount(m)))
}

/// The API's forecast object; the budget status shows the same one.
pub fn forecast_json(f: &MonthEndForecast) -> Value {
    let categories: Vec<Value> = f
        .categories
        .iter()
        .map(|c| {
            json!({
                "category_id": c.category_id,
                "projected": amount(&c.projected),
                "interval_80": interval(&c.interval_80),
                "interval_95": interval(&c.interval_95),
                "limit": optional_amount(&c.limit),
                "probability_over_limit": number(c.probability_over_limit),
                "model": c.model,
                "components": components(&c.components),
            })
        })
        .collect();
    json!({
        "status": f.status,
        "month": f.month,
        "currency": f.currency,
        "budget_id": f.budget_id,
        "total_limit": optional_amount(&f.total_limit),
        "spent_to_date": amount(&f.spent_to_date),
        "projected_total": optional_amount(&f.projected_total),
        "interval_80": interval(&f.interval_80),
        "interval_95": interval(&f.interval_95),
        "probability_over_budget": number(f.probability_over_budget),
        "projected_breach_date": f.projected_breach_date,
        "model": Some(&f.model).filter(|m| !m.is_empty()),
        "generated_at": timestamp(f.generated_at),
        "as_of": f.as_of,
        "categories": categories,
        "components": components(&f.components),
        "excluded_one_offs": f.excluded_one_offs.iter().map(|o| json!({
            "transaction_id": o.transaction_id,
            "occurred_on": o.occurred_on,
            "description": o.description,
            "amount": amount(&o.amount),
            "reason": o.reason,
        })).collect::<Vec<_>>(),
        "explanation": f.explanation,
    })
}

fn components(c: &Option<budgetsmart_proto::common::v1::ForecastComponents>) -> serde_json::Value {
    match c {
        Some(c) => json!({
            "recurring_due": amount(&c.recurring_due),
            "regular": amount(&c.regular),
            "one_off_allowance": amount(&c.one_off_allowance),
        }),
        None => serde_json::Value::Null,
    }
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
            "currency" = Option<String>,
            Query,
            pattern = "^[A-Z]{3}$",
            description = "ISO 4217; the user's default currency by default"
        ),
    ),
    responses(
        (status = 200, description = "The summary", body = SummaryDoc),
        problems::BadQuery,
        problems::Unprocessable,
    )
)]
pub async fn summary(
    State(state): State<AppState>,
    _user: AuthUser,
    query: QueryMap,
) -> Result<Json<Value>, ApiError> {
    let request = pb::SummaryRequest {
        from: query.get("from").unwrap_or_default(),
        to: query.get("to").unwrap_or_default(),
        group_by: query.get("group_by").unwrap_or_default(),
        currency: query.get("currency").unwrap_or_default(),
    };
    let s = state.analytics.clone().get_summary(request).await?.into_inner();
    let names = if s.group_by == "category" { category_names(&state).await? } else { HashMap::new() };
    let groups: Vec<Value> = s
        .groups
        .iter()
        .map(|g| {
            let label = match s.group_by.as_str() {
                "category" if g.key == "uncategorized" => "Uncategorized".to_owned(),
                "category" => names.get(&g.key).cloned().unwrap_or_else(|| "Deleted category".to_owned()),
                _ => g.key.clone(),
            };
            json!({ "key": g.key, "label": label, "spent": amount(&g.spent), "income": amount(&g.income), "count": g.count })
        })
        .collect();
    let merchants: Vec<Value> = s
        .top_merchants
        .iter()
        .map(|m| json!({ "merchant": m.name, "spent": amount(&m.spent), "count": m.count }))
        .collect();
    Ok(Json(json!({
        "from": s.from,
        "to": s.to,
        "currency": s.currency,
        "group_by": s.group_by,
        "groups": groups,
        "total_spent": amount(&s.total_spent),
        "total_income": amount(&s.total_income),
        "top_merchants": merchants,
    })))
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
            "currency" = Option<String>,
            Query,
            pattern = "^[A-Z]{3}$",
            description = "ISO 4217; the user's default currency by default"
        ),
    ),
    responses(
        (status = 200, description = "The trends", body = TrendsDoc),
        problems::BadQuery,
        problems::Unprocessable,
    )
)]
pub async fn trends(
    State(state): State<AppState>,
    _user: AuthUser,
    query: QueryMap,
) -> Result<Json<Value>, ApiError> {
    let months = match query.get("months") {
        None => 0,
        Some(raw) => raw
            .parse::<u32>()
            .map_err(|_| ApiError::field("months", "must be a whole number from 2 to 24"))?,
    };
    let request = pb::TrendsRequest { months, currency: query.get("currency").unwrap_or_default() };
    let t = state.analytics.clone().get_trends(request).await?.into_inner();
    let names = category_names(&state).await?;
    let categories: Vec<Value> = t
        .categories
        .iter()
        .map(|c| {
            let id = Some(c.category_id.clone()).filter(|id| !id.is_empty());
            let name = match &id {
                None => "Uncategorized".to_owned(),
                Some(id) => names.get(id).cloned().unwrap_or_else(|| "Deleted category".to_owned()),
            };
            let monthly: Vec<Value> =
                c.monthly.iter().map(|m| json!({ "month": m.month, "spent": amount(&m.spent) })).collect();
            json!({
                "category_id": id,
                "name": name,
                "monthly": monthly,
                "average_3m": amount(&c.average_3m),
                "change_pct": number(c.change_pct),
            })
        })
        .collect();
    Ok(Json(json!({ "currency": t.currency, "months": t.months, "categories": categories })))
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
            "month" = Option<String>,
            Query,
            pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$",
            description = "Project this month"
        ),
        (
            "currency" = Option<String>,
            Query,
            pattern = "^[A-Z]{3}$",
            description = "ISO 4217; the user's default currency by default"
        ),
    ),
    responses(
        (status = 200, description = "The projection", body = ForecastDoc),
        problems::BadQuery,
        problems::NotFound,
        problems::Unprocessable,
    )
)]
pub async fn forecast(
    State(state): State<AppState>,
    _user: AuthUser,
    query: QueryMap,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(forecast_json(&f)))
}

/// The per-series model comparison: candidates, backtest metrics, the chosen model.
#[utoipa::path(
    get,
    path = "/analytics/models",
    tag = "analytics",
    operation_id = "list_models",
    security(("bearer" = [])),
    responses((status = 200, description = "The model registry of the caller's series", body = ModelsDoc))
)]
pub async fn models(State(state): State<AppState>, _user: AuthUser) -> Result<Json<Value>, ApiError> {
    let m = state.analytics.clone().list_models(pb::ListModelsRequest {}).await?.into_inner();
    let data: Vec<Value> = m
        .data
        .iter()
        .map(|s| {
            let candidates: Vec<Value> = s
                .candidates
                .iter()
                .map(|c| {
                    json!({
                        "model": c.model,
                        "smape": number(c.smape),
                        "mase": number(c.mase),
                        "coverage_80": number(c.coverage_80),
                        "params": serde_json::from_str::<Value>(&c.params_json).unwrap_or(Value::Null),
                    })
                })
                .collect();
            json!({
                "series": s.series,
                "n_points": s.n_points,
                "granularity": s.granularity,
                "chosen": s.chosen,
                "trained_at": s.trained_at,
                "candidates": candidates,
            })
        })
        .collect();
    Ok(Json(json!({ "data": data })))
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
            "currency" = Option<String>,
            Query,
            pattern = "^[A-Z]{3}$",
            description = "ISO 4217; the user's default currency by default"
        ),
        (
            "month" = Option<String>,
            Query,
            pattern = r"^\d{4}-\d{2}$",
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
