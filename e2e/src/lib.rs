//! The end-to-end harness: all four services on random ports against the real PostgreSQL,
//! RabbitMQ and Redis, isolated per test by a fresh database, a unique exchange and queue
//! prefix, and a unique Redis key prefix, so tests run in parallel.
#![forbid(unsafe_code)]

pub mod chaos;
pub mod mail_sink;
pub mod proxy;
pub mod servers;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use budgetsmart_common::events::{BusActivity, BusConfig};
use budgetsmart_common::jwt::TokenSettings;
use budgetsmart_common::keys::KeyMaterial;
use budgetsmart_common::service::BackendConfig;
use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// PostgreSQL server URL used to create per-test databases (`TEST_DATABASE_URL`).
pub fn admin_database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The broker (`AMQP_URL`).
pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// The Redis server (`REDIS_URL`).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The SMTP sink's SMTP address (`MAIL_SINK_SMTP`, default 127.0.0.1:1025): a real server
/// process (maildev), which `make test` starts when none listens.
pub fn mail_sink_smtp() -> SocketAddr {
    std::env::var("MAIL_SINK_SMTP")
        .ok()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| ([127, 0, 0, 1], 1025).into())
}

/// The sink's HTTP API (`MAIL_SINK_API`, default http://127.0.0.1:1080).
pub fn mail_sink_api() -> String {
    std::env::var("MAIL_SINK_API").unwrap_or_else(|_| "http://127.0.0.1:1080".into())
}

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

/// The engine's settings in tests, on `backend` and the Redis at `redis_url` (plain, no CA
/// file) under `redis_key_prefix`; no auto-categorisation unless `analytics_url` is set.
/// The credential the test gateway vouches with, and the engines accept.
pub const TEST_GATEWAY_TOKEN: &str = "test-gateway-token-0123456789abcdef";

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

/// The `host:port` a server URL points at (`localhost` read as 127.0.0.1).
pub fn url_addr(url: &str, default_port: u16) -> SocketAddr {
    let authority = url.split("://").nth(1).unwrap_or("").split('/').next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("").replace("localhost", "127.0.0.1");
    let host_port = if host_port.contains(':') { host_port } else { format!("{host_port}:{default_port}") };
    host_port.parse().expect("the URL names host:port")
}

/// `url` with its `host:port` replaced by `addr`.
fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let credentials = authority.rsplit_once('@').map(|(c, _)| format!("{c}@")).unwrap_or_default();
    format!("{scheme}://{credentials}{addr}/{path}")
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
    /// The proxy between the gateway and the engine, with [`Options::engine_proxy`].
    pub engine_proxy: Option<proxy::TcpProxy>,
    gateway_config: gateway::GatewayConfig,
    engine_shutdown: CancellationToken,
    engine_tasks: Vec<JoinHandle<anyhow::Result<()>>>,
    database_name: String,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// JSON body (`Null` when empty or not JSON).
    pub body: Value,
}

impl Reply {
    /// The `field` names of a problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// Whether the content type is problem+json.
    pub fn is_problem(&self) -> bool {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()) == Some("application/problem+json")
    }
}

/// A logged-in user.
pub struct Session {
    /// Access token.
    pub token: String,
    /// Refresh token.
    pub refresh: String,
    /// User id.
    pub user_id: String,
    /// Email registered with.
    pub email: String,
    /// Password registered with.
    pub password: String,
}

/// A test-owned queue bound to the test's exchange, for counting what was published.
pub struct TestQueue {
    _connection: Connection,
    consumer: lapin::Consumer,
}

impl TestQueue {
    /// Collects deliveries until none arrives for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<lapin::message::Delivery> {
        let mut deliveries = Vec::new();
        while let Ok(Some(Ok(delivery))) = tokio::time::timeout(quiet, self.consumer.next()).await {
            deliveries.push(delivery);
        }
        deliveries
    }
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
        for _ in 0..replicas {
            let engine = engine::build(engine::EngineConfig {
                analytics_url: Some(analytics_urls.clone()),
                ..engine_config(backend(engine_bus.clone(), keys.clone()), redis_url(), format!("test-{id}:"))
            })
            .await
            .expect("engine builds");
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
            unsubscribe_secret: secrecy::SecretString::from(format!("test-unsubscribe-secret-{id}")),
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
            engine_proxy,
            gateway_config,
            engine_shutdown,
            engine_tasks,
            database_name,
            shutdown,
            tasks,
        }
    }

    /// Another gateway replica on the same backends, bus and Redis prefix; stops with the
    /// system. Returns its `/api/v1` base URL.
    pub async fn another_gateway(&mut self) -> String {
        let config = gateway::GatewayConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..self.gateway_config.clone()
        };
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

    /// A pool on one service's schema of the test database.
    pub async fn pool(&self, schema: &str) -> PgPool {
        budgetsmart_common::database::connect(&self.database_url, schema, 2).await.expect("connects")
    }

    /// Sends a request to `/api/v1{path}`.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.api));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        reply(request.send().await.expect("the gateway answers")).await
    }

    /// Posts `csv` to `/transactions/import` as `text/csv`.
    pub async fn import_csv(&self, token: &str, csv: impl Into<String>) -> Reply {
        let request = self
            .http
            .post(format!("{}/transactions/import", self.api))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(csv.into());
        reply(request.send().await.expect("the gateway answers")).await
    }

    /// Registers a fresh user and logs in.
    pub async fn register_and_login(&self, name: &str) -> Session {
        let email = format!("{name}-{}@example.com", Uuid::now_v7().simple());
        let password = "correct horse battery staple".to_owned();
        let body = serde_json::json!({ "email": email, "password": password, "name": name });
        let registered = self.call(Method::POST, "/auth/register", None, Some(body)).await;
        assert_eq!(registered.status, StatusCode::CREATED, "{:?}", registered.body);
        let login = serde_json::json!({ "email": email, "password": password });
        let tokens = self.call(Method::POST, "/auth/login", None, Some(login)).await;
        assert_eq!(tokens.status, StatusCode::OK, "{:?}", tokens.body);
        Session {
            token: tokens.body["access_token"].as_str().expect("access token").to_owned(),
            refresh: tokens.body["refresh_token"].as_str().expect("refresh token").to_owned(),
            user_id: registered.body["id"].as_str().expect("id").to_owned(),
            email,
            password,
        }
    }

    /// The user's categories: name → id.
    pub async fn category_ids(&self, user: &Session) -> std::collections::HashMap<String, String> {
        let listed = self.call(Method::GET, "/categories", Some(&user.token), None).await;
        listed.body["data"]
            .as_array()
            .expect("categories")
            .iter()
            .map(|c| (c["name"].as_str().expect("name").to_owned(), c["id"].as_str().expect("id").to_owned()))
            .collect()
    }

    /// Polls GET `path` until `ready` holds for its body, for up to `limit`; fails the test
    /// with the last answer otherwise.
    pub async fn until(
        &self,
        user: &Session,
        path: &str,
        limit: Duration,
        ready: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let reply = self.call(Method::GET, path, Some(&user.token), None).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}: {:?}", reply.body);
            if ready(&reply.body) {
                return reply.body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} never became ready; last answer {}",
                reply.body
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// A queue of the test's own, bound to `routing_keys` on the test exchange.
    pub async fn listen(&self, routing_keys: &[&str]) -> TestQueue {
        let connection =
            Connection::connect(&amqp_url(), ConnectionProperties::default()).await.expect("broker");
        let channel = connection.create_channel().await.expect("channel");
        let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
        let queue = channel.queue_declare("".into(), options, FieldTable::default()).await.expect("queue");
        for key in routing_keys {
            channel
                .queue_bind(
                    queue.name().clone(),
                    self.bus.exchange.as_str().into(),
                    (*key).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .expect("bind");
        }
        let consumer = channel
            .basic_consume(
                queue.name().clone(),
                "test".into(),
                BasicConsumeOptions { no_ack: true, ..Default::default() },
                FieldTable::default(),
            )
            .await
            .expect("consume");
        TestQueue { _connection: connection, consumer }
    }

    /// Waits up to `limit` until the analytics read model holds exactly `expected` live
    /// transactions; returns the count it last saw.
    pub async fn analytics_transactions(&self, expected: i64, limit: Duration) -> i64 {
        let db = self.pool("analytics").await;
        let mut seen = -1;
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            seen = sqlx::query_scalar("SELECT count(*) FROM transactions WHERE NOT deleted")
                .fetch_one(&db)
                .await
                .unwrap_or(-1);
            if seen == expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        db.close().await;
        seen
    }

    /// Waits up to 10 s for the notification service's `ListReceivedEvents` to return at
    /// least `at_least` events of `event_type` for the holder of `token`, asked over real gRPC.
    pub async fn notification_received(
        &self,
        token: &str,
        event_type: &str,
        at_least: usize,
    ) -> Vec<budgetsmart_proto::common::v1::ReceivedEvent> {
        use budgetsmart_proto::common::v1::ListReceivedEventsRequest;
        use budgetsmart_proto::notification::v1::notifications_client::NotificationsClient;
        let channel = self.grpc(self.notification).await;
        let authorization: tonic::metadata::MetadataValue<_> =
            format!("Bearer {token}").parse().expect("a token is ASCII");
        let mut events = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while events.len() < at_least && tokio::time::Instant::now() < deadline {
            let mut request =
                tonic::Request::new(ListReceivedEventsRequest { event_type: event_type.into(), limit: 50 });
            request.metadata_mut().insert("authorization", authorization.clone());
            let answer = NotificationsClient::new(channel.clone()).list_received_events(request).await;
            events = answer.map(|r| r.into_inner().events).unwrap_or_default();
            if events.len() < at_least {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        events
    }

    /// Publishes a raw event on the test's exchange, as a producer would: `name` is the event
    /// name, `id` its message id, `user_id` the header.
    pub async fn publish(&self, name: &str, id: Uuid, user_id: &str, payload: &[u8]) {
        use lapin::BasicProperties;
        use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
        use lapin::types::AMQPValue;
        let connection =
            Connection::connect(&self.bus.amqp_url, ConnectionProperties::default()).await.expect("connects");
        let channel = connection.create_channel().await.expect("a channel");
        channel.confirm_select(ConfirmSelectOptions::default()).await.expect("confirms");
        let mut headers = FieldTable::default();
        headers.insert("user_id".into(), AMQPValue::LongString(user_id.to_owned().into()));
        let properties = BasicProperties::default()
            .with_message_id(id.to_string().into())
            .with_type(name.into())
            .with_headers(headers);
        channel
            .basic_publish(
                self.bus.exchange.as_str().into(),
                format!("{name}.v1").as_str().into(),
                BasicPublishOptions::default(),
                payload,
                properties,
            )
            .await
            .expect("publishes")
            .await
            .expect("confirmed");
        let _ = connection.close(200, "done".into()).await;
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

/// Reads a reqwest response into a [`Reply`].
pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap_or_default();
    Reply { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

/// Polls `check` until it returns `Some`, for up to `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The current month as `YYYY-MM`.
pub fn this_month() -> String {
    chrono::Utc::now().format("%Y-%m").to_string()
}

/// Registers and logs in a fresh user through the gateway at `base` (`…/api/v1`), for the
/// benchmark clients; returns the access token.
pub async fn bench_user(http: &reqwest::Client, base: &str, label: &str) -> anyhow::Result<String> {
    let email = format!("{label}-{}@example.com", Uuid::now_v7().simple());
    let password = "benchmark passphrase";
    let registered = http
        .post(format!("{base}/auth/register"))
        .json(&serde_json::json!({"email": email, "password": password, "name": "Bench"}))
        .send()
        .await?;
    anyhow::ensure!(registered.status().is_success(), "register: {}", registered.status());
    let login: Value = http
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await?
        .json()
        .await?;
    Ok(login["access_token"].as_str().ok_or_else(|| anyhow::anyhow!("no token"))?.to_owned())
}
