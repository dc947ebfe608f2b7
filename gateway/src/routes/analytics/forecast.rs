//! The month-end forecast answer, shared by `GET /analytics/forecast` and the budget status:
//! each type is both what is serialised and its OpenAPI schema.

use budgetsmart_proto::common::v1 as common;
use budgetsmart_proto::engine::v1 as engine;
use serde::Serialize;
use utoipa::ToSchema;

use crate::json::{Amount, CurrencyCode, Month, amount, percent, timestamp};

/// A range of money: a prediction interval.
#[derive(Serialize, ToSchema)]
#[schema(as = MoneyInterval)]
pub(super) struct MoneyIntervalJson {
    #[schema(value_type = Amount)]
    lower: String,
    #[schema(value_type = Amount)]
    upper: String,
}

impl MoneyIntervalJson {
    fn from_proto(interval: &Option<common::MoneyInterval>) -> Option<MoneyIntervalJson> {
        interval.as_ref().map(|i| MoneyIntervalJson { lower: amount(&i.lower), upper: amount(&i.upper) })
    }
}

/// `ok`, or `insufficient_data` when there is too little history (the projections are then
/// `null`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum ForecastStatus {
    Ok,
    InsufficientData,
}

impl ForecastStatus {
    /// Analytics says `ok` when it could project, `insufficient_data` otherwise.
    fn from_proto(status: &str) -> ForecastStatus {
        if status == "ok" { ForecastStatus::Ok } else { ForecastStatus::InsufficientData }
    }
}

/// What is still to come of the month after `spent_to_date`, by part; with it they make the
/// projection.
#[derive(Serialize, ToSchema)]
#[schema(as = ForecastComponents)]
pub(super) struct ForecastComponentsJson {
    /// Recurring payments still due this month, at their expected amounts.
    #[schema(value_type = Amount)]
    recurring_due: String,
    /// Everyday spending still to come, from the model chosen for the regular series.
    #[schema(value_type = Amount)]
    regular: String,
    /// One-off purchases at their rate over the last twelve months, for the rest of the month.
    #[schema(value_type = Amount)]
    one_off_allowance: String,
}

impl ForecastComponentsJson {
    fn from_proto(c: &Option<common::ForecastComponents>) -> Option<ForecastComponentsJson> {
        c.as_ref().map(|c| ForecastComponentsJson {
            recurring_due: amount(&c.recurring_due),
            regular: amount(&c.regular),
            one_off_allowance: amount(&c.one_off_allowance),
        })
    }
}

/// One category's month-end projection.
#[derive(Serialize, ToSchema)]
#[schema(as = CategoryForecast)]
pub(super) struct CategoryForecastJson {
    category_id: String,
    #[schema(value_type = Amount)]
    projected: String,
    #[schema(required = true)]
    interval_80: Option<MoneyIntervalJson>,
    #[schema(required = true)]
    interval_95: Option<MoneyIntervalJson>,
    /// The budget's limit for this category, if it has one.
    #[schema(value_type = Option<Amount>, required = true)]
    limit: Option<String>,
    /// In [0, 1]; set when the category has a limit.
    #[schema(required = true, minimum = 0, maximum = 1)]
    probability_over_limit: Option<f64>,
    /// The model that produced it.
    model: String,
    /// What is still to come of this category, by part.
    #[schema(required = true)]
    components: Option<ForecastComponentsJson>,
}

/// A one-off purchase the models did not learn from, so it is not repeated.
#[derive(Serialize, ToSchema)]
#[schema(as = ExcludedOneOff)]
pub(super) struct ExcludedOneOffJson {
    #[schema(format = Uuid)]
    transaction_id: String,
    #[schema(format = Date)]
    occurred_on: String,
    description: String,
    #[schema(value_type = Amount)]
    amount: String,
    /// `anomaly` (flagged) or `large_infrequent`.
    reason: String,
}

/// A month-end spending projection: booked spending is known, only the rest of the month is
/// forecast.
#[derive(Serialize, ToSchema)]
#[schema(as = Forecast)]
pub struct ForecastJson {
    status: ForecastStatus,
    #[schema(value_type = Month)]
    month: String,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    #[schema(format = Uuid, required = true)]
    budget_id: Option<String>,
    #[schema(value_type = Option<Amount>, required = true)]
    total_limit: Option<String>,
    #[schema(value_type = Amount)]
    spent_to_date: String,
    #[schema(value_type = Option<Amount>, required = true)]
    projected_total: Option<String>,
    #[schema(required = true)]
    interval_80: Option<MoneyIntervalJson>,
    #[schema(required = true)]
    interval_95: Option<MoneyIntervalJson>,
    /// In [0, 1]; set when there is a limit and a projection.
    #[schema(required = true, minimum = 0, maximum = 1)]
    probability_over_budget: Option<f64>,
    /// When spending crossed, or is projected to cross, the limit.
    #[schema(format = Date, required = true)]
    projected_breach_date: Option<String>,
    #[schema(required = true)]
    model: Option<String>,
    #[schema(format = DateTime, required = true)]
    generated_at: Option<String>,
    /// The day (in the user's time zone) the projection was made for.
    #[schema(format = Date)]
    as_of: String,
    categories: Vec<CategoryForecastJson>,
    /// What is still to come, by part; null without a projection.
    #[schema(required = true)]
    components: Option<ForecastComponentsJson>,
    /// One-offs of the last twelve months left out of the regular series, newest first.
    excluded_one_offs: Vec<ExcludedOneOffJson>,
    /// How the projection was made, with its numbers.
    explanation: String,
}

/// A finite number, or `None` (NaN and infinity never leave the gateway).
pub(super) fn finite(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite())
}

fn optional_amount(m: &Option<common::Money>) -> Option<String> {
    m.as_ref().map(|_| amount(m))
}

impl From<&common::MonthEndForecast> for ForecastJson {
    fn from(f: &common::MonthEndForecast) -> Self {
        ForecastJson {
            status: ForecastStatus::from_proto(&f.status),
            month: f.month.clone(),
            currency: f.currency.clone(),
            budget_id: f.budget_id.clone(),
            total_limit: optional_amount(&f.total_limit),
            spent_to_date: amount(&f.spent_to_date),
            projected_total: optional_amount(&f.projected_total),
            interval_80: MoneyIntervalJson::from_proto(&f.interval_80),
            interval_95: MoneyIntervalJson::from_proto(&f.interval_95),
            probability_over_budget: finite(f.probability_over_budget),
            projected_breach_date: f.projected_breach_date.clone(),
            model: Some(f.model.clone()).filter(|m| !m.is_empty()),
            generated_at: timestamp(f.generated_at),
            as_of: f.as_of.clone(),
            categories: f
                .categories
                .iter()
                .map(|c| CategoryForecastJson {
                    category_id: c.category_id.clone(),
                    projected: amount(&c.projected),
                    interval_80: MoneyIntervalJson::from_proto(&c.interval_80),
                    interval_95: MoneyIntervalJson::from_proto(&c.interval_95),
                    limit: optional_amount(&c.limit),
                    probability_over_limit: finite(c.probability_over_limit),
                    model: c.model.clone(),
                    components: ForecastComponentsJson::from_proto(&c.components),
                })
                .collect(),
            components: ForecastComponentsJson::from_proto(&f.components),
            excluded_one_offs: f
                .excluded_one_offs
                .iter()
                .map(|o| ExcludedOneOffJson {
                    transaction_id: o.transaction_id.clone(),
                    occurred_on: o.occurred_on.clone(),
                    description: o.description.clone(),
                    amount: amount(&o.amount),
                    reason: o.reason.clone(),
                })
                .collect(),
            explanation: f.explanation.clone(),
        }
    }
}

/// The totals of a forecast made before analytics sent whole projections.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ForecastTotals)]
pub struct ForecastTotalsJson {
    #[schema(value_type = Amount)]
    projected_total: String,
    interval_80: MoneyIntervalJson,
    interval_95: MoneyIntervalJson,
    #[schema(required = true, minimum = 0, maximum = 1)]
    probability_over_budget: Option<f64>,
    model: String,
    #[schema(format = DateTime, required = true)]
    generated_at: Option<String>,
}

/// A budget's latest forecast: the whole projection, or only its totals when it was made
/// before analytics sent whole projections.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = BudgetForecast)]
pub enum BudgetForecastJson {
    Projection(Box<ForecastJson>),
    Totals(ForecastTotalsJson),
}

impl From<&engine::Forecast> for BudgetForecastJson {
    fn from(f: &engine::Forecast) -> Self {
        match &f.detail {
            Some(detail) => BudgetForecastJson::Projection(Box::new(ForecastJson::from(detail))),
            None => BudgetForecastJson::Totals(ForecastTotalsJson {
                projected_total: amount(&f.projected_total),
                interval_80: MoneyIntervalJson { lower: amount(&f.lower_80), upper: amount(&f.upper_80) },
                interval_95: MoneyIntervalJson { lower: amount(&f.lower_95), upper: amount(&f.upper_95) },
                probability_over_budget: percent(&f.probability_over_budget),
                model: f.model.clone(),
                generated_at: timestamp(f.generated_at),
            }),
        }
    }
}
