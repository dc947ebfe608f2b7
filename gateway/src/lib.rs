//! The gateway: the only public surface. REST `/api/v1` in, gRPC to the backends out.
//!
//! How the modules fit, from the bottom up (a module imports only from the lines above it):
//!
//! - Plain types: `config` (settings), `error` (problem+json and the one gRPC-to-HTTP table),
//!   `json` (money strings, timestamps, page parameters and the page answer), `extract`
//!   (extractors that name the bad field), `limits` (quotas and limiters), `identity` (the
//!   verified caller), `deleted` (accounts deleted while their tokens live), `forward` (what
//!   every gRPC call carries on), `breaker` (circuit breakers and retries under the tonic
//!   clients), `http_metrics`.
//! - `live`: the server-sent event stream, fed from RabbitMQ with a Redis history.
//! - `state`: the shared handles: upstream clients, the token verifier, Redis, the live hub.
//! - Middleware over the state: `auth`, `context`, `rate_limit`, `idempotency`, `hardening`,
//!   and `health`.
//! - `openapi` (with `openapi_links`, the links between operations) and `routes`: one folder per resource; each handler validates, forwards to gRPC
//!   and answers a `serde` type that is also its OpenAPI schema.
//! - `startup`: `build` binds the listener and assembles the router; `Gateway::run` serves.

pub mod auth;
pub mod breaker;
pub mod config;
pub mod context;
pub mod deleted;
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
pub mod openapi_links;
pub mod rate_limit;
pub mod routes;
pub mod startup;
pub mod state;

pub use config::GatewayConfig;
pub use startup::{Gateway, build};
