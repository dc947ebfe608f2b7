//! Refresh-token sessions in Redis.
//!
//! A refresh token is 32 random bytes; only its SHA-256 is stored. Tokens belong to a family
//! (one login). Each refresh rotates: the family's current token moves to the new one, and the
//! old one stays known until it expires so that presenting it again is recognised as reuse —
//! a sign it was stolen — and revokes the whole family (OAuth 2.0 Security BCP §4.14).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{OsRng, RngCore};
use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::AppError;

/// Rotates a refresh token atomically. KEYS[1] = token key of the presented token.
/// ARGV: 1 presented hash, 2 new hash, 3 ttl seconds, 4 key prefix.
/// Returns "ok:<user>", "invalid" or "reuse:<user>" (the user, for the audit log).
const ROTATE: &str = r#"
local record = redis.call('GET', KEYS[1])
if not record then return 'invalid' end
local sep = string.find(record, ':', 1, true)
local family = string.sub(record, 1, sep - 1)
local user = string.sub(record, sep + 1)
local family_key = ARGV[4] .. 'rf:' .. family
local current = redis.call('GET', family_key)
if not current then return 'invalid' end
if current ~= ARGV[1] then
  redis.call('DEL', family_key)
  redis.call('SREM', ARGV[4] .. 'ru:' .. user, family)
  return 'reuse:' .. user
end
redis.call('SET', family_key, ARGV[2], 'EX', ARGV[3])
redis.call('SET', ARGV[4] .. 'rt:' .. ARGV[2], record, 'EX', ARGV[3])
return 'ok:' .. user
"#;

/// Why a refresh was refused.
#[derive(Debug)]
pub enum RefreshFailure {
    /// Unknown, expired or revoked.
    Invalid,
    /// An already-rotated token came back: the family is now revoked. The user it belonged
    /// to, so the reuse lands in their audit log.
    Reused { user_id: Option<Uuid> },
}

/// Issues, rotates and revokes refresh tokens.
#[derive(Clone)]
pub struct Sessions {
    redis: ConnectionManager,
    prefix: String,
    ttl_secs: u64,
}

impl Sessions {
    /// Sessions stored under `prefix`, living `ttl_secs` from their last rotation.
    pub fn new(redis: ConnectionManager, prefix: &str, ttl_secs: u64) -> Sessions {
        Sessions { redis, prefix: prefix.to_owned(), ttl_secs }
    }

    /// Starts a new family for `user_id` and returns its first token.
    pub async fn create(&self, user_id: Uuid) -> Result<String, AppError> {
        let (token, hash) = new_token();
        let family = Uuid::now_v7();
        let mut conn = self.redis.clone();
        redis::pipe()
            .atomic()
            .set_ex(format!("{}rt:{hash}", self.prefix), format!("{family}:{user_id}"), self.ttl_secs)
            .ignore()
            .set_ex(format!("{}rf:{family}", self.prefix), &hash, self.ttl_secs)
            .ignore()
            .sadd(format!("{}ru:{user_id}", self.prefix), family.to_string())
            .ignore()
            .expire(format!("{}ru:{user_id}", self.prefix), self.ttl_secs as i64)
            .ignore()
            .exec_async(&mut conn)
            .await?;
        Ok(token)
    }

    /// Exchanges `token` for a new one; the old one stops working.
    pub async fn rotate(&self, token: &str) -> Result<Result<(Uuid, String), RefreshFailure>, AppError> {
        let presented = hash_token(token);
        let (next, next_hash) = new_token();
        let mut conn = self.redis.clone();
        let outcome: String = redis::Script::new(ROTATE)
            .key(format!("{}rt:{presented}", self.prefix))
            .arg(&presented)
            .arg(&next_hash)
            .arg(self.ttl_secs)
            .arg(&self.prefix)
            .invoke_async(&mut conn)
            .await?;
        Ok(match outcome.split_once(':') {
            Some(("ok", user)) => match Uuid::parse_str(user) {
                Ok(user) => Ok((user, next)),
                Err(_) => Err(RefreshFailure::Invalid),
            },
            Some(("reuse", user)) => Err(RefreshFailure::Reused { user_id: Uuid::parse_str(user).ok() }),
            _ => Err(RefreshFailure::Invalid),
        })
    }

    /// Ends the family `token` belongs to (logout). Unknown tokens are ignored.
    pub async fn revoke(&self, token: &str) -> Result<(), AppError> {
        let mut conn = self.redis.clone();
        let key = format!("{}rt:{}", self.prefix, hash_token(token));
        let record: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
        if let Some((family, user)) = record.as_deref().and_then(|r| r.split_once(':')) {
            redis::pipe()
                .del(format!("{}rf:{family}", self.prefix))
                .ignore()
                .srem(format!("{}ru:{user}", self.prefix), family)
                .ignore()
                .exec_async(&mut conn)
                .await?;
        }
        Ok(())
    }

    /// Ends every session of `user_id` (password change, account deletion).
    pub async fn revoke_all(&self, user_id: Uuid) -> Result<(), AppError> {
        let mut conn = self.redis.clone();
        let user_key = format!("{}ru:{user_id}", self.prefix);
        let families: Vec<String> = redis::cmd("SMEMBERS").arg(&user_key).query_async(&mut conn).await?;
        let mut pipe = redis::pipe();
        for family in &families {
            pipe.del(format!("{}rf:{family}", self.prefix)).ignore();
        }
        pipe.del(&user_key).ignore();
        pipe.exec_async(&mut conn).await?;
        Ok(())
    }
}

fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

fn hash_token(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}
