//! The notification service. This cut consumes and journals the events people are told
//! about; preferences, templates and email delivery build on it.
#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod consumers;
pub mod startup;

pub use config::NotificationConfig;
pub use startup::{Notification, SCHEMA, build};
