//! What analytics consumes: every change to transactions and budgets, and account lifecycle.

use std::sync::Arc;

use budgetsmart_common::events::{ConsumerSpec, DomainEvent};
use budgetsmart_proto::events::v1 as ev;

use crate::cache::Cache;
use crate::readmodel::ReadModel;

/// The analytics queue, `analytics.events`, feeding the read model.
pub fn spec(cache: Cache) -> ConsumerSpec {
    ConsumerSpec {
        queue: "analytics.events".into(),
        bindings: vec![
            ev::TransactionCreated::routing_key(),
            ev::TransactionUpdated::routing_key(),
            ev::TransactionDeleted::routing_key(),
            ev::BudgetUpdated::routing_key(),
            ev::BudgetDeleted::routing_key(),
            ev::UserRegistered::routing_key(),
            ev::UserUpdated::routing_key(),
            ev::UserDeleted::routing_key(),
        ],
        handler: Arc::new(ReadModel::new(cache)),
    }
}
