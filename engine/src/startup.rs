//! Building and running the engine: listeners bound in `build`, work started in `run`.

use std::net::SocketAddr;
use std::sync::Arc;

use budgetsmart_common::events::{EventConsumer, OutboxRelay, OutboxWaker};
use budgetsmart_common::grpc::{self, AuthInterceptor};
use budgetsmart_common::jwt::{TokenSigner, TokenVerifier};
use budgetsmart_proto::engine::v1 as pb;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;

use crate::auth::AuthService;
use crate::budgets::BudgetsService;
use crate::categories::CategoriesService;
use crate::config::EngineConfig;
use crate::consumers;
use crate::insights::InsightsService;
use crate::sessions::Sessions;
use crate::state::AppState;
use crate::throttle::LoginThrottle;
use crate::transactions::TransactionsService;
use crate::users::UsersService;

/// Postgres schema the engine owns.
pub const SCHEMA: &str = "engine";

/// A built engine: connected, migrated and listening, not yet serving.
pub struct Engine {
    state: AppState,
    config: EngineConfig,
    verifier: Arc<TokenVerifier>,
    listener: TcpListener,
    grpc_addr: SocketAddr,
}

/// Applies the engine's migrations to the database at `database_url` (`migrate` command).
pub async fn migrate(database_url: &str) -> anyhow::Result<()> {
    let pool = budgetsmart_common::database::connect(database_url, SCHEMA, 1).await?;
    apply_migrations(&pool).await
}

async fn apply_migrations(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    budgetsmart_common::database::migrate(pool, sqlx::migrate!("./migrations"), SCHEMA).await
}

/// Connects to Postgres, Redis and RabbitMQ, applies migrations and binds the gRPC port.
pub async fn build(config: EngineConfig) -> anyhow::Result<Engine> {
    let pool =
        budgetsmart_common::database::connect(&config.database_url, SCHEMA, config.database_max_connections)
            .await?;
    apply_migrations(&pool).await?;
    let client = redis::Client::open(config.redis_url.as_str())
        .map_err(|e| anyhow::anyhow!("REDIS_URL is not a valid Redis URL: {e}"))?;
    let redis = redis::aio::ConnectionManager::new(client)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach Redis at REDIS_URL: {e}"))?;
    let signer = TokenSigner::new(&config.keys, &config.tokens, config.access_token_ttl_secs)?;
    let verifier = Arc::new(TokenVerifier::new(&config.keys, &config.tokens)?);
    let state = AppState {
        sessions: Sessions::new(redis.clone(), &config.redis_key_prefix, config.refresh_token_ttl_secs),
        throttle: LoginThrottle::new(redis, &config.redis_key_prefix, config.throttle.clone()),
        signer: Arc::new(signer),
        outbox: OutboxWaker::default(),
        pool,
    };
    // Declare our queue before serving, so no forecast published meanwhile is dropped.
    EventConsumer::new(state.pool.clone(), config.bus.clone(), consumers::spec())
        .declare()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach RabbitMQ at AMQP_URL: {e}"))?;
    let (listener, grpc_addr) = grpc::bind(config.grpc_addr).await?;
    Ok(Engine { state, config, verifier, listener, grpc_addr })
}

impl Engine {
    /// The address gRPC is served on.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Serves until `shutdown`, then drains calls, deliveries and the outbox.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Engine { state, config, verifier, listener, grpc_addr } = self;
        let relay = tokio::spawn(
            OutboxRelay::new(state.pool.clone(), config.bus.clone(), "engine", SCHEMA, state.outbox.clone())
                .run(shutdown.clone()),
        );
        let consumer = tokio::spawn(
            EventConsumer::new(state.pool.clone(), config.bus.clone(), consumers::spec())
                .run(shutdown.clone()),
        );

        let auth = AuthInterceptor::new(verifier);
        let mut server = Server::builder();
        let (health, router) = grpc::health_and_reflection(&mut server)?;
        let router = router
            .add_service(pb::auth_server::AuthServer::new(AuthService::new(state.clone())))
            .add_service(pb::users_server::UsersServer::with_interceptor(
                UsersService::new(state.clone()),
                auth.clone(),
            ))
            .add_service(pb::categories_server::CategoriesServer::with_interceptor(
                CategoriesService::new(state.clone()),
                auth.clone(),
            ))
            .add_service(pb::budgets_server::BudgetsServer::with_interceptor(
                BudgetsService::new(state.clone()),
                auth.clone(),
            ))
            .add_service(pb::transactions_server::TransactionsServer::with_interceptor(
                TransactionsService::new(state.clone()),
                auth.clone(),
            ))
            .add_service(pb::insights_server::InsightsServer::with_interceptor(
                InsightsService::new(state.clone()),
                auth,
            ));
        for service in [
            "budgetsmart.engine.v1.Auth",
            "budgetsmart.engine.v1.Users",
            "budgetsmart.engine.v1.Categories",
            "budgetsmart.engine.v1.Budgets",
            "budgetsmart.engine.v1.Transactions",
            "budgetsmart.engine.v1.Insights",
        ] {
            health.set_service_status(service, tonic_health::ServingStatus::Serving).await;
        }
        tracing::info!(%grpc_addr, "engine serving gRPC");
        let served = grpc::serve(router, listener, shutdown.clone().cancelled_owned()).await;
        shutdown.cancel();
        let _ = tokio::join!(relay, consumer);
        state.pool.close().await;
        tracing::info!("engine stopped");
        served
    }
}
