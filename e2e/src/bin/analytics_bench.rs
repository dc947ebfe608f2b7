//! Analytics benchmarks for `make bench`, against the bench database and bus from the
//! environment (`DATABASE_URL`, `AMQP_URL`, `EVENTS_EXCHANGE`).
//!
//! - `analytics_bench publish EVENTS USERS`: puts EVENTS `transaction_created` events for USERS
//!   synthetic users on the exchange (with the analytics consumer stopped, they wait in its queue).
//! - `analytics_bench drain EVENTS`: waits until analytics has applied them, then prints the
//!   apply rate measured from the inbox's own timestamps, first to last.
//! - `analytics_bench retrain RUNS`: writes two years of daily history for one user straight
//!   into the read model and times `trainer::train_user` (rolled back) RUNS times.

use std::time::{Duration, Instant};

use budgetsmart_common::events::{BusConfig, DomainEvent};
use budgetsmart_proto::common::v1::Money;
use budgetsmart_proto::events::v1::{TransactionCreated, TransactionData};
use chrono::{Duration as Days, Utc};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use prost::Message;
use sqlx::PgPool;
use uuid::Uuid;

const CATEGORIES: usize = 8;

fn arg<T: std::str::FromStr>(args: &[String], i: usize, name: &str) -> anyhow::Result<T> {
    args.get(i).and_then(|v| v.parse().ok()).ok_or_else(|| anyhow::anyhow!("missing or invalid {name}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let database_url = std::env::var("DATABASE_URL")?;
    match args.get(1).map(String::as_str) {
        Some("publish") => publish(arg(&args, 2, "EVENTS")?, arg(&args, 3, "USERS")?).await,
        Some("drain") => drain(&database_url, arg(&args, 2, "EVENTS")?).await,
        Some("retrain") => retrain(&database_url, arg(&args, 2, "RUNS")?).await,
        _ => anyhow::bail!("usage: analytics_bench publish EVENTS USERS | drain EVENTS | retrain RUNS"),
    }
}

/// A deterministic amount in cents for event `i`.
fn cents(i: usize) -> i64 {
    (i as i64 * 7_919) % 20_000 + 99
}

async fn publish(events: usize, users: usize) -> anyhow::Result<()> {
    let bus = BusConfig::from_env()?;
    let connection = Connection::connect(&bus.amqp_url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    let users: Vec<Uuid> = (0..users.max(1)).map(|_| Uuid::now_v7()).collect();
    let categories: Vec<Uuid> = (0..CATEGORIES).map(|_| Uuid::now_v7()).collect();
    let today = Utc::now().date_naive();
    let started = Instant::now();
    let mut pending = Vec::with_capacity(1_000);
    for i in 0..events {
        let user = users[i % users.len()];
        let amount = cents(i);
        let payload = TransactionCreated {
            transaction: Some(TransactionData {
                transaction_id: Uuid::now_v7().to_string(),
                user_id: user.to_string(),
                occurred_on: (today - Days::days((i % 730) as i64)).to_string(),
                description: format!("Merchant {} #{}", i % 40, i % 997),
                amount: Some(Money {
                    currency_code: "USD".into(),
                    units: amount / 100,
                    nanos: (amount % 100) as i32 * 10_000_000,
                }),
                r#type: "debit".into(),
                category_id: Some(categories[i % CATEGORIES].to_string()),
                version: 1,
                category_name: None,
            }),
            source: "import".into(),
            occurred_at: None,
        };
        let mut headers = FieldTable::default();
        headers.insert("user_id".into(), AMQPValue::LongString(user.to_string().into()));
        let properties = BasicProperties::default()
            .with_message_id(Uuid::now_v7().to_string().into())
            .with_type(TransactionCreated::NAME.into())
            .with_content_type("application/x-protobuf".into())
            .with_delivery_mode(2)
            .with_headers(headers);
        let confirm = channel
            .basic_publish(
                bus.exchange.as_str().into(),
                TransactionCreated::routing_key().as_str().into(),
                BasicPublishOptions::default(),
                &payload.encode_to_vec(),
                properties,
            )
            .await?;
        pending.push(confirm);
        if pending.len() == 1_000 {
            for confirm in pending.drain(..) {
                confirm.await?;
            }
        }
    }
    for confirm in pending {
        confirm.await?;
    }
    eprintln!("published {events} events in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

async fn drain(database_url: &str, events: i64) -> anyhow::Result<()> {
    let pool = PgPool::connect(database_url).await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let count = "SELECT count(*) FROM analytics.inbox WHERE event_type = 'transaction_created' \
                 AND received_at > now() - interval '1 hour'";
    loop {
        let applied: i64 = sqlx::query_scalar(count).fetch_one(&pool).await?;
        if applied >= events {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "only {applied} of {events} applied after 10 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The inbox row is written in the applying transaction, so its timestamps time the consumer
    // alone: no start-up, no polling.
    let seconds: f64 = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM max(received_at) - min(received_at))::float8 FROM \
         (SELECT received_at FROM analytics.inbox WHERE event_type = 'transaction_created' \
          ORDER BY received_at DESC LIMIT $1) latest",
    )
    .bind(events)
    .fetch_one(&pool)
    .await?;
    let rate = (events - 1) as f64 / seconds.max(1e-9);
    println!("| transaction events applied | {events} |");
    println!("| time, first to last | {seconds:.2} s |");
    println!("| events per second | {rate:.0} |");
    Ok(())
}

async fn retrain(database_url: &str, runs: usize) -> anyhow::Result<()> {
    let pool = budgetsmart_common::database::connect(database_url, "analytics", 2).await?;
    let user = Uuid::now_v7();
    let today = Utc::now().date_naive();
    let categories: Vec<Uuid> = (0..CATEGORIES).map(|_| Uuid::now_v7()).collect();
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO users (user_id, default_currency, timezone) VALUES ($1, 'USD', 'UTC')")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    // Two years of days, each category spending most days, with a weekly and a yearly rhythm.
    sqlx::query(
        "INSERT INTO daily_totals (user_id, currency, day, category_id, spent, income, debit_count, credit_count) \
         SELECT $1, 'USD', d::date, c, round((20 + 15 * (extract(dow FROM d) IN (5, 6))::int \
                + 10 * sin(extract(doy FROM d) / 58.0) + random() * 30)::numeric, 2), 0, 1, 0 \
         FROM generate_series($2::date - 730, $2::date, interval '1 day') d, unnest($3::uuid[]) c",
    )
    .bind(user)
    .bind(today)
    .bind(&categories)
    .execute(&mut *tx)
    .await?;
    let limits: Vec<serde_json::Value> =
        categories.iter().map(|c| serde_json::json!({"category_id": c, "limit": "900.00"})).collect();
    sqlx::query(
        "INSERT INTO budgets (budget_id, user_id, month, currency, total_limit, category_limits, version) \
         VALUES ($1, $2, date_trunc('month', $3::date)::date, 'USD', 6000, $4, 1)",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(today)
    .bind(serde_json::Value::Array(limits))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    let mut timings = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let mut tx = pool.begin().await?;
        let started = Instant::now();
        analytics::trainer::train_user(&mut tx, user).await?;
        timings.push(started.elapsed().as_secs_f64() * 1_000.0);
        tx.rollback().await?;
    }
    let series: i64 = {
        let mut tx = pool.begin().await?;
        analytics::trainer::train_user(&mut tx, user).await?;
        let n = sqlx::query_scalar("SELECT count(*) FROM ml_models WHERE user_id = $1")
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
        tx.rollback().await?;
        n
    };
    for table in ["daily_totals", "budgets", "users"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE user_id = $1")))
            .bind(user)
            .execute(&pool)
            .await?;
    }
    timings.sort_by(f64::total_cmp);
    let at = |q: f64| timings[((timings.len() - 1) as f64 * q).round() as usize];
    println!("| history | 731 days × {CATEGORIES} categories |");
    println!("| series selected per retraining | {series} (total and each category, monthly models) |");
    println!("| retraining runs | {} |", timings.len());
    println!("| retraining time p50 | {:.1} ms |", at(0.5));
    println!("| retraining time p95 | {:.1} ms |", at(0.95));
    Ok(())
}
