//! What an incoming request forwards to every gRPC call: the request's context, held in a
//! task-local for its life (`context::propagate` sets it), and the tonic interceptor that
//! copies it into metadata. Plain types, below the state that builds clients with them.

use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;

/// What a request forwards upstream.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// `x-request-id`.
    pub request_id: String,
    /// The raw `Authorization` header, forwarded so backends verify the token themselves.
    pub authorization: Option<String>,
    /// The client's address (see [`crate::limits::RateLimits::client_ip`]).
    pub client_ip: Option<String>,
    /// `User-Agent`, for the audit log.
    pub user_agent: Option<String>,
    /// `Idempotency-Key` of a POST, so the engine records it in its own transaction.
    pub idempotency_key: Option<String>,
}

tokio::task_local! {
    /// The current request's context, scoped by `context::propagate` for its life.
    pub static CONTEXT: RequestContext;
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
            set(budgetsmart_common::headers::REQUEST_ID, Some(&context.request_id));
            set("authorization", context.authorization.as_deref());
            set("x-client-ip", context.client_ip.as_deref());
            set("x-user-agent", context.user_agent.as_deref());
            set("idempotency-key", context.idempotency_key.as_deref());
        });
        Ok(request)
    }
}
