//! Password-guess throttling in Redis: logins and password changes.
//!
//! Every attempt is counted *before* the password is checked, in one Lua script that first
//! refuses if any counter is at its limit: parallel guesses cannot all pass before any is
//! counted, and a counter never exists without its expiry (INCR and EXPIRE run together). A
//! correct password takes its own attempt back off the counters.
//!
//! Three counters, so an attacker is slowed without locking out the owner:
//! - per account *and* client address (`LOGIN_MAX_FAILURES_PER_ACCOUNT`, 5): guessing from one
//!   address locks out that address only;
//! - per account, for addresses that never logged in to it
//!   (`LOGIN_MAX_FAILURES_PER_ACCOUNT_UNKNOWN_CLIENTS`, 50): guessing spread over many
//!   addresses is capped too, but an address the owner logged in from before is not counted
//!   against it, so the owner's usual address still gets in;
//! - per client address (`LOGIN_MAX_FAILURES_PER_IP`, 50), across accounts: stuffing.
//!
//! Refused attempts are not counted, so hammering a locked counter does not extend it: each
//! window starts at its first failure and ends `LOGIN_THROTTLE_WINDOW_SECS` later. Emails
//! enter keys only as a SHA-256, so a key's length is bounded whatever is typed.

use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::ThrottleConfig;
use crate::error::AppError;

/// KEYS: counters. ARGV[1] window seconds, then one limit per key (0 = skip that key), then
/// the known-addresses set, the address, and the (1-based) key a known address is exempt from
/// (0: none). Returns `{wait, exempt}`: `wait` 0 when the attempt may go ahead (and is
/// counted), else the seconds to wait; `exempt` the key that was skipped as known, or 0.
const ATTEMPT: &str = r#"
local n = #KEYS
local limits = {}
for i = 1, n do limits[i] = tonumber(ARGV[i + 1]) end
local known, address, exempt = ARGV[n + 2], ARGV[n + 3], tonumber(ARGV[n + 4])
if exempt > 0 and known ~= '' and address ~= '' and redis.call('SISMEMBER', known, address) == 1 then
  limits[exempt] = 0
else
  exempt = 0
end
local wait = 0
for i, key in ipairs(KEYS) do
  if limits[i] > 0 and tonumber(redis.call('GET', key) or '0') >= limits[i] then
    wait = math.max(wait, redis.call('TTL', key), 1)
  end
end
if wait > 0 then return {wait, exempt} end
for i, key in ipairs(KEYS) do
  if limits[i] > 0 and redis.call('INCR', key) == 1 then
    redis.call('EXPIRE', key, ARGV[1])
  end
end
return {0, exempt}
"#;

/// KEYS: the counters an attempt was counted on, this client's own first; ARGV: their limits
/// (as for ATTEMPT), then the known-addresses set, the address and its lifetime (empty to
/// skip), then '1' for a right password. Takes the attempt back off every counter (others'
/// failures stay); a right password also clears the client's own counter (the owner's typos)
/// and remembers the address as the owner's.
const SUCCEEDED: &str = r#"
local n = #KEYS
local right = ARGV[n + 4] == '1'
for i, key in ipairs(KEYS) do
  if i == 1 and right then
    redis.call('DEL', key)
  elseif tonumber(ARGV[i]) > 0 and tonumber(redis.call('GET', key) or '0') > 0 then
    redis.call('DECR', key)
  end
end
local known, address, ttl = ARGV[n + 1], ARGV[n + 2], ARGV[n + 3]
if right and known ~= '' and address ~= '' then
  redis.call('SADD', known, address)
  redis.call('EXPIRE', known, ttl)
end
return 0
"#;

/// How long an address stays "known" to an account after a login from it.
const KNOWN_FOR_SECS: u64 = 90 * 24 * 3600;

/// What an attempt was counted on, to take it back when the password is right.
pub struct Attempt {
    keys: Vec<String>,
    limits: Vec<u32>,
    known: Option<(String, String)>,
}

/// Counts password attempts and refuses over the limits.
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

    /// Counts a login attempt for `email` from `ip`, or refuses with `Throttled`.
    pub async fn login(&self, email: &str, ip: &str) -> Result<Attempt, AppError> {
        let account = account_key(email);
        let p = &self.prefix;
        let c = &self.config;
        // The account-wide key (the second) is waived for an address the owner logged in from;
        // the script checks that, in the same round trip.
        let mut keys = vec![format!("{p}login:pair:{account}:{ip}"), format!("{p}login:acct:{account}")];
        let mut limits = vec![c.max_failures_per_account, c.max_failures_per_account_unknown_clients];
        if !ip.is_empty() {
            keys.push(format!("{p}login:ip:{ip}"));
            limits.push(c.max_failures_per_ip);
        }
        let known = Some((format!("{p}login:known:{account}"), ip.to_owned()));
        self.count(Attempt { keys, limits, known }, 2).await
    }

    /// Counts an attempt at the current password of `user` (changing it), or refuses.
    pub async fn password_change(&self, user: Uuid) -> Result<Attempt, AppError> {
        let attempt = Attempt {
            keys: vec![format!("{}login:change:{user}", self.prefix)],
            limits: vec![self.config.max_failures_per_account],
            known: None,
        };
        self.count(attempt, 0).await
    }

    /// Counts an attempt at a second-factor code of `user` (at login, or turning it off), or
    /// refuses: five wrong codes in the window and the account waits, like a login.
    pub async fn second_factor(&self, user: Uuid) -> Result<Attempt, AppError> {
        let attempt = Attempt {
            keys: vec![format!("{}login:mfa:{user}", self.prefix)],
            limits: vec![self.config.max_failures_per_account],
            known: None,
        };
        self.count(attempt, 0).await
    }

    /// Runs ATTEMPT; `exempt` is the (1-based) key a known address is not counted on.
    async fn count(&self, mut attempt: Attempt, exempt: usize) -> Result<Attempt, AppError> {
        let mut conn = self.redis.clone();
        let attempt_script = redis::Script::new(ATTEMPT);
        let mut script = attempt_script.prepare_invoke();
        for key in &attempt.keys {
            script.key(key);
        }
        script.arg(self.config.window_secs);
        for limit in &attempt.limits {
            script.arg(limit);
        }
        let (known, address) = attempt.known.clone().unwrap_or_default();
        script.arg(known).arg(address).arg(exempt);
        let (wait, waived): (i64, usize) = script.invoke_async(&mut conn).await?;
        if wait > 0 {
            return Err(AppError::Throttled { retry_after: u64::try_from(wait).unwrap_or(1) });
        }
        // Not counted there, so not taken back there either (limit 0 = skip).
        if let Some(limit) = waived.checked_sub(1).and_then(|i| attempt.limits.get_mut(i)) {
            *limit = 0;
        }
        Ok(attempt)
    }

    /// The password was right: the attempt is not a failure, and its address is the owner's.
    pub async fn succeeded(&self, attempt: Attempt) -> Result<(), AppError> {
        self.settle(attempt, true).await
    }

    /// The password could not be checked (no hashing slot, a database error): the attempt is
    /// not held against anyone.
    pub async fn forgive(&self, attempt: Attempt) {
        if let Err(error) = self.settle(attempt, false).await {
            tracing::warn!(error = %error, "could not take back a login attempt");
        }
    }

    async fn settle(&self, attempt: Attempt, right: bool) -> Result<(), AppError> {
        let mut conn = self.redis.clone();
        let settle_script = redis::Script::new(SUCCEEDED);
        let mut script = settle_script.prepare_invoke();
        for key in &attempt.keys {
            script.key(key);
        }
        for limit in &attempt.limits {
            script.arg(limit);
        }
        let (known, address) = attempt.known.unwrap_or_default();
        script.arg(known).arg(address).arg(KNOWN_FOR_SECS).arg(if right { "1" } else { "0" });
        script.invoke_async::<i64>(&mut conn).await?;
        Ok(())
    }
}

/// The account's part of a key: case-insensitive, fixed length.
fn account_key(email: &str) -> String {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}
