//! Accounts deleted while access tokens for them still live.
//!
//! An access token stays valid until it expires (15 minutes by default), and the backends
//! would answer a deleted account's calls with 404 or worse. The gateway refuses such a token
//! with 401 instead: the replica that served `DELETE /me` records the account at once, and
//! every replica records it when `user_deleted` reaches its live feed (`live::feed`). An entry
//! is kept a day, longer than any access token lives (`ACCESS_TOKEN_TTL_SECS` is minutes).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// How long a deleted account is remembered: longer than any access token's lifetime.
const REMEMBER: Duration = Duration::from_secs(24 * 3600);

/// The accounts deleted in the last day, by when. Read on every authenticated request and
/// written only on a deletion, so reads share the lock.
#[derive(Debug, Default)]
pub struct DeletedAccounts {
    at: RwLock<HashMap<Uuid, Instant>>,
}

impl DeletedAccounts {
    /// Records that `user` no longer exists.
    pub fn record(&self, user: Uuid) {
        let now = Instant::now();
        let mut at = self.at.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Pruned on write: deletions are rare, reads are every request.
        at.retain(|_, deleted| now.duration_since(*deleted) < REMEMBER);
        at.insert(user, now);
    }

    /// Whether `user` was deleted (within the last day).
    pub fn contains(&self, user: Uuid) -> bool {
        let at = self.at.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        at.get(&user).is_some_and(|deleted| deleted.elapsed() < REMEMBER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_account_is_deleted_and_others_are_not() {
        let deleted = DeletedAccounts::default();
        let (gone, other) = (Uuid::now_v7(), Uuid::now_v7());
        deleted.record(gone);
        assert!(deleted.contains(gone));
        assert!(!deleted.contains(other));
    }
}
