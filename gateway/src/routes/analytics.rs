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

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::QueryMap;
use crate::json::{amount, timestamp};
use crate::state::AppState;

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
    })
}

/// GET /analytics/summary?from=&to=&group_by=category|month&currency=
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

/// GET /analytics/trends?months=&currency=
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

/// GET /analytics/forecast?budget_id= or ?month=&currency=
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

/// GET /analytics/models
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

/// GET /analytics/charts/{name}.{svg|png}?budget_id=&currency=
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
    };
    let chart = state.analytics.clone().render_chart(request).await?.into_inner();
    let content_type = HeaderValue::from_str(&chart.content_type)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "an internal error occurred"))?;
    let mut response = (StatusCode::OK, chart.body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, content_type);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=60"));
    Ok(response)
}
