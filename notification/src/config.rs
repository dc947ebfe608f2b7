//! The notification service's settings, read once from the environment.

use budgetsmart_common::config::{ConfigError, Environment};
use budgetsmart_common::service::BackendConfig;

/// Everything the notification service needs to start.
#[derive(Debug, Clone)]
pub struct NotificationConfig {
    /// Database, bus, keys; gRPC on `NOTIFICATION_GRPC_ADDR` (default 127.0.0.1:50053).
    pub backend: BackendConfig,
}

impl NotificationConfig {
    /// Reads the configuration; the error names the variable at fault.
    pub fn from_env() -> Result<NotificationConfig, ConfigError> {
        let env = Environment::from_env()?;
        Ok(NotificationConfig {
            backend: BackendConfig::from_env(env, "NOTIFICATION_GRPC_ADDR", 50053, false)?,
        })
    }
}
