//! Database helpers: a pool on one service's schema, and waiting for what the services
//! wrote (analytics' read model, notification's received events).

use std::time::Duration;

use sqlx::PgPool;

use crate::system::TestSystem;

impl TestSystem {
    /// A pool on one service's schema of the test database.
    pub async fn pool(&self, schema: &str) -> PgPool {
        budgetsmart_common::database::connect(&self.database_url, schema, 2).await.expect("connects")
    }

    /// How many events of `event_type` the notification service wrote to its journal.
    pub async fn journaled(&self, event_type: &str) -> i64 {
        let db = self.pool("notification").await;
        let count = sqlx::query_scalar("SELECT count(*) FROM received_events WHERE event_type = $1")
            .bind(event_type)
            .fetch_one(&db)
            .await
            .expect("reads the journal");
        db.close().await;
        count
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
}
