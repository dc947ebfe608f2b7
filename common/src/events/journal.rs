//! A journal of applied events, for services whose own handling comes later and for
//! operators asking "did this service see that event?".

use budgetsmart_proto::common::v1 as pb;
use budgetsmart_proto::events::v1 as ev;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use futures_util::future::BoxFuture;

use super::{DomainEvent, EventHandler, HandlerError, IncomingEvent};

/// Records `event` in the `received_events` table of the connection's schema.
pub async fn record(conn: &mut PgConnection, event: &IncomingEvent) -> Result<(), HandlerError> {
    let summary = summarize(event)?;
    sqlx::query(
        "INSERT INTO received_events (event_id, event_type, user_id, summary, payload) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event.id)
    .bind(&event.event_type)
    .bind(event.user_id)
    .bind(summary)
    .bind(&event.payload)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets everything recorded about a deleted user.
pub async fn forget_user(conn: &mut PgConnection, user_id: Uuid) -> Result<(), HandlerError> {
    sqlx::query("DELETE FROM received_events WHERE user_id = $1").bind(user_id).execute(conn).await?;
    Ok(())
}

/// Answers `ListReceivedEvents` for the authenticated caller; both consuming services serve it.
pub async fn answer(
    pool: &PgPool,
    request: tonic::Request<pb::ListReceivedEventsRequest>,
) -> Result<tonic::Response<pb::ListReceivedEventsResponse>, tonic::Status> {
    let user_id = crate::grpc::caller(&request)?.user_id;
    let listed = list(pool, user_id, request.get_ref()).await.map_err(|e| {
        tracing::error!(error = %e, "listing received events");
        tonic::Status::internal("internal error")
    })?;
    Ok(tonic::Response::new(listed))
}

/// The caller's recorded events, newest first.
pub async fn list(
    pool: &PgPool,
    user_id: Uuid,
    request: &pb::ListReceivedEventsRequest,
) -> Result<pb::ListReceivedEventsResponse, sqlx::Error> {
    let limit = i64::from(match request.limit {
        0 => 50,
        n => n.min(200),
    });
    let event_type = Some(request.event_type.trim()).filter(|t| !t.is_empty());
    let rows: Vec<(Uuid, String, DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT event_id, event_type, received_at, summary FROM received_events \
         WHERE user_id = $1 AND ($2::text IS NULL OR event_type = $2) \
         ORDER BY received_at DESC, event_id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(event_type)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(pb::ListReceivedEventsResponse {
        events: rows
            .into_iter()
            .map(|(id, event_type, at, summary)| pb::ReceivedEvent {
                event_id: id.to_string(),
                event_type,
                received_at: Some(prost_types::Timestamp {
                    seconds: at.timestamp(),
                    nanos: at.timestamp_subsec_nanos() as i32,
                }),
                summary,
            })
            .collect(),
    })
}

fn amount(money: &Option<pb::Money>) -> String {
    match money.as_ref().and_then(|m| crate::money::from_proto(m).ok()) {
        Some((value, code)) => format!("{value} {code}"),
        None => "?".into(),
    }
}

fn decode<E: DomainEvent>(event: &IncomingEvent) -> Result<E, HandlerError> {
    E::decode(event.payload.as_slice())
        .map_err(|e| HandlerError::Permanent(anyhow::anyhow!("cannot decode {}: {e}", E::NAME)))
}

/// One line a person can read; decoding here also dead-letters payloads that are garbage.
fn summarize(event: &IncomingEvent) -> Result<String, HandlerError> {
    Ok(match event.event_type.as_str() {
        ev::TransactionCreated::NAME | ev::TransactionUpdated::NAME | ev::TransactionDeleted::NAME => {
            let data = match event.event_type.as_str() {
                ev::TransactionCreated::NAME => decode::<ev::TransactionCreated>(event)?.transaction,
                ev::TransactionUpdated::NAME => decode::<ev::TransactionUpdated>(event)?.transaction,
                _ => decode::<ev::TransactionDeleted>(event)?.transaction,
            }
            .unwrap_or_default();
            format!("{} {} on {} v{}", data.r#type, amount(&data.amount), data.occurred_on, data.version)
        }
        ev::BudgetUpdated::NAME => {
            let b = decode::<ev::BudgetUpdated>(event)?;
            format!("budget {} limit {} v{}", b.month, amount(&b.total_limit), b.version)
        }
        ev::BudgetDeleted::NAME => format!("budget {} deleted", decode::<ev::BudgetDeleted>(event)?.month),
        ev::BudgetThresholdReached::NAME => {
            let t = decode::<ev::BudgetThresholdReached>(event)?;
            format!(
                "threshold {}% of {} reached ({} spent) for {} {}",
                t.threshold_percent,
                amount(&t.limit),
                amount(&t.spent),
                t.scope,
                t.category_id.unwrap_or_default()
            )
            .trim_end()
            .to_owned()
        }
        ev::UserRegistered::NAME => {
            format!("user registered: {}", decode::<ev::UserRegistered>(event)?.email)
        }
        ev::UserDeleted::NAME => "user deleted".to_owned(),
        ev::PredictionCompleted::NAME => {
            let p = decode::<ev::PredictionCompleted>(event)?;
            format!("forecast {} projected {} by {}", p.month, amount(&p.projected_total), p.model)
        }
        ev::InsightGenerated::NAME => format!("insight: {}", decode::<ev::InsightGenerated>(event)?.title),
        ev::AnomalyDetected::NAME => {
            let a = decode::<ev::AnomalyDetected>(event)?;
            format!("anomaly on {} score {}", a.transaction_id, a.score)
        }
        other => format!("{other} ({} bytes)", event.payload.len()),
    })
}

/// A handler that journals every event and forgets users who delete their account: the whole
/// job of a service whose own use of the events comes later.
pub struct JournalHandler;

impl EventHandler for JournalHandler {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a IncomingEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            if event.event_type == ev::UserDeleted::NAME
                && let Some(user_id) = event.user_id
            {
                return forget_user(conn, user_id).await;
            }
            record(conn, event).await
        })
    }
}
