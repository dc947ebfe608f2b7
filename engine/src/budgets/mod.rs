//! Budgets: one per user, month and currency, with limits, alerts and a forecast.
//!
//! - `store`: the stored budget and its limits, and spending against them (the status).
//! - `thresholds`: alerts, fired once per budget, scope and threshold when spending crosses it.
//! - `forecasts`: the latest month-end forecast per budget, fed by analytics' events.
//! - `service`: the Budgets gRPC service over the three.

pub mod forecasts;
pub mod service;
pub mod store;
pub mod thresholds;
