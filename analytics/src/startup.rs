//! Building and running the analytics service.

use std::net::SocketAddr;
use std::sync::Arc;

use budgetsmart_common::events::{EventConsumer, OutboxRelay, OutboxWaker};
use budgetsmart_common::grpc::{self, AuthInterceptor};
use budgetsmart_common::jwt::TokenVerifier;
use budgetsmart_proto::analytics::v1::analytics_server::AnalyticsServer;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;

use crate::api::AnalyticsService;
use crate::config::AnalyticsConfig;
use crate::consumers;

/// Postgres schema analytics owns.
pub const SCHEMA: &str = "analytics";

/// A built service: connected, migrated, queue declared, port bound.
pub struct Analytics {
    pool: PgPool,
    config: AnalyticsConfig,
    verifier: Arc<TokenVerifier>,
    listener: TcpListener,
    grpc_addr: SocketAddr,
}

/// Applies this service's migrations to the database at `database_url` (`migrate` command).
pub async fn migrate(database_url: &str) -> anyhow::Result<()> {
    let pool = budgetsmart_common::database::connect(database_url, SCHEMA, 1).await?;
    apply_migrations(&pool).await
}

async fn apply_migrations(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    budgetsmart_common::database::migrate(pool, sqlx::migrate!("./migrations"), SCHEMA).await
}

/// Connects, migrates, declares the queue and binds the gRPC port.
pub async fn build(config: AnalyticsConfig) -> anyhow::Result<Analytics> {
    let pool = budgetsmart_common::database::connect(&config.database_url, SCHEMA, 10).await?;
    apply_migrations(&pool).await?;
    let verifier = Arc::new(TokenVerifier::new(&config.keys, &config.tokens)?);
    EventConsumer::new(pool.clone(), config.bus.clone(), consumers::spec())
        .declare()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach RabbitMQ at AMQP_URL: {e}"))?;
    let (listener, grpc_addr) = grpc::bind(config.grpc_addr).await?;
    Ok(Analytics { pool, config, verifier, listener, grpc_addr })
}

impl Analytics {
    /// The address gRPC is served on.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Serves and consumes until `shutdown`, then drains.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Analytics { pool, config, verifier, listener, grpc_addr } = self;
        let relay = tokio::spawn(
            OutboxRelay::new(pool.clone(), config.bus.clone(), "analytics", SCHEMA, OutboxWaker::default())
                .run(shutdown.clone()),
        );
        let consumer = tokio::spawn(
            EventConsumer::new(pool.clone(), config.bus.clone(), consumers::spec()).run(shutdown.clone()),
        );
        let mut server = Server::builder();
        let (health, router) = grpc::health_and_reflection(&mut server)?;
        let router = router.add_service(AnalyticsServer::with_interceptor(
            AnalyticsService::new(pool.clone()),
            AuthInterceptor::new(verifier),
        ));
        health
            .set_service_status("budgetsmart.analytics.v1.Analytics", tonic_health::ServingStatus::Serving)
            .await;
        tracing::info!(%grpc_addr, "analytics serving gRPC");
        let served = grpc::serve(router, listener, shutdown.clone().cancelled_owned()).await;
        shutdown.cancel();
        let _ = tokio::join!(relay, consumer);
        pool.close().await;
        served
    }
}
