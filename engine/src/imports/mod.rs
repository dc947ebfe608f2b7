//! Imported files: bank statements (OFX/QFX, QIF, CAMT.053, MT940) and CSVs, read by
//! `budgetsmart_bankfiles`, written as the caller's transactions.
//!
//! From the bottom up:
//! - `options`: what the caller says about a file (profile, column mapping, account).
//! - `store`: the `imports` table, one row per file.
//! - `reading`: the file read off the runtime: once whole to check it, then as a stream.
//! - `link`: the file's accounts to the caller's (found by number, or created).
//! - `rows`: an entry as a transaction to write.
//! - `dedup`: the bank's id, the fingerprint, the same statement in another format.
//! - `balance`: the closing-balance check.
//! - `writer`: batches of rows written (or, for a preview, counted).
//! - `undo`: removing an import's rows.
//! - `worker`: large files, written in the background and resumed after a stop.
//! - `service`: the import call and the Imports gRPC service.

pub mod balance;
pub mod dedup;
pub mod link;
pub mod options;
pub mod reading;
pub mod rows;
pub mod service;
pub mod store;
pub mod undo;
pub mod worker;
pub mod writer;
