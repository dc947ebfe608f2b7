//! The analytics service's settings, read once from the environment.

use budgetsmart_common::config::{ConfigError, Environment};
use budgetsmart_common::service::BackendConfig;

/// Everything the analytics service needs to start.
#[derive(Debug, Clone)]
pub struct AnalyticsConfig {
    /// Database, bus, keys; gRPC on `ANALYTICS_GRPC_ADDR` (default 127.0.0.1:50052).
    pub backend: BackendConfig,
}

impl AnalyticsConfig {
    /// Reads the configuration; the error names the variable at fault.
    pub fn from_env() -> Result<AnalyticsConfig, ConfigError> {
        let env = Environment::from_env()?;
        Ok(AnalyticsConfig { backend: BackendConfig::from_env(env, "ANALYTICS_GRPC_ADDR", 50052, false)? })
    }
}
