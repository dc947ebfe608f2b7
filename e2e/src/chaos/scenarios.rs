//! The seven faults, each injected once into a fresh stack under steady load.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lapin::BasicProperties;
use lapin::options::BasicPublishOptions;

use super::load::{self, Load, Tally};
use super::reconcile::{self, Findings};
use super::stack::{CONSUMERS, Stack};

/// How long and how hard; `ci` is the reduced form CI runs.
#[derive(Clone, Debug)]
pub struct Profile {
    /// `full` or `ci`.
    pub name: &'static str,
    /// Users, one writer each.
    pub users: usize,
    /// Pause between one writer's writes.
    pub pace: Duration,
    /// Load before the fault.
    pub warmup: Duration,
    /// Load after the fault has healed.
    pub cooldown: Duration,
    /// How long analytics stays down.
    pub analytics_down: Duration,
    /// How long notification stays down.
    pub notification_down: Duration,
    /// How long Redis and PostgreSQL stay down.
    pub datastore_down: Duration,
    /// How long the reconciliation waits for everything to be accounted for.
    pub settle_limit: Duration,
}

impl Profile {
    /// The durations (analytics down for a minute).
    pub fn full() -> Profile {
        Profile {
            name: "full",
            users: 12,
            pace: Duration::from_millis(50),
            warmup: Duration::from_secs(10),
            cooldown: Duration::from_secs(15),
            analytics_down: Duration::from_secs(60),
            notification_down: Duration::from_secs(20),
            datastore_down: Duration::from_secs(5),
            settle_limit: Duration::from_secs(180),
        }
    }

    /// Shorter outages and fewer users, for CI; the broker outage stays 10 s.
    pub fn ci() -> Profile {
        Profile {
            name: "ci",
            users: 6,
            pace: Duration::from_millis(60),
            warmup: Duration::from_secs(4),
            cooldown: Duration::from_secs(6),
            analytics_down: Duration::from_secs(15),
            notification_down: Duration::from_secs(8),
            datastore_down: Duration::from_secs(3),
            settle_limit: Duration::from_secs(120),
        }
    }
}

/// One fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// RabbitMQ unreachable for 10 s (every service's path to it cut).
    Broker,
    /// The engine killed with SIGKILL and restarted.
    EngineKill,
    /// Analytics killed, kept down, restarted to catch up.
    AnalyticsDown,
    /// Notification killed while budgets cross their thresholds.
    NotificationDown,
    /// Redis killed and restarted empty.
    RedisRestart,
    /// PostgreSQL stopped as by a crash and restarted (WAL recovery).
    PostgresRestart,
    /// Undecodable messages on every consumer queue.
    Poison,
}

/// Malformed messages put on each queue in the poison scenario.
const POISON_PER_QUEUE: u32 = 2;

impl Fault {
    /// All seven, in the order.
    pub const ALL: [Fault; 7] = [
        Fault::Broker,
        Fault::EngineKill,
        Fault::AnalyticsDown,
        Fault::NotificationDown,
        Fault::RedisRestart,
        Fault::PostgresRestart,
        Fault::Poison,
    ];

    /// The name on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Broker => "broker-unreachable",
            Fault::EngineKill => "engine-sigkill",
            Fault::AnalyticsDown => "analytics-down",
            Fault::NotificationDown => "notification-down",
            Fault::RedisRestart => "redis-restart",
            Fault::PostgresRestart => "postgres-restart",
            Fault::Poison => "poison-messages",
        }
    }

    /// What is done, with this profile's durations.
    pub fn describe(self, profile: &Profile) -> String {
        let secs = |d: Duration| d.as_secs();
        match self {
            Fault::Broker => {
                "every service's TCP path to RabbitMQ cut (open connections dropped) for 10 s".into()
            }
            Fault::EngineKill => "engine SIGKILL, restarted 1 s later".into(),
            Fault::AnalyticsDown => {
                format!("analytics SIGKILL, restarted after {} s", secs(profile.analytics_down))
            }
            Fault::NotificationDown => format!(
                "notification SIGKILL for {} s while the load spends in EUR against 40.00 EUR budgets",
                secs(profile.notification_down)
            ),
            Fault::RedisRestart => {
                format!("Redis SIGKILL, restarted empty after {} s", secs(profile.datastore_down))
            }
            Fault::PostgresRestart => format!(
                "PostgreSQL immediate shutdown (SIGQUIT, no checkpoint), restarted after {} s",
                secs(profile.datastore_down)
            ),
            Fault::Poison => format!(
                "{POISON_PER_QUEUE} malformed messages on each of the 3 consumer queues (an undecodable \
                 payload, a message without an id)"
            ),
        }
    }

    fn poison(self) -> u32 {
        if self == Fault::Poison { POISON_PER_QUEUE } else { 0 }
    }
}

/// One scenario's result.
pub struct Report {
    /// Which.
    pub fault: Fault,
    /// What was done.
    pub description: String,
    /// What the clients saw.
    pub tally: Tally,
    /// Writes acknowledged while the fault lasted.
    pub acked_during_fault: usize,
    /// The final reconciliation.
    pub findings: Findings,
    /// From the fault's end until writes succeed again and the consumers' backlog is back
    /// to what it was before the fault.
    pub recovered: Option<Duration>,
    /// Scenario-specific observations.
    pub notes: Vec<String>,
    /// Why it failed; empty when it passed.
    pub problems: Vec<String>,
}

impl Report {
    /// A scenario that could not run to the end.
    pub fn failed(fault: Fault, profile: &Profile, why: String) -> Report {
        Report {
            fault,
            description: fault.describe(profile),
            tally: Tally::default(),
            acked_during_fault: 0,
            findings: Findings::default(),
            recovered: None,
            notes: Vec::new(),
            problems: vec![why],
        }
    }
}

/// A message for queue `queue` that its consumer cannot accept: an undecodable payload, and with
/// `with_id` false no message id either.
async fn publish_poison(stack: &Stack, queue: &str, event_type: &str, with_id: bool) -> anyhow::Result<()> {
    let mut properties = BasicProperties::default().with_type(event_type.into());
    if with_id {
        properties = properties.with_message_id(uuid::Uuid::now_v7().to_string().into());
    }
    // The default exchange delivers to exactly the named queue.
    stack
        .channel
        .basic_publish(
            "".into(),
            stack.queue(queue).as_str().into(),
            BasicPublishOptions::default(),
            b"\xff\xfe not protobuf",
            properties,
        )
        .await?
        .await?;
    Ok(())
}

async fn ledger_count(stack: &Stack, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM chaos.ledger WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(&stack.db)
        .await
        .unwrap_or(-1)
}

/// Injects the fault and returns once it has healed, with notes.
async fn inject(
    fault: Fault,
    stack: &mut Stack,
    load: &Load,
    accounts: &[load::Account],
    profile: &Profile,
) -> anyhow::Result<Vec<String>> {
    let mut notes = Vec::new();
    match fault {
        Fault::Broker => {
            stack.broker.cut();
            tokio::time::sleep(Duration::from_secs(10)).await;
            stack.broker.restore();
        }
        Fault::EngineKill => {
            stack.service("engine").kill().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            stack.service("engine").start().await?;
        }
        Fault::AnalyticsDown => {
            stack.service("analytics").kill().await;
            tokio::time::sleep(profile.analytics_down).await;
            stack.service("analytics").start().await?;
        }
        Fault::NotificationDown => {
            let before = ledger_count(stack, "budget_threshold_reached").await;
            stack.service("notification").kill().await;
            load.eur.store(true, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(profile.notification_down).await;
            load.eur.store(false, std::sync::atomic::Ordering::Relaxed);
            let during = ledger_count(stack, "budget_threshold_reached").await - before;
            notes.push(format!("budget alerts raised while notification was down: {during}"));
            if during <= 0 {
                anyhow::bail!(
                    "no threshold was crossed while notification was down; the scenario proved nothing"
                );
            }
            stack.service("notification").start().await?;
        }
        Fault::RedisRestart => {
            stack.redis.kill();
            tokio::time::sleep(Duration::from_millis(500)).await;
            // Access tokens are verified with the public key alone: Redis plays no part.
            let http = reqwest::Client::new();
            let mut verified = 0;
            for account in accounts {
                let me = http.get(format!("{}/me", stack.api)).bearer_auth(&account.token).send().await;
                verified += usize::from(me.is_ok_and(|r| r.status().is_success()));
            }
            notes.push(format!(
                "access tokens verified while Redis was down: {verified} of {}",
                accounts.len()
            ));
            if verified < accounts.len() {
                anyhow::bail!("an access token did not verify while Redis was down");
            }
            tokio::time::sleep(profile.datastore_down.saturating_sub(Duration::from_millis(500))).await;
            stack.redis.resume().await;
        }
        Fault::PostgresRestart => {
            stack.postgres.crash().await;
            tokio::time::sleep(profile.datastore_down).await;
            stack.postgres.resume().await;
        }
        Fault::Poison => {
            for (queue, keys) in CONSUMERS {
                let event_type = keys[0].trim_end_matches(".v1");
                publish_poison(stack, queue, event_type, true).await?;
                publish_poison(stack, queue, event_type, false).await?;
            }
        }
    }
    Ok(notes)
}

/// Runs `fault` under load on a fresh stack of the binaries in `bin`, logs under `logs`.
pub async fn run(fault: Fault, profile: &Profile, bin: &Path, logs: &Path) -> anyhow::Result<Report> {
    let mut stack = Stack::start(bin, &logs.join(fault.name())).await?;
    let domain = format!("{}.chaos.test", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let http = reqwest::Client::new();
    let accounts = Arc::new(load::register(&http, &stack.api, &domain, profile.users).await?);
    let load = Load::start(&stack.api, accounts.clone(), profile.pace);

    // The consumers' backlog, twice a second, for the time to recover.
    let samples: Arc<Mutex<Vec<(Instant, i64)>>> = Arc::default();
    let sampler = {
        let (db, prefix, samples) = (stack.db.clone(), stack.prefix.clone(), samples.clone());
        tokio::spawn(async move {
            loop {
                if let Some(n) = reconcile::backlog(&db, &prefix).await {
                    samples.lock().expect("not poisoned").push((Instant::now(), n));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };

    tokio::time::sleep(profile.warmup).await;
    let fault_start = Instant::now();
    let injected = inject(fault, &mut stack, &load, &accounts, profile).await;
    let fault_end = Instant::now();
    if injected.is_ok() {
        tokio::time::sleep(profile.cooldown).await;
    }
    let outcome = load.stop().await;
    let load_end = Instant::now();
    sampler.abort();
    let mut notes = injected.as_ref().cloned().unwrap_or_default();
    let mut problems: Vec<String> = injected.err().map(|e| format!("{e:#}")).into_iter().collect();

    let mut findings = Findings::default();
    let mut settled_at = None;
    while load_end.elapsed() < profile.settle_limit {
        match reconcile::reconcile(&stack, &outcome, &domain).await {
            Ok(found) => {
                findings = found;
                if findings.settled(fault.poison()) {
                    settled_at = Some(Instant::now());
                    break;
                }
            }
            Err(e) => notes.push(format!("a reconciliation pass failed: {e:#}")),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    match settled_at {
        Some(at) => notes.push(format!(
            "everything accounted for {:.1} s after the load stopped",
            (at - load_end).as_secs_f64()
        )),
        None => problems.push(format!(
            "not everything was accounted for {} s after the load stopped",
            profile.settle_limit.as_secs()
        )),
    }

    let tally = outcome.tally;
    let last_failure = tally.failures.iter().filter(|t| **t >= fault_start).max().copied();
    let writes_back = match last_failure {
        Some(failed) => tally.acks.iter().filter(|a| **a > failed).min().copied(),
        None => Some(fault_end),
    };
    let samples = samples.lock().expect("not poisoned").clone();
    let baseline = samples.iter().filter(|(t, _)| *t < fault_start).map(|(_, n)| *n).max().unwrap_or(0);
    let recovered = writes_back.and_then(|back| {
        let from = back.max(fault_end);
        samples
            .iter()
            .find(|(t, n)| *t >= from && *n <= baseline)
            .map(|(t, _)| *t)
            .or(settled_at)
            .map(|t| t.saturating_duration_since(fault_end))
    });
    let acked_during_fault = tally.acks.iter().filter(|a| **a >= fault_start && **a <= fault_end).count();

    if findings.lost() > 0 {
        problems.push(format!("{} things lost", findings.lost()));
    }
    if findings.duplicated_effects() > 0 {
        problems.push(format!("{} effects applied twice", findings.duplicated_effects()));
    }
    if tally.unclean > 0 {
        problems
            .push(format!("{} answers a client must not get: {:?}", tally.unclean, tally.unclean_samples));
    }
    if tally.gave_up > 0 {
        problems.push(format!("{} writes never acknowledged within the retry budget", tally.gave_up));
    }
    for (name, status) in stack.exited() {
        problems.push(format!("{name} exited on its own: {status}"));
    }
    problems.extend(stack.stop().await);
    Ok(Report {
        fault,
        description: fault.describe(profile),
        tally,
        acked_during_fault,
        findings,
        recovered,
        notes,
        problems,
    })
}
