//! What the notification service consumes: everything a person may be told about.

use std::sync::Arc;

use budgetsmart_common::events::{
    ConsumerSpec, DomainEvent, EventHandler, HandlerError, IncomingEvent, journal,
};
use budgetsmart_proto::events::v1 as ev;
use futures_util::future::BoxFuture;
use sqlx::PgConnection;

/// Records each event; templates and email delivery build on these records.
struct NotificationEvents;

impl EventHandler for NotificationEvents {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a IncomingEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            if event.event_type == ev::UserDeleted::NAME
                && let Some(user_id) = event.user_id
            {
                return journal::forget_user(conn, user_id).await;
            }
            journal::record(conn, event).await
        })
    }
}

/// The notification queue, `notification.events`.
pub fn spec() -> ConsumerSpec {
    ConsumerSpec {
        queue: "notification.events".into(),
        bindings: vec![
            ev::BudgetThresholdReached::routing_key(),
            ev::PredictionCompleted::routing_key(),
            ev::InsightGenerated::routing_key(),
            ev::AnomalyDetected::routing_key(),
            ev::UserRegistered::routing_key(),
            ev::UserDeleted::routing_key(),
        ],
        handler: Arc::new(NotificationEvents),
    }
}
