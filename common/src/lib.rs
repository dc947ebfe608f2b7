//! Plumbing shared by every BudgetSmart service. Nothing service-specific lives here.
//!
//! How the modules fit, from the bottom up:
//!
//! - Plain values: `currency` (ISO 4217), `money` (exact decimals with a currency),
//!   `pagination` (opaque keyset cursors), `headers` (names every service agrees on), `keys`
//!   and `jwt` (Ed25519 access tokens), `config` (typed settings from the environment).
//! - Connections: `database` (a schema per service, its migrations and common's own event
//!   tables), `redis_client`, `discovery` (channels over every replica), `telemetry` and
//!   `metrics`, `shutdown`.
//! - `events`: the transactional outbox and its relay, idempotent consumers with an inbox,
//!   the received-events journal and retention. The tables they use are defined once, in
//!   `common/migrations`, and applied by every service after its own migrations.
//! - `observe` and `grpc`: the server side of every gRPC call (trace, auth, health,
//!   reflection).
//! - `service`: [`service::Backend`], the shape every backend shares: schema, relay,
//!   consumer, gRPC and admin listeners.

pub mod config;
pub mod currency;
pub mod database;
pub mod discovery;
pub mod events;
pub mod grpc;
pub mod headers;
pub mod jwt;
pub mod keys;
pub mod metrics;
pub mod money;
pub mod observe;
pub mod pagination;
pub mod redis_client;
pub mod service;
pub mod shutdown;
pub mod telemetry;
