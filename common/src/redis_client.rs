//! Connecting to Redis, in plain text or over TLS (rustls), as `REDIS_URL` says.
//!
//! `rediss://` turns TLS on. The server's certificate is checked against the Mozilla roots
//! compiled in (webpki-roots), which managed Redis services' certificates chain to; for a
//! private CA, `REDIS_CA_FILE` names its PEM bundle, which then replaces those roots. The
//! hostname is always verified.

use redis::aio::ConnectionManager;

/// The PEM file named by `REDIS_CA_FILE`, when it is set.
pub fn ca_file_setting() -> Option<String> {
    crate::config::optional("REDIS_CA_FILE")
}

/// A client for `url`, trusting `ca_file` (a PEM bundle) instead of the built-in roots if given.
pub fn client(url: &str, ca_file: Option<&str>) -> anyhow::Result<redis::Client> {
    let Some(ca_file) = ca_file else {
        return redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("REDIS_URL is not a valid Redis URL: {e}"));
    };
    if !url.starts_with("rediss://") {
        anyhow::bail!("REDIS_CA_FILE is set but REDIS_URL is not a rediss:// (TLS) URL");
    }
    let root_cert =
        std::fs::read(ca_file).map_err(|e| anyhow::anyhow!("REDIS_CA_FILE {ca_file} cannot be read: {e}"))?;
    let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(root_cert) };
    redis::Client::build_with_tls(url, certificates)
        .map_err(|e| anyhow::anyhow!("REDIS_URL or REDIS_CA_FILE is not usable: {e}"))
}

/// A reconnecting connection to `url` (see [`client`]), checked once now.
pub async fn connect(url: &str, ca_file: Option<&str>) -> anyhow::Result<ConnectionManager> {
    ConnectionManager::new(client(url, ca_file)?)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach Redis at REDIS_URL: {e}"))
}
