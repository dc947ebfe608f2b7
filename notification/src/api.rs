//! The notification gRPC services: the caller's preferences, history and summary requests,
//! and the token-authenticated unsubscribe.

use budgetsmart_common::events::journal;
use budgetsmart_common::grpc::caller;
use budgetsmart_common::pagination::{self, Page};
use budgetsmart_proto::common::v1 as common;
use budgetsmart_proto::notification::v1 as pb;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::error::ApiError;
use crate::intake::{self, Intake};
use crate::kind::Kind;
use crate::links::Links;
use crate::preferences::{self, Digest, Preferences, QuietHours};
use crate::recipients;
use crate::schedule;
use crate::summary;
use crate::suppression;
use crate::unsubscribe::Scope;

/// How often a user may ask for the summary of one month: once an hour (API.md).
const SUMMARY_REQUEST_EVERY_SECS: f64 = 3600.0;

/// Implements `budgetsmart.notification.v1.Notifications`.
pub struct NotificationsService {
    pool: PgPool,
    intake: Intake,
}

impl NotificationsService {
    /// A service over `pool`, queueing summaries through `intake`.
    pub fn new(pool: PgPool, intake: Intake) -> Self {
        NotificationsService { pool, intake }
    }
}

fn to_proto(prefs: &Preferences) -> pb::Preferences {
    pb::Preferences {
        email_enabled: prefs.email_enabled,
        types: Some(pb::TypeSettings {
            budget_threshold_reached: prefs.type_enabled(Kind::BudgetThresholdReached),
            anomaly_detected: prefs.type_enabled(Kind::AnomalyDetected),
            prediction_completed: prefs.type_enabled(Kind::PredictionCompleted),
            insight_generated: prefs.type_enabled(Kind::InsightGenerated),
            monthly_summary: prefs.type_enabled(Kind::MonthlySummary),
            welcome: prefs.type_enabled(Kind::Welcome),
            goal_reached: prefs.type_enabled(Kind::GoalReached),
            goal_at_risk: prefs.type_enabled(Kind::GoalAtRisk),
        }),
        min_anomaly_score: prefs.min_anomaly_score,
        digest: prefs.digest.as_str().into(),
        quiet_hours: prefs.quiet_hours.map(|q| pb::QuietHours {
            start: q.start.format("%H:%M").to_string(),
            end: q.end.format("%H:%M").to_string(),
        }),
    }
}

/// Validates a whole preferences document; every problem is reported, by field.
fn from_proto(body: pb::Preferences) -> Result<Preferences, ApiError> {
    let mut violations = Vec::new();
    let mut invalid = |field: &str, message: &str| violations.push((field.to_owned(), message.to_owned()));
    let types = body.types.unwrap_or_else(|| {
        invalid("types", "is required");
        pb::TypeSettings::default()
    });
    if !(0.0..=1.0).contains(&body.min_anomaly_score) {
        invalid("min_anomaly_score", "must be a number from 0 to 1");
    }
    let digest = Digest::parse(&body.digest).unwrap_or_else(|| {
        invalid("digest", "must be immediate or daily");
        Digest::Immediate
    });
    let mut time = |field: &str, text: &str| {
        let parsed = NaiveTime::parse_from_str(text, "%H:%M").ok().filter(|_| text.len() == 5);
        if parsed.is_none() {
            invalid(field, "must be a time of day as HH:MM");
        }
        parsed
    };
    let quiet_hours = match body.quiet_hours {
        None => None,
        Some(q) => match (time("quiet_hours.start", &q.start), time("quiet_hours.end", &q.end)) {
            (Some(start), Some(end)) if start == end => {
                invalid("quiet_hours.end", "must differ from start");
                None
            }
            (Some(start), Some(end)) => Some(QuietHours { start, end }),
            _ => None,
        },
    };
    if !violations.is_empty() {
        return Err(ApiError::Invalid(violations));
    }
    let mut prefs = Preferences {
        email_enabled: body.email_enabled,
        min_anomaly_score: body.min_anomaly_score,
        digest,
        quiet_hours,
        ..Preferences::default()
    };
    for (kind, on) in [
        (Kind::BudgetThresholdReached, types.budget_threshold_reached),
        (Kind::AnomalyDetected, types.anomaly_detected),
        (Kind::PredictionCompleted, types.prediction_completed),
        (Kind::InsightGenerated, types.insight_generated),
        (Kind::MonthlySummary, types.monthly_summary),
        (Kind::Welcome, types.welcome),
        (Kind::GoalReached, types.goal_reached),
        (Kind::GoalAtRisk, types.goal_at_risk),
    ] {
        prefs.set(kind, on);
    }
    Ok(prefs)
}

fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

#[tonic::async_trait]
impl pb::notifications_server::Notifications for NotificationsService {
    #[tracing::instrument(skip_all)]
    async fn list_received_events(
        &self,
        request: Request<common::ListReceivedEventsRequest>,
    ) -> Result<Response<common::ListReceivedEventsResponse>, Status> {
        journal::answer(&self.pool, request).await
    }

    #[tracing::instrument(skip_all)]
    async fn get_preferences(
        &self,
        request: Request<pb::GetPreferencesRequest>,
    ) -> Result<Response<pb::Preferences>, Status> {
        let user_id = caller(&request)?.user_id;
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let prefs = preferences::load(&mut conn, user_id).await.map_err(ApiError::from)?;
        Ok(Response::new(to_proto(&prefs)))
    }

    #[tracing::instrument(skip_all)]
    async fn update_preferences(
        &self,
        request: Request<pb::Preferences>,
    ) -> Result<Response<pb::Preferences>, Status> {
        let user_id = caller(&request)?.user_id;
        let prefs = from_proto(request.into_inner())?;
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        preferences::save(&mut conn, user_id, &prefs).await.map_err(ApiError::from)?;
        Ok(Response::new(to_proto(&prefs)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let page = Page::from_request(request.get_ref().page.as_ref()).map_err(ApiError::from)?;
        let before = match page.after.as_deref() {
            None => None,
            Some([id]) => Some(
                Uuid::parse_str(id)
                    .map_err(|_| ApiError::invalid("cursor", "is not a cursor this API returned"))?,
            ),
            Some(_) => return Err(ApiError::invalid("cursor", "is not a cursor this API returned").into()),
        };
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let rows = crate::deliveries::history(&mut conn, user_id, before, page.limit + 1)
            .await
            .map_err(ApiError::from)?;
        let (rows, next_cursor) = pagination::finish(rows, page.limit, |r| vec![r.id.to_string()]);
        let data = rows
            .into_iter()
            .map(|r| pb::Notification {
                id: r.id.to_string(),
                kind: r.kind,
                channel: "email".into(),
                subject: r.subject,
                status: r.status,
                attempts: u32::try_from(r.attempts).unwrap_or(0),
                created_at: Some(timestamp(r.created_at)),
                sent_at: r.sent_at.map(timestamp),
                last_error: r.last_error,
                not_before: Some(timestamp(r.not_before)),
            })
            .collect();
        Ok(Response::new(pb::ListNotificationsResponse { data, next_cursor }))
    }

    #[tracing::instrument(skip_all)]
    async fn request_summary(
        &self,
        request: Request<pb::RequestSummaryRequest>,
    ) -> Result<Response<pb::RequestSummaryResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let month = request.get_ref().month.trim().to_owned();
        let month = if month.is_empty() {
            None
        } else {
            Some(
                NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
                    .ok()
                    .filter(|_| month.len() == 7)
                    .ok_or_else(|| ApiError::invalid("month", "must be a month as YYYY-MM"))?,
            )
        };
        let mut tx = self.pool.begin().await.map_err(ApiError::from)?;
        let recipient = self
            .intake
            .recipient(&mut tx, user_id)
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::NotFound("user"))?;
        // Else the request would be a way to mail an address its owner never confirmed.
        if !self.intake.verified(&mut tx, &recipient).await.map_err(ApiError::from)? {
            return Err(ApiError::Unverified.into());
        }
        let tz = recipient.tz();
        let current = schedule::current_month(Utc::now(), tz);
        let month = month.unwrap_or(current);
        if month > current {
            return Err(ApiError::invalid("month", "must not be in the future").into());
        }
        let key = month.format("%Y-%m").to_string();
        // At most one requested summary of a month an hour: each request is an email to the
        // account's address, so an unthrottled one would turn the mail server on whoever that
        // address belongs to. Under a lock per user and month, so parallel requests count too.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 22))")
            .bind(format!("summary:{user_id}:{key}"))
            .execute(&mut *tx)
            .await
            .map_err(ApiError::from)?;
        let age: Option<f64> = sqlx::query_scalar(
            "SELECT EXTRACT(EPOCH FROM clock_timestamp() - max(created_at))::float8 FROM deliveries \
             WHERE user_id = $1 AND kind = $2 AND dedupe_key LIKE $3",
        )
        .bind(user_id)
        .bind(Kind::MonthlySummary.as_str())
        .bind(format!("summary:{key}:requested:%"))
        .fetch_one(&mut *tx)
        .await
        .map_err(ApiError::from)?;
        if let Some(age) = age.filter(|age| *age < SUMMARY_REQUEST_EVERY_SECS) {
            return Err(ApiError::TooMany {
                what: "a summary of this month was already requested in the last hour",
                retry_after: (SUMMARY_REQUEST_EVERY_SECS - age).ceil().max(1.0) as u64,
            }
            .into());
        }
        let queued = self
            .intake
            .queue(
                &mut tx,
                intake::Request {
                    user_id,
                    kind: Kind::MonthlySummary,
                    // Each request is its own email; the gateway's Idempotency-Key stops replays.
                    dedupe_key: format!("summary:{key}:requested:{}", Uuid::now_v7()),
                    payload: json!({ "month": key, "requested": true }),
                    score: None,
                    subject_payload: Some(summary::subject_context(month)),
                    requested: true,
                    to: None,
                },
            )
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::NotFound("user"))?;
        tx.commit().await.map_err(ApiError::from)?;
        self.intake.wake_sender();
        Ok(Response::new(pb::RequestSummaryResponse { notification_id: queued.to_string() }))
    }
}

/// Implements `budgetsmart.notification.v1.Unsubscribe`: the token is the credential.
pub struct UnsubscribeService {
    pool: PgPool,
    links: Links,
}

impl UnsubscribeService {
    /// A service over `pool`, checking tokens with `links`' signer.
    pub fn new(pool: PgPool, links: Links) -> Self {
        UnsubscribeService { pool, links }
    }

    /// The link's user, scope and address.
    async fn resolve(&self, token: &str) -> Result<(Uuid, Scope, String), ApiError> {
        let (user_id, scope) =
            self.links.signer().verify(token).ok_or(ApiError::NotFound("unsubscribe link"))?;
        let mut conn = self.pool.acquire().await?;
        let recipient =
            recipients::find(&mut conn, user_id).await?.ok_or(ApiError::NotFound("unsubscribe link"))?;
        Ok((user_id, scope, recipient.email))
    }
}

#[tonic::async_trait]
impl pb::unsubscribe_server::Unsubscribe for UnsubscribeService {
    #[tracing::instrument(skip_all)]
    async fn describe_unsubscribe(
        &self,
        request: Request<pb::UnsubscribeRequest>,
    ) -> Result<Response<pb::UnsubscribeResponse>, Status> {
        let (_, scope, email) = self.resolve(&request.get_ref().token).await?;
        Ok(Response::new(pb::UnsubscribeResponse {
            kind: scope.as_str().into(),
            email: recipients::mask(&email),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn confirm_unsubscribe(
        &self,
        request: Request<pb::UnsubscribeRequest>,
    ) -> Result<Response<pb::UnsubscribeResponse>, Status> {
        let (user_id, scope, email) = self.resolve(&request.get_ref().token).await?;
        let mut tx = self.pool.begin().await.map_err(ApiError::from)?;
        match scope {
            Scope::Only(kind) => preferences::turn_off(&mut tx, user_id, kind).await,
            Scope::All => {
                // From everything: the address itself goes on the suppression list, so no
                // account (this one turning email back on, or another with the same address)
                // can reach it again.
                suppression::add(&mut tx, &email, suppression::Why::Unsubscribed)
                    .await
                    .map_err(ApiError::from)?;
                preferences::turn_off_email(&mut tx, user_id).await
            }
        }
        .map_err(ApiError::from)?;
        tx.commit().await.map_err(ApiError::from)?;
        tracing::info!(%user_id, scope = scope.as_str(), "unsubscribed");
        Ok(Response::new(pb::UnsubscribeResponse {
            kind: scope.as_str().into(),
            email: recipients::mask(&email),
        }))
    }
}
