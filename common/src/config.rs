//! Reading typed settings from the environment, once, at start-up.
//!
//! Every reader names the variable in its error, so a bad deployment says exactly what to fix.

use std::str::FromStr;

/// A setting that is missing or does not parse.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {name}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub name: String,
    /// What is wrong with it.
    pub problem: String,
}

/// Loads `.env` from the working directory if there is one; real environment variables win.
pub fn load_dotenv() {
    let _ = dotenvy::dotenv();
}

/// Reads a variable, falling back to `default` when it is unset or empty.
pub fn string(name: &str, default: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => default.to_owned(),
    }
}

/// Reads an optional variable; unset and empty both mean `None`.
pub fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Reads and parses a variable, falling back to `default` when it is unset or empty.
pub fn parse<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match optional(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|e: T::Err| ConfigError {
            name: name.to_owned(),
            problem: format!("cannot parse {raw:?}: {e}"),
        }),
    }
}

/// Whether the process runs in development (local defaults allowed) or production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local defaults, a generated signing key.
    Development,
    /// Every secret must be given explicitly.
    Production,
}

impl Environment {
    /// Reads `APP_ENV` (`development`, the default, or `production`).
    pub fn from_env() -> Result<Environment, ConfigError> {
        match string("APP_ENV", "development").to_ascii_lowercase().as_str() {
            "development" | "dev" | "local" | "test" => Ok(Environment::Development),
            "production" | "prod" => Ok(Environment::Production),
            other => Err(ConfigError {
                name: "APP_ENV".into(),
                problem: format!("unknown environment {other:?}; use development or production"),
            }),
        }
    }
}

/// Fails with a message naming `name` when production mode lacks an explicit value.
pub fn required_in_production(env: Environment, name: &str, default: &str) -> Result<String, ConfigError> {
    match (optional(name), env) {
        (Some(v), _) => Ok(v),
        (None, Environment::Development) => Ok(default.to_owned()),
        (None, Environment::Production) => Err(ConfigError {
            name: name.to_owned(),
            problem: "must be set explicitly when APP_ENV=production".into(),
        }),
    }
}
