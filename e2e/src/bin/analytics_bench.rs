//! Analytics benchmarks for `make bench`, against the bench database and bus from the
//! environment (`DATABASE_URL`, `AMQP_URL`, `EVENTS_EXCHANGE`).
//!
//! - `analytics_bench publish EVENTS USERS`: puts EVENTS `transaction_created` events for USERS
//!   synthetic users on the exchange (with the analytics consumer stopped, they wait in its queue).
//! - `analytics_bench drain EVENTS`: waits until analytics has applied them, then prints the
//!   apply rate measured from the inbox's own timestamps, first to last.
//! - `analytics_bench retrain RUNS`: writes two years of history for one user straight into the
//!   read model (daily totals and about 2,900 transactions) and times a retraining
//!   (`trainer::forecast_user`, then `trainer::review_user`), and `behaviour::review`
//!   (recurring payments, anomalies, insights, the categorisation model) alone, each rolled
//!   back, RUNS times.
//! - `analytics_bench categorize REQUESTS`: registers a user through the gateway (`GATEWAY`),
//!   imports a labelled history, waits for their model, then times REQUESTS sequential
//!   `Categorize` calls straight to analytics (`ANALYTICS_URL`) against gRPC health checks on the
//!   same channel (the baseline), and `POST /transactions/categorize` through the gateway.

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
        Some("categorize") => categorize(&database_url, arg(&args, 2, "REQUESTS")?).await,
        _ => anyhow::bail!(
            "usage: analytics_bench publish EVENTS USERS | drain EVENTS | retrain RUNS | categorize REQUESTS"
        ),
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
                category_source: "import".into(),
                category_confidence: None,
                home_amount: None,
                rate_pending: false,
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
    // The transactions behind them, as review reads them: four a day at 40 merchants spread
    // over the categories, with store numbers, plus a monthly subscription.
    sqlx::query(
        "INSERT INTO transactions (transaction_id, user_id, version, occurred_on, description, merchant, amount, \
         currency, kind, category_id, category_name) \
         SELECT gen_random_uuid(), $1, 1, d::date, 'MERCHANT ' || chr(65 + m % 26) || chr(65 + m / 26) || ' #' || n, \
                'merchant ' || lower(chr(65 + m % 26) || chr(65 + m / 26)), round((8 + m + random() * (10 + m))::numeric, 2), \
                'USD', 'debit', ($3::uuid[])[1 + m % 8], 'Category ' || (m % 8) \
         FROM generate_series($2::date - 730, $2::date, interval '1 day') d, generate_series(1, 4) n, \
              LATERAL (SELECT (abs(hashtext(d::text || n)) % 40) AS m) pick",
    )
    .bind(user)
    .bind(today)
    .bind(&categories)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO transactions (transaction_id, user_id, version, occurred_on, description, merchant, amount, \
         currency, kind, category_id, category_name) \
         SELECT gen_random_uuid(), $1, 1, d::date, 'NETFLIX.COM', 'netflix', 15.49, 'USD', 'debit', $3, 'Subscriptions' \
         FROM generate_series($2::date - 730, $2::date, interval '1 month') d",
    )
    .bind(user)
    .bind(today)
    .bind(categories[0])
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
        let (_, inputs) = analytics::trainer::forecast_user(&mut tx, user).await?;
        analytics::trainer::review_user(&mut tx, user, Some(inputs)).await?;
        timings.push(started.elapsed().as_secs_f64() * 1_000.0);
        tx.rollback().await?;
    }
    let mut reviews = Vec::with_capacity(runs);
    let profile = {
        let mut conn = pool.acquire().await?;
        analytics::profile::load(&mut conn, user).await?
    };
    for _ in 0..runs.max(1) {
        let mut tx = pool.begin().await?;
        let started = Instant::now();
        // The review as retraining runs it, reading its history first.
        let inputs = analytics::recurring::scan::inputs(&mut tx, user, today).await?;
        analytics::behaviour::review(&mut tx, user, &profile, today, inputs, Vec::new()).await?;
        reviews.push(started.elapsed().as_secs_f64() * 1_000.0);
        tx.rollback().await?;
    }
    let debits: i64 = sqlx::query_scalar("SELECT count(*) FROM transactions WHERE user_id = $1")
        .bind(user)
        .fetch_one(&pool)
        .await?;
    let series: i64 = {
        let mut tx = pool.begin().await?;
        analytics::trainer::forecast_user(&mut tx, user).await?;
        let n = sqlx::query_scalar("SELECT count(*) FROM ml_models WHERE user_id = $1")
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
        tx.rollback().await?;
        n
    };
    for table in ["daily_totals", "budgets", "transactions", "users"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE user_id = $1")))
            .bind(user)
            .execute(&pool)
            .await?;
    }
    let at = |t: &[f64], q: f64| percentile(t, q);
    println!("| history | 731 days × {CATEGORIES} categories, {debits} debits |");
    println!("| series selected per retraining | {series} (total and each category, monthly models) |");
    println!("| retraining runs | {} |", timings.len());
    println!("| retraining time p50 (forecasts and review) | {:.1} ms |", at(&timings, 0.5));
    println!("| retraining time p95 | {:.1} ms |", at(&timings, 0.95));
    println!(
        "| review alone p50 (recurring, anomalies, insights, categorisation model) | {:.1} ms |",
        at(&reviews, 0.5)
    );
    println!("| review alone p95 | {:.1} ms |", at(&reviews, 0.95));
    println!(
        "| debits scored per second of review (p50) | {:.0} |",
        debits as f64 / (at(&reviews, 0.5) / 1_000.0)
    );
    Ok(())
}

/// The `q` quantile (nearest rank) of `samples`.
fn percentile(samples: &[f64], q: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(((sorted.len().max(1) - 1) as f64 * q).round() as usize).copied().unwrap_or(f64::NAN)
}

/// The median and the 99th percentile of `samples`.
fn percentiles(samples: Vec<f64>) -> (f64, f64) {
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

async fn categorize(database_url: &str, requests: usize) -> anyhow::Result<()> {
    use budgetsmart_proto::analytics::v1 as pb;
    use budgetsmart_proto::analytics::v1::analytics_client::AnalyticsClient;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    let gateway = std::env::var("GATEWAY").unwrap_or_else(|_| "http://127.0.0.1:18080".into());
    let analytics_url = std::env::var("ANALYTICS_URL")?;
    let http = reqwest::Client::new();
    let api = format!("{gateway}/api/v1");
    let token = e2e::bench_user(&http, &api, "categorize").await?;
    let listed: serde_json::Value =
        http.get(format!("{api}/categories")).bearer_auth(&token).send().await?.json().await?;
    let options: Vec<pb::CategoryOption> = listed["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| pb::CategoryOption {
            id: c["id"].as_str().unwrap_or_default().into(),
            name: c["name"].as_str().unwrap_or_default().into(),
            kind: c["kind"].as_str().unwrap_or_default().into(),
        })
        .collect();
    // 300 labelled transactions at 30 merchants, with bank-style store numbers and cities.
    let merchants = [
        ("WHOLE FOODS MARKET", "Groceries"),
        ("TRADER JOES", "Groceries"),
        ("KROGER", "Groceries"),
        ("STARBUCKS", "Dining"),
        ("CHIPOTLE", "Dining"),
        ("SHAKE SHACK", "Dining"),
        ("SHELL OIL", "Transportation"),
        ("UBER TRIP", "Transportation"),
        ("CHEVRON", "Transportation"),
        ("AMAZON MKTPLACE", "Shopping"),
        ("TARGET", "Shopping"),
        ("BEST BUY", "Shopping"),
        ("CVS PHARMACY", "Health"),
        ("WALGREENS", "Health"),
        ("AMC THEATRES", "Entertainment"),
    ];
    let today = Utc::now().date_naive();
    let mut csv = String::from("date,description,amount,currency,category\n");
    for i in 0..300usize {
        let (name, category) = merchants[i % merchants.len()];
        let day = today - Days::days((i % 180) as i64);
        csv.push_str(&format!(
            "{day},{name} #{} AUSTIN TX,-{}.{:02},USD,{category}\n",
            1000 + i * 37 % 9000,
            5 + i % 90,
            i % 100
        ));
    }
    let imported = http
        .post(format!("{api}/transactions/import"))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await?;
    anyhow::ensure!(imported.status().is_success(), "import: {}", imported.status());
    let pool = PgPool::connect(database_url).await?;
    let user: Uuid = login_user(&token)?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let trained: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM analytics.categorizer_models WHERE user_id = $1)",
        )
        .bind(user)
        .fetch_one(&pool)
        .await?;
        if trained {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the user's model was not trained within two minutes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let channel = tonic::transport::Endpoint::from_shared(analytics_url)?.connect().await?;
    let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {token}").parse()?;
    let mut client = AnalyticsClient::new(channel.clone());
    let mut health = HealthClient::new(channel);
    let texts = [
        "POS WHOLE FOODS MKT #99123 DALLAS TX",
        "SQ *STARBUCKS 0042 SEATTLE WA",
        "SHELL OIL 57442 *8812",
        "TARGET T-1234 PORTLAND OR",
    ];
    let (mut direct, mut baseline, mut through_gateway) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..requests + 50 {
        let mut request = tonic::Request::new(pb::CategorizeRequest {
            items: vec![pb::CategorizeItem {
                description: texts[i % texts.len()].into(),
                amount: Some(Money { currency_code: "USD".into(), units: 20 + (i % 50) as i64, nanos: 0 }),
                r#type: "debit".into(),
            }],
            categories: options.clone(),
        });
        request.metadata_mut().insert("authorization", bearer.clone());
        let started = Instant::now();
        let answer = client.categorize(request).await?.into_inner();
        let elapsed = started.elapsed().as_secs_f64() * 1_000.0;
        anyhow::ensure!(
            answer.results.first().is_some_and(|r| r.category_id.is_some()),
            "no suggestion: {answer:?}"
        );
        let started = Instant::now();
        health.check(HealthCheckRequest { service: String::new() }).await?;
        let health_elapsed = started.elapsed().as_secs_f64() * 1_000.0;
        let started = Instant::now();
        let reply = http
            .post(format!("{api}/transactions/categorize"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"description": texts[i % texts.len()], "amount": "20.00", "currency": "USD"}))
            .send()
            .await?;
        anyhow::ensure!(reply.status().is_success(), "categorize: {}", reply.status());
        let _ = reply.bytes().await?;
        let http_elapsed = started.elapsed().as_secs_f64() * 1_000.0;
        // The first 50 warm the connections and the model copy in memory.
        if i >= 50 {
            direct.push(elapsed);
            baseline.push(health_elapsed);
            through_gateway.push(http_elapsed);
        }
    }
    let (d50, d99) = percentiles(direct);
    let (b50, b99) = percentiles(baseline);
    let (g50, g99) = percentiles(through_gateway);
    println!("| requests (sequential, after 50 to warm up) | {requests} |");
    println!("| `Categorize` straight to analytics, p50 / p99 | {d50:.2} ms / {d99:.2} ms |");
    println!("| baseline: gRPC health check on the same channel, p50 / p99 | {b50:.2} ms / {b99:.2} ms |");
    println!(
        "| `POST /transactions/categorize` through the gateway, p50 / p99 | {g50:.2} ms / {g99:.2} ms |"
    );
    Ok(())
}

/// The user id (`sub`) of an access token, read without verifying (the bench issued it).
fn login_user(token: &str) -> anyhow::Result<Uuid> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).ok_or_else(|| anyhow::anyhow!("not a JWT"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes)?;
    Ok(Uuid::parse_str(claims["sub"].as_str().unwrap_or_default())?)
}
