//! The event bus: a transactional outbox with a relay, and idempotent consumers.
//!
//! Producers write events into their own `outbox` table in the same database transaction as
//! the change ([`outbox::enqueue`]); the [`relay::OutboxRelay`] publishes them with publisher
//! confirms. Consumers ([`consumer::EventConsumer`]) apply each event once, recording it in an
//! `inbox` table in the same transaction as the effect.

mod acks;
pub mod activity;
pub mod catalog;
pub mod consumer;
pub mod journal;
pub mod outbox;
pub mod relay;
pub mod retention;
pub mod topology;

pub use activity::{ActivityCounts, BusActivity};
pub use catalog::DomainEvent;
pub use consumer::{ConsumerSpec, EventConsumer, EventHandler, HandlerError, IncomingEvent};
pub use outbox::{EventContext, OUTBOX_COLUMNS, OutboxRow, OutboxWaker, enqueue};
pub use relay::OutboxRelay;
pub use topology::BusConfig;
