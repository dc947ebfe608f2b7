//! Rate limits: the quotas and the limiters that enforce them (GCRA, via governor), in this
//! process or in Redis. Plain types and logic, below the state that holds the limiters; the
//! middleware that applies them per request is `rate_limit::limit`.
//!
//! Each replica counts in its own memory by default: no network hop, and with N replicas
//! behind a balancer a client gets at most N times its limit. `RATE_LIMIT_STORE=redis` runs
//! the same GCRA in Redis instead (one script call per request), so the limit holds across
//! replicas exactly; docs/architecture/gateway.md says when to pick which.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use ipnet::IpNet;
use redis::aio::ConnectionManager;
use uuid::Uuid;

/// One quota: a sustained rate and the burst allowed on top of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests replenished per minute.
    pub per_minute: u32,
    /// Requests allowed at once from a full bucket.
    pub burst: u32,
}

/// Where the counters live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// In this process: each replica enforces its own limit.
    Memory,
    /// In Redis: one limit shared by every replica.
    Redis,
}

/// The `RATE_LIMIT_*` settings.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// `RATE_LIMIT_ENABLED`, default true.
    pub enabled: bool,
    /// Login and register, per client IP (`RATE_LIMIT_AUTH_PER_MIN`, `RATE_LIMIT_AUTH_BURST`).
    pub auth: Limit,
    /// Other unauthenticated requests, per client IP (`RATE_LIMIT_PUBLIC_*`).
    pub public: Limit,
    /// Authenticated requests, per user (`RATE_LIMIT_USER_*`).
    pub user: Limit,
    /// `RATE_LIMIT_STORE`: `memory` (default) or `redis`.
    pub store: Store,
}

/// The client's address: the peer, or the `X-Forwarded-For` entry a trusted proxy vouches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Class {
    Auth,
    Public,
    User,
}

impl Class {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Class::Auth => "auth",
            Class::Public => "public",
            Class::User => "user",
        }
    }
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// The limiters of one gateway process.
pub struct RateLimits {
    pub(crate) config: RateLimitConfig,
    trusted_proxies: Vec<IpNet>,
    auth: Keyed<IpAddr>,
    public: Keyed<IpAddr>,
    user: Keyed<Uuid>,
    clock: DefaultClock,
}

/// What a check decided, for the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    /// Seconds until the bucket is full again (allowed) or the next request may pass (refused).
    pub(crate) reset: u64,
    pub(crate) allowed: bool,
}

fn quota(limit: Limit) -> Quota {
    let per_minute = NonZeroU32::new(limit.per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(limit.burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_minute).allow_burst(burst)
}

fn ceil_secs(duration: Duration) -> u64 {
    duration.as_millis().div_ceil(1000) as u64
}

impl RateLimits {
    /// Limiters for `config`, trusting `X-Forwarded-For` only from `trusted_proxies`.
    pub fn new(config: RateLimitConfig, trusted_proxies: Vec<IpNet>) -> Arc<RateLimits> {
        let limits = Arc::new(RateLimits {
            auth: RateLimiter::keyed(quota(config.auth)).with_middleware(),
            public: RateLimiter::keyed(quota(config.public)).with_middleware(),
            user: RateLimiter::keyed(quota(config.user)).with_middleware(),
            clock: DefaultClock::default(),
            config,
            trusted_proxies,
        });
        // Keys of clients that went quiet are forgotten once their bucket is full again, so
        // the maps stay as large as the set of recently active clients.
        let weak = Arc::downgrade(&limits);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(limits) = weak.upgrade() else { break };
                limits.auth.retain_recent();
                limits.public.retain_recent();
                limits.user.retain_recent();
            }
        });
        limits
    }

    /// The client address of a request that came from `peer`.
    ///
    /// Only a configured proxy may speak for someone else: walking `X-Forwarded-For` from the
    /// right, the first address that is not a trusted proxy is the client. A client can put
    /// anything at the left of the header, so the left is never believed.
    ///
    /// Addresses are canonical: a dual-stack listener sees IPv4 clients as `::ffff:a.b.c.d`,
    /// which must match an IPv4 proxy range and count as that IPv4 client.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        let trusted = |ip: &IpAddr| self.trusted_proxies.iter().any(|net| net.contains(ip));
        if !trusted(&peer) {
            return peer;
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        let mut client = peer;
        for hop in forwarded.iter().rev() {
            match parse_hop(hop).map(|ip| ip.to_canonical()) {
                Some(ip) if trusted(&ip) => client = ip,
                Some(ip) => return ip,
                None => return client,
            }
        }
        client
    }

    pub(crate) fn check_memory(&self, class: Class, ip: IpAddr, user: Option<Uuid>) -> Decision {
        let limit = self.limit(class);
        let ip = limit_key(ip);
        let outcome = match (class, user) {
            (Class::User, Some(user)) => self.user.check_key(&user),
            (Class::Auth, _) => self.auth.check_key(&ip),
            _ => self.public.check_key(&ip),
        };
        match outcome {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let interval = snapshot.quota().replenish_interval();
                Decision {
                    limit: limit.burst,
                    remaining,
                    reset: ceil_secs(interval * limit.burst.saturating_sub(remaining)),
                    allowed: true,
                }
            }
            Err(not_until) => Decision {
                limit: limit.burst,
                remaining: 0,
                reset: ceil_secs(not_until.wait_time_from(self.clock.now())).max(1),
                allowed: false,
            },
        }
    }

    pub(crate) fn limit(&self, class: Class) -> Limit {
        match class {
            Class::Auth => self.config.auth,
            Class::Public => self.config.public,
            Class::User => self.config.user,
        }
    }
}

/// An `X-Forwarded-For` hop: a bare address, or one with a port as some proxies write it
/// (`203.0.113.9:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The bucket an address counts in. An IPv6 client is given a whole /64 by its provider and
/// can pick a fresh address from it for every request, so its /64 is the client; IPv4
/// addresses count one by one.
pub(crate) fn limit_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

/// GCRA in Redis, on the server's clock so replicas' clock skew does not matter. The
/// theoretical arrival time is stored in microseconds; `%.0f` because Lua's default number
/// format would round a 16-digit number to 14 significant digits.
static GCRA: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allow_at = tat + interval - burst * interval
if allow_at > now then
  return {0, 0, math.ceil(allow_at - now)}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {1, math.floor((now + burst * interval - new_tat) / interval), math.ceil(new_tat - now)}
",
    )
});

pub(crate) async fn check_redis(
    redis: &ConnectionManager,
    prefix: &str,
    class: Class,
    limit: Limit,
    subject: &str,
) -> Result<Decision, redis::RedisError> {
    let interval_us = 60_000_000 / u64::from(limit.per_minute.max(1));
    let key = format!("{prefix}ratelimit:{}:{subject}", class.name());
    let (allowed, remaining, micros): (i64, i64, i64) =
        GCRA.key(key).arg(interval_us).arg(limit.burst.max(1)).invoke_async(&mut redis.clone()).await?;
    let seconds = (micros.max(0) as u64).div_ceil(1_000_000);
    Ok(Decision {
        limit: limit.burst,
        remaining: remaining.max(0) as u32,
        reset: if allowed == 1 { seconds } else { seconds.max(1) },
        allowed: allowed == 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(store: Store) -> RateLimitConfig {
        let limit = Limit { per_minute: 60, burst: 3 };
        RateLimitConfig { enabled: true, auth: limit, public: limit, user: limit, store }
    }

    #[tokio::test]
    async fn refuses_past_the_burst_and_keys_apart() {
        let limits = RateLimits::new(config(Store::Memory), Vec::new());
        let ip: IpAddr = [10, 0, 0, 1].into();
        let remaining: Vec<u32> =
            (0..3).map(|_| limits.check_memory(Class::Auth, ip, None)).map(|d| d.remaining).collect();
        assert_eq!(remaining, vec![2, 1, 0]);
        let refused = limits.check_memory(Class::Auth, ip, None);
        assert!(!refused.allowed);
        assert_eq!(refused.reset, 1, "one request per second comes back");
        // Another IP, and the same IP on another class, have their own buckets.
        assert!(limits.check_memory(Class::Auth, [10, 0, 0, 2].into(), None).allowed);
        assert!(limits.check_memory(Class::Public, ip, None).allowed);
        assert!(limits.check_memory(Class::User, ip, Some(Uuid::now_v7())).allowed);
    }

    #[tokio::test]
    async fn believes_forwarded_for_only_from_trusted_proxies() {
        let proxy: IpNet = "10.1.0.0/16".parse().expect("a network");
        let limits = RateLimits::new(config(Store::Memory), vec![proxy]);
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            axum::http::HeaderValue::from_static("6.6.6.6, 203.0.113.9, 10.1.2.3"),
        );
        let untrusted: IpAddr = [198, 51, 100, 7].into();
        assert_eq!(limits.client_ip(untrusted, &headers), untrusted, "a stranger cannot spoof");
        let trusted: IpAddr = [10, 1, 0, 5].into();
        // The rightmost untrusted hop: the client's own prefix "6.6.6.6" is ignored.
        assert_eq!(limits.client_ip(trusted, &headers), "203.0.113.9".parse::<IpAddr>().expect("ip"));
        assert_eq!(limits.client_ip(trusted, &HeaderMap::new()), trusted);
        // A dual-stack listener's view of an IPv4 proxy, and a hop written with its port.
        let mapped: IpAddr = "::ffff:10.1.0.5".parse().expect("ip");
        let mut with_port = HeaderMap::new();
        with_port.insert("x-forwarded-for", axum::http::HeaderValue::from_static("203.0.113.9:4711"));
        assert_eq!(limits.client_ip(mapped, &with_port), "203.0.113.9".parse::<IpAddr>().expect("ip"));
        assert_eq!(limits.client_ip("::ffff:198.51.100.7".parse().expect("ip"), &headers), untrusted);
    }

    #[tokio::test]
    async fn an_ipv6_client_is_its_slash_64() {
        let limits = RateLimits::new(config(Store::Memory), Vec::new());
        let address = |s: &str| s.parse::<IpAddr>().expect("ip");
        for i in 0..3 {
            assert!(limits.check_memory(Class::Auth, address(&format!("2001:db8:1:2::{i}")), None).allowed);
        }
        // A fresh address from the same /64 is the same client; another /64 is not.
        assert!(!limits.check_memory(Class::Auth, address("2001:db8:1:2:ffff::9"), None).allowed);
        assert!(limits.check_memory(Class::Auth, address("2001:db8:1:3::1"), None).allowed);
    }
}
