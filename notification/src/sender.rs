//! The delivery worker: claims due emails, renders them, hands them to SMTP and records the
//! outcome with `notification_sent` in the same transaction.
//!
//! Exactly one email per row, bounded: a row is claimed (`sending`, with a lease) and
//! committed before SMTP is spoken, and the outcome is committed right after the server's
//! reply on a connection taken *before* the send, so no pool wait sits in between. If the
//! process dies inside that window (one local commit, milliseconds), the lease lapses and
//! the row is sent again with the same Message-ID, which receiving systems use to drop the
//! copy. Nothing else can send a row twice: the claim is `FOR UPDATE SKIP LOCKED` and each
//! outcome is fenced by the attempt number.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use budgetsmart_common::events::{self, EventContext, OutboxWaker};
use budgetsmart_proto::events::v1 as ev;
use chrono::{DateTime, NaiveDate, Utc};
use lettre::message::Mailbox;
use serde_json::{Value, json};
use sqlx::{Acquire, PgConnection, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::clients::Upstreams;
use crate::deliveries::{self, Claimed};
use crate::kind::Kind;
use crate::links::Links;
use crate::mailer::{Mailer, SendError};
use crate::message::{self, Envelope};
use crate::preferences;
use crate::recipients::{self, Recipient};
use crate::schedule;
use crate::summary;
use crate::suppression;
use crate::templates::{Rendered, Templates};
use crate::unsubscribe::Scope;

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct Pacing {
    /// Emails in flight at once.
    pub senders: usize,
    /// Longest sleep when nothing wakes the worker.
    pub poll_interval: Duration,
    /// Attempts before an email is marked failed.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt, capped at an hour.
    pub retry_base: Duration,
    /// How long a claim lasts.
    pub lease: Duration,
}

/// The delivery worker.
pub struct Sender {
    pool: PgPool,
    templates: Arc<Templates>,
    links: Links,
    mailer: Mailer,
    upstreams: Upstreams,
    from: Mailbox,
    pacing: Pacing,
    outbox: OutboxWaker,
    wake: Arc<Notify>,
}

/// Why one email did not go out this time.
enum Failure {
    /// Try again later. The detail is for the log only.
    Transient(String),
    /// Give up: it can never succeed. The reason is what the person is shown; the detail
    /// (SMTP hosts and replies, database errors) goes only to the log.
    Permanent(Reason, String),
    /// The preferences say no (changed while it waited).
    Suppressed(String),
    /// Another worker took the rows over; it records them.
    Lost,
}

/// Why an email was not sent, in words for the person it was for (`last_error`).
#[derive(Debug, Clone, Copy)]
enum Reason {
    /// Our side could not build it.
    Unprepared,
    /// The address cannot take email.
    BadAddress,
    /// The mail server refused it for good.
    Refused,
    /// Every attempt failed for a passing reason, and there are no attempts left.
    GaveUp,
}

impl Reason {
    fn plain(self) -> &'static str {
        match self {
            Reason::Unprepared => "not sent: the email could not be prepared",
            Reason::BadAddress => "not sent: the address cannot receive email",
            Reason::Refused => "not sent: the receiving mail server refused it",
            Reason::GaveUp => "not sent: delivery kept failing, so it was given up",
        }
    }
}

/// What `last_error` says while a failed attempt waits for the next.
const RETRYING: &str = "not sent yet: delivery failed for now and will be tried again";

/// An email the SMTP server accepted.
struct Sent {
    rendered: Rendered,
    reply: String,
    /// Digest rows left out because their kind was turned off meanwhile, with why.
    left_out: Vec<(Uuid, String)>,
}

impl Sender {
    /// A worker; `wake` is notified when new email is queued.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pool: PgPool,
        templates: Arc<Templates>,
        links: Links,
        mailer: Mailer,
        upstreams: Upstreams,
        from: Mailbox,
        pacing: Pacing,
        outbox: OutboxWaker,
        wake: Arc<Notify>,
    ) -> Sender {
        Sender { pool, templates, links, mailer, upstreams, from, pacing, outbox, wake }
    }

    /// Sends due email until `shutdown` with `senders` independent workers; an email being
    /// sent is finished first.
    pub async fn run(self, shutdown: CancellationToken) {
        let sender = Arc::new(self);
        let workers: Vec<_> =
            (0..sender.pacing.senders).map(|_| tokio::spawn(sender.clone().work(shutdown.clone()))).collect();
        for worker in workers {
            let _ = worker.await;
        }
    }

    /// One worker: claims one email at a time (a claimed row's lease runs while it waits, so
    /// none waits behind another), and wakes a sibling whenever it found work, so a burst
    /// gets every worker within milliseconds while an idle service polls gently.
    async fn work(self: Arc<Self>, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let claimed = match self.claim(1).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "cannot claim due emails; retrying");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                let sleep = self.idle_sleep().await;
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(sleep) => {}
                }
                continue;
            }
            self.wake.notify_one();
            for job in jobs(claimed) {
                self.process(job).await;
            }
        }
    }

    /// Due rows, with every due digest row of each digest user among them. One transaction:
    /// the user's advisory lock taken by the first claim is held until the rest of their
    /// digest is claimed too, so a second sender cannot take one of its rows in between and
    /// send the digest in two (seen as a flaky digest test under load).
    async fn claim(&self, batch: i64) -> sqlx::Result<Vec<Claimed>> {
        let mut tx = self.pool.begin().await?;
        let mut claimed = deliveries::claim(&mut tx, batch, self.pacing.lease).await?;
        let mut digest_users: Vec<Uuid> = claimed.iter().filter(|r| r.digest).map(|r| r.user_id).collect();
        digest_users.sort();
        digest_users.dedup();
        for user in digest_users {
            claimed.extend(deliveries::claim_digest(&mut tx, user, self.pacing.lease).await?);
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Until the next email comes due, at most the poll interval.
    async fn idle_sleep(&self) -> Duration {
        match deliveries::next_due(&self.pool).await {
            Ok(Some(due)) => (due - Utc::now()).to_std().unwrap_or_default().min(self.pacing.poll_interval),
            _ => self.pacing.poll_interval,
        }
    }

    async fn process(&self, job: Vec<Claimed>) {
        let Some(first) = job.first() else { return };
        let id = first.id;
        // Taken before the send, so recording the outcome waits for no pool.
        let mut conn = match self.pool.acquire().await {
            Ok(conn) => conn,
            Err(error) => {
                tracing::warn!(delivery_id = %id, %error, "no database connection; the claim will lapse");
                return;
            }
        };
        let outcome = self.send(&mut conn, &job).await;
        if let Err(error) = self.record(&mut conn, &job, outcome).await {
            // The lease lapses and another attempt records it; nothing is lost.
            tracing::warn!(delivery_id = %id, %error, "cannot record an email's outcome");
        }
    }

    /// Renders and sends one email (or one digest of several rows).
    async fn send(&self, conn: &mut PgConnection, job: &[Claimed]) -> Result<Sent, Failure> {
        let first = &job[0];
        let kind = Kind::parse_any(&first.kind)
            .ok_or_else(|| Failure::Permanent(Reason::Unprepared, format!("unknown kind {}", first.kind)))?;
        let mut recipient = recipients::find(conn, first.user_id)
            .await
            .map_err(|e| Failure::Transient(e.to_string()))?
            .unwrap_or_else(|| Recipient {
                user_id: first.user_id,
                email: first.recipient.clone(),
                name: String::new(),
                currency: "USD".into(),
                timezone: "UTC".into(),
                email_verified: false,
            });
        if kind.is_security() {
            // The address the link or notice was made for (a new address being proven, the old
            // one being told), not whatever the profile says now.
            recipient.email = first.recipient.clone();
        } else if !recipient.email_verified {
            return Err(Failure::Suppressed(recipients::UNVERIFIED.into()));
        }
        let prefs =
            preferences::load(conn, first.user_id).await.map_err(|e| Failure::Transient(e.to_string()))?;
        let suppressed = suppression::check(conn, &recipient.email)
            .await
            .map_err(|e| Failure::Transient(e.to_string()))?;
        // A security email still reaches an address that unsubscribed (its owner asked for
        // it); only a mailbox that does not exist stops it.
        if let Some(why) = suppressed.filter(|why| !kind.is_security() || *why == suppression::Why::Bounced) {
            return Err(Failure::Suppressed(why.note().into()));
        }
        if kind.is_security() {
            // Not a preference: neither the master switch nor a kind stops it.
        } else if !prefs.email_enabled {
            return Err(Failure::Suppressed("email was turned off before it was sent".into()));
        }
        let requested = first.payload.get("requested").and_then(Value::as_bool).unwrap_or(false);
        if !first.digest && !requested && !prefs.wants(kind) {
            return Err(Failure::Suppressed(format!("{} was turned off before it was sent", kind.as_str())));
        }
        let render_error =
            |e: minijinja::Error| Failure::Permanent(Reason::Unprepared, format!("cannot render: {e:#}"));
        let mut left_out = Vec::new();
        let (rendered, scope, chart_png) = if first.digest {
            let mut items = Vec::new();
            for row in job {
                let Some(kind) = Kind::parse(&row.kind).filter(|k| prefs.wants(*k)) else {
                    left_out
                        .push((row.id, format!("{} was turned off before the digest was sent", row.kind)));
                    continue;
                };
                let context = self.links.context(&recipient, Scope::Only(kind), &row.payload);
                let item = self.templates.render(kind.template(), &context).map_err(render_error)?;
                items
                    .push(json!({ "kind": kind.as_str(), "subject": item.subject, "summary": item.summary }));
            }
            if items.is_empty() {
                return Err(Failure::Suppressed("every kind in the digest was turned off".into()));
            }
            let context = self.links.context(&recipient, Scope::All, &json!({ "items": items }));
            (self.templates.render("digest", &context).map_err(render_error)?, Scope::All, None)
        } else if kind == Kind::MonthlySummary {
            let month = summary_month(&first.payload)?;
            let current = schedule::current_month(Utc::now(), recipient.tz());
            let gathered =
                summary::gather(&self.upstreams, first.user_id, &recipient.currency, month, current)
                    .await
                    .map_err(|s| Failure::Transient(format!("gathering the summary: {}", s.message())))?;
            let context = self.links.context(&recipient, Scope::Only(kind), &gathered.context);
            (
                self.templates.render(kind.template(), &context).map_err(render_error)?,
                Scope::Only(kind),
                gathered.chart_png,
            )
        } else {
            let context = self.links.context(&recipient, Scope::for_kind(kind), &first.payload);
            (
                self.templates.render(kind.template(), &context).map_err(render_error)?,
                Scope::for_kind(kind),
                None,
            )
        };
        let to = Mailbox::new(
            Some(recipient.name.clone()).filter(|n| !n.is_empty()),
            // The current address: the user may have changed it while the email waited.
            recipient
                .email
                .parse()
                .map_err(|e| Failure::Permanent(Reason::BadAddress, format!("bad address: {e}")))?,
        );
        let unsubscribe_url = self.links.unsubscribe_url(first.user_id, scope);
        let envelope = Envelope {
            from: &self.from,
            to,
            message_id: &first.message_id,
            unsubscribe_url: &unsubscribe_url,
            chart_png,
        };
        let mail = message::build(envelope, &rendered)
            .map_err(|e| Failure::Permanent(Reason::Unprepared, format!("cannot build: {e}")))?;
        // Gathering and rendering took time; the lease must cover the send and its record.
        if !deliveries::renew(conn, job, self.pacing.lease)
            .await
            .map_err(|e| Failure::Transient(e.to_string()))?
        {
            return Err(Failure::Lost);
        }
        match self.mailer.send(mail).await {
            Ok(reply) => Ok(Sent { rendered, reply, left_out }),
            Err(SendError::Transient(e)) => Err(Failure::Transient(e)),
            Err(SendError::Permanent(e)) => Err(Failure::Permanent(Reason::Refused, e)),
            Err(SendError::NoMailbox(e)) => {
                // A hard bounce: nothing more goes to this address, from any account.
                suppression::add(conn, &recipient.email, suppression::Why::Bounced)
                    .await
                    .map_err(|e| Failure::Transient(e.to_string()))?;
                Err(Failure::Permanent(Reason::BadAddress, e))
            }
        }
    }

    /// Commits the outcome of every row of `job`.
    async fn record(
        &self,
        conn: &mut PgConnection,
        job: &[Claimed],
        outcome: Result<Sent, Failure>,
    ) -> sqlx::Result<()> {
        if matches!(outcome, Err(Failure::Lost)) {
            tracing::info!(delivery_id = %job[0].id, "another worker took this email over");
            return Ok(());
        }
        let mut tx = conn.begin().await?;
        let mut published = false;
        // Counted once the outcome is committed: `notification_emails_total`, one per delivery.
        let mut outcomes: Vec<&'static str> = Vec::with_capacity(job.len());
        for row in job {
            match &outcome {
                Ok(sent) if sent.left_out.iter().any(|(id, _)| *id == row.id) => {
                    let why = sent
                        .left_out
                        .iter()
                        .find(|(id, _)| *id == row.id)
                        .map(|(_, w)| w.as_str())
                        .unwrap_or("");
                    deliveries::finish_unsent(&mut tx, row, "suppressed", why).await?;
                    outcomes.push("suppressed");
                }
                Ok(Sent { rendered, reply, .. }) => {
                    // A digest's rows keep their own subjects in the history.
                    let subject = (!row.digest).then_some(rendered.subject.as_str());
                    if deliveries::mark_sent(&mut tx, row, subject, reply).await? {
                        events::enqueue(&mut tx, &ctx(row.user_id), &sent_event(row, "sent")).await?;
                        published = true;
                        tracing::info!(delivery_id = %row.id, kind = row.kind, "email sent");
                    }
                    outcomes.push("sent");
                }
                Err(Failure::Transient(error)) if row.attempts < self.pacing.max_attempts as i32 => {
                    let retry_at = Utc::now() + backoff(self.pacing.retry_base, row.attempts);
                    deliveries::retry_later(&mut tx, row, RETRYING, retry_at).await?;
                    tracing::warn!(delivery_id = %row.id, attempts = row.attempts, error, "email deferred");
                    outcomes.push("deferred");
                }
                Err(Failure::Transient(error)) => {
                    if deliveries::finish_unsent(&mut tx, row, "failed", Reason::GaveUp.plain()).await? {
                        events::enqueue(&mut tx, &ctx(row.user_id), &sent_event(row, "failed")).await?;
                        published = true;
                    }
                    tracing::error!(delivery_id = %row.id, attempts = row.attempts, error, "email failed");
                    outcomes.push("failed");
                }
                Err(Failure::Permanent(reason, error)) => {
                    if deliveries::finish_unsent(&mut tx, row, "failed", reason.plain()).await? {
                        events::enqueue(&mut tx, &ctx(row.user_id), &sent_event(row, "failed")).await?;
                        published = true;
                    }
                    tracing::error!(delivery_id = %row.id, attempts = row.attempts, error, "email failed");
                    outcomes.push("failed");
                }
                Err(Failure::Suppressed(why)) => {
                    deliveries::finish_unsent(&mut tx, row, "suppressed", why).await?;
                    outcomes.push("suppressed");
                }
                Err(Failure::Lost) => {}
            }
        }
        tx.commit().await?;
        for outcome in outcomes {
            metrics::counter!("notification_emails_total", "outcome" => outcome).increment(1);
        }
        if published {
            self.outbox.wake();
        }
        Ok(())
    }
}

/// Groups claimed rows into emails: a user's digest rows make one, every other row its own.
fn jobs(claimed: Vec<Claimed>) -> Vec<Vec<Claimed>> {
    let mut digests: BTreeMap<Uuid, Vec<Claimed>> = BTreeMap::new();
    let mut jobs = Vec::new();
    for row in claimed {
        if row.digest {
            digests.entry(row.user_id).or_default().push(row);
        } else {
            jobs.push(vec![row]);
        }
    }
    jobs.extend(digests.into_values());
    jobs
}

/// The retry delay after attempt `attempts`: base × 2^(attempts−1), at most an hour.
fn backoff(base: Duration, attempts: i32) -> chrono::Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(16);
    let delay = base.saturating_mul(1 << exponent).min(Duration::from_secs(3600));
    chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1))
}

fn summary_month(payload: &Value) -> Result<NaiveDate, Failure> {
    payload
        .get("month")
        .and_then(Value::as_str)
        .and_then(|m| NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok())
        .ok_or_else(|| Failure::Permanent(Reason::Unprepared, "the summary row names no month".into()))
}

fn ctx(user_id: Uuid) -> EventContext {
    EventContext { user_id: Some(user_id), ..EventContext::default() }
}

fn sent_event(row: &Claimed, status: &str) -> ev::NotificationSent {
    let now: DateTime<Utc> = Utc::now();
    ev::NotificationSent {
        notification_id: row.id.to_string(),
        user_id: row.user_id.to_string(),
        channel: "email".into(),
        template: if row.digest { "digest".into() } else { row.kind.clone() },
        status: status.into(),
        occurred_at: Some(prost_types::Timestamp { seconds: now.timestamp(), nanos: 0 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(base, 1), chrono::Duration::seconds(30));
        assert_eq!(backoff(base, 3), chrono::Duration::seconds(120));
        assert_eq!(backoff(base, 40), chrono::Duration::hours(1));
    }
}
