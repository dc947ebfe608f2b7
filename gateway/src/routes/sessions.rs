//! `/me/sessions`: where the caller is signed in, and ending those sessions.
//!
//! A session is one login: its refresh token family. Ending one stops its refresh token at
//! once; an access token it already holds lives out its few minutes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use budgetsmart_proto::engine::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::timestamp;
use crate::openapi::problems;
use crate::state::AppState;

/// One session: a login and where it came from.
#[derive(Serialize, ToSchema)]
#[schema(as = Session)]
pub struct SessionJson {
    #[schema(format = Uuid)]
    id: String,
    /// Whether the access token of this request belongs to it.
    current: bool,
    /// The user agent it logged in with; `null` when unknown.
    #[schema(required = true, example = "Mozilla/5.0 (X11; Linux x86_64)")]
    client: Option<String>,
    /// The address it logged in from; `null` when unknown.
    #[schema(required = true, example = "203.0.113.7")]
    ip: Option<String>,
    #[schema(format = DateTime, required = true)]
    created_at: Option<String>,
    /// The last refresh (or the login).
    #[schema(format = DateTime, required = true)]
    last_used_at: Option<String>,
}

impl From<pb::Session> for SessionJson {
    fn from(s: pb::Session) -> Self {
        let known = |text: String| Some(text).filter(|t| !t.is_empty());
        SessionJson {
            id: s.id,
            current: s.current,
            client: known(s.client),
            ip: known(s.ip),
            created_at: timestamp(s.created_at),
            last_used_at: timestamp(s.last_used_at),
        }
    }
}

/// The caller's sessions, newest first.
#[derive(Serialize, ToSchema)]
#[schema(as = Sessions)]
pub struct SessionsJson {
    data: Vec<SessionJson>,
}

/// Where the caller is signed in.
#[utoipa::path(
    get,
    path = "/me/sessions",
    tag = "me",
    operation_id = "list_sessions",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller's sessions, newest first", body = SessionsJson))
)]
pub async fn list(State(state): State<AppState>, _user: AuthUser) -> Result<Json<SessionsJson>, ApiError> {
    let listed = state.engine.users.clone().list_sessions(pb::ListSessionsRequest {}).await?.into_inner();
    Ok(Json(SessionsJson { data: listed.data.into_iter().map(Into::into).collect() }))
}

/// End every session but the current one.
#[utoipa::path(
    delete,
    path = "/me/sessions",
    tag = "me",
    operation_id = "end_other_sessions",
    security(("bearer" = [])),
    responses((status = 204, description = "Only the current session is left"))
)]
pub async fn end_others(State(state): State<AppState>, _user: AuthUser) -> Result<StatusCode, ApiError> {
    state.engine.users.clone().end_other_sessions(pb::EndOtherSessionsRequest {}).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End one session.
///
/// Its refresh token stops working at once.
#[utoipa::path(
    delete,
    path = "/me/sessions/{id}",
    tag = "me",
    operation_id = "end_session",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The session's id")),
    responses(
        (status = 204, description = "The session is ended"),
        problems::NotFound,
    )
)]
pub async fn end(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.users.clone().end_session(pb::EndSessionRequest { id }).await?;
    Ok(StatusCode::NO_CONTENT)
}
