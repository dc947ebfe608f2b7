//! Transactions: what a user spent or earned, typed in or imported.
//!
//! - `store`: the stored row, inserting one with its `transaction_created`, and the import
//!   fingerprint.
//! - `autocategorize`: a category from analytics when the author left none.
//! - `import`: CSV files, row by row, with duplicates skipped.
//! - `service`: the Transactions gRPC service over the three, re-evaluating budget alerts
//!   after every change.

pub mod autocategorize;
pub mod import;
pub mod reexpress;
pub mod service;
pub mod store;
