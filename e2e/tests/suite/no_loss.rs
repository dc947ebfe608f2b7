//! Faults lose nothing: events of changes made while the broker is unreachable are published
//! once it returns, and a message delivered twice is applied once.

use std::net::SocketAddr;
use std::time::Duration;

use budgetsmart_proto::common::v1::Money;
use budgetsmart_proto::events::v1::{TransactionCreated, TransactionData};
use e2e::proxy::TcpProxy;
use e2e::{Options, TestSystem, admin_database_url, amqp_url, eventually, this_month, url_addr};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use prost::Message;
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

/// The broker's address, from `AMQP_URL`.
fn broker_addr() -> SocketAddr {
    url_addr(&amqp_url(), 5672)
}

/// How many messages wait in analytics' dead-letter queue.
async fn dead_lettered(system: &TestSystem) -> u32 {
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default()).await.expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    let dlq = format!("{}.dlq", system.bus.queue_name("analytics.events"));
    let passive = QueueDeclareOptions { passive: true, ..Default::default() };
    let queue =
        channel.queue_declare(dlq.as_str().into(), passive, FieldTable::default()).await.expect("exists");
    queue.message_count()
}

/// A `transaction_created` payload: a new 3.xx USD coffee for `user_id`, `nanos` the fraction.
fn coffee(user_id: Uuid, nanos: i32) -> Vec<u8> {
    TransactionCreated {
        transaction: Some(TransactionData {
            transaction_id: Uuid::now_v7().to_string(),
            user_id: user_id.to_string(),
            occurred_on: "2026-11-01".into(),
            description: "Coffee".into(),
            amount: Some(Money { currency_code: "USD".into(), units: 3, nanos }),
            r#type: "debit".into(),
            category_id: None,
            version: 1,
            category_name: None,
            ..Default::default()
        }),
        source: "api".into(),
        occurred_at: None,
    }
    .encode_to_vec()
}

#[tokio::test]
async fn changes_made_while_the_broker_is_down_are_published_once_it_returns() {
    let proxy = TcpProxy::start(broker_addr()).await;
    let system = TestSystem::start_with(Options {
        engine_amqp_url: Some(format!("amqp://guest:guest@{}/%2f", proxy.addr())),
        ..Options::default()
    })
    .await;
    let mut published = system.listen(&["transaction_created.v1"]).await;
    let ana = system.register_and_login("ana").await;
    let month = this_month();

    proxy.cut();
    for i in 0..3 {
        let body = json!({"occurred_on": format!("{month}-0{}", i + 1), "description": format!("Lunch {i}"), "amount": "12.50", "currency": "USD", "type": "debit"});
        let created = system.call(Method::POST, "/transactions", Some(&ana.token), Some(body)).await;
        assert_eq!(created.status, StatusCode::CREATED, "writes do not depend on the broker");
    }
    let engine_db = system.pool("engine").await;
    let waiting: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = 'transaction_created'")
            .fetch_one(&engine_db)
            .await
            .expect("counts");
    assert_eq!(waiting, 3, "the events wait in the outbox");
    assert!(published.drain(Duration::from_millis(1500)).await.is_empty());

    proxy.restore();
    let mut deliveries = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while deliveries.len() < 3 && tokio::time::Instant::now() < deadline {
        deliveries.extend(published.drain(Duration::from_millis(500)).await);
    }
    assert!(deliveries.len() >= 3, "all three are published after the broker returns");
    deliveries.extend(published.drain(Duration::from_secs(2)).await);
    let mut ids: Vec<String> = deliveries
        .iter()
        .map(|d| d.properties.message_id().as_ref().expect("message id").to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!((deliveries.len(), ids.len()), (3, 3), "published once each");
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&engine_db).await.expect("counts");
    assert_eq!(left, 0);

    // And the consumer applied each exactly once.
    assert_eq!(system.analytics_transactions(3, Duration::from_secs(10)).await, 3);
    system.stop().await;
}

#[tokio::test]
async fn a_duplicate_delivery_is_applied_once_and_garbage_is_dead_lettered() {
    let system = TestSystem::start().await;
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default()).await.expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    let user_id = Uuid::now_v7();
    let event_id = Uuid::now_v7();
    let payload = coffee(user_id, 500_000_000);
    let user = user_id.to_string();
    system.publish("transaction_created", event_id, &user, &payload).await;
    system.publish("transaction_created", event_id, &user, &payload).await;
    system.publish("transaction_created", Uuid::now_v7(), &user, b"\xff\xfe not protobuf").await;

    let dlq = format!("{}.dlq", system.bus.queue_name("analytics.events"));
    let dead = eventually(Duration::from_secs(10), || {
        let (channel, dlq) = (channel.clone(), dlq.clone());
        async move {
            let passive = QueueDeclareOptions { passive: true, ..Default::default() };
            let queue =
                channel.queue_declare(dlq.as_str().into(), passive, FieldTable::default()).await.ok()?;
            (queue.message_count() == 1).then_some(())
        }
    })
    .await;
    assert!(dead.is_some(), "the undecodable message lands in the dead-letter queue at once");

    let analytics_db = system.pool("analytics").await;
    let count = |sql: &'static str, id: Uuid| {
        let db = analytics_db.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).bind(id).fetch_one(&db).await.expect("counts") }
    };
    let held = "SELECT count(*) FROM transactions WHERE user_id = $1";
    let applied =
        eventually(Duration::from_secs(10), || async { (count(held, user_id).await == 1).then_some(()) })
            .await;
    assert!(applied.is_some());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(count(held, user_id).await, 1, "applied once");
    // Exact to the cent: the duplicate added nothing to the daily total.
    let spent: rust_decimal::Decimal =
        sqlx::query_scalar("SELECT sum(spent) FROM daily_totals WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&analytics_db)
            .await
            .expect("sums");
    assert_eq!(spent, rust_decimal::Decimal::new(35, 1));
    assert_eq!(
        count("SELECT count(*) FROM inbox WHERE event_id = $1", event_id).await,
        1,
        "recorded once in the inbox"
    );
    system.stop().await;
}

#[tokio::test]
async fn a_consumer_waits_out_a_database_outage_instead_of_dead_lettering() {
    let proxy = TcpProxy::start(url_addr(&admin_database_url(), 5432)).await;
    let system =
        TestSystem::start_with(Options { analytics_postgres: Some(proxy.addr()), ..Options::default() })
            .await;
    let ana = system.register_and_login("ana").await;
    let month = this_month();

    // Analytics loses its database; the engine (direct connection) keeps publishing.
    proxy.cut();
    for description in ["Books", "Train"] {
        let body = json!({"occurred_on": format!("{month}-02"), "description": description, "amount": "9.00", "currency": "USD", "type": "debit"});
        let created = system.call(Method::POST, "/transactions", Some(&ana.token), Some(body)).await;
        assert_eq!(created.status, StatusCode::CREATED);
    }
    // Longer than the test bus's five deliveries would last if each failure were requeued.
    tokio::time::sleep(Duration::from_secs(8)).await;
    proxy.restore();

    let applied = system.analytics_transactions(2, Duration::from_secs(30)).await;
    assert_eq!(applied, 2, "both events are applied once the database is back");

    assert_eq!(dead_lettered(&system).await, 0, "an outage is not a poison message");
    system.stop().await;
}

#[tokio::test]
async fn retention_sweeps_old_inbox_rows_and_refuses_events_older_than_the_window() {
    use budgetsmart_common::events::retention;

    let system = TestSystem::start().await;
    let analytics_db = system.pool("analytics").await;
    let window = Duration::from_secs(14 * 86_400);

    // Rows received 20 days ago go; a row received now stays.
    let (old, recent) = (Uuid::now_v7(), Uuid::now_v7());
    for (id, age) in [(old, "20 days"), (recent, "0 days")] {
        sqlx::query(
            "INSERT INTO inbox (consumer, event_id, event_type, received_at) \
             VALUES ('retention-test', $1, 'transaction_created', now() - $2::interval)",
        )
        .bind(id)
        .bind(age)
        .execute(&analytics_db)
        .await
        .expect("inserts");
    }
    let deleted = retention::sweep(&analytics_db, window).await.expect("sweeps");
    assert!(deleted >= 1, "the old row was swept");
    let left: Vec<Uuid> = sqlx::query_scalar("SELECT event_id FROM inbox WHERE consumer = 'retention-test'")
        .fetch_all(&analytics_db)
        .await
        .expect("reads");
    assert_eq!(left, vec![recent], "only rows received within the window stay");

    // An event created 20 days ago may have lost its inbox row to that sweep: it is refused
    // (acknowledged, not applied, not dead-lettered). A fresh one is applied.
    let user_id = Uuid::now_v7();
    let twenty_days_ago = (chrono::Utc::now() - chrono::Duration::days(20)).timestamp() as u64;
    let stale = Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, twenty_days_ago, 0));
    let user = user_id.to_string();
    system.publish("transaction_created", stale, &user, &coffee(user_id, 0)).await;
    system.publish("transaction_created", Uuid::now_v7(), &user, &coffee(user_id, 0)).await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM transactions WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&analytics_db)
            .await
            .expect("counts")
    };
    let applied = eventually(Duration::from_secs(10), || async { (count().await >= 1).then_some(()) }).await;
    assert!(applied.is_some(), "the fresh event is applied");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(count().await, 1, "the event older than the window is not");
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE event_id = $1")
        .bind(stale)
        .fetch_one(&analytics_db)
        .await
        .expect("counts");
    assert_eq!(recorded, 0, "nor recorded");
    assert_eq!(dead_lettered(&system).await, 0, "refused, not dead-lettered");
    system.stop().await;
}
