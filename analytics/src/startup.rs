//! Building and running the analytics service.

use std::net::SocketAddr;

use budgetsmart_common::service::{self, Backend};
use budgetsmart_proto::analytics::v1::analytics_server::AnalyticsServer;
use tokio_util::sync::CancellationToken;

use crate::api::AnalyticsService;
use crate::cache::Cache;
use crate::config::AnalyticsConfig;
use crate::consumers;
use crate::goals::service::GoalsService;
use crate::trainer::Trainer;

/// Postgres schema the analytics service owns.
pub const SCHEMA: &str = "analytics";

/// A built service: connected, migrated, queue declared, port bound.
pub struct Analytics {
    backend: Backend,
    cache: Cache,
    config: AnalyticsConfig,
}

/// Applies the analytics migrations to the database at `database_url` (`migrate` command).
pub async fn migrate(database_url: &str) -> anyhow::Result<()> {
    service::migrate_only(SCHEMA, database_url, sqlx::migrate!("./migrations")).await
}

/// Connects, migrates, declares the queue and binds the gRPC port.
pub async fn build(config: AnalyticsConfig) -> anyhow::Result<Analytics> {
    let cache =
        Cache::connect(&config.redis_url, config.redis_ca_file.as_deref(), &config.redis_key_prefix).await?;
    let backend = Backend::prepare(
        SCHEMA,
        &config.backend,
        sqlx::migrate!("./migrations"),
        consumers::spec(cache.clone()),
    )
    .await?;
    Ok(Analytics { backend, cache, config })
}

impl Analytics {
    /// The address gRPC is served on.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.backend.grpc_addr()
    }

    /// What this replica's outbox relay and event consumer have done.
    pub fn bus_activity(&self) -> std::sync::Arc<budgetsmart_common::events::BusActivity> {
        self.backend.activity()
    }

    /// Serves, consumes and retrains until `shutdown`, then drains.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let pool = self.backend.pool().clone();
        let trainer = Trainer::new(
            pool.clone(),
            self.cache.clone(),
            self.backend.outbox().clone(),
            self.config.train_debounce,
            self.config.train_max_wait,
        );
        let trainer = tokio::spawn(trainer.run(shutdown.clone()));
        let goals = budgetsmart_proto::analytics::v1::goals_server::GoalsServer::with_interceptor(
            GoalsService::new(pool.clone(), self.backend.outbox().clone()),
            self.backend.auth(),
        );
        let service =
            AnalyticsServer::with_interceptor(AnalyticsService::new(pool, self.cache), self.backend.auth());
        let names = ["budgetsmart.analytics.v1.Analytics", "budgetsmart.analytics.v1.Goals"];
        let served = self
            .backend
            .serve(shutdown.clone(), &names, |router| router.add_service(service).add_service(goals))
            .await;
        shutdown.cancel();
        let _ = trainer.await;
        served
    }
}
