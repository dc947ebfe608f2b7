//! System start-up: all four services in this process on port 0, against the test's own
//! database, exchange and Redis prefix, and their orderly stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use budgetsmart_common::events::{BusActivity, BusConfig};
use budgetsmart_common::jwt::TokenSettings;
use budgetsmart_common::keys::KeyMaterial;
use budgetsmart_common::service::BackendConfig;
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Connection, ConnectionProperties};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::env::{admin_database_url, amqp_url, mail_sink_smtp, redis_url, via};
use crate::proxy;

/// How to start the system.
#[derive(Default)]
pub struct Options {
    /// Send email through this address (e.g. a test-owned proxy) instead of the sink.
    pub smtp: Option<SocketAddr>,
    /// Quiet time before the first SMTP retry; 200 ms unless set.
    pub retry_base: Option<Duration>,
    /// Point the engine (and only the engine) at this AMQP URL, e.g. a test-owned proxy.
    pub engine_amqp_url: Option<String>,
    /// Reach PostgreSQL from analytics (only) through this address, e.g. a test-owned proxy.
    pub analytics_postgres: Option<SocketAddr>,
    /// Analytics' retraining debounce; 300 ms unless set.
    pub train_debounce: Option<Duration>,
    /// The gateway's rate limits; unless set, high enough that no test meets them (every
    /// test client is 127.0.0.1).
    pub rate_limits: Option<gateway::limits::RateLimitConfig>,
    /// The gateway's circuit breakers; the production defaults unless set.
    pub breaker: Option<gateway::breaker::BreakerConfig>,
    /// Route the gateway's engine calls through a test-owned proxy ([`TestSystem::engine_proxy`]).
    pub engine_proxy: bool,
    /// Engine and analytics processes to run side by side on the one database and bus, as
    /// replicas would; 1 unless set. Every client is given the list of their addresses.
    pub replicas: Option<usize>,
}

/// A comma-separated list of `http://` URLs, as the upstream settings take it.
fn urls(addrs: impl Iterator<Item = SocketAddr>) -> String {
    addrs.map(|addr| format!("http://{addr}")).collect::<Vec<_>>().join(",")
}

/// The credential the test gateway vouches with, and the engines accept.
pub const TEST_GATEWAY_TOKEN: &str = "test-gateway-token-0123456789abcdef";

/// The engine's settings in tests, on `backend` and the Redis at `redis_url` (plain, no CA
/// file) under `redis_key_prefix`; no auto-categorisation unless `analytics_url` is set.
pub fn engine_config(
    backend: BackendConfig,
    redis_url: String,
    redis_key_prefix: String,
) -> engine::EngineConfig {
    engine::EngineConfig {
        backend,
        redis_url,
        redis_key_prefix,
        redis_ca_file: None,
        access_token_ttl_secs: 900,
        refresh_token_ttl_secs: 3600,
        refresh_token_lifetime_secs: 24 * 3600,
        throttle: engine::config::ThrottleConfig {
            max_failures_per_account: 5,
            max_failures_per_account_unknown_clients: 12,
            max_failures_per_ip: 50,
            window_secs: 900,
        },
        analytics_url: None,
        auto_categorize_min_confidence: 0.8,
        // Debug builds on a shared machine: generous, so a slow moment does not flake.
        auto_categorize_timeout: Duration::from_secs(2),
        channels: channels(Duration::from_secs(2)),
        idempotency_ttl_secs: 600,
        password_hash_slots: 2,
        // Debug builds hash slowly, and test binaries run in parallel.
        password_hash_wait: Duration::from_secs(30),
        gateway_token: secrecy::SecretString::from(TEST_GATEWAY_TOKEN),
        // Tests load rates themselves (`engine::exchange::apply`), or serve RATES_URL.
        rates_url: None,
        rates_fetch_every: Duration::from_secs(3600),
    }
}

/// Upstream channel settings for tests: names are re-resolved every second.
fn channels(timeout: Duration) -> budgetsmart_common::discovery::ChannelSettings {
    budgetsmart_common::discovery::ChannelSettings {
        connect_timeout: Duration::from_secs(2),
        timeout,
        resolve_every: Duration::from_secs(1),
    }
}

/// A running system.
pub struct TestSystem {
    /// HTTP client.
    pub http: reqwest::Client,
    /// `http://<gateway>/api/v1`.
    pub api: String,
    /// The gateway's address.
    pub gateway: SocketAddr,
    /// The gateway's admin address (`/metrics`).
    pub gateway_admin: SocketAddr,
    /// The engine's gRPC address (the first replica's).
    pub engine: SocketAddr,
    /// The analytics gRPC address (the first replica's).
    pub analytics: SocketAddr,
    /// Every engine replica: its gRPC address and what its relay and consumer did.
    pub engines: Vec<(SocketAddr, Arc<BusActivity>)>,
    /// Every analytics replica, likewise.
    pub analytics_replicas: Vec<(SocketAddr, Arc<BusActivity>)>,
    /// The notification gRPC address.
    pub notification: SocketAddr,
    /// The test's own database.
    pub database_url: String,
    /// The test's exchange names and queue prefix.
    pub bus: BusConfig,
    /// The signing keys all services trust.
    pub keys: KeyMaterial,
    /// Token issuer and audience.
    pub tokens: TokenSettings,
    /// The backends' shared service credential.
    pub service_token: secrecy::SecretString,
    /// The key the notification service signs unsubscribe links with.
    pub unsubscribe_secret: secrecy::SecretString,
    /// The proxy between the gateway and the engine, with [`Options::engine_proxy`].
    pub engine_proxy: Option<proxy::TcpProxy>,
    gateway_config: gateway::GatewayConfig,
    engine_shutdown: CancellationToken,
    engine_tasks: Vec<JoinHandle<anyhow::Result<()>>>,
    engine_settings: engine::EngineConfig,
    database_name: String,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

impl TestSystem {
    /// Starts everything with default options.
    pub async fn start() -> TestSystem {
        TestSystem::start_with(Options::default()).await
    }

    /// Starts analytics, the engine, then notification (they declare their queues before the
    /// gateway lets any request in), then the gateway.
    pub async fn start_with(options: Options) -> TestSystem {
        budgetsmart_common::telemetry::init("e2e");
        let id = Uuid::now_v7().simple().to_string();
        let unsubscribe_secret = secrecy::SecretString::from(format!("test-unsubscribe-secret-{id}"));
        let database_name = format!("bs_test_{id}");
        let admin = PgPool::connect(&admin_database_url()).await.expect("PostgreSQL is reachable");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database_name}")))
            .execute(&admin)
            .await
            .expect("creates the test database");
        admin.close().await;
        let database_url = {
            let base = admin_database_url();
            let cut = base.rfind('/').expect("the URL names a database");
            format!("{}/{database_name}", &base[..cut])
        };
        let bus = BusConfig {
            amqp_url: amqp_url(),
            ca_file: None,
            exchange: format!("test-{id}.events"),
            dead_letter_exchange: format!("test-{id}.dlx"),
            queue_prefix: format!("test-{id}."),
            delivery_limit: 5,
            prefetch: 32,
        };
        let keys = KeyMaterial::generate();
        let tokens = TokenSettings::default();
        let service_token = secrecy::SecretString::from(format!("test-service-token-{id}"));
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let shutdown = CancellationToken::new();
        let mut tasks = Vec::new();

        let backend = |bus: BusConfig, keys: KeyMaterial| BackendConfig {
            grpc_addr: loopback,
            admin_addr: loopback,
            database_url: database_url.clone(),
            database_max_connections: 10,
            bus,
            keys,
            tokens: tokens.clone(),
            service_token: service_token.clone(),
            retention: Default::default(),
        };
        let mut analytics_backend = backend(bus.clone(), public_only(&keys));
        if let Some(proxy) = options.analytics_postgres {
            analytics_backend.database_url = via(&database_url, proxy);
        }
        let train_debounce = options.train_debounce;
        let replicas = options.replicas.unwrap_or(1).max(1);
        let mut analytics_replicas = Vec::new();
        for _ in 0..replicas {
            let analytics = analytics::build(analytics::AnalyticsConfig {
                backend: analytics_backend.clone(),
                redis_url: redis_url(),
                redis_key_prefix: format!("test-{id}:"),
                redis_ca_file: None,
                // Short, so tests see retraining quickly; the debounce itself has its own test.
                train_debounce: train_debounce.unwrap_or(Duration::from_millis(300)),
                train_max_wait: Duration::from_secs(30),
            })
            .await
            .expect("analytics builds");
            analytics_replicas.push((analytics.grpc_addr(), analytics.bus_activity()));
            tasks.push(tokio::spawn(analytics.run(shutdown.child_token())));
        }
        let analytics_addr = analytics_replicas[0].0;
        let analytics_urls = urls(analytics_replicas.iter().map(|(addr, _)| *addr));

        let mut engine_bus = bus.clone();
        if let Some(url) = options.engine_amqp_url {
            engine_bus.amqp_url = url;
        }
        let mut engines = Vec::new();
        // The engines stop on their own token too, so a test can stop them alone (as SIGTERM
        // to their pods would) while the rest keeps running.
        let engine_shutdown = shutdown.child_token();
        let mut engine_tasks = Vec::new();
        let engine_settings = engine::EngineConfig {
            analytics_url: Some(analytics_urls.clone()),
            ..engine_config(backend(engine_bus.clone(), keys.clone()), redis_url(), format!("test-{id}:"))
        };
        for _ in 0..replicas {
            let engine = engine::build(engine_settings.clone()).await.expect("engine builds");
            engines.push((engine.grpc_addr(), engine.bus_activity()));
            engine_tasks.push(tokio::spawn(engine.run(engine_shutdown.child_token())));
        }
        let engine_addr = engines[0].0;
        let engine_urls = urls(engines.iter().map(|(addr, _)| *addr));

        // After the engine, whose address it needs; nothing is published before the gateway
        // starts, so its queue is still declared in time.
        let smtp = options.smtp.unwrap_or_else(mail_sink_smtp);
        let notification = notification::build(notification::NotificationConfig {
            backend: backend(bus.clone(), public_only(&keys)),
            smtp: notification::config::SmtpConfig {
                host: smtp.ip().to_string(),
                port: smtp.port(),
                tls: notification::config::SmtpTls::None,
                credentials: None,
                timeout: Duration::from_secs(5),
            },
            mail_from: "BudgetSmart <notifications@budgetsmart.test>".into(),
            public_base_url: "http://budgetsmart.test".into(),
            unsubscribe_secret: unsubscribe_secret.clone(),
            engine_url: engine_urls.clone(),
            analytics_url: analytics_urls.clone(),
            channels: channels(Duration::from_secs(15)),
            senders: 4,
            poll_interval: Duration::from_millis(200),
            max_attempts: 50,
            retry_base: options.retry_base.unwrap_or(Duration::from_millis(200)),
            lease: Duration::from_secs(30),
        })
        .await
        .expect("notification builds");
        let notification_addr = notification.grpc_addr();
        tasks.push(tokio::spawn(notification.run(shutdown.child_token())));

        let engine_proxy = match options.engine_proxy {
            true => Some(proxy::TcpProxy::start(engine_addr).await),
            false => None,
        };
        let gateway_engine =
            engine_proxy.as_ref().map(|p| format!("http://{}", p.addr())).unwrap_or(engine_urls);
        let generous = gateway::limits::Limit { per_minute: 1_000_000, burst: 100_000 };
        let gateway_config = gateway::GatewayConfig {
            addr: loopback,
            admin_addr: loopback,
            metrics_networks: vec!["127.0.0.0/8".parse().expect("a network")],
            engine_url: gateway_engine,
            analytics_url: analytics_urls,
            notification_url: format!("http://{notification_addr}"),
            channels: channels(Duration::from_secs(10)),
            redis_url: redis_url(),
            redis_key_prefix: format!("test-{id}:"),
            redis_ca_file: None,
            keys: public_only(&keys),
            gateway_token: secrecy::SecretString::from(TEST_GATEWAY_TOKEN),
            tokens: tokens.clone(),
            upstream_timeout: Duration::from_secs(10),
            idempotency_ttl_secs: 600,
            rate_limits: options.rate_limits.unwrap_or(gateway::limits::RateLimitConfig {
                enabled: true,
                auth: generous,
                public: generous,
                user: generous,
                store: gateway::limits::Store::Memory,
            }),
            trusted_proxies: Vec::new(),
            breaker: options.breaker.unwrap_or_default(),
            request_timeout: Duration::from_secs(30),
            cors_origins: Vec::new(),
            api_docs: true,
            bus: bus.clone(),
        };
        let gateway = gateway::build(gateway_config.clone()).await.expect("gateway builds");
        let gateway_addr = gateway.addr();
        let gateway_admin = gateway.admin_addr();
        tasks.push(tokio::spawn(gateway.run(shutdown.child_token())));

        TestSystem {
            http: reqwest::Client::new(),
            api: format!("http://{gateway_addr}/api/v1"),
            gateway: gateway_addr,
            gateway_admin,
            engine: engine_addr,
            analytics: analytics_addr,
            engines,
            analytics_replicas,
            notification: notification_addr,
            database_url,
            bus,
            keys,
            tokens,
            service_token,
            unsubscribe_secret,
            engine_proxy,
            gateway_config,
            engine_shutdown,
            engine_tasks,
            engine_settings,
            database_name,
            shutdown,
            tasks,
        }
    }

    /// Another gateway replica on the same backends, bus and Redis prefix; stops with the
    /// system. Returns its `/api/v1` base URL.
    pub async fn another_gateway(&mut self) -> String {
        self.another_gateway_with(|_| {}).await
    }

    /// [`TestSystem::another_gateway`] with its settings changed by `change`.
    pub async fn another_gateway_with(&mut self, change: impl FnOnce(&mut gateway::GatewayConfig)) -> String {
        let mut config = gateway::GatewayConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..self.gateway_config.clone()
        };
        change(&mut config);
        let gateway = gateway::build(config).await.expect("the second gateway builds");
        let addr = gateway.addr();
        self.tasks.push(tokio::spawn(gateway.run(self.shutdown.child_token())));
        format!("http://{addr}/api/v1")
    }

    /// The Redis key prefix every service of this system uses.
    pub fn redis_key_prefix(&self) -> &str {
        &self.gateway_config.redis_key_prefix
    }

    /// Stops every engine as SIGTERM does (drain calls, flush the outbox) and waits for them;
    /// the other services keep running.
    pub async fn stop_engines(&mut self) {
        self.engine_shutdown.cancel();
        for task in std::mem::take(&mut self.engine_tasks) {
            let result = tokio::time::timeout(Duration::from_secs(15), task).await;
            assert!(matches!(result, Ok(Ok(Ok(())))), "an engine did not stop cleanly: {result:?}");
        }
    }

    /// Starts one more engine on the same database, bus and Redis, as a restarted pod would be
    /// (the gateway keeps its old address: this engine serves background work, such as the
    /// sweep that resumes imports). It stops with [`TestSystem::stop_engines`].
    pub async fn start_engine(&mut self) {
        if self.engine_shutdown.is_cancelled() {
            self.engine_shutdown = self.shutdown.child_token();
        }
        let engine = engine::build(self.engine_settings.clone()).await.expect("engine builds");
        self.engine_tasks.push(tokio::spawn(engine.run(self.engine_shutdown.child_token())));
    }

    /// Stops every service, then drops the test's database, queues and exchanges.
    pub async fn stop(mut self) {
        self.stop_engines().await;
        self.shutdown.cancel();
        for task in self.tasks {
            let result = tokio::time::timeout(Duration::from_secs(15), task).await;
            assert!(matches!(result, Ok(Ok(Ok(())))), "a service did not stop cleanly: {result:?}");
        }
        if let Ok(admin) = PgPool::connect(&admin_database_url()).await {
            let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database_name);
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&admin).await;
        }
        if let Ok(connection) = Connection::connect(&self.bus.amqp_url, ConnectionProperties::default()).await
            && let Ok(channel) = connection.create_channel().await
        {
            for queue in ["engine.events", "analytics.events", "notification.events"] {
                for name in [self.bus.queue_name(queue), format!("{}.dlq", self.bus.queue_name(queue))] {
                    let _ = channel.queue_delete(name.as_str().into(), QueueDeleteOptions::default()).await;
                }
            }
            for exchange in [&self.bus.exchange, &self.bus.dead_letter_exchange] {
                let _ =
                    channel.exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default()).await;
            }
        }
    }

    /// A gRPC channel to a backend.
    pub async fn grpc(&self, addr: SocketAddr) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("valid URI")
            .connect()
            .await
            .expect("connects")
    }
}

fn public_only(keys: &KeyMaterial) -> KeyMaterial {
    KeyMaterial { private_pem: None, ..keys.clone() }
}
