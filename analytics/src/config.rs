//! The analytics service's settings, read once from the environment.

use std::net::SocketAddr;

use budgetsmart_common::config::{self, ConfigError, Environment};
use budgetsmart_common::events::BusConfig;
use budgetsmart_common::jwt::TokenSettings;
use budgetsmart_common::keys::KeyMaterial;

/// Everything the analytics service needs to start.
#[derive(Debug, Clone)]
pub struct AnalyticsConfig {
    /// `ANALYTICS_GRPC_ADDR`, default 127.0.0.1:50052.
    pub grpc_addr: SocketAddr,
    /// `DATABASE_URL`.
    pub database_url: String,
    /// The event bus.
    pub bus: BusConfig,
    /// The public key access tokens are checked with.
    pub keys: KeyMaterial,
    /// Expected `iss` and `aud`.
    pub tokens: TokenSettings,
}

impl AnalyticsConfig {
    /// Reads the configuration; the error names the variable at fault.
    pub fn from_env() -> Result<AnalyticsConfig, ConfigError> {
        let env = Environment::from_env()?;
        Ok(AnalyticsConfig {
            grpc_addr: config::parse("ANALYTICS_GRPC_ADDR", SocketAddr::from(([127, 0, 0, 1], 50052)))?,
            database_url: config::required_in_production(
                env,
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/budgetsmart",
            )?,
            bus: BusConfig::from_env()?,
            keys: KeyMaterial::from_env(env, false)?,
            tokens: TokenSettings {
                issuer: config::string("JWT_ISSUER", budgetsmart_common::jwt::DEFAULT_ISSUER),
                audience: config::string("JWT_AUDIENCE", budgetsmart_common::jwt::DEFAULT_AUDIENCE),
            },
        })
    }
}
