//! Bearer-token verification for protected routes.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use budgetsmart_common::jwt::TokenError;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// The verified caller of a protected route.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    /// The user id from the token's `sub`.
    pub user_id: Uuid,
}

/// The bearer token of `Authorization`, if any.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
}

/// Rejects requests without a valid access token with 401 and `WWW-Authenticate`.
///
/// The rate limiter, which runs first, already verified the token to key its limit by user;
/// it leaves the caller in the extensions, and then the signature is not checked twice.
pub async fn require_token(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if request.extensions().get::<AuthUser>().is_some() {
        return next.run(request).await;
    }
    let verified = match bearer(request.headers()) {
        None => Err("a bearer access token is required"),
        Some(token) => state.verifier.verify(token).map_err(|e| match e {
            TokenError::Expired => "the access token has expired",
            TokenError::Invalid(_) => "the access token is invalid",
        }),
    };
    match verified {
        Ok(claims) => {
            request.extensions_mut().insert(AuthUser { user_id: claims.sub });
            next.run(request).await
        }
        Err(detail) => {
            let mut response = ApiError::new(StatusCode::UNAUTHORIZED, detail).into_response();
            response.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer realm=\"budgetsmart\""),
            );
            response
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AuthUser>()
            .copied()
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "a bearer access token is required"))
    }
}
