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

/// An outbox row built in Rust, before the statement that writes it: a write that folds its
/// event into one statement with its effect (a CTE) binds these fields itself.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    /// UUIDv7, also the AMQP `message_id`.
    pub id: Uuid,
    pub event_type: &'static str,
    pub event_version: i32,
    pub routing_key: String,
    pub user_id: Option<Uuid>,
    pub payload: Vec<u8>,
    pub correlation_id: Option<String>,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

/// The columns of an outbox row, in [`OutboxRow`]'s order.
pub const OUTBOX_COLUMNS: &str =
    "id, event_type, event_version, routing_key, user_id, payload, correlation_id, traceparent, tracestate";

impl OutboxRow {
    /// The row recording `event` caused in `ctx`.
    pub fn new<E: DomainEvent>(ctx: &EventContext, event: &E) -> OutboxRow {
        // An event caused outside a traced call still starts a trace: the current span (a
        // child of whatever is current, or a new root) is its parent.
        let (traceparent, tracestate) = match &ctx.traceparent {
            Some(parent) => (Some(parent.clone()), ctx.tracestate.clone()),
            None => crate::telemetry::current_trace_headers(),
        };
        OutboxRow {
            id: Uuid::now_v7(),
            event_type: E::NAME,
            event_version: E::VERSION as i32,
            routing_key: E::routing_key(),
            user_id: ctx.user_id,
            payload: event.encode_to_vec(),
            correlation_id: ctx.correlation_id.clone(),
            traceparent,
            tracestate,
        }
    }
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
    let row = OutboxRow::new(ctx, event);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )))
    .bind(row.id)
    .bind(row.event_type)
    .bind(row.event_version)
    .bind(&row.routing_key)
    .bind(row.user_id)
    .bind(&row.payload)
    .bind(&row.correlation_id)
    .bind(&row.traceparent)
    .bind(&row.tracestate)
    .execute(&mut *conn)
    .await?;
    Ok(row.id)
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
