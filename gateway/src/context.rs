//! Request ids and forwarding: what an incoming HTTP request carries on to every gRPC call.
//!
//! The middleware stores the request's id, bearer token and client details in a task-local for
//! the life of the request; the tonic client interceptor reads it and sets gRPC metadata. So
//! handlers never thread headers through by hand, and none can forget to.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use uuid::Uuid;

pub use budgetsmart_common::headers::REQUEST_ID;

use crate::forward::{CONTEXT, RequestContext};
use crate::limits::ClientIp;
use crate::state::AppState;

/// The longest user agent forwarded; the audit log keeps 256 characters of it.
const MAX_USER_AGENT: usize = 512;

/// Sets a request id (keeping a sane client-sent one), resolves the client address, opens the
/// request's span (continuing the client's trace if it sent one), scopes the context, and
/// echoes the id.
pub async fn propagate(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let request_id = header(REQUEST_ID)
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    let client_ip = state.rate_limits.client_ip(peer.ip(), headers);
    let context = RequestContext {
        authorization: header("authorization"),
        client_ip: Some(client_ip.to_string()),
        user_agent: header("user-agent").map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
        idempotency_key: (request.method() == Method::POST).then(|| header("idempotency-key")).flatten(),
        request_id: request_id.clone(),
    };
    // The span is named by the route template, as OpenTelemetry's HTTP conventions ask:
    // a raw path with ids in it would make every request a span name of its own.
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str);
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format!("{} {route}", request.method()),
        otel.kind = "server",
        service = "gateway",
        method = %request.method(),
        http.route = route,
        path = %request.uri().path(),
        request_id = %request_id,
        http.response.status_code = tracing::field::Empty,
    );
    budgetsmart_common::telemetry::set_parent(
        &span,
        header("traceparent").as_deref(),
        header("tracestate").as_deref(),
    );
    request.extensions_mut().insert(ClientIp(client_ip));
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        request.headers_mut().insert(REQUEST_ID, value);
    }
    let mut response = CONTEXT.scope(context, next.run(request).instrument(span.clone())).await;
    span.record("http.response.status_code", response.status().as_u16());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}
