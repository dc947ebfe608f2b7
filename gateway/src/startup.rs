//! Building and running the gateway.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use budgetsmart_common::jwt::TokenVerifier;
use budgetsmart_proto::analytics::v1::analytics_client::AnalyticsClient;
use budgetsmart_proto::notification::v1::notifications_client::NotificationsClient;
use budgetsmart_proto::notification::v1::unsubscribe_client::UnsubscribeClient;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;

use crate::config::GatewayConfig;
use crate::context::ForwardContext;
use crate::error::ApiError;
use crate::state::{self, AppState, EngineClients};
use crate::{context, health, routes};

/// A built gateway: upstream channels ready, Redis connected, port bound.
pub struct Gateway {
    router: Router,
    listener: TcpListener,
    addr: SocketAddr,
}

/// Connects Redis, prepares the upstream channels and binds the HTTP port.
pub async fn build(config: GatewayConfig) -> anyhow::Result<Gateway> {
    let engine = state::channel(&config.engine_url, &config, "ENGINE_URL")?;
    let analytics = state::channel(&config.analytics_url, &config, "ANALYTICS_URL")?;
    let notification = state::channel(&config.notification_url, &config, "NOTIFICATION_URL")?;
    let client = redis::Client::open(config.redis_url.as_str())
        .map_err(|e| anyhow::anyhow!("REDIS_URL is not a valid Redis URL: {e}"))?;
    let redis = redis::aio::ConnectionManager::new(client)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach Redis at REDIS_URL: {e}"))?;
    let state = AppState {
        engine: EngineClients::new(engine.clone()),
        analytics: AnalyticsClient::new(InterceptedService::new(analytics.clone(), ForwardContext)),
        notifications: NotificationsClient::new(InterceptedService::new(
            notification.clone(),
            ForwardContext,
        )),
        unsubscribe: UnsubscribeClient::new(InterceptedService::new(notification.clone(), ForwardContext)),
        upstreams: Arc::new(vec![
            ("engine", engine),
            ("analytics", analytics),
            ("notification", notification),
        ]),
        verifier: Arc::new(TokenVerifier::new(&config.keys, &config.tokens)?),
        redis,
        config: Arc::new(config.clone()),
    };
    let router = Router::new()
        .nest("/api/v1", routes::api(state.clone()))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(|| async {
            ApiError::new(axum::http::StatusCode::NOT_FOUND, "no such route").into_response()
        })
        .layer(axum::middleware::from_fn(context::propagate))
        .with_state(state);
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on GATEWAY_ADDR {}: {e}", config.addr))?;
    let addr = listener.local_addr()?;
    Ok(Gateway { router, listener, addr })
}

impl Gateway {
    /// The address HTTP is served on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown`, then lets in-flight requests finish.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(addr = %self.addr, "gateway serving HTTP");
        axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await?;
        tracing::info!("gateway stopped");
        Ok(())
    }
}
