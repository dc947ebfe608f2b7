//! The analytics service. This cut consumes and journals the event stream; forecasting,
//! anomaly detection and model comparison build on it.
#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod consumers;
pub mod startup;

pub use config::AnalyticsConfig;
pub use startup::{Analytics, SCHEMA, build};
