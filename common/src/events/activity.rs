//! What one process's relay and consumer have done, counted in memory.
//!
//! The metrics series (`events_published_total`, `events_consumed_total`) carry the same
//! numbers for a scraper, summed over a process's lifetime and labelled by service; this is
//! what a process can ask about itself: it is logged when the service stops, and the replica
//! tests read it to see that several relays and consumers really shared one queue's work.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one process's bus work.
#[derive(Debug, Default)]
pub struct BusActivity {
    published: AtomicU64,
    applied: AtomicU64,
    duplicates: AtomicU64,
}

/// A reading of [`BusActivity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityCounts {
    /// Outbox rows this process's relay published and the broker confirmed.
    pub published: u64,
    /// Deliveries this process's consumer applied (first time seen).
    pub applied: u64,
    /// Deliveries it acknowledged as already applied (by it or another replica).
    pub duplicates: u64,
}

impl BusActivity {
    pub(crate) fn published(&self, count: usize) {
        self.published.fetch_add(count as u64, Ordering::Relaxed);
    }

    pub(crate) fn applied(&self) {
        self.applied.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn duplicate(&self) {
        self.duplicates.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn counts(&self) -> ActivityCounts {
        ActivityCounts {
            published: self.published.load(Ordering::Relaxed),
            applied: self.applied.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
        }
    }
}
