//! gRPC server bootstrap shared by the backend services: health, reflection, the auth
//! interceptor, and the per-call context (caller, request id, trace headers).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tonic::service::Interceptor;
use tonic::transport::server::{Router, TcpIncoming};
use tonic::{Request, Status};
use uuid::Uuid;

use crate::events::EventContext;
use crate::jwt::{TokenError, TokenVerifier};

/// Metadata key carrying the request id from the gateway.
pub const REQUEST_ID: &str = "x-request-id";

/// The authenticated caller of a gRPC method, put in the request extensions by [`AuthInterceptor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The user id from the token's `sub`.
    pub user_id: Uuid,
}

/// Verifies the bearer token of every call, again: the gateway already did, but a backend
/// never trusts its network (defence in depth).
#[derive(Clone)]
pub struct AuthInterceptor {
    verifier: Arc<TokenVerifier>,
}

impl AuthInterceptor {
    /// An interceptor that checks tokens with `verifier`.
    pub fn new(verifier: Arc<TokenVerifier>) -> AuthInterceptor {
        AuthInterceptor { verifier }
    }
}

impl Interceptor for AuthInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
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
        request.extensions_mut().insert(Caller { user_id: claims.sub });
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
    EventContext {
        user_id,
        correlation_id: header(REQUEST_ID),
        traceparent: header("traceparent"),
        tracestate: header("tracestate"),
    }
}

/// Builds the health and reflection services every backend serves; returns the reporter so
/// the caller can mark its own services serving.
pub fn health_and_reflection(
    router_builder: &mut tonic::transport::Server,
) -> anyhow::Result<(tonic_health::server::HealthReporter, Router)> {
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
    router: Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    router.serve_with_incoming_shutdown(incoming, shutdown).await?;
    Ok(())
}
