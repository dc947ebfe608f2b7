//! `/me`: the caller's profile, password, and account deletion.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use budgetsmart_proto::engine::v1 as pb;
use serde::{Deserialize, Serialize};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::json::timestamp;
use crate::state::AppState;

#[derive(Serialize)]
pub struct UserJson {
    id: String,
    email: String,
    name: String,
    default_currency: String,
    timezone: String,
    created_at: Option<String>,
    updated_at: Option<String>,
}

impl From<pb::User> for UserJson {
    fn from(u: pb::User) -> Self {
        UserJson {
            id: u.id,
            email: u.email,
            name: u.name,
            default_currency: u.default_currency,
            timezone: u.timezone,
            created_at: timestamp(u.created_at),
            updated_at: timestamp(u.updated_at),
        }
    }
}

#[derive(Deserialize)]
pub struct UpdateMeBody {
    name: Option<String>,
    default_currency: Option<String>,
    timezone: Option<String>,
}

#[derive(Deserialize)]
pub struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// GET /me.
pub async fn get(State(state): State<AppState>, _user: AuthUser) -> Result<Json<UserJson>, ApiError> {
    Ok(Json(state.engine.users.clone().get_me(pb::GetMeRequest {}).await?.into_inner().into()))
}

/// PATCH /me.
pub async fn update(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(body): ApiJson<UpdateMeBody>,
) -> Result<Json<UserJson>, ApiError> {
    let request = pb::UpdateMeRequest {
        name: body.name,
        default_currency: body.default_currency,
        timezone: body.timezone,
    };
    Ok(Json(state.engine.users.clone().update_me(request).await?.into_inner().into()))
}

/// DELETE /me → 204; the account and all its data are removed.
pub async fn delete(State(state): State<AppState>, _user: AuthUser) -> Result<StatusCode, ApiError> {
    state.engine.users.clone().delete_me(pb::DeleteMeRequest {}).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// POST /me/password → 204; every refresh token of the account stops working.
pub async fn change_password(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<StatusCode, ApiError> {
    let request = pb::ChangePasswordRequest {
        current_password: body.current_password,
        new_password: body.new_password,
    };
    state.engine.users.clone().change_password(request).await?;
    Ok(StatusCode::NO_CONTENT)
}
