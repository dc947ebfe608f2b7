//! What the engine consumes: forecasts and insights from analytics.

use std::sync::Arc;

use budgetsmart_common::events::{ConsumerSpec, DomainEvent, EventHandler, HandlerError, IncomingEvent};
use budgetsmart_proto::events::v1 as ev;
use futures_util::future::BoxFuture;
use sqlx::PgConnection;

use crate::budgets::forecasts;
use crate::insights;

/// Routes each consumed event to its handler.
struct EngineEvents;

impl EventHandler for EngineEvents {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a IncomingEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            match event.event_type.as_str() {
                ev::PredictionCompleted::NAME => forecasts::apply(conn, event).await,
                ev::InsightGenerated::NAME => insights::apply(conn, event).await,
                other => Err(HandlerError::Permanent(anyhow::anyhow!("the engine does not handle {other}"))),
            }
        })
    }
}

/// The engine's queue, `engine.events`.
pub fn spec() -> ConsumerSpec {
    ConsumerSpec {
        queue: "engine.events".into(),
        bindings: vec![ev::PredictionCompleted::routing_key(), ev::InsightGenerated::routing_key()],
        handler: Arc::new(EngineEvents),
    }
}
