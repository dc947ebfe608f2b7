//! `/auth/*`: register, login, refresh, logout.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use budgetsmart_proto::engine::v1 as pb;
use serde::{Deserialize, Serialize};

use super::me::UserJson;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct RegisterBody {
    email: String,
    password: String,
    name: String,
}

#[derive(Deserialize)]
pub struct LoginBody {
    email: String,
    password: String,
}

#[derive(Deserialize)]
pub struct RefreshBody {
    refresh_token: String,
}

#[derive(Serialize)]
pub struct TokenJson {
    access_token: String,
    token_type: String,
    expires_in: i64,
    refresh_token: String,
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

/// POST /auth/register → 201.
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<(StatusCode, Json<UserJson>), ApiError> {
    let request = pb::RegisterRequest { email: body.email, password: body.password, name: body.name };
    let user = state.engine.auth.clone().register(request).await?.into_inner();
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// POST /auth/login.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<TokenJson>, ApiError> {
    let request =
        pb::LoginRequest { email: body.email, password: body.password, client_ip: peer.ip().to_string() };
    Ok(Json(state.engine.auth.clone().login(request).await?.into_inner().into()))
}

/// POST /auth/refresh.
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<TokenJson>, ApiError> {
    let request = pb::RefreshRequest { refresh_token: body.refresh_token };
    Ok(Json(state.engine.auth.clone().refresh(request).await?.into_inner().into()))
}

/// POST /auth/logout → 204.
pub async fn logout(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<StatusCode, ApiError> {
    state.engine.auth.clone().logout(pb::LogoutRequest { refresh_token: body.refresh_token }).await?;
    Ok(StatusCode::NO_CONTENT)
}
