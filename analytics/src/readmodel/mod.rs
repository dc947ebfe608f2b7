//! The read model: analytics' own copy of each user's transactions, budgets and profile, and
//! exact daily totals, kept from the engine's events.
//!
//! Every change is ordered by the aggregate's version, never by arrival, so duplicate and
//! out-of-order deliveries leave the same state as in-order ones. Each applied change asks for
//! the user's models to be retrained and, after the commit, invalidates their cached answers.

pub mod budgets;
pub mod transactions;
pub mod users;

use budgetsmart_common::events::{DomainEvent, EventHandler, HandlerError, IncomingEvent};
use budgetsmart_proto::events::v1 as ev;
use futures_util::future::BoxFuture;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::cache::Cache;

/// Applies the engine's events to the read model.
pub struct ReadModel {
    cache: Cache,
}

impl ReadModel {
    /// A handler that invalidates `cache` after each applied event.
    pub fn new(cache: Cache) -> ReadModel {
        ReadModel { cache }
    }
}

/// A permanent failure: the event can never be applied, so it dead-letters.
pub(crate) fn malformed(event: &str, what: impl std::fmt::Display) -> HandlerError {
    HandlerError::Permanent(anyhow::anyhow!("{event}: {what}"))
}

/// Parses an id field of an event.
pub(crate) fn uuid(event: &str, field: &str, value: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(value).map_err(|_| malformed(event, format!("{field} is not a UUID")))
}

/// A transaction event's data and what it says happened.
fn transaction_change(
    event: &IncomingEvent,
) -> Result<(Option<ev::TransactionData>, transactions::Change), HandlerError> {
    Ok(match event.event_type.as_str() {
        ev::TransactionCreated::NAME => {
            (event.decode::<ev::TransactionCreated>()?.transaction, transactions::Change::Upsert)
        }
        ev::TransactionUpdated::NAME => {
            (event.decode::<ev::TransactionUpdated>()?.transaction, transactions::Change::Upsert)
        }
        ev::TransactionDeleted::NAME => {
            (event.decode::<ev::TransactionDeleted>()?.transaction, transactions::Change::Delete)
        }
        other => return Err(malformed(other, "is not a transaction event")),
    })
}

impl EventHandler for ReadModel {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a IncomingEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            match event.event_type.as_str() {
                ev::TransactionCreated::NAME
                | ev::TransactionUpdated::NAME
                | ev::TransactionDeleted::NAME => {
                    let (data, change) = transaction_change(event)?;
                    transactions::apply(conn, data, change).await
                }
                ev::BudgetUpdated::NAME => budgets::upsert(conn, event.decode()?).await,
                ev::BudgetDeleted::NAME => budgets::delete(conn, event.decode()?).await,
                ev::UserRegistered::NAME => users::register(conn, event.decode()?).await,
                ev::UserUpdated::NAME => users::update(conn, event.decode()?).await,
                ev::UserDeleted::NAME => users::forget(conn, event.decode()?).await,
                other => {
                    // A binding added before its handler: keep the queue flowing.
                    tracing::warn!(event_type = other, "analytics does not handle this event; ignored");
                    Ok(())
                }
            }
        })
    }

    /// Transaction events, the bulk of the traffic, are applied a run at a time.
    fn batches(&self, event: &IncomingEvent) -> bool {
        matches!(
            event.event_type.as_str(),
            ev::TransactionCreated::NAME | ev::TransactionUpdated::NAME | ev::TransactionDeleted::NAME
        )
    }

    fn handle_batch<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [&'a IncomingEvent],
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let items =
                events.iter().map(|event| transaction_change(event)).collect::<Result<Vec<_>, _>>()?;
            transactions::apply_many(conn, items).await
        })
    }

    fn committed<'a>(&'a self, event: &'a IncomingEvent) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(user) = event.user_id {
                self.cache.invalidate(user).await;
            }
        })
    }
}
