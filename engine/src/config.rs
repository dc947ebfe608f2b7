//! The engine's settings, read once from the environment.

use budgetsmart_common::config::{self, ConfigError, Environment};
use budgetsmart_common::discovery::ChannelSettings;
use budgetsmart_common::service::BackendConfig;

/// Everything the engine needs to start.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Database, bus, keys (with the private one); gRPC on `ENGINE_GRPC_ADDR`
    /// (default 127.0.0.1:50051).
    pub backend: BackendConfig,
    /// `REDIS_URL`.
    pub redis_url: String,
    /// `REDIS_CA_FILE`: a PEM bundle to trust for a `rediss://` URL instead of the built-in roots.
    pub redis_ca_file: Option<String>,
    /// Prefix of every Redis key (`REDIS_KEY_PREFIX`), so environments can share a server.
    pub redis_key_prefix: String,
    /// `ACCESS_TOKEN_TTL_SECS`, default 900.
    pub access_token_ttl_secs: i64,
    /// `REFRESH_TOKEN_TTL_SECS`, default 30 days.
    pub refresh_token_ttl_secs: u64,
    /// `REFRESH_TOKEN_LIFETIME_SECS`, default 90 days: a login's session ends this long after
    /// it started, however often it is refreshed.
    pub refresh_token_lifetime_secs: u64,
    /// Login throttling.
    pub throttle: ThrottleConfig,
    /// `ANALYTICS_URL`, default http://127.0.0.1:50052: where category suggestions come from.
    /// Empty turns auto-categorisation off.
    pub analytics_url: Option<String>,
    /// `AUTO_CATEGORIZE_MIN_CONFIDENCE`, default 0.8: a transaction created without a category
    /// gets the suggested one only from this confidence (see docs/architecture/analytics.md).
    pub auto_categorize_min_confidence: f64,
    /// `AUTO_CATEGORIZE_TIMEOUT_MS`, default 250: how long a write waits for the suggestion.
    pub auto_categorize_timeout: std::time::Duration,
    /// How the channel to analytics connects; `GRPC_RESOLVE_INTERVAL_MS`.
    pub channels: ChannelSettings,
    /// `IDEMPOTENCY_TTL_SECS`, default 86 400 (the gateway's setting too, so both stores keep
    /// a key equally long): how long a create's Idempotency-Key and answer are kept.
    pub idempotency_ttl_secs: u64,
    /// `PASSWORD_HASH_SLOTS`, default 2 (this machine's cores): argon2id hashes at once, each
    /// with 19 MiB kept for reuse, so hashing memory is bounded (see `passwords`).
    pub password_hash_slots: usize,
    /// `PASSWORD_HASH_WAIT_MS`, default 3000: how long a login or registration waits for a
    /// slot before it is answered 429 with `Retry-After` (the gateway's deadline is 5 s).
    pub password_hash_wait: std::time::Duration,
    /// `GATEWAY_TOKEN` (or `GATEWAY_TOKEN_FILE`): the gateway's credential. Only a login call
    /// carrying it has its `client_ip` believed; any other caller is throttled by its own
    /// address.
    pub gateway_token: secrecy::SecretString,
    /// `RATES_URL`: an ECB reference-rate file to fetch on a schedule, e.g.
    /// https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml. Unset, nothing is
    /// fetched and rates come only from `engine rates import FILE`.
    pub rates_url: Option<String>,
    /// `RATES_FETCH_EVERY_SECS`, default 3600: the ECB publishes once a working day, around
    /// 16:00 CET, and the daily file is 1.5 kB, so hourly is both cheap and prompt.
    pub rates_fetch_every: std::time::Duration,
}

/// Failed-login limits within a sliding window.
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    /// `LOGIN_MAX_FAILURES_PER_ACCOUNT`, default 5: per account from one client address (and
    /// wrong current passwords per user when changing it).
    pub max_failures_per_account: u32,
    /// `LOGIN_MAX_FAILURES_PER_ACCOUNT_UNKNOWN_CLIENTS`, default 50: per account, summed over
    /// the addresses that never logged in to it (see `throttle`).
    pub max_failures_per_account_unknown_clients: u32,
    /// `LOGIN_MAX_FAILURES_PER_IP`, default 50.
    pub max_failures_per_ip: u32,
    /// `LOGIN_THROTTLE_WINDOW_SECS`, default 900.
    pub window_secs: u64,
}

impl EngineConfig {
    /// Reads the configuration; the error names the variable at fault.
    pub fn from_env() -> Result<EngineConfig, ConfigError> {
        let env = Environment::from_env()?;
        let auto_categorize_timeout =
            std::time::Duration::from_millis(config::parse("AUTO_CATEGORIZE_TIMEOUT_MS", 250)?);
        let config = EngineConfig {
            backend: BackendConfig::from_env(env, "ENGINE_GRPC_ADDR", 50051, true)?,
            redis_url: config::required_in_production(env, "REDIS_URL", "redis://127.0.0.1:6379")?,
            redis_ca_file: budgetsmart_common::redis_client::ca_file_setting(),
            redis_key_prefix: config::string("REDIS_KEY_PREFIX", "budgetsmart:"),
            access_token_ttl_secs: config::parse("ACCESS_TOKEN_TTL_SECS", 900)?,
            refresh_token_ttl_secs: config::parse("REFRESH_TOKEN_TTL_SECS", 30 * 24 * 3600)?,
            refresh_token_lifetime_secs: config::parse("REFRESH_TOKEN_LIFETIME_SECS", 90 * 24 * 3600)?,
            throttle: ThrottleConfig {
                max_failures_per_account: config::parse("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)?,
                max_failures_per_account_unknown_clients: config::parse(
                    "LOGIN_MAX_FAILURES_PER_ACCOUNT_UNKNOWN_CLIENTS",
                    50,
                )?,
                max_failures_per_ip: config::parse("LOGIN_MAX_FAILURES_PER_IP", 50)?,
                window_secs: config::parse("LOGIN_THROTTLE_WINDOW_SECS", 900)?,
            },
            analytics_url: Some(config::string("ANALYTICS_URL", "http://127.0.0.1:50052"))
                .filter(|u| !u.trim().is_empty()),
            auto_categorize_min_confidence: config::parse("AUTO_CATEGORIZE_MIN_CONFIDENCE", 0.8)?,
            auto_categorize_timeout,
            // Every call to analytics has the auto-categorisation deadline.
            channels: ChannelSettings::from_env(std::time::Duration::from_secs(2), auto_categorize_timeout)?,
            idempotency_ttl_secs: config::parse("IDEMPOTENCY_TTL_SECS", 86_400)?,
            password_hash_slots: config::parse("PASSWORD_HASH_SLOTS", 2)?,
            password_hash_wait: std::time::Duration::from_millis(config::parse(
                "PASSWORD_HASH_WAIT_MS",
                3000,
            )?),
            gateway_token: budgetsmart_common::keys::shared_secret(env, "GATEWAY_TOKEN")?,
            rates_url: Some(config::string("RATES_URL", "")).filter(|u| !u.trim().is_empty()),
            rates_fetch_every: std::time::Duration::from_secs(
                config::parse("RATES_FETCH_EVERY_SECS", 3600)?.max(1),
            ),
        };
        // One leaked secret must not also be another.
        budgetsmart_common::keys::distinct(
            env,
            &[("SERVICE_TOKEN", &config.backend.service_token), ("GATEWAY_TOKEN", &config.gateway_token)],
        )?;
        Ok(config)
    }
}
