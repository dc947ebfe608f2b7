//! The outbox relay: publishes committed outbox rows with publisher confirms.
//!
//! Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several replicas share the work, and
//! deleted only after the broker confirmed every message of the batch. A crash between the
//! confirm and the commit republishes the batch: consumers are idempotent, so duplicates are
//! harmless and nothing is ever lost.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, Connection};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::activity::BusActivity;
use super::outbox::OutboxWaker;
use super::topology::{self, BusConfig};

/// One claimed outbox row.
#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: Uuid,
    event_type: String,
    event_version: i32,
    routing_key: String,
    user_id: Option<Uuid>,
    payload: Vec<u8>,
    correlation_id: Option<String>,
    traceparent: Option<String>,
    tracestate: Option<String>,
    occurred_at: DateTime<Utc>,
}

/// A connected, confirm-mode channel.
struct Publisher {
    // Held so the connection stays open as long as the channel is in use.
    _connection: Connection,
    channel: Channel,
}

/// Publishes one service's outbox until shut down.
pub struct OutboxRelay {
    pool: PgPool,
    bus: BusConfig,
    app_id: String,
    schema: String,
    waker: OutboxWaker,
    batch_size: i64,
    poll_interval: Duration,
    activity: Arc<BusActivity>,
}

impl OutboxRelay {
    /// A relay for the outbox in `schema`, publishing as `app_id`, woken by `waker`.
    pub fn new(pool: PgPool, bus: BusConfig, app_id: &str, schema: &str, waker: OutboxWaker) -> OutboxRelay {
        OutboxRelay {
            pool,
            bus,
            app_id: app_id.to_owned(),
            schema: schema.to_owned(),
            waker,
            batch_size: 256,
            poll_interval: Duration::from_secs(1),
            activity: Arc::default(),
        }
    }

    /// Counts what this relay publishes into `activity`.
    pub fn counting(self, activity: Arc<BusActivity>) -> OutboxRelay {
        OutboxRelay { activity, ..self }
    }

    /// Runs until `shutdown`, then publishes what is left if the broker is reachable.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut publisher: Option<Publisher> = None;
        let mut listener: Option<PgListener> = None;
        let mut failures: u32 = 0;
        loop {
            match self.drain(&mut publisher).await {
                Ok(()) => failures = 0,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    publisher = None;
                    let delay = backoff(failures);
                    tracing::warn!(error = %error, retry_in = ?delay, "outbox relay could not publish");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(delay) => continue,
                    }
                }
            }
            if shutdown.is_cancelled() {
                break;
            }
            if listener.is_none() {
                listener = self.listen().await;
            }
            // Wake when a producer in this process commits, on NOTIFY from elsewhere, or on the
            // poll, which also finds rows left by other replicas or a crash.
            let notified = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(|_| ()),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.waker.woken() => {}
                result = notified => if result.is_err() { listener = None; },
                _ = tokio::time::sleep(self.poll_interval) => {}
            }
        }
        // Flush: one last drain so events committed before SIGTERM go out now, not at restart.
        if let Err(error) = self.drain(&mut publisher).await {
            tracing::warn!(error = %error, "outbox not flushed at shutdown; it is published on restart");
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await.ok()?;
        listener.listen(&format!("{}_outbox", self.schema)).await.ok()?;
        Some(listener)
    }

    /// `outbox_lag_seconds`: how long the oldest unpublished event has waited (0 for none).
    fn record_lag(&self, oldest: Option<DateTime<Utc>>) {
        let lag = oldest.map(|at| (Utc::now() - at).num_milliseconds().max(0)).unwrap_or(0);
        metrics::gauge!("outbox_lag_seconds", "service" => self.app_id.clone()).set(lag as f64 / 1000.0);
    }

    /// Publishes batches until the outbox is empty.
    async fn drain(&self, publisher: &mut Option<Publisher>) -> anyhow::Result<()> {
        loop {
            let published = self.publish_batch(publisher).await?;
            if published < self.batch_size as usize {
                return Ok(());
            }
        }
    }

    async fn publish_batch(&self, publisher: &mut Option<Publisher>) -> anyhow::Result<usize> {
        // Connect before any row is claimed, and within the deadline: a broker that accepts the
        // connection but does not answer must not hold the transaction and its row locks.
        if publisher.is_none() {
            // The oldest row due, which also sets the lag gauge here: while the broker is away
            // this is as far as a batch gets, and the OutboxLagHigh alert must still see the
            // lag grow (ids are UUIDv7, so the primary key's order is the rows' age).
            let oldest: Option<DateTime<Utc>> = sqlx::query_scalar(
                "SELECT occurred_at FROM outbox WHERE not_before IS NULL OR not_before <= now() \
                 ORDER BY id LIMIT 1",
            )
            .fetch_optional(&self.pool)
            .await?;
            self.record_lag(oldest);
            if oldest.is_none() {
                return Ok(0);
            }
            match tokio::time::timeout(PUBLISH_TIMEOUT, self.connect()).await {
                Ok(connected) => *publisher = Some(connected?),
                Err(_) => {
                    anyhow::bail!("the broker did not answer the connection within {PUBLISH_TIMEOUT:?}")
                }
            }
        }
        let mut tx = self.pool.begin().await?;
        // Losing this commit in a crash only republishes the batch (consumers dedup), so it
        // need not wait for the WAL flush.
        sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "SELECT id, event_type, event_version, routing_key, user_id, payload, correlation_id, \
             traceparent, tracestate, occurred_at FROM outbox \
             WHERE not_before IS NULL OR not_before <= now() ORDER BY id LIMIT $1 \
             FOR UPDATE SKIP LOCKED",
        )
        .bind(self.batch_size)
        .fetch_all(&mut *tx)
        .await?;
        self.record_lag(rows.first().map(|r| r.occurred_at));
        if rows.is_empty() {
            return Ok(0);
        }
        let Some(Publisher { channel, .. }) = publisher.as_ref() else {
            anyhow::bail!("not connected to the broker");
        };

        // Send the whole batch, then wait for the confirms: one round trip, not one per row. With
        // a deadline: a blocked broker (a resource alarm) otherwise holds this transaction and
        // its row locks for as long as it stays blocked. On timeout the batch is rolled back and
        // published again after a reconnect; consumers dedup any copy that did get through.
        //
        // `mandatory`: a message no queue is bound for comes back instead of being confirmed
        // and dropped; its row stays (see below), where deleting it would lose the event.
        let publish = async {
            let mut confirms = Vec::with_capacity(rows.len());
            for row in &rows {
                let confirm = channel
                    .basic_publish(
                        self.bus.exchange.as_str().into(),
                        row.routing_key.as_str().into(),
                        BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() },
                        &row.payload,
                        self.properties(row),
                    )
                    .await?;
                confirms.push(confirm);
            }
            let mut returned = Vec::new();
            for (row, confirm) in rows.iter().zip(confirms) {
                match confirm.await? {
                    Confirmation::Nack(_) => anyhow::bail!("the broker refused (nacked) a message"),
                    Confirmation::Ack(Some(_)) => returned.push(row.id),
                    Confirmation::Ack(None) | Confirmation::NotRequested => {}
                }
            }
            Ok(returned)
        };
        let returned = match tokio::time::timeout(PUBLISH_TIMEOUT, publish).await {
            Ok(outcome) => outcome?,
            Err(_) => anyhow::bail!("the broker did not confirm within {PUBLISH_TIMEOUT:?}"),
        };
        if !returned.is_empty() {
            // Kept, and tried again after 2^attempts seconds (at most an hour): a consumer's
            // queue may not be declared yet (a first deployment, a renamed binding).
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, \
                 not_before = now() + make_interval(secs => LEAST(3600, power(2, LEAST(attempts + 1, 12)))) \
                 WHERE id = ANY($1)",
            )
            .bind(&returned)
            .execute(&mut *tx)
            .await?;
            for row in rows.iter().filter(|r| returned.contains(&r.id)) {
                tracing::warn!(event = %row.event_type, routing_key = %row.routing_key, id = %row.id,
                    "no queue is bound for this event; kept in the outbox and tried again later");
                metrics::counter!("events_unroutable_total", "service" => self.app_id.clone(), "event" => row.event_type.clone())
                    .increment(1);
            }
        }
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).filter(|id| !returned.contains(id)).collect();
        sqlx::query("DELETE FROM outbox WHERE id = ANY($1)").bind(&ids).execute(&mut *tx).await?;
        tx.commit().await?;
        self.activity.published(ids.len());
        for row in rows.iter().filter(|r| !returned.contains(&r.id)) {
            metrics::counter!("events_published_total", "service" => self.app_id.clone(), "event" => row.event_type.clone())
                .increment(1);
        }
        tracing::debug!(count = rows.len(), "published outbox batch");
        Ok(rows.len())
    }

    fn properties(&self, row: &OutboxRow) -> BasicProperties {
        let mut headers = FieldTable::default();
        headers.insert("event_version".into(), AMQPValue::LongInt(row.event_version));
        let strings = [
            ("user_id", row.user_id.map(|u| u.to_string())),
            ("traceparent", row.traceparent.clone()),
            ("tracestate", row.tracestate.clone()),
        ];
        for (name, value) in strings {
            if let Some(value) = value {
                headers.insert(name.into(), AMQPValue::LongString(value.into()));
            }
        }
        let mut properties = BasicProperties::default()
            .with_message_id(row.id.to_string().into())
            .with_type(row.event_type.as_str().into())
            .with_timestamp(row.occurred_at.timestamp().max(0) as u64)
            .with_app_id(self.app_id.as_str().into())
            .with_content_type("application/x-protobuf".into())
            .with_delivery_mode(2)
            .with_headers(headers);
        if let Some(correlation_id) = &row.correlation_id {
            properties = properties.with_correlation_id(correlation_id.as_str().into());
        }
        properties
    }

    async fn connect(&self) -> anyhow::Result<Publisher> {
        let connection = self.bus.connect(&format!("{}-outbox", self.app_id)).await?;
        let channel = connection.create_channel().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        topology::declare_exchanges(&channel, &self.bus).await?;
        tracing::info!("outbox relay connected to the broker");
        Ok(Publisher { _connection: connection, channel })
    }
}

/// How long a batch may take from the first publish to the last confirm.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Exponential backoff from 200 ms, capped at 10 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let millis = 200u64.saturating_mul(1u64 << attempt.min(6));
    Duration::from_millis(millis.min(10_000))
}
