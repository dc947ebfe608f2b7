//! The acceptance flow: register, log in, budget 500.00 USD, debits 260.00 and 150.00 → 410.00
//! spent and 82 %, with `budget_threshold_reached` published once each for 50 % and 80 % and
//! recorded by the notification service. Every hop is real: HTTP, gRPC, Postgres, RabbitMQ.

use std::time::Duration;

use budgetsmart_proto::events::v1::BudgetThresholdReached;
use e2e::{TestSystem, this_month};
use prost::Message;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn budget_alerts_flow_from_rest_to_the_notification_service() {
    let system = TestSystem::start().await;
    let mut published = system.listen(&["budget_threshold_reached.v1"]).await;
    let ana = system.register_and_login("ana").await;
    let month = this_month();

    let budget = system
        .call(
            Method::POST,
            "/budgets",
            Some(&ana.token),
            Some(json!({"month": month, "currency": "USD", "total_limit": "500.00"})),
        )
        .await;
    assert_eq!(budget.status, StatusCode::CREATED, "{:?}", budget.body);
    assert_eq!(budget.body["alert_thresholds"], json!([50, 80, 100]));
    let budget_id = budget.body["id"].as_str().expect("id").to_owned();

    for amount in ["260.00", "150.00"] {
        let created = system
            .call(
                Method::POST,
                "/transactions",
                Some(&ana.token),
                Some(json!({"occurred_on": format!("{month}-05"), "description": "Rent", "amount": amount, "currency": "USD", "type": "debit"})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        assert_eq!(created.body["amount"], amount);
    }

    let status =
        system.call(Method::GET, &format!("/budgets/{budget_id}/status"), Some(&ana.token), None).await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.body["spent"], "410.00");
    assert_eq!(status.body["remaining"], "90.00");
    assert_eq!(status.body["percent_used"], json!(82.0));
    assert_eq!(status.body["forecast"], json!(null));

    // Exactly two threshold events on the wire: 50 % then 80 %, none for 100 %.
    let deliveries = published.drain(Duration::from_secs(3)).await;
    let mut thresholds: Vec<u32> = deliveries
        .iter()
        .map(|d| BudgetThresholdReached::decode(d.data.as_slice()).expect("decodes").threshold_percent)
        .collect();
    thresholds.sort_unstable();
    assert_eq!(thresholds, vec![50, 80]);
    let envelope = &deliveries[0].properties;
    assert_eq!(envelope.kind().as_ref().map(|k| k.as_str()), Some("budget_threshold_reached"));
    assert_eq!(envelope.content_type().as_ref().map(|c| c.as_str()), Some("application/x-protobuf"));
    assert_eq!(envelope.app_id().as_ref().map(|a| a.as_str()), Some("engine"));
    assert!(envelope.correlation_id().is_some(), "the request id travels as correlation_id");

    // The notification service recorded both, asked over real gRPC with the user's token.
    let recorded = system.notification_received(&ana.token, "budget_threshold_reached", 2).await;
    assert_eq!(recorded.len(), 2, "notification records both alerts");
    let mut summaries: Vec<String> = recorded.iter().map(|e| e.summary.clone()).collect();
    summaries.sort();
    assert!(summaries[0].starts_with("threshold 50%"), "{summaries:?}");
    assert!(summaries[1].starts_with("threshold 80%"), "{summaries:?}");

    // Analytics saw both transactions, and only those.
    assert_eq!(system.analytics_transactions(2, Duration::from_secs(10)).await, 2, "analytics holds both");

    system.stop().await;
}

#[tokio::test]
async fn a_threshold_fires_again_only_after_spending_drops_below_it() {
    let system = TestSystem::start().await;
    let mut published = system.listen(&["budget_threshold_reached.v1"]).await;
    let ana = system.register_and_login("ana").await;
    let month = this_month();
    let budget = system
        .call(
            Method::POST,
            "/budgets",
            Some(&ana.token),
            Some(
                json!({"month": month, "currency": "USD", "total_limit": "100.00", "alert_thresholds": [50]}),
            ),
        )
        .await;
    assert_eq!(budget.status, StatusCode::CREATED);
    let debit = |amount: &str| json!({"occurred_on": format!("{month}-02"), "description": "Shop", "amount": amount, "currency": "USD", "type": "debit"});

    let first = system.call(Method::POST, "/transactions", Some(&ana.token), Some(debit("60.00"))).await;
    let id = first.body["id"].as_str().expect("id").to_owned();
    // Still above 50 %: no second event.
    system.call(Method::POST, "/transactions", Some(&ana.token), Some(debit("5.00"))).await;
    assert_eq!(published.drain(Duration::from_secs(2)).await.len(), 1);

    // An edit that drops spending to 15 % re-arms; crossing again fires again.
    let edited = system
        .call(
            Method::PATCH,
            &format!("/transactions/{id}"),
            Some(&ana.token),
            Some(json!({"amount": "10.00"})),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);
    assert_eq!(edited.body["currency"], "USD");
    assert!(published.drain(Duration::from_secs(1)).await.is_empty());
    system.call(Method::POST, "/transactions", Some(&ana.token), Some(debit("40.00"))).await;
    assert_eq!(published.drain(Duration::from_secs(2)).await.len(), 1);

    // Deleting drops it below again; a credit does not count as spending.
    let deleted = system.call(Method::DELETE, &format!("/transactions/{id}"), Some(&ana.token), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let credit = json!({"occurred_on": format!("{month}-03"), "description": "Refund", "amount": "90.00", "currency": "USD", "type": "credit"});
    system.call(Method::POST, "/transactions", Some(&ana.token), Some(credit)).await;
    assert!(published.drain(Duration::from_secs(1)).await.is_empty());

    system.stop().await;
}
