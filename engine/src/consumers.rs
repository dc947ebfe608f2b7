//! What the engine consumes: forecasts and insights from analytics, and its own
//! `home_currency_changed`, whose work (re-expressing a history) is too long for the request.

use std::sync::Arc;

use budgetsmart_common::events::{ConsumerSpec, DomainEvent, EventHandler, HandlerError, IncomingEvent};
use budgetsmart_proto::events::v1 as ev;
use futures_util::future::BoxFuture;
use sqlx::PgConnection;

use crate::budgets::forecasts;
use crate::insights;
use crate::transactions::reexpress;

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
                ev::HomeCurrencyChanged::NAME => rehome(conn, event).await,
                other => Err(HandlerError::Permanent(anyhow::anyhow!("the engine does not handle {other}"))),
            }
        })
    }
}

/// A user chose another home currency: their history is re-expressed in it.
async fn rehome(conn: &mut PgConnection, event: &IncomingEvent) -> Result<(), HandlerError> {
    let changed: ev::HomeCurrencyChanged = event.decode()?;
    let user_id = uuid::Uuid::parse_str(&changed.user_id).map_err(|_| {
        HandlerError::Permanent(anyhow::anyhow!("home_currency_changed: user_id is not a UUID"))
    })?;
    reexpress::rehome(conn, user_id).await.map_err(|e| HandlerError::Transient(anyhow::anyhow!("{e:#}")))?;
    Ok(())
}

/// The engine's queue, `engine.events`.
pub fn spec() -> ConsumerSpec {
    ConsumerSpec {
        queue: "engine.events".into(),
        bindings: vec![
            ev::PredictionCompleted::routing_key(),
            ev::InsightGenerated::routing_key(),
            ev::HomeCurrencyChanged::routing_key(),
        ],
        handler: Arc::new(EngineEvents),
    }
}
