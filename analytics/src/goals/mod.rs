//! Savings goals: what a saving is for, and when it will get there.
//!
//! - `progress`: saved, left, the monthly amount that meets the date, and the projected
//!   completion with its 80 % interval from the forecasting code. Pure.
//! - `store`: the goals and their contributions, and what a goal saved month by month
//!   (contributions plus a linked savings category).
//! - `review`: evaluating a goal and announcing `goal_reached` and `goal_at_risk` once.
//! - `service`: the Goals gRPC service.

pub mod progress;
pub mod review;
pub mod service;
pub mod store;
