//! The Analytics gRPC service.

use budgetsmart_common::events::journal;
use budgetsmart_proto::analytics::v1::analytics_server::Analytics;
use budgetsmart_proto::common::v1 as common;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

/// Implements `budgetsmart.analytics.v1.Analytics`.
pub struct AnalyticsService {
    pool: PgPool,
}

impl AnalyticsService {
    /// A service reading `pool`.
    pub fn new(pool: PgPool) -> Self {
        AnalyticsService { pool }
    }
}

#[tonic::async_trait]
impl Analytics for AnalyticsService {
    #[tracing::instrument(skip_all)]
    async fn list_received_events(
        &self,
        request: Request<common::ListReceivedEventsRequest>,
    ) -> Result<Response<common::ListReceivedEventsResponse>, Status> {
        journal::answer(&self.pool, request).await
    }
}
