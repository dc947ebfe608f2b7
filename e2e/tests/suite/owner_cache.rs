//! The engine's owner cache (issue 25): a create takes the owner's home currency and
//! categories from memory, and the write itself checks them. Here the database is changed
//! under a running engine, as another replica would change it, with no invalidation reaching
//! this one: every later create must still be filed by the truth, never by the stale entry.
//! Real PostgreSQL, RabbitMQ, gRPC and HTTP.

use std::time::Duration;

use budgetsmart_proto::events::v1::TransactionCreated;
use e2e::TestSystem;
use prost::Message;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

#[tokio::test]
async fn a_stale_cached_owner_never_files_a_create_wrong() {
    let system = TestSystem::start().await;
    let mut created_events = system.listen(&["transaction_created.v1"]).await;
    let user = system.register_and_login("ownercache").await;
    let user_id = Uuid::parse_str(&user.user_id).expect("a user id");
    let dining = system.category_ids(&user).await["Dining"].clone();
    let create = |description: &str, category: Option<&str>| {
        let mut body = json!({
            "occurred_on": "2026-03-02", "description": description, "amount": "12.50",
            "currency": if description == "Snack" { "EUR" } else { "USD" }, "type": "debit",
        });
        if let Some(category) = category {
            body["category_id"] = Value::from(category);
        }
        body
    };

    // The first create reads the owner and caches it: USD, and Dining by that name.
    let first = system
        .call(Method::POST, "/transactions", Some(&user.token), Some(create("Lunch", Some(&dining))))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    // In the home currency, so the answer carries no conversion (the stored rows are checked below).
    assert_eq!(first.body["home_currency"], Value::Null, "{:?}", first.body);

    // Another replica changes the home currency and renames the category; this engine hears
    // nothing of it.
    let engine = system.pool("engine").await;
    sqlx::query("UPDATE users SET default_currency = 'EUR' WHERE id = $1")
        .bind(user_id)
        .execute(&engine)
        .await
        .expect("home currency changed underneath");
    sqlx::query("UPDATE categories SET name = 'Eating out' WHERE user_id = $1 AND id = $2::uuid")
        .bind(user_id)
        .bind(&dining)
        .execute(&engine)
        .await
        .expect("category renamed underneath");
    let coffee = Uuid::now_v7();
    sqlx::query("INSERT INTO categories (id, user_id, name, kind) VALUES ($1, $2, 'Coffee', 'expense')")
        .bind(coffee)
        .bind(user_id)
        .execute(&engine)
        .await
        .expect("category made underneath");

    // The stale entry says USD and "Dining": the write notices, and the row is filed in EUR
    // with the category's current name in its event.
    let second = system
        .call(Method::POST, "/transactions", Some(&user.token), Some(create("Dinner", Some(&dining))))
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{:?}", second.body);
    assert_eq!(second.body["home_currency"], "EUR", "filed in the current home currency");
    assert_eq!(second.body["category_id"], dining.as_str());
    // A category the entry has never seen is taken too.
    let third = system
        .call(
            Method::POST,
            "/transactions",
            Some(&user.token),
            Some(create("Flat white", Some(&coffee.to_string()))),
        )
        .await;
    assert_eq!(third.status, StatusCode::CREATED, "{:?}", third.body);
    assert_eq!(third.body["home_currency"], "EUR");
    assert_eq!(third.body["category_id"], coffee.to_string().as_str());
    // And once refreshed, the cached path takes a euro payment as the home currency's.
    let fourth =
        system.call(Method::POST, "/transactions", Some(&user.token), Some(create("Snack", None))).await;
    assert_eq!(fourth.status, StatusCode::CREATED, "{:?}", fourth.body);
    assert_eq!(fourth.body["home_currency"], Value::Null, "{:?}", fourth.body);

    let stored: Vec<(String, Option<rust_decimal::Decimal>)> = sqlx::query_as(
        "SELECT t.home_currency::text, t.home_amount FROM transactions t \
         WHERE t.user_id = $1 ORDER BY t.id",
    )
    .bind(user_id)
    .fetch_all(&engine)
    .await
    .expect("reads");
    let homes: Vec<&str> = stored.iter().map(|(home, _)| home.trim()).collect();
    assert_eq!(homes, ["USD", "EUR", "EUR", "EUR"]);
    assert_eq!(
        stored[3].1,
        Some(rust_decimal::Decimal::new(1250, 2)),
        "a euro payment is its own home amount"
    );

    let mut names = std::collections::HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while names.len() < 4 && tokio::time::Instant::now() < deadline {
        for delivery in created_events.drain(Duration::from_millis(300)).await {
            let event = TransactionCreated::decode(delivery.data.as_slice()).expect("decodes");
            let data = event.transaction.expect("carries the transaction");
            if data.user_id == user.user_id {
                names.insert(data.description.clone(), data.category_name.clone());
            }
        }
    }
    assert_eq!(names.get("Lunch"), Some(&Some("Dining".to_owned())));
    assert_eq!(
        names.get("Dinner"),
        Some(&Some("Eating out".to_owned())),
        "the event names the category as it is now"
    );
    assert_eq!(names.get("Flat white"), Some(&Some("Coffee".to_owned())));
    assert_eq!(names.len(), 4, "one event per create");
}
