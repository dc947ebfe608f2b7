//! After a scenario: every acknowledged write against the engine's data, every committed event
//! (the ledger) against the bus (the witness) and each consumer's inbox, the analytics read
//! model and daily totals against the engine, and the notification deliveries and emails
//! against the events that asked for them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

use super::load::Outcome;
use super::stack::{CONSUMERS, Stack};
use crate::mail_sink_api;

/// What the reconciliation found.
#[derive(Debug, Default, Clone)]
pub struct Findings {
    /// Acknowledged writes the engine does not reflect.
    pub lost_writes: usize,
    /// Transactions the engine stored whose create was never acknowledged (given up).
    pub unacknowledged_stored: usize,
    /// Events committed by the services (the ledger).
    pub events_expected: usize,
    /// Of those, seen on the bus.
    pub events_received: usize,
    /// Committed events never published.
    pub events_lost: usize,
    /// Extra publishes of an event already on the bus (a relay that died before its delete).
    pub duplicate_deliveries: usize,
    /// Per consumer queue: events routed to it that its inbox does not hold.
    pub not_applied: BTreeMap<String, usize>,
    /// Analytics rows that disagree with the engine (missing, stale, or alive after a delete).
    pub analytics_rows_off: usize,
    /// Users whose analytics daily totals exceed the engine's sum: an effect applied twice.
    pub totals_over: usize,
    /// Users whose daily totals fall short of it.
    pub totals_under: usize,
    /// Deliveries due (verification links, welcomes and budget alerts, one per event).
    pub deliveries_expected: usize,
    /// Due deliveries with no row.
    pub deliveries_missing: usize,
    /// Events with more than one delivery row.
    pub deliveries_duplicated: usize,
    /// Rows not yet sent (queued, sending or failed).
    pub deliveries_unsent: usize,
    /// Budget alerts among the deliveries.
    pub alerts: usize,
    /// Sent deliveries whose email is not in the sink.
    pub emails_missing: usize,
    /// Extra copies of an email (same Message-ID) in the sink.
    pub emails_duplicated: usize,
    /// Messages in each dead-letter queue.
    pub dead_lettered: BTreeMap<String, u32>,
}

impl Findings {
    /// Everything accounted for, with `poison` messages expected in each dead-letter queue.
    pub fn settled(&self, poison: u32) -> bool {
        self.lost_writes == 0
            && self.events_lost == 0
            && self.not_applied.values().all(|&n| n == 0)
            && self.analytics_rows_off == 0
            && self.totals_over == 0
            && self.totals_under == 0
            && self.deliveries_missing == 0
            && self.deliveries_duplicated == 0
            && self.deliveries_unsent == 0
            && self.emails_missing == 0
            && self.dead_lettered.values().all(|&n| n == poison)
    }

    /// Lost anything, or applied anything twice.
    pub fn lost(&self) -> usize {
        self.lost_writes
            + self.events_lost
            + self.not_applied.values().sum::<usize>()
            + self.analytics_rows_off
            + self.totals_under
            + self.deliveries_missing
            + self.deliveries_unsent
            + self.emails_missing
    }

    /// Effects applied twice.
    pub fn duplicated_effects(&self) -> usize {
        self.totals_over + self.deliveries_duplicated
    }
}

fn decimal(text: &str) -> Decimal {
    Decimal::from_str(text).map(|d| d.normalize()).unwrap_or_default()
}

/// Counts of events routed to consumers but not yet in their inboxes, `None` while the
/// database cannot be asked (it may be the fault).
pub async fn backlog(db: &sqlx::PgPool, prefix: &str) -> Option<i64> {
    let mut total = 0;
    for (queue, keys) in CONSUMERS {
        let schema = queue.split('.').next().unwrap_or_default();
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        let sql = format!(
            "SELECT count(*) FROM chaos.ledger l WHERE l.routing_key = ANY($1) AND NOT EXISTS \
             (SELECT 1 FROM {schema}.inbox i WHERE i.consumer = $2 AND i.event_id = l.event_id)"
        );
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(&keys)
            .bind(format!("{prefix}{queue}"))
            .fetch_one(db)
            .await
            .ok()?;
        total += n;
    }
    Some(total)
}

/// Emails in the sink to addresses at `domain`, counted by Message-ID.
async fn emails_by_message_id(domain: &str) -> anyhow::Result<HashMap<String, usize>> {
    let all: Vec<Value> = reqwest::get(format!("{}/api/email", mail_sink_api())).await?.json().await?;
    let suffix = format!("@{domain}");
    let mut counts = HashMap::new();
    for mail in all {
        let ours = mail["to"].as_array().is_some_and(|to| {
            to.iter()
                .any(|t| t["address"].as_str().is_some_and(|a| a.to_ascii_lowercase().ends_with(&suffix)))
        });
        let id = mail["messageId"].as_str().or_else(|| mail["headers"]["message-id"].as_str());
        if let (true, Some(id)) = (ours, id) {
            *counts.entry(id.trim_matches(['<', '>']).to_owned()).or_default() += 1;
        }
    }
    Ok(counts)
}

/// One pass of every check.
pub async fn reconcile(stack: &Stack, outcome: &Outcome, domain: &str) -> anyhow::Result<Findings> {
    let mut findings = Findings::default();

    // Acknowledged writes against the engine.
    let engine: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT id::text, user_id::text, amount::text, version FROM engine.transactions")
            .fetch_all(&stack.db)
            .await?;
    let stored: HashMap<Uuid, (Decimal, i64)> = engine
        .iter()
        .filter_map(|(id, _, amount, version)| Some((Uuid::parse_str(id).ok()?, (decimal(amount), *version))))
        .collect();
    for (id, tracked) in &outcome.tracked {
        let wrong = match (stored.get(id), tracked.deleted) {
            (Some(_), true) => true,
            (None, false) => true,
            (Some((amount, _)), false) => *amount != tracked.amount.normalize(),
            (None, true) => false,
        };
        findings.lost_writes += usize::from(wrong && !tracked.uncertain);
    }
    findings.unacknowledged_stored = stored.keys().filter(|id| !outcome.tracked.contains_key(id)).count();

    // The ledger against the bus.
    let ledger: Vec<(String, String, String)> =
        sqlx::query_as("SELECT event_id::text, event_type, routing_key FROM chaos.ledger")
            .fetch_all(&stack.db)
            .await?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for id in stack.witnessed() {
        *seen.entry(id).or_default() += 1;
    }
    findings.events_expected = ledger.len();
    findings.events_received = ledger.iter().filter(|(id, ..)| seen.contains_key(id)).count();
    findings.events_lost = findings.events_expected - findings.events_received;
    findings.duplicate_deliveries = seen.values().map(|n| n - 1).sum();

    // Each consumer's inbox.
    for (queue, keys) in CONSUMERS {
        let schema = queue.split('.').next().unwrap_or_default();
        let sql = format!("SELECT event_id::text FROM {schema}.inbox WHERE consumer = $1");
        let applied: HashSet<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(stack.queue(queue))
            .fetch_all(&stack.db)
            .await?
            .into_iter()
            .collect();
        let missing = ledger
            .iter()
            .filter(|(id, _, key)| keys.contains(&key.as_str()) && !applied.contains(id))
            .count();
        findings.not_applied.insert(queue.to_owned(), missing);
        findings.dead_lettered.insert(queue.to_owned(), stack.dead_lettered(queue).await?);
    }

    // The analytics read model, row by row and in its daily totals.
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT transaction_id::text, amount::text, version FROM analytics.transactions WHERE NOT deleted",
    )
    .fetch_all(&stack.db)
    .await?;
    let read: HashMap<Uuid, (Decimal, i64)> = rows
        .iter()
        .filter_map(|(id, amount, version)| Some((Uuid::parse_str(id).ok()?, (decimal(amount), *version))))
        .collect();
    findings.analytics_rows_off = stored.iter().filter(|(id, value)| read.get(id) != Some(value)).count()
        + read.keys().filter(|id| !stored.contains_key(id)).count();
    let sums = |sql: &'static str| async move {
        let rows: Vec<(String, String)> = sqlx::query_as(sql).fetch_all(&stack.db).await?;
        anyhow::Ok(rows.into_iter().map(|(user, sum)| (user, decimal(&sum))).collect::<HashMap<_, _>>())
    };
    let spent = sums(
        "SELECT user_id::text, sum(amount)::text FROM engine.transactions WHERE type = 'debit' GROUP BY user_id",
    )
    .await?;
    let totals =
        sums("SELECT user_id::text, sum(spent)::text FROM analytics.daily_totals GROUP BY user_id").await?;
    for user in spent.keys().chain(totals.keys().filter(|u| !spent.contains_key(*u))) {
        let (want, got) =
            (spent.get(user).copied().unwrap_or_default(), totals.get(user).copied().unwrap_or_default());
        findings.totals_over += usize::from(got > want);
        findings.totals_under += usize::from(got < want);
    }

    // Deliveries: one verification link per registration, one welcome per verification, one
    // alert per threshold event; each email once.
    let deliveries: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT dedupe_key, kind, status, message_id FROM notification.deliveries")
            .fetch_all(&stack.db)
            .await?;
    let mut per_event: HashMap<&str, usize> = HashMap::new();
    for (key, ..) in &deliveries {
        *per_event.entry(key.as_str()).or_default() += 1;
    }
    let due: Vec<&String> = ledger
        .iter()
        .filter(|(_, event_type, _)| {
            ["email_verification_requested", "email_verified", "budget_threshold_reached"]
                .contains(&event_type.as_str())
        })
        .map(|(id, ..)| id)
        .collect();
    findings.deliveries_expected = due.len();
    findings.alerts = ledger.iter().filter(|(_, t, _)| t == "budget_threshold_reached").count();
    findings.deliveries_missing = due.iter().filter(|id| !per_event.contains_key(id.as_str())).count();
    findings.deliveries_duplicated = per_event.values().filter(|&&n| n > 1).count();
    findings.deliveries_unsent =
        deliveries.iter().filter(|(_, _, status, _)| status != "sent" && status != "suppressed").count();
    let emails = emails_by_message_id(domain).await?;
    for (_, _, status, message_id) in &deliveries {
        if status == "sent" {
            match emails.get(message_id.trim_matches(['<', '>'])) {
                None => findings.emails_missing += 1,
                Some(n) => findings.emails_duplicated += n - 1,
            }
        }
    }
    Ok(findings)
}
