//! Load generator for `make bench`: concurrent clients creating transactions through the
//! gateway, while sampling how far the analytics and notification queues lag behind.
//!
//! Usage: `loadgen <gateway-url> <connections> <seconds> <queue>...` with `AMQP_URL` set.
//! Prints a Markdown table of throughput, latency percentiles and consumer lag.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() >= 4, "usage: loadgen <gateway-url> <connections> <seconds> <queue>...");
    let base = format!("{}/api/v1", args[1].trim_end_matches('/'));
    let connections: usize = args[2].parse()?;
    let seconds: u64 = args[3].parse()?;
    let queues: Vec<String> = args[4..].to_vec();
    let amqp = std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let http = reqwest::Client::builder().pool_max_idle_per_host(connections).build()?;
    let month = chrono::Utc::now().format("%Y-%m").to_string();

    // One user per connection, each with a budget, so every create runs the threshold check.
    eprintln!("registering {connections} users");
    let mut tokens = Vec::with_capacity(connections);
    for i in 0..connections {
        let token = e2e::bench_user(&http, &base, &format!("bench-{i}")).await?;
        http.post(format!("{base}/budgets"))
            .bearer_auth(&token)
            .json(&json!({"month": month, "currency": "USD", "total_limit": "100000.00"}))
            .send()
            .await?;
        tokens.push(token);
    }

    let running = Arc::new(AtomicBool::new(true));
    let max_lag = Arc::new(AtomicU64::new(0));
    let lag_sampler =
        tokio::spawn(sample_lag(amqp.clone(), queues.clone(), running.clone(), max_lag.clone()));

    eprintln!("running {connections} connections for {seconds}s");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut workers = Vec::with_capacity(connections);
    for token in tokens {
        let (http, base, month) = (http.clone(), base.clone(), month.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let body = json!({"occurred_on": format!("{month}-15"), "description": format!("Load {n}"), "amount": "1.25", "currency": "USD", "type": "debit"});
                let sent = Instant::now();
                let ok = match http.post(format!("{base}/transactions")).bearer_auth(&token).json(&body).send().await {
                    Ok(response) => response.status() == reqwest::StatusCode::CREATED,
                    Err(_) => false,
                };
                latencies.push(sent.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (l, e) = worker.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    running.store(false, Ordering::SeqCst);
    let _ = lag_sampler.await;

    // How long the consumers take to drain what is left once the load stops.
    let drain_started = Instant::now();
    let caught_up = loop {
        let depth = queue_depth(&amqp, &queues).await.unwrap_or(u64::MAX);
        if depth == 0 {
            break Some(drain_started.elapsed());
        }
        if drain_started.elapsed() > Duration::from_secs(120) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    let total = latencies.len();
    println!("| metric | value |");
    println!("|---|---|");
    println!("| connections | {connections} |");
    println!("| duration | {:.1} s |", elapsed.as_secs_f64());
    println!("| requests | {total} ({errors} failed) |");
    println!("| creates per second | {:.0} |", (total as u64 - errors) as f64 / elapsed.as_secs_f64());
    println!("| latency p50 | {:.1} ms |", pct(0.50));
    println!("| latency p99 | {:.1} ms |", pct(0.99));
    println!("| latency max | {:.1} ms |", pct(1.0));
    println!("| max consumer queue depth during the run | {} messages |", max_lag.load(Ordering::SeqCst));
    match caught_up {
        Some(t) => println!("| consumers caught up after the run in | {:.1} s |", t.as_secs_f64()),
        None => println!("| consumers caught up after the run in | not within 120 s |"),
    }
    Ok(())
}

async fn sample_lag(amqp: String, queues: Vec<String>, running: Arc<AtomicBool>, max: Arc<AtomicU64>) {
    while running.load(Ordering::SeqCst) {
        if let Some(depth) = queue_depth(&amqp, &queues).await {
            max.fetch_max(depth, Ordering::SeqCst);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Ready plus unacknowledged messages summed over `queues` (passive declares).
async fn queue_depth(amqp: &str, queues: &[String]) -> Option<u64> {
    let connection = Connection::connect(amqp, ConnectionProperties::default()).await.ok()?;
    let channel = connection.create_channel().await.ok()?;
    let mut total = 0u64;
    for queue in queues {
        let passive = QueueDeclareOptions { passive: true, ..Default::default() };
        let declared =
            channel.queue_declare(queue.as_str().into(), passive, FieldTable::default()).await.ok()?;
        total += u64::from(declared.message_count());
    }
    let _ = connection.close(200, "done".into()).await;
    Some(total)
}
