//! Rate limits at the edge, per request: per client IP on public routes, tighter on login and
//! register, per user on authenticated routes, with the limiters of `limits`.
//!
//! Every answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
//! (draft-ietf-httpapi-ratelimit-headers); a refused request gets 429 with `Retry-After`.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::identity::{AuthUser, bearer};
use crate::limits::{Class, ClientIp, Decision, Store, check_redis, limit_key};
use crate::state::AppState;

/// The middleware: resolves the client IP, picks the class and key, and refuses over the limit.
///
/// A valid bearer token makes the request count against its user; the verified caller is left
/// in the extensions for `require_token`, so the signature is checked once.
pub async fn limit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let limits = state.rate_limits.clone();
    // `context::propagate`, outermost, resolves it for every request; the unspecified
    // address is only a guard should a router ever be built without it.
    let ip = request.extensions().get::<ClientIp>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0);
    let path = request.uri().path();
    if !limits.config.enabled || matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return next.run(request).await;
    }
    let user = bearer(request.headers()).and_then(|token| state.verifier.verify(token).ok());
    let class = match (&user, path) {
        (
            _,
            "/api/v1/auth/login"
            | "/api/v1/auth/register"
            | "/api/v1/auth/password-reset"
            | "/api/v1/auth/password-reset/confirm"
            | "/api/v1/auth/verify-email"
            | "/api/v1/auth/mfa",
        ) => Class::Auth,
        (Some(_), _) => Class::User,
        (None, _) => Class::Public,
    };
    if let Some(claims) = &user {
        request.extensions_mut().insert(AuthUser { user_id: claims.sub, expires_at: claims.exp });
    }
    let user_id = user.map(|c| c.sub);
    let decision = match limits.config.store {
        Store::Memory => Some(limits.check_memory(class, ip, user_id)),
        Store::Redis => {
            let subject = match (class, user_id) {
                (Class::User, Some(user)) => user.to_string(),
                _ => limit_key(ip).to_string(),
            };
            let prefix = &state.config.redis_key_prefix;
            match check_redis(&state.redis, prefix, class, limits.limit(class), &subject).await {
                Ok(decision) => Some(decision),
                // Failing open: a limiter outage must not take the API down with it.
                Err(error) => {
                    tracing::warn!(%error, "shared rate limit unavailable; request let through");
                    None
                }
            }
        }
    };
    let Some(decision) = decision else { return next.run(request).await };
    if !decision.allowed {
        metrics::counter!("gateway_rate_limited_total", "class" => class.name()).increment(1);
        let detail = "too many requests; slow down and retry after the time in Retry-After";
        let mut response =
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, detail).retry_after(decision.reset).into_response();
        set_headers(response.headers_mut(), decision);
        return response;
    }
    let mut response = next.run(request).await;
    set_headers(response.headers_mut(), decision);
    response
}

fn set_headers(headers: &mut HeaderMap, decision: Decision) {
    headers.insert("ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(decision.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(decision.reset));
}
