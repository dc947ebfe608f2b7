//! Building and running the analytics service.

use std::net::SocketAddr;

use budgetsmart_common::service::{self, Backend};
use budgetsmart_proto::analytics::v1::analytics_server::AnalyticsServer;
use tokio_util::sync::CancellationToken;

use crate::api::AnalyticsService;
use crate::config::AnalyticsConfig;
use crate::consumers;

/// Postgres schema the analytics service owns.
pub const SCHEMA: &str = "analytics";

/// A built service: connected, migrated, queue declared, port bound.
pub struct Analytics {
    backend: Backend,
}

/// Applies the analytics migrations to the database at `database_url` (`migrate` command).
pub async fn migrate(database_url: &str) -> anyhow::Result<()> {
    service::migrate_only(SCHEMA, database_url, sqlx::migrate!("./migrations")).await
}

/// Connects, migrates, declares the queue and binds the gRPC port.
pub async fn build(config: AnalyticsConfig) -> anyhow::Result<Analytics> {
    let backend =
        Backend::prepare(SCHEMA, &config.backend, sqlx::migrate!("./migrations"), consumers::spec()).await?;
    Ok(Analytics { backend })
}

impl Analytics {
    /// The address gRPC is served on.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.backend.grpc_addr()
    }

    /// Serves and consumes until `shutdown`, then drains.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let service = AnalyticsServer::with_interceptor(
            AnalyticsService::new(self.backend.pool().clone()),
            self.backend.auth(),
        );
        self.backend
            .serve(shutdown, &["budgetsmart.analytics.v1.Analytics"], |router| router.add_service(service))
            .await
    }
}
