//! `/healthz` (the process is alive) and `/readyz` (the gateway can serve).
//!
//! Readiness asks whether taking this replica out of rotation would help anyone. A backend
//! that is down is down for every replica alike, and the routes of the other backends still
//! work, so one backend down (breaker open or probe failing) reports `degraded` with 200.
//! Only when no backend answers, or Redis (idempotency records, shared limits) is
//! unreachable, is the replica unready.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use utoipa::ToSchema;

use crate::breaker::BreakerState;
use crate::state::AppState;

/// How long one readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a readiness answer is reused. `/readyz` is on the public listener and fans out to
/// every backend and Redis, so without this anyone could multiply our internal traffic.
const READINESS_FRESH: Duration = Duration::from_secs(1);

/// `GET /healthz`'s answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: String,
}

/// `GET /readyz`'s answer.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`, `degraded` (a backend is down, the others serve) or `not_ready`.
    #[schema(example = "ready")]
    status: String,
    /// Each backend and Redis by name, e.g. `{"engine": "ok", "redis": "ok"}`.
    checks: BTreeMap<String, String>,
}

/// Liveness: answers as long as the process serves HTTP.
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".to_owned() })
}

/// Readiness: gRPC health of each backend (past its breaker) and a Redis PING, concurrently,
/// at most once a second: later calls within the second share the answer, and calls during a
/// probe wait for it rather than start another.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let mut cached = state.readiness.lock().await;
    let (status, body) = match cached.as_ref() {
        Some((at, status, body)) if at.elapsed() < READINESS_FRESH => (*status, body.clone()),
        _ => {
            let (status, readiness) = probe(&state).await;
            let body = serde_json::to_string(&readiness).unwrap_or_default();
            *cached = Some((std::time::Instant::now(), status.as_u16(), body.clone()));
            (status.as_u16(), body)
        }
    };
    drop(cached);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut response =
        (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response();
    if !status.is_success() {
        response.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("5"));
    }
    response
}

/// Probes every backend and Redis once.
async fn probe(state: &AppState) -> (StatusCode, Readiness) {
    let grpc = state.upstreams.iter().map(|backend| {
        let (name, channel, breaker) = (backend.name, backend.channel.clone(), backend.breaker.clone());
        async move {
            let mut client = HealthClient::new(channel);
            let probe = client.check(HealthCheckRequest { service: String::new() });
            let ok = matches!(
                tokio::time::timeout(PROBE_TIMEOUT, probe).await,
                Ok(Ok(response)) if response.get_ref().status() == ServingStatus::Serving
            );
            let state = match (ok, breaker.state()) {
                (true, BreakerState::Closed) => "ok",
                (true, _) => "recovering",
                (false, BreakerState::Open) => "breaker_open",
                (false, _) => "unavailable",
            };
            (name, ok, state)
        }
    });
    let mut redis = state.redis.clone();
    let redis_probe = async move {
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut redis);
        matches!(tokio::time::timeout(PROBE_TIMEOUT, ping).await, Ok(Ok(_)))
    };
    let (backends, redis_ok) = tokio::join!(futures_util::future::join_all(grpc), redis_probe);
    let serving = backends.iter().filter(|(_, ok, _)| *ok).count();
    let ready = redis_ok && serving > 0;
    let mut checks: BTreeMap<String, String> =
        backends.iter().map(|(name, _, state)| ((*name).to_owned(), (*state).to_owned())).collect();
    checks.insert("redis".into(), if redis_ok { "ok" } else { "unavailable" }.to_owned());
    let label = match (ready, serving == backends.len()) {
        (false, _) => "not_ready",
        (true, true) => "ready",
        (true, false) => "degraded",
    };
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Readiness { status: label.to_owned(), checks })
}
