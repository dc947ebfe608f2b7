//! gRPC clients of the engine and analytics, acting for one user with the service credential:
//! emails are built when the user is not there to lend their token.

use budgetsmart_common::discovery::{self, ChannelSettings};
use budgetsmart_common::grpc::ActAs;
use budgetsmart_proto::analytics::v1::analytics_client::AnalyticsClient;
use budgetsmart_proto::engine::v1::budgets_client::BudgetsClient;
use budgetsmart_proto::engine::v1::categories_client::CategoriesClient;
use budgetsmart_proto::engine::v1::insights_client::InsightsClient;
use budgetsmart_proto::engine::v1::users_client::UsersClient;
use secrecy::SecretString;
use tonic::Status;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use uuid::Uuid;

type Intercepted = InterceptedService<Channel, ActAs>;

/// Lazily connected channels to the engine and analytics.
#[derive(Clone)]
pub struct Upstreams {
    engine: Channel,
    analytics: Channel,
    service_token: SecretString,
}

impl Upstreams {
    /// Channels to `engine_url` and `analytics_url` (each balanced over its replicas); they
    /// connect on first use.
    pub fn new(
        engine_url: &str,
        analytics_url: &str,
        channels: &ChannelSettings,
        service_token: SecretString,
    ) -> anyhow::Result<Upstreams> {
        Ok(Upstreams {
            engine: discovery::channel("ENGINE_URL", engine_url, channels)?,
            analytics: discovery::channel("ANALYTICS_URL", analytics_url, channels)?,
            service_token,
        })
    }

    fn act_as(&self, user_id: Uuid) -> Result<ActAs, Status> {
        ActAs::new(&self.service_token, user_id)
    }

    /// The engine's profile service, for `user_id`.
    pub fn users(&self, user_id: Uuid) -> Result<UsersClient<Intercepted>, Status> {
        Ok(UsersClient::with_interceptor(self.engine.clone(), self.act_as(user_id)?))
    }

    /// The engine's categories, for `user_id`.
    pub fn categories(&self, user_id: Uuid) -> Result<CategoriesClient<Intercepted>, Status> {
        Ok(CategoriesClient::with_interceptor(self.engine.clone(), self.act_as(user_id)?))
    }

    /// The engine's budgets, for `user_id`.
    pub fn budgets(&self, user_id: Uuid) -> Result<BudgetsClient<Intercepted>, Status> {
        Ok(BudgetsClient::with_interceptor(self.engine.clone(), self.act_as(user_id)?))
    }

    /// The engine's insights feed, for `user_id`.
    pub fn insights(&self, user_id: Uuid) -> Result<InsightsClient<Intercepted>, Status> {
        Ok(InsightsClient::with_interceptor(self.engine.clone(), self.act_as(user_id)?))
    }

    /// Analytics, for `user_id`.
    pub fn analytics(&self, user_id: Uuid) -> Result<AnalyticsClient<Intercepted>, Status> {
        Ok(AnalyticsClient::with_interceptor(self.analytics.clone(), self.act_as(user_id)?))
    }
}
