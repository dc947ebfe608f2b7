//! Exchange and queue names, and declaring them.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::tcp::OwnedTLSConfig;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ConnectionProperties, DefaultConnectionBuilder, ExchangeKind};

use crate::config::{self, ConfigError};

/// Where events go and how consumers' queues are named.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// AMQP URL of the broker; `amqps://` connects over TLS (rustls), checking the broker's
    /// certificate and hostname against the built-in Mozilla roots plus `ca_file`'s.
    pub amqp_url: String,
    /// `AMQP_CA_FILE`: a PEM bundle of CA certificates to trust for `amqps://`, in addition to
    /// the built-in roots (lapin's TLS stack adds them). It is read at every (re)connect, so a
    /// rotated file is picked up without a restart.
    pub ca_file: Option<String>,
    /// The durable topic exchange events are published to.
    pub exchange: String,
    /// The direct exchange rejected and exhausted messages are dead-lettered to.
    pub dead_letter_exchange: String,
    /// Prepended to every queue name; tests use a unique one so they can run in parallel.
    pub queue_prefix: String,
    /// Deliveries of one message before it is dead-lettered (quorum-queue delivery limit).
    pub delivery_limit: i32,
    /// Unacknowledged deliveries in flight per consumer, and so the largest batch a lane
    /// applies. 128 rather than 32 (issue 25): under load a batch carries more events per
    /// commit, about 0.15 ms less CPU per create in paired runs (docs/architecture/performance.md).
    pub prefetch: u16,
}

impl BusConfig {
    /// Reads `AMQP_URL`, `EVENTS_EXCHANGE`, `EVENTS_DLX`, `EVENTS_QUEUE_PREFIX`,
    /// `EVENTS_DELIVERY_LIMIT` and `EVENTS_PREFETCH`.
    pub fn from_env() -> Result<BusConfig, ConfigError> {
        let env = config::Environment::from_env()?;
        Ok(BusConfig {
            // Required in production: a silent guest@localhost there is a broker nobody meant.
            amqp_url: config::required_in_production(
                env,
                "AMQP_URL",
                "amqp://guest:guest@127.0.0.1:5672/%2f",
            )?,
            ca_file: config::optional("AMQP_CA_FILE"),
            exchange: config::string("EVENTS_EXCHANGE", "budgetsmart.events"),
            dead_letter_exchange: config::string("EVENTS_DLX", "budgetsmart.dlx"),
            queue_prefix: config::string("EVENTS_QUEUE_PREFIX", ""),
            delivery_limit: config::parse("EVENTS_DELIVERY_LIMIT", 10)?,
            prefetch: config::parse("EVENTS_PREFETCH", 128)?,
        })
    }

    /// Connects to the broker as `name` (shown in its management UI), over TLS for `amqps://`.
    pub async fn connect(&self, name: &str) -> anyhow::Result<Connection> {
        let properties = ConnectionProperties::default().with_connection_name(name.into());
        let mut tls = OwnedTLSConfig::default();
        if let Some(file) = &self.ca_file {
            if !self.amqp_url.starts_with("amqps://") {
                anyhow::bail!("AMQP_CA_FILE is set but AMQP_URL is not an amqps:// (TLS) URL");
            }
            let pem = std::fs::read_to_string(file)
                .map_err(|e| anyhow::anyhow!("AMQP_CA_FILE {file} cannot be read: {e}"))?;
            // The TLS stack skips what it cannot parse, so an empty or wrong file would
            // otherwise pass unnoticed.
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                anyhow::bail!("AMQP_CA_FILE {file} holds no PEM certificate");
            }
            tls.cert_chain = Some(pem);
        }
        let connection = DefaultConnectionBuilder::new()?
            .with_uri_str(self.amqp_url.clone())
            .with_properties(properties)
            .with_tls_config(tls)
            .connect()
            .await?;
        Ok(connection)
    }

    /// The full name of a consumer's queue, `<prefix><service>.<purpose>`.
    pub fn queue_name(&self, queue: &str) -> String {
        format!("{}{queue}", self.queue_prefix)
    }
}

/// Declares both exchanges; idempotent, so every producer and consumer does it on connect.
pub async fn declare_exchanges(channel: &Channel, bus: &BusConfig) -> lapin::Result<()> {
    let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
    channel
        .exchange_declare(bus.exchange.as_str().into(), ExchangeKind::Topic, durable, FieldTable::default())
        .await?;
    channel
        .exchange_declare(
            bus.dead_letter_exchange.as_str().into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await
}

/// Declares a consumer's quorum queue, its dead-letter queue `<queue>.dlq`, and the bindings.
pub async fn declare_queue(
    channel: &Channel,
    bus: &BusConfig,
    queue: &str,
    bindings: &[String],
) -> lapin::Result<()> {
    declare_exchanges(channel, bus).await?;
    let dlq = format!("{queue}.dlq");
    let mut dlq_args = FieldTable::default();
    dlq_args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    channel.queue_declare(dlq.as_str().into(), QueueDeclareOptions::durable(), dlq_args).await?;
    channel
        .queue_bind(
            dlq.as_str().into(),
            bus.dead_letter_exchange.as_str().into(),
            queue.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(bus.dead_letter_exchange.as_str().into()),
    );
    args.insert("x-dead-letter-routing-key".into(), AMQPValue::LongString(queue.into()));
    args.insert("x-delivery-limit".into(), AMQPValue::LongInt(bus.delivery_limit));
    channel.queue_declare(queue.into(), QueueDeclareOptions::durable(), args).await?;
    for key in bindings {
        channel
            .queue_bind(
                queue.into(),
                bus.exchange.as_str().into(),
                key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}
