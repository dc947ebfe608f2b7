//! Building and running the gateway.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use budgetsmart_common::jwt::TokenVerifier;
use budgetsmart_proto::analytics::v1::analytics_client::AnalyticsClient;
use budgetsmart_proto::notification::v1::notifications_client::NotificationsClient;
use budgetsmart_proto::notification::v1::unsubscribe_client::UnsubscribeClient;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::GatewayConfig;
use crate::limits::RateLimits;
use crate::state::{self, AppState, Backend, EngineClients, Shared};
use crate::{context, hardening, health, http_metrics, openapi, rate_limit, routes};

/// A built gateway: upstream channels ready, Redis connected, port bound.
pub struct Gateway {
    router: Router,
    listener: TcpListener,
    addr: SocketAddr,
    admin: TcpListener,
    admin_addr: SocketAddr,
    live: crate::live::LiveHub,
    live_task: tokio::task::JoinHandle<()>,
}

/// Connects Redis, prepares the upstream channels and binds the HTTP port.
pub async fn build(config: GatewayConfig) -> anyhow::Result<Gateway> {
    // The recorder first: each breaker reports its initial state (closed) when it is made, and
    // a gauge set before the recorder exists is lost, so the breaker panel stayed empty until a
    // breaker changed state.
    budgetsmart_common::metrics::handle();
    let engine = Backend::new("engine", state::channel(&config.engine_url, &config, "ENGINE_URL")?, &config)
        .vouched_by(&config.gateway_token)?;
    let analytics =
        Backend::new("analytics", state::channel(&config.analytics_url, &config, "ANALYTICS_URL")?, &config);
    let notification = Backend::new(
        "notification",
        state::channel(&config.notification_url, &config, "NOTIFICATION_URL")?,
        &config,
    );
    let redis =
        budgetsmart_common::redis_client::connect(&config.redis_url, config.redis_ca_file.as_deref()).await?;
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on GATEWAY_ADDR {}: {e}", config.addr))?;
    let addr = listener.local_addr()?;
    let admin = TcpListener::bind(config.admin_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on GATEWAY_ADMIN_ADDR {}: {e}", config.admin_addr))?;
    let admin_addr = admin.local_addr()?;
    let deleted = Arc::new(crate::deleted::DeletedAccounts::default());
    let (live, live_task) = crate::live::LiveHub::start(
        &config.bus,
        redis.clone(),
        config.redis_key_prefix.clone(),
        deleted.clone(),
    )
    .await?;
    let state = AppState::new(Shared {
        live: live.clone(),
        engine: EngineClients::new(&engine),
        analytics: AnalyticsClient::new(analytics.upstream()),
        goals: budgetsmart_proto::analytics::v1::goals_client::GoalsClient::new(analytics.upstream()),
        notifications: NotificationsClient::new(notification.upstream()),
        unsubscribe: UnsubscribeClient::new(notification.upstream()),
        upstreams: Arc::new(vec![engine, analytics, notification]),
        rate_limits: RateLimits::new(config.rate_limits.clone(), config.trusted_proxies.clone()),
        verifier: Arc::new(TokenVerifier::new(&config.keys, &config.tokens)?),
        redis,
        config: Arc::new(config.clone()),
        readiness: Arc::default(),
        deleted,
    });
    let (api, spec) = routes::api(state.clone());
    let api = api.method_not_allowed_fallback(hardening::method_not_allowed);
    let docs = if config.api_docs { openapi::docs_router(openapi::document(spec)) } else { Router::new() };
    let mut router = Router::new()
        .nest(openapi::API_PREFIX, api)
        .merge(docs)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(
            budgetsmart_common::metrics::router()
                .route_layer(axum::middleware::from_fn_with_state(state.clone(), hardening::metrics_access)),
        )
        .fallback(hardening::not_found)
        // Innermost first: the deadline bounds the handler; limits run before any work;
        // metrics count what limits and deadlines answered too (429, 408); CORS answers
        // preflights and decorates 429s; the context (request id, span, client IP) wraps
        // everything, so every log line has it. Router layers run after routing, so each of
        // them sees the matched route template.
        .layer(axum::middleware::from_fn_with_state(state.clone(), hardening::deadline))
        .layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit::limit))
        .layer(axum::middleware::from_fn(http_metrics::record))
        .layer(axum::middleware::from_fn(hardening::security_headers));
    if let Some(cors) = hardening::cors(&config.cors_origins) {
        router = router.layer(cors);
    }
    let router = router
        .layer(axum::middleware::from_fn_with_state(state.clone(), context::propagate))
        .with_state(state);
    Ok(Gateway { router, listener, addr, admin, admin_addr, live, live_task })
}

impl Gateway {
    /// The address HTTP is served on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin address (`/metrics`, `/healthz`).
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Serves until `shutdown`, then lets in-flight requests finish.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Gateway { router, listener, addr, admin, live, live_task, .. } = self;
        tracing::info!(%addr, "gateway serving HTTP");
        let admin = tokio::spawn(budgetsmart_common::metrics::serve_admin(admin, shutdown.clone()));
        // Open event streams never end by themselves; closing the hub ends them, so the
        // graceful shutdown can finish.
        let closing = live.clone();
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                shutdown.cancelled().await;
                closing.close();
            })
            .await?;
        live.close();
        let _ = live_task.await;
        let _ = admin.await;
        tracing::info!("gateway stopped");
        Ok(())
    }
}
