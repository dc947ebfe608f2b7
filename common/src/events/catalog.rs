//! Names and versions of every domain event, tied to its protobuf payload.

use budgetsmart_proto::events::v1 as ev;

/// A protobuf payload published on the bus under `<NAME>.v<VERSION>`.
pub trait DomainEvent: prost::Message + Default {
    /// Event name, e.g. `transaction_created`; also the AMQP `type` property.
    const NAME: &'static str;
    /// Contract version; a breaking change is a new version published beside the old one.
    const VERSION: u32 = 1;

    /// The routing key on the topic exchange.
    fn routing_key() -> String {
        format!("{}.v{}", Self::NAME, Self::VERSION)
    }
}

macro_rules! domain_events {
    ($($ty:ident => $name:literal),* $(,)?) => {
        $(impl DomainEvent for ev::$ty { const NAME: &'static str = $name; })*
    };
}

domain_events! {
    UserRegistered => "user_registered",
    UserUpdated => "user_updated",
    UserDeleted => "user_deleted",
    PasswordResetRequested => "password_reset_requested",
    EmailVerificationRequested => "email_verification_requested",
    EmailVerified => "email_verified",
    TransactionCreated => "transaction_created",
    TransactionUpdated => "transaction_updated",
    TransactionDeleted => "transaction_deleted",
    BudgetUpdated => "budget_updated",
    BudgetDeleted => "budget_deleted",
    BudgetThresholdReached => "budget_threshold_reached",
    PredictionCompleted => "prediction_completed",
    InsightGenerated => "insight_generated",
    AnomalyDetected => "anomaly_detected",
    NotificationSent => "notification_sent",
    HomeCurrencyChanged => "home_currency_changed",
    GoalReached => "goal_reached",
    GoalAtRisk => "goal_at_risk",
}
