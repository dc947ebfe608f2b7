//! What analytics consumes: every change to transactions and budgets, and account lifecycle.

use std::sync::Arc;

use budgetsmart_common::events::journal::JournalHandler;
use budgetsmart_common::events::{ConsumerSpec, DomainEvent};
use budgetsmart_proto::events::v1 as ev;

/// The analytics queue, `analytics.events`. Its models learn from these events in later work;
/// for now they are journaled.
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
        handler: Arc::new(JournalHandler),
    }
}
