//! What each event says, as template data. Pure functions: the event in, the JSON the
//! templates read out. Amounts stay decimal strings; `money` formats them at render time.

use budgetsmart_common::money;
use budgetsmart_proto::common::v1::Money;
use budgetsmart_proto::events::v1 as ev;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// The probability of going over the budget from which a forecast is worth an email.
pub const OVERSPEND_PROBABILITY: f64 = 0.5;

/// "November 2026" for a month given as "YYYY-MM" or a date in it; the input if it is neither.
pub fn month_label(month: &str) -> String {
    let first = format!("{}-01", &month[..month.len().min(7)]);
    match NaiveDate::parse_from_str(&first, "%Y-%m-%d") {
        Ok(date) => date.format("%B %Y").to_string(),
        Err(_) => month.to_owned(),
    }
}

/// A proto amount as a decimal string ("0" when absent or malformed).
pub fn amount(money: Option<&Money>) -> String {
    decimal(money).to_string()
}

fn decimal(money: Option<&Money>) -> Decimal {
    money.and_then(|m| money::from_proto(m).ok()).map(|(d, _)| d).unwrap_or_default()
}

fn percent(used: Decimal, limit: Decimal) -> i64 {
    if limit <= Decimal::ZERO {
        return 0;
    }
    // Floored: 99.9 % used is not yet "100 %", which reads as the limit reached.
    (used * Decimal::from(100) / limit).floor().try_into().unwrap_or(i64::MAX)
}

/// `budget_threshold_reached`: the scope, the numbers, and the transaction that crossed it.
pub fn threshold(event: &ev::BudgetThresholdReached) -> Value {
    let limit = decimal(event.limit.as_ref());
    let spent = decimal(event.spent.as_ref());
    let currency = if event.currency.is_empty() {
        event.limit.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default()
    } else {
        event.currency.clone()
    };
    // A payment in another currency says both amounts: what was paid, and what it counts.
    let transaction = event.transaction.as_ref().map(|t| {
        let paid_in = t.amount.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default();
        let home = t.home_amount.as_ref().filter(|h| h.currency_code != paid_in);
        json!({
            "description": t.description,
            "amount": amount(t.amount.as_ref()),
            "currency": if paid_in.is_empty() { currency.clone() } else { paid_in },
            "home_amount": home.map(|h| amount(Some(h))),
            "home_currency": home.map(|h| h.currency_code.clone()),
            "occurred_on": t.occurred_on,
        })
    });
    json!({ "alert": {
        "threshold_percent": event.threshold_percent,
        "scope": event.scope,
        "category_name": event.category_name,
        "month_label": month_label(&event.month),
        "limit": limit.to_string(),
        "spent": spent.to_string(),
        "remaining": (limit - spent).to_string(),
        "percent_used": percent(spent, limit),
        "currency": currency,
        "transaction": transaction,
    }})
}

/// `goal_reached` and `goal_at_risk`: the goal's numbers and where it is heading.
pub fn goal(goal: &ev::GoalData) -> Value {
    let currency = goal.target_amount.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default();
    let day = |text: &str| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(|d| d.format("%-d %B %Y").to_string())
    };
    json!({ "goal": {
        "name": goal.name,
        "target": amount(goal.target_amount.as_ref()),
        "saved": amount(goal.saved.as_ref()),
        "remaining": amount(goal.remaining.as_ref()),
        "monthly_needed": goal.monthly_needed.as_ref().map(|m| amount(Some(m))),
        "target_date": day(&goal.target_date),
        "projected_completion": day(&goal.projected_completion),
        "currency": currency,
    }})
}

/// `anomaly_detected`: the explanation and the transaction.
pub fn anomaly(event: &ev::AnomalyDetected, score: f64, category_name: Option<String>) -> Value {
    let kind_label = match event.kind.as_str() {
        "amount_spike" => "Unusually large charge",
        "new_merchant" => "Large first charge at a new merchant",
        "duplicate" => "Possible duplicate charge",
        _ => "Unusual transaction",
    };
    json!({ "anomaly": {
        "kind": event.kind,
        "kind_label": kind_label,
        "score": score,
        "explanation": event.explanation,
        "description": event.description,
        "amount": amount(event.amount.as_ref()),
        "currency": event.amount.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default(),
        "paid": event.paid.as_ref().map(|m| amount(Some(m))),
        "paid_currency": event.paid.as_ref().map(|m| m.currency_code.clone()),
        "occurred_on": event.occurred_on,
        "category_name": category_name,
    }})
}

/// `prediction_completed`, when it projects an overspend that is more likely than not;
/// `None` for a forecast that is no news.
pub fn overspend(event: &ev::PredictionCompleted) -> Option<Value> {
    let forecast = event.forecast.as_ref()?;
    let limit = decimal(forecast.total_limit.as_ref());
    let projected = decimal(forecast.projected_total.as_ref().or(event.projected_total.as_ref()));
    let probability = forecast.probability_over_budget?;
    if forecast.status != "ok"
        || limit <= Decimal::ZERO
        || projected <= limit
        || probability < OVERSPEND_PROBABILITY
    {
        return None;
    }
    let interval = forecast.interval_80.as_ref();
    Some(json!({ "forecast": {
        "month_label": month_label(&event.month),
        "projected_total": projected.to_string(),
        "limit": limit.to_string(),
        "lower_80": amount(interval.and_then(|i| i.lower.as_ref())),
        "upper_80": amount(interval.and_then(|i| i.upper.as_ref())),
        "probability": probability,
        "currency": forecast.currency,
        "over_by": (projected - limit).to_string(),
    }}))
}

/// `insight_generated`: title, body and the amount it names, if any.
pub fn insight(event: &ev::InsightGenerated) -> Value {
    let data: Value = serde_json::from_str(&event.data_json).unwrap_or(Value::Null);
    let text = |key: &str| data.get(key).and_then(Value::as_str).map(str::to_owned);
    let amount = text("amount").filter(|a| a.parse::<Decimal>().is_ok());
    let currency = amount.as_ref().and(text("currency"));
    json!({ "insight": {
        "kind": event.kind,
        "title": event.title,
        "body": event.body,
        "amount": amount,
        "currency": currency,
    }})
}

#[cfg(test)]
mod tests {
    use super::*;
    use budgetsmart_proto::common::v1 as common;

    fn usd(amount: &str) -> Option<Money> {
        Some(money::to_proto(amount.parse().expect("decimal"), "USD"))
    }

    #[test]
    fn labels_months() {
        assert_eq!(month_label("2026-11"), "November 2026");
        assert_eq!(month_label("2026-02-01"), "February 2026");
        assert_eq!(month_label("soon"), "soon");
    }

    #[test]
    fn threshold_names_the_transaction_and_what_is_left() {
        let event = ev::BudgetThresholdReached {
            month: "2026-11".into(),
            scope: "category".into(),
            category_name: Some("Groceries".into()),
            threshold_percent: 80,
            limit: usd("500"),
            spent: usd("412.5"),
            currency: "USD".into(),
            transaction: Some(ev::TransactionData {
                description: "Whole Foods".into(),
                amount: usd("62.5"),
                occurred_on: "2026-11-20".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let alert = &threshold(&event)["alert"];
        assert_eq!(alert["percent_used"], 82);
        assert_eq!(alert["remaining"], "87.5");
        assert_eq!(alert["transaction"]["description"], "Whole Foods");
        assert_eq!(alert["month_label"], "November 2026");
    }

    #[test]
    fn only_a_likely_overspend_is_news() {
        let mut event = ev::PredictionCompleted {
            month: "2026-11".into(),
            forecast: Some(common::MonthEndForecast {
                status: "ok".into(),
                currency: "USD".into(),
                total_limit: usd("1000"),
                projected_total: usd("1200"),
                probability_over_budget: Some(0.8),
                ..Default::default()
            }),
            ..Default::default()
        };
        let news = overspend(&event).expect("over budget is news");
        assert_eq!(news["forecast"]["over_by"], "200");
        if let Some(f) = event.forecast.as_mut() {
            f.probability_over_budget = Some(0.3);
        }
        assert!(overspend(&event).is_none());
    }
}
