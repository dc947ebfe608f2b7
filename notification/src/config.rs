//! The notification service's settings, read once from the environment.

use std::time::Duration;

use budgetsmart_common::config::{self, ConfigError, Environment};
use budgetsmart_common::discovery::ChannelSettings;
use budgetsmart_common::keys;
use budgetsmart_common::service::BackendConfig;
use secrecy::SecretString;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP: a local sink.
    None,
    /// Plain connection upgraded with STARTTLS (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

impl std::str::FromStr for SmtpTls {
    type Err = String;

    fn from_str(s: &str) -> Result<SmtpTls, String> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(SmtpTls::None),
            "starttls" => Ok(SmtpTls::StartTls),
            "tls" => Ok(SmtpTls::Tls),
            other => Err(format!("unknown mode {other:?}; use none, starttls or tls")),
        }
    }
}

/// Where and how email is handed over.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// `SMTP_HOST`, default 127.0.0.1.
    pub host: String,
    /// `SMTP_PORT`, default 1025 (the development sink).
    pub port: u16,
    /// `SMTP_TLS`: `none` (default), `starttls` or `tls`.
    pub tls: SmtpTls,
    /// `SMTP_USERNAME` and `SMTP_PASSWORD`, both or neither.
    pub credentials: Option<(String, SecretString)>,
    /// `SMTP_TIMEOUT_MS`, default 10 000: one SMTP command's limit.
    pub timeout: Duration,
}

/// Everything the notification service needs to start.
#[derive(Debug, Clone)]
pub struct NotificationConfig {
    /// Database, bus, keys; gRPC on `NOTIFICATION_GRPC_ADDR` (default 127.0.0.1:50053).
    pub backend: BackendConfig,
    /// The SMTP server.
    pub smtp: SmtpConfig,
    /// `MAIL_FROM`, default `BudgetSmart <notifications@budgetsmart.localhost>`.
    pub mail_from: String,
    /// `PUBLIC_BASE_URL`, default `http://127.0.0.1:8080`: where links in emails point.
    pub public_base_url: String,
    /// `UNSUBSCRIBE_SECRET`: signs unsubscribe links (generated in development).
    pub unsubscribe_secret: SecretString,
    /// `ENGINE_URL`, default `http://127.0.0.1:50051`: profiles, budgets, categories.
    pub engine_url: String,
    /// `ANALYTICS_URL`, default `http://127.0.0.1:50052`: the summary's figures and chart.
    pub analytics_url: String,
    /// How the channels to them connect; `GRPC_RESOLVE_INTERVAL_MS`.
    pub channels: ChannelSettings,
    /// `NOTIFICATION_SENDERS`, default 4: emails handed to SMTP at once.
    pub senders: usize,
    /// `NOTIFICATION_POLL_MS`, default 1 000: how often due emails are looked for when
    /// nothing wakes the sender (quiet hours ending, retries coming due).
    pub poll_interval: Duration,
    /// `NOTIFICATION_MAX_ATTEMPTS`, default 8: then the email is marked failed.
    pub max_attempts: u32,
    /// `NOTIFICATION_RETRY_BASE_MS`, default 30 000: the first retry's delay; it doubles per
    /// attempt, capped at an hour.
    pub retry_base: Duration,
    /// `NOTIFICATION_LEASE_MS`, default 120 000: how long a claimed email may take before
    /// another worker may assume its sender died.
    pub lease: Duration,
}

impl NotificationConfig {
    /// Reads the configuration; the error names the variable at fault.
    pub fn from_env() -> Result<NotificationConfig, ConfigError> {
        let env = Environment::from_env()?;
        let username = config::optional("SMTP_USERNAME");
        let password = config::optional("SMTP_PASSWORD");
        let credentials = match (username, password) {
            (Some(user), Some(password)) => Some((user, SecretString::from(password))),
            (None, None) => None,
            (Some(_), None) => return Err(missing_pair("SMTP_PASSWORD", "SMTP_USERNAME")),
            (None, Some(_)) => return Err(missing_pair("SMTP_USERNAME", "SMTP_PASSWORD")),
        };
        let config = NotificationConfig {
            backend: BackendConfig::from_env(env, "NOTIFICATION_GRPC_ADDR", 50053, false)?,
            smtp: SmtpConfig {
                host: config::string("SMTP_HOST", "127.0.0.1"),
                port: config::parse("SMTP_PORT", 1025)?,
                tls: config::parse("SMTP_TLS", SmtpTls::None)?,
                credentials,
                timeout: Duration::from_millis(config::parse("SMTP_TIMEOUT_MS", 10_000)?),
            },
            mail_from: config::string("MAIL_FROM", "BudgetSmart <notifications@budgetsmart.localhost>"),
            public_base_url: config::required_in_production(env, "PUBLIC_BASE_URL", "http://127.0.0.1:8080")?
                .trim_end_matches('/')
                .to_owned(),
            unsubscribe_secret: keys::shared_secret(env, "UNSUBSCRIBE_SECRET")?,
            engine_url: config::string("ENGINE_URL", "http://127.0.0.1:50051"),
            analytics_url: config::string("ANALYTICS_URL", "http://127.0.0.1:50052"),
            channels: ChannelSettings::from_env(Duration::from_secs(3), Duration::from_secs(15))?,
            senders: config::parse("NOTIFICATION_SENDERS", 4usize)?.max(1),
            poll_interval: Duration::from_millis(config::parse("NOTIFICATION_POLL_MS", 1_000)?),
            max_attempts: config::parse("NOTIFICATION_MAX_ATTEMPTS", 8)?,
            retry_base: Duration::from_millis(config::parse("NOTIFICATION_RETRY_BASE_MS", 30_000)?),
            lease: Duration::from_millis(config::parse("NOTIFICATION_LEASE_MS", 120_000)?),
        };
        // One leaked secret must not also be another.
        budgetsmart_common::keys::distinct(
            env,
            &[
                ("SERVICE_TOKEN", &config.backend.service_token),
                ("UNSUBSCRIBE_SECRET", &config.unsubscribe_secret),
            ],
        )?;
        Ok(config)
    }
}

fn missing_pair(missing: &str, given: &str) -> ConfigError {
    ConfigError { name: missing.into(), problem: format!("must be set together with {given}") }
}
