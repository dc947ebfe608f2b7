//! The gateway: the only public surface. REST `/api/v1` in, gRPC to the backends out.
#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod context;
pub mod error;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod json;
pub mod routes;
pub mod startup;
pub mod state;

pub use config::GatewayConfig;
pub use startup::{Gateway, build};
