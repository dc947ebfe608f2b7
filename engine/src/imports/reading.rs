//! Reading a file off the async runtime: once to check it whole (`scan`), then as a bounded
//! stream of items (`stream`), so a 50,000-row file is never held as parsed rows.

use std::sync::Arc;

use budgetsmart_bankfiles::{Item, ReadError, Statement};
use rust_decimal::Decimal;
use tokio::sync::mpsc;

use crate::error::{AppError, AppResult};
use crate::imports::options::FileOptions;

/// Items in flight between the reader thread and the writer.
const CHANNEL: usize = 1_000;

/// What one pass over the whole file found.
pub struct Scan {
    pub statement: Statement,
    /// Entries and row errors, in file order: what `rows_done` counts.
    pub items: u32,
    /// Per statement account: the entries read and their signed sum, for the balance check.
    pub entries: Vec<u32>,
    pub sums: Vec<Decimal>,
    /// The items themselves when there were at most `keep` of them.
    pub kept: Option<Vec<Item>>,
}

/// The file's format, profile and structure, without writing anything: a broken file is
/// refused here, whole, naming where it broke.
pub async fn scan(file: Arc<[u8]>, options: Arc<FileOptions>, keep: usize) -> AppResult<Scan> {
    let scanned = tokio::task::spawn_blocking(move || {
        let mut items = 0u32;
        let mut entries: Vec<u32> = Vec::new();
        let mut sums: Vec<Decimal> = Vec::new();
        let mut kept = Some(Vec::new());
        let statement = options.read(&file, &mut |item| {
            items = items.saturating_add(1);
            if let Item::Entry(entry) = &item {
                if entries.len() <= entry.account {
                    entries.resize(entry.account + 1, 0);
                    sums.resize(entry.account + 1, Decimal::ZERO);
                }
                entries[entry.account] += 1;
                sums[entry.account] = sums[entry.account].saturating_add(entry.amount);
            }
            if let Some(list) = &mut kept {
                if list.len() < keep {
                    list.push(item);
                } else {
                    kept = None;
                }
            }
        })?;
        entries.resize(statement.accounts.len().max(entries.len()), 0);
        sums.resize(entries.len(), Decimal::ZERO);
        Ok::<_, ReadError>(Scan { statement, items, entries, sums, kept })
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("the file reader stopped: {e}")))?;
    scanned.map_err(refusal)
}

/// Streams the file's items after the first `skip` (already written by an earlier run).
/// The reader thread waits while the channel is full, so memory stays bounded.
pub fn stream(file: Arc<[u8]>, options: Arc<FileOptions>, skip: u32) -> mpsc::Receiver<Item> {
    let (sender, receiver) = mpsc::channel(CHANNEL);
    tokio::task::spawn_blocking(move || {
        let mut seen = 0u32;
        let mut open = true;
        // The file was scanned whole before; a second read cannot fail differently.
        let _ = options.read(&file, &mut |item| {
            seen = seen.saturating_add(1);
            if open && seen > skip && sender.blocking_send(item).is_err() {
                // The writer stopped; read on without sending (the reader has no early exit).
                open = false;
            }
        });
    });
    receiver
}

/// A file the reader refused, as a field error: `file` for the file (the message names the
/// line), or the option at fault.
pub fn refusal(error: ReadError) -> AppError {
    match error {
        ReadError::File(error) => AppError::field("file", error.to_string()),
        ReadError::Option { field, message } => AppError::field(field, message),
    }
}
