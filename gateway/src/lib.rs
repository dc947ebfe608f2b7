//! The gateway: the only public surface. REST `/api/v1` in, gRPC to the backends out.
#![forbid(unsafe_code)]

pub mod auth;
pub mod breaker;
pub mod config;
pub mod context;
pub mod error;
pub mod extract;
pub mod forward;
pub mod hardening;
pub mod health;
pub mod http_metrics;
pub mod idempotency;
pub mod identity;
pub mod json;
pub mod limits;
pub mod live;
pub mod openapi;
pub mod rate_limit;
pub mod routes;
pub mod startup;
pub mod state;

pub use config::GatewayConfig;
pub use startup::{Gateway, build};
