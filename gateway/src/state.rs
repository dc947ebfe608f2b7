//! Shared handles: upstream gRPC clients, the token verifier and Redis.

use std::sync::Arc;

use budgetsmart_common::jwt::TokenVerifier;
use budgetsmart_proto::analytics::v1::analytics_client::AnalyticsClient;
use budgetsmart_proto::engine::v1 as engine;
use budgetsmart_proto::notification::v1::notifications_client::NotificationsClient;
use budgetsmart_proto::notification::v1::unsubscribe_client::UnsubscribeClient;
use redis::aio::ConnectionManager;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::breaker::{Breaker, BreakerLayer, CircuitBreaker};
use crate::config::GatewayConfig;
use crate::forward::ForwardContext;
use crate::limits::RateLimits;

/// A channel behind its circuit breaker, whose calls carry the current request's context.
pub type Upstream = InterceptedService<Breaker<Channel>, ForwardContext>;

/// One backend: its raw channel (for health probes, which must bypass the breaker to see
/// recovery) and its breaker.
#[derive(Clone)]
pub struct Backend {
    /// `engine`, `analytics` or `notification`.
    pub name: &'static str,
    /// The channel without the breaker.
    pub channel: Channel,
    /// The breaker every client of this backend goes through.
    pub breaker: Arc<CircuitBreaker>,
    /// Sent on every call (the engine's `GATEWAY_TOKEN`); `None` for the other backends.
    pub credential: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl Backend {
    /// A backend over a lazily connecting channel.
    pub fn new(name: &'static str, channel: Channel, config: &GatewayConfig) -> Backend {
        Backend { name, channel, breaker: CircuitBreaker::new(name, config.breaker), credential: None }
    }

    /// The same backend, sent `token` on every call.
    pub fn vouched_by(self, token: &secrecy::SecretString) -> anyhow::Result<Backend> {
        use secrecy::ExposeSecret;
        let credential = tonic::metadata::MetadataValue::try_from(token.expose_secret())
            .map_err(|_| anyhow::anyhow!("GATEWAY_TOKEN must be printable ASCII"))?;
        Ok(Backend { credential: Some(credential), ..self })
    }

    /// A client transport: breaker, then context forwarding.
    pub fn upstream(&self) -> Upstream {
        use tower::Layer;
        InterceptedService::new(
            BreakerLayer(self.breaker.clone()).layer(self.channel.clone()),
            ForwardContext { credential: self.credential.clone() },
        )
    }
}

/// The engine's services.
#[derive(Clone)]
pub struct EngineClients {
    pub auth: engine::auth_client::AuthClient<Upstream>,
    pub users: engine::users_client::UsersClient<Upstream>,
    pub categories: engine::categories_client::CategoriesClient<Upstream>,
    pub budgets: engine::budgets_client::BudgetsClient<Upstream>,
    pub transactions: engine::transactions_client::TransactionsClient<Upstream>,
    pub insights: engine::insights_client::InsightsClient<Upstream>,
    pub accounts: engine::accounts_client::AccountsClient<Upstream>,
    pub imports: engine::imports_client::ImportsClient<Upstream>,
}

/// Everything handlers share. Every middleware and handler extracts `State`, so a request
/// clones it several times: one `Arc` keeps that a reference count, where cloning ten tonic
/// clients (each a channel, a URI and a sender) was a measurable share of the gateway's CPU.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Shares `shared` between every request.
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    /// Engine clients.
    pub engine: EngineClients,
    /// The analytics service.
    pub analytics: AnalyticsClient<Upstream>,
    /// Savings goals, also in analytics.
    pub goals: budgetsmart_proto::analytics::v1::goals_client::GoalsClient<Upstream>,
    /// The notification service.
    pub notifications: NotificationsClient<Upstream>,
    /// Its token-authenticated unsubscribe.
    pub unsubscribe: UnsubscribeClient<Upstream>,
    /// The backends, for readiness checks and breaker state.
    pub upstreams: Arc<Vec<Backend>>,
    /// The edge's rate limiters.
    pub rate_limits: Arc<RateLimits>,
    /// Live updates (SSE), fed from the bus.
    pub live: crate::live::LiveHub,
    /// Access-token verifier.
    pub verifier: Arc<TokenVerifier>,
    /// Redis, for idempotency records.
    pub redis: ConnectionManager,
    /// Settings.
    pub config: Arc<GatewayConfig>,
    /// The last readiness answer (status and JSON body) and when it was made; `/readyz`
    /// answers from it for a second, so a flood of probes is not a flood of backend calls.
    pub readiness: Arc<tokio::sync::Mutex<Option<(std::time::Instant, u16, String)>>>,
    /// Accounts deleted while their access tokens live; their tokens get 401.
    pub deleted: Arc<crate::deleted::DeletedAccounts>,
}

/// A lazily connecting channel, balanced over the backend's replicas: the gateway starts even
/// if a backend is still booting.
pub fn channel(url: &str, config: &GatewayConfig, name: &str) -> anyhow::Result<Channel> {
    budgetsmart_common::discovery::channel(name, url, &config.channels)
}

impl EngineClients {
    /// Clients over one shared channel (HTTP/2 multiplexes them) and breaker.
    pub fn new(engine: &Backend) -> EngineClients {
        let upstream = || engine.upstream();
        EngineClients {
            auth: engine::auth_client::AuthClient::new(upstream()),
            users: engine::users_client::UsersClient::new(upstream()),
            categories: engine::categories_client::CategoriesClient::new(upstream()),
            budgets: engine::budgets_client::BudgetsClient::new(upstream()),
            transactions: engine::transactions_client::TransactionsClient::new(upstream()),
            insights: engine::insights_client::InsightsClient::new(upstream()),
            accounts: engine::accounts_client::AccountsClient::new(upstream()),
            imports: engine::imports_client::ImportsClient::new(upstream()),
        }
    }
}
