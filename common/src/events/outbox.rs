//! Writing events into the producer's outbox, inside the caller's transaction.

use sqlx::PgConnection;
use uuid::Uuid;

use super::DomainEvent;

/// Who caused an event and the trace it belongs to; travels in the AMQP envelope.
#[derive(Debug, Clone, Default)]
pub struct EventContext {
    /// The user the event is about.
    pub user_id: Option<Uuid>,
    /// The request id that caused it, used as the AMQP `correlation_id`.
    pub correlation_id: Option<String>,
    /// W3C trace context of the causing request.
    pub traceparent: Option<String>,
    /// W3C trace state of the causing request.
    pub tracestate: Option<String>,
}

/// Records `event` in the outbox of the connection's schema and wakes the relay on commit.
///
/// Call it on the transaction that makes the change, so the event exists if and only if the
/// change does. Returns the event id (UUIDv7, also the AMQP `message_id`).
#[tracing::instrument(skip_all, fields(event = E::NAME))]
pub async fn enqueue<E: DomainEvent>(
    conn: &mut PgConnection,
    ctx: &EventContext,
    event: &E,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    // One round trip: the insert, and a notification delivered at commit (Postgres folds the
    // notifications of one transaction into one).
    sqlx::query(
        "WITH queued AS (INSERT INTO outbox (id, event_type, event_version, routing_key, user_id, payload, \
         correlation_id, traceparent, tracestate) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id) \
         SELECT pg_notify(current_schema() || '_outbox', '') FROM queued",
    )
    .bind(id)
    .bind(E::NAME)
    .bind(E::VERSION as i32)
    .bind(E::routing_key())
    .bind(ctx.user_id)
    .bind(event.encode_to_vec())
    .bind(&ctx.correlation_id)
    .bind(&ctx.traceparent)
    .bind(&ctx.tracestate)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}
