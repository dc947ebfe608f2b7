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

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use budgetsmart_common::events::DomainEvent;
use budgetsmart_common::events::topology::{self, BusConfig};
use budgetsmart_common::money;
use budgetsmart_proto::events::v1 as ev;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, Consumer};
use redis::aio::ConnectionManager;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::json;

/// Signals buffered per process; a stream further behind than this re-reads the history.
const CHANNEL_CAPACITY: usize = 1024;
/// Events kept per user for resumption.
const HISTORY_LEN: i64 = 200;
/// How long a user's history outlives their last event.
const HISTORY_TTL_SECS: i64 = 24 * 3600;
/// A history write may delay the live feed by at most this much.
const WRITE_TIMEOUT: Duration = Duration::from_millis(500);
/// After a failed write, live events skip the history for this long instead of each waiting
/// for Redis to time out again.
const WRITE_PAUSE: Duration = Duration::from_secs(5);
/// A history read (on resume or catch-up) gives up after this.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How far back (µs) a catch-up looks before the newest arrival a stream has seen: arrival
/// times come from different replicas' clocks, and the first writer's may be a little earlier
/// than this replica's.
const SKEW_MARGIN_US: i64 = 2_000_000;
/// Ids a stream remembers having sent, to drop duplicates; far more than a catch-up returns.
const SENT_MEMORY: usize = 1024;
/// A broker connection that lasted this long counts as healthy: the next loss reconnects fast.
const HEALTHY_AFTER: Duration = Duration::from_secs(30);
/// Longest a connect (with its declarations) or a close may take.
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);
/// Streams one user may hold open on one replica: a few tabs and devices. Each holds a task,
/// a broadcast receiver and a connection, so without a bound one token could hold thousands.
pub const MAX_STREAMS_PER_USER: usize = 8;

/// One event for one user's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    /// The event id (the AMQP `message_id`, a UUIDv7); the SSE `id`.
    pub id: Uuid,
    /// Whose event it is.
    pub user_id: Uuid,
    /// The event name; the SSE `event`.
    pub event: &'static str,
    /// The JSON view of the payload; the SSE `data`.
    pub data: String,
    /// When it reached a gateway, µs since the Unix epoch: the history's order.
    pub arrived: i64,
}

/// What the consumer tells the streams of this process.
#[derive(Debug, Clone)]
enum Signal {
    /// A new event.
    Event(Arc<LiveEvent>),
    /// This replica was cut off from the broker and is back: events published meanwhile never
    /// reached its queue, but other replicas stored them, so streams re-read the history.
    Resync,
    /// The user deleted their account: their history is gone and their streams end.
    Forget(Uuid),
}

/// The live feed of this process; cheap to clone.
#[derive(Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

struct Inner {
    sender: broadcast::Sender<Signal>,
    redis: ConnectionManager,
    key_prefix: String,
    closed: CancellationToken,
    /// Open streams per user in this process.
    open: Mutex<HashMap<Uuid, usize>>,
}

/// One of a user's open streams, counted against [`MAX_STREAMS_PER_USER`] until dropped.
pub struct StreamSlot {
    inner: Arc<Inner>,
    user_id: Uuid,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.inner.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

/// The broker side: a connection and the consumer of this replica's queue.
struct Feed {
    connection: Connection,
    consumer: Consumer,
}

/// The events streamed to users.
fn live_events() -> [&'static str; 4] {
    [
        ev::NotificationSent::NAME,
        ev::InsightGenerated::NAME,
        ev::AnomalyDetected::NAME,
        ev::BudgetThresholdReached::NAME,
    ]
}

/// Routing keys bound: the live events, and `user_deleted` to forget the user.
fn bindings() -> [String; 5] {
    [
        ev::NotificationSent::routing_key(),
        ev::InsightGenerated::routing_key(),
        ev::AnomalyDetected::routing_key(),
        ev::BudgetThresholdReached::routing_key(),
        ev::UserDeleted::routing_key(),
    ]
}

impl LiveHub {
    /// Connects to the broker, binds this replica's queue and starts consuming; the task
    /// reconnects with capped backoff until [`close`](Self::close) or until it is aborted.
    ///
    /// Fails when the first connection cannot be made, so a wrong `AMQP_URL` stops start-up.
    pub async fn start(
        bus: &BusConfig,
        redis: ConnectionManager,
        key_prefix: String,
    ) -> anyhow::Result<(LiveHub, JoinHandle<()>)> {
        let feed = Feed::connect(bus)
            .await
            .map_err(|e| anyhow::anyhow!("cannot consume live events from the broker at AMQP_URL: {e}"))?;
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        let closed = CancellationToken::new();
        let open = Mutex::new(HashMap::new());
        let hub = LiveHub { inner: Arc::new(Inner { sender, redis, key_prefix, closed, open }) };
        let task = tokio::spawn(hub.clone().run(bus.clone(), feed));
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
        let mut open = self.inner.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(user_id).or_insert(0);
        if *count >= MAX_STREAMS_PER_USER {
            return None;
        }
        *count += 1;
        Some(StreamSlot { inner: self.inner.clone(), user_id })
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
        let user_id = slot.user_id;
        // Before reading the history; see the module docs.
        let receiver = self.inner.sender.subscribe();
        let mut cursor = Cursor {
            _slot: slot,
            hub: self.clone(),
            receiver,
            user_id,
            floor: now_micros().saturating_sub(SKEW_MARGIN_US),
            watermark: i64::MIN,
            sent: Sent::default(),
            pending: VecDeque::new(),
            until,
        };
        if let Some(last) = last_event_id {
            let history = self.history(user_id).await?;
            let (floor, replay) = resume_from(&history, last);
            cursor.floor = floor;
            cursor.sent.insert(last);
            for event in replay {
                cursor.offer(Arc::new(event));
            }
        }
        Ok(futures_util::stream::unfold(cursor, |mut cursor| async move {
            let event = cursor.next().await?;
            Some((event, cursor))
        })
        .boxed())
    }

    /// The user's stored events in arrival order, each id once.
    pub async fn history(&self, user_id: Uuid) -> anyhow::Result<Vec<LiveEvent>> {
        let mut redis = self.inner.redis.clone();
        let mut read = redis::cmd("ZRANGE");
        read.arg(self.key(user_id)).arg(0).arg(-1).arg("WITHSCORES");
        let entries = tokio::time::timeout(READ_TIMEOUT, read.query_async::<Vec<(String, f64)>>(&mut redis))
            .await
            .map_err(|_| anyhow::anyhow!("Redis did not answer the history read in time"))??;
        Ok(parse_history(user_id, entries))
    }

    fn key(&self, user_id: Uuid) -> String {
        format!("{}live:{user_id}", self.inner.key_prefix)
    }

    /// Consumes until closed, reconnecting whenever the broker goes away.
    async fn run(self, bus: BusConfig, first: Feed) {
        let closed = self.inner.closed.clone();
        let mut next_feed = Some(first);
        let mut failures: u32 = 0;
        let mut writes_paused_until: Option<Instant> = None;
        loop {
            let feed = match next_feed.take() {
                Some(feed) => feed,
                None => {
                    let connected = tokio::select! {
                        _ = closed.cancelled() => return,
                        connected = Feed::connect(&bus) => connected,
                    };
                    match connected {
                        Ok(feed) => {
                            tracing::info!("live feed reconnected to the broker");
                            let _ = self.inner.sender.send(Signal::Resync);
                            feed
                        }
                        Err(error) => {
                            failures = failures.saturating_add(1);
                            let delay = backoff(failures);
                            tracing::warn!(
                                error = %error,
                                retry_in = ?delay,
                                "live feed cannot reach the broker"
                            );
                            tokio::select! {
                                _ = closed.cancelled() => return,
                                _ = tokio::time::sleep(delay) => {}
                            }
                            continue;
                        }
                    }
                }
            };
            let Feed { connection, mut consumer } = feed;
            let connected_at = Instant::now();
            let lost = loop {
                let next = tokio::select! {
                    _ = closed.cancelled() => break None,
                    next = consumer.next() => next,
                };
                match next {
                    Some(Ok(delivery)) => self.handle(&delivery, &mut writes_paused_until).await,
                    Some(Err(error)) => break Some(error.to_string()),
                    None => break Some("the broker cancelled the consumer".to_owned()),
                }
            };
            let Some(error) = lost else {
                // A broker that stopped answering must not hold up the gateway's shutdown.
                let _ =
                    tokio::time::timeout(BROKER_TIMEOUT, connection.close(200, "shutting down".into())).await;
                return;
            };
            failures = if connected_at.elapsed() >= HEALTHY_AFTER { 1 } else { failures.saturating_add(1) };
            let delay = backoff(failures);
            tracing::warn!(error, retry_in = ?delay, "live feed lost the broker");
            tokio::select! {
                _ = closed.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Stores and broadcasts one delivery. Nothing is acked (the queue is `no_ack`), so a
    /// delivery that cannot be read is logged and dropped.
    async fn handle(&self, delivery: &Delivery, writes_paused_until: &mut Option<Instant>) {
        match parse(delivery, now_micros()) {
            Ok(Parsed::Event(event)) => {
                self.store(&event, writes_paused_until).await;
                let _ = self.inner.sender.send(Signal::Event(Arc::new(event)));
            }
            Ok(Parsed::Forget(user_id)) => {
                self.forget(user_id).await;
                let _ = self.inner.sender.send(Signal::Forget(user_id));
            }
            Err(problem) => {
                tracing::warn!(problem, routing_key = delivery.routing_key.as_str(), "skipping a live event");
            }
        }
    }

    /// Adds `event` to its user's history. `NX` keeps the first replica's arrival time, so
    /// every replica writing the same member leaves one entry with one score.
    async fn store(&self, event: &LiveEvent, writes_paused_until: &mut Option<Instant>) {
        if writes_paused_until.is_some_and(|until| Instant::now() < until) {
            return;
        }
        let key = self.key(event.user_id);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("ZADD")
            .arg(&key)
            .arg("NX")
            .arg(event.arrived)
            .arg(member(event))
            .ignore()
            .cmd("ZREMRANGEBYRANK")
            .arg(&key)
            .arg(0)
            .arg(-(HISTORY_LEN + 1))
            .ignore()
            .cmd("EXPIRE")
            .arg(&key)
            .arg(HISTORY_TTL_SECS)
            .ignore();
        let mut redis = self.inner.redis.clone();
        let failure = match tokio::time::timeout(WRITE_TIMEOUT, pipe.exec_async(&mut redis)).await {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error.to_string()),
            Err(_) => Some("timed out".to_owned()),
        };
        match failure {
            None => *writes_paused_until = None,
            Some(error) => {
                // Live delivery goes on; only resumption over this gap is lost.
                tracing::warn!(error, pause = ?WRITE_PAUSE, "cannot write the live history");
                *writes_paused_until = Some(Instant::now() + WRITE_PAUSE);
            }
        }
    }

    /// Deletes a deleted user's history (every replica does; deleting twice is harmless).
    async fn forget(&self, user_id: Uuid) {
        let mut redis = self.inner.redis.clone();
        let mut delete = redis::cmd("DEL");
        delete.arg(self.key(user_id));
        match tokio::time::timeout(WRITE_TIMEOUT, delete.exec_async(&mut redis)).await {
            Ok(Ok(())) => {}
            // It expires within a day anyway.
            Ok(Err(error)) => tracing::warn!(error = %error, "cannot delete a deleted user's live history"),
            Err(_) => tracing::warn!("deleting a deleted user's live history timed out"),
        }
    }
}

impl Feed {
    /// Connects and sets up within [`BROKER_TIMEOUT`]: a broker that accepts TCP and then
    /// hangs would otherwise stall start-up, or the reconnect loop, for good.
    async fn connect(bus: &BusConfig) -> anyhow::Result<Feed> {
        tokio::time::timeout(BROKER_TIMEOUT, Feed::setup(bus))
            .await
            .map_err(|_| anyhow::anyhow!("the broker did not finish the handshake in {BROKER_TIMEOUT:?}"))?
    }

    async fn setup(bus: &BusConfig) -> anyhow::Result<Feed> {
        let connection = bus.connect("gateway.live").await?;
        let channel = connection.create_channel().await?;
        topology::declare_exchanges(&channel, bus).await?;
        // Classic even where the vhost defaults to quorum: an exclusive queue cannot be one.
        let mut arguments = FieldTable::default();
        arguments.insert("x-queue-type".into(), AMQPValue::LongString("classic".into()));
        let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
        let queue = channel.queue_declare("".into(), options, arguments).await?;
        for key in bindings() {
            channel
                .queue_bind(
                    queue.name().clone(),
                    bus.exchange.as_str().into(),
                    key.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        // No acks: a live feed, and what one replica misses the others have stored.
        let consumer = channel
            .basic_consume(
                queue.name().clone(),
                format!("gateway.live-{}", Uuid::now_v7()).into(),
                BasicConsumeOptions { no_ack: true, exclusive: true, ..Default::default() },
                FieldTable::default(),
            )
            .await?;
        tracing::info!(queue = queue.name().as_str(), "live feed consuming");
        Ok(Feed { connection, consumer })
    }
}

/// One open stream's position.
struct Cursor {
    /// Released when the stream ends (the client left, the token expired, the hub closed).
    _slot: StreamSlot,
    hub: LiveHub,
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
    /// The next event for this user, or `None` when the stream should end.
    async fn next(&mut self) -> Option<Arc<LiveEvent>> {
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
                _ = self.hub.inner.closed.cancelled() => return None,
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
        let history = match self.hub.history(self.user_id).await {
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

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Exponential backoff from 200 ms, capped at 10 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1u64 << attempt.min(6)).min(10_000))
}

/// The history member: `<id> <event> <data>`. Built only from the delivery, so every replica
/// writes the same bytes and `ZADD NX` keeps one entry.
fn member(event: &LiveEvent) -> String {
    format!("{} {} {}", event.id, event.event, event.data)
}

fn parse_member(user_id: Uuid, member: &str, arrived: i64) -> Option<LiveEvent> {
    let mut parts = member.splitn(3, ' ');
    let id = Uuid::parse_str(parts.next()?).ok()?;
    let name = parts.next()?;
    let event = live_events().into_iter().find(|known| *known == name)?;
    let data = parts.next()?.to_owned();
    Some(LiveEvent { id, user_id, event, data, arrived })
}

/// Sorted by arrival; an id stored twice (two versions' views during a rolling deploy) is
/// kept once, at its first arrival.
fn parse_history(user_id: Uuid, entries: Vec<(String, f64)>) -> Vec<LiveEvent> {
    // Scores are whole microseconds, exact in an f64 until the year 2255.
    let mut events: Vec<LiveEvent> = entries
        .into_iter()
        .filter_map(|(member, score)| parse_member(user_id, &member, score as i64))
        .collect();
    events.sort_by_key(|e| (e.arrived, e.id));
    let mut seen = HashSet::new();
    events.retain(|e| seen.insert(e.id));
    events
}

/// A delivery, understood.
enum Parsed {
    Event(LiveEvent),
    Forget(Uuid),
}

fn parse(delivery: &Delivery, arrived: i64) -> Result<Parsed, String> {
    let properties = &delivery.properties;
    let id = properties
        .message_id()
        .as_ref()
        .and_then(|m| Uuid::parse_str(m.as_str()).ok())
        .ok_or("message_id is missing or not a UUID")?;
    let name = properties
        .kind()
        .as_ref()
        .map(|t| t.as_str().to_owned())
        .filter(|t| !t.is_empty())
        .or_else(|| delivery.routing_key.as_str().split('.').next().map(str::to_owned))
        .unwrap_or_default();
    let header_user = match header_string(delivery, "user_id") {
        Some(text) => Some(Uuid::parse_str(text.trim()).map_err(|_| "the user_id header is not a UUID")?),
        None => None,
    };
    if name == ev::UserDeleted::NAME {
        let deleted = decode::<ev::UserDeleted>(&delivery.data)?;
        return Ok(Parsed::Forget(owner(header_user, &deleted.user_id)?));
    }
    let (event, payload_user, data) = view(&name, &delivery.data)?;
    let user_id = owner(header_user, &payload_user)?;
    Ok(Parsed::Event(LiveEvent { id, user_id, event, data, arrived }))
}

fn header_string(delivery: &Delivery, name: &str) -> Option<String> {
    match delivery.properties.headers().as_ref()?.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// Whose event it is. The header and the payload must agree when both name a user: sending
/// an event to the wrong user is the one thing this feed must never do.
fn owner(header: Option<Uuid>, payload: &str) -> Result<Uuid, String> {
    let payload = match payload.trim() {
        "" => None,
        text => Some(Uuid::parse_str(text).map_err(|_| "the payload's user_id is not a UUID")?),
    };
    match (header, payload) {
        (Some(header), Some(payload)) if header != payload => {
            Err("the user_id header and the payload name different users".into())
        }
        (Some(user), _) | (None, Some(user)) => Ok(user),
        (None, None) => Err("the event names no user".into()),
    }
}

fn decode<E: DomainEvent>(payload: &[u8]) -> Result<E, String> {
    E::decode(payload).map_err(|e| format!("cannot decode {}: {e}", E::NAME))
}

fn to_json<T: Serialize>(view: &T) -> Result<String, String> {
    serde_json::to_string(view).map_err(|e| format!("cannot serialize the view: {e}"))
}

/// The event's static name, the payload's user id and the JSON view.
fn view(name: &str, payload: &[u8]) -> Result<(&'static str, String, String), String> {
    match name {
        ev::NotificationSent::NAME => {
            let n = decode::<ev::NotificationSent>(payload)?;
            let user = n.user_id.clone();
            Ok((ev::NotificationSent::NAME, user, to_json(&NotificationView::from(n))?))
        }
        ev::InsightGenerated::NAME => {
            let i = decode::<ev::InsightGenerated>(payload)?;
            let user = i.user_id.clone();
            Ok((ev::InsightGenerated::NAME, user, to_json(&InsightView::from(i))?))
        }
        ev::AnomalyDetected::NAME => {
            let a = decode::<ev::AnomalyDetected>(payload)?;
            let user = a.user_id.clone();
            Ok((ev::AnomalyDetected::NAME, user, to_json(&AnomalyView::from(a))?))
        }
        ev::BudgetThresholdReached::NAME => {
            let t = decode::<ev::BudgetThresholdReached>(payload)?;
            let user = t.user_id.clone();
            Ok((ev::BudgetThresholdReached::NAME, user, to_json(&ThresholdView::from(t))?))
        }
        other => Err(format!("{other:?} is not a live event")),
    }
}

/// `notification_sent`: an email went out (or finally failed).
#[derive(Serialize)]
struct NotificationView {
    notification_id: String,
    /// What the email was about (the notification's `kind`), or `digest`.
    kind: String,
    channel: String,
    status: String,
    occurred_at: Option<String>,
}

impl From<ev::NotificationSent> for NotificationView {
    fn from(n: ev::NotificationSent) -> Self {
        NotificationView {
            notification_id: n.notification_id,
            kind: n.template,
            channel: n.channel,
            status: n.status,
            occurred_at: json::timestamp(n.occurred_at),
        }
    }
}

/// `insight_generated`, shaped like an item of `GET /insights`.
#[derive(Serialize)]
struct InsightView {
    insight_id: String,
    kind: String,
    title: String,
    body: String,
    amount: Option<String>,
    currency: Option<String>,
    generated_at: Option<String>,
}

impl From<ev::InsightGenerated> for InsightView {
    fn from(i: ev::InsightGenerated) -> Self {
        // Analytics writes the amount as a decimal string already formatted for its currency.
        let data: Value = serde_json::from_str(&i.data_json).unwrap_or(Value::Null);
        let text = |key: &str| data.get(key).and_then(Value::as_str).map(str::to_owned);
        InsightView {
            amount: text("amount"),
            currency: text("currency"),
            insight_id: i.insight_id,
            kind: i.kind,
            title: i.title,
            body: i.body,
            generated_at: json::timestamp(i.generated_at),
        }
    }
}

/// `anomaly_detected`, shaped like an item of `GET /analytics/anomalies`.
#[derive(Serialize)]
struct AnomalyView {
    anomaly_id: String,
    transaction_id: String,
    kind: String,
    /// A JSON number in [0, 1], as in the anomalies list (a score is not money).
    score: Value,
    explanation: String,
    amount: Option<String>,
    currency: Option<String>,
    description: String,
    occurred_on: String,
    category_id: Option<String>,
    detected_at: Option<String>,
}

impl From<ev::AnomalyDetected> for AnomalyView {
    fn from(a: ev::AnomalyDetected) -> Self {
        AnomalyView {
            score: a
                .score
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number),
            amount: a.amount.is_some().then(|| json::amount(&a.amount)),
            currency: a.amount.as_ref().map(|m| m.currency_code.clone()),
            anomaly_id: a.anomaly_id,
            transaction_id: a.transaction_id,
            kind: a.kind,
            explanation: a.explanation,
            description: a.description,
            occurred_on: a.occurred_on,
            category_id: a.category_id,
            detected_at: json::timestamp(a.detected_at),
        }
    }
}

/// `budget_threshold_reached`: spending in a budget (or one of its categories) crossed a
/// threshold.
#[derive(Serialize)]
struct ThresholdView {
    budget_id: String,
    month: String,
    /// `total` or `category`.
    scope: String,
    category_id: Option<String>,
    category_name: Option<String>,
    /// The threshold crossed, in percent of the limit.
    threshold: u32,
    limit: String,
    spent: String,
    currency: String,
    /// Spent as a percentage of the limit, a JSON number as in the budget status.
    percent_used: Value,
    transaction_id: Option<String>,
    occurred_at: Option<String>,
}

impl From<ev::BudgetThresholdReached> for ThresholdView {
    fn from(t: ev::BudgetThresholdReached) -> Self {
        let decimal = |m: &Option<budgetsmart_proto::common::v1::Money>| {
            m.as_ref().and_then(|m| money::from_proto(m).ok()).map(|(value, _)| value)
        };
        let percent_used = match (decimal(&t.spent), decimal(&t.limit)) {
            (Some(spent), Some(limit)) if limit > Decimal::ZERO => spent
                .checked_mul(Decimal::from(100))
                .and_then(|scaled| scaled.checked_div(limit))
                .map_or(Value::Null, |p| json::percent(&p.round_dp(2).normalize().to_string())),
            _ => Value::Null,
        };
        let currency = if t.currency.is_empty() {
            t.limit.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default()
        } else {
            t.currency.clone()
        };
        ThresholdView {
            limit: json::amount(&t.limit),
            spent: json::amount(&t.spent),
            percent_used,
            currency,
            budget_id: t.budget_id,
            month: t.month,
            scope: t.scope,
            category_id: t.category_id,
            category_name: t.category_name,
            threshold: t.threshold_percent,
            transaction_id: t.transaction_id,
            occurred_at: json::timestamp(t.occurred_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    fn event(id: Uuid, arrived: i64) -> LiveEvent {
        LiveEvent { id, user_id: Uuid::nil(), event: ev::InsightGenerated::NAME, data: "{}".into(), arrived }
    }

    #[test]
    fn a_member_round_trips_and_unknown_names_are_skipped() {
        let user = Uuid::now_v7();
        let original = LiveEvent {
            id: Uuid::now_v7(),
            user_id: user,
            event: ev::BudgetThresholdReached::NAME,
            data: r#"{"title":"a b  c"}"#.into(),
            arrived: 1_700_000_000_123_456,
        };
        let back = parse_member(user, &member(&original), original.arrived).expect("parses");
        assert_eq!(back, original);
        assert!(parse_member(user, &format!("{} user_registered {{}}", Uuid::now_v7()), 1).is_none());
        assert!(parse_member(user, "not-a-uuid insight_generated {}", 1).is_none());
    }

    #[test]
    fn history_is_in_arrival_order_with_each_id_once() {
        let user = Uuid::now_v7();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let entries = vec![
            (format!("{b} insight_generated {{\"v\":1}}"), 10.0),
            (format!("{a} insight_generated {{}}"), 20.0),
            (format!("{b} insight_generated {{\"v\":2}}"), 30.0),
        ];
        let history = parse_history(user, entries);
        assert_eq!(history.iter().map(|e| e.id).collect::<Vec<_>>(), vec![b, a]);
        assert_eq!(history[0].data, "{\"v\":1}");
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

    #[test]
    fn owner_needs_the_header_and_payload_to_agree() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(owner(Some(a), &a.to_string()), Ok(a));
        assert_eq!(owner(Some(a), ""), Ok(a));
        assert_eq!(owner(None, &a.to_string()), Ok(a));
        assert!(owner(Some(a), &b.to_string()).is_err());
        assert!(owner(None, "").is_err());
        assert!(owner(None, "nope").is_err());
    }

    #[test]
    fn threshold_view_has_money_as_decimal_strings() {
        let payload = ev::BudgetThresholdReached {
            budget_id: "b".into(),
            user_id: "u".into(),
            month: "2025-03".into(),
            scope: "total".into(),
            threshold_percent: 80,
            limit: Some(money::to_proto(Decimal::new(100, 0), "USD")),
            spent: Some(money::to_proto(Decimal::new(8550, 2), "USD")),
            currency: "USD".into(),
            ..Default::default()
        }
        .encode_to_vec();
        let (name, user, data) = view("budget_threshold_reached", &payload).expect("a view");
        assert_eq!((name, user.as_str()), ("budget_threshold_reached", "u"));
        let data: Value = serde_json::from_str(&data).expect("JSON");
        assert_eq!(data["limit"], "100.00");
        assert_eq!(data["spent"], "85.50");
        assert_eq!(data["currency"], "USD");
        assert_eq!(data["threshold"], 80);
        assert_eq!(data["percent_used"], 85.5);
        assert_eq!(data["category_id"], Value::Null);
    }

    #[test]
    fn views_are_deterministic_and_cover_each_kind() {
        let anomaly = ev::AnomalyDetected {
            anomaly_id: "a".into(),
            user_id: "u".into(),
            score: "0.9100".into(),
            amount: Some(money::to_proto(Decimal::new(1200, 0), "JPY")),
            ..Default::default()
        }
        .encode_to_vec();
        let first = view("anomaly_detected", &anomaly).expect("a view");
        assert_eq!(first, view("anomaly_detected", &anomaly).expect("a view"));
        let data: Value = serde_json::from_str(&first.2).expect("JSON");
        assert_eq!(data["score"], 0.91);
        assert_eq!(data["amount"], "1200");
        assert_eq!(data["currency"], "JPY");

        let insight = ev::InsightGenerated {
            insight_id: "i".into(),
            user_id: "u".into(),
            data_json: r#"{"amount":"12.30","currency":"USD"}"#.into(),
            ..Default::default()
        }
        .encode_to_vec();
        let data: Value =
            serde_json::from_str(&view("insight_generated", &insight).expect("a view").2).expect("JSON");
        assert_eq!(data["amount"], "12.30");

        let sent =
            ev::NotificationSent { template: "welcome".into(), status: "sent".into(), ..Default::default() }
                .encode_to_vec();
        let data: Value =
            serde_json::from_str(&view("notification_sent", &sent).expect("a view").2).expect("JSON");
        assert_eq!(data["kind"], "welcome");

        assert!(view("transaction_created", &[]).is_err());
        assert!(view("insight_generated", &[0xff, 0xff]).is_err());
    }
}
