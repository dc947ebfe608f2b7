//! `/me/audit`: the caller's security events, newest first.

use axum::Json;
use axum::extract::State;
use budgetsmart_proto::engine::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::QueryMap;
use crate::json::{ListPage, PageParams, timestamp};
use crate::openapi::problems;
use crate::state::AppState;

/// One security event of the caller's account.
#[derive(Serialize, ToSchema)]
#[schema(as = AuditEvent)]
pub struct AuditEventJson {
    #[schema(format = Uuid)]
    id: String,
    /// `login_succeeded`, `login_failed`, `refresh_token_reused`, `password_changed` or
    /// `profile_updated`; more may be added.
    #[schema(example = "login_succeeded")]
    kind: String,
    /// When it happened.
    #[schema(format = DateTime, required = true)]
    occurred_at: Option<String>,
    /// The client's address as the gateway saw it; `null` when unknown.
    #[schema(required = true, example = "203.0.113.7")]
    ip: Option<String>,
    /// The client's `User-Agent`, at most 256 characters; `null` when it sent none.
    #[schema(required = true)]
    user_agent: Option<String>,
    /// Facts about the event, e.g. `{"fields":["name"]}` for a profile change or
    /// `{"reason":"wrong_password"}` for a failed login.
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

impl From<pb::AuditEvent> for AuditEventJson {
    fn from(event: pb::AuditEvent) -> Self {
        // The engine stores an object; anything else would break clients that index into it.
        let detail = serde_json::from_str::<serde_json::Value>(&event.detail_json)
            .ok()
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| serde_json::json!({}));
        AuditEventJson {
            id: event.id,
            kind: event.kind,
            occurred_at: timestamp(event.occurred_at),
            ip: event.ip,
            user_agent: event.user_agent,
            detail,
        }
    }
}

/// The caller's security events, newest first.
///
/// Logins (successful and failed), refresh-token reuse, password and profile changes, each with
/// the client's address and user agent.
#[utoipa::path(
    get,
    path = "/me/audit",
    tag = "me",
    operation_id = "list_audit_events",
    security(("bearer" = [])),
    params(
        PageParams,
    ),
    responses(
        (status = 200, description = "The caller's events, newest first", body = ListPage<AuditEventJson>),
        problems::BadQuery,
        problems::Unprocessable,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    query: QueryMap,
) -> Result<Json<ListPage<AuditEventJson>>, ApiError> {
    let request = pb::ListAuditEventsRequest { page: Some(query.page()?) };
    let listed = state.engine.users.clone().list_audit_events(request).await?.into_inner();
    let data = listed.events.into_iter().map(AuditEventJson::from).collect();
    Ok(Json(ListPage::new(data, listed.next_cursor)))
}
