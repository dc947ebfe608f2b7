//! What every gRPC handler shares.

use std::sync::Arc;

use budgetsmart_common::jwt::TokenSigner;
use sqlx::PgPool;

use crate::sessions::Sessions;
use crate::throttle::LoginThrottle;

/// Shared handles, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The engine's database (search_path = engine).
    pub pool: PgPool,
    /// Refresh-token sessions in Redis.
    pub sessions: Sessions,
    /// Failed-login counters in Redis.
    pub throttle: LoginThrottle,
    /// Access-token issuer.
    pub signer: Arc<TokenSigner>,
}
