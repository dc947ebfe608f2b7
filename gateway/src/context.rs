//! Request ids and forwarding: what an incoming HTTP request carries on to every gRPC call.
//!
//! The middleware stores the request's id, bearer token and trace headers in a task-local for
//! the life of the request; the tonic client interceptor reads it and sets gRPC metadata. So
//! handlers never thread headers through by hand, and none can forget to.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tracing::Instrument;
use uuid::Uuid;

/// The request id header, set here when the client did not send one.
pub const REQUEST_ID: &str = "x-request-id";

/// What a request forwards upstream.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// `x-request-id`.
    pub request_id: String,
    /// The raw `Authorization` header, forwarded so backends verify the token themselves.
    pub authorization: Option<String>,
    /// W3C `traceparent`.
    pub traceparent: Option<String>,
    /// W3C `tracestate`.
    pub tracestate: Option<String>,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

/// Sets a request id (keeping a sane client-sent one), scopes the context, echoes the id.
pub async fn propagate(mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let request_id = header(REQUEST_ID)
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    let context = RequestContext {
        authorization: header("authorization"),
        traceparent: header("traceparent"),
        tracestate: header("tracestate"),
        request_id: request_id.clone(),
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        request.headers_mut().insert(REQUEST_ID, value);
    }
    let span = tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %request_id);
    let mut response = CONTEXT.scope(context, next.run(request).instrument(span)).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The tonic client interceptor that copies the current request's context into metadata.
#[derive(Debug, Clone, Copy, Default)]
pub struct ForwardContext;

impl Interceptor for ForwardContext {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let _ = CONTEXT.try_with(|context| {
            let metadata = request.metadata_mut();
            let mut set = |name: &'static str, value: Option<&str>| {
                if let Some(value) = value.and_then(|v| MetadataValue::try_from(v).ok()) {
                    metadata.insert(name, value);
                }
            };
            set("x-request-id", Some(&context.request_id));
            set("authorization", context.authorization.as_deref());
            set("traceparent", context.traceparent.as_deref());
            set("tracestate", context.tracestate.as_deref());
        });
        Ok(request)
    }
}
