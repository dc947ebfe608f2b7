//! One request is one trace: gateway → gRPC → outbox → AMQP → consumers, every service.

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::{TestSystem, eventually, this_month};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| match &kv.value {
        Value::String(s) => s.as_str().to_owned(),
        other => other.to_string(),
    })
}

#[tokio::test]
async fn a_debit_crossing_a_threshold_is_one_trace_in_every_service() {
    // Before the system starts: the first subscriber installed in the process wins.
    let exporter = InMemorySpanExporter::default();
    budgetsmart_common::telemetry::init_with_exporter("e2e", exporter.clone());
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    let month = this_month();
    let budget =
        json!({"month": month, "currency": "USD", "total_limit": "100.00", "alert_thresholds": [50]});
    assert_eq!(
        system.call(Method::POST, "/budgets", Some(&ana.token), Some(budget)).await.status,
        StatusCode::CREATED
    );
    exporter.reset();

    // No traceparent from the client: the gateway starts the trace.
    let debit = json!({"occurred_on": format!("{month}-02"), "description": "Groceries", "amount": "60.00", "currency": "USD", "type": "debit"});
    let reply = system.call(Method::POST, "/transactions", Some(&ana.token), Some(debit)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");

    let trace_of_post = eventually(Duration::from_secs(5), || async {
        exporter.get_finished_spans().ok()?.into_iter().find_map(|span| {
            let is_post = attribute(&span, "method").as_deref() == Some("POST")
                && attribute(&span, "path").as_deref() == Some("/api/v1/transactions");
            is_post.then_some(span.span_context.trace_id())
        })
    })
    .await
    .expect("the gateway recorded the request's span");

    let wanted: BTreeSet<&str> = ["gateway", "engine", "analytics", "notification"].into();
    let seen = eventually(Duration::from_secs(15), || async {
        let spans = exporter.get_finished_spans().ok()?;
        let services: BTreeSet<String> = spans
            .iter()
            .filter(|span| span.span_context.trace_id() == trace_of_post)
            .filter_map(|span| attribute(span, "service"))
            .collect();
        wanted.iter().all(|w| services.contains(*w)).then_some(services)
    })
    .await;
    let spans = exporter.get_finished_spans().unwrap_or_default();
    let in_trace: Vec<String> = spans
        .iter()
        .filter(|s| s.span_context.trace_id() == trace_of_post)
        .map(|s| format!("{} service={:?}", s.name, attribute(s, "service")))
        .collect();
    let seen = seen.unwrap_or_else(|| panic!("spans of every service share the trace; got {in_trace:#?}"));
    assert!(seen.is_superset(&wanted.iter().map(|s| s.to_string()).collect()));

    // Consumer spans continue the trace from the AMQP headers: the threshold event reached
    // notification inside the same trace.
    assert!(
        spans.iter().any(|s| s.span_context.trace_id() == trace_of_post
            && s.name == "event.consume"
            && attribute(s, "service").as_deref() == Some("notification")),
        "{in_trace:#?}"
    );
    system.stop().await;
}
