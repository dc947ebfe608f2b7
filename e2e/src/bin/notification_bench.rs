//! Notification benchmarks for `make bench`, against the running bench services' database and
//! bus (`DATABASE_URL`, `AMQP_URL`, `EVENTS_EXCHANGE`) and the local SMTP sink (`SMTP_PORT`,
//! default 1025).
//!
//! - `notification_bench baseline EMAILS CONCURRENCY`: the service's SMTP client alone hands
//!   EMAILS copies of one pre-rendered alert to the sink over CONCURRENCY connections: the
//!   sink's ceiling, with no database, templates or bus.
//! - `notification_bench burst USERS EMAILS`: stores USERS recipients, publishes EMAILS
//!   `budget_threshold_reached` events at once, and waits until every email is sent; prints
//!   the rate (consumed, rendered, sent and recorded) from the rows' own timestamps.
//! - `notification_bench latency RATE SECONDS`: publishes RATE events a second for SECONDS and
//!   prints event-to-inbox latency (publish → the SMTP server's acceptance, `sent_at`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use budgetsmart_common::events::{BusConfig, DomainEvent};
use budgetsmart_common::money;
use budgetsmart_proto::events::v1::BudgetThresholdReached;
use chrono::{DateTime, Utc};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use prost::Message;
use sqlx::PgPool;
use uuid::Uuid;

/// A delivery row: cause, queued at, sent at, status.
type Row = (String, DateTime<Utc>, Option<DateTime<Utc>>, String);

fn arg<T: std::str::FromStr>(args: &[String], i: usize, name: &str) -> anyhow::Result<T> {
    args.get(i).and_then(|v| v.parse().ok()).ok_or_else(|| anyhow::anyhow!("missing or invalid {name}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("baseline") => baseline(arg(&args, 2, "EMAILS")?, arg(&args, 3, "CONCURRENCY")?).await,
        Some("burst") => burst(arg(&args, 2, "USERS")?, arg(&args, 3, "EMAILS")?).await,
        Some("latency") => latency(arg(&args, 2, "RATE")?, arg(&args, 3, "SECONDS")?).await,
        _ => anyhow::bail!(
            "usage: notification_bench baseline EMAILS CONCURRENCY | burst USERS EMAILS | latency RATE SECONDS"
        ),
    }
}

fn smtp_port() -> u16 {
    std::env::var("SMTP_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(1025)
}

async fn baseline(emails: usize, concurrency: usize) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let templates = notification::templates::Templates::new()?;
    let mut context = notification::content::threshold(&event(Uuid::now_v7()));
    context["user"] = serde_json::json!({"name": "Bench", "email": "baseline@bench.test"});
    context["links"] = serde_json::json!({"base_url": "http://b", "preferences_url": "http://b/p", "unsubscribe_url": "http://b/u"});
    context["currency"] = "USD".into();
    let rendered = templates.render("budget_threshold_reached", &context)?;
    let mailer = std::sync::Arc::new(notification::mailer::Mailer::new(&notification::config::SmtpConfig {
        host: "127.0.0.1".into(),
        port: smtp_port(),
        tls: notification::config::SmtpTls::None,
        credentials: None,
        timeout: Duration::from_secs(10),
    })?);
    let from: lettre::message::Mailbox = "BudgetSmart <notifications@bench.test>".parse()?;
    let started = Instant::now();
    let sent = futures_util::stream::iter(0..emails)
        .map(|i| {
            let (mailer, rendered, from) = (mailer.clone(), rendered.clone(), from.clone());
            async move {
                let to: lettre::message::Mailbox = format!("baseline-{}@bench.test", i % 50).parse().ok()?;
                let envelope = notification::message::Envelope {
                    from: &from,
                    to,
                    message_id: &format!("<baseline-{i}@bench>"),
                    unsubscribe_url: "http://b/u",
                    chart_png: None,
                };
                let mail = notification::message::build(envelope, &rendered).ok()?;
                mailer.send(mail).await.ok()
            }
        })
        .buffer_unordered(concurrency)
        .filter(|r| std::future::ready(r.is_some()))
        .count()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "baseline: {sent}/{emails} emails handed to the sink by the SMTP client alone in {seconds:.2}s = {:.0} emails/s ({concurrency} connections)",
        sent as f64 / seconds
    );
    Ok(())
}

fn event(budget: Uuid) -> BudgetThresholdReached {
    BudgetThresholdReached {
        budget_id: budget.to_string(),
        month: Utc::now().format("%Y-%m").to_string(),
        scope: "total".into(),
        threshold_percent: 80,
        limit: Some(money::to_proto("500".parse().unwrap_or_default(), "USD")),
        spent: Some(money::to_proto("412.50".parse().unwrap_or_default(), "USD")),
        currency: "USD".into(),
        ..Default::default()
    }
}

/// Stores `count` bench recipients, so no event waits for the engine; verified addresses, as
/// the accounts whose alerts are being measured would have.
async fn recipients(pool: &PgPool, count: usize) -> anyhow::Result<Vec<Uuid>> {
    let users: Vec<Uuid> = (0..count.max(1)).map(|_| Uuid::now_v7()).collect();
    for user in &users {
        sqlx::query(
            "INSERT INTO notification.recipients (user_id, email, name, currency, timezone, updated_at, \
             email_verified) VALUES ($1, $2, 'Bench', 'USD', 'UTC', now(), true)",
        )
        .bind(user)
        .bind(format!("bench-{}@bench.test", user.simple()))
        .execute(pool)
        .await?;
    }
    Ok(users)
}

async fn channel() -> anyhow::Result<(Connection, Channel, BusConfig)> {
    let bus = BusConfig::from_env()?;
    let connection = Connection::connect(&bus.amqp_url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok((connection, channel, bus))
}

async fn publish(
    channel: &Channel,
    bus: &BusConfig,
    user: Uuid,
    id: Uuid,
) -> anyhow::Result<lapin::PublisherConfirm> {
    let mut payload = event(Uuid::now_v7());
    payload.user_id = user.to_string();
    let mut headers = FieldTable::default();
    headers.insert("user_id".into(), AMQPValue::LongString(user.to_string().into()));
    let properties = BasicProperties::default()
        .with_message_id(id.to_string().into())
        .with_type(BudgetThresholdReached::NAME.into())
        .with_content_type("application/x-protobuf".into())
        .with_delivery_mode(2)
        .with_headers(headers);
    Ok(channel
        .basic_publish(
            bus.exchange.as_str().into(),
            BudgetThresholdReached::routing_key().as_str().into(),
            BasicPublishOptions::default(),
            &payload.encode_to_vec(),
            properties,
        )
        .await?)
}

/// Waits until the rows caused by `ids` are all sent (or failed); returns them.
async fn wait_sent(
    pool: &PgPool,
    ids: &[String],
    limit: Duration,
) -> anyhow::Result<Vec<(String, DateTime<Utc>, DateTime<Utc>)>> {
    let deadline = Instant::now() + limit;
    loop {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT dedupe_key, created_at, sent_at, status FROM notification.deliveries WHERE dedupe_key = ANY($1)",
        )
        .bind(ids)
        .fetch_all(pool)
        .await?;
        let done = rows.iter().filter(|r| r.3 == "sent" || r.3 == "failed").count();
        if done == ids.len() || Instant::now() > deadline {
            let failed = rows.iter().filter(|r| r.3 != "sent").count();
            if failed > 0 {
                eprintln!("notification_bench: {failed} of {} emails not sent", ids.len());
            }
            return Ok(rows.into_iter().filter_map(|(k, c, s, _)| Some((k, c, s?))).collect());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn burst(users: usize, emails: usize) -> anyhow::Result<()> {
    let pool = PgPool::connect(&std::env::var("DATABASE_URL")?).await?;
    let users = recipients(&pool, users).await?;
    let (_connection, channel, bus) = channel().await?;
    let ids: Vec<Uuid> = (0..emails).map(|_| Uuid::now_v7()).collect();
    let started = Instant::now();
    let mut confirms = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        confirms.push(publish(&channel, &bus, users[i % users.len()], *id).await?);
    }
    for confirm in confirms {
        confirm.await?;
    }
    let keys: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let rows = wait_sent(&pool, &keys, Duration::from_secs(600)).await?;
    let wall = started.elapsed().as_secs_f64();
    let first_created = rows.iter().map(|r| r.1).min().unwrap_or_default();
    let first_sent = rows.iter().map(|r| r.2).min().unwrap_or_default();
    let last_sent = rows.iter().map(|r| r.2).max().unwrap_or_default();
    let span = |from: DateTime<Utc>| (last_sent - from).num_milliseconds().max(1) as f64 / 1000.0;
    println!(
        "burst: {} of {emails} alerts sent; {:.0} emails/s from the first event consumed to the last email accepted \
         ({:.1}s), {:.0} emails/s sending alone (first to last accepted); {wall:.1}s wall including publishing",
        rows.len(),
        rows.len() as f64 / span(first_created),
        span(first_created),
        rows.len().saturating_sub(1) as f64 / span(first_sent),
    );
    Ok(())
}

async fn latency(rate: u32, seconds: u32) -> anyhow::Result<()> {
    let pool = PgPool::connect(&std::env::var("DATABASE_URL")?).await?;
    let users = recipients(&pool, 200).await?;
    let (_connection, channel, bus) = channel().await?;
    let total = (rate * seconds) as usize;
    let mut published: HashMap<String, DateTime<Utc>> = HashMap::with_capacity(total);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    let mut confirms = Vec::with_capacity(total);
    for i in 0..total {
        ticker.tick().await;
        let id = Uuid::now_v7();
        published.insert(id.to_string(), Utc::now());
        confirms.push(publish(&channel, &bus, users[i % users.len()], id).await?);
    }
    for confirm in confirms {
        confirm.await?;
    }
    let keys: Vec<String> = published.keys().cloned().collect();
    let rows = wait_sent(&pool, &keys, Duration::from_secs(300)).await?;
    let mut millis: Vec<f64> = rows
        .iter()
        .filter_map(|(key, _, sent)| Some((*sent - *published.get(key)?).num_microseconds()? as f64 / 1000.0))
        .collect();
    millis.sort_by(f64::total_cmp);
    let at = |q: f64| {
        millis
            .get(((millis.len() as f64 * q) as usize).min(millis.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "latency: {} of {total} alerts at {rate}/s for {seconds}s; event published → accepted by the SMTP sink: \
         p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        millis.len(),
        at(0.50),
        at(0.95),
        at(0.99),
        millis.last().copied().unwrap_or(f64::NAN),
    );
    Ok(())
}
