//! Where the shared servers are: PostgreSQL, RabbitMQ, Redis and the SMTP sink, each from
//! its environment variable or the local default, and the URL helpers that point at them.

use std::net::SocketAddr;

/// PostgreSQL server URL used to create per-test databases (`TEST_DATABASE_URL`).
pub fn admin_database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The broker (`AMQP_URL`).
pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// The Redis server (`REDIS_URL`).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The SMTP sink's SMTP address (`MAIL_SINK_SMTP`, default 127.0.0.1:1025): a real server
/// process (maildev), which `make test` starts when none listens.
pub fn mail_sink_smtp() -> SocketAddr {
    std::env::var("MAIL_SINK_SMTP")
        .ok()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| ([127, 0, 0, 1], 1025).into())
}

/// The sink's HTTP API (`MAIL_SINK_API`, default http://127.0.0.1:1080).
pub fn mail_sink_api() -> String {
    std::env::var("MAIL_SINK_API").unwrap_or_else(|_| "http://127.0.0.1:1080".into())
}

/// The `host:port` a server URL points at (`localhost` read as 127.0.0.1).
pub fn url_addr(url: &str, default_port: u16) -> SocketAddr {
    let authority = url.split("://").nth(1).unwrap_or("").split('/').next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("").replace("localhost", "127.0.0.1");
    let host_port = if host_port.contains(':') { host_port } else { format!("{host_port}:{default_port}") };
    host_port.parse().expect("the URL names host:port")
}

/// `url` with its `host:port` replaced by `addr`.
pub(crate) fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let credentials = authority.rsplit_once('@').map(|(c, _)| format!("{c}@")).unwrap_or_default();
    format!("{scheme}://{credentials}{addr}/{path}")
}
