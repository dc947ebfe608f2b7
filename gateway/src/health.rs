//! `/healthz` (the process is alive) and `/readyz` (every upstream answers).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::state::AppState;

/// How long one readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness: answers as long as the process serves HTTP.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: gRPC health of each backend and a Redis PING, probed concurrently.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let grpc = state.upstreams.iter().map(|(name, channel)| {
        let channel = channel.clone();
        async move {
            let mut client = HealthClient::new(channel);
            let probe = client.check(HealthCheckRequest { service: String::new() });
            let ok = matches!(
                tokio::time::timeout(PROBE_TIMEOUT, probe).await,
                Ok(Ok(response)) if response.get_ref().status() == ServingStatus::Serving
            );
            (*name, ok)
        }
    });
    let mut redis = state.redis.clone();
    let redis_probe = async move {
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut redis);
        ("redis", matches!(tokio::time::timeout(PROBE_TIMEOUT, ping).await, Ok(Ok(_))))
    };
    let (mut results, redis_result) = tokio::join!(futures_util::future::join_all(grpc), redis_probe);
    results.push(redis_result);
    let ready = results.iter().all(|(_, ok)| *ok);
    let checks: serde_json::Map<String, serde_json::Value> = results
        .into_iter()
        .map(|(name, ok)| (name.to_owned(), json!(if ok { "ok" } else { "unavailable" })))
        .collect();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = Json(json!({ "status": if ready { "ready" } else { "not_ready" }, "checks": checks }));
    let mut response = (status, body).into_response();
    if !ready {
        response.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("5"));
    }
    response
}
