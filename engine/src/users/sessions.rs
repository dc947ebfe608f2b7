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
use crate::users::audit::Origin;

/// Starts a family. ARGV: 1 key prefix, 2 family, 3 user, 4 token hash, 5 idle ttl,
/// 6 absolute lifetime (both seconds), 7 client (user agent), 8 client address.
///
/// `rfa:<family>` holds the family's creation time (microseconds, the server's clock) and
/// expires at the absolute lifetime, which ends the family however often it is refreshed.
/// The user's index gets the absolute lifetime at every login, so it outlives every family in
/// it: "revoke all" finds them all.
const CREATE: &str = r#"
local p = ARGV[1]
local t = redis.call('TIME')
local now = t[1] .. string.format('%06d', tonumber(t[2]))
redis.call('SET', p .. 'rt:' .. ARGV[4], ARGV[2] .. ':' .. ARGV[3], 'EX', ARGV[5])
redis.call('SET', p .. 'rf:' .. ARGV[2], ARGV[4], 'EX', ARGV[5])
redis.call('SET', p .. 'rfa:' .. ARGV[2], now, 'EX', ARGV[6])
redis.call('SADD', p .. 'ru:' .. ARGV[3], ARGV[2])
redis.call('EXPIRE', p .. 'ru:' .. ARGV[3], ARGV[6])
redis.call('HSET', p .. 'rfm:' .. ARGV[2], 'user', ARGV[3], 'client', ARGV[7], 'ip', ARGV[8], 'created', t[1], 'last_used', t[1])
redis.call('EXPIRE', p .. 'rfm:' .. ARGV[2], ARGV[6])
return 'ok'
"#;

/// Rotates a refresh token atomically. KEYS[1] = token key of the presented token.
/// ARGV: 1 presented hash, 2 new hash, 3 idle ttl seconds, 4 key prefix.
/// Returns "ok:<user>:<family>", "invalid" or "reuse:<user>" (the user, for the audit log).
///
/// A family is refused once past its absolute lifetime, and when it was created at or before
/// the user's last "revoke all" (`rv:<user>`), so a revocation holds even for a family its
/// index lost. The new token lives the idle ttl, but never past the absolute lifetime.
const ROTATE: &str = r#"
local p = ARGV[4]
local record = redis.call('GET', KEYS[1])
if not record then return 'invalid' end
local sep = string.find(record, ':', 1, true)
local family = string.sub(record, 1, sep - 1)
local user = string.sub(record, sep + 1)
local family_key = p .. 'rf:' .. family
local current = redis.call('GET', family_key)
if not current then
  redis.call('SREM', p .. 'ru:' .. user, family)
  return 'invalid'
end
local created = redis.call('GET', p .. 'rfa:' .. family)
local left = redis.call('TTL', p .. 'rfa:' .. family)
local revoked = redis.call('GET', p .. 'rv:' .. user)
if not created or left <= 0 or (revoked and tonumber(created) <= tonumber(revoked)) then
  redis.call('DEL', family_key, p .. 'rfm:' .. family)
  redis.call('SREM', p .. 'ru:' .. user, family)
  return 'invalid'
end
if current ~= ARGV[1] then
  redis.call('DEL', family_key)
  redis.call('SREM', p .. 'ru:' .. user, family)
  return 'reuse:' .. user
end
local ttl = math.min(tonumber(ARGV[3]), left)
redis.call('SET', family_key, ARGV[2], 'EX', ttl)
redis.call('SET', p .. 'rt:' .. ARGV[2], record, 'EX', ttl)
redis.call('HSET', p .. 'rfm:' .. family, 'last_used', redis.call('TIME')[1])
-- A family from before session details existed gets the key here: it must not outlive it.
redis.call('EXPIRE', p .. 'rfm:' .. family, left)
return 'ok:' .. user .. ':' .. family
"#;

/// Ends every family of a user at once. ARGV: 1 key prefix, 2 user, 3 absolute lifetime.
/// The revocation time outlives every family that could predate it.
const REVOKE_ALL: &str = r#"
local p = ARGV[1]
local t = redis.call('TIME')
redis.call('SET', p .. 'rv:' .. ARGV[2], t[1] .. string.format('%06d', tonumber(t[2])), 'EX', ARGV[3])
local index = p .. 'ru:' .. ARGV[2]
for _, family in ipairs(redis.call('SMEMBERS', index)) do
  redis.call('DEL', p .. 'rf:' .. family, p .. 'rfa:' .. family, p .. 'rfm:' .. family)
end
redis.call('DEL', index)
return 'ok'
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

/// One session as `GET /me/sessions` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The family id (the `sid` of its access tokens).
    pub id: Uuid,
    /// The user agent it logged in with.
    pub client: String,
    /// The address it logged in from.
    pub ip: String,
    /// Login time, seconds since the epoch (Redis' clock).
    pub created_at: i64,
    /// Last refresh, seconds since the epoch.
    pub last_used_at: i64,
}

/// Issues, rotates and revokes refresh tokens.
#[derive(Clone)]
pub struct Sessions {
    redis: ConnectionManager,
    prefix: String,
    ttl_secs: u64,
    lifetime_secs: u64,
}

impl Sessions {
    /// Sessions stored under `prefix`, living `ttl_secs` from their last rotation and at most
    /// `lifetime_secs` from their login.
    pub fn new(redis: ConnectionManager, prefix: &str, ttl_secs: u64, lifetime_secs: u64) -> Sessions {
        Sessions { redis, prefix: prefix.to_owned(), ttl_secs, lifetime_secs }
    }

    /// Starts a new family for `user_id`, logged in from `origin`; returns the family (the
    /// session's id) and its first token.
    pub async fn create(&self, user_id: Uuid, origin: &Origin) -> Result<(Uuid, String), AppError> {
        let (token, hash) = new_token();
        let family = Uuid::now_v7();
        let mut conn = self.redis.clone();
        let _: String = redis::Script::new(CREATE)
            .arg(&self.prefix)
            .arg(family.to_string())
            .arg(user_id.to_string())
            .arg(&hash)
            .arg(self.ttl_secs)
            .arg(self.lifetime_secs)
            .arg(origin.user_agent.as_deref().unwrap_or(""))
            .arg(origin.ip.as_deref().unwrap_or(""))
            .invoke_async(&mut conn)
            .await?;
        Ok((family, token))
    }

    /// The live sessions of `user_id`, newest first.
    pub async fn list(&self, user_id: Uuid) -> Result<Vec<SessionInfo>, AppError> {
        let mut conn = self.redis.clone();
        let families: Vec<String> =
            redis::cmd("SMEMBERS").arg(format!("{}ru:{user_id}", self.prefix)).query_async(&mut conn).await?;
        let mut sessions = Vec::with_capacity(families.len());
        for family in families {
            let Ok(id) = Uuid::parse_str(&family) else { continue };
            let (alive, meta): (bool, std::collections::HashMap<String, String>) = redis::pipe()
                .exists(format!("{}rf:{family}", self.prefix))
                .hgetall(format!("{}rfm:{family}", self.prefix))
                .query_async(&mut conn)
                .await?;
            if !alive {
                // Ended by expiry: drop it from the index so the index does not grow.
                let _: () = redis::pipe()
                    .srem(format!("{}ru:{user_id}", self.prefix), &family)
                    .ignore()
                    .del(format!("{}rfm:{family}", self.prefix))
                    .ignore()
                    .query_async(&mut conn)
                    .await?;
                continue;
            }
            let field = |name: &str| meta.get(name).cloned().unwrap_or_default();
            let time = |name: &str| meta.get(name).and_then(|v| v.parse().ok()).unwrap_or(0);
            sessions.push(SessionInfo {
                id,
                client: field("client"),
                ip: field("ip"),
                created_at: time("created"),
                last_used_at: time("last_used"),
            });
        }
        // UUIDv7 ids sort by creation.
        sessions.sort_by_key(|s| std::cmp::Reverse(s.id));
        Ok(sessions)
    }

    /// Ends `user_id`'s session `id`; `false` when they have no such session.
    pub async fn end(&self, user_id: Uuid, id: Uuid) -> Result<bool, AppError> {
        let mut conn = self.redis.clone();
        let index = format!("{}ru:{user_id}", self.prefix);
        let theirs: bool =
            redis::cmd("SISMEMBER").arg(&index).arg(id.to_string()).query_async(&mut conn).await?;
        if !theirs {
            return Ok(false);
        }
        let alive: bool =
            redis::cmd("EXISTS").arg(format!("{}rf:{id}", self.prefix)).query_async(&mut conn).await?;
        redis::pipe()
            .del(&[
                format!("{}rf:{id}", self.prefix),
                format!("{}rfa:{id}", self.prefix),
                format!("{}rfm:{id}", self.prefix),
            ])
            .ignore()
            .srem(&index, id.to_string())
            .ignore()
            .exec_async(&mut conn)
            .await?;
        Ok(alive)
    }

    /// Ends every session of `user_id` but `keep`; returns how many ended.
    pub async fn end_others(&self, user_id: Uuid, keep: Option<Uuid>) -> Result<u32, AppError> {
        let mut ended = 0;
        for session in self.list(user_id).await? {
            if Some(session.id) != keep && self.end(user_id, session.id).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Exchanges `token` for a new one; the old one stops working. The user, the session and
    /// the new token.
    pub async fn rotate(
        &self,
        token: &str,
    ) -> Result<Result<(Uuid, Uuid, String), RefreshFailure>, AppError> {
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
            Some(("ok", rest)) => {
                let parsed = rest.split_once(':').and_then(|(user, family)| {
                    Some((Uuid::parse_str(user).ok()?, Uuid::parse_str(family).ok()?))
                });
                match parsed {
                    Some((user, family)) => Ok((user, family, next)),
                    None => Err(RefreshFailure::Invalid),
                }
            }
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
                .del(&[
                    format!("{}rf:{family}", self.prefix),
                    format!("{}rfa:{family}", self.prefix),
                    format!("{}rfm:{family}", self.prefix),
                ])
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
        let _: String = redis::Script::new(REVOKE_ALL)
            .arg(&self.prefix)
            .arg(user_id.to_string())
            .arg(self.lifetime_secs)
            .invoke_async(&mut conn)
            .await?;
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use redis::AsyncCommands;

    use super::*;

    async fn sessions(ttl: u64, lifetime: u64) -> (Sessions, ConnectionManager, String) {
        let redis = budgetsmart_common::redis_client::connect("redis://127.0.0.1:6379", None)
            .await
            .expect("the shared Redis answers");
        let prefix = format!("test-sessions-{}:", Uuid::now_v7().simple());
        (Sessions::new(redis.clone(), &prefix, ttl, lifetime), redis, prefix)
    }

    /// The index once expired 30 days after the login while refreshed families lived on, so
    /// "revoke all" missed them.
    #[tokio::test]
    async fn revoke_all_ends_a_family_refreshed_past_the_first_ttl() {
        let (sessions, _, _) = sessions(2, 60).await;
        let user = Uuid::now_v7();
        let first = sessions.create(user, &Origin::default()).await.expect("login").1;
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let (_, _, second) = sessions.rotate(&first).await.expect("redis").expect("rotates");
        tokio::time::sleep(Duration::from_millis(1200)).await;
        sessions.revoke_all(user).await.expect("revokes");
        assert!(matches!(sessions.rotate(&second).await.expect("redis"), Err(RefreshFailure::Invalid)));
    }

    /// A family whose index entry is gone (lost, or written by an older version) is revoked too.
    #[tokio::test]
    async fn revoke_all_holds_without_the_index() {
        let (sessions, mut redis, prefix) = sessions(60, 600).await;
        let user = Uuid::now_v7();
        let token = sessions.create(user, &Origin::default()).await.expect("login").1;
        let _: () = redis.del(format!("{prefix}ru:{user}")).await.expect("del");
        sessions.revoke_all(user).await.expect("revokes");
        assert!(matches!(sessions.rotate(&token).await.expect("redis"), Err(RefreshFailure::Invalid)));
        // A login after the revocation works.
        let later = sessions.create(user, &Origin::default()).await.expect("login").1;
        assert!(sessions.rotate(&later).await.expect("redis").is_ok());
    }

    /// Refreshing forever is not possible: the family ends at its absolute lifetime.
    #[tokio::test]
    async fn a_family_ends_at_its_absolute_lifetime() {
        let (sessions, _, _) = sessions(60, 4).await;
        let user = Uuid::now_v7();
        let mut token = sessions.create(user, &Origin::default()).await.expect("login").1;
        for _ in 0..2 {
            tokio::time::sleep(Duration::from_millis(1000)).await;
            token = sessions.rotate(&token).await.expect("redis").expect("still within the lifetime").2;
        }
        tokio::time::sleep(Duration::from_millis(2600)).await;
        assert!(matches!(sessions.rotate(&token).await.expect("redis"), Err(RefreshFailure::Invalid)));
    }

    #[tokio::test]
    async fn sessions_are_listed_with_their_origin_and_end_one_or_all_but_one() {
        let (sessions, _, _) = sessions(60, 600).await;
        let (user, stranger) = (Uuid::now_v7(), Uuid::now_v7());
        let phone = Origin::new(Some("203.0.113.7"), Some("Phone/1.0"));
        let (first, first_token) = sessions.create(user, &phone).await.expect("login");
        let (second, _) = sessions.create(user, &Origin::default()).await.expect("login");
        let (third, _) = sessions.create(user, &Origin::default()).await.expect("login");
        let listed = sessions.list(user).await.expect("lists");
        assert_eq!(
            listed.iter().map(|s| s.id).collect::<Vec<_>>(),
            vec![third, second, first],
            "newest first"
        );
        let oldest = &listed[2];
        assert_eq!((oldest.client.as_str(), oldest.ip.as_str()), ("Phone/1.0", "203.0.113.7"));
        assert!(oldest.created_at > 0 && oldest.last_used_at >= oldest.created_at);

        assert!(!sessions.end(stranger, first).await.expect("redis"), "another user's session is not theirs");
        assert!(sessions.end(user, first).await.expect("redis"));
        assert!(matches!(sessions.rotate(&first_token).await.expect("redis"), Err(RefreshFailure::Invalid)));
        assert!(!sessions.end(user, first).await.expect("redis"), "already ended");

        assert_eq!(sessions.end_others(user, Some(third)).await.expect("redis"), 1);
        assert_eq!(
            sessions.list(user).await.expect("lists").iter().map(|s| s.id).collect::<Vec<_>>(),
            vec![third]
        );
    }
}
