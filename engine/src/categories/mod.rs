//! Categories: a user's own set, seeded with defaults at registration.
//!
//! - `store`: the stored row, the default set and lookups other resources use.
//! - `service`: the Categories gRPC service, with deletion that reassigns a category's
//!   transactions and budget limits.

pub mod service;
pub mod store;
