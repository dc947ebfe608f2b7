//! Login throttling: failed attempts counted per account and per client IP in Redis.

use redis::aio::ConnectionManager;

use crate::config::ThrottleConfig;
use crate::error::AppError;

/// Counts failed logins and says when to refuse more.
#[derive(Clone)]
pub struct LoginThrottle {
    redis: ConnectionManager,
    prefix: String,
    config: ThrottleConfig,
}

impl LoginThrottle {
    /// A throttle with keys under `prefix`.
    pub fn new(redis: ConnectionManager, prefix: &str, config: ThrottleConfig) -> LoginThrottle {
        LoginThrottle { redis, prefix: prefix.to_owned(), config }
    }

    fn keys(&self, email: &str, ip: &str) -> (String, String) {
        (
            format!("{}login:acct:{}", self.prefix, email.trim().to_lowercase()),
            format!("{}login:ip:{}", self.prefix, ip),
        )
    }

    /// Refuses with `Throttled` while either counter is at its limit.
    pub async fn check(&self, email: &str, ip: &str) -> Result<(), AppError> {
        let (account, address) = self.keys(email, ip);
        let mut conn = self.redis.clone();
        let (account_failures, account_ttl, ip_failures, ip_ttl): (Option<u32>, i64, Option<u32>, i64) =
            redis::pipe()
                .get(&account)
                .ttl(&account)
                .get(&address)
                .ttl(&address)
                .query_async(&mut conn)
                .await?;
        let over_account = account_failures.unwrap_or(0) >= self.config.max_failures_per_account;
        let over_ip = !ip.is_empty() && ip_failures.unwrap_or(0) >= self.config.max_failures_per_ip;
        let retry_after = match (over_account, over_ip) {
            (false, false) => return Ok(()),
            (true, false) => account_ttl,
            (false, true) => ip_ttl,
            (true, true) => account_ttl.max(ip_ttl),
        };
        Err(AppError::Throttled { retry_after: u64::try_from(retry_after).unwrap_or(1).max(1) })
    }

    /// Counts a failure against both the account and the address.
    pub async fn record_failure(&self, email: &str, ip: &str) -> Result<(), AppError> {
        let (account, address) = self.keys(email, ip);
        let window = i64::try_from(self.config.window_secs).unwrap_or(900);
        let mut conn = self.redis.clone();
        let mut pipe = redis::pipe();
        pipe.incr(&account, 1).ignore();
        pipe.cmd("EXPIRE").arg(&account).arg(window).arg("NX").ignore();
        if !ip.is_empty() {
            pipe.incr(&address, 1).ignore();
            pipe.cmd("EXPIRE").arg(&address).arg(window).arg("NX").ignore();
        }
        pipe.exec_async(&mut conn).await?;
        Ok(())
    }

    /// Forgets the account's failures after a successful login.
    pub async fn reset(&self, email: &str) -> Result<(), AppError> {
        let (account, _) = self.keys(email, "");
        let mut conn = self.redis.clone();
        redis::cmd("DEL").arg(&account).exec_async(&mut conn).await?;
        Ok(())
    }
}
