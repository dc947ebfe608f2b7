//! Building and running the engine: listeners bound in `build`, work started in `run`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use budgetsmart_common::jwt::TokenSigner;
use budgetsmart_common::service::{self, Backend};
use budgetsmart_proto::engine::v1 as pb;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::accounts::service::AccountsService;
use crate::budgets::service::BudgetsService;
use crate::categories::service::CategoriesService;
use crate::config::EngineConfig;
use crate::consumers;
use crate::idempotency::{self, Fingerprinter};
use crate::imports::service::ImportsService;
use crate::insights::InsightsService;
use crate::state::AppState;
use crate::transactions::autocategorize::AutoCategorizer;
use crate::transactions::owner::OwnerCache;
use crate::transactions::service::TransactionsService;
use crate::users::auth::AuthService;
use crate::users::passwords::Passwords;
use crate::users::service::UsersService;
use crate::users::sessions::Sessions;
use crate::users::throttle::LoginThrottle;

/// Postgres schema the engine owns.
pub const SCHEMA: &str = "engine";

/// How often expired idempotency keys are swept: often enough that the table stays near a
/// TTL's worth of creates, rarely enough to cost nothing.
const IDEMPOTENCY_SWEEP_EVERY: Duration = Duration::from_secs(600);

/// A built engine: connected, migrated and listening, not yet serving.
pub struct Engine {
    backend: Backend,
    state: AppState,
    idempotency_ttl: Duration,
    /// `RATES_URL` and how often to fetch it, when set.
    rates_fetch: Option<(String, Duration)>,
}

/// Applies the engine's migrations to the database at `database_url` (`migrate` command).
pub async fn migrate(database_url: &str) -> anyhow::Result<()> {
    service::migrate_only(SCHEMA, database_url, sqlx::migrate!("./migrations")).await
}

/// Connects to Postgres, Redis and RabbitMQ, applies migrations and binds the gRPC port.
pub async fn build(config: EngineConfig) -> anyhow::Result<Engine> {
    let backend =
        Backend::prepare(SCHEMA, &config.backend, sqlx::migrate!("./migrations"), consumers::spec()).await?;
    let redis =
        budgetsmart_common::redis_client::connect(&config.redis_url, config.redis_ca_file.as_deref()).await?;
    let signer =
        TokenSigner::new(&config.backend.keys, &config.backend.tokens, config.access_token_ttl_secs)?;
    let state = AppState {
        sessions: Sessions::new(
            redis.clone(),
            &config.redis_key_prefix,
            config.refresh_token_ttl_secs,
            config.refresh_token_lifetime_secs,
        ),
        throttle: LoginThrottle::new(redis, &config.redis_key_prefix, config.throttle.clone()),
        signer: Arc::new(signer),
        outbox: backend.outbox().clone(),
        pool: backend.pool().clone(),
        owners: OwnerCache::default(),
        categorizer: AutoCategorizer::new(
            config.analytics_url.as_deref(),
            config.auto_categorize_min_confidence,
            config.auto_categorize_timeout,
            &config.channels,
        )?,
        idempotency: Fingerprinter::new(&config.backend.service_token)?,
        passwords: Passwords::new(config.password_hash_slots, config.password_hash_wait),
        gateway: crate::request_metadata::Gateway::new(&config.gateway_token),
        stopping: CancellationToken::new(),
    };
    Ok(Engine {
        backend,
        state,
        idempotency_ttl: Duration::from_secs(config.idempotency_ttl_secs),
        rates_fetch: config.rates_url.clone().map(|url| (url, config.rates_fetch_every)),
    })
}

/// The largest request the engine decodes: the gateway's 32 MiB limit on a bank file plus the
/// envelope (other calls are far smaller: the gateway holds them to 6 MiB).
pub const MAX_REQUEST_BYTES: usize = 40 * 1024 * 1024;

impl Engine {
    /// The address gRPC is served on.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.backend.grpc_addr()
    }

    /// What this replica's outbox relay and event consumer have done.
    pub fn bus_activity(&self) -> std::sync::Arc<budgetsmart_common::events::BusActivity> {
        self.backend.activity()
    }

    /// Serves until `shutdown`, then drains calls, deliveries and the outbox.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Engine { backend, state, idempotency_ttl, rates_fetch } = self;
        let sweeper =
            tokio::spawn(sweep_idempotency_keys(state.pool.clone(), idempotency_ttl, shutdown.clone()));
        let fetcher = rates_fetch.map(|(url, every)| {
            tokio::spawn(crate::exchange::fetch_on_schedule(state.pool.clone(), url, every, shutdown.clone()))
        });
        let imports = tokio::spawn(crate::imports::worker::sweep(state.clone(), shutdown.clone()));
        let stopping = state.stopping.clone();
        let stop_imports = shutdown.clone();
        tokio::spawn(async move {
            stop_imports.cancelled().await;
            stopping.cancel();
        });
        let stop = shutdown.clone();
        let auth = backend.auth();
        let names = [
            "budgetsmart.engine.v1.Auth",
            "budgetsmart.engine.v1.Users",
            "budgetsmart.engine.v1.Categories",
            "budgetsmart.engine.v1.Budgets",
            "budgetsmart.engine.v1.Transactions",
            "budgetsmart.engine.v1.Accounts",
            "budgetsmart.engine.v1.Imports",
            "budgetsmart.engine.v1.Insights",
        ];
        let served = backend
            .serve(shutdown, &names, |router| {
                router
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
                    .add_service(tonic::service::interceptor::InterceptedService::new(
                        // An import carries the whole CSV: above the gateway's 6 MiB body limit,
                        // so a body the gateway accepts is not refused here by tonic's 4 MiB.
                        pb::transactions_server::TransactionsServer::new(TransactionsService::new(
                            state.clone(),
                        ))
                        .max_decoding_message_size(MAX_REQUEST_BYTES),
                        auth.clone(),
                    ))
                    .add_service(pb::accounts_server::AccountsServer::with_interceptor(
                        AccountsService::new(state.clone()),
                        auth.clone(),
                    ))
                    .add_service(tonic::service::interceptor::InterceptedService::new(
                        // A preview carries the whole file, like an import.
                        pb::imports_server::ImportsServer::new(ImportsService::new(state.clone()))
                            .max_decoding_message_size(MAX_REQUEST_BYTES),
                        auth.clone(),
                    ))
                    .add_service(pb::insights_server::InsightsServer::with_interceptor(
                        InsightsService::new(state.clone()),
                        auth,
                    ))
            })
            .await;
        // `serve` cancels on its way out, except when it fails before serving.
        stop.cancel();
        let _ = sweeper.await;
        let _ = imports.await;
        if let Some(fetcher) = fetcher {
            let _ = fetcher.await;
        }
        served
    }
}

/// Deletes idempotency keys older than `ttl` every [`IDEMPOTENCY_SWEEP_EVERY`] until `shutdown`,
/// in bounded batches. A key thus lives at least `ttl` and at most one interval longer.
async fn sweep_idempotency_keys(pool: PgPool, ttl: Duration, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(IDEMPOTENCY_SWEEP_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let mut removed = 0;
        while !shutdown.is_cancelled() {
            match idempotency::sweep(&pool, ttl).await {
                Ok(deleted) => {
                    removed += deleted;
                    if deleted < idempotency::SWEEP_BATCH {
                        break;
                    }
                }
                Err(error) => {
                    // The next round tries again; keys only live a little longer meanwhile.
                    tracing::warn!(error = %format!("{error:#}"), "idempotency key sweep failed");
                    break;
                }
            }
        }
        if removed > 0 {
            tracing::info!(removed, "expired idempotency keys deleted");
        }
    }
}
