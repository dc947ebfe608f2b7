//! Filling in the category of a transaction its author left uncategorised, from the
//! analytics service's suggestion, when that suggestion is confident enough.
//!
//! The call runs before the insert, with a short deadline and the caller's own access token
//! (analytics checks it like any other call). Analytics being slow, down or unsure never
//! fails or delays a write beyond the deadline: the transaction is stored uncategorised.

use std::time::Duration;

use budgetsmart_common::discovery::{self, ChannelSettings};
use budgetsmart_common::money;
use budgetsmart_proto::analytics::v1 as analytics;
use budgetsmart_proto::analytics::v1::analytics_client::AnalyticsClient;
use sqlx::PgPool;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::transport::Channel;
use uuid::Uuid;

use crate::transactions::owner::Category;
use crate::transactions::store::{CategorySource, NewTransaction};

/// Items per call: an import of 10,000 rows stays far below gRPC's 4 MiB message limit, and
/// each call gets its own deadline.
const BATCH: usize = 1_000;

/// The analytics client and the policy for using its suggestions.
#[derive(Clone)]
pub struct AutoCategorizer {
    client: Option<AnalyticsClient<Channel>>,
    min_confidence: f64,
    timeout: Duration,
}

impl AutoCategorizer {
    /// A categoriser calling analytics at `url` (connected lazily, so the engine starts
    /// without it); `None` turns the feature off.
    pub fn new(
        url: Option<&str>,
        min_confidence: f64,
        timeout: Duration,
        channels: &ChannelSettings,
    ) -> anyhow::Result<AutoCategorizer> {
        let client = match url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => Some(AnalyticsClient::new(discovery::channel("ANALYTICS_URL", url, channels)?)),
            None => None,
        };
        Ok(AutoCategorizer { client, min_confidence, timeout })
    }

    /// [`AutoCategorizer::fill`] over the user's categories read now: for imports, whose
    /// rows are written by the plain insert, which trusts the category it is given.
    pub async fn fill_fresh(
        &self,
        pool: &PgPool,
        user_id: Uuid,
        auth: &MetadataMap,
        items: &mut [&mut NewTransaction],
    ) {
        if self.client.is_none() || items.iter().all(|item| item.category_id.is_some()) {
            return;
        }
        match categories(pool, user_id).await {
            Ok(categories) => self.fill(&categories, auth, items).await,
            Err(error) => tracing::warn!(%error, "cannot read categories for auto-categorisation"),
        }
    }

    /// Sets the category of every uncategorised transaction in `items` whose suggestion is at
    /// least the confidence threshold, choosing among `categories`. `auth` is the caller's
    /// request metadata, forwarded.
    pub async fn fill(&self, categories: &[Category], auth: &MetadataMap, items: &mut [&mut NewTransaction]) {
        let Some(client) = &self.client else { return };
        let open: Vec<usize> = (0..items.len()).filter(|&i| items[i].category_id.is_none()).collect();
        if open.is_empty() {
            return;
        }
        let categories: Vec<analytics::CategoryOption> = categories
            .iter()
            .map(|c| analytics::CategoryOption {
                id: c.id.to_string(),
                name: c.name.clone(),
                kind: c.kind.clone(),
            })
            .collect();
        for batch in open.chunks(BATCH) {
            if !self.fill_batch(client, auth, items, batch, &categories).await {
                return;
            }
        }
    }

    /// One call for the items at `batch`; false when analytics did not answer (the rest are
    /// not tried: it would not answer them either within the write's patience).
    async fn fill_batch(
        &self,
        client: &AnalyticsClient<Channel>,
        auth: &MetadataMap,
        items: &mut [&mut NewTransaction],
        batch: &[usize],
        categories: &[analytics::CategoryOption],
    ) -> bool {
        let request = analytics::CategorizeRequest {
            items: batch
                .iter()
                .map(|&i| analytics::CategorizeItem {
                    description: items[i].description.clone(),
                    amount: Some(money::to_proto(items[i].amount, items[i].currency.code())),
                    r#type: items[i].kind.clone(),
                })
                .collect(),
            categories: categories.to_vec(),
        };
        let mut request = tonic::Request::new(request);
        for key in ["authorization", "x-request-id", "traceparent", "tracestate"] {
            if let Some(value) =
                auth.get(key).and_then(|v| v.to_str().ok()).and_then(|v| MetadataValue::try_from(v).ok())
            {
                request.metadata_mut().insert(key, value);
            }
        }
        request.set_timeout(self.timeout);
        let answer = match tokio::time::timeout(self.timeout, client.clone().categorize(request)).await {
            Ok(Ok(answer)) => answer.into_inner(),
            Ok(Err(status)) => {
                tracing::warn!(code = ?status.code(), message = status.message(), "auto-categorisation unavailable");
                return false;
            }
            Err(_) => {
                tracing::warn!(timeout_ms = self.timeout.as_millis() as u64, "auto-categorisation timed out");
                return false;
            }
        };
        for (&i, suggestion) in batch.iter().zip(answer.results) {
            if suggestion.confidence < self.min_confidence {
                continue;
            }
            if let Some(id) = suggestion.category_id.as_deref().and_then(|c| Uuid::parse_str(c).ok()) {
                items[i].category_id = Some(id);
                items[i].category_source = Some(CategorySource::Model(suggestion.confidence));
            }
        }
        true
    }
}

/// The user's categories, read now.
async fn categories(pool: &PgPool, user_id: Uuid) -> Result<Vec<Category>, sqlx::Error> {
    let rows: Vec<(Uuid, String, String)> =
        sqlx::query_as("SELECT id, name, kind FROM categories WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|(id, name, kind)| Category { id, name, kind }).collect())
}
