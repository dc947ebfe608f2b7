//! The gateway's settings, read once from the environment.

use std::net::SocketAddr;
use std::time::Duration;

use budgetsmart_common::config::{self, ConfigError, Environment};
use budgetsmart_common::jwt::TokenSettings;
use budgetsmart_common::keys::KeyMaterial;

/// Everything the gateway needs to start.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `GATEWAY_ADDR`, default 127.0.0.1:8080.
    pub addr: SocketAddr,
    /// `ENGINE_URL`, default http://127.0.0.1:50051.
    pub engine_url: String,
    /// `ANALYTICS_URL`, default http://127.0.0.1:50052.
    pub analytics_url: String,
    /// `NOTIFICATION_URL`, default http://127.0.0.1:50053.
    pub notification_url: String,
    /// `REDIS_URL`, for idempotency records.
    pub redis_url: String,
    /// `REDIS_KEY_PREFIX`.
    pub redis_key_prefix: String,
    /// The public key access tokens are checked with.
    pub keys: KeyMaterial,
    /// Expected `iss` and `aud`.
    pub tokens: TokenSettings,
    /// `UPSTREAM_TIMEOUT_MS`, default 10 000: the longest a gRPC call may take.
    pub upstream_timeout: Duration,
    /// `IDEMPOTENCY_TTL_SECS`, default 86 400: how long a POST result is replayable.
    pub idempotency_ttl_secs: u64,
}

impl GatewayConfig {
    /// Reads the configuration; the error names the variable at fault.
    pub fn from_env() -> Result<GatewayConfig, ConfigError> {
        let env = Environment::from_env()?;
        Ok(GatewayConfig {
            addr: config::parse("GATEWAY_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            engine_url: config::string("ENGINE_URL", "http://127.0.0.1:50051"),
            analytics_url: config::string("ANALYTICS_URL", "http://127.0.0.1:50052"),
            notification_url: config::string("NOTIFICATION_URL", "http://127.0.0.1:50053"),
            redis_url: config::required_in_production(env, "REDIS_URL", "redis://127.0.0.1:6379")?,
            redis_key_prefix: config::string("REDIS_KEY_PREFIX", "budgetsmart:"),
            keys: KeyMaterial::from_env(env, false)?,
            tokens: TokenSettings {
                issuer: config::string("JWT_ISSUER", budgetsmart_common::jwt::DEFAULT_ISSUER),
                audience: config::string("JWT_AUDIENCE", budgetsmart_common::jwt::DEFAULT_AUDIENCE),
            },
            upstream_timeout: Duration::from_millis(config::parse("UPSTREAM_TIMEOUT_MS", 10_000)?),
            idempotency_ttl_secs: config::parse("IDEMPOTENCY_TTL_SECS", 86_400)?,
        })
    }
}
