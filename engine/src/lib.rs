//! The engine: users and auth, categories, budgets and transactions, behind gRPC.
//!
//! How the modules fit, from the bottom up:
//!
//! - Plain types every resource uses: `config` (settings from the environment), `error` (the
//!   one error type and its gRPC status), `convert` (database values to proto messages),
//!   `validation` (every bad field named at once), `idempotency` (an `Idempotency-Key`
//!   claimed by the creating transaction) and `request_metadata` (what the gateway forwards).
//! - `state`: the handles every gRPC service shares, with `AppState::idempotent_write`, the
//!   one way a create claims its key, writes and commits.
//! - One folder per resource, each with its stored rows beside its gRPC `service`:
//!   `users` (accounts, auth, sessions, the audit log), `categories`, `budgets` (limits,
//!   alerts, forecasts) and `transactions` (create, import, categorisation).
//! - `accounts`: where money sits; `imports`: bank files and CSVs written as transactions
//!   (preview, history, undo, large files in the background), above `transactions`.
//! - `rates`: the ECB's reference-rate files, the `rates` table and the conversion rules,
//!   below `transactions`, which expresses every amount in its owner's home currency.
//! - `exchange`: loading a rate file (`engine rates import FILE`, or fetched from `RATES_URL`)
//!   and counting the transactions that waited for it.
//! - `insights` (the feed analytics fills) and `consumers` (the events the engine consumes
//!   from analytics, and its own `home_currency_changed`).
//! - `startup`: `build` binds the listeners and wires the services; `Engine::run` serves.
//!
//! Every query is scoped to the caller's user id; every write that others must hear about
//! writes its event to the outbox in the same transaction (see `budgetsmart_common::events`).

pub mod accounts;
pub mod budgets;
pub mod categories;
pub mod config;
pub mod consumers;
pub mod convert;
pub mod error;
pub mod exchange;
pub mod idempotency;
pub mod imports;
pub mod insights;
pub mod rates;
pub mod request_metadata;
pub mod startup;
pub mod state;
pub mod transactions;
pub mod users;
pub mod validation;

pub use config::EngineConfig;
pub use startup::{Engine, SCHEMA, build};
