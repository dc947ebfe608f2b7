//! `/me`: the caller's profile, password, and account deletion.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use budgetsmart_proto::engine::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::json::{CurrencyCode, TimeZoneName, timestamp};
use crate::openapi::problems;
use crate::state::AppState;

/// An account's profile.
#[derive(Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserJson {
    #[schema(format = Uuid)]
    id: String,
    #[schema(example = "ana@example.com")]
    email: String,
    #[schema(example = "Ana")]
    name: String,
    /// What analytics reports in when no currency is asked for.
    #[schema(value_type = CurrencyCode)]
    default_currency: String,
    /// An IANA time zone; months and "today" are the user's.
    #[schema(example = "Europe/Paris")]
    timezone: String,
    #[schema(format = DateTime, required = true)]
    created_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    updated_at: Option<String>,
    /// Whether a link sent to the address was used. Until it is, the address gets no alerts,
    /// summaries or digests (`POST /auth/verify-email/resend` sends a new link).
    email_verified: bool,
    /// Whether login asks for a code from a TOTP app (`/me/mfa/totp`).
    mfa_enabled: bool,
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
            email_verified: u.email_verified,
            mfa_enabled: u.mfa_enabled,
        }
    }
}

/// The fields to change; an absent (or `null`) field keeps its value.
#[derive(Deserialize, ToSchema)]
#[schema(as = ProfileUpdate)]
pub struct UpdateMeBody {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: Option<String>,
    #[schema(value_type = Option<CurrencyCode>)]
    default_currency: Option<String>,
    /// An IANA time zone such as `Europe/Paris`.
    #[schema(value_type = Option<TimeZoneName>)]
    timezone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = PasswordChange)]
pub struct PasswordBody {
    #[schema(format = Password)]
    current_password: String,
    /// 10 to 128 characters; common passwords and the email address are refused.
    #[schema(format = Password, min_length = 10, max_length = 128)]
    new_password: String,
}

/// The caller's profile.
#[utoipa::path(
    get,
    path = "/me",
    tag = "me",
    operation_id = "get_me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The profile", body = UserJson),
        problems::NotFound,
    )
)]
pub async fn get(State(state): State<AppState>, _user: AuthUser) -> Result<Json<UserJson>, ApiError> {
    Ok(Json(state.engine.users.clone().get_me(pb::GetMeRequest {}).await?.into_inner().into()))
}

/// Change the name, default currency or time zone.
#[utoipa::path(
    patch,
    path = "/me",
    tag = "me",
    operation_id = "update_me",
    security(("bearer" = [])),
    request_body(content = UpdateMeBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated profile", body = UserJson),
        problems::JsonBody,
        problems::NotFound,
    )
)]
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

/// Delete the account and all its data.
#[utoipa::path(
    delete,
    path = "/me",
    tag = "me",
    operation_id = "delete_me",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The account and all its data are gone"),
        problems::NotFound,
    )
)]
pub async fn delete(State(state): State<AppState>, user: AuthUser) -> Result<StatusCode, ApiError> {
    state.engine.users.clone().delete_me(pb::DeleteMeRequest {}).await?;
    // At once on this replica; the others learn it from `user_deleted` on their live feed.
    state.deleted.record(user.user_id);
    Ok(StatusCode::NO_CONTENT)
}

/// Change the password.
///
/// Every refresh token of the account stops working.
#[utoipa::path(
    post,
    path = "/me/password",
    tag = "me",
    operation_id = "change_password",
    security(("bearer" = [])),
    request_body(content = PasswordBody, content_type = "application/json"),
    responses(
        (status = 204, description = "The password was changed"),
        problems::JsonBody,
        problems::NotFound,
    )
)]
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
