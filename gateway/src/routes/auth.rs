//! `/auth/*`: register, login, refresh, logout.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use budgetsmart_proto::engine::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::me::UserJson;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::limits::ClientIp;
use crate::openapi::problems;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[schema(as = Registration)]
pub struct RegisterBody {
    /// Unique among accounts, compared case-insensitively.
    #[schema(format = Email, max_length = 254, example = "ana@example.com")]
    email: String,
    /// 10 to 128 characters; common passwords and the email address are refused.
    #[schema(format = Password, min_length = 10, max_length = 128)]
    password: String,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S", example = "Ana")]
    name: String,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = Credentials)]
pub struct LoginBody {
    #[schema(example = "ana@example.com")]
    email: String,
    #[schema(format = Password)]
    password: String,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = RefreshTokenBody)]
pub struct RefreshBody {
    /// The `refresh_token` of the last login or refresh.
    refresh_token: String,
}

/// The `token_type` of a token pair.
#[derive(ToSchema)]
pub enum TokenType {
    Bearer,
}

/// A session's tokens.
#[derive(Serialize, ToSchema)]
#[schema(as = TokenPair)]
pub struct TokenJson {
    /// A JWT for `Authorization: Bearer <token>`.
    access_token: String,
    #[schema(value_type = TokenType)]
    token_type: String,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    expires_in: i64,
    /// Single use: exchange it at `/auth/refresh` for a new pair.
    refresh_token: String,
}

/// A login whose password was right, on an account with two-factor sign-in on.
#[derive(Serialize, ToSchema)]
#[schema(as = MfaRequired)]
pub struct MfaRequiredJson {
    /// Always `true`: no tokens yet.
    #[schema(value_type = bool, example = true)]
    mfa_required: bool,
    /// Post it to `/auth/mfa` with a code from the app (or a recovery code); five minutes.
    mfa_token: String,
}

/// What a login answers: a session's tokens, or the request for a second factor.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = LoginAnswer)]
pub enum LoginJson {
    Tokens(TokenJson),
    MfaRequired(MfaRequiredJson),
}

impl From<pb::TokenPair> for LoginJson {
    fn from(t: pb::TokenPair) -> Self {
        if t.mfa_required {
            LoginJson::MfaRequired(MfaRequiredJson { mfa_required: true, mfa_token: t.mfa_token })
        } else {
            LoginJson::Tokens(t.into())
        }
    }
}

impl From<pb::TokenPair> for TokenJson {
    fn from(t: pb::TokenPair) -> Self {
        TokenJson {
            access_token: t.access_token,
            token_type: t.token_type,
            expires_in: t.expires_in,
            refresh_token: t.refresh_token,
        }
    }
}

/// Create an account.
///
/// New accounts start with a default set of categories.
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    operation_id = "register",
    request_body(content = RegisterBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The account was created", body = UserJson),
        problems::JsonBody,
        problems::Conflict,
    )
)]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<(StatusCode, Json<UserJson>), ApiError> {
    let request = pb::RegisterRequest { email: body.email, password: body.password, name: body.name };
    let user = state.engine.auth.clone().register(request).await?.into_inner();
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Log in with email and password.
///
/// Repeated failures for an account or from an address are throttled with 429. With
/// two-factor sign-in on, the answer is `{mfa_required: true, mfa_token}` instead of tokens:
/// post the token and a code to `/auth/mfa`.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    operation_id = "login",
    request_body(content = LoginBody, content_type = "application/json"),
    responses(
        (status = 200, description = "A new session, or the request for a second factor", body = LoginJson),
        problems::JsonBody,
        problems::BadCredentials,
    )
)]
pub async fn login(
    State(state): State<AppState>,
    Extension(ClientIp(client)): Extension<ClientIp>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<LoginJson>, ApiError> {
    let request =
        pb::LoginRequest { email: body.email, password: body.password, client_ip: client.to_string() };
    Ok(Json(state.engine.auth.clone().login(request).await?.into_inner().into()))
}

/// Exchange a refresh token for a new token pair.
///
/// The old refresh token stops working; presenting it again revokes the whole session.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "auth",
    operation_id = "refresh",
    request_body(content = RefreshBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The session's new tokens", body = TokenJson),
        problems::JsonBody,
        problems::BadCredentials,
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<TokenJson>, ApiError> {
    let request = pb::RefreshRequest { refresh_token: body.refresh_token };
    Ok(Json(state.engine.auth.clone().refresh(request).await?.into_inner().into()))
}

/// End a session.
///
/// Answers 204 whether or not the refresh token was still valid.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    operation_id = "logout",
    request_body(content = RefreshBody, content_type = "application/json"),
    responses(
        (status = 204, description = "The refresh token no longer works"),
        problems::JsonBody,
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<StatusCode, ApiError> {
    state.engine.auth.clone().logout(pb::LogoutRequest { refresh_token: body.refresh_token }).await?;
    Ok(StatusCode::NO_CONTENT)
}
