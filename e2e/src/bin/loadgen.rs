//! Load generator for `make bench`: concurrent clients creating transactions through the
//! gateway, while sampling how far the analytics and notification queues lag behind.
//!
//! Usage: `loadgen <gateway-url> <connections> <seconds> <queue>...` with `AMQP_URL` set.
//! Prints a Markdown table of throughput, latency percentiles and consumer lag.
//!
//! With `LOADGEN_RATE=<creates per second>` the load is open-loop: requests start on a fixed
//! schedule whatever the answers do (at most `<connections>` in flight), and each latency is
//! measured from when its request was due, so a stall counts against every request it delays
//! (no coordinated omission).
//!
//! With `LOADGEN_AUTH_BURST=<n>` it does only this: n registrations at once, then n logins at
//! once, and prints how each was answered (`make bench`: argon2id's memory under a burst).
//!
//! With `LOADGEN_LOGIN_CLIENTS=<n>`, n more clients log in back to back for the whole run, and
//! each registers a new account every tenth login (`make soak`: argon2id under load).
//!
//! `LOADGEN_ON_START` and `LOADGEN_ON_END` are shell commands run just before the timed load
//! (after registration, which would otherwise dominate) and once the consumers have drained
//! it, the second with `LOADGEN_CREATES` set to the creates answered 201. `make bench` reads
//! each process's CPU ticks and PostgreSQL's statement counts between the two.

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
    if let Some(burst) = std::env::var("LOADGEN_AUTH_BURST").ok().map(|n| n.parse::<usize>()).transpose()? {
        return auth_burst(&http, &base, burst).await;
    }
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

    let rate: Option<f64> = std::env::var("LOADGEN_RATE").ok().map(|r| r.parse()).transpose()?;
    let login_clients: usize =
        std::env::var("LOADGEN_LOGIN_CLIENTS").ok().map(|n| n.parse()).transpose()?.unwrap_or(0);
    hook("LOADGEN_ON_START", None)?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let logins: Vec<_> = (0..login_clients)
        .map(|i| tokio::spawn(login_loop(http.clone(), base.clone(), i, deadline)))
        .collect();
    let (mut latencies, errors) = match rate {
        None => {
            eprintln!("running {connections} connections for {seconds}s");
            closed_loop(&http, &base, &month, tokens, deadline).await?
        }
        Some(rate) => {
            eprintln!("running {rate} creates/s open-loop for {seconds}s, at most {connections} in flight");
            open_loop(&http, &base, &month, tokens, deadline, rate, connections).await?
        }
    };
    let elapsed = started.elapsed();
    let mut login_counts = LoginCounts::default();
    for client in logins {
        login_counts.add(client.await?);
    }
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

    hook("LOADGEN_ON_END", Some(latencies.len() as u64 - errors))?;

    latencies.sort_unstable();
    anyhow::ensure!(!latencies.is_empty(), "no request was sent");
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    let total = latencies.len();
    println!("| metric | value |");
    println!("|---|---|");
    match rate {
        None => println!("| connections | {connections} (closed loop) |"),
        Some(rate) => {
            println!("| offered rate | {rate:.0} creates/s, open loop, at most {connections} in flight |")
        }
    }
    println!("| duration | {:.1} s |", elapsed.as_secs_f64());
    println!("| requests | {total} ({errors} failed) |");
    println!("| creates per second | {:.0} |", (total as u64 - errors) as f64 / elapsed.as_secs_f64());
    println!("| latency p50 | {:.1} ms |", pct(0.50));
    println!("| latency p99 | {:.1} ms |", pct(0.99));
    println!("| latency max | {:.1} ms |", pct(1.0));
    if login_clients > 0 {
        println!(
            "| logins | {} ({} refused as busy, {} failed), with {} registrations, by {login_clients} clients |",
            login_counts.logins, login_counts.busy, login_counts.failed, login_counts.registrations
        );
    }
    println!("| max consumer queue depth during the run | {} messages |", max_lag.load(Ordering::SeqCst));
    match caught_up {
        Some(t) => println!("| consumers caught up after the run in | {:.1} s |", t.as_secs_f64()),
        None => println!("| consumers caught up after the run in | not within 120 s |"),
    }
    Ok(())
}

/// Runs the shell command in the environment variable `name`, if set; a failing hook fails
/// the run, since what it measures would be missing.
fn hook(name: &str, creates: Option<u64>) -> anyhow::Result<()> {
    let Ok(command) = std::env::var(name) else { return Ok(()) };
    let mut shell = std::process::Command::new("sh");
    shell.arg("-c").arg(&command);
    if let Some(creates) = creates {
        shell.env("LOADGEN_CREATES", creates.to_string());
    }
    let status = shell.status()?;
    anyhow::ensure!(status.success(), "{name} ({command}) failed: {status}");
    Ok(())
}

/// One create for `token`; whether it was answered 201.
async fn create(http: &reqwest::Client, base: &str, month: &str, token: &str, n: u64) -> bool {
    let body = json!({"occurred_on": format!("{month}-15"), "description": format!("Load {n}"), "amount": "1.25", "currency": "USD", "type": "debit"});
    match http.post(format!("{base}/transactions")).bearer_auth(token).json(&body).send().await {
        Ok(response) => response.status() == reqwest::StatusCode::CREATED,
        Err(_) => false,
    }
}

/// `n` registrations at once, then `n` logins at once; each answer's status is counted.
async fn auth_burst(http: &reqwest::Client, base: &str, n: usize) -> anyhow::Result<()> {
    let password = "benchmark passphrase";
    let emails: Vec<String> =
        (0..n).map(|i| format!("burst-{i}-{}@example.com", uuid::Uuid::now_v7().simple())).collect();
    let send = |path: &'static str, body: serde_json::Value| {
        let (http, url) = (http.clone(), format!("{base}{path}"));
        async move {
            let started = Instant::now();
            let status = match http.post(url).json(&body).send().await {
                Ok(r) => r.status().as_u16().to_string(),
                Err(_) => "no answer".to_owned(),
            };
            (status, started.elapsed())
        }
    };
    let mut rows = Vec::new();
    for (label, path) in [("registrations", "/auth/register"), ("logins", "/auth/login")] {
        let started = Instant::now();
        let answers = futures_util::future::join_all(emails.iter().map(|email| {
            let body = if path == "/auth/register" {
                json!({"email": email, "password": password, "name": "Burst"})
            } else {
                json!({"email": email, "password": password})
            };
            send(path, body)
        }))
        .await;
        let mut by_status = std::collections::BTreeMap::<String, usize>::new();
        for (status, _) in &answers {
            *by_status.entry(status.clone()).or_default() += 1;
        }
        let slowest = answers.iter().map(|(_, t)| *t).max().unwrap_or_default();
        let statuses: Vec<String> = by_status.iter().map(|(s, c)| format!("{s}×{c}")).collect();
        rows.push(format!(
            "| {n} {label} at once | {} in {:.1} s (slowest answer {:.1} s) |",
            statuses.join(", "),
            started.elapsed().as_secs_f64(),
            slowest.as_secs_f64()
        ));
    }
    println!("| burst | answers |");
    println!("|---|---|");
    for row in rows {
        println!("{row}");
    }
    Ok(())
}

/// What a login client did.
#[derive(Default)]
struct LoginCounts {
    logins: u64,
    registrations: u64,
    /// 429: every password-hashing slot stayed busy (the engine's memory bound at work).
    busy: u64,
    failed: u64,
}

impl LoginCounts {
    fn add(&mut self, other: LoginCounts) {
        self.logins += other.logins;
        self.registrations += other.registrations;
        self.busy += other.busy;
        self.failed += other.failed;
    }
}

/// Logs in back to back until `deadline`, registering a fresh account every tenth login.
async fn login_loop(http: reqwest::Client, base: String, client: usize, deadline: Instant) -> LoginCounts {
    let password = "benchmark passphrase";
    let mut counts = LoginCounts::default();
    let mut email = String::new();
    let mut n = 0u64;
    while Instant::now() < deadline {
        if n.is_multiple_of(10) {
            let fresh = format!("soak-{client}-{}@example.com", uuid::Uuid::now_v7().simple());
            let body = json!({"email": fresh, "password": password, "name": "Soak"});
            match http.post(format!("{base}/auth/register")).json(&body).send().await {
                Ok(r) if r.status().is_success() => {
                    counts.registrations += 1;
                    email = fresh;
                }
                Ok(r) if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => counts.busy += 1,
                _ => counts.failed += 1,
            }
        }
        n += 1;
        if email.is_empty() {
            continue;
        }
        let body = json!({"email": email, "password": password});
        match http.post(format!("{base}/auth/login")).json(&body).send().await {
            Ok(r) if r.status().is_success() => counts.logins += 1,
            Ok(r) if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => counts.busy += 1,
            _ => counts.failed += 1,
        }
    }
    counts
}

/// One client per token, each sending its next create when the last is answered.
async fn closed_loop(
    http: &reqwest::Client,
    base: &str,
    month: &str,
    tokens: Vec<String>,
    deadline: Instant,
) -> anyhow::Result<(Vec<Duration>, u64)> {
    let mut workers = Vec::with_capacity(tokens.len());
    for token in tokens {
        let (http, base, month) = (http.clone(), base.to_owned(), month.to_owned());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let sent = Instant::now();
                let ok = create(&http, &base, &month, &token, n).await;
                latencies.push(sent.elapsed());
                errors += u64::from(!ok);
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
    Ok((latencies, errors))
}

/// Creates started every `1 / rate` seconds, round-robin over the tokens, each timed from when
/// it was due; a request that cannot start because `in_flight` are outstanding waits, and its
/// wait is part of its latency.
async fn open_loop(
    http: &reqwest::Client,
    base: &str,
    month: &str,
    tokens: Vec<String>,
    deadline: Instant,
    rate: f64,
    in_flight: usize,
) -> anyhow::Result<(Vec<Duration>, u64)> {
    let permits = Arc::new(tokio::sync::Semaphore::new(in_flight.max(1)));
    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let start = Instant::now();
    let mut requests = Vec::new();
    let mut n = 0u64;
    loop {
        let due = start + interval.mul_f64(n as f64);
        if due >= deadline {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let permit = permits.clone().acquire_owned().await?;
        let (http, base, month) = (http.clone(), base.to_owned(), month.to_owned());
        let token = tokens[n as usize % tokens.len()].clone();
        requests.push(tokio::spawn(async move {
            let ok = create(&http, &base, &month, &token, n).await;
            drop(permit);
            (due.elapsed(), ok)
        }));
        n += 1;
    }
    let mut latencies = Vec::with_capacity(requests.len());
    let mut errors = 0;
    for request in requests {
        let (latency, ok) = request.await?;
        latencies.push(latency);
        errors += u64::from(!ok);
    }
    Ok((latencies, errors))
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
