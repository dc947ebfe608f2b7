//! Loading reference rates, and counting what waited for them.
//!
//! A file comes from the operator (`engine rates import FILE`) or from `RATES_URL` on a
//! schedule. Either way it is parsed whole and stored in one transaction, or refused whole with
//! the rates already loaded untouched; then every transaction whose rate was pending and is
//! now known is converted (`transactions::reexpress::resolve_pending`).

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::error::AppResult;
use crate::rates::{ecb, store};
use crate::transactions::reexpress;

/// What one load did.
#[derive(Debug)]
pub struct Applied {
    pub loaded: store::Loaded,
    /// Currencies in the file that ISO 4217 no longer lists, skipped.
    pub skipped_currencies: Vec<String>,
    /// Pending transactions now counted.
    pub resolved: u64,
}

/// Why a load failed: the file (refused whole), or the database.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the rate file was refused, nothing was loaded: {0}")]
    Unreadable(#[from] ecb::Unreadable),
    #[error(transparent)]
    Store(#[from] crate::error::AppError),
}

/// Parses and stores one ECB file, then counts what waited for it.
pub async fn apply(pool: &PgPool, bytes: &[u8]) -> Result<Applied, LoadError> {
    let parsed = ecb::parse(bytes)?;
    let loaded = store_all(pool, &parsed).await?;
    let resolved = reexpress::resolve_pending(pool).await?;
    metrics::counter!("engine_rate_days_loaded_total").increment(loaded.days as u64);
    Ok(Applied { loaded, skipped_currencies: parsed.skipped_currencies, resolved })
}

async fn store_all(pool: &PgPool, parsed: &ecb::Parsed) -> AppResult<store::Loaded> {
    let mut tx = pool.begin().await?;
    let loaded = store::load(&mut tx, parsed).await?;
    tx.commit().await?;
    Ok(loaded)
}

/// `engine rates import FILE`: loads a file into the database at `database_url`.
pub async fn import_file(database_url: &str, path: &str) -> anyhow::Result<()> {
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {path}: {e}"))?;
    let pool = budgetsmart_common::database::connect(database_url, crate::SCHEMA, 2).await?;
    let applied = apply(&pool, &bytes).await?;
    let store::Loaded { days, rates, first, last } = applied.loaded;
    let span = match (first, last) {
        (Some(first), Some(last)) => format!("{first} to {last}"),
        _ => "no days".to_owned(),
    };
    println!(
        "loaded {rates} rates over {days} days ({span}); {} waiting transactions now counted",
        applied.resolved
    );
    if !applied.skipped_currencies.is_empty() {
        println!("skipped currencies ISO 4217 no longer lists: {}", applied.skipped_currencies.join(", "));
    }
    Ok(())
}

/// The HTTP(S) client of the scheduled fetch.
type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Empty<hyper::body::Bytes>,
>;

/// Longest a fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest file accepted: the whole historical XML is about 7 MB.
const MAX_FILE_BYTES: usize = 32 * 1024 * 1024;

/// Fetches `url` every `every` until `shutdown`, loading what it serves. A failed fetch or a
/// refused file is logged and counted, and the next round tries again; nothing is lost since
/// a pending transaction simply waits.
pub async fn fetch_on_schedule(pool: PgPool, url: String, every: Duration, shutdown: CancellationToken) {
    let connector = match hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(tokio_rustls::rustls::crypto::ring::default_provider())
    {
        Ok(builder) => builder.https_or_http().enable_http1().build(),
        Err(error) => {
            tracing::error!(%error, "cannot set up TLS for RATES_URL; rates will not be fetched");
            return;
        }
    };
    let client: Client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let outcome = match fetch(&client, &url).await {
            Ok(bytes) => apply(&pool, &bytes).await.map_err(|e| format!("{e:#}")),
            Err(error) => Err(error),
        };
        match outcome {
            Ok(applied) => {
                metrics::counter!("engine_rate_fetches_total", "outcome" => "loaded").increment(1);
                tracing::info!(
                    days = applied.loaded.days,
                    resolved = applied.resolved,
                    "reference rates fetched"
                );
            }
            Err(error) => {
                metrics::counter!("engine_rate_fetches_total", "outcome" => "failed").increment(1);
                tracing::warn!(%url, %error, "reference rates not fetched; the next round tries again");
            }
        }
    }
}

async fn fetch(client: &Client, url: &str) -> Result<Vec<u8>, String> {
    use http_body_util::BodyExt;
    let uri: hyper::Uri = url.parse().map_err(|e| format!("RATES_URL is not a URL: {e}"))?;
    let response = tokio::time::timeout(FETCH_TIMEOUT, client.get(uri))
        .await
        .map_err(|_| format!("{url} did not answer within {FETCH_TIMEOUT:?}"))?
        .map_err(|e| format!("{e:#}"))?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    let limited = http_body_util::Limited::new(response.into_body(), MAX_FILE_BYTES);
    let body = tokio::time::timeout(FETCH_TIMEOUT, limited.collect())
        .await
        .map_err(|_| format!("{url} sent its file too slowly"))?
        .map_err(|e| format!("reading {url}: {e}"))?;
    Ok(body.to_bytes().to_vec())
}
