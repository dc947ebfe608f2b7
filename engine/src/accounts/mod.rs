//! Accounts: where a person's money sits (checking, savings, credit card, cash).
//!
//! - `store`: the stored row, lookups scoped to the owner, and linking a file's account number
//!   to an account (creating it on first sight).
//! - `service`: the Accounts gRPC service.

pub mod service;
pub mod store;
