//! Transactions: what a user spent or earned, typed in or imported.
//!
//! - `store`: the stored row, inserting one with its `transaction_created`, and the import
//!   fingerprint.
//! - `owner`: the owner's home currency and categories, cached for the common create.
//! - `autocategorize`: a category from analytics when the author left none.
//! - `service`: the Transactions gRPC service over them (imports live in `crate::imports`), re-evaluating budget alerts
//!   after every change.

pub mod autocategorize;
pub mod owner;
pub mod reexpress;
pub mod service;
pub mod store;
