//! The verified caller of a request, and where its token is: plain types below the state and
//! the middleware (`auth::require_token`, `rate_limit::limit`) that fill them in.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::error::ApiError;

/// The verified caller of a protected route.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    /// The user id from the token's `sub`.
    pub user_id: Uuid,
    /// The token's `exp` (Unix seconds). A token accepted inside the verifier's leeway has
    /// one already in the past; what lasts as long as the token (a live stream) ends then.
    pub expires_at: i64,
}

/// The bearer token of `Authorization`, if any.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
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
