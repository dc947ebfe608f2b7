//! The notification service: turns domain events into templated email, honouring each
//! user's preferences, and tracks every delivery until the SMTP server has it.
#![forbid(unsafe_code)]

pub mod api;
pub mod clients;
pub mod config;
pub mod consumers;
pub mod content;
pub mod deliveries;
pub mod error;
pub mod intake;
pub mod kind;
pub mod links;
pub mod mailer;
pub mod message;
pub mod money_format;
pub mod preferences;
pub mod recipients;
pub mod schedule;
pub mod scheduler;
pub mod sender;
pub mod startup;
pub mod summary;
pub mod templates;
pub mod unsubscribe;

pub use config::NotificationConfig;
pub use startup::{Notification, SCHEMA, build};
