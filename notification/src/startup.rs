//! Building and running the notification service.

use std::net::SocketAddr;

use budgetsmart_common::service::{self, Backend};
use budgetsmart_proto::notification::v1::notifications_server::NotificationsServer;
use tokio_util::sync::CancellationToken;

use crate::api::NotificationsService;
use crate::config::NotificationConfig;
use crate::consumers;

/// Postgres schema the notification service owns.
pub const SCHEMA: &str = "notification";

/// A built service: connected, migrated, queue declared, port bound.
pub struct Notification {
    backend: Backend,
}

/// Applies the notification migrations to the database at `database_url` (`migrate` command).
pub async fn migrate(database_url: &str) -> anyhow::Result<()> {
    service::migrate_only(SCHEMA, database_url, sqlx::migrate!("./migrations")).await
}

/// Connects, migrates, declares the queue and binds the gRPC port.
pub async fn build(config: NotificationConfig) -> anyhow::Result<Notification> {
    let backend =
        Backend::prepare(SCHEMA, &config.backend, sqlx::migrate!("./migrations"), consumers::spec()).await?;
    Ok(Notification { backend })
}

impl Notification {
    /// The address gRPC is served on.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.backend.grpc_addr()
    }

    /// Serves and consumes until `shutdown`, then drains.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let service = NotificationsServer::with_interceptor(
            NotificationsService::new(self.backend.pool().clone()),
            self.backend.auth(),
        );
        self.backend
            .serve(shutdown, &["budgetsmart.notification.v1.Notifications"], |router| {
                router.add_service(service)
            })
            .await
    }
}
