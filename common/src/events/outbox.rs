//! Writing events into the producer's outbox, inside the caller's transaction.

use std::sync::Arc;

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

/// Records `event` in the outbox of the connection's schema.
///
/// Call it on the transaction that makes the change, so the event exists if and only if the
/// change does, and call [`OutboxWaker::wake`] after the commit. Returns the event id
/// (UUIDv7, also the AMQP `message_id`).
#[tracing::instrument(skip_all, fields(event = E::NAME))]
pub async fn enqueue<E: DomainEvent>(
    conn: &mut PgConnection,
    ctx: &EventContext,
    event: &E,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    // An event caused outside a traced call still starts a trace: this function's own span
    // (a child of whatever is current, or a new root) is its parent.
    let (traceparent, tracestate) = match &ctx.traceparent {
        Some(parent) => (Some(parent.clone()), ctx.tracestate.clone()),
        None => crate::telemetry::current_trace_headers(),
    };
    sqlx::query(
        "INSERT INTO outbox (id, event_type, event_version, routing_key, user_id, payload, \
         correlation_id, traceparent, tracestate) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(E::NAME)
    .bind(E::VERSION as i32)
    .bind(E::routing_key())
    .bind(ctx.user_id)
    .bind(event.encode_to_vec())
    .bind(&ctx.correlation_id)
    .bind(&traceparent)
    .bind(&tracestate)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Wakes this process's relay after a commit that wrote to the outbox.
///
/// In-process rather than `NOTIFY` per transaction: Postgres serialises the commits of
/// notifying transactions on one queue lock, which cost 38 % of the write throughput here
/// (pgbench, docs/architecture/performance.md). Other replicas' relays still find rows by
/// polling, and `NOTIFY <schema>_outbox` still wakes every relay for producers outside the
/// process.
#[derive(Clone, Default)]
pub struct OutboxWaker(Arc<tokio::sync::Notify>);

impl OutboxWaker {
    /// Wakes the relay; if it is busy, it drains again as soon as it finishes.
    pub fn wake(&self) {
        self.0.notify_one();
    }

    /// Resolves at the next wake (or at once if one is pending).
    pub async fn woken(&self) {
        self.0.notified().await;
    }
}
