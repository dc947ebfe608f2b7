//! The gateway's settings, read once from the environment.

use std::net::SocketAddr;
use std::time::Duration;

use budgetsmart_common::config::{self, ConfigError, Environment};
use budgetsmart_common::discovery::ChannelSettings;
use budgetsmart_common::events::BusConfig;
use budgetsmart_common::jwt::TokenSettings;
use budgetsmart_common::keys::KeyMaterial;
use ipnet::IpNet;

use crate::breaker::BreakerConfig;
use crate::limits::{Limit, RateLimitConfig, Store};

/// Everything the gateway needs to start.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `GATEWAY_ADDR`, default 127.0.0.1:8080.
    pub addr: SocketAddr,
    /// `GATEWAY_ADMIN_ADDR`, default 127.0.0.1:9100: `/metrics` and `/healthz` for the
    /// cluster's scraper, on a port that is never exposed outside it.
    pub admin_addr: SocketAddr,
    /// `METRICS_ALLOWED_NETWORKS`: who may read `/metrics` on the public port (default
    /// loopback only). A request relayed by a proxy (`X-Forwarded-For`) is refused whatever
    /// the peer, so a public load balancer in an allowed network does not open it.
    pub metrics_networks: Vec<IpNet>,
    /// `ENGINE_URL`, default http://127.0.0.1:50051. A DNS name is balanced over every
    /// address it resolves to; a comma-separated list over every URL in it
    /// (`budgetsmart_common::discovery`).
    pub engine_url: String,
    /// `ANALYTICS_URL`, default http://127.0.0.1:50052; resolved like `ENGINE_URL`.
    pub analytics_url: String,
    /// `NOTIFICATION_URL`, default http://127.0.0.1:50053; resolved like `ENGINE_URL`.
    pub notification_url: String,
    /// How upstream channels connect and re-resolve (`GRPC_RESOLVE_INTERVAL_MS`).
    pub channels: ChannelSettings,
    /// `REDIS_URL`, for idempotency records.
    pub redis_url: String,
    /// `REDIS_CA_FILE`: a PEM bundle to trust for a `rediss://` URL instead of the built-in roots.
    pub redis_ca_file: Option<String>,
    /// `REDIS_KEY_PREFIX`.
    pub redis_key_prefix: String,
    /// The public key access tokens are checked with.
    pub keys: KeyMaterial,
    /// `GATEWAY_TOKEN` (or `GATEWAY_TOKEN_FILE`), shared with the engine only: sent on every
    /// engine call to vouch for the client address, and the key of the Idempotency-Key body
    /// fingerprints (bodies carry passwords; a plain hash could be checked against guesses).
    pub gateway_token: secrecy::SecretString,
    /// Expected `iss` and `aud`.
    pub tokens: TokenSettings,
    /// `UPSTREAM_TIMEOUT_MS`, default 10 000: the longest a gRPC call may take.
    pub upstream_timeout: Duration,
    /// `IDEMPOTENCY_TTL_SECS`, default 86 400: how long a POST result is replayable.
    pub idempotency_ttl_secs: u64,
    /// Rate limits (`RATE_LIMIT_*`).
    pub rate_limits: RateLimitConfig,
    /// `TRUSTED_PROXIES`: comma-separated addresses or CIDR networks whose `X-Forwarded-For`
    /// is believed; empty (the default) trusts no one.
    pub trusted_proxies: Vec<IpNet>,
    /// Circuit breakers (`BREAKER_*`).
    pub breaker: BreakerConfig,
    /// `REQUEST_TIMEOUT_MS`, default 30 000: the longest a whole HTTP request may take (408 after).
    pub request_timeout: Duration,
    /// `CORS_ALLOWED_ORIGINS`: comma-separated origins allowed to call from a browser, or `*`;
    /// empty (the default) sends no CORS headers, so browsers refuse cross-origin calls.
    pub cors_origins: Vec<String>,
    /// `API_DOCS`, default true: serve `/docs` (Swagger UI) and `/openapi.json`. A deployment
    /// that does not want its API mapped for every visitor turns them off.
    pub api_docs: bool,
    /// The event bus the live stream (`/events/stream`) listens on.
    pub bus: BusConfig,
}

impl GatewayConfig {
    /// Reads the configuration; the error names the variable at fault.
    pub fn from_env() -> Result<GatewayConfig, ConfigError> {
        let env = Environment::from_env()?;
        let upstream_timeout = Duration::from_millis(config::parse("UPSTREAM_TIMEOUT_MS", 10_000)?);
        Ok(GatewayConfig {
            addr: config::parse("GATEWAY_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            admin_addr: config::parse("GATEWAY_ADMIN_ADDR", SocketAddr::from(([127, 0, 0, 1], 9100)))?,
            metrics_networks: networks("METRICS_ALLOWED_NETWORKS", "127.0.0.0/8,::1")?,
            engine_url: config::string("ENGINE_URL", "http://127.0.0.1:50051"),
            analytics_url: config::string("ANALYTICS_URL", "http://127.0.0.1:50052"),
            notification_url: config::string("NOTIFICATION_URL", "http://127.0.0.1:50053"),
            channels: ChannelSettings::from_env(Duration::from_secs(2), upstream_timeout)?,
            redis_url: config::required_in_production(env, "REDIS_URL", "redis://127.0.0.1:6379")?,
            redis_ca_file: budgetsmart_common::redis_client::ca_file_setting(),
            redis_key_prefix: config::string("REDIS_KEY_PREFIX", "budgetsmart:"),
            keys: KeyMaterial::from_env(env, false)?,
            gateway_token: budgetsmart_common::keys::shared_secret(env, "GATEWAY_TOKEN")?,
            tokens: TokenSettings {
                issuer: config::string("JWT_ISSUER", budgetsmart_common::jwt::DEFAULT_ISSUER),
                audience: config::string("JWT_AUDIENCE", budgetsmart_common::jwt::DEFAULT_AUDIENCE),
            },
            upstream_timeout,
            idempotency_ttl_secs: config::parse("IDEMPOTENCY_TTL_SECS", 86_400)?,
            rate_limits: RateLimitConfig {
                enabled: config::parse("RATE_LIMIT_ENABLED", true)?,
                auth: limit("AUTH", 10, 5)?,
                public: limit("PUBLIC", 600, 60)?,
                user: limit("USER", 1200, 100)?,
                store: match config::string("RATE_LIMIT_STORE", "memory").to_lowercase().as_str() {
                    "memory" => Store::Memory,
                    "redis" => Store::Redis,
                    other => {
                        return Err(problem("RATE_LIMIT_STORE", format!("{other:?} is not memory or redis")));
                    }
                },
            },
            trusted_proxies: networks("TRUSTED_PROXIES", "")?,
            breaker: BreakerConfig {
                consecutive: config::parse("BREAKER_CONSECUTIVE_FAILURES", 5)?,
                failure_ratio: config::parse("BREAKER_FAILURE_RATIO", 0.5)?,
                min_calls: config::parse("BREAKER_MIN_CALLS", 20)?,
                window: Duration::from_millis(config::parse("BREAKER_WINDOW_MS", 10_000)?),
                open_for: Duration::from_millis(config::parse("BREAKER_OPEN_MS", 5_000)?),
            },
            request_timeout: Duration::from_millis(config::parse("REQUEST_TIMEOUT_MS", 30_000)?),
            cors_origins: config::optional("CORS_ALLOWED_ORIGINS")
                .map(|v| v.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect())
                .unwrap_or_default(),
            api_docs: config::parse("API_DOCS", true)?,
            bus: BusConfig::from_env()?,
        })
    }
}

fn problem(name: &str, problem: String) -> ConfigError {
    ConfigError { name: name.to_owned(), problem }
}

/// `RATE_LIMIT_<class>_PER_MIN` and `RATE_LIMIT_<class>_BURST`, both at least 1.
fn limit(class: &str, per_minute: u32, burst: u32) -> Result<Limit, ConfigError> {
    let rate_name = format!("RATE_LIMIT_{class}_PER_MIN");
    let burst_name = format!("RATE_LIMIT_{class}_BURST");
    let limit = Limit {
        per_minute: config::parse(&rate_name, per_minute)?,
        burst: config::parse(&burst_name, burst)?,
    };
    if limit.per_minute == 0 {
        return Err(problem(&rate_name, "must be at least 1".into()));
    }
    if limit.burst == 0 {
        return Err(problem(&burst_name, "must be at least 1".into()));
    }
    Ok(limit)
}

/// A comma-separated list of addresses or CIDR networks.
fn networks(name: &str, default: &str) -> Result<Vec<IpNet>, ConfigError> {
    let raw = config::string(name, default);
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            // A bare address is a one-address network.
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| problem(name, format!("{entry:?} is not an address or CIDR network")))
        })
        .collect()
}
