//! The summary, trends and model-registry answers: each type is both what is serialised and
//! its OpenAPI schema.

use std::collections::HashMap;

use budgetsmart_proto::analytics::v1 as pb;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::forecast::finite;
use crate::json::{Amount, CurrencyCode, Month, amount};

/// `category` (the default) or `month`.
#[derive(Serialize, ToSchema, PartialEq)]
#[serde(rename_all = "lowercase")]
pub(super) enum GroupBy {
    Category,
    Month,
}

impl GroupBy {
    /// Analytics answers `month` or `category`, the default.
    fn from_proto(group_by: &str) -> GroupBy {
        if group_by == "month" { GroupBy::Month } else { GroupBy::Category }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = SummaryGroup)]
pub(super) struct SummaryGroupJson {
    /// A category id (`uncategorized` when none) or a month `YYYY-MM`.
    key: String,
    /// The category's name, or the month.
    label: String,
    #[schema(value_type = Amount)]
    spent: String,
    #[schema(value_type = Amount)]
    income: String,
    /// Transactions counted.
    count: u64,
}

#[derive(Serialize, ToSchema)]
#[schema(as = MerchantTotal)]
pub(super) struct MerchantTotalJson {
    /// The normalised merchant name.
    merchant: String,
    #[schema(value_type = Amount)]
    spent: String,
    count: u64,
}

/// Spending and income over a date range.
#[derive(Serialize, ToSchema)]
#[schema(as = Summary)]
pub struct SummaryJson {
    #[schema(format = Date)]
    from: String,
    #[schema(format = Date)]
    to: String,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    group_by: GroupBy,
    groups: Vec<SummaryGroupJson>,
    #[schema(value_type = Amount)]
    total_spent: String,
    #[schema(value_type = Amount)]
    total_income: String,
    /// Where the money went, largest first.
    top_merchants: Vec<MerchantTotalJson>,
}

/// A category's display name: `Uncategorized` for none, `Deleted category` for one the user
/// has since removed.
fn category_label(names: &HashMap<String, String>, id: Option<&str>) -> String {
    match id {
        None => "Uncategorized".to_owned(),
        Some(id) => names.get(id).cloned().unwrap_or_else(|| "Deleted category".to_owned()),
    }
}

impl SummaryJson {
    /// The answer, with category groups labelled from `names` (id → name).
    pub fn new(s: pb::Summary, names: &HashMap<String, String>) -> SummaryJson {
        let group_by = GroupBy::from_proto(&s.group_by);
        let by_category = group_by == GroupBy::Category;
        let groups = s
            .groups
            .iter()
            .map(|g| SummaryGroupJson {
                label: match by_category {
                    true => category_label(names, Some(g.key.as_str()).filter(|k| *k != "uncategorized")),
                    false => g.key.clone(),
                },
                key: g.key.clone(),
                spent: amount(&g.spent),
                income: amount(&g.income),
                count: g.count,
            })
            .collect();
        let top_merchants = s
            .top_merchants
            .iter()
            .map(|m| MerchantTotalJson { merchant: m.name.clone(), spent: amount(&m.spent), count: m.count })
            .collect();
        SummaryJson {
            total_spent: amount(&s.total_spent),
            total_income: amount(&s.total_income),
            from: s.from,
            to: s.to,
            currency: s.currency,
            group_by,
            groups,
            top_merchants,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = MonthSpent)]
pub(super) struct MonthSpentJson {
    #[schema(value_type = Month)]
    month: String,
    #[schema(value_type = Amount)]
    spent: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = CategoryTrend)]
pub(super) struct CategoryTrendJson {
    /// `null` for uncategorised spending.
    #[schema(format = Uuid, required = true)]
    category_id: Option<String>,
    name: String,
    monthly: Vec<MonthSpentJson>,
    /// The mean of the last three months.
    #[schema(value_type = Amount)]
    average_3m: String,
    /// Percent change of the last month against the one before; `null` after a zero month.
    #[schema(required = true)]
    change_pct: Option<f64>,
}

/// Monthly spending per category over the complete months before the current one.
#[derive(Serialize, ToSchema)]
#[schema(as = Trends)]
pub struct TrendsJson {
    #[schema(value_type = CurrencyCode)]
    currency: String,
    /// How many months are shown.
    months: u32,
    categories: Vec<CategoryTrendJson>,
}

impl TrendsJson {
    /// The answer, with categories named from `names` (id → name).
    pub fn new(t: pb::Trends, names: &HashMap<String, String>) -> TrendsJson {
        let categories = t
            .categories
            .iter()
            .map(|c| {
                let id = Some(c.category_id.clone()).filter(|id| !id.is_empty());
                CategoryTrendJson {
                    name: category_label(names, id.as_deref()),
                    category_id: id,
                    monthly: c
                        .monthly
                        .iter()
                        .map(|m| MonthSpentJson { month: m.month.clone(), spent: amount(&m.spent) })
                        .collect(),
                    average_3m: amount(&c.average_3m),
                    change_pct: finite(c.change_pct),
                }
            })
            .collect();
        TrendsJson { currency: t.currency, months: t.months, categories }
    }
}

/// One candidate model's backtest.
#[derive(Serialize, ToSchema)]
#[schema(as = ModelCandidate)]
pub(super) struct ModelCandidateJson {
    model: String,
    #[schema(required = true)]
    smape: Option<f64>,
    #[schema(required = true)]
    mase: Option<f64>,
    /// Out-of-sample coverage of the 80 % interval.
    #[schema(required = true)]
    coverage_80: Option<f64>,
    /// The fitted parameters.
    #[schema(value_type = Option<Object>, required = true)]
    params: Value,
}

#[derive(Serialize, ToSchema)]
#[schema(as = SeriesModel)]
pub(super) struct SeriesModelJson {
    /// The series, e.g. `total:USD` or `category:<id>:USD`.
    series: String,
    n_points: u32,
    /// `monthly` or `daily`.
    granularity: String,
    /// The chosen candidate's `model`.
    chosen: String,
    /// RFC 3339.
    trained_at: String,
    candidates: Vec<ModelCandidateJson>,
}

/// The per-series model comparison.
#[derive(Serialize, ToSchema)]
#[schema(as = Models)]
pub struct ModelsJson {
    data: Vec<SeriesModelJson>,
}

impl From<pb::Models> for ModelsJson {
    fn from(m: pb::Models) -> Self {
        let data = m
            .data
            .into_iter()
            .map(|s| SeriesModelJson {
                candidates: s
                    .candidates
                    .into_iter()
                    .map(|c| ModelCandidateJson {
                        smape: finite(c.smape),
                        mase: finite(c.mase),
                        coverage_80: finite(c.coverage_80),
                        params: serde_json::from_str::<Value>(&c.params_json).unwrap_or(Value::Null),
                        model: c.model,
                    })
                    .collect(),
                series: s.series,
                n_points: s.n_points,
                granularity: s.granularity,
                chosen: s.chosen,
                trained_at: s.trained_at,
            })
            .collect();
        ModelsJson { data }
    }
}
