//! The engine: users and auth, categories, budgets and transactions, behind gRPC.
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod autocategorize;
pub mod budget_service;
pub mod budgets;
pub mod categories;
pub mod category_service;
pub mod config;
pub mod consumers;
pub mod convert;
pub mod error;
pub mod forecasts;
pub mod idempotency;
pub mod import;
pub mod insights;
pub mod passwords;
pub mod request_metadata;
pub mod sessions;
pub mod startup;
pub mod state;
pub mod thresholds;
pub mod throttle;
pub mod transaction_service;
pub mod transactions;
pub mod users;
pub mod validation;

pub use config::EngineConfig;
pub use startup::{Engine, SCHEMA, build};
