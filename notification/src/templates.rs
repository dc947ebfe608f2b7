//! The email templates (`notification/templates/`), compiled into the binary.
//!
//! Every kind has `<kind>.txt`, which extends `layout.txt` and holds the `subject` and
//! `summary` (the digest's one line) blocks, and `<kind>.html`, which extends `layout.html`.
//! `.html` templates autoescape, so text a user typed is shown, never run. Undefined values
//! are errors: a template that names a field the code does not supply fails its unit test
//! instead of mailing a blank.

use minijinja::value::Serde;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};
use rust_decimal::Decimal;

use crate::money_format::format_money;

/// Template sources, by name.
const SOURCES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("layout.txt", include_str!("../templates/layout.txt")),
    ("welcome.html", include_str!("../templates/welcome.html")),
    ("password_reset.html", include_str!("../templates/password_reset.html")),
    ("password_reset.txt", include_str!("../templates/password_reset.txt")),
    ("verify_email.html", include_str!("../templates/verify_email.html")),
    ("verify_email.txt", include_str!("../templates/verify_email.txt")),
    ("email_changed.html", include_str!("../templates/email_changed.html")),
    ("email_changed.txt", include_str!("../templates/email_changed.txt")),
    ("welcome.txt", include_str!("../templates/welcome.txt")),
    ("budget_threshold_reached.html", include_str!("../templates/budget_threshold_reached.html")),
    ("budget_threshold_reached.txt", include_str!("../templates/budget_threshold_reached.txt")),
    ("anomaly_detected.html", include_str!("../templates/anomaly_detected.html")),
    ("anomaly_detected.txt", include_str!("../templates/anomaly_detected.txt")),
    ("projected_overspend.html", include_str!("../templates/projected_overspend.html")),
    ("projected_overspend.txt", include_str!("../templates/projected_overspend.txt")),
    ("insight_generated.html", include_str!("../templates/insight_generated.html")),
    ("insight_generated.txt", include_str!("../templates/insight_generated.txt")),
    ("monthly_summary.html", include_str!("../templates/monthly_summary.html")),
    ("monthly_summary.txt", include_str!("../templates/monthly_summary.txt")),
    ("goal_reached.html", include_str!("../templates/goal_reached.html")),
    ("goal_reached.txt", include_str!("../templates/goal_reached.txt")),
    ("goal_at_risk.html", include_str!("../templates/goal_at_risk.html")),
    ("goal_at_risk.txt", include_str!("../templates/goal_at_risk.txt")),
    ("digest.html", include_str!("../templates/digest.html")),
    ("digest.txt", include_str!("../templates/digest.txt")),
];

/// One rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line, on one line.
    pub subject: String,
    /// The one-line summary the digest lists.
    pub summary: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// The compiled templates.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Compiles every template; fails on a syntax error.
    pub fn new() -> Result<Templates, Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_filter("money", money);
        env.add_filter("pct", pct);
        for (name, source) in SOURCES {
            env.add_template(name, source)?;
            // The subject alone, as `<kind>.subject`: a subject is listed when the email is
            // queued, before the rest of its data may exist (the summary's figures).
            if let Some(kind) = name.strip_suffix(".txt")
                && let Some(subject) = block(source, "subject")
            {
                env.add_template_owned(format!("{kind}.subject"), subject.to_owned())?;
            }
        }
        Ok(Templates { env })
    }

    /// Renders the pair named `template` with `context`.
    pub fn render(&self, template: &str, context: &serde_json::Value) -> Result<Rendered, Error> {
        let ctx = Value::from(Serde(context));
        let mut text = self.env.get_template(&format!("{template}.txt"))?.render_captured(ctx.clone())?;
        let subject = one_line(&text.with_state_mut(|state| state.render_block("subject"))?);
        let summary = one_line(&text.with_state_mut(|state| state.render_block("summary"))?);
        let html = self.env.get_template(&format!("{template}.html"))?.render(ctx)?;
        Ok(Rendered { subject, summary, text: text.into_output(), html })
    }

    /// Only the subject line, for listing an email before it is rendered in full.
    pub fn subject(&self, template: &str, context: &serde_json::Value) -> Result<String, Error> {
        let ctx = Value::from(Serde(context));
        Ok(one_line(&self.env.get_template(&format!("{template}.subject"))?.render(ctx)?))
    }
}

/// The body of `{% block name %}…{% endblock %}` in `source`.
fn block<'a>(source: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("{{% block {name} %}}");
    let start = source.find(&open)? + open.len();
    let end = source[start..].find("{% endblock %}")? + start;
    Some(&source[start..end])
}

/// Subjects include text users typed: newlines there would break the header.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `{{ amount|money(currency) }}`: a decimal string (or number) as money.
fn money(amount: Value, currency: String) -> Result<String, Error> {
    let raw = amount.to_string();
    let value: Decimal = raw
        .trim()
        .parse()
        .map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("{raw:?} is not an amount")))?;
    Ok(format_money(value, &currency))
}

/// `{{ ratio|pct }}`: 0.873 as "87%".
fn pct(ratio: f64) -> String {
    format!("{:.0}%", (ratio * 100.0).clamp(-1e9, 1e9))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn with_common(mut payload: serde_json::Value) -> serde_json::Value {
        payload["user"] = json!({ "name": "Ada", "email": "ada@example.com" });
        payload["links"] = json!({
            "base_url": "https://app.example",
            "preferences_url": "https://app.example/settings/notifications",
            "unsubscribe_url": "https://app.example/api/v1/notifications/unsubscribe?token=t",
        });
        payload["currency"] = json!("USD");
        payload
    }

    fn samples() -> Vec<(&'static str, serde_json::Value)> {
        let alert = json!({ "alert": {
            "threshold_percent": 80, "scope": "category", "category_name": "Groceries",
            "month_label": "November 2026", "limit": "500", "spent": "520.5", "remaining": "-20.5",
            "percent_used": 104, "currency": "USD",
            "transaction": { "description": "<script>alert(1)</script>", "amount": "57.25", "currency": "EUR",
                "home_amount": "62.5", "home_currency": "USD", "occurred_on": "2026-11-20" },
        }});
        let anomaly = json!({ "anomaly": {
            "kind": "amount_spike", "kind_label": "Unusually large charge", "score": 0.93,
            "explanation": "7.5× your usual spend", "description": "<b>Whole Foods</b>", "amount": "640.8",
            "currency": "EUR", "paid": "700", "paid_currency": "CHF", "occurred_on": "2026-11-21",
            "category_name": null,
        }});
        let forecast = json!({ "forecast": {
            "month_label": "November 2026", "projected_total": "1200", "limit": "1000", "lower_80": "1100",
            "upper_80": "1300", "probability": 0.81, "currency": "USD", "over_by": "200",
        }});
        let insight = json!({ "insight": {
            "kind": "price_increase", "title": "Netflix went up", "body": "From 15.49 to 17.99.",
            "amount": "2.5", "currency": "USD",
        }});
        let summary = json!({ "summary": {
            "month_label": "November 2026", "currency": "USD", "total_spent": "1834.2", "total_income": "3000",
            "net": "1165.8",
            "budget": { "total_limit": "2000", "spent": "1834.2", "percent_used": 92, "categories": [
                { "name": "Groceries", "spent": "520.5", "limit": "500", "percent_used": 104, "over": true },
            ]},
            "categories": [{ "name": "Groceries", "spent": "520.5", "count": 14 }],
            "changes": [{ "name": "Dining", "change_pct": 23.5, "spent": "310", "previous": "251" }],
            "forecast": { "month_label": "December 2026", "projected_total": "2100", "lower_80": "1900",
                "upper_80": "2300", "limit": "2000", "probability": 0.62,
                "explanation": "About 2,100.00 USD by the end of December 2026." },
            "coming": [{ "merchant": "Maple Street", "kind": "housing", "expected_amount": "1450",
                "next_expected": "2026-12-01", "explanation": "Maple Street is your housing payment." }],
            "insights": [{ "title": "Room to save on <Dining>", "body": "You spent 310.00 USD." }],
            "anomalies": [{ "description": "<i>Hotel</i>", "amount": "640", "occurred_on": "2026-11-02", "explanation": "Large first charge" }],
            "chart_cid": "chart",
        }});
        let digest = json!({ "items": [
            { "kind": "anomaly_detected", "subject": "Unusual <transaction>", "summary": "One line." },
        ]});
        let goal = |projected: serde_json::Value| {
            json!({ "goal": {
                "name": "<Trip> to Lisbon", "target": "3000", "saved": "1200", "remaining": "1800",
                "monthly_needed": "450", "target_date": "30 April 2027", "projected_completion": projected,
                "currency": "EUR",
            }})
        };
        vec![
            ("welcome", json!({})),
            ("budget_threshold_reached", alert),
            ("anomaly_detected", anomaly),
            ("projected_overspend", forecast),
            ("insight_generated", insight),
            ("monthly_summary", summary),
            ("digest", digest),
            ("password_reset", json!({ "token": "abc_DEF-123", "valid_minutes": 30 })),
            ("verify_email", json!({ "token": "abc_DEF-123", "valid_hours": 24, "change": false })),
            ("verify_email", json!({ "token": "abc_DEF-123", "valid_hours": 24, "change": true })),
            ("email_changed", json!({ "new_email": "a***@example.org", "pending": true })),
            ("email_changed", json!({ "new_email": "a***@example.org", "pending": false })),
            ("goal_reached", goal(json!(null))),
            ("goal_at_risk", goal(json!("31 August 2027"))),
            ("goal_at_risk", goal(json!(null))),
        ]
    }

    #[test]
    fn every_kind_renders_both_parts_with_subject_and_summary() {
        let templates = Templates::new().expect("templates compile");
        for (name, payload) in samples() {
            let rendered =
                templates.render(name, &with_common(payload)).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert!(!rendered.subject.is_empty() && !rendered.subject.contains('\n'), "{name} subject");
            assert!(!rendered.summary.is_empty(), "{name} summary");
            assert!(rendered.text.starts_with("Hi Ada,"), "{name} text: {}", rendered.text);
            assert!(rendered.text.contains("unsubscribe?token=t"), "{name} text has the link");
            assert!(rendered.html.contains("<table"), "{name} html uses tables");
            assert!(!rendered.html.contains("<script"), "{name} html has no script");
        }
    }

    #[test]
    fn user_text_is_escaped_in_html_and_verbatim_in_text() {
        let templates = Templates::new().expect("templates compile");
        let (_, alert) = samples().into_iter().nth(1).expect("the alert sample");
        let rendered = templates.render("budget_threshold_reached", &with_common(alert)).expect("renders");
        assert!(rendered.html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{}", rendered.html);
        assert!(rendered.text.contains("<script>alert(1)</script>"));
        assert!(rendered.text.contains("Over by:    $20.50"), "{}", rendered.text);
        // A payment in another currency says both amounts.
        assert!(rendered.text.contains("57.25 ($62.50) on 2026-11-20"), "{}", rendered.text);
        assert!(rendered.subject.contains("80% of your Groceries budget for November 2026"));
        // So does an anomaly: what was paid, then what it counts in the home currency.
        let (_, anomaly) = samples().into_iter().nth(2).expect("the anomaly sample");
        let rendered = templates.render("anomaly_detected", &with_common(anomaly)).expect("renders");
        assert!(rendered.text.contains("Amount:       700.00 CHF (€640.80)"), "{}", rendered.text);
        let (_, summary) = samples().into_iter().nth(5).expect("the summary sample");
        let rendered = templates.render("monthly_summary", &with_common(summary)).expect("renders");
        assert!(rendered.html.contains("cid:chart"));
        assert!(rendered.html.contains("$1,834.20"));
        assert!(rendered.text.contains("Maple Street is your housing payment."), "{}", rendered.text);
        assert!(
            rendered.text.contains("About 2,100.00 USD by the end of December 2026."),
            "{}",
            rendered.text
        );
        assert!(rendered.html.contains("Room to save on &lt;Dining&gt;"), "{}", rendered.html);
    }

    #[test]
    fn a_missing_field_is_an_error_not_a_blank() {
        let templates = Templates::new().expect("templates compile");
        assert!(templates.render("anomaly_detected", &with_common(json!({}))).is_err());
    }
}
