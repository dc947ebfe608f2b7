//! gRPC server bootstrap shared by the backend services: health, reflection, the auth
//! interceptor, and the per-call context (caller, request id, trace headers).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::server::{Router, TcpIncoming};
use tonic::{Request, Status};
use uuid::Uuid;

use crate::events::EventContext;
use crate::jwt::{TokenError, TokenVerifier};

/// Metadata key carrying the request id from the gateway (defined with the other names).
pub use crate::headers::REQUEST_ID;
/// Metadata key of the internal service credential (`SERVICE_TOKEN`).
pub const SERVICE_TOKEN: &str = "x-service-token";
/// Metadata key naming the user a service calls for, next to [`SERVICE_TOKEN`].
pub const ON_BEHALF_OF: &str = "x-on-behalf-of";
/// Metadata key of the gateway's credential (`GATEWAY_TOKEN`), with which it vouches for the
/// client address it forwards to the engine.
pub const GATEWAY_TOKEN: &str = "x-gateway-token";

/// The authenticated caller of a gRPC method, put in the request extensions by [`AuthInterceptor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The user id from the token's `sub`.
    pub user_id: Uuid,
    /// The session the token was issued for (`sid`), when it names one.
    pub session: Option<Uuid>,
}

/// Verifies the bearer token of every call, again: the gateway already did, but a backend
/// never trusts its network (defence in depth).
///
/// A service acting for a user without the user present (the monthly summary on the 1st)
/// sends the shared service credential and the user's id instead. The gateway forwards only
/// `authorization` and trace headers, so a client cannot send these through it.
#[derive(Clone)]
pub struct AuthInterceptor {
    verifier: Arc<TokenVerifier>,
    service_token: Arc<[u8; 32]>,
}

impl AuthInterceptor {
    /// An interceptor that checks tokens with `verifier`, and service calls against `service_token`.
    pub fn new(verifier: Arc<TokenVerifier>, service_token: &SecretString) -> AuthInterceptor {
        AuthInterceptor { verifier, service_token: Arc::new(digest(service_token.expose_secret())) }
    }

    fn service_caller(&self, request: &Request<()>) -> Option<Result<Caller, Status>> {
        let token = request.metadata().get(SERVICE_TOKEN)?;
        // Comparing digests keeps the comparison's timing independent of the secret.
        let valid = token.to_str().map(|t| digest(t) == *self.service_token).unwrap_or(false);
        if !valid {
            return Some(Err(Status::unauthenticated("the service credential is invalid")));
        }
        let user = request
            .metadata()
            .get(ON_BEHALF_OF)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Uuid::parse_str(v).ok());
        Some(user.map(|user_id| Caller { user_id, session: None }).ok_or_else(|| {
            Status::unauthenticated(format!("a service call names its user in {ON_BEHALF_OF}"))
        }))
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// The only methods the service credential may call: the reads the notification service
/// needs to write a user's email. A leaked credential can read, never change or delete.
pub const SERVICE_METHODS: &[&str] = &[
    "/budgetsmart.engine.v1.Users/GetMe",
    "/budgetsmart.engine.v1.Categories/ListCategories",
    "/budgetsmart.engine.v1.Budgets/ListBudgets",
    "/budgetsmart.engine.v1.Budgets/GetBudgetStatus",
    "/budgetsmart.engine.v1.Insights/ListInsights",
    "/budgetsmart.analytics.v1.Analytics/GetSummary",
    "/budgetsmart.analytics.v1.Analytics/GetTrends",
    "/budgetsmart.analytics.v1.Analytics/GetForecast",
    "/budgetsmart.analytics.v1.Analytics/ListAnomalies",
    "/budgetsmart.analytics.v1.Analytics/ListRecurring",
    "/budgetsmart.analytics.v1.Analytics/RenderChart",
];

/// Refuses a call carrying the service credential to any method outside [`SERVICE_METHODS`].
/// A layer, because interceptors do not see which method is called.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceScopeLayer;

impl<S> tower::Layer<S> for ServiceScopeLayer {
    type Service = ServiceScope<S>;

    fn layer(&self, inner: S) -> ServiceScope<S> {
        ServiceScope { inner }
    }
}

/// See [`ServiceScopeLayer`].
#[derive(Debug, Clone)]
pub struct ServiceScope<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for ServiceScope<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = futures_util::future::BoxFuture<'static, Result<http::Response<R>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.headers().contains_key(SERVICE_TOKEN) && !SERVICE_METHODS.contains(&request.uri().path()) {
            let refused =
                Status::permission_denied("the service credential may not call this method").into_http();
            return Box::pin(async move { Ok(refused) });
        }
        Box::pin(self.inner.call(request))
    }
}

/// The client side of the service credential: calls made with it act for `user_id`.
#[derive(Clone)]
pub struct ActAs {
    token: MetadataValue<Ascii>,
    user: MetadataValue<Ascii>,
}

impl ActAs {
    /// Calls for `user_id`, authenticated by `service_token`.
    pub fn new(service_token: &SecretString, user_id: Uuid) -> Result<ActAs, Status> {
        let token = MetadataValue::try_from(service_token.expose_secret())
            .map_err(|_| Status::internal("the service credential is not valid metadata"))?;
        let user = MetadataValue::try_from(user_id.to_string())
            .map_err(|_| Status::internal("a user id is always valid metadata"))?;
        Ok(ActAs { token, user })
    }
}

impl Interceptor for ActAs {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request.metadata_mut().insert(SERVICE_TOKEN, self.token.clone());
        request.metadata_mut().insert(ON_BEHALF_OF, self.user.clone());
        Ok(request)
    }
}

impl Interceptor for AuthInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(caller) = self.service_caller(&request) {
            request.extensions_mut().insert(caller?);
            return Ok(request);
        }
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .ok_or_else(|| Status::unauthenticated("a bearer access token is required"))?;
        let claims = self.verifier.verify(token.trim()).map_err(|e| match e {
            TokenError::Expired => Status::unauthenticated("the access token has expired"),
            TokenError::Invalid(_) => Status::unauthenticated("the access token is invalid"),
        })?;
        request.extensions_mut().insert(Caller { user_id: claims.sub, session: claims.sid });
        Ok(request)
    }
}

/// The caller put there by [`AuthInterceptor`]; a method behind it always has one.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .copied()
        .ok_or_else(|| Status::unauthenticated("a bearer access token is required"))
}

/// Request id and trace context of a call, for logs and for the events it causes.
pub fn event_context<T>(request: &Request<T>, user_id: Option<Uuid>) -> EventContext {
    let header = |name: &str| request.metadata().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    // The server span (a child of the caller's) is the event's parent, so the trace runs on
    // through the outbox; the caller's own headers are the fallback outside a span.
    let (traceparent, tracestate) = match crate::telemetry::current_trace_headers() {
        (Some(parent), state) => (Some(parent), state),
        (None, _) => (header("traceparent"), header("tracestate")),
    };
    EventContext { user_id, correlation_id: header(REQUEST_ID), traceparent, tracestate }
}

/// The layers every backend's gRPC server runs: observation outermost, so refusals are
/// counted and traced too.
pub type ServiceLayers = tower::layer::util::Stack<
    ServiceScopeLayer,
    tower::layer::util::Stack<crate::observe::ObserveLayer, tower::layer::util::Identity>,
>;
/// The router every backend's services are added to.
pub type GrpcRouter = Router<ServiceLayers>;

/// Builds the health and reflection services every backend serves; returns the reporter so
/// the caller can mark its own services serving.
pub fn health_and_reflection(
    router_builder: &mut tonic::transport::Server<ServiceLayers>,
) -> anyhow::Result<(tonic_health::server::HealthReporter, GrpcRouter)> {
    let (reporter, health) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(budgetsmart_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let router = router_builder.add_service(health).add_service(reflection);
    Ok((reporter, router))
}

/// Binds a TCP listener and reports the address actually bound (port 0 picks a free one).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener =
        TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains in-flight calls.
pub async fn serve(
    router: GrpcRouter,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    router.serve_with_incoming_shutdown(incoming, shutdown).await?;
    Ok(())
}
