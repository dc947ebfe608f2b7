//! Bad input gets a 4xx problem+json naming the field, and nothing is written.

use std::time::Duration;

use e2e::{TestSystem, this_month};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn invalid_transactions_and_budgets_are_refused_and_nothing_is_written() {
    let system = TestSystem::start().await;
    let mut published = system.listen(&["transaction_created.v1", "budget_updated.v1"]).await;
    let ana = system.register_and_login("ana").await;
    let month = this_month();
    let good = json!({"occurred_on": format!("{month}-01"), "description": "Coffee", "amount": "3.50", "currency": "USD", "type": "debit"});
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let cases = [
        ("negative amount", with("amount", json!("-5.00")), "amount"),
        ("zero amount", with("amount", json!("0")), "amount"),
        ("too many places", with("amount", json!("3.505")), "amount"),
        ("not a number", with("amount", json!("three")), "amount"),
        ("float amount", with("amount", json!(3.5)), "amount"),
        ("unknown currency", with("currency", json!("XYZ")), "currency"),
        ("bad date", with("occurred_on", json!("2026-02-30")), "occurred_on"),
        ("not a date", with("occurred_on", json!("yesterday")), "occurred_on"),
        ("over-long description", with("description", json!("x".repeat(501))), "description"),
        ("blank description", with("description", json!("  ")), "description"),
        (
            "unknown category",
            with("category_id", json!("0190d8a4-0000-7000-8000-000000000000")),
            "category_id",
        ),
        ("malformed category", with("category_id", json!("nope")), "category_id"),
        ("blank category (null means none)", with("category_id", json!("")), "category_id"),
        ("bad type", with("type", json!("transfer")), "type"),
        (
            "missing amount",
            {
                let mut b = good.clone();
                b.as_object_mut().expect("object").remove("amount");
                b
            },
            "amount",
        ),
    ];
    for (name, body, field) in cases {
        let reply = system.call(Method::POST, "/transactions", Some(&ana.token), Some(body)).await;
        assert!(reply.status.is_client_error(), "{name}: {}", reply.status);
        assert!(reply.is_problem(), "{name}");
        assert_eq!(reply.body["status"], reply.status.as_u16(), "{name}");
        assert!(reply.error_fields().contains(&field.to_owned()), "{name}: {:?}", reply.body);
    }

    // Malformed JSON is a 400, not a 500 and not a partial write.
    let malformed = system
        .http
        .post(format!("{}/transactions", system.api))
        .bearer_auth(&ana.token)
        .header("content-type", "application/json")
        .body("{\"amount\": \"1.00\",")
        .send()
        .await
        .expect("answers");
    let malformed = e2e::reply(malformed).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(malformed.is_problem());

    let budgets = [
        (json!({"month": "2026-13", "currency": "USD", "total_limit": "10.00"}), "month"),
        (json!({"month": month, "currency": "usd", "total_limit": "10.00"}), "currency"),
        (json!({"month": month, "currency": "JPY", "total_limit": "10.5"}), "total_limit"),
        (
            json!({"month": month, "currency": "USD", "total_limit": "10.00", "alert_thresholds": [0]}),
            "alert_thresholds",
        ),
        (
            json!({"month": month, "currency": "USD", "total_limit": "10.00", "category_limits": [{"category_id": "0190d8a4-0000-7000-8000-000000000000", "limit": "5.00"}]}),
            "category_limits[0].category_id",
        ),
    ];
    for (body, field) in budgets {
        let reply = system.call(Method::POST, "/budgets", Some(&ana.token), Some(body)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(reply.error_fields().contains(&field.to_owned()), "{field}: {:?}", reply.body);
    }

    let listed = system.call(Method::GET, "/transactions", Some(&ana.token), None).await;
    assert_eq!(listed.body["data"], json!([]));
    let listed = system.call(Method::GET, "/budgets", Some(&ana.token), None).await;
    assert_eq!(listed.body["data"], json!([]));
    assert!(published.drain(Duration::from_secs(1)).await.is_empty(), "no event for a refused write");

    let bad_register = system
        .call(
            Method::POST,
            "/auth/register",
            None,
            Some(json!({"email": "not-an-email", "password": "short", "name": ""})),
        )
        .await;
    assert_eq!(bad_register.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields = bad_register.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["email", "name", "password"]);
    system.stop().await;
}

/// A file the gateway accepts (up to 32 MiB) reaches the engine's own checks: tonic's default
/// 4 MiB message limit used to refuse it first, with an error the client could not act on.
/// Past the limit, 413.
#[tokio::test]
async fn a_large_file_reaches_the_engine_and_a_larger_one_is_413() {
    let system = TestSystem::start().await;
    let ana = system.register_and_login("ana").await;
    // 10 MiB with no column of days: the engine's answer, not a transport error, comes back.
    let mut csv = String::from("what,where,who\n");
    while csv.len() < 10 * 1024 * 1024 {
        csv.push_str("a line long enough to fill the file quickly,without many rows,nobody\n");
    }
    let reply = system.import_csv(&ana.token, csv.clone()).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
    assert_eq!(reply.error_fields(), vec!["file"], "{:?}", reply.body);
    assert!(reply.body.to_string().contains("date"), "{:?}", reply.body);
    while csv.len() <= 32 * 1024 * 1024 {
        csv.push_str("a line long enough to fill the file quickly,without many rows,nobody\n");
    }
    let reply = system.import_csv(&ana.token, csv).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{:?}", reply.body);
    system.stop().await;
}
