//! What every answer gets at the edge: security headers, CORS, a deadline for the whole
//! request, and problem+json where axum would answer with an empty body.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;
use crate::state::AppState;

/// The API serves JSON to programs: nothing in it should ever run, frame or be cached.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// Swagger UI is a page with its own (embedded) scripts and styles, and nothing from elsewhere.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

/// Adds security headers the handler did not set itself.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let docs = request.uri().path().starts_with("/docs");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains");
    set(header::CONTENT_SECURITY_POLICY, if docs { DOCS_CSP } else { API_CSP });
    // Answers hold one person's finances; no shared cache may keep them.
    set(header::CACHE_CONTROL, "no-store");
    response
}

/// Bounds the time to produce an answer's head (reading the body included), so a client that
/// trickles its body cannot hold a connection and a task forever. Streams (SSE) return their
/// head at once and are not cut.
pub async fn deadline(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(state.config.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(StatusCode::REQUEST_TIMEOUT, "the request took too long").into_response(),
    }
}

/// CORS from `CORS_ALLOWED_ORIGINS`; `None` when no origin is allowed (no headers at all).
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let names = |list: &[&'static str]| list.iter().map(|n| HeaderName::from_static(n)).collect::<Vec<_>>();
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers(names(&[
                "authorization",
                "content-type",
                "idempotency-key",
                "last-event-id",
                "x-request-id",
            ]))
            .expose_headers(names(&[
                "x-request-id",
                "retry-after",
                "ratelimit-limit",
                "ratelimit-remaining",
                "ratelimit-reset",
                "idempotent-replayed",
            ]))
            .max_age(Duration::from_secs(600)),
    )
}

/// Guards `/metrics` on the public port: only peers in `METRICS_ALLOWED_NETWORKS`, and never
/// through a proxy. It tells anyone else there is nothing here (404), as for any unknown path.
/// The series name routes and upstreams, not users, but they still map the system for an
/// attacker, and scraping them costs a render.
pub async fn metrics_access(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let peer = peer.ip().to_canonical();
    let relayed =
        request.headers().contains_key("x-forwarded-for") || request.headers().contains_key("forwarded");
    if relayed || !state.config.metrics_networks.iter().any(|net| net.contains(&peer)) {
        return not_found().await;
    }
    next.run(request).await
}

/// 405 as problem+json (axum's own has an empty body).
pub async fn method_not_allowed() -> Response {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this method is not allowed on this path").into_response()
}

/// 404 as problem+json.
pub async fn not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "no such route").into_response()
}
