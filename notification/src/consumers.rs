//! What the notification service consumes: everything a person may be told about, and the
//! profile events that say where to tell them.

use std::sync::Arc;

use budgetsmart_common::events::{ConsumerSpec, DomainEvent};
use budgetsmart_proto::events::v1 as ev;

use crate::intake::Intake;

/// The notification queue, `notification.events`, feeding [`Intake`].
pub fn spec(intake: Intake) -> ConsumerSpec {
    ConsumerSpec {
        queue: "notification.events".into(),
        bindings: vec![
            ev::BudgetThresholdReached::routing_key(),
            ev::PredictionCompleted::routing_key(),
            ev::InsightGenerated::routing_key(),
            ev::AnomalyDetected::routing_key(),
            ev::GoalReached::routing_key(),
            ev::GoalAtRisk::routing_key(),
            ev::UserRegistered::routing_key(),
            ev::UserUpdated::routing_key(),
            ev::UserDeleted::routing_key(),
            ev::PasswordResetRequested::routing_key(),
            ev::EmailVerificationRequested::routing_key(),
            ev::EmailVerified::routing_key(),
            // Its own: no other service consumes it, and an event no queue is bound for would
            // stay in the outbox (see the relay). Journaled, so the journal shows what was sent.
            ev::NotificationSent::routing_key(),
        ],
        handler: Arc::new(intake),
    }
}
