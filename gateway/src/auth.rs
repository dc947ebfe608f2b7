//! Bearer-token verification for protected routes.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use budgetsmart_common::jwt::TokenError;

use crate::error::ApiError;
pub use crate::identity::{AuthUser, bearer};
use crate::state::AppState;

/// Rejects requests without a valid access token, or with the token of an account deleted
/// since it was issued, with 401 and `WWW-Authenticate`.
///
/// The rate limiter, which runs first, already verified the token to key its limit by user;
/// it leaves the caller in the extensions, and then the signature is not checked twice.
pub async fn require_token(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if let Some(user) = request.extensions().get::<AuthUser>() {
        if state.deleted.contains(user.user_id) {
            return unauthorized(GONE);
        }
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
        Ok(claims) if state.deleted.contains(claims.sub) => unauthorized(GONE),
        Ok(claims) => {
            request.extensions_mut().insert(AuthUser { user_id: claims.sub, expires_at: claims.exp });
            next.run(request).await
        }
        Err(detail) => unauthorized(detail),
    }
}

/// What a deleted account's token is told.
const GONE: &str = "the account of this access token no longer exists";

fn unauthorized(detail: &str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, detail).into_response();
    response
        .headers_mut()
        .insert("www-authenticate", axum::http::HeaderValue::from_static("Bearer realm=\"budgetsmart\""));
    response
}
