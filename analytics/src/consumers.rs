//! What analytics consumes: every change to transactions and budgets, and account lifecycle.

use std::sync::Arc;

use budgetsmart_common::events::{
    ConsumerSpec, DomainEvent, EventHandler, HandlerError, IncomingEvent, journal,
};
use budgetsmart_proto::events::v1 as ev;
use futures_util::future::BoxFuture;
use sqlx::PgConnection;

/// Records each event; the models that learn from them come with the forecasting work.
struct AnalyticsEvents;

impl EventHandler for AnalyticsEvents {
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

/// The analytics queue, `analytics.events`.
pub fn spec() -> ConsumerSpec {
    ConsumerSpec {
        queue: "analytics.events".into(),
        bindings: vec![
            ev::TransactionCreated::routing_key(),
            ev::TransactionUpdated::routing_key(),
            ev::TransactionDeleted::routing_key(),
            ev::BudgetUpdated::routing_key(),
            ev::BudgetDeleted::routing_key(),
            ev::UserRegistered::routing_key(),
            ev::UserDeleted::routing_key(),
        ],
        handler: Arc::new(AnalyticsEvents),
    }
}
