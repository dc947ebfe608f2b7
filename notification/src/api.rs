//! The Notifications gRPC service.

use budgetsmart_common::events::journal;
use budgetsmart_proto::common::v1 as common;
use budgetsmart_proto::notification::v1::notifications_server::Notifications;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

/// Implements `budgetsmart.notification.v1.Notifications`.
pub struct NotificationsService {
    pool: PgPool,
}

impl NotificationsService {
    /// A service reading `pool`.
    pub fn new(pool: PgPool) -> Self {
        NotificationsService { pool }
    }
}

#[tonic::async_trait]
impl Notifications for NotificationsService {
    #[tracing::instrument(skip_all)]
    async fn list_received_events(
        &self,
        request: Request<common::ListReceivedEventsRequest>,
    ) -> Result<Response<common::ListReceivedEventsResponse>, Status> {
        journal::answer(&self.pool, request).await
    }
}
