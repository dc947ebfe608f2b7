//! What flows through the live feed: one user's event, and the signals the consumer sends
//! to the streams of this process. Plain types; everything else in `live` builds on them.

use std::sync::Arc;

use budgetsmart_common::events::DomainEvent;
use budgetsmart_proto::events::v1 as ev;
use uuid::Uuid;

/// One event for one user's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    /// The event id (the AMQP `message_id`, a UUIDv7); the SSE `id`.
    pub id: Uuid,
    /// Whose event it is.
    pub user_id: Uuid,
    /// The event name; the SSE `event`.
    pub event: &'static str,
    /// The JSON view of the payload; the SSE `data`.
    pub data: String,
    /// When it reached a gateway, µs since the Unix epoch: the history's order.
    pub arrived: i64,
}

/// What the consumer tells the streams of this process.
#[derive(Debug, Clone)]
pub(super) enum Signal {
    /// A new event.
    Event(Arc<LiveEvent>),
    /// This replica was cut off from the broker and is back: events published meanwhile never
    /// reached its queue, but other replicas stored them, so streams re-read the history.
    Resync,
    /// The user deleted their account: their history is gone and their streams end.
    Forget(Uuid),
}

/// The events streamed to users.
pub(super) fn live_events() -> [&'static str; 6] {
    [
        ev::NotificationSent::NAME,
        ev::InsightGenerated::NAME,
        ev::AnomalyDetected::NAME,
        ev::BudgetThresholdReached::NAME,
        ev::GoalReached::NAME,
        ev::GoalAtRisk::NAME,
    ]
}

/// Now, in µs since the Unix epoch: the unit of arrival times.
pub(super) fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
