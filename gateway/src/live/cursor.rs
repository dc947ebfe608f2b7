//! One open stream's position: what it sent, what is queued, and how it catches up from the
//! history when the broadcast cannot be trusted (a lag, a broker reconnect).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::event::{LiveEvent, Signal, now_micros};
use super::history::History;
use super::slots::StreamSlot;

/// How far back (µs) a catch-up looks before the newest arrival a stream has seen: arrival
/// times come from different replicas' clocks, and the first writer's may be a little earlier
/// than this replica's.
const SKEW_MARGIN_US: i64 = 2_000_000;
/// Ids a stream remembers having sent, to drop duplicates; far more than a catch-up returns.
const SENT_MEMORY: usize = 1024;

/// One open stream's position.
pub(super) struct Cursor {
    /// Released when the stream ends (the client left, the token expired, the hub closed).
    _slot: StreamSlot,
    history: History,
    /// Cancelled when the hub closes.
    closed: CancellationToken,
    receiver: broadcast::Receiver<Signal>,
    user_id: Uuid,
    /// Catch-ups never replay what arrived before this (µs): the resume point, or shortly
    /// before the stream opened.
    floor: i64,
    /// The latest arrival time sent (µs).
    watermark: i64,
    sent: Sent,
    pending: VecDeque<Arc<LiveEvent>>,
    until: Option<Instant>,
}

impl Cursor {
    /// A stream for the slot's user that sends what is broadcast from now on.
    pub(super) fn new(
        slot: StreamSlot,
        history: History,
        closed: CancellationToken,
        receiver: broadcast::Receiver<Signal>,
        until: Option<Instant>,
    ) -> Cursor {
        Cursor {
            user_id: slot.user_id,
            _slot: slot,
            history,
            closed,
            receiver,
            floor: now_micros().saturating_sub(SKEW_MARGIN_US),
            watermark: i64::MIN,
            sent: Sent::default(),
            pending: VecDeque::new(),
            until,
        }
    }

    /// Queues what followed `last` in the history. Errors when Redis cannot give it.
    pub(super) async fn resume(&mut self, last: Uuid) -> anyhow::Result<()> {
        let history = self.history.read(self.user_id).await?;
        let (floor, replay) = resume_from(&history, last);
        self.floor = floor;
        self.sent.insert(last);
        for event in replay {
            self.offer(Arc::new(event));
        }
        Ok(())
    }

    /// The next event for this user, or `None` when the stream should end.
    pub(super) async fn next(&mut self) -> Option<Arc<LiveEvent>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            let until = self.until;
            let expired = async move {
                match until {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let received = tokio::select! {
                _ = self.closed.cancelled() => return None,
                _ = expired => return None,
                received = self.receiver.recv() => received,
            };
            match received {
                Ok(Signal::Event(event)) => {
                    if event.user_id == self.user_id {
                        self.offer(event);
                    }
                }
                Ok(Signal::Forget(user_id)) => {
                    if user_id == self.user_id {
                        return None;
                    }
                }
                Ok(Signal::Resync) => {
                    if !self.catch_up().await {
                        return None;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a live stream fell behind; re-reading the history");
                    if !self.catch_up().await {
                        return None;
                    }
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// Queues `event` unless it was already sent.
    fn offer(&mut self, event: Arc<LiveEvent>) {
        if self.sent.insert(event.id) {
            self.watermark = self.watermark.max(event.arrived);
            self.pending.push_back(event);
        }
    }

    /// Queues what the history holds that this stream may have missed. `false` when the
    /// history is unreadable: the stream then ends, and the client resumes with
    /// `Last-Event-ID`, rather than silently skipping events.
    async fn catch_up(&mut self) -> bool {
        let history = match self.history.read(self.user_id).await {
            Ok(history) => history,
            Err(error) => {
                tracing::warn!(
                    error = %format!("{error:#}"),
                    "cannot re-read the live history; ending the stream"
                );
                return false;
            }
        };
        let from = self.floor.max(self.watermark.saturating_sub(SKEW_MARGIN_US));
        for event in history.into_iter().filter(|e| e.arrived >= from) {
            self.offer(Arc::new(event));
        }
        true
    }
}

/// The ids a stream sent most recently.
#[derive(Default)]
struct Sent {
    order: VecDeque<Uuid>,
    ids: HashSet<Uuid>,
}

impl Sent {
    /// Records `id`; `false` if it was already there.
    fn insert(&mut self, id: Uuid) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > SENT_MEMORY
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        true
    }
}

/// Where a stream resuming after `last` starts: the floor for later catch-ups and the events
/// to replay now. If `last` is no longer (or never was) in the history, everything that
/// arrived after that id was created is replayed.
fn resume_from(history: &[LiveEvent], last: Uuid) -> (i64, Vec<LiveEvent>) {
    match history.iter().position(|e| e.id == last) {
        Some(at) => (history[at].arrived, history[at + 1..].to_vec()),
        None => {
            let since = id_millis(last).saturating_mul(1000);
            (since, history.iter().filter(|e| e.arrived >= since).cloned().collect())
        }
    }
}

/// The millisecond timestamp in a UUIDv7's first 48 bits.
fn id_millis(id: Uuid) -> i64 {
    let b = id.as_bytes();
    let millis = u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]]);
    i64::try_from(millis).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use budgetsmart_common::events::DomainEvent;
    use budgetsmart_proto::events::v1 as ev;

    fn event(id: Uuid, arrived: i64) -> LiveEvent {
        LiveEvent { id, user_id: Uuid::nil(), event: ev::InsightGenerated::NAME, data: "{}".into(), arrived }
    }

    #[test]
    fn resuming_replays_what_arrived_after_the_last_event_even_if_its_id_is_older() {
        let older = Uuid::now_v7();
        let newer = Uuid::now_v7();
        let newest = Uuid::now_v7();
        // `newer` arrived first, then the late `older`, then `newest`.
        let history = vec![event(newer, 100), event(older, 200), event(newest, 300)];
        let (floor, replay) = resume_from(&history, newer);
        assert_eq!(floor, 100);
        assert_eq!(replay.iter().map(|e| e.id).collect::<Vec<_>>(), vec![older, newest]);
        let (_, replay) = resume_from(&history, newest);
        assert!(replay.is_empty());
    }

    #[test]
    fn resuming_after_an_id_not_in_the_history_uses_its_time() {
        let last = Uuid::now_v7();
        let since = id_millis(last) * 1000;
        let history = vec![event(Uuid::now_v7(), since - 1), event(Uuid::now_v7(), since + 5)];
        let (floor, replay) = resume_from(&history, last);
        assert_eq!(floor, since);
        assert_eq!(replay, vec![history[1].clone()]);
    }

    #[test]
    fn id_millis_reads_the_uuidv7_timestamp() {
        let id = Uuid::now_v7();
        let now = chrono::Utc::now().timestamp_millis();
        assert!((now - id_millis(id)).abs() < 5_000);
    }

    #[test]
    fn sent_drops_duplicates_and_forgets_the_oldest() {
        let mut sent = Sent::default();
        let first = Uuid::now_v7();
        assert!(sent.insert(first));
        assert!(!sent.insert(first));
        for _ in 0..SENT_MEMORY {
            assert!(sent.insert(Uuid::now_v7()));
        }
        assert!(sent.insert(first), "the oldest id was forgotten");
    }
}
