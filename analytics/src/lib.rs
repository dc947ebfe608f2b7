//! The analytics service: a read model of every user's money fed by the engine's events,
//! reports and charts over it, and month-end forecasts from models chosen per series by
//! backtest, kept in a registry and retrained when the data changes; and, from the same
//! history, anomalies, recurring payments, insights and category suggestions.
//!
//! How the modules fit, from the bottom up:
//!
//! - Plain types and text: `config`, `error`, `profile` (a user's currency, zone and today),
//!   `text` (money and dates in sentences), `merchant` (names out of bank descriptions).
//! - Storage: `readmodel` (analytics' copy of transactions and budgets, fed by `consumers`),
//!   `history` (spending per day, category and month out of it), `registry` (the chosen model
//!   per series), `cache` (hot reads in Redis).
//! - Models: `forecasting` (candidates and backtests), `oneoffs` and `parts` (a month split so
//!   one-offs do not bend the forecast), `monthend` (the month-end projection with
//!   intervals).
//! - The behaviour review: `anomalies`, `recurring`, `insights` and `categorizer`, run
//!   together by `behaviour`.
//! - Retraining: `retraining` queues a user, `trainer` retrains once their changes go quiet,
//!   with the forecasts and the behaviour review in separate transactions.
//! - Reading it back: `reports`, `charts`, and `api` (the gRPC service).
//! - `goals`: savings goals, projected with the forecasting code and reviewed by the trainer,
//!   with their own gRPC service.
//! - `startup`: `build` binds the listeners; `Analytics::run` starts the consumer, trainer and
//!   server.

pub mod anomalies;
pub mod api;
pub mod behaviour;
pub mod cache;
pub mod categorizer;
pub mod charts;
pub mod config;
pub mod consumers;
pub mod error;
pub mod forecasting;
pub mod goals;
pub mod history;
pub mod insights;
pub mod merchant;
pub mod monthend;
pub mod oneoffs;
pub mod parts;
pub mod profile;
pub mod readmodel;
pub mod recurring;
pub mod registry;
pub mod reports;
pub mod retraining;
pub mod startup;
pub mod text;
pub mod trainer;

pub use config::AnalyticsConfig;
pub use startup::{Analytics, SCHEMA, build};
