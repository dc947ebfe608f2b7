//! A consumer survives its handler: a panic dead-letters that one event instead of ending the
//! consumer's task, and a data error (numeric overflow) is dead-lettered at once instead of
//! being retried for minutes. Real PostgreSQL and RabbitMQ, a consumer of the common crate.

use std::sync::Arc;
use std::time::Duration;

use budgetsmart_common::events::{
    BusConfig, ConsumerSpec, EventConsumer, EventHandler, HandlerError, IncomingEvent,
};
use e2e::{admin_database_url, amqp_url, eventually};
use futures_util::future::BoxFuture;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use sqlx::PgConnection;
use uuid::Uuid;

/// Applies `ok` events as a row, panics on `panic`, overflows a numeric on `overflow`.
struct Picky;

impl EventHandler for Picky {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a IncomingEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            match event.event_type.as_str() {
                "panic" => panic!("a bug in a handler"),
                "overflow" => {
                    sqlx::query("SELECT 123456.78::numeric(6, 2)").execute(&mut *conn).await?;
                }
                _ => {
                    sqlx::query("INSERT INTO applied (event_id) VALUES ($1)")
                        .bind(event.id)
                        .execute(&mut *conn)
                        .await?;
                }
            }
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_panicking_or_overflowing_handler_dead_letters_its_event_and_the_consumer_goes_on() {
    let id = Uuid::now_v7().simple().to_string();
    let schema = format!("faults_{id}");
    let admin = sqlx::PgPool::connect(&admin_database_url()).await.expect("database");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .expect("schema");
    for table in [
        "CREATE TABLE inbox (consumer text NOT NULL, event_id uuid NOT NULL, event_type text NOT NULL, \
         received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (consumer, event_id))",
        "CREATE TABLE applied (event_id uuid PRIMARY KEY)",
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SET search_path = {schema}; {table}")))
            .execute(&admin)
            .await
            .expect("table");
    }
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .after_connect({
            let schema = schema.clone();
            move |conn, _| {
                let schema = schema.clone();
                Box::pin(async move {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SET search_path = {schema}")))
                        .execute(conn)
                        .await?;
                    Ok(())
                })
            }
        })
        .connect(&admin_database_url())
        .await
        .expect("pool");

    let bus = BusConfig {
        amqp_url: amqp_url(),
        ca_file: None,
        exchange: format!("faults-{id}.events"),
        dead_letter_exchange: format!("faults-{id}.dlx"),
        queue_prefix: format!("faults-{id}."),
        delivery_limit: 10,
        prefetch: 32,
    };
    let spec =
        ConsumerSpec { queue: "test.events".into(), bindings: vec!["#".into()], handler: Arc::new(Picky) };
    let consumer = EventConsumer::new(pool.clone(), bus.clone(), spec);
    consumer.declare().await.expect("queue declared");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(consumer.run(shutdown.clone()));

    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default()).await.expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    let publish = |kind: &'static str| {
        let channel = channel.clone();
        let exchange = bus.exchange.clone();
        async move {
            let id = Uuid::now_v7();
            let properties = BasicProperties::default()
                .with_message_id(id.to_string().into())
                .with_type(kind.into())
                .with_timestamp(chrono::Utc::now().timestamp() as u64);
            channel
                .basic_publish(
                    exchange.as_str().into(),
                    kind.into(),
                    BasicPublishOptions::default(),
                    b"",
                    properties,
                )
                .await
                .expect("published");
            id
        }
    };
    let mut good = vec![publish("ok").await];
    publish("panic").await;
    publish("overflow").await;
    good.push(publish("ok").await);

    let applied = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM applied").fetch_one(&pool).await.unwrap_or(0)
    };
    let dlq_depth = || async {
        let passive = QueueDeclareOptions { passive: true, ..Default::default() };
        let dlq = format!("{}.dlq", bus.queue_name("test.events"));
        channel
            .queue_declare(dlq.as_str().into(), passive, FieldTable::default())
            .await
            .map(|q| q.message_count())
            .unwrap_or(0)
    };
    // Well inside the half minute of in-place retries a transient failure would get.
    let dead = eventually(Duration::from_secs(10), || async { (dlq_depth().await == 2).then_some(()) }).await;
    assert!(dead.is_some(), "both bad events dead-lettered promptly; the DLQ holds {}", dlq_depth().await);
    assert!(!running.is_finished(), "the consumer is still running after a handler panicked");

    // And it still applies what comes after.
    good.push(publish("ok").await);
    let all = eventually(Duration::from_secs(10), || {
        let pool = pool.clone();
        async move { (applied(pool).await == 3).then_some(()) }
    })
    .await;
    assert!(all.is_some(), "applied {} of 3 good events", applied(pool.clone()).await);

    shutdown.cancel();
    let _ = running.await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .expect("cleanup");
}
