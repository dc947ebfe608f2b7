//! The shape every backend service shares: its own schema with migrations, an outbox relay,
//! one event consumer, and a gRPC server with health, reflection and token checks.
//!
//! `prepare` does everything that can fail at start-up (connect, migrate, declare the queue,
//! bind the port), so a misconfigured service stops before it serves; `serve` runs until
//! shutdown and then drains calls, deliveries and the outbox.

use std::net::SocketAddr;
use std::sync::Arc;

use secrecy::SecretString;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;

use crate::config::{self, ConfigError, Environment};
use crate::events::retention::{self, RetentionConfig};
use crate::events::{BusActivity, BusConfig, ConsumerSpec, EventConsumer, OutboxRelay, OutboxWaker};
use crate::grpc::{self, AuthInterceptor, GrpcRouter};
use crate::jwt::{TokenSettings, TokenVerifier};
use crate::keys::KeyMaterial;

/// Settings every backend service reads.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// Where gRPC is served (port 0 picks a free one).
    pub grpc_addr: SocketAddr,
    /// `<SERVICE>_ADMIN_ADDR`: where `/metrics` is served (engine 9101, analytics 9102,
    /// notification 9103 by default).
    pub admin_addr: SocketAddr,
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `DATABASE_MAX_CONNECTIONS`, default 20.
    pub database_max_connections: u32,
    /// The event bus.
    pub bus: BusConfig,
    /// Token keys: the private one only where tokens are issued.
    pub keys: KeyMaterial,
    /// `JWT_ISSUER` and `JWT_AUDIENCE`.
    pub tokens: TokenSettings,
    /// `SERVICE_TOKEN`: lets one backend call another for a user who is not present.
    pub service_token: SecretString,
    /// `EVENT_RETENTION_DAYS`: how long the inbox and journal keep rows.
    pub retention: RetentionConfig,
}

impl BackendConfig {
    /// Reads the shared settings; `addr_var` names the service's gRPC address variable
    /// (`<SERVICE>_GRPC_ADDR`; its admin address is `<SERVICE>_ADMIN_ADDR`).
    pub fn from_env(
        env: Environment,
        addr_var: &str,
        default_port: u16,
        need_private_key: bool,
    ) -> Result<BackendConfig, ConfigError> {
        Ok(BackendConfig {
            grpc_addr: config::parse(addr_var, SocketAddr::from(([127, 0, 0, 1], default_port)))?,
            admin_addr: config::parse(
                &addr_var.replace("_GRPC_ADDR", "_ADMIN_ADDR"),
                SocketAddr::from(([127, 0, 0, 1], 9101 + default_port.saturating_sub(50051))),
            )?,
            database_url: config::required_in_production(
                env,
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/budgetsmart",
            )?,
            database_max_connections: config::parse("DATABASE_MAX_CONNECTIONS", 20)?,
            bus: BusConfig::from_env()?,
            keys: KeyMaterial::from_env(env, need_private_key)?,
            service_token: crate::keys::shared_secret(env, "SERVICE_TOKEN")?,
            tokens: TokenSettings {
                issuer: config::string("JWT_ISSUER", crate::jwt::DEFAULT_ISSUER),
                audience: config::string("JWT_AUDIENCE", crate::jwt::DEFAULT_AUDIENCE),
            },
            retention: RetentionConfig::from_env()?,
        })
    }
}

/// A backend service, connected, migrated, queue declared and port bound; not yet serving.
pub struct Backend {
    schema: &'static str,
    pool: PgPool,
    bus: BusConfig,
    consumer: ConsumerSpec,
    outbox: OutboxWaker,
    verifier: Arc<TokenVerifier>,
    service_token: SecretString,
    listener: TcpListener,
    grpc_addr: SocketAddr,
    admin: TcpListener,
    admin_addr: SocketAddr,
    activity: Arc<BusActivity>,
    retention: RetentionConfig,
}

/// Applies `migrator` to `schema` of the database at `database_url` and returns.
pub async fn migrate_only(
    schema: &'static str,
    database_url: &str,
    migrator: Migrator,
) -> anyhow::Result<()> {
    let pool = crate::database::connect(database_url, schema, 1).await?;
    crate::database::migrate(&pool, migrator, schema).await
}

impl Backend {
    /// Does everything that can fail at start-up. The queue is declared before serving so no
    /// event published meanwhile is dropped.
    pub async fn prepare(
        schema: &'static str,
        config: &BackendConfig,
        migrator: Migrator,
        consumer: ConsumerSpec,
    ) -> anyhow::Result<Backend> {
        let pool =
            crate::database::connect(&config.database_url, schema, config.database_max_connections).await?;
        crate::database::migrate(&pool, migrator, schema).await?;
        let verifier = Arc::new(TokenVerifier::new(&config.keys, &config.tokens)?);
        EventConsumer::new(pool.clone(), config.bus.clone(), consumer.clone())
            .declare()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach RabbitMQ at AMQP_URL: {e}"))?;
        let (listener, grpc_addr) = grpc::bind(config.grpc_addr).await?;
        let (admin, admin_addr) = grpc::bind(config.admin_addr).await?;
        crate::metrics::handle();
        Ok(Backend {
            schema,
            pool,
            bus: config.bus.clone(),
            consumer,
            outbox: OutboxWaker::default(),
            verifier,
            service_token: config.service_token.clone(),
            listener,
            grpc_addr,
            admin,
            admin_addr,
            activity: Arc::default(),
            retention: config.retention,
        })
    }

    /// The address `/metrics` is served on.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The service's database pool (its schema first on the search path).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Wakes the relay; producers call it after committing events.
    pub fn outbox(&self) -> &OutboxWaker {
        &self.outbox
    }

    /// What this process's relay and consumer have done (they share one queue's work with
    /// the other replicas).
    pub fn activity(&self) -> Arc<BusActivity> {
        self.activity.clone()
    }

    /// The address gRPC is served on.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The interceptor that checks every call's access token.
    pub fn auth(&self) -> AuthInterceptor {
        AuthInterceptor::new(self.verifier.clone(), &self.service_token)
    }

    /// Serves the services `add` puts on the router, reporting `names` healthy, until
    /// `shutdown`; then waits for the relay and the consumer to drain.
    pub async fn serve(
        self,
        shutdown: CancellationToken,
        names: &[&str],
        add: impl FnOnce(GrpcRouter) -> GrpcRouter,
    ) -> anyhow::Result<()> {
        let Backend {
            schema,
            pool,
            bus,
            consumer,
            outbox,
            listener,
            grpc_addr,
            admin,
            activity,
            retention,
            ..
        } = self;
        let admin = tokio::spawn(crate::metrics::serve_admin(admin, shutdown.clone()));
        let relay =
            OutboxRelay::new(pool.clone(), bus.clone(), schema, schema, outbox).counting(activity.clone());
        // The relay stops last, on its own token: calls still draining and deliveries in hand
        // commit events after `shutdown`, and its final drain must come after them.
        let relay_stop = CancellationToken::new();
        let relay = tokio::spawn(relay.run(relay_stop.clone()));
        let consumer = EventConsumer::new(pool.clone(), bus, consumer)
            .counting(activity.clone())
            .refusing_older_than(retention.window);
        let sweeper = tokio::spawn(retention::run(pool.clone(), retention, shutdown.clone()));
        let mut server = Server::builder()
            .layer(crate::observe::ObserveLayer { service: schema })
            .layer(grpc::ServiceScopeLayer);
        let (health, router) = grpc::health_and_reflection(&mut server)?;
        let router = add(router);
        for name in names {
            health.set_service_status(name, tonic_health::ServingStatus::Serving).await;
        }
        // The consumer only returns at shutdown. If its task ends before (a panic outside a
        // handler), the service reports NOT_SERVING, so it is restarted instead of serving
        // with no one applying its events.
        let consumer = {
            let (health, shutdown) = (health.clone(), shutdown.clone());
            let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
            let task = tokio::spawn(consumer.run(shutdown.clone()));
            tokio::spawn(async move {
                let ended = task.await;
                if !shutdown.is_cancelled() {
                    tracing::error!(queue_task = ?ended.err(), "the event consumer stopped; reporting NOT_SERVING");
                    for name in names {
                        health.set_service_status(name, tonic_health::ServingStatus::NotServing).await;
                    }
                }
            })
        };
        tracing::info!(%grpc_addr, service = schema, "serving gRPC");
        let served = grpc::serve(router, listener, shutdown.clone().cancelled_owned()).await;
        shutdown.cancel();
        let _ = tokio::join!(consumer, admin, sweeper);
        relay_stop.cancel();
        let _ = relay.await;
        pool.close().await;
        let counts = activity.counts();
        tracing::info!(
            service = schema,
            published = counts.published,
            applied = counts.applied,
            duplicates = counts.duplicates,
            "stopped"
        );
        served
    }
}
