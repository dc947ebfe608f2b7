//! What the notification service consumes: everything a person may be told about.

use std::sync::Arc;

use budgetsmart_common::events::journal::JournalHandler;
use budgetsmart_common::events::{ConsumerSpec, DomainEvent};
use budgetsmart_proto::events::v1 as ev;

/// The notification queue, `notification.events`. Templates and email delivery build on these
/// events in later work; for now they are journaled.
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
        handler: Arc::new(JournalHandler),
    }
}
