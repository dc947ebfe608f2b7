//! The Analytics gRPC service: validates requests, scopes them to the caller, serves hot
//! answers from the cache, and otherwise asks the report, forecast and chart modules.

mod behaviour;
mod canonical;
mod renders;

use std::collections::HashMap;

use budgetsmart_common::currency::Currency;
use budgetsmart_common::grpc::caller;
use budgetsmart_common::money;
use budgetsmart_proto::analytics::v1 as pb;
use budgetsmart_proto::analytics::v1::analytics_server::Analytics;
use budgetsmart_proto::common::v1::MonthEndForecast;
use chrono::NaiveDate;
use prost::Message;
use rust_decimal::prelude::ToPrimitive;
use sqlx::PgPool;
use sqlx::pool::PoolConnection;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::cache::Cache;
use crate::categorizer::store::Models;
use crate::charts::{self, Format};
use crate::error::ApiError;
use crate::monthend::{self, MAX_MONTHS_AHEAD, Target};
use crate::parts::{self, Series};
use crate::profile::{self, Profile};
use crate::readmodel::budgets;
use crate::reports::{self, GroupBy};
use crate::{history, registry};

use canonical::Canonical;
use renders::Renders;

/// The longest range a summary covers.
const MAX_RANGE_DAYS: i64 = 3_660;

/// Implements `budgetsmart.analytics.v1.Analytics`.
pub struct AnalyticsService {
    pool: PgPool,
    cache: Cache,
    models: Models,
    /// Bounds the CPU work of projections and charts, per core and per user.
    renders: Renders,
}

/// The caller, a connection and their profile: what every call starts from.
struct Scope {
    user: Uuid,
    conn: PoolConnection<sqlx::Postgres>,
    profile: Profile,
}

impl AnalyticsService {
    /// A service reading `pool`, caching in `cache`.
    pub fn new(pool: PgPool, cache: Cache) -> Self {
        AnalyticsService { pool, cache, models: Models::default(), renders: Renders::default() }
    }

    async fn scope<T>(&self, request: &Request<T>) -> Result<Scope, Status> {
        let user = caller(request)?.user_id;
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let profile = profile::load(&mut conn, user).await.map_err(ApiError::from)?;
        Ok(Scope { user, conn, profile })
    }

    /// Answers from the cache, or computes, caches and answers. The key holds the request and
    /// the user's day, since forecasts move with the calendar.
    async fn cached<Resp: Message + Default>(
        &self,
        scope: &mut Scope,
        method: &str,
        key: &str,
        compute: impl AsyncFnOnce(&mut Scope) -> Result<Resp, ApiError>,
    ) -> Result<Response<Resp>, Status> {
        let key = format!("{method}:{}:{key}", scope.profile.today());
        let (hit, slot) = self.cache.get(scope.user, &key).await;
        if let Some(answer) = hit.and_then(|bytes| Resp::decode(bytes.as_slice()).ok()) {
            return Ok(Response::new(answer));
        }
        let answer = compute(scope).await?;
        self.cache.put(slot, &answer.encode_to_vec()).await;
        Ok(Response::new(answer))
    }
}

fn parse_date(field: &'static str, text: &str) -> Result<Option<NaiveDate>, ApiError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|_| ApiError::invalid(field, "must be a date as YYYY-MM-DD"))
}

fn currency(text: &str, profile: &Profile) -> Result<String, ApiError> {
    if text.trim().is_empty() {
        return Ok(profile.currency.clone());
    }
    Currency::parse(&text.trim().to_uppercase())
        .map(|c| c.code().to_owned())
        .ok_or_else(|| ApiError::invalid("currency", "is not a known ISO 4217 currency code"))
}

/// Resolves what a forecast is for: a budget, a month, or the current month.
async fn target(
    scope: &mut Scope,
    budget_id: &str,
    month: &str,
    currency_code: &str,
) -> Result<Target, ApiError> {
    if !budget_id.trim().is_empty() {
        let id = Uuid::parse_str(budget_id.trim())
            .map_err(|_| ApiError::invalid("budget_id", "must be a UUID"))?;
        let budget =
            budgets::find(&mut scope.conn, scope.user, id).await?.ok_or(ApiError::NotFound("budget"))?;
        if budget.month > history::shift_months(history::month_start(scope.profile.today()), MAX_MONTHS_AHEAD)
        {
            return Err(ApiError::invalid(
                "budget_id",
                format!("its month is more than {MAX_MONTHS_AHEAD} months ahead"),
            ));
        }
        return Ok(Target { month: budget.month, currency: budget.currency.clone(), budget: Some(budget) });
    }
    let current = history::month_start(scope.profile.today());
    let month = if month.trim().is_empty() {
        current
    } else {
        history::parse_month(month).ok_or_else(|| ApiError::invalid("month", "must be a month as YYYY-MM"))?
    };
    if month > history::shift_months(current, MAX_MONTHS_AHEAD) {
        return Err(ApiError::invalid("month", format!("may be at most {MAX_MONTHS_AHEAD} months ahead")));
    }
    let currency = currency(currency_code, &scope.profile)?;
    let budget = budgets::for_month(&mut scope.conn, scope.user, month, &currency).await?;
    Ok(Target { month, currency, budget })
}

fn money_of(value: rust_decimal::Decimal, currency: &str) -> Option<budgetsmart_proto::common::v1::Money> {
    Some(money::to_proto(value, currency))
}

#[tonic::async_trait]
impl Analytics for AnalyticsService {
    #[tracing::instrument(skip_all)]
    async fn get_summary(
        &self,
        request: Request<pb::SummaryRequest>,
    ) -> Result<Response<pb::Summary>, Status> {
        let mut scope = self.scope(&request).await?;
        let r = request.into_inner().canonical();
        self.cached(&mut scope, "summary", &r.key(), async move |scope: &mut Scope| {
            let today = scope.profile.today();
            let from = parse_date("from", &r.from)?.unwrap_or_else(|| history::month_start(today));
            let to = parse_date("to", &r.to)?.unwrap_or(today);
            if from > to {
                return Err(ApiError::invalid("from", "must not be after to"));
            }
            if (to - from).num_days() > MAX_RANGE_DAYS {
                return Err(ApiError::invalid("to", "the range may span at most ten years"));
            }
            let group_by = match r.group_by.trim() {
                "" | "category" => GroupBy::Category,
                "month" => GroupBy::Month,
                _ => return Err(ApiError::invalid("group_by", "must be category or month")),
            };
            let currency = currency(&r.currency, &scope.profile)?;
            let s = reports::summary(&mut scope.conn, scope.user, &currency, from, to, group_by).await?;
            Ok(pb::Summary {
                from: from.to_string(),
                to: to.to_string(),
                group_by: if group_by == GroupBy::Month { "month" } else { "category" }.into(),
                groups: s
                    .groups
                    .iter()
                    .map(|g| pb::SummaryGroup {
                        key: g.key.clone(),
                        spent: money_of(g.spent, &currency),
                        income: money_of(g.income, &currency),
                        count: g.count.unsigned_abs(),
                    })
                    .collect(),
                total_spent: money_of(s.total_spent, &currency),
                total_income: money_of(s.total_income, &currency),
                top_merchants: s
                    .top_merchants
                    .iter()
                    .map(|(name, spent, count)| pb::Merchant {
                        name: name.clone(),
                        spent: money_of(*spent, &currency),
                        count: count.unsigned_abs(),
                    })
                    .collect(),
                currency,
            })
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn get_trends(&self, request: Request<pb::TrendsRequest>) -> Result<Response<pb::Trends>, Status> {
        let mut scope = self.scope(&request).await?;
        let r = request.into_inner().canonical();
        self.cached(&mut scope, "trends", &r.key(), async move |scope: &mut Scope| {
            let months = match r.months {
                0 => 6,
                m @ 2..=24 => m,
                _ => return Err(ApiError::invalid("months", "must be between 2 and 24")),
            };
            let currency = currency(&r.currency, &scope.profile)?;
            let today = scope.profile.today();
            let trends = reports::trends(&mut scope.conn, scope.user, &currency, months, today).await?;
            Ok(pb::Trends {
                months,
                categories: trends
                    .into_iter()
                    .map(|t| pb::CategoryTrend {
                        category_id: t.category_id.map(|c| c.to_string()).unwrap_or_default(),
                        monthly: t
                            .monthly
                            .iter()
                            .map(|(m, v)| pb::MonthSpent {
                                month: history::month_label(*m),
                                spent: money_of(*v, &currency),
                            })
                            .collect(),
                        average_3m: money_of(t.average_3m, &currency),
                        change_pct: t.change_pct,
                    })
                    .collect(),
                currency,
            })
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn get_forecast(
        &self,
        request: Request<pb::ForecastRequest>,
    ) -> Result<Response<MonthEndForecast>, Status> {
        let mut scope = self.scope(&request).await?;
        let r = request.into_inner().canonical();
        let renders = self.renders.clone();
        self.cached(&mut scope, "forecast", &r.key(), async move |scope: &mut Scope| {
            let _turn = renders.turn(scope.user)?;
            let target = target(scope, &r.budget_id, &r.month, &r.currency).await?;
            let today = scope.profile.today();
            // The model selection runs on the blocking pool inside `compute`, behind a core.
            let computed =
                renders.limit(monthend::compute(&mut scope.conn, scope.user, &target, today)).await??;
            Ok(computed.forecast)
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn list_models(
        &self,
        request: Request<pb::ListModelsRequest>,
    ) -> Result<Response<pb::Models>, Status> {
        let mut scope = self.scope(&request).await?;
        // No fields: one answer per user and day.
        self.cached(&mut scope, "models", "", async move |scope: &mut Scope| {
            let entries = registry::list(&mut scope.conn, scope.user).await?;
            let number = |v: &serde_json::Value| v.as_f64().filter(|f| f.is_finite());
            Ok(pb::Models {
                data: entries
                    .into_iter()
                    .map(|e| pb::SeriesModel {
                        series: e.series,
                        n_points: e.n_points.unsigned_abs(),
                        chosen: e.chosen,
                        trained_at: e.trained_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        candidates: e
                            .candidates
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|c| pb::Candidate {
                                model: c["model"].as_str().unwrap_or_default().to_owned(),
                                smape: number(&c["smape"]),
                                mase: number(&c["mase"]),
                                coverage_80: number(&c["coverage_80"]),
                                params_json: c["params"].to_string(),
                            })
                            .collect(),
                        granularity: e.granularity,
                    })
                    .collect(),
            })
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn render_chart(&self, request: Request<pb::ChartRequest>) -> Result<Response<pb::Chart>, Status> {
        let mut scope = self.scope(&request).await?;
        let r = request.into_inner().canonical();
        let format = Format::parse(r.format.trim())
            .ok_or_else(|| ApiError::invalid("format", "must be svg or png"))?;
        if !matches!(r.name.as_str(), "spending-by-category" | "forecast") {
            return Err(ApiError::NotFound("chart").into());
        }
        let renders = self.renders.clone();
        self.cached(&mut scope, "chart", &r.key(), async move |scope: &mut Scope| {
            let _turn = renders.turn(scope.user)?;
            let body = match r.name.as_str() {
                "forecast" => {
                    let target = target(scope, &r.budget_id, "", &r.currency).await?;
                    let inputs = path_inputs(scope, target).await?;
                    renders.run(move || charts::forecast(&forecast_path(inputs), format)).await??
                }
                _ => {
                    let currency = currency(&r.currency, &scope.profile)?;
                    let current = history::month_start(scope.profile.today());
                    // A summary of a past month ends its chart there, not in the month underway.
                    let last = match r.month.trim() {
                        "" => current,
                        m => history::parse_month(m).filter(|m| *m <= current).ok_or_else(|| {
                            ApiError::invalid("month", "must be a month as YYYY-MM, not after this one")
                        })?,
                    };
                    let data = spending_by_category(scope, &currency, &r.labels, last).await?;
                    renders.run(move || charts::spending_by_category(&data, format)).await??
                }
            };
            Ok(pb::Chart { content_type: format.content_type().into(), body })
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn list_anomalies(
        &self,
        request: Request<pb::ListAnomaliesRequest>,
    ) -> Result<Response<pb::Anomalies>, Status> {
        let mut scope = self.scope(&request).await?;
        let r = request.into_inner().canonical();
        self.cached(&mut scope, "anomalies", &r.key(), async move |scope: &mut Scope| {
            behaviour::list_anomalies(&mut scope.conn, scope.user, r).await
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn update_anomaly(
        &self,
        request: Request<pb::UpdateAnomalyRequest>,
    ) -> Result<Response<pb::Anomaly>, Status> {
        let user = caller(&request)?.user_id;
        let mut tx = self.pool.begin().await.map_err(ApiError::from)?;
        let answer = behaviour::update_anomaly(&mut tx, user, request.into_inner()).await?;
        tx.commit().await.map_err(ApiError::from)?;
        self.cache.invalidate(user).await;
        Ok(Response::new(answer))
    }

    #[tracing::instrument(skip_all)]
    async fn list_recurring(
        &self,
        request: Request<pb::ListRecurringRequest>,
    ) -> Result<Response<pb::RecurringPayments>, Status> {
        let mut scope = self.scope(&request).await?;
        // No fields: one answer per user and day.
        self.cached(&mut scope, "recurring", "", async move |scope: &mut Scope| {
            behaviour::list_recurring(&mut scope.conn, scope.user).await
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn update_recurring(
        &self,
        request: Request<pb::UpdateRecurringRequest>,
    ) -> Result<Response<pb::RecurringPayment>, Status> {
        let user = caller(&request)?.user_id;
        let mut tx = self.pool.begin().await.map_err(ApiError::from)?;
        let today = profile::load(&mut tx, user).await.map_err(ApiError::from)?.today();
        let answer = behaviour::update_recurring(&mut tx, user, today, request.into_inner()).await?;
        tx.commit().await.map_err(ApiError::from)?;
        self.cache.invalidate(user).await;
        Ok(Response::new(answer))
    }

    #[tracing::instrument(skip_all, fields(items = request.get_ref().items.len()))]
    async fn categorize(
        &self,
        request: Request<pb::CategorizeRequest>,
    ) -> Result<Response<pb::CategorizeResponse>, Status> {
        // Not cached: the in-process model copy already answers in microseconds.
        let user = caller(&request)?.user_id;
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let answer = behaviour::categorize(&mut conn, &self.models, user, request.into_inner()).await?;
        Ok(Response::new(answer))
    }
}

/// Twelve months ending with `last` (a month's first day), per category.
async fn spending_by_category(
    scope: &mut Scope,
    currency: &str,
    labels: &HashMap<String, String>,
    last: NaiveDate,
) -> Result<charts::SpendingByCategory, ApiError> {
    let today = scope.profile.today();
    let first = history::shift_months(last, -11);
    let end = history::month_end(last).min(today);
    let rows = history::daily(&mut scope.conn, scope.user, currency, first, end).await?;
    let mut categories: Vec<Option<Uuid>> =
        rows.iter().filter(|r| !r.spent.is_zero()).map(|r| r.category_id).collect();
    categories.sort();
    categories.dedup();
    let months: Vec<String> = history::monthly_totals(&Default::default(), first, last)
        .iter()
        .map(|(m, _)| history::month_label(*m))
        .collect();
    let series = categories
        .into_iter()
        .map(|category| {
            let name = match category {
                None => "Uncategorized".to_owned(),
                Some(id) => {
                    labels.get(&id.to_string()).cloned().unwrap_or_else(|| id.to_string()[..8].to_owned())
                }
            };
            let values = history::monthly_totals(&history::category_spend(&rows, category), first, last)
                .iter()
                .map(|(_, v)| v.to_f64().unwrap_or(0.0))
                .collect();
            (name, values)
        })
        .collect();
    Ok(charts::SpendingByCategory { currency: currency.to_owned(), months, series })
}

/// What the forecast chart is drawn from, read from the database.
struct PathInputs {
    rows: Vec<history::DayTotal>,
    parts: parts::Parts,
    target: Target,
    today: NaiveDate,
}

async fn path_inputs(scope: &mut Scope, target: Target) -> Result<PathInputs, ApiError> {
    let today = scope.profile.today();
    let from = history::shift_months(target.month.min(history::month_start(today)), -36);
    let end = history::month_end(target.month);
    let rows = history::daily(&mut scope.conn, scope.user, &target.currency, from, end).await?;
    // The same parts as the forecast's answer, so the chart and the numbers agree.
    let parts = parts::load(&mut scope.conn, scope.user, today).await?;
    Ok(PathInputs { rows, parts, target, today })
}

/// Booked cumulative spending to today and the projected path with its bands to month end:
/// CPU work (a model selection), run on the blocking pool.
fn forecast_path(inputs: PathInputs) -> charts::ForecastPath {
    let PathInputs { rows, parts, target, today } = inputs;
    let end = history::month_end(target.month);
    let spend = history::total_spend(&rows);
    let regular = history::total_spend(&parts.regular(&rows, &target.currency));
    let due = parts.recurring_due(&target.currency, Series::Total, target.month, today);
    let risk = parts.one_off_risk(&target.currency, Series::Total, target.month, today);
    let (outcome, _) = monthend::project_parts(&spend, &regular, &due, risk, target.month, today);
    let mut cumulative = 0.0;
    let booked: Vec<(NaiveDate, f64)> = target
        .month
        .iter_days()
        .take_while(|d| *d <= end && *d <= today)
        .map(|d| {
            cumulative += spend.get(&d).and_then(|v| v.to_f64()).unwrap_or(0.0);
            (d, cumulative)
        })
        .collect();
    let spent = booked.last().map_or(0.0, |b| b.1);
    let mut projected = Vec::new();
    if let Some(p) = &outcome.projected {
        let remaining = (p.total - spent).max(0.0);
        let mut expected = spent;
        for (day, mean) in &p.daily_mean {
            expected += mean;
            // The bands widen in proportion to how much of the remaining spending is due.
            let share = if remaining > 0.0 { (expected - spent) / remaining } else { 1.0 };
            let band = |(lower, upper): (f64, f64)| {
                (spent + share * (lower - spent), spent + share * (upper - spent))
            };
            projected.push(charts::ProjectedDay {
                day: *day,
                expected,
                band_80: band(p.interval_80),
                band_95: band(p.interval_95),
            });
        }
    }
    charts::ForecastPath {
        currency: target.currency.clone(),
        month: history::month_label(target.month),
        booked,
        projected,
        limit: target.budget.as_ref().and_then(|b| b.total_limit.to_f64()),
    }
}
