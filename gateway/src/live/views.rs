//! The JSON each live event carries (the SSE `data`), shaped like the matching REST answers.

use budgetsmart_common::events::DomainEvent;
use budgetsmart_common::money;
use budgetsmart_proto::events::v1 as ev;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use crate::json;

pub(super) fn decode<E: DomainEvent>(payload: &[u8]) -> Result<E, String> {
    E::decode(payload).map_err(|e| format!("cannot decode {}: {e}", E::NAME))
}

fn to_json<T: Serialize>(view: &T) -> Result<String, String> {
    serde_json::to_string(view).map_err(|e| format!("cannot serialize the view: {e}"))
}

/// The event's static name, the payload's user id and the JSON view.
pub(super) fn view(name: &str, payload: &[u8]) -> Result<(&'static str, String, String), String> {
    match name {
        ev::NotificationSent::NAME => {
            let n = decode::<ev::NotificationSent>(payload)?;
            let user = n.user_id.clone();
            Ok((ev::NotificationSent::NAME, user, to_json(&NotificationView::from(n))?))
        }
        ev::InsightGenerated::NAME => {
            let i = decode::<ev::InsightGenerated>(payload)?;
            let user = i.user_id.clone();
            Ok((ev::InsightGenerated::NAME, user, to_json(&InsightView::from(i))?))
        }
        ev::AnomalyDetected::NAME => {
            let a = decode::<ev::AnomalyDetected>(payload)?;
            let user = a.user_id.clone();
            Ok((ev::AnomalyDetected::NAME, user, to_json(&AnomalyView::from(a))?))
        }
        ev::BudgetThresholdReached::NAME => {
            let t = decode::<ev::BudgetThresholdReached>(payload)?;
            let user = t.user_id.clone();
            Ok((ev::BudgetThresholdReached::NAME, user, to_json(&ThresholdView::from(t))?))
        }
        ev::GoalReached::NAME => {
            let g = decode::<ev::GoalReached>(payload)?;
            let view = GoalView::new(g.goal.unwrap_or_default(), g.occurred_at);
            Ok((ev::GoalReached::NAME, view.user.clone(), to_json(&view)?))
        }
        ev::GoalAtRisk::NAME => {
            let g = decode::<ev::GoalAtRisk>(payload)?;
            let view = GoalView::new(g.goal.unwrap_or_default(), g.occurred_at);
            Ok((ev::GoalAtRisk::NAME, view.user.clone(), to_json(&view)?))
        }
        other => Err(format!("{other:?} is not a live event")),
    }
}

/// `goal_reached` and `goal_at_risk`: the goal's numbers, as `GET /goals/{id}` names them.
#[derive(Serialize)]
struct GoalView {
    #[serde(skip)]
    user: String,
    goal_id: String,
    name: String,
    target_amount: String,
    currency: String,
    saved: String,
    remaining: String,
    target_date: Option<String>,
    projected_completion: Option<String>,
    monthly_needed: Option<String>,
    occurred_at: Option<String>,
}

impl GoalView {
    fn new(g: ev::GoalData, occurred_at: Option<prost_types::Timestamp>) -> Self {
        let day = |d: String| Some(d).filter(|d| !d.is_empty());
        GoalView {
            user: g.user_id,
            goal_id: g.goal_id,
            name: g.name,
            currency: g.target_amount.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default(),
            target_amount: json::amount(&g.target_amount),
            saved: json::amount(&g.saved),
            remaining: json::amount(&g.remaining),
            target_date: day(g.target_date),
            projected_completion: day(g.projected_completion),
            monthly_needed: g.monthly_needed.map(|m| json::amount(&Some(m))),
            occurred_at: json::timestamp(occurred_at),
        }
    }
}

/// `notification_sent`: an email went out (or finally failed).
#[derive(Serialize)]
struct NotificationView {
    notification_id: String,
    /// What the email was about (the notification's `kind`), or `digest`.
    kind: String,
    channel: String,
    status: String,
    occurred_at: Option<String>,
}

impl From<ev::NotificationSent> for NotificationView {
    fn from(n: ev::NotificationSent) -> Self {
        NotificationView {
            notification_id: n.notification_id,
            kind: n.template,
            channel: n.channel,
            status: n.status,
            occurred_at: json::timestamp(n.occurred_at),
        }
    }
}

/// `insight_generated`, shaped like an item of `GET /insights`.
#[derive(Serialize)]
struct InsightView {
    insight_id: String,
    kind: String,
    title: String,
    body: String,
    amount: Option<String>,
    currency: Option<String>,
    generated_at: Option<String>,
}

impl From<ev::InsightGenerated> for InsightView {
    fn from(i: ev::InsightGenerated) -> Self {
        // Analytics writes the amount as a decimal string already formatted for its currency.
        let data: Value = serde_json::from_str(&i.data_json).unwrap_or(Value::Null);
        let text = |key: &str| data.get(key).and_then(Value::as_str).map(str::to_owned);
        InsightView {
            amount: text("amount"),
            currency: text("currency"),
            insight_id: i.insight_id,
            kind: i.kind,
            title: i.title,
            body: i.body,
            generated_at: json::timestamp(i.generated_at),
        }
    }
}

/// `anomaly_detected`, shaped like an item of `GET /analytics/anomalies`.
#[derive(Serialize)]
struct AnomalyView {
    anomaly_id: String,
    transaction_id: String,
    kind: String,
    /// A JSON number in [0, 1], as in the anomalies list (a score is not money).
    score: Value,
    explanation: String,
    amount: Option<String>,
    currency: Option<String>,
    description: String,
    occurred_on: String,
    category_id: Option<String>,
    detected_at: Option<String>,
}

impl From<ev::AnomalyDetected> for AnomalyView {
    fn from(a: ev::AnomalyDetected) -> Self {
        AnomalyView {
            score: a
                .score
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number),
            amount: a.amount.is_some().then(|| json::amount(&a.amount)),
            currency: a.amount.as_ref().map(|m| m.currency_code.clone()),
            anomaly_id: a.anomaly_id,
            transaction_id: a.transaction_id,
            kind: a.kind,
            explanation: a.explanation,
            description: a.description,
            occurred_on: a.occurred_on,
            category_id: a.category_id,
            detected_at: json::timestamp(a.detected_at),
        }
    }
}

/// `budget_threshold_reached`: spending in a budget (or one of its categories) crossed a
/// threshold.
#[derive(Serialize)]
struct ThresholdView {
    budget_id: String,
    month: String,
    /// `total` or `category`.
    scope: String,
    category_id: Option<String>,
    category_name: Option<String>,
    /// The threshold crossed, in percent of the limit.
    threshold: u32,
    limit: String,
    spent: String,
    currency: String,
    /// Spent as a percentage of the limit, a JSON number as in the budget status.
    percent_used: Option<f64>,
    transaction_id: Option<String>,
    occurred_at: Option<String>,
}

impl From<ev::BudgetThresholdReached> for ThresholdView {
    fn from(t: ev::BudgetThresholdReached) -> Self {
        let decimal = |m: &Option<budgetsmart_proto::common::v1::Money>| {
            m.as_ref().and_then(|m| money::from_proto(m).ok()).map(|(value, _)| value)
        };
        let percent_used = match (decimal(&t.spent), decimal(&t.limit)) {
            (Some(spent), Some(limit)) if limit > Decimal::ZERO => spent
                .checked_mul(Decimal::from(100))
                .and_then(|scaled| scaled.checked_div(limit))
                .and_then(|p| json::percent(&p.round_dp(2).normalize().to_string())),
            _ => None,
        };
        let currency = if t.currency.is_empty() {
            t.limit.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default()
        } else {
            t.currency.clone()
        };
        ThresholdView {
            limit: json::amount(&t.limit),
            spent: json::amount(&t.spent),
            percent_used,
            currency,
            budget_id: t.budget_id,
            month: t.month,
            scope: t.scope,
            category_id: t.category_id,
            category_name: t.category_name,
            threshold: t.threshold_percent,
            transaction_id: t.transaction_id,
            occurred_at: json::timestamp(t.occurred_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    #[test]
    fn threshold_view_has_money_as_decimal_strings() {
        let payload = ev::BudgetThresholdReached {
            budget_id: "b".into(),
            user_id: "u".into(),
            month: "2025-03".into(),
            scope: "total".into(),
            threshold_percent: 80,
            limit: Some(money::to_proto(Decimal::new(100, 0), "USD")),
            spent: Some(money::to_proto(Decimal::new(8550, 2), "USD")),
            currency: "USD".into(),
            ..Default::default()
        }
        .encode_to_vec();
        let (name, user, data) = view("budget_threshold_reached", &payload).expect("a view");
        assert_eq!((name, user.as_str()), ("budget_threshold_reached", "u"));
        let data: Value = serde_json::from_str(&data).expect("JSON");
        assert_eq!(data["limit"], "100.00");
        assert_eq!(data["spent"], "85.50");
        assert_eq!(data["currency"], "USD");
        assert_eq!(data["threshold"], 80);
        assert_eq!(data["percent_used"], 85.5);
        assert_eq!(data["category_id"], Value::Null);
    }

    #[test]
    fn views_are_deterministic_and_cover_each_kind() {
        let anomaly = ev::AnomalyDetected {
            anomaly_id: "a".into(),
            user_id: "u".into(),
            score: "0.9100".into(),
            amount: Some(money::to_proto(Decimal::new(1200, 0), "JPY")),
            ..Default::default()
        }
        .encode_to_vec();
        let first = view("anomaly_detected", &anomaly).expect("a view");
        assert_eq!(first, view("anomaly_detected", &anomaly).expect("a view"));
        let data: Value = serde_json::from_str(&first.2).expect("JSON");
        assert_eq!(data["score"], 0.91);
        assert_eq!(data["amount"], "1200");
        assert_eq!(data["currency"], "JPY");

        let insight = ev::InsightGenerated {
            insight_id: "i".into(),
            user_id: "u".into(),
            data_json: r#"{"amount":"12.30","currency":"USD"}"#.into(),
            ..Default::default()
        }
        .encode_to_vec();
        let data: Value =
            serde_json::from_str(&view("insight_generated", &insight).expect("a view").2).expect("JSON");
        assert_eq!(data["amount"], "12.30");

        let sent =
            ev::NotificationSent { template: "welcome".into(), status: "sent".into(), ..Default::default() }
                .encode_to_vec();
        let data: Value =
            serde_json::from_str(&view("notification_sent", &sent).expect("a view").2).expect("JSON");
        assert_eq!(data["kind"], "welcome");

        assert!(view("transaction_created", &[]).is_err());
        assert!(view("insight_generated", &[0xff, 0xff]).is_err());
    }
}
