//! The analytics service's settings, read once from the environment.

use std::time::Duration;

use budgetsmart_common::config::{self, ConfigError, Environment};
use budgetsmart_common::service::BackendConfig;

/// Everything the analytics service needs to start.
#[derive(Debug, Clone)]
pub struct AnalyticsConfig {
    /// Database, bus, keys; gRPC on `ANALYTICS_GRPC_ADDR` (default 127.0.0.1:50052).
    pub backend: BackendConfig,
    /// `REDIS_URL`, for the answer cache.
    pub redis_url: String,
    /// `REDIS_KEY_PREFIX`, default `budgetsmart:`.
    pub redis_key_prefix: String,
    /// `REDIS_CA_FILE`: a PEM bundle to trust for a `rediss://` URL instead of the built-in roots.
    pub redis_ca_file: Option<String>,
    /// `ANALYTICS_TRAIN_DEBOUNCE_MS`, default 2 000: retrain once events for a user have been
    /// quiet this long.
    pub train_debounce: Duration,
    /// `ANALYTICS_TRAIN_MAX_WAIT_MS`, default 30 000: retrain at the latest this long after the
    /// first pending change, however busy the stream.
    pub train_max_wait: Duration,
}

impl AnalyticsConfig {
    /// Reads the configuration; the error names the variable at fault.
    pub fn from_env() -> Result<AnalyticsConfig, ConfigError> {
        let env = Environment::from_env()?;
        Ok(AnalyticsConfig {
            backend: BackendConfig::from_env(env, "ANALYTICS_GRPC_ADDR", 50052, false)?,
            redis_url: config::required_in_production(env, "REDIS_URL", "redis://127.0.0.1:6379")?,
            redis_key_prefix: config::string("REDIS_KEY_PREFIX", "budgetsmart:"),
            redis_ca_file: budgetsmart_common::redis_client::ca_file_setting(),
            train_debounce: Duration::from_millis(config::parse("ANALYTICS_TRAIN_DEBOUNCE_MS", 2_000)?),
            train_max_wait: Duration::from_millis(config::parse("ANALYTICS_TRAIN_MAX_WAIT_MS", 30_000)?),
        })
    }
}
