//! Idempotent consumers with manual acks, an inbox table, retries and a dead-letter queue.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::{AMQPValue, FieldTable};

use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::DomainEvent;
use super::acks::{Acker, Settled};
use super::activity::BusActivity;
use super::relay::backoff;
use super::retention::{self, RetentionConfig};
use super::topology::{self, BusConfig};
use tracing::Instrument;

/// An event as delivered: the envelope from the AMQP properties plus the raw payload.
#[derive(Debug, Clone)]
pub struct IncomingEvent {
    /// The event id (`message_id`).
    pub id: Uuid,
    /// The event name (`type`).
    pub event_type: String,
    /// The routing key it was published with.
    pub routing_key: String,
    /// The `user_id` header.
    pub user_id: Option<Uuid>,
    /// The producer (`app_id`).
    pub producer: Option<String>,
    /// The causing request (`correlation_id`).
    pub correlation_id: Option<String>,
    /// When the producer recorded it (`timestamp`, whole seconds).
    pub published_at: Option<DateTime<Utc>>,
    /// W3C `traceparent` header.
    pub traceparent: Option<String>,
    /// The protobuf payload.
    pub payload: Vec<u8>,
}

impl IncomingEvent {
    /// Decodes the payload; a payload that does not decode is permanent, so it dead-letters.
    pub fn decode<E: DomainEvent>(&self) -> Result<E, HandlerError> {
        E::decode(self.payload.as_slice())
            .map_err(|e| HandlerError::Permanent(anyhow::anyhow!("cannot decode {} payload: {e}", E::NAME)))
    }

    fn from_delivery(delivery: &Delivery) -> Result<IncomingEvent, String> {
        let props = &delivery.properties;
        let id = props
            .message_id()
            .as_ref()
            .and_then(|m| Uuid::parse_str(m.as_str()).ok())
            .ok_or("message_id is missing or not a UUID")?;
        let event_type = props
            .kind()
            .as_ref()
            .map(|t| t.as_str().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or("type is missing")?;
        Ok(IncomingEvent {
            id,
            event_type,
            routing_key: delivery.routing_key.as_str().to_owned(),
            user_id: header_string(delivery, "user_id").and_then(|u| Uuid::parse_str(&u).ok()),
            producer: props.app_id().as_ref().map(|a| a.as_str().to_owned()),
            correlation_id: props.correlation_id().as_ref().map(|c| c.as_str().to_owned()),
            published_at: props
                .timestamp()
                .and_then(|t| Utc.timestamp_opt(i64::try_from(t).ok()?, 0).single()),
            traceparent: header_string(delivery, "traceparent"),
            payload: delivery.data.clone(),
        })
    }
}

fn header_string(delivery: &Delivery, name: &str) -> Option<String> {
    match delivery.properties.headers().as_ref()?.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// How a handler failed, which decides what happens to the delivery.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Retrying cannot help (bad payload, missing aggregate): dead-letter it now.
    #[error("permanent: {0:#}")]
    Permanent(anyhow::Error),
    /// Might work later (database down, deadlock): requeue with backoff.
    #[error("transient: {0:#}")]
    Transient(anyhow::Error),
}

impl From<sqlx::Error> for HandlerError {
    /// Constraint violations (class 23) and data exceptions (class 22: numeric overflow, a
    /// value out of range, bad text) say the event itself cannot be stored: retrying for
    /// minutes cannot help, so they are permanent. Everything else may pass later.
    fn from(error: sqlx::Error) -> Self {
        let permanent = matches!(&error, sqlx::Error::Database(db)
            if db.code().is_some_and(|code| code.starts_with("22") || code.starts_with("23")));
        if permanent { HandlerError::Permanent(error.into()) } else { HandlerError::Transient(error.into()) }
    }
}

/// Applies one event inside the consumer's transaction.
pub trait EventHandler: Send + Sync + 'static {
    /// Applies `event` on `conn`, which is inside the transaction that also records it in the
    /// inbox: return an error and neither happens.
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a IncomingEvent,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;

    /// Whether `event` can be applied with others of its kind by
    /// [`EventHandler::handle_batch`]. None can, unless the handler says so.
    fn batches(&self, _event: &IncomingEvent) -> bool {
        false
    }

    /// Applies a run of new events that [`EventHandler::batches`] accepted, in order, on
    /// `conn` inside the one transaction that also records them in the inbox, in fewer
    /// statements than one [`EventHandler::handle`] each (issue 25). An error rolls back the
    /// whole consumer batch, which is then applied one event at a time.
    fn handle_batch<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [&'a IncomingEvent],
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            for event in events {
                self.handle(conn, event).await?;
            }
            Ok(())
        })
    }

    /// Runs once the transaction that applied `event` has committed (never for a duplicate):
    /// for effects outside the database that must not precede the commit, such as
    /// invalidating a cache. It cannot fail the delivery, which is already applied.
    fn committed<'a>(&'a self, _event: &'a IncomingEvent) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// One durable queue and what it listens to.
#[derive(Clone)]
pub struct ConsumerSpec {
    /// `<service>.<purpose>`, e.g. `notification.events`; the bus prefix is added.
    pub queue: String,
    /// Routing keys to bind, e.g. `transaction_created.v1`.
    pub bindings: Vec<String>,
    /// What to do with each event.
    pub handler: Arc<dyn EventHandler>,
}

/// Consumes one queue into the service's database, reconnecting when the broker goes away.
pub struct EventConsumer {
    pool: PgPool,
    bus: BusConfig,
    queue: String,
    bindings: Vec<String>,
    handler: Arc<dyn EventHandler>,
    activity: Arc<BusActivity>,
    retention: Duration,
    /// Database connections this consumer may hold at once (see `CONNECTIONS`).
    connections: Arc<tokio::sync::Semaphore>,
}

/// Pool connections a consumer holds at most. The pool is shared with the service's API: 32
/// deliveries applied at once could take every connection and starve it. One per lane.
const CONNECTIONS: usize = LANES;

/// Batches applied at once, each for its own share of the users (see `consume`).
const LANES: usize = 4;

/// The lane of a delivery about `user` (a header, so the payload need not be decoded).
fn lane_of(user: Option<&str>) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    user.hash(&mut hasher);
    (hasher.finish() % LANES as u64) as usize
}

/// Seconds since the event was created, from its id: a UUIDv7 carries its creation time to the
/// millisecond, where the AMQP timestamp has whole seconds. Includes the time in the outbox.
fn event_age(delivery: &Delivery) -> Option<f64> {
    let id = Uuid::parse_str(delivery.properties.message_id().as_ref()?.as_str()).ok()?;
    let (seconds, nanos) = id.get_timestamp()?.to_unix();
    let created = Utc.timestamp_opt(i64::try_from(seconds).ok()?, nanos).single()?;
    Some((Utc::now() - created).num_milliseconds().max(0) as f64 / 1000.0)
}

/// Retries of a transient failure before the delivery is requeued: backoff 0.4 s … 10 s,
/// about 30 s in all.
const IN_PLACE_RETRIES: u32 = 7;

enum Outcome {
    Ack,
    DeadLetter,
    Retry,
}

impl EventConsumer {
    /// A consumer for `spec` writing to `pool`.
    pub fn new(pool: PgPool, bus: BusConfig, spec: ConsumerSpec) -> EventConsumer {
        EventConsumer {
            queue: bus.queue_name(&spec.queue),
            pool,
            bus,
            bindings: spec.bindings,
            handler: spec.handler,
            activity: Arc::default(),
            retention: RetentionConfig::default().window,
            connections: Arc::new(tokio::sync::Semaphore::new(CONNECTIONS)),
        }
    }

    /// Refuses events created more than `window` ago (see [`super::retention`]): their inbox
    /// rows may have been swept, so applying them could apply them twice.
    pub fn refusing_older_than(self, window: Duration) -> EventConsumer {
        EventConsumer { retention: window, ..self }
    }

    /// Counts what this consumer applies into `activity`.
    pub fn counting(self, activity: Arc<BusActivity>) -> EventConsumer {
        EventConsumer { activity, ..self }
    }

    /// Declares the queue and bindings now, so events published from here on are kept even
    /// before [`run`](Self::run) starts consuming.
    pub async fn declare(&self) -> anyhow::Result<()> {
        let connection = self.bus.connect(&format!("{}.declare", self.queue)).await?;
        let channel = connection.create_channel().await?;
        topology::declare_queue(&channel, &self.bus, &self.queue, &self.bindings).await?;
        connection.close(200, "declared".into()).await?;
        Ok(())
    }

    /// Consumes until `shutdown`, finishing the deliveries in hand before returning.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            match self.consume(&shutdown).await {
                Ok(()) => failures = 0,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let delay = backoff(failures);
                    tracing::warn!(queue = %self.queue, error = %error, retry_in = ?delay, "consumer lost the broker");
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    async fn consume(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let connection = self.bus.connect(&self.queue).await?;
        let channel = connection.create_channel().await?;
        topology::declare_queue(&channel, &self.bus, &self.queue, &self.bindings).await?;
        channel.basic_qos(self.bus.prefetch, BasicQosOptions::default()).await?;
        let consumer = channel
            .basic_consume(
                self.queue.as_str().into(),
                format!("{}-{}", self.queue, Uuid::now_v7()).into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(queue = %self.queue, "consuming");
        let depths = self.watch_depths(channel.clone(), shutdown.clone());
        let acker = Acker::new(channel.clone());
        let acker = &acker;
        let prefetch = usize::from(self.bus.prefetch.max(1));
        let mut broken: Option<lapin::Error> = None;
        // Deliveries go to one of LANES by their user; a lane applies the deliveries it has
        // waiting as one batch (see `settle_batch`), one batch at a time. No two batches in
        // flight share a user, so they never wait on each other's locks; when deliveries
        // trickle in, a batch is one delivery.
        let (lanes, inboxes): (Vec<_>, Vec<_>) =
            (0..LANES).map(|_| tokio::sync::mpsc::channel::<Delivery>(prefetch)).unzip();
        let dispatch = async {
            // Stop taking new deliveries on shutdown; the ones in hand finish and are acked.
            let mut deliveries = std::pin::pin!(consumer.take_until(shutdown.cancelled()));
            while let Some(delivery) = deliveries.next().await {
                match delivery {
                    Ok(delivery) => {
                        if let Some(age) = event_age(&delivery) {
                            metrics::histogram!("events_consume_lag_seconds", "queue" => self.queue.clone())
                                .record(age);
                        }
                        let lane = lane_of(header_string(&delivery, "user_id").as_deref());
                        if lanes[lane].send(delivery).await.is_err() {
                            break;
                        }
                    }
                    Err(error) => {
                        broken.get_or_insert(error);
                    }
                }
            }
            drop(lanes);
        };
        let work = futures_util::future::join_all(inboxes.into_iter().map(|mut inbox| async move {
            while let Some(first) = inbox.recv().await {
                let mut batch = vec![first];
                while batch.len() < prefetch
                    && let Ok(next) = inbox.try_recv()
                {
                    batch.push(next);
                }
                self.settle_batch(batch, acker, shutdown).await;
            }
        }));
        futures_util::future::join(dispatch, work).await;
        depths.abort();
        if let Some(error) = broken {
            return Err(error.into());
        }
        if !shutdown.is_cancelled() {
            anyhow::bail!("the broker cancelled the consumer");
        }
        let _ = connection.close(200, "shutting down".into()).await;
        Ok(())
    }

    /// Samples the depth of the queue and of its dead-letter queue every 15 s into
    /// `events_queue_depth` and `events_dead_letter_depth`.
    fn watch_depths(
        &self,
        channel: lapin::Channel,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let (queue, dlq) = (self.queue.clone(), format!("{}.dlq", self.queue));
        tokio::spawn(async move {
            let passive = lapin::options::QueueDeclareOptions { passive: true, ..Default::default() };
            while !shutdown.is_cancelled() {
                if let Ok(state) =
                    channel.queue_declare(dlq.as_str().into(), passive, FieldTable::default()).await
                {
                    metrics::gauge!("events_dead_letter_depth", "queue" => queue.clone())
                        .set(f64::from(state.message_count()));
                }
                // Ready messages only: the ones in this consumer's hands are not counted.
                if let Ok(state) =
                    channel.queue_declare(queue.as_str().into(), passive, FieldTable::default()).await
                {
                    metrics::gauge!("events_queue_depth", "queue" => queue.clone())
                        .set(f64::from(state.message_count()));
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(15)) => {}
                }
            }
        })
    }

    /// Applies a delivery and acks, dead-letters or requeues it.
    ///
    /// A transient failure is first retried here, with backoff, for about half a minute: an
    /// outage of the database should delay events, not use up their delivery limit and land
    /// healthy events in the dead-letter queue. Only then is the delivery requeued, which
    /// counts against the limit, so an event that can never be applied still ends in the DLQ.
    ///
    /// An applied delivery is left for the caller to acknowledge through its channel's
    /// [`Acker`] (`Settled::Pending`); a rejected or requeued one is settled here (`Alone`).
    async fn settle(&self, delivery: &Delivery, shutdown: &CancellationToken) -> Settled {
        let span = self.span(delivery);
        self.settle_in_span(delivery, shutdown).instrument(span).await
    }

    /// The consumer's span for `delivery`: it continues the producer's trace, and the events a
    /// handler publishes continue this span (see `enqueue`).
    fn span(&self, delivery: &Delivery) -> tracing::Span {
        let span = tracing::info_span!(
            "event.consume",
            otel.kind = "consumer",
            service = self.service(),
            queue = %self.queue,
            request_id = delivery.properties.correlation_id().as_ref().map(|c| c.as_str()).unwrap_or(""),
            event_id = tracing::field::Empty,
            event_type = tracing::field::Empty,
        );
        crate::telemetry::set_parent(
            &span,
            header_string(delivery, "traceparent").as_deref(),
            header_string(delivery, "tracestate").as_deref(),
        );
        span
    }

    /// Applies several deliveries in one transaction and acks them after its commit.
    ///
    /// Exactly once still holds per event: each one's inbox row commits with its effect, and
    /// none is acked before the commit. A batch has no savepoints: anything out of the
    /// ordinary (a malformed or expired envelope, a handler error, a failed commit, a deadlock)
    /// rolls the whole batch back and settles its deliveries one at a time, the path with the
    /// in-place retries and the dead-lettering; an event whose commit did land after all is
    /// then a duplicate to the inbox.
    ///
    /// A batch holds every lock it takes until its commit, so concurrent batches over the same
    /// users queued behind each other and deadlocked (docs/architecture/events.md, "Batched
    /// apply"): within a consumer, the lanes keep batches to disjoint users, and the events are
    /// applied in user order, so batches of two replicas take their users' locks in the same order.
    async fn settle_batch(&self, mut deliveries: Vec<Delivery>, acker: &Acker, shutdown: &CancellationToken) {
        if deliveries.len() > 1 {
            let now = Utc::now();
            let events: Option<Vec<IncomingEvent>> = deliveries
                .iter()
                .map(|d| IncomingEvent::from_delivery(d).ok())
                .map(|e| e.filter(|e| !retention::expired(e.id, e.published_at, self.retention, now)))
                .collect();
            if let Some(events) = events {
                // A stable sort: one user's events keep their delivery order.
                let mut pairs: Vec<(Delivery, IncomingEvent)> = deliveries.drain(..).zip(events).collect();
                pairs.sort_by_key(|(_, event)| event.user_id);
                let sorted_events: Vec<IncomingEvent>;
                (deliveries, sorted_events) = pairs.into_iter().unzip();
                match self.apply_batch(&deliveries, &sorted_events).await {
                    Ok(applied) => {
                        for (event, applied) in sorted_events.iter().zip(applied) {
                            if applied {
                                self.activity.applied();
                                self.handler.committed(event).await;
                            } else {
                                self.activity.duplicate();
                            }
                            metrics::counter!("events_consumed_total", "queue" => self.queue.clone(), "event" => event.event_type.clone(), "outcome" => "ack")
                                .increment(1);
                        }
                        let tags = deliveries.iter().map(|d| (d.delivery_tag, Settled::Pending));
                        self.acknowledge(acker, tags).await;
                        return;
                    }
                    Err(error) => {
                        tracing::debug!(queue = %self.queue, error = %error, "batch rolled back; applying its events one at a time");
                    }
                }
            }
        }
        // Concurrently, as before batching: a database outage is waited out once, not once per event.
        let settled =
            futures_util::future::join_all(deliveries.iter().map(|d| self.settle(d, shutdown))).await;
        self.acknowledge(acker, deliveries.iter().map(|d| d.delivery_tag).zip(settled)).await;
    }

    /// Hands settled deliveries to the channel's acknowledgements.
    async fn acknowledge(&self, acker: &Acker, tags: impl IntoIterator<Item = (u64, Settled)>) {
        if let Err(error) = acker.settle(tags).await {
            // The broker redelivers them after a reconnect; the inbox dedups them.
            tracing::warn!(queue = %self.queue, error = %error, "could not acknowledge deliveries");
        }
    }

    async fn connection_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, HandlerError> {
        self.connections.acquire().await.map_err(|e| HandlerError::Transient(e.into()))
    }

    /// The handler, with a panic turned into a permanent failure: the event is dead-lettered
    /// and the consumer goes on, where a panic used to end its task while health still said
    /// SERVING.
    async fn handle(&self, conn: &mut PgConnection, event: &IncomingEvent) -> Result<(), HandlerError> {
        use futures_util::FutureExt;
        match std::panic::AssertUnwindSafe(self.handler.handle(conn, event)).catch_unwind().await {
            Ok(outcome) => outcome,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(HandlerError::Permanent(anyhow::anyhow!("the handler panicked: {message}")))
            }
        }
    }

    /// Applies and empties `run` with [`EventHandler::handle_batch`]; a panic is a permanent
    /// failure (the batch then falls back to one event at a time, where the panicking one is
    /// dead-lettered).
    async fn handle_run(
        &self,
        conn: &mut PgConnection,
        run: &mut Vec<(&Delivery, &IncomingEvent)>,
    ) -> Result<(), HandlerError> {
        use futures_util::FutureExt;
        let Some((first, event)) = run.first() else { return Ok(()) };
        let span = self.span(first);
        span.record("event_id", tracing::field::display(event.id));
        span.record("event_type", event.event_type.as_str());
        for (delivery, _) in &run[1..] {
            crate::telemetry::add_link(
                &span,
                header_string(delivery, "traceparent").as_deref(),
                header_string(delivery, "tracestate").as_deref(),
            );
        }
        let events: Vec<&IncomingEvent> = run.iter().map(|(_, e)| *e).collect();
        run.clear();
        let handled = std::panic::AssertUnwindSafe(self.handler.handle_batch(conn, &events))
            .catch_unwind()
            .instrument(span)
            .await;
        match handled {
            Ok(outcome) => outcome,
            Err(_) => Err(HandlerError::Permanent(anyhow::anyhow!("the handler panicked on a batch"))),
        }
    }

    /// Records and applies every event in one transaction; for each, whether it was new.
    async fn apply_batch(
        &self,
        deliveries: &[Delivery],
        events: &[IncomingEvent],
    ) -> Result<Vec<bool>, HandlerError> {
        let _slot = self.connection_slot().await?;
        let mut tx = self.pool.begin().await.map_err(|e| HandlerError::Transient(e.into()))?;
        // Every inbox row in one statement; the ids it returns are the events not seen before.
        let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        let mut fresh: std::collections::HashSet<Uuid> = sqlx::query_scalar(
            "INSERT INTO inbox (consumer, event_id, event_type) \
             SELECT $1, id, kind FROM UNNEST($2::uuid[], $3::text[]) AS e (id, kind) \
             ON CONFLICT DO NOTHING RETURNING event_id",
        )
        .bind(&self.queue)
        .bind(&ids)
        .bind(&types)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| HandlerError::Transient(e.into()))?
        .into_iter()
        .collect();
        let mut applied = Vec::with_capacity(events.len());
        // Consecutive events the handler batches are applied together, under one span that
        // continues the first one's trace and links the others'.
        let mut run: Vec<(&Delivery, &IncomingEvent)> = Vec::new();
        for (delivery, event) in deliveries.iter().zip(events) {
            // `remove`: the same event delivered twice in one batch is applied once.
            let new = fresh.remove(&event.id);
            applied.push(new);
            if !new {
                continue;
            }
            if self.handler.batches(event) {
                run.push((delivery, event));
                continue;
            }
            self.handle_run(&mut tx, &mut run).await?;
            let span = self.span(delivery);
            span.record("event_id", tracing::field::display(event.id));
            span.record("event_type", event.event_type.as_str());
            self.handle(&mut tx, event).instrument(span).await?;
        }
        self.handle_run(&mut tx, &mut run).await?;
        tx.commit().await.map_err(|e| HandlerError::Transient(e.into()))?;
        Ok(applied)
    }

    async fn settle_in_span(&self, delivery: &Delivery, shutdown: &CancellationToken) -> Settled {
        let mut outcome = self.process(delivery).await;
        let mut attempt = 0;
        while matches!(outcome, Outcome::Retry) && attempt < IN_PLACE_RETRIES && !shutdown.is_cancelled() {
            attempt += 1;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(backoff(attempt)) => {}
            }
            outcome = self.process(delivery).await;
        }
        let label = match outcome {
            Outcome::Ack => "ack",
            Outcome::DeadLetter => "dead_letter",
            Outcome::Retry => "retry",
        };
        let event_type =
            delivery.properties.kind().as_ref().map(|t| t.as_str().to_owned()).unwrap_or_default();
        metrics::counter!("events_consumed_total", "queue" => self.queue.clone(), "event" => event_type, "outcome" => label)
            .increment(1);
        let result = match outcome {
            Outcome::Ack => return Settled::Pending,
            Outcome::DeadLetter => delivery.reject(BasicRejectOptions { requeue: false }).await,
            Outcome::Retry => delivery.nack(BasicNackOptions { requeue: true, ..Default::default() }).await,
        };
        if let Err(error) = result {
            // The broker redelivers unacked messages after a reconnect; the inbox dedups them.
            tracing::warn!(queue = %self.queue, error = %error, "could not settle a delivery");
        }
        Settled::Alone
    }

    /// The service that owns the queue, from its name `<prefix><service>.<purpose>`.
    fn service(&self) -> &str {
        let name = self.queue.strip_prefix(self.bus.queue_prefix.as_str()).unwrap_or(&self.queue);
        name.split('.').next().unwrap_or(name)
    }

    async fn process(&self, delivery: &Delivery) -> Outcome {
        let event = match IncomingEvent::from_delivery(delivery) {
            Ok(event) => event,
            Err(problem) => {
                tracing::error!(problem, "malformed envelope; dead-lettering");
                return Outcome::DeadLetter;
            }
        };
        let span = tracing::Span::current();
        span.record("event_id", tracing::field::display(event.id));
        span.record("event_type", event.event_type.as_str());
        if retention::expired(event.id, event.published_at, self.retention, Utc::now()) {
            tracing::warn!("event older than the retention window; acknowledged without effect");
            metrics::counter!("events_expired_total", "queue" => self.queue.clone()).increment(1);
            return Outcome::Ack;
        }
        match self.apply(&event).await {
            Ok(true) => {
                self.activity.applied();
                Outcome::Ack
            }
            Ok(false) => {
                self.activity.duplicate();
                tracing::debug!("duplicate delivery; already applied");
                Outcome::Ack
            }
            Err(HandlerError::Permanent(error)) => {
                tracing::error!(error = %format!("{error:#}"), "cannot apply event; dead-lettering");
                Outcome::DeadLetter
            }
            Err(HandlerError::Transient(error)) => {
                tracing::warn!(error = %format!("{error:#}"), "cannot apply event yet; will retry");
                Outcome::Retry
            }
        }
    }

    /// Records the event in the inbox and applies it, atomically. `Ok(false)` is a duplicate.
    async fn apply(&self, event: &IncomingEvent) -> Result<bool, HandlerError> {
        let _slot = self.connection_slot().await?;
        let mut tx = self.pool.begin().await.map_err(|e| HandlerError::Transient(e.into()))?;
        let inserted = sqlx::query(
            "INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&self.queue)
        .bind(event.id)
        .bind(&event.event_type)
        .execute(&mut *tx)
        .await
        .map_err(|e| HandlerError::Transient(e.into()))?
        .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        self.handle(&mut tx, event).await?;
        tx.commit().await.map_err(|e| HandlerError::Transient(e.into()))?;
        self.handler.committed(event).await;
        Ok(true)
    }
}
