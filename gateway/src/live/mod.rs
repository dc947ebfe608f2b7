//! Live updates: each user's new notifications, insights, anomalies and threshold alerts as
//! they happen, fed from RabbitMQ and kept briefly in Redis so a stream can resume on any
//! gateway replica.
//!
//! Every replica consumes the four events from a queue of its own: server-named, exclusive and
//! auto-delete, since a live feed needs no durability and a queue per replica is what fans
//! each event out to all of them. For each event it first writes the user's history in Redis,
//! then broadcasts it to the streams open in this process. Writing first matters: a stream
//! subscribes to the broadcast before it reads the history, so an event is either in the
//! history it reads or broadcast after it subscribed, never neither.
//!
//! The history is ordered by *arrival*, not by event id. Ids are UUIDv7 from different
//! producers' clocks and outboxes (an insight can be published after a threshold alert that
//! was created later), so "replay the ids above Last-Event-ID" would skip an older event that
//! arrived late. Arrival time is taken by the first replica that stores the event (`ZADD NX`),
//! so all replicas agree on it, and each stream remembers which ids it sent instead of
//! keeping a high-water mark.
//!
//! The parts, from the plain types up:
//! - `event`: a user's [`LiveEvent`] and the signals broadcast inside a process;
//! - `views`: the JSON each event carries, shaped like the REST answers;
//! - `history`: the Redis history, ordered by arrival;
//! - `slots`: the per-user bound on open streams;
//! - `cursor`: one open stream's position, replay and catch-up;
//! - `feed`: the RabbitMQ consumer that stores and broadcasts;
//! - this file: [`LiveHub`], which starts the feed and opens streams.

mod cursor;
mod event;
mod feed;
mod history;
mod slots;
mod views;

use crate::deleted::DeletedAccounts;
use std::sync::Arc;

use budgetsmart_common::events::topology::BusConfig;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use redis::aio::ConnectionManager;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use event::LiveEvent;
pub use slots::{MAX_STREAMS_PER_USER, StreamSlot};

use cursor::Cursor;
use event::Signal;
use feed::Feed;
use history::History;
use slots::Slots;

/// Signals buffered per process; a stream further behind than this re-reads the history.
const CHANNEL_CAPACITY: usize = 1024;

/// The live feed of this process; cheap to clone.
#[derive(Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

struct Inner {
    sender: broadcast::Sender<Signal>,
    history: History,
    closed: CancellationToken,
    slots: Arc<Slots>,
}

impl LiveHub {
    /// Connects to the broker, binds this replica's queue and starts consuming; the task
    /// reconnects with capped backoff until [`close`](Self::close) or until it is aborted.
    ///
    /// Fails when the first connection cannot be made, so a wrong `AMQP_URL` stops start-up.
    /// Every `user_deleted` it sees is also recorded in `deleted`, so this replica refuses the
    /// account's live tokens.
    pub async fn start(
        bus: &BusConfig,
        redis: ConnectionManager,
        key_prefix: String,
        deleted: Arc<DeletedAccounts>,
    ) -> anyhow::Result<(LiveHub, JoinHandle<()>)> {
        let feed = Feed::connect(bus)
            .await
            .map_err(|e| anyhow::anyhow!("cannot consume live events from the broker at AMQP_URL: {e}"))?;
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        let history = History::new(redis, key_prefix);
        let closed = CancellationToken::new();
        let task = tokio::spawn(feed::run(
            bus.clone(),
            feed,
            history.clone(),
            sender.clone(),
            deleted,
            closed.clone(),
        ));
        let hub = LiveHub { inner: Arc::new(Inner { sender, history, closed, slots: Arc::default() }) };
        Ok((hub, task))
    }

    /// Ends every open stream and stops the consumer. Call it when shutdown begins: a stream
    /// never ends by itself, so graceful shutdown would otherwise wait for clients to leave.
    pub fn close(&self) {
        self.inner.closed.cancel();
    }

    /// A slot for one more stream of `user_id`, or `None` when they already hold
    /// [`MAX_STREAMS_PER_USER`] on this replica.
    pub fn claim(&self, user_id: Uuid) -> Option<StreamSlot> {
        self.inner.slots.claim(user_id)
    }

    /// The caller's events from now on, after first replaying what followed `last_event_id`.
    ///
    /// The stream ends at `until` (when the access token expires, so a revoked user does not
    /// keep listening), when the hub closes, or when the user is deleted. Errors only when a
    /// resume needs the history and Redis cannot give it.
    pub async fn subscribe(
        &self,
        slot: StreamSlot,
        last_event_id: Option<Uuid>,
        until: Option<Instant>,
    ) -> anyhow::Result<BoxStream<'static, Arc<LiveEvent>>> {
        // Before reading the history; see the module docs.
        let receiver = self.inner.sender.subscribe();
        let mut cursor =
            Cursor::new(slot, self.inner.history.clone(), self.inner.closed.clone(), receiver, until);
        if let Some(last) = last_event_id {
            cursor.resume(last).await?;
        }
        Ok(futures_util::stream::unfold(cursor, |mut cursor| async move {
            let event = cursor.next().await?;
            Some((event, cursor))
        })
        .boxed())
    }

    /// The user's stored events in arrival order, each id once.
    pub async fn history(&self, user_id: Uuid) -> anyhow::Result<Vec<LiveEvent>> {
        self.inner.history.read(user_id).await
    }
}
