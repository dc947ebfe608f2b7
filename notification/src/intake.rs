//! Turning events into emails: each event the service consumes becomes at most one delivery
//! row, in the consumer's transaction, so a redelivered event finds its row and adds none.
//!
//! The preferences are applied here (a kind turned off, an anomaly below the minimum score
//! give a `suppressed` row, kept for the history) and again at send time, since they may
//! change while an email waits for quiet hours or the digest.

use std::sync::Arc;

use budgetsmart_common::events::{DomainEvent, HandlerError, IncomingEvent, journal};
use budgetsmart_proto::engine::v1 as en;
use budgetsmart_proto::events::v1 as ev;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use sqlx::PgConnection;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::clients::Upstreams;
use crate::content;
use crate::deliveries::{self, NewDelivery, Status};
use crate::kind::Kind;
use crate::links::Links;
use crate::preferences::{self, Digest};
use crate::recipients::{self, Recipient};
use crate::schedule;
use crate::suppression;
use crate::templates::Templates;
use crate::unsubscribe::Scope;

/// What a new email needs besides the connection.
#[derive(Clone)]
pub struct Intake {
    templates: Arc<Templates>,
    links: Links,
    upstreams: Upstreams,
    sender: Arc<Notify>,
}

/// An email some cause asks for.
pub struct Request {
    /// The addressee.
    pub user_id: Uuid,
    /// Its kind.
    pub kind: Kind,
    /// The cause, unique per user and kind.
    pub dedupe_key: String,
    /// Template data.
    pub payload: Value,
    /// An anomaly's score, checked against the user's minimum.
    pub score: Option<f64>,
    /// The subject's data, when it differs from `payload` (the summary's figures come later).
    pub subject_payload: Option<Value>,
    /// Asked for by the user just now (`POST /notifications/summary`): it goes out even if
    /// the kind is off or it is quiet hours, though not when email is off altogether.
    pub requested: bool,
    /// Where a security email goes when it is not the account's stored address: a link for
    /// the address the account is changing to, the notice to the address it changed from.
    pub to: Option<String>,
}

impl Intake {
    /// Intake rendering subjects with `templates`, waking `sender` for new email.
    pub fn new(templates: Arc<Templates>, links: Links, upstreams: Upstreams, sender: Arc<Notify>) -> Intake {
        Intake { templates, links, upstreams, sender }
    }

    /// Tells the sender new email is queued (after the caller's commit).
    pub fn wake_sender(&self) {
        self.sender.notify_one();
    }

    /// Records the email `request` asks for, applying the preferences; the row's id, or
    /// `None` if its cause already gave one.
    pub async fn queue(
        &self,
        conn: &mut PgConnection,
        request: Request,
    ) -> Result<Option<Uuid>, HandlerError> {
        let Some(recipient) = self.recipient(conn, request.user_id).await? else {
            tracing::info!(user_id = %request.user_id, "no email for an account that no longer exists");
            return Ok(None);
        };
        let prefs = preferences::load(conn, request.user_id).await?;
        let now = Utc::now();
        let tz = recipient.tz();
        let digest = prefs.digest == Digest::Daily && request.kind.digestible() && !request.requested;
        let not_before = if request.requested || request.kind.is_security() {
            now
        } else if digest {
            schedule::next_digest(now, tz, prefs.quiet_hours)
        } else {
            schedule::release_time(now, tz, prefs.quiet_hours)
        };
        let security = request.kind.is_security();
        let recipient = match request.to.clone().filter(|_| security) {
            Some(address) => Recipient { email: address, ..recipient },
            None => recipient,
        };
        let suppressed = suppression::check(conn, &recipient.email).await?;
        let (status, note) = if let Some(why) =
            suppressed.filter(|why| !security || *why == suppression::Why::Bounced)
        {
            (Status::Suppressed, Some(why.note().to_owned()))
        } else if security {
            // Asked for just now by whoever holds the address: never held, never a preference.
            (Status::Queued, None)
        } else if !recipient.email_verified {
            // An address nobody has proven could be anyone's: mail to it could be turned on
            // them. The row stays, so the history shows what was held back and why.
            (Status::Suppressed, Some(recipients::UNVERIFIED.to_owned()))
        } else if !prefs.email_enabled {
            (Status::Suppressed, Some("email is turned off in the preferences".to_owned()))
        } else if !request.requested && !prefs.wants(request.kind) {
            (Status::Suppressed, Some(format!("{} is turned off in the preferences", request.kind.as_str())))
        } else if request.score.is_some_and(|s| s < prefs.min_anomaly_score) {
            (Status::Suppressed, Some("the anomaly scores below the minimum in the preferences".to_owned()))
        } else {
            (Status::Queued, None)
        };
        let subject_data = request.subject_payload.as_ref().unwrap_or(&request.payload);
        let context = self.links.context(&recipient, Scope::for_kind(request.kind), subject_data);
        let subject = self
            .templates
            .subject(request.kind.template(), &context)
            .map_err(|e| HandlerError::Permanent(anyhow::anyhow!("cannot render the subject: {e:#}")))?;
        let delivery = NewDelivery {
            user_id: request.user_id,
            kind: request.kind,
            dedupe_key: request.dedupe_key,
            recipient: recipient.email.clone(),
            subject,
            payload: request.payload,
            digest,
            not_before,
            status,
            note,
        };
        Ok(deliveries::insert(conn, &delivery).await?)
    }

    /// Whether `recipient`'s address is verified, asking the engine when the stored copy says
    /// not: `email_verified` may still be on its way when a person who has just used the link
    /// asks for an email.
    pub async fn verified(
        &self,
        conn: &mut PgConnection,
        recipient: &Recipient,
    ) -> Result<bool, HandlerError> {
        if recipient.email_verified {
            return Ok(true);
        }
        let user =
            self.upstreams.users(recipient.user_id).map_err(engine_failed)?.get_me(en::GetMeRequest {}).await;
        let user = match user {
            Ok(user) => user.into_inner(),
            Err(status) if status.code() == tonic::Code::NotFound => return Ok(false),
            Err(status) => return Err(engine_failed(status)),
        };
        if user.email_verified {
            recipients::mark_verified(conn, recipient.user_id, &user.email, at(user.updated_at.as_ref()))
                .await?;
        }
        Ok(user.email_verified)
    }

    /// The stored recipient, or the engine's profile when no profile event has arrived yet.
    pub async fn recipient(
        &self,
        conn: &mut PgConnection,
        user_id: Uuid,
    ) -> Result<Option<Recipient>, HandlerError> {
        if let Some(recipient) = recipients::find(conn, user_id).await? {
            return Ok(Some(recipient));
        }
        let user = self.upstreams.users(user_id).map_err(engine_failed)?.get_me(en::GetMeRequest {}).await;
        let user = match user {
            Ok(user) => user.into_inner(),
            // The account is gone: nobody to tell.
            Err(status) if status.code() == tonic::Code::NotFound => return Ok(None),
            Err(status) => return Err(engine_failed(status)),
        };
        // The engine's own time of the last change, so a later profile event still wins.
        let version = at(user.updated_at.as_ref());
        let recipient = Recipient {
            user_id,
            email: user.email,
            name: user.name,
            currency: user.default_currency,
            timezone: user.timezone,
            email_verified: user.email_verified,
        };
        recipients::upsert(conn, &recipient, Some(recipient.email_verified), version).await?;
        Ok(recipients::find(conn, user_id).await?)
    }

    async fn apply(&self, conn: &mut PgConnection, event: &IncomingEvent) -> Result<(), HandlerError> {
        let key = event.id.to_string();
        let request = |user_id: Uuid, kind, payload| Request {
            user_id,
            kind,
            dedupe_key: key.clone(),
            payload,
            score: None,
            subject_payload: None,
            requested: false,
            to: None,
        };
        match event.event_type.as_str() {
            ev::UserRegistered::NAME => {
                let e: ev::UserRegistered = event.decode()?;
                let user_id = user(&e.user_id)?;
                let profile = Recipient {
                    user_id,
                    email: e.email,
                    name: e.name,
                    currency: e.default_currency,
                    timezone: e.timezone,
                    email_verified: false,
                };
                // The welcome waits for the address's proof (`email_verified`); the link that
                // asks for it comes in its own event.
                recipients::upsert(conn, &profile, Some(false), at(e.occurred_at.as_ref())).await?;
            }
            ev::EmailVerificationRequested::NAME => {
                let e: ev::EmailVerificationRequested = event.decode()?;
                let hours = e
                    .expires_at
                    .as_ref()
                    .map(|t| ((at(Some(t)) - Utc::now()).num_seconds() + 1799).div_euclid(3600).max(1))
                    .unwrap_or(24);
                let user_id = user(&e.user_id)?;
                let masked = recipients::mask(&e.email);
                let payload = json!({ "token": e.token, "valid_hours": hours, "change": e.change });
                let mut link = request(user_id, Kind::VerifyEmail, payload);
                link.to = Some(e.email);
                self.queue(conn, link).await?;
                // A change asked for: the current address hears of it now, while a changed
                // password can still stop it (that voids the link), not only once it is done.
                let current = recipients::find(conn, user_id).await?;
                if e.change && current.is_some_and(|r| r.email_verified) {
                    let payload = json!({ "new_email": masked, "pending": true });
                    self.queue(conn, request(user_id, Kind::EmailChanged, payload)).await?;
                }
            }
            ev::EmailVerified::NAME => {
                let e: ev::EmailVerified = event.decode()?;
                let user_id = user(&e.user_id)?;
                // Fetches the profile when no profile event came first.
                if self.recipient(conn, user_id).await?.is_none() {
                    return Ok(());
                }
                recipients::mark_verified(conn, user_id, &e.email, at(e.occurred_at.as_ref())).await?;
                if e.previous_email.is_empty() {
                    // Once per account: the engine says `email_verified` only when an
                    // unverified address becomes verified.
                    self.queue(conn, request(user_id, Kind::Welcome, json!({}))).await?;
                } else {
                    let payload = json!({ "new_email": recipients::mask(&e.email), "pending": false });
                    let mut notice = request(user_id, Kind::EmailChanged, payload);
                    notice.to = Some(e.previous_email);
                    self.queue(conn, notice).await?;
                }
            }
            ev::UserUpdated::NAME => {
                let e: ev::UserUpdated = event.decode()?;
                let profile = Recipient {
                    user_id: user(&e.user_id)?,
                    email: e.email,
                    name: e.name,
                    currency: e.default_currency,
                    timezone: e.timezone,
                    email_verified: e.email_verified.unwrap_or(false),
                };
                recipients::upsert(conn, &profile, e.email_verified, at(e.occurred_at.as_ref())).await?;
            }
            ev::PasswordResetRequested::NAME => {
                let e: ev::PasswordResetRequested = event.decode()?;
                let minutes = e
                    .expires_at
                    .as_ref()
                    .map(|t| ((at(Some(t)) - Utc::now()).num_seconds() + 59).div_euclid(60).max(1))
                    .unwrap_or(30);
                let payload = json!({ "token": e.token, "valid_minutes": minutes });
                self.queue(conn, request(user(&e.user_id)?, Kind::PasswordReset, payload)).await?;
            }
            ev::UserDeleted::NAME => {
                let e: ev::UserDeleted = event.decode()?;
                let user_id = user(&e.user_id)?;
                recipients::forget(conn, user_id).await?;
                journal::forget_user(conn, user_id).await?;
            }
            ev::BudgetThresholdReached::NAME => {
                let e: ev::BudgetThresholdReached = event.decode()?;
                let payload = content::threshold(&e);
                self.queue(conn, request(user(&e.user_id)?, Kind::BudgetThresholdReached, payload)).await?;
            }
            ev::AnomalyDetected::NAME => {
                let e: ev::AnomalyDetected = event.decode()?;
                if is_old_news(&e.occurred_on, chrono::Utc::now().date_naive()) {
                    // An imported history's old anomalies are in the feed, not in the inbox:
                    // an alert about last year's sofa is noise, not a warning.
                    tracing::debug!(transaction_id = %e.transaction_id, "anomaly on an old transaction: not emailed");
                    return Ok(());
                }
                let score = e.score.parse::<f64>().ok().filter(|s| s.is_finite()).ok_or_else(|| {
                    HandlerError::Permanent(anyhow::anyhow!("anomaly score {:?} is not a number", e.score))
                })?;
                let score = score.clamp(0.0, 1.0);
                let mut request =
                    request(user(&e.user_id)?, Kind::AnomalyDetected, content::anomaly(&e, score, None));
                request.score = Some(score);
                // One email per flagged transaction and kind, whatever the event id.
                request.dedupe_key = format!("anomaly:{}:{}", e.transaction_id, e.kind);
                self.queue(conn, request).await?;
            }
            ev::PredictionCompleted::NAME => {
                let e: ev::PredictionCompleted = event.decode()?;
                if let Some(payload) = content::overspend(&e) {
                    let mut request = request(user(&e.user_id)?, Kind::PredictionCompleted, payload);
                    // Forecasts follow every transaction: warn once per budget and month.
                    request.dedupe_key = format!("overspend:{}:{}", e.budget_id, e.month);
                    self.queue(conn, request).await?;
                }
            }
            ev::GoalReached::NAME => {
                let e: ev::GoalReached = event.decode()?;
                let goal = e.goal.unwrap_or_default();
                let mut request = request(user(&goal.user_id)?, Kind::GoalReached, content::goal(&goal));
                // Once per goal, however often the event comes.
                request.dedupe_key = format!("goal_reached:{}", goal.goal_id);
                self.queue(conn, request).await?;
            }
            ev::GoalAtRisk::NAME => {
                let e: ev::GoalAtRisk = event.decode()?;
                let goal = e.goal.unwrap_or_default();
                let mut request = request(user(&goal.user_id)?, Kind::GoalAtRisk, content::goal(&goal));
                // Analytics announces each slip once; a redelivery of one is the same email.
                request.dedupe_key = format!("goal_at_risk:{}:{}", goal.goal_id, event.id);
                self.queue(conn, request).await?;
            }
            ev::InsightGenerated::NAME => {
                let e: ev::InsightGenerated = event.decode()?;
                let mut request = request(user(&e.user_id)?, Kind::InsightGenerated, content::insight(&e));
                request.dedupe_key = format!("insight:{}", e.insight_id);
                self.queue(conn, request).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// An engine `GetMe` that failed, as a handler error.
fn engine_failed(e: tonic::Status) -> HandlerError {
    let error = anyhow::anyhow!("engine GetMe: {:?}: {}", e.code(), e.message());
    match e.code() {
        // A wrong SERVICE_TOKEN or scope: retrying cannot help; the event dead-letters (kept
        // for replay) and the log says why.
        tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => {
            tracing::error!(error = %error, "the engine refuses the service credential");
            HandlerError::Permanent(error)
        }
        _ => HandlerError::Transient(error),
    }
}

fn user(id: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(id).map_err(|_| HandlerError::Permanent(anyhow::anyhow!("user_id {id:?} is not a UUID")))
}

fn at(timestamp: Option<&prost_types::Timestamp>) -> DateTime<Utc> {
    timestamp
        .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
        .unwrap_or_else(Utc::now)
}

impl budgetsmart_common::events::EventHandler for Intake {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a IncomingEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            // A reset or verification request carries a live token: it is never written to
            // the journal.
            if ![
                ev::UserDeleted::NAME,
                ev::PasswordResetRequested::NAME,
                ev::EmailVerificationRequested::NAME,
            ]
            .contains(&event.event_type.as_str())
            {
                journal::record(conn, event).await?;
            }
            self.apply(conn, event).await
        })
    }

    fn committed<'a>(&'a self, _event: &'a IncomingEvent) -> BoxFuture<'a, ()> {
        self.sender.notify_one();
        Box::pin(async {})
    }
}

/// Anomalies on transactions older than this are not emailed (they stay in the feed): they come
/// from an imported history, and an alert is only worth sending while it can still be acted on.
pub const ANOMALY_EMAIL_MAX_AGE_DAYS: i64 = 14;

/// Whether a transaction of `occurred_on` (`YYYY-MM-DD`) is too old to alert about `today`.
fn is_old_news(occurred_on: &str, today: chrono::NaiveDate) -> bool {
    chrono::NaiveDate::parse_from_str(occurred_on, "%Y-%m-%d")
        .is_ok_and(|day| (today - day).num_days() > ANOMALY_EMAIL_MAX_AGE_DAYS)
}

#[cfg(test)]
mod old_news_tests {
    use super::*;

    #[test]
    fn only_recent_anomalies_are_alerts() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap_or_default();
        assert!(!is_old_news("2026-12-05", today));
        assert!(!is_old_news("2026-11-21", today), "two weeks is recent");
        assert!(is_old_news("2026-11-20", today));
        assert!(is_old_news("2025-12-10", today));
        assert!(!is_old_news("not a day", today), "a day it cannot read is not judged old");
    }
}
