//! The analytics service: a read model of every user's money fed by the engine's events,
//! reports and charts over it, and month-end forecasts from models chosen per series by
//! backtest, kept in a registry and retrained when the data changes; and, from the same
//! history, anomalies, recurring payments, insights and category suggestions.
#![forbid(unsafe_code)]

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
