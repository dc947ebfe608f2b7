//! Client channels that spread calls over every replica of an upstream.
//!
//! A tonic channel to one address keeps one long-lived HTTP/2 connection. Through a
//! Kubernetes ClusterIP (or any L4 balancer) that connection is pinned to one pod, so every
//! call from one client lands on one replica however many run. Balancing has to happen in
//! the client, over the replicas' own addresses: a headless Service (or Compose's DNS) answers
//! a name with every ready replica's address, and the channel here re-resolves it every
//! `GRPC_RESOLVE_INTERVAL_MS` and keeps one connection per address, picking between them by
//! power of two choices (tower's balancer).
//!
//! An upstream URL is one of:
//! - one URL whose host is an IP address or `localhost`: a plain channel, as before (nothing to
//!   resolve; `localhost` would resolve to `::1` as well, where the service may not listen);
//! - one URL whose host is a DNS name: balanced over every address the name resolves to;
//! - a comma-separated list of URLs: balanced over all of them (names among them resolved too).
//!
//! The balanced set is never empty. While a name resolves to nothing (no replica ready yet,
//! or DNS down) the name itself is the one endpoint, so calls fail fast with a connection
//! error the callers already handle, instead of waiting in the balancer for an address that
//! may never come; a failed lookup keeps the addresses last seen for that name.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use tokio::sync::mpsc::Sender;
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};

use crate::config::{self, ConfigError};

/// How upstream channels connect and re-resolve.
#[derive(Debug, Clone)]
pub struct ChannelSettings {
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
    /// The deadline of every call.
    pub timeout: Duration,
    /// `GRPC_RESOLVE_INTERVAL_MS`, default 5 000: how often upstream names are re-resolved.
    /// A scaled-out replica gets calls within this long; one that left is dropped as fast,
    /// though until then the breaker and retries absorb its connection errors.
    pub resolve_every: Duration,
}

impl ChannelSettings {
    /// Settings with the given timeouts and `GRPC_RESOLVE_INTERVAL_MS` from the environment.
    pub fn from_env(connect_timeout: Duration, timeout: Duration) -> Result<ChannelSettings, ConfigError> {
        let millis: u64 = config::parse("GRPC_RESOLVE_INTERVAL_MS", 5_000)?;
        if millis == 0 {
            return Err(ConfigError {
                name: "GRPC_RESOLVE_INTERVAL_MS".into(),
                problem: "must be at least 1".into(),
            });
        }
        Ok(ChannelSettings { connect_timeout, timeout, resolve_every: Duration::from_millis(millis) })
    }
}

/// The longest one lookup may take; the system resolver has no deadline of its own.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Failed lookups in a row after which a name's last addresses are dropped for the name itself.
const STALE_LOOKUPS: u32 = 3;

/// Looks a host up; the production resolver is the system's (`getaddrinfo` through tokio).
pub type Resolver = Arc<
    dyn Fn(String, u16) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>
        + Send
        + Sync,
>;

/// The system resolver.
pub fn system_resolver() -> Resolver {
    Arc::new(|host, port| {
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), port)).await?.collect()) })
    })
}

/// A lazily connecting channel to `urls` (see the module docs); `name` is the setting the
/// URLs came from, for error messages. Must be called within a Tokio runtime.
pub fn channel(name: &str, urls: &str, settings: &ChannelSettings) -> anyhow::Result<Channel> {
    channel_with(name, urls, settings, system_resolver())
}

/// [`channel`] with a chosen resolver (tests use one they control).
pub fn channel_with(
    name: &str,
    urls: &str,
    settings: &ChannelSettings,
    resolver: Resolver,
) -> anyhow::Result<Channel> {
    let targets = targets(name, urls)?;
    if let [target] = targets.as_slice()
        && target.fixed()
    {
        return Ok(endpoint(&target.uri, settings).connect_lazy());
    }
    let (channel, changes) = Channel::balance_channel(64);
    tokio::spawn(resolve_forever(targets, settings.clone(), resolver, changes));
    Ok(channel)
}

/// One URL of an upstream setting.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    uri: Uri,
    host: String,
    port: u16,
}

impl Target {
    /// Nothing to resolve: an IP address, or `localhost` (left to the connector).
    fn fixed(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost") || self.ip().is_some()
    }

    fn ip(&self) -> Option<IpAddr> {
        self.host.trim_start_matches('[').trim_end_matches(']').parse().ok()
    }
}

fn targets(name: &str, urls: &str) -> anyhow::Result<Vec<Target>> {
    let targets = urls
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| {
            let uri: Uri =
                url.parse().map_err(|e| anyhow::anyhow!("{name}: {url:?} is not a valid URL: {e}"))?;
            let scheme = uri.scheme_str().unwrap_or_default();
            // Plaintext HTTP/2 only: tonic is built without TLS, and inside the cluster
            // encryption between services is a mesh's job (docs/guides/deploy.md).
            if scheme != "http" {
                anyhow::bail!(
                    "{name}: {url:?} must start with http:// (gRPC TLS between services is not built in)"
                );
            }
            let host = uri.host().filter(|h| !h.is_empty());
            let Some(host) = host else { anyhow::bail!("{name}: {url:?} has no host") };
            let port = uri.port_u16().unwrap_or(80);
            Ok(Target { host: host.to_owned(), port, uri })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if targets.is_empty() {
        anyhow::bail!("{name} is empty: give a URL, or a comma-separated list of them");
    }
    Ok(targets)
}

fn endpoint(uri: &Uri, settings: &ChannelSettings) -> Endpoint {
    Endpoint::from(uri.clone())
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .tcp_nodelay(true)
}

/// What one target contributes to the balanced set, keyed by the address called.
#[derive(Debug, Clone, PartialEq)]
enum Found {
    /// Call this URL as written (a fixed target, or a name with no address known).
    AsWritten,
    /// Call each of these addresses, sending the target's authority as `:authority`.
    Addresses(BTreeSet<SocketAddr>),
}

/// Where one endpoint dials, and the authority its calls carry when that is not the dialled
/// address (a resolved name keeps `:authority: engine:50051`, as the server expects).
#[derive(Debug, Clone, PartialEq)]
struct Dial {
    uri: Uri,
    origin: Option<Uri>,
}

/// The endpoints wanted now: every target's addresses, or its URL as written when none are
/// known. Keys are what is dialled, so two targets naming one address share an endpoint.
fn wanted(targets: &[Target], found: &[Found]) -> BTreeMap<String, Dial> {
    let mut wanted = BTreeMap::new();
    for (target, found) in targets.iter().zip(found) {
        let scheme = target.uri.scheme_str().unwrap_or("http");
        match found {
            Found::Addresses(addresses) if !addresses.is_empty() => {
                let origin = format!("{scheme}://{}:{}", target.host, target.port).parse().ok();
                for address in addresses {
                    if let Ok(uri) = format!("{scheme}://{address}").parse() {
                        wanted.entry(address.to_string()).or_insert(Dial { uri, origin: origin.clone() });
                    }
                }
            }
            _ => {
                wanted
                    .entry(target.uri.to_string())
                    .or_insert(Dial { uri: target.uri.clone(), origin: None });
            }
        }
    }
    wanted
}

/// Keeps the balancer's endpoints equal to what the targets resolve to, until the channel is
/// dropped.
async fn resolve_forever(
    targets: Vec<Target>,
    settings: ChannelSettings,
    resolver: Resolver,
    changes: Sender<Change<String, Endpoint>>,
) {
    let mut found: Vec<Found> = targets
        .iter()
        .map(|target| if target.fixed() { Found::AsWritten } else { Found::Addresses(BTreeSet::new()) })
        .collect();
    let mut current: BTreeMap<String, Dial> = BTreeMap::new();
    let mut failures = vec![0u32; targets.len()];
    let mut first = true;
    loop {
        // The first pass publishes the names themselves before any lookup, so calls made while
        // DNS is slow are dialled by name instead of waiting in an empty balancer.
        if !first {
            let lookups = targets.iter().map(|target| async {
                if target.fixed() {
                    return None;
                }
                let lookup = resolver(target.host.clone(), target.port);
                Some(match tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
                    Ok(result) => result,
                    Err(_) => Err(std::io::Error::other("the lookup timed out")),
                })
            });
            let answers = futures_util::future::join_all(lookups).await;
            for ((target, found), (answer, failed)) in
                targets.iter().zip(found.iter_mut()).zip(answers.into_iter().zip(failures.iter_mut()))
            {
                match answer {
                    None => {}
                    Some(Ok(addresses)) => {
                        *failed = 0;
                        *found = Found::Addresses(addresses.into_iter().collect());
                    }
                    // Keep what was last seen for a while: a DNS hiccup must not empty a healthy
                    // upstream. A name that keeps failing (a headless Service whose pods are all
                    // gone answers NXDOMAIN) falls back to the name, so calls fail fast instead
                    // of going on to addresses that left.
                    Some(Err(error)) => {
                        *failed += 1;
                        tracing::warn!(host = %target.host, %error, failures = *failed, "cannot resolve upstream");
                        if *failed >= STALE_LOOKUPS {
                            *found = Found::Addresses(BTreeSet::new());
                        }
                    }
                }
            }
        }
        let next = wanted(&targets, &found);
        for (key, dial) in &next {
            if current.get(key) == Some(dial) {
                continue;
            }
            let mut endpoint = endpoint(&dial.uri, &settings);
            if let Some(origin) = &dial.origin {
                endpoint = endpoint.origin(origin.clone());
            }
            tracing::info!(endpoint = %key, "upstream endpoint added");
            if changes.send(Change::Insert(key.clone(), endpoint)).await.is_err() {
                return;
            }
        }
        for key in current.keys().filter(|key| !next.contains_key(*key)) {
            tracing::info!(endpoint = %key, "upstream endpoint removed");
            if changes.send(Change::Remove(key.clone())).await.is_err() {
                return;
            }
        }
        current = next;
        // Straight from the names to the first lookup.
        if std::mem::take(&mut first) {
            continue;
        }
        tokio::select! {
            _ = changes.closed() => return,
            _ = tokio::time::sleep(settings.resolve_every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    use super::*;

    fn settings() -> ChannelSettings {
        ChannelSettings {
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            resolve_every: Duration::from_millis(50),
        }
    }

    #[test]
    fn a_setting_is_one_url_or_a_list_and_bad_ones_are_named() {
        let list = targets("ENGINE_URL", " http://engine-0:50051 , http://10.0.0.7:50051,").expect("ok");
        assert_eq!(list.len(), 2);
        assert_eq!((list[0].host.as_str(), list[0].port, list[0].fixed()), ("engine-0", 50051, false));
        assert_eq!((list[1].host.as_str(), list[1].fixed()), ("10.0.0.7", true));
        assert!(targets("X", "http://[::1]:1").expect("ok")[0].fixed());
        assert!(targets("X", "http://LOCALHOST:1").expect("ok")[0].fixed());
        assert_eq!(targets("X", "http://engine").expect("ok")[0].port, 80);
        for bad in
            ["", " , ", "engine:50051", "ftp://engine:1", "https://engine:1", "http://", "http://a b:1"]
        {
            let error = targets("ENGINE_URL", bad).expect_err("refused").to_string();
            assert!(error.starts_with("ENGINE_URL"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn the_wanted_set_is_never_empty_and_resolved_calls_keep_the_name_as_authority() {
        let list = targets("X", "http://engine:50051,http://10.0.0.9:50051").expect("ok");
        let a: SocketAddr = "10.1.0.1:50051".parse().expect("ok");
        let b: SocketAddr = "[fd00::2]:50051".parse().expect("ok");
        let resolved = wanted(&list, &[Found::Addresses([a, b].into()), Found::AsWritten]);
        let keys: Vec<&str> = resolved.keys().map(String::as_str).collect();
        assert_eq!(keys, ["10.1.0.1:50051", "[fd00::2]:50051", "http://10.0.0.9:50051/"]);
        assert_eq!(resolved[&b.to_string()].uri, "http://[fd00::2]:50051".parse::<Uri>().expect("ok"));
        assert_eq!(resolved[&a.to_string()].origin, Some("http://engine:50051".parse().expect("ok")));
        // Nothing known for the name: the name itself stands in, so calls fail fast.
        let unknown = wanted(&list[..1], &[Found::Addresses(BTreeSet::new())]);
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown.values().next().expect("ok").uri, list[0].uri);
    }

    /// A gRPC server that reports one named service as serving, so a caller can tell which
    /// server answered: `Check(name)` is OK only there.
    async fn server(name: &str) -> SocketAddr {
        let (reporter, service) = tonic_health::server::health_reporter();
        reporter.set_service_status(name, tonic_health::ServingStatus::Serving).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("ok");
        let addr = listener.local_addr().expect("ok");
        tokio::spawn(async move {
            // Keep the reporter alive with the server.
            let _reporter = reporter;
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
        });
        addr
    }

    /// How many of `calls` checks of `name` the server reporting it answered.
    async fn answered_by(channel: &Channel, name: &str, calls: usize) -> usize {
        let mut client = HealthClient::new(channel.clone());
        let mut hits = 0;
        for _ in 0..calls {
            let request = HealthCheckRequest { service: name.to_owned() };
            match client.check(request).await {
                Ok(_) => hits += 1,
                Err(status) => assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}"),
            }
        }
        hits
    }

    #[tokio::test]
    async fn calls_follow_the_names_addresses_as_they_change() {
        let a = server("a").await;
        let b = server("b").await;
        let answer: Arc<Mutex<std::io::Result<Vec<SocketAddr>>>> = Arc::new(Mutex::new(Ok(vec![a])));
        let (shared, lookups) = (answer.clone(), Arc::new(std::sync::atomic::AtomicU32::new(0)));
        let counted = lookups.clone();
        let resolver: Resolver = Arc::new(move |host, _port| {
            assert_eq!(host, "engine.test");
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let answer = match &*shared.lock().expect("ok") {
                Ok(addresses) => Ok(addresses.clone()),
                Err(error) => Err(std::io::Error::new(error.kind(), error.to_string())),
            };
            Box::pin(async move { answer })
        });
        let channel =
            channel_with("ENGINE_URL", "http://engine.test:50051", &settings(), resolver).expect("ok");
        let settle = || tokio::time::sleep(Duration::from_millis(300));

        settle().await;
        assert_eq!(answered_by(&channel, "a", 20).await, 20, "one address: every call goes there");

        *answer.lock().expect("ok") = Ok(vec![a, b]);
        settle().await;
        let on_a = answered_by(&channel, "a", 60).await;
        assert!((10..=50).contains(&on_a), "two replicas share the calls: {on_a} of 60 went to a");

        *answer.lock().expect("ok") = Ok(vec![b]);
        settle().await;
        assert_eq!(answered_by(&channel, "b", 20).await, 20, "a replica that left gets no calls");

        // A failed lookup keeps the last addresses; STALE_LOOKUPS failures in a row drop them
        // for the name (`.test` does not resolve), so calls fail rather than go to an address
        // that may have left.
        let lookups_after = |n: u32| {
            let lookups = lookups.clone();
            async move {
                let start = lookups.load(std::sync::atomic::Ordering::SeqCst);
                while lookups.load(std::sync::atomic::Ordering::SeqCst) < start + n {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        };
        *answer.lock().expect("ok") = Err(std::io::Error::other("DNS is down"));
        lookups_after(1).await;
        assert_eq!(answered_by(&channel, "b", 5).await, 5, "a failed lookup keeps the last addresses");
        lookups_after(STALE_LOOKUPS + 1).await;
        let mut client = HealthClient::new(channel.clone());
        let status =
            client.check(HealthCheckRequest { service: "b".into() }).await.expect_err("the name stands in");
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    }

    #[tokio::test]
    async fn a_name_with_no_address_fails_calls_instead_of_holding_them() {
        let resolver: Resolver = Arc::new(|_, _| Box::pin(async { Ok(Vec::new()) }));
        // `.invalid` never resolves (RFC 6761), so the stand-in endpoint fails to connect.
        let channel =
            channel_with("ENGINE_URL", "http://engine.invalid:50051", &settings(), resolver).expect("ok");
        let mut client = HealthClient::new(channel);
        let call = client.check(HealthCheckRequest { service: String::new() });
        let outcome = tokio::time::timeout(Duration::from_secs(10), call).await;
        let status =
            outcome.expect("the call must not wait for an address that never comes").expect_err("refused");
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    }

    #[tokio::test]
    async fn a_list_spreads_calls_over_every_url() {
        let a = server("a").await;
        let b = server("b").await;
        let channel = channel("ENGINE_URL", &format!("http://{a},http://{b}"), &settings()).expect("ok");
        let on_a = answered_by(&channel, "a", 60).await;
        assert!((10..=50).contains(&on_a), "{on_a} of 60 went to a");
    }
}
