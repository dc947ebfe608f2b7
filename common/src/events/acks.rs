//! Acknowledgements coalesced per channel: one `basic.ack` with `multiple` for a run of
//! deliveries, where each one used to cost the broker its own frame and, on a quorum queue,
//! its own settle command in the Raft log (issue 25).
//!
//! A channel numbers its deliveries 1, 2, 3, … and `multiple` acknowledges every outstanding
//! delivery up to the tag it names, so it may only name a tag when every lower tag is settled
//! too: the lanes of a consumer finish their batches out of order, and a multiple ack that ran
//! ahead of a lane would acknowledge events not yet applied. The tracker therefore keeps the
//! lowest unsettled tag and acknowledges only the settled run that starts there. A delivery
//! settled on its own (the one-at-a-time path: ack, reject to the dead-letter queue, or requeue)
//! is recorded as settled without being acknowledged again; the multiple ack names the highest
//! tag in the run that is still outstanding, since naming a settled one is a channel error.

use std::collections::BTreeMap;
use std::sync::Mutex;

use lapin::Channel;
use lapin::options::BasicAckOptions;

/// How a settled delivery was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settled {
    /// Applied; its acknowledgement is this tracker's to send.
    Pending,
    /// Already acknowledged, rejected or requeued with its own frame.
    Alone,
}

/// The settled deliveries of one channel that are not yet part of a sent acknowledgement.
#[derive(Debug)]
pub(crate) struct AckRun {
    /// The lowest delivery tag not yet settled (tags start at 1).
    next: u64,
    settled: BTreeMap<u64, Settled>,
}

impl Default for AckRun {
    fn default() -> Self {
        AckRun { next: 1, settled: BTreeMap::new() }
    }
}

impl AckRun {
    /// Records `tags` as settled; returns the tag a multiple ack should now name, if any.
    pub(crate) fn settle(&mut self, tags: impl IntoIterator<Item = (u64, Settled)>) -> Option<u64> {
        for (tag, how) in tags {
            if tag >= self.next {
                self.settled.insert(tag, how);
            }
        }
        let mut highest_pending = None;
        while let Some(how) = self.settled.remove(&self.next) {
            if how == Settled::Pending {
                highest_pending = Some(self.next);
            }
            self.next += 1;
        }
        highest_pending
    }
}

/// A channel's acknowledgements, coalesced.
pub(crate) struct Acker {
    channel: Channel,
    run: Mutex<AckRun>,
}

impl Acker {
    /// The acknowledgements of `channel`, whose deliveries all settle through this tracker.
    pub(crate) fn new(channel: Channel) -> Acker {
        Acker { channel, run: Mutex::new(AckRun::default()) }
    }

    /// Settles `tags`, sending one multiple ack for the run they complete, if they complete one.
    /// An error is the channel's: its unacknowledged deliveries come back after a reconnect,
    /// and the inbox drops them as duplicates.
    pub(crate) async fn settle(
        &self,
        tags: impl IntoIterator<Item = (u64, Settled)>,
    ) -> Result<(), lapin::Error> {
        let tag = self.run.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).settle(tags);
        match tag {
            Some(tag) => self.channel.basic_ack(tag, BasicAckOptions { multiple: true }).await,
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Settled::{Alone, Pending};
    use super::*;

    #[test]
    fn a_run_in_order_is_one_ack_for_its_last_tag() {
        let mut run = AckRun::default();
        assert_eq!(run.settle([(1, Pending), (2, Pending), (3, Pending)]), Some(3));
        assert_eq!(run.settle([(4, Pending)]), Some(4));
    }

    #[test]
    fn a_lane_that_finishes_first_waits_for_the_lower_tags() {
        let mut run = AckRun::default();
        // Tags 3 and 4 are another lane's; 1 and 2 are still being applied.
        assert_eq!(run.settle([(3, Pending), (4, Pending)]), None);
        assert_eq!(run.settle([(2, Pending)]), None);
        assert_eq!(run.settle([(1, Pending)]), Some(4));
        assert_eq!(run.settle([(6, Pending)]), None, "5 is outstanding");
    }

    #[test]
    fn tags_settled_alone_are_skipped_and_never_named() {
        let mut run = AckRun::default();
        // 3 was dead-lettered on its own: the ack names 2, which covers 1 and 2, and 3 is gone.
        assert_eq!(run.settle([(3, Alone), (1, Pending), (2, Pending)]), Some(2));
        assert_eq!(run.settle([(4, Alone), (5, Alone)]), None, "nothing left to acknowledge");
        assert_eq!(run.settle([(7, Pending), (6, Pending), (8, Alone)]), Some(7));
    }
}
