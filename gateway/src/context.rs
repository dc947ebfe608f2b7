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
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tracing::Instrument;
use uuid::Uuid;

use crate::rate_limit::ClientIp;
use crate::state::AppState;

/// The request id header, set here when the client did not send one.
pub const REQUEST_ID: &str = "x-request-id";

/// What a request forwards upstream.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// `x-request-id`.
    pub request_id: String,
    /// The raw `Authorization` header, forwarded so backends verify the token themselves.
    pub authorization: Option<String>,
    /// The client's address (see [`crate::rate_limit::RateLimits::client_ip`]).
    pub client_ip: Option<String>,
    /// `User-Agent`, for the audit log.
    pub user_agent: Option<String>,
    /// `Idempotency-Key` of a POST, so the engine records it in its own transaction.
    pub idempotency_key: Option<String>,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

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

/// The tonic client interceptor that copies the current request's context into metadata,
/// with the trace context of the current span (the request's, or a child of it), and for the
/// engine the gateway's credential, without which it does not trust the client address.
#[derive(Debug, Clone, Default)]
pub struct ForwardContext {
    /// `GATEWAY_TOKEN`, for the engine's channel only.
    pub credential: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl Interceptor for ForwardContext {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let (traceparent, tracestate) = budgetsmart_common::telemetry::current_trace_headers();
        let metadata = request.metadata_mut();
        if let Some(credential) = &self.credential {
            metadata.insert(budgetsmart_common::grpc::GATEWAY_TOKEN, credential.clone());
        }
        let mut set = |name: &'static str, value: Option<&str>| {
            if let Some(value) = value.and_then(|v| MetadataValue::try_from(v).ok()) {
                metadata.insert(name, value);
            }
        };
        set("traceparent", traceparent.as_deref());
        set("tracestate", tracestate.as_deref());
        let _ = CONTEXT.try_with(|context| {
            set("x-request-id", Some(&context.request_id));
            set("authorization", context.authorization.as_deref());
            set("x-client-ip", context.client_ip.as_deref());
            set("x-user-agent", context.user_agent.as_deref());
            set("idempotency-key", context.idempotency_key.as_deref());
        });
        Ok(request)
    }
}
