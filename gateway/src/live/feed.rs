//! The RabbitMQ side: this replica's own queue of the live events, read until the hub closes
//! and reconnected with backoff whenever the broker goes away.

use std::sync::Arc;
use std::time::Duration;

use budgetsmart_common::events::DomainEvent;
use budgetsmart_common::events::topology::{self, BusConfig};
use budgetsmart_proto::events::v1 as ev;
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, Consumer};
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::event::{LiveEvent, Signal, now_micros};
use super::history::History;
use super::views::{decode, view};
use crate::deleted::DeletedAccounts;

/// A broker connection that lasted this long counts as healthy: the next loss reconnects fast.
const HEALTHY_AFTER: Duration = Duration::from_secs(30);
/// Longest a connect (with its declarations) or a close may take.
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);

/// The broker side: a connection and the consumer of this replica's queue.
pub(super) struct Feed {
    connection: Connection,
    consumer: Consumer,
}

/// Routing keys bound: the live events, and `user_deleted` to forget the user.
fn bindings() -> [String; 7] {
    [
        ev::NotificationSent::routing_key(),
        ev::InsightGenerated::routing_key(),
        ev::AnomalyDetected::routing_key(),
        ev::BudgetThresholdReached::routing_key(),
        ev::GoalReached::routing_key(),
        ev::GoalAtRisk::routing_key(),
        ev::UserDeleted::routing_key(),
    ]
}

impl Feed {
    /// Connects and sets up within [`BROKER_TIMEOUT`]: a broker that accepts TCP and then
    /// hangs would otherwise stall start-up, or the reconnect loop, for good.
    pub(super) async fn connect(bus: &BusConfig) -> anyhow::Result<Feed> {
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

/// Consumes until `closed`, reconnecting whenever the broker goes away: each event is
/// stored in the history, then broadcast to this process's streams.
pub(super) async fn run(
    bus: BusConfig,
    first: Feed,
    history: History,
    sender: broadcast::Sender<Signal>,
    deleted: Arc<DeletedAccounts>,
    closed: CancellationToken,
) {
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
                        let _ = sender.send(Signal::Resync);
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
                Some(Ok(delivery)) => {
                    handle(&history, &sender, &deleted, &delivery, &mut writes_paused_until).await;
                }
                Some(Err(error)) => break Some(error.to_string()),
                None => break Some("the broker cancelled the consumer".to_owned()),
            }
        };
        let Some(error) = lost else {
            // A broker that stopped answering must not hold up the gateway's shutdown.
            let _ = tokio::time::timeout(BROKER_TIMEOUT, connection.close(200, "shutting down".into())).await;
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
async fn handle(
    history: &History,
    sender: &broadcast::Sender<Signal>,
    deleted: &DeletedAccounts,
    delivery: &Delivery,
    writes_paused_until: &mut Option<Instant>,
) {
    match parse(delivery, now_micros()) {
        Ok(Parsed::Event(event)) => {
            history.store(&event, writes_paused_until).await;
            let _ = sender.send(Signal::Event(Arc::new(event)));
        }
        Ok(Parsed::Forget(user_id)) => {
            deleted.record(user_id);
            history.forget(user_id).await;
            let _ = sender.send(Signal::Forget(user_id));
        }
        Err(problem) => {
            tracing::warn!(problem, routing_key = delivery.routing_key.as_str(), "skipping a live event");
        }
    }
}

/// Exponential backoff from 200 ms, capped at 10 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1u64 << attempt.min(6)).min(10_000))
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(200));
        assert!(backoff(3) > backoff(2));
        assert_eq!(backoff(30), Duration::from_secs(10));
    }
}
