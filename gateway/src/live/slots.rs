//! How many streams each user holds open on this replica, bounded per user.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

/// Streams one user may hold open on one replica: a few tabs and devices. Each holds a task,
/// a broadcast receiver and a connection, so without a bound one token could hold thousands.
pub const MAX_STREAMS_PER_USER: usize = 8;

/// The open streams of this process, per user.
#[derive(Default)]
pub(super) struct Slots {
    open: Mutex<HashMap<Uuid, usize>>,
}

impl Slots {
    /// A slot for one more stream of `user_id`, or `None` when they already hold
    /// [`MAX_STREAMS_PER_USER`].
    pub(super) fn claim(self: &Arc<Self>, user_id: Uuid) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(user_id).or_insert(0);
        if *count >= MAX_STREAMS_PER_USER {
            return None;
        }
        *count += 1;
        Some(StreamSlot { slots: self.clone(), user_id })
    }
}

/// One of a user's open streams, counted against [`MAX_STREAMS_PER_USER`] until dropped.
pub struct StreamSlot {
    slots: Arc<Slots>,
    pub(super) user_id: Uuid,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_holds_at_most_the_limit_and_a_dropped_slot_frees_one() {
        let slots = Arc::new(Slots::default());
        let user = Uuid::now_v7();
        let held: Vec<StreamSlot> = (0..MAX_STREAMS_PER_USER).filter_map(|_| slots.claim(user)).collect();
        assert_eq!(held.len(), MAX_STREAMS_PER_USER);
        assert!(slots.claim(user).is_none());
        assert!(slots.claim(Uuid::now_v7()).is_some(), "another user is not limited by this one");
        drop(held);
        assert!(slots.claim(user).is_some());
    }
}
