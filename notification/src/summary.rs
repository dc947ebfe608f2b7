//! The monthly summary's content: totals, each category against its budget, the biggest
//! changes, the forecast with its explanation, the recurring payments coming up, the most
//! relevant insights, the month's anomalies and the spending chart (ending with the month
//! summarised), all asked of the engine and analytics over gRPC at send time, so a retry
//! sends current figures.

use std::collections::HashMap;

use budgetsmart_proto::analytics::v1 as an;
use budgetsmart_proto::common::v1::PageRequest;
use budgetsmart_proto::engine::v1 as en;
use chrono::{Months, NaiveDate};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tonic::Status;
use uuid::Uuid;

use crate::clients::Upstreams;
use crate::content::{amount, month_label};
use crate::message::CHART_CID;

/// How many "biggest changes", anomalies and coming payments the email lists.
const TOP: usize = 5;
/// How many insights it lists.
const TOP_INSIGHTS: usize = 3;

/// The summary's template data and its chart.
pub struct Summary {
    /// `{"summary": {...}}` for `monthly_summary.*`.
    pub context: Value,
    /// The spending-by-category chart, when analytics could draw it.
    pub chart_png: Option<Vec<u8>>,
}

/// The subject-line data of the summary of `month`, before the figures are gathered.
pub fn subject_context(month: NaiveDate) -> Value {
    json!({ "summary": { "month_label": month_label(&month.format("%Y-%m").to_string()) } })
}

/// Gathers the summary of `month` for `user_id` in `currency`; `current` is this month in the
/// user's time zone, whose forecast the summary shows.
pub async fn gather(
    upstreams: &Upstreams,
    user_id: Uuid,
    currency: &str,
    month: NaiveDate,
    current: NaiveDate,
) -> Result<Summary, Status> {
    let month_key = month.format("%Y-%m").to_string();
    let last_day = month.checked_add_months(Months::new(1)).and_then(|d| d.pred_opt()).unwrap_or(month);
    let names: HashMap<String, String> = upstreams
        .categories(user_id)?
        .list_categories(en::ListCategoriesRequest {})
        .await?
        .into_inner()
        .categories
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| "Uncategorized".to_owned());
    let mut analytics = upstreams.analytics(user_id)?;

    let totals = analytics
        .get_summary(an::SummaryRequest {
            from: month.to_string(),
            to: last_day.to_string(),
            group_by: "category".into(),
            currency: currency.to_owned(),
        })
        .await?
        .into_inner();
    let spent = decimal(&amount(totals.total_spent.as_ref()));
    let income = decimal(&amount(totals.total_income.as_ref()));
    let mut categories: Vec<(Decimal, Value)> = totals
        .groups
        .iter()
        .filter(|g| decimal(&amount(g.spent.as_ref())) > Decimal::ZERO)
        .map(|g| {
            let spent = amount(g.spent.as_ref());
            (decimal(&spent), json!({ "name": name(&g.key), "spent": spent, "count": g.count }))
        })
        .collect();
    categories.sort_by_key(|c| std::cmp::Reverse(c.0));

    let budget = budget_of(upstreams, user_id, &month_key, currency, &name).await?;

    // The biggest moves of the month summarised against the month before it, in both
    // directions, from the same totals as the table above.
    let before = month.checked_sub_months(Months::new(1)).unwrap_or(month);
    let previous = analytics
        .get_summary(an::SummaryRequest {
            from: before.to_string(),
            to: month.pred_opt().unwrap_or(month).to_string(),
            group_by: "category".into(),
            currency: currency.to_owned(),
        })
        .await?
        .into_inner();
    let earlier: HashMap<&str, Decimal> =
        previous.groups.iter().map(|g| (g.key.as_str(), decimal(&amount(g.spent.as_ref())))).collect();
    let mut changes: Vec<(Decimal, Value)> = totals
        .groups
        .iter()
        .filter_map(|g| {
            let now = decimal(&amount(g.spent.as_ref()));
            let then = *earlier.get(g.key.as_str())?;
            if then <= Decimal::ZERO || now <= Decimal::ZERO {
                return None;
            }
            let pct = (now - then) / then * Decimal::from(100);
            Some((
                pct.abs(),
                json!({
                    "name": name(&g.key),
                    "change_pct": pct.round_dp(1).to_string().parse::<f64>().unwrap_or_default(),
                    "spent": now.to_string(),
                    "previous": then.to_string(),
                }),
            ))
        })
        .collect();
    changes.sort_by_key(|c| std::cmp::Reverse(c.0));
    let changes: Vec<Value> = changes.into_iter().take(TOP).map(|(_, v)| v).collect();

    let forecast = analytics
        .get_forecast(an::ForecastRequest {
            budget_id: String::new(),
            month: current.format("%Y-%m").to_string(),
            currency: currency.to_owned(),
        })
        .await?
        .into_inner();
    let forecast = (forecast.status == "ok").then(|| {
        let interval = forecast.interval_80.as_ref();
        json!({
            "month_label": month_label(&forecast.month),
            "projected_total": amount(forecast.projected_total.as_ref()),
            "lower_80": amount(interval.and_then(|i| i.lower.as_ref())),
            "upper_80": amount(interval.and_then(|i| i.upper.as_ref())),
            "limit": forecast.total_limit.as_ref().map(|l| amount(Some(l))),
            "probability": forecast.probability_over_budget,
            "explanation": Some(&forecast.explanation).filter(|e| !e.is_empty()),
        })
    });

    // What is still to be paid this month, each with its sentence.
    let recurring = analytics.list_recurring(an::ListRecurringRequest {}).await?.into_inner();
    let current_key = current.format("%Y-%m").to_string();
    let mut coming: Vec<&an::RecurringPayment> = recurring
        .data
        .iter()
        .filter(|r| {
            r.status == "active" && r.direction != "credit" && r.next_expected.starts_with(&current_key)
        })
        // The email's money is in its currency; payments in another wait for their own summary.
        .filter(|r| r.expected_amount.as_ref().is_some_and(|m| m.currency_code == currency))
        .collect();
    // The largest few, listed in the order they are due.
    coming.sort_by_key(|r| std::cmp::Reverse(decimal(&amount(r.expected_amount.as_ref()))));
    coming.truncate(TOP);
    coming.sort_by(|a, b| a.next_expected.cmp(&b.next_expected));
    let coming: Vec<Value> = coming
        .into_iter()
        .take(TOP)
        .map(|r| {
            json!({
                "merchant": r.merchant,
                "kind": r.kind,
                "expected_amount": amount(r.expected_amount.as_ref()),
                "next_expected": r.next_expected,
                "explanation": r.explanation,
            })
        })
        .collect();

    // The most relevant insights now: the feed is sorted by relevance as it fades.
    let feed = upstreams
        .insights(user_id)?
        .list_insights(en::ListInsightsRequest {
            page: Some(PageRequest { limit: TOP_INSIGHTS as u32, cursor: String::new() }),
        })
        .await?
        .into_inner();
    let insights: Vec<Value> =
        feed.insights.iter().map(|i| json!({ "title": i.title, "body": i.body })).collect();

    let anomalies = analytics
        .list_anomalies(an::ListAnomaliesRequest {
            status: String::new(),
            page: Some(PageRequest { limit: 200, cursor: String::new() }),
        })
        .await?
        .into_inner();
    let mut anomalies: Vec<&an::Anomaly> = anomalies
        .data
        .iter()
        .filter(|a| a.occurred_on.starts_with(&month_key) && a.status != "not_anomaly")
        .collect();
    anomalies.sort_by(|a, b| b.score.total_cmp(&a.score));
    let anomalies: Vec<Value> = anomalies
        .into_iter()
        .take(TOP)
        .map(|a| {
            json!({
                "description": a.description,
                "amount": amount(a.amount.as_ref()),
                "occurred_on": a.occurred_on,
                "explanation": a.explanation,
            })
        })
        .collect();

    // The chart decorates the email; without it the figures are still worth sending.
    let labels = names.clone();
    let chart_png = match analytics
        .render_chart(an::ChartRequest {
            name: "spending-by-category".into(),
            format: "png".into(),
            budget_id: String::new(),
            currency: currency.to_owned(),
            labels,
            // The chart ends with the month summarised, not the partial month underway.
            month: month_key.clone(),
        })
        .await
    {
        Ok(chart) => Some(chart.into_inner().body).filter(|b| !b.is_empty()),
        Err(status) => {
            tracing::warn!(%user_id, error = %status.message(), "the summary goes without its chart");
            None
        }
    };

    let context = json!({ "summary": {
        "month_label": month_label(&month_key),
        "currency": currency,
        "total_spent": spent.to_string(),
        "total_income": income.to_string(),
        "net": (income - spent).to_string(),
        "budget": budget,
        "categories": categories.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "changes": changes,
        "forecast": forecast,
        "coming": coming,
        "insights": insights,
        "anomalies": anomalies,
        "chart_cid": chart_png.as_ref().map(|_| CHART_CID),
    }});
    Ok(Summary { context, chart_png })
}

/// The budget of `month` in `currency` with each category's use, if the user set one.
async fn budget_of(
    upstreams: &Upstreams,
    user_id: Uuid,
    month: &str,
    currency: &str,
    name: &impl Fn(&str) -> String,
) -> Result<Value, Status> {
    let mut client = upstreams.budgets(user_id)?;
    let mut cursor = String::new();
    loop {
        let page = client
            .list_budgets(en::ListBudgetsRequest {
                page: Some(PageRequest { limit: 200, cursor: cursor.clone() }),
            })
            .await?
            .into_inner();
        if let Some(budget) = page.budgets.iter().find(|b| b.month == month && b.currency == currency) {
            let status = client
                .get_budget_status(en::GetBudgetStatusRequest { id: budget.id.clone() })
                .await?
                .into_inner();
            let categories: Vec<Value> = status
                .categories
                .iter()
                .map(|c| {
                    let spent = amount(c.spent.as_ref());
                    let limit = amount(c.limit.as_ref());
                    json!({
                        "name": name(&c.category_id),
                        "over": decimal(&spent) > decimal(&limit),
                        "spent": spent,
                        "limit": limit,
                        "percent_used": whole_percent(&c.percent_used),
                    })
                })
                .collect();
            return Ok(json!({
                "total_limit": amount(status.total_limit.as_ref()),
                "spent": amount(status.spent.as_ref()),
                "percent_used": whole_percent(&status.percent_used).unwrap_or_default(),
                "categories": categories,
            }));
        }
        if page.next_cursor.is_empty() {
            return Ok(Value::Null);
        }
        cursor = page.next_cursor;
    }
}

fn decimal(text: &str) -> Decimal {
    text.parse().unwrap_or_default()
}

fn whole_percent(text: &str) -> Option<i64> {
    text.parse::<Decimal>().ok().and_then(|d| d.floor().try_into().ok())
}
