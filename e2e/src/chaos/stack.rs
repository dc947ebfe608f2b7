//! One scenario's system: the four services as real child processes (so SIGKILL is a real
//! SIGKILL), a private PostgreSQL and a private Redis on free ports, and a TCP proxy in front
//! of the shared RabbitMQ, so every fault lands on something the suite owns.
//!
//! Two instruments are added beside the services, and neither is visible to them:
//! - the **ledger**: a trigger on each service's `outbox` copies every committed event id into
//!   `chaos.ledger`. An outbox row commits exactly when the change that caused it commits, so the
//!   ledger is the list of events that must reach the bus;
//! - the **witness**: a queue of the suite's own, bound to every routing key on the scenario's
//!   exchange and read straight from the broker (not through the proxy), which sees every
//!   publish, duplicates included.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::proxy::TcpProxy;
use crate::servers::{PrivatePostgres, PrivateRedis, free_port, signal};
use crate::{amqp_url, mail_sink_smtp, url_addr};

/// The consumer queues (without the scenario's prefix) and the routing keys bound to each, as
/// the services declare them (`*/src/consumers.rs`).
pub const CONSUMERS: [(&str, &[&str]); 3] = [
    (
        "analytics.events",
        &[
            "transaction_created.v1",
            "transaction_updated.v1",
            "transaction_deleted.v1",
            "budget_updated.v1",
            "budget_deleted.v1",
            "user_registered.v1",
            "user_deleted.v1",
        ],
    ),
    (
        "notification.events",
        &[
            "budget_threshold_reached.v1",
            "prediction_completed.v1",
            "insight_generated.v1",
            "anomaly_detected.v1",
            "user_registered.v1",
            "user_updated.v1",
            "user_deleted.v1",
            "notification_sent.v1",
        ],
    ),
    ("engine.events", &["prediction_completed.v1", "insight_generated.v1"]),
];

/// One service as a child process, restartable with the same settings and ports.
pub struct Service {
    /// `engine`, `analytics`, `notification` or `gateway`.
    pub name: &'static str,
    program: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    /// Its admin port (`/healthz`).
    admin: SocketAddr,
    child: Option<Child>,
}

impl Service {
    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = OpenOptions::new().create(true).append(true).open(&self.log)?;
        let child = Command::new(&self.program)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", self.program.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// Starts it and waits until its admin port answers `/healthz`.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        self.spawn()?;
        let http = reqwest::Client::new();
        let url = format!("http://{}/healthz", self.admin);
        for _ in 0..600 {
            if http.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if let Some(status) = self.exited() {
                anyhow::bail!("{} exited at start ({status}); see {}", self.name, self.log.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("{} did not become healthy in 60 s; see {}", self.name, self.log.display())
    }

    /// SIGKILL: no drain, no flush, in-flight transactions die with their connections.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = tokio::task::spawn_blocking(move || child.wait()).await;
        }
    }

    /// SIGTERM and wait (at most 30 s, then SIGKILL); the exit status, if it ran.
    pub async fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        signal(child.id(), "TERM");
        for _ in 0..300 {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// Its exit status if it has exited on its own.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The scenario's running system.
pub struct Stack {
    /// `http://<gateway>/api/v1`.
    pub api: String,
    /// The private PostgreSQL.
    pub postgres: PrivatePostgres,
    /// The private Redis.
    pub redis: PrivateRedis,
    /// Every service's path to RabbitMQ.
    pub broker: TcpProxy,
    /// The services, in start order: analytics, notification, engine, gateway.
    pub services: Vec<Service>,
    /// Straight to the private PostgreSQL, for the ledger and the reconciliation.
    pub db: PgPool,
    /// The scenario's queue prefix and exchanges.
    pub prefix: String,
    exchange: String,
    dead_letter_exchange: String,
    /// A channel straight to the broker (not through the proxy).
    pub channel: Channel,
    _connection: Connection,
    witnessed: Arc<Mutex<Vec<String>>>,
}

/// Reads a service's settings the way its `main` does, from the environment.
fn settings(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

impl Stack {
    /// Starts everything from the binaries in `bin`; logs go to `logs/<service>.log`.
    pub async fn start(bin: &Path, logs: &Path) -> anyhow::Result<Stack> {
        std::fs::create_dir_all(logs)?;
        for service in ["engine", "analytics", "notification", "gateway"] {
            let _ = std::fs::remove_file(logs.join(format!("{service}.log")));
        }
        let id = uuid::Uuid::now_v7().simple().to_string();
        let postgres = PrivatePostgres::start().await;
        let admin = PgPool::connect(&postgres.url("postgres")).await?;
        sqlx::query("CREATE DATABASE budgetsmart").execute(&admin).await?;
        admin.close().await;
        let redis = PrivateRedis::start().await;
        let broker = TcpProxy::start(url_addr(&amqp_url(), 5672)).await;
        let (prefix, exchange, dead_letter_exchange) =
            (format!("chaos-{id}."), format!("chaos-{id}.events"), format!("chaos-{id}.dlx"));

        let port = || SocketAddr::from(([127, 0, 0, 1], free_port()));
        let grpc: HashMap<&str, SocketAddr> =
            ["engine", "analytics", "notification"].into_iter().map(|s| (s, port())).collect();
        let admin: HashMap<&str, SocketAddr> =
            ["engine", "analytics", "notification", "gateway"].into_iter().map(|s| (s, port())).collect();
        let gateway_addr = port();
        let smtp = mail_sink_smtp();
        let dev_dir = logs.join("dev");
        let _ = std::fs::remove_dir_all(&dev_dir);
        let common = settings(&[
            ("APP_ENV", "development".into()),
            ("BUDGETSMART_DEV_DIR", dev_dir.display().to_string()),
            ("RUST_LOG", "info".into()),
            ("LOG_FORMAT", "text".into()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", String::new()),
            ("DATABASE_URL", postgres.url("budgetsmart")),
            ("DATABASE_MAX_CONNECTIONS", "10".into()),
            ("AMQP_URL", format!("amqp://guest:guest@{}/%2f", broker.addr())),
            ("EVENTS_EXCHANGE", exchange.clone()),
            ("EVENTS_DLX", dead_letter_exchange.clone()),
            ("EVENTS_QUEUE_PREFIX", prefix.clone()),
            ("EVENTS_DELIVERY_LIMIT", "5".into()),
            ("REDIS_URL", redis.url()),
            ("REDIS_KEY_PREFIX", "chaos:".into()),
            ("ENGINE_URL", format!("http://{}", grpc["engine"])),
            ("ANALYTICS_URL", format!("http://{}", grpc["analytics"])),
            ("NOTIFICATION_URL", format!("http://{}", grpc["notification"])),
            ("ENGINE_GRPC_ADDR", grpc["engine"].to_string()),
            ("ANALYTICS_GRPC_ADDR", grpc["analytics"].to_string()),
            ("NOTIFICATION_GRPC_ADDR", grpc["notification"].to_string()),
            ("ENGINE_ADMIN_ADDR", admin["engine"].to_string()),
            ("ANALYTICS_ADMIN_ADDR", admin["analytics"].to_string()),
            ("NOTIFICATION_ADMIN_ADDR", admin["notification"].to_string()),
            ("GATEWAY_ADMIN_ADDR", admin["gateway"].to_string()),
            ("GATEWAY_ADDR", gateway_addr.to_string()),
            // Every client is 127.0.0.1: limits high enough never to refuse the load.
            ("LOGIN_MAX_FAILURES_PER_IP", "100000".into()),
            ("RATE_LIMIT_AUTH_PER_MIN", "1000000".into()),
            ("RATE_LIMIT_AUTH_BURST", "100000".into()),
            ("RATE_LIMIT_USER_PER_MIN", "1000000".into()),
            ("RATE_LIMIT_USER_BURST", "100000".into()),
            ("SMTP_HOST", smtp.ip().to_string()),
            ("SMTP_PORT", smtp.port().to_string()),
            ("NOTIFICATION_POLL_MS", "200".into()),
            ("NOTIFICATION_RETRY_BASE_MS", "500".into()),
            ("NOTIFICATION_MAX_ATTEMPTS", "50".into()),
            ("ANALYTICS_TRAIN_DEBOUNCE_MS", "2000".into()),
            ("UPSTREAM_TIMEOUT_MS", "5000".into()),
        ]);
        let mut services = Vec::new();
        for name in ["analytics", "notification", "engine", "gateway"] {
            services.push(Service {
                name,
                program: bin.join(name),
                env: common.clone(),
                log: logs.join(format!("{name}.log")),
                admin: admin[name],
                child: None,
            });
        }
        let db = PgPoolOptions::new().max_connections(4).connect(&postgres.url("budgetsmart")).await?;
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        let mut stack = Stack {
            api: format!("http://{gateway_addr}/api/v1"),
            postgres,
            redis,
            broker,
            services,
            db,
            prefix,
            exchange,
            dead_letter_exchange,
            channel,
            _connection: connection,
            witnessed: Arc::default(),
        };
        // Consumers first: each declares its queue at start, before anything is published.
        for service in &mut stack.services {
            service.start().await?;
        }
        stack.ready().await?;
        stack.install_ledger().await?;
        stack.start_witness().await?;
        Ok(stack)
    }

    /// The service called `name`.
    pub fn service(&mut self, name: &str) -> &mut Service {
        self.services.iter_mut().find(|s| s.name == name).expect("a service of the stack")
    }

    /// Waits for the gateway's `/readyz`.
    async fn ready(&self) -> anyhow::Result<()> {
        let url = self.api.replace("/api/v1", "/readyz");
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if http.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("the gateway never became ready")
    }

    async fn install_ledger(&self) -> anyhow::Result<()> {
        sqlx::raw_sql(
            "CREATE SCHEMA chaos;
             CREATE TABLE chaos.ledger (
                 event_id    uuid PRIMARY KEY,
                 service     text        NOT NULL,
                 event_type  text        NOT NULL,
                 routing_key text        NOT NULL,
                 user_id     uuid,
                 recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
             );
             CREATE FUNCTION chaos.record() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 INSERT INTO chaos.ledger (event_id, service, event_type, routing_key, user_id)
                 VALUES (NEW.id, TG_TABLE_SCHEMA, NEW.event_type, NEW.routing_key, NEW.user_id)
                 ON CONFLICT DO NOTHING;
                 RETURN NEW;
             END $$;
             CREATE TRIGGER chaos_ledger AFTER INSERT ON engine.outbox FOR EACH ROW EXECUTE FUNCTION chaos.record();
             CREATE TRIGGER chaos_ledger AFTER INSERT ON analytics.outbox FOR EACH ROW EXECUTE FUNCTION chaos.record();
             CREATE TRIGGER chaos_ledger AFTER INSERT ON notification.outbox FOR EACH ROW EXECUTE FUNCTION chaos.record();",
        )
        .execute(&self.db)
        .await?;
        Ok(())
    }

    async fn start_witness(&mut self) -> anyhow::Result<()> {
        let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
        let queue = self
            .channel
            .queue_declare(format!("{}witness", self.prefix).as_str().into(), options, FieldTable::default())
            .await?;
        self.channel
            .queue_bind(
                queue.name().clone(),
                self.exchange.as_str().into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let mut consumer = self
            .channel
            .basic_consume(
                queue.name().clone(),
                "chaos-witness".into(),
                BasicConsumeOptions { no_ack: true, ..Default::default() },
                FieldTable::default(),
            )
            .await?;
        let witnessed = self.witnessed.clone();
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let id = delivery.properties.message_id().as_ref().map(|m| m.to_string()).unwrap_or_default();
                witnessed.lock().expect("not poisoned").push(id);
            }
        });
        Ok(())
    }

    /// Every message id the witness has seen, in order, duplicates included.
    pub fn witnessed(&self) -> Vec<String> {
        self.witnessed.lock().expect("not poisoned").clone()
    }

    /// The full name of consumer queue `queue`.
    pub fn queue(&self, queue: &str) -> String {
        format!("{}{queue}", self.prefix)
    }

    /// How many messages wait in `queue`'s dead-letter queue.
    pub async fn dead_lettered(&self, queue: &str) -> anyhow::Result<u32> {
        let passive = QueueDeclareOptions { passive: true, ..Default::default() };
        let name = format!("{}.dlq", self.queue(queue));
        Ok(self
            .channel
            .queue_declare(name.as_str().into(), passive, FieldTable::default())
            .await?
            .message_count())
    }

    /// Any service that has exited without being told to: `(name, status)`.
    pub fn exited(&mut self) -> Vec<(String, String)> {
        self.services
            .iter_mut()
            .filter_map(|s| s.exited().map(|st| (s.name.to_owned(), st.to_string())))
            .collect()
    }

    /// SIGTERM to every service (gateway first) and the exit statuses that were not success;
    /// then the scenario's queues and exchanges are removed from the shared broker.
    pub async fn stop(mut self) -> Vec<String> {
        let mut unclean = Vec::new();
        for service in self.services.iter_mut().rev() {
            match service.terminate().await {
                Some(status) if status.success() => {}
                Some(status) => unclean.push(format!("{} stopped with {status}", service.name)),
                None => unclean.push(format!("{} was not running", service.name)),
            }
        }
        for (queue, _) in CONSUMERS {
            for name in [self.queue(queue), format!("{}.dlq", self.queue(queue))] {
                let _ = self.channel.queue_delete(name.as_str().into(), QueueDeleteOptions::default()).await;
            }
        }
        for exchange in [&self.exchange, &self.dead_letter_exchange] {
            let _ = self
                .channel
                .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
        self.db.close().await;
        unclean
    }
}
