//! The notification service: turns domain events into templated email, honouring each
//! user's preferences, and tracks every delivery until the SMTP server has it.
//!
//! How the modules fit, from the bottom up:
//!
//! - Plain types: `config`, `error`, `kind` (the kinds of email), `money_format`, `links`,
//!   `schedule` (quiet hours, digest time, the 1st of the month).
//! - What each user wants and is: `preferences`, `recipients`, `unsubscribe` (signed
//!   one-click links), and `suppression` (addresses that get nothing, whatever the account says).
//! - What an email says: `content` (an event as template data), `summary` (the monthly
//!   summary, with `clients` to the engine and analytics), `templates`, `message` (MIME).
//! - Moving it: `consumers` and `intake` turn events into deliveries, `scheduler` queues the
//!   monthly summaries, `deliveries` keeps every email's state, `sender` claims and renders
//!   due ones, `mailer` hands them to SMTP.
//! - `api`: the gRPC services. `startup`: `build` and `Notification::run`.

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
pub mod suppression;
pub mod templates;
pub mod unsubscribe;

pub use config::NotificationConfig;
pub use startup::{Notification, SCHEMA, build};
