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

/// An inbox and a table of what was applied, for the consumer tests.
const INBOX_AND_APPLIED: &str = "CREATE TABLE inbox (consumer text NOT NULL, event_id uuid NOT NULL, \
     event_type text NOT NULL, received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (consumer, event_id)); \
     CREATE TABLE applied (event_id uuid PRIMARY KEY)";

/// The services' outbox, for the relay tests.
const OUTBOX: &str = "CREATE TABLE outbox (id uuid PRIMARY KEY, event_type text NOT NULL, \
     event_version integer NOT NULL, routing_key text NOT NULL, user_id uuid, payload bytea NOT NULL, \
     correlation_id text, traceparent text, tracestate text, occurred_at timestamptz NOT NULL DEFAULT now(), \
     not_before timestamptz, attempts integer NOT NULL DEFAULT 0)";

/// A test's own schema on the shared PostgreSQL, a pool whose connections use it, and bus names
/// no other test shares.
struct Scratch {
    id: String,
    schema: String,
    admin: sqlx::PgPool,
    pool: sqlx::PgPool,
}

impl Scratch {
    async fn new(kind: &str, tables: &str, connections: u32) -> Scratch {
        let id = Uuid::now_v7().simple().to_string();
        let schema = format!("{kind}_{id}");
        let admin = sqlx::PgPool::connect(&admin_database_url()).await.expect("database");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA {schema}; SET search_path = {schema}; {tables}"
        )))
        .execute(&admin)
        .await
        .expect("schema");
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(connections)
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
        Scratch { id: format!("{kind}-{id}"), schema, admin, pool }
    }

    /// A bus on `amqp_url` with this test's exchange and queue names.
    fn bus(&self, amqp_url: String) -> BusConfig {
        BusConfig {
            amqp_url,
            ca_file: None,
            exchange: format!("{}.events", self.id),
            dead_letter_exchange: format!("{}.dlx", self.id),
            queue_prefix: format!("{}.", self.id),
            delivery_limit: 10,
            prefetch: 32,
        }
    }

    /// Rows in `applied` (see [`record_applied`]).
    async fn applied(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM applied").fetch_one(&self.pool).await.unwrap_or(0)
    }

    async fn drop_schema(&self) {
        let sql = format!("DROP SCHEMA {} CASCADE", self.schema);
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&self.admin).await.expect("cleanup");
    }
}

/// What the test handlers do with an event they apply.
async fn record_applied(conn: &mut PgConnection, event: &IncomingEvent) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO applied (event_id) VALUES ($1)").bind(event.id).execute(conn).await?;
    Ok(())
}

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
                    record_applied(conn, event).await?;
                }
            }
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_panicking_or_overflowing_handler_dead_letters_its_event_and_the_consumer_goes_on() {
    let scratch = Scratch::new("faults", INBOX_AND_APPLIED, 4).await;
    let pool = scratch.pool.clone();

    let bus = scratch.bus(amqp_url());
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
    let all =
        eventually(Duration::from_secs(10), || async { (scratch.applied().await == 3).then_some(()) }).await;
    assert!(all.is_some(), "applied {} of 3 good events", scratch.applied().await);

    shutdown.cancel();
    let _ = running.await;
    scratch.drop_schema().await;
}

/// An event no queue is bound for is not deleted from the outbox as if delivered: the broker
/// returns it (`mandatory`), the row stays, and once a queue binds its key it is delivered.
#[tokio::test]
async fn an_unroutable_event_stays_in_the_outbox_until_a_queue_takes_it() {
    use budgetsmart_common::events::{OutboxRelay, OutboxWaker};
    use futures_util::StreamExt;
    use lapin::options::{BasicConsumeOptions, QueueBindOptions};

    let scratch = Scratch::new("unrouted", OUTBOX, 3).await;
    let (schema, admin, pool) = (scratch.schema.clone(), scratch.admin.clone(), scratch.pool.clone());
    let event = Uuid::now_v7();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {schema}.outbox (id, event_type, event_version, routing_key, payload) \
         VALUES ('{event}', 'nobody_listens', 1, 'nobody_listens.v1', '\\x00')"
    )))
    .execute(&admin)
    .await
    .expect("row");

    let bus = scratch.bus(amqp_url());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let relay = OutboxRelay::new(pool.clone(), bus.clone(), "test", &schema, OutboxWaker::default());
    let running = tokio::spawn(relay.run(shutdown.clone()));

    let attempts = || async {
        sqlx::query_scalar::<_, i32>(sqlx::AssertSqlSafe(format!(
            "SELECT attempts FROM {schema}.outbox WHERE id = $1"
        )))
        .bind(event)
        .fetch_optional(&admin)
        .await
        .expect("query")
    };
    let returned =
        eventually(Duration::from_secs(10), || async { attempts().await.filter(|a| *a >= 1) }).await;
    assert!(returned.is_some(), "the returned event is kept and counted: {:?}", attempts().await);

    // A queue for it appears; the relay's next try delivers it and only then deletes the row.
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default()).await.expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
    let queue = channel.queue_declare("".into(), options, FieldTable::default()).await.expect("queue");
    channel
        .queue_bind(
            queue.name().clone(),
            bus.exchange.as_str().into(),
            "nobody_listens.v1".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bound");
    let mut consumer = channel
        .basic_consume(
            queue.name().clone(),
            "witness".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let delivered = tokio::time::timeout(Duration::from_secs(20), consumer.next()).await;
    let delivery = delivered.ok().flatten().expect("delivered once a queue is bound").expect("delivery");
    assert_eq!(delivery.properties.message_id().as_ref().map(|m| m.to_string()), Some(event.to_string()));
    let gone =
        eventually(Duration::from_secs(5), || async { attempts().await.is_none().then_some(()) }).await;
    assert!(gone.is_some(), "the row is deleted once the event was routed");

    shutdown.cancel();
    let _ = running.await;
    scratch.drop_schema().await;
}

/// Holds up each event on the database, counting how many it holds at once.
struct Slow {
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    most: Arc<std::sync::atomic::AtomicUsize>,
}

impl EventHandler for Slow {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a IncomingEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        use std::sync::atomic::Ordering;
        Box::pin(async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            let slept = sqlx::query("SELECT pg_sleep(0.05)").execute(&mut *conn).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            slept?;
            record_applied(conn, event).await?;
            Ok(())
        })
    }
}

/// 32 deliveries in hand do not take 32 of the pool's connections, which the service's API
/// shares: a consumer works on at most four at once.
#[tokio::test]
async fn a_consumer_holds_at_most_four_connections() {
    let scratch = Scratch::new("slow", INBOX_AND_APPLIED, 20).await;
    let pool = scratch.pool.clone();

    let bus = scratch.bus(amqp_url());
    let handler = Slow { in_flight: Arc::default(), most: Arc::default() };
    let most = handler.most.clone();
    let spec =
        ConsumerSpec { queue: "test.events".into(), bindings: vec!["#".into()], handler: Arc::new(handler) };
    let consumer = EventConsumer::new(pool.clone(), bus.clone(), spec);
    consumer.declare().await.expect("queue declared");

    // Queued before the consumer starts, so all 32 are in hand at once; many users, so every
    // lane has work.
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default()).await.expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    for _ in 0..32 {
        let mut headers = FieldTable::default();
        headers
            .insert("user_id".into(), lapin::types::AMQPValue::LongString(Uuid::now_v7().to_string().into()));
        let properties = BasicProperties::default()
            .with_message_id(Uuid::now_v7().to_string().into())
            .with_type("slow".into())
            .with_timestamp(chrono::Utc::now().timestamp() as u64)
            .with_headers(headers);
        channel
            .basic_publish(
                bus.exchange.as_str().into(),
                "slow".into(),
                BasicPublishOptions::default(),
                b"",
                properties,
            )
            .await
            .expect("published")
            .await
            .expect("confirmed");
    }
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(consumer.run(shutdown.clone()));
    let all =
        eventually(Duration::from_secs(20), || async { (scratch.applied().await == 32).then_some(()) }).await;
    assert!(all.is_some(), "all 32 applied");
    let most = most.load(std::sync::atomic::Ordering::SeqCst);
    assert!((1..=4).contains(&most), "{most} events were on the database at once");
    shutdown.cancel();
    let _ = running.await;
    scratch.drop_schema().await;
}

/// A broker that stops answering mid-publish (a resource alarm blocks publishers) does not
/// hold the relay's transaction, and the outbox rows it locked, for as long as it stays so:
/// the batch gives up after its deadline, rolls back, and goes out once the broker answers.
#[tokio::test]
async fn a_relay_waiting_on_a_silent_broker_lets_go_of_its_rows() {
    use budgetsmart_common::events::{OutboxRelay, OutboxWaker};
    use futures_util::StreamExt;
    use lapin::options::{BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions};

    let scratch = Scratch::new("frozen", OUTBOX, 3).await;
    let (id, schema, admin, pool) =
        (scratch.id.clone(), scratch.schema.clone(), scratch.admin.clone(), scratch.pool.clone());
    let insert = |event: Uuid| {
        let (admin, schema) = (admin.clone(), schema.clone());
        async move {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {schema}.outbox (id, event_type, event_version, routing_key, payload) \
                 VALUES ('{event}', 'frozen', 1, 'frozen.v1', '\\x00')"
            )))
            .execute(&admin)
            .await
            .expect("row");
        }
    };

    // A witness on the real broker; the relay reaches it through a proxy the test can freeze.
    let exchange = format!("{id}.events");
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default()).await.expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
    channel
        .exchange_declare(
            exchange.as_str().into(),
            lapin::ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await
        .expect("exchange");
    let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
    let queue = channel.queue_declare("".into(), options, FieldTable::default()).await.expect("queue");
    channel
        .queue_bind(
            queue.name().clone(),
            exchange.as_str().into(),
            "frozen.v1".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bound");
    let mut witness = channel
        .basic_consume(
            queue.name().clone(),
            "witness".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let proxy = e2e::proxy::TcpProxy::start(e2e::url_addr(&amqp_url(), 5672)).await;
    let bus = scratch.bus(format!("amqp://guest:guest@{}/%2f", proxy.addr()));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let relay = OutboxRelay::new(pool.clone(), bus, "test", &schema, OutboxWaker::default());
    let running = tokio::spawn(relay.run(shutdown.clone()));
    let next = |witness: &mut lapin::Consumer, within: u64| {
        let mut witness = witness.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(within), witness.next())
                .await
                .ok()
                .flatten()
                .and_then(Result::ok)
                .and_then(|d| d.properties.message_id().as_ref().map(|m| m.to_string()))
        }
    };
    let first = Uuid::now_v7();
    insert(first).await;
    assert_eq!(next(&mut witness, 10).await, Some(first.to_string()), "the relay is connected");

    proxy.freeze();
    let second = Uuid::now_v7();
    insert(second).await;
    tokio::time::sleep(Duration::from_secs(2)).await; // the relay's poll takes the row
    // The row is free again once the relay gives up on the broker (10 s deadline).
    let released = eventually(Duration::from_secs(20), || {
        let (admin, schema) = (admin.clone(), schema.clone());
        async move {
            let mut tx = admin.begin().await.ok()?;
            let locked = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT 1 FROM {schema}.outbox WHERE id = $1 FOR UPDATE NOWAIT"
            )))
            .bind(second)
            .fetch_optional(&mut *tx)
            .await;
            (matches!(locked, Ok(Some(_)))).then_some(())
        }
    })
    .await;
    assert!(released.is_some(), "the relay still holds the outbox row while the broker is silent");

    proxy.thaw();
    let mut seen = Vec::new();
    while let Some(message) = next(&mut witness, 20).await {
        seen.push(message.clone());
        if message == second.to_string() {
            break;
        }
    }
    assert!(seen.contains(&second.to_string()), "delivered once the broker answers: {seen:?}");

    shutdown.cancel();
    let _ = running.await;
    let _ = channel.exchange_delete(exchange.as_str().into(), Default::default()).await;
    scratch.drop_schema().await;
}
