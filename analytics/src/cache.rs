//! Hot reads cached in Redis, invalidated by events.
//!
//! Each user has a generation counter. Cached answers are stored under the generation current
//! when they were computed; an applied event (or a retraining) bumps the counter after its
//! commit, so every older answer becomes unreachable at once and expires by TTL. A read that
//! raced with the commit can only have cached under the old generation. Redis being down
//! degrades to computing every answer; it never fails a call.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use uuid::Uuid;

/// How long a cached answer lives at most. It also bounds staleness if an invalidation is
/// lost (Redis unreachable right after a commit).
const TTL: Duration = Duration::from_secs(300);

/// Redis-backed answer cache, shared by the API, the consumer and the trainer.
#[derive(Clone)]
pub struct Cache {
    redis: Option<ConnectionManager>,
    prefix: String,
}

impl Cache {
    /// Connects to `url` (over TLS for `rediss://`, trusting `ca_file` if given); keys start
    /// with `prefix`.
    pub async fn connect(url: &str, ca_file: Option<&str>, prefix: &str) -> anyhow::Result<Cache> {
        let redis = budgetsmart_common::redis_client::connect(url, ca_file).await?;
        Ok(Cache { redis: Some(redis), prefix: prefix.to_owned() })
    }

    /// A cache that never hits, for tools that run without Redis.
    pub fn disabled() -> Cache {
        Cache { redis: None, prefix: String::new() }
    }

    fn generation_key(&self, user: Uuid) -> String {
        format!("{}analytics:gen:{user}", self.prefix)
    }

    /// The cached answer for `key`, and the slot to store a fresh one under.
    pub async fn get(&self, user: Uuid, key: &str) -> (Option<Vec<u8>>, Option<String>) {
        let Some(mut redis) = self.redis.clone() else { return (None, None) };
        let generation: Option<u64> = match redis.get(self.generation_key(user)).await {
            Ok(g) => g,
            Err(error) => {
                tracing::warn!(%error, "cache unavailable");
                return (None, None);
            }
        };
        let slot = format!("{}analytics:{user}:{}:{key}", self.prefix, generation.unwrap_or(0));
        match redis.get::<_, Option<Vec<u8>>>(&slot).await {
            Ok(hit) => (hit, Some(slot)),
            Err(error) => {
                tracing::warn!(%error, "cache unavailable");
                (None, None)
            }
        }
    }

    /// Stores `value` in `slot` (from [`Cache::get`]).
    pub async fn put(&self, slot: Option<String>, value: &[u8]) {
        let (Some(mut redis), Some(slot)) = (self.redis.clone(), slot) else { return };
        if let Err(error) = redis.set_ex::<_, _, ()>(slot, value, TTL.as_secs()).await {
            tracing::warn!(%error, "could not cache an answer");
        }
    }

    /// Makes every cached answer of `user` unreachable. Call after the commit that changed
    /// the user's data.
    pub async fn invalidate(&self, user: Uuid) {
        let Some(mut redis) = self.redis.clone() else { return };
        let key = self.generation_key(user);
        let bumped: redis::RedisResult<()> = redis::pipe()
            .incr(&key, 1)
            .ignore()
            .expire(&key, 7 * 86_400)
            .ignore()
            .query_async(&mut redis)
            .await;
        if let Err(error) = bumped {
            tracing::warn!(%error, %user, "could not invalidate cached answers; they expire within the TTL");
        }
    }
}
