//! Registration with default categories, and the Users service (profile, password, email,
//! two-factor sign-in, sessions, deletion, audit log), over the stored account in `account`.

use budgetsmart_common::events::{self, EventContext};
use budgetsmart_common::grpc::{caller, event_context};
use budgetsmart_common::pagination::Page;
use budgetsmart_proto::engine::v1 as pb;
use budgetsmart_proto::events::v1 as ev;
use chrono::Utc;
use serde_json::json;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::categories::store as categories;
use crate::convert::timestamp;
use crate::error::{AppError, AppResult};
use crate::idempotency::{self, Claim, IdempotentRequest, Scope};
use crate::request_metadata;
use crate::state::AppState;
use crate::users::account::{USER_COLUMNS, UserRow, check_email, confirm_password, find};
use crate::users::audit::{self, AuditEvent, AuditKind};
use crate::users::email_tokens::{self, Purpose};
use crate::users::{mfa, passwords, verification};
use crate::validation::{MAX_NAME, Violations};

/// Creates the account, its default categories, `user_registered` and the address's
/// verification link, in one transaction; with an Idempotency-Key, a repeated registration
/// answers the first one's user.
#[tracing::instrument(skip_all)]
pub async fn register(
    state: &AppState,
    ctx: EventContext,
    request: pb::RegisterRequest,
    idempotent: Option<&IdempotentRequest>,
) -> AppResult<pb::User> {
    let mut violations = Violations::default();
    let email = check_email(&mut violations, &request.email);
    let name = violations.text("name", &request.name, MAX_NAME);
    if let Err(AppError::Validation(mut fields)) =
        passwords::check_policy("password", &request.password, &email)
    {
        for (field, message) in fields.drain(..) {
            violations.add(field, message);
        }
    }
    violations.finish()?;

    let password_hash = state.passwords.hash(request.password).await?;
    let id = Uuid::now_v7();
    let mut write = match state.idempotent_write(idempotent).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Write(write) => write,
    };
    let tx = write.tx();
    let sql = format!(
        "INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4) RETURNING {USER_COLUMNS}"
    );
    let user: UserRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(&email)
        .bind(&name)
        .bind(&password_hash)
        .fetch_one(&mut **tx)
        .await?;
    categories::create_defaults(tx, id).await?;
    let event = ev::UserRegistered {
        user_id: id.to_string(),
        email: user.email.clone(),
        name: user.name.clone(),
        default_currency: user.default_currency.trim().to_owned(),
        timezone: user.timezone.clone(),
        occurred_at: Some(timestamp(Utc::now())),
    };
    let ctx = EventContext { user_id: Some(id), ..ctx };
    events::enqueue(tx, &ctx, &event).await?;
    verification::send_link(tx, &ctx, &user, &user.email, false).await?;
    let answer = pb::User::from(user);
    write.commit(&answer).await?;
    tracing::info!(user_id = %id, "user registered");
    Ok(answer)
}

/// The Users gRPC service: the caller's own profile and audit log.
pub struct UsersService {
    state: AppState,
}

impl UsersService {
    /// A service over `state`.
    pub fn new(state: AppState) -> Self {
        UsersService { state }
    }
}

#[tonic::async_trait]
impl pb::users_server::Users for UsersService {
    #[tracing::instrument(skip_all)]
    async fn get_me(&self, request: Request<pb::GetMeRequest>) -> Result<Response<pb::User>, Status> {
        let user_id = caller(&request)?.user_id;
        let mut conn = self.state.pool.acquire().await.map_err(AppError::from)?;
        let mut user = pb::User::from(find(&mut conn, user_id).await?);
        user.mfa_enabled = mfa::enabled(&mut conn, user_id).await?;
        Ok(Response::new(user))
    }

    #[tracing::instrument(skip_all)]
    async fn update_me(&self, request: Request<pb::UpdateMeRequest>) -> Result<Response<pb::User>, Status> {
        let user_id = caller(&request)?.user_id;
        let ctx = event_context(&request, Some(user_id));
        let origin = request_metadata::origin(request.metadata());
        let body = request.into_inner();
        // The names of the fields given, not their values: the log says what changed, the
        // profile itself says to what.
        let fields: Vec<&str> = [
            ("name", body.name.is_some()),
            ("default_currency", body.default_currency.is_some()),
            ("timezone", body.timezone.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, given)| given.then_some(field))
        .collect();
        let mut violations = Violations::default();
        let name = body.name.as_deref().map(|n| violations.text("name", n, MAX_NAME));
        let currency = body
            .default_currency
            .as_deref()
            .and_then(|c| violations.currency("default_currency", c))
            .map(|c| c.code().to_owned());
        let timezone = body.timezone.as_deref().map(str::trim).map(str::to_owned);
        if let Some(tz) = &timezone
            && tz.parse::<chrono_tz::Tz>().is_err()
        {
            violations.add("timezone", "must be an IANA time zone such as Europe/Paris");
        }
        violations.finish()?;
        let sql = format!(
            "UPDATE users SET name = COALESCE($2, name), default_currency = COALESCE($3, default_currency), \
             timezone = COALESCE($4, timezone), updated_at = now() WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        let mut tx = self.state.pool.begin().await.map_err(AppError::from)?;
        let previous: Option<String> =
            sqlx::query_scalar("SELECT default_currency FROM users WHERE id = $1 FOR UPDATE")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(AppError::from)?;
        let user: UserRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(name)
            .bind(&currency)
            .bind(timezone)
            .fetch_optional(&mut *tx)
            .await
            .map_err(AppError::from)?
            .ok_or(AppError::NotFound("user"))?;
        // Services that address the user (notification) keep their copy from this event.
        events::enqueue(&mut tx, &ctx, &user.updated_event()).await.map_err(AppError::from)?;
        // A new home currency: the engine's consumer re-expresses the history, outside this
        // request, since a long history is many rows.
        if let Some(previous) = previous.map(|p| p.trim().to_owned())
            && previous != user.default_currency.trim()
        {
            let changed = ev::HomeCurrencyChanged {
                user_id: user_id.to_string(),
                previous,
                current: user.default_currency.trim().to_owned(),
                occurred_at: Some(timestamp(chrono::Utc::now())),
            };
            events::enqueue(&mut tx, &ctx, &changed).await.map_err(AppError::from)?;
        }
        let entry = AuditEvent::new(user_id, AuditKind::ProfileUpdated, origin, json!({ "fields": fields }));
        audit::record(&mut tx, &entry).await?;
        self.state.commit(tx).await?;
        self.state.owners.forget(user_id);
        Ok(Response::new(user.into()))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_me(
        &self,
        request: Request<pb::DeleteMeRequest>,
    ) -> Result<Response<pb::DeleteMeResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let ctx = event_context(&request, Some(user_id));
        let origin = request_metadata::origin(request.metadata());
        let mut tx = self.state.pool.begin().await.map_err(AppError::from)?;
        // Foreign keys cascade to every row the user owns, the audit log included.
        let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(AppError::from)?
            .rows_affected();
        if deleted == 0 {
            return Err(AppError::NotFound("user").into());
        }
        // Keys hold stored answers, which are the user's data too; they have no foreign key.
        idempotency::forget(&mut tx, Scope::User(user_id)).await?;
        let event =
            ev::UserDeleted { user_id: user_id.to_string(), occurred_at: Some(timestamp(Utc::now())) };
        events::enqueue(&mut tx, &ctx, &event).await.map_err(AppError::from)?;
        self.state.commit(tx).await?;
        self.state.sessions.revoke_all(user_id).await?;
        // The account's audit rows went with it, so the deletion is kept in the log only.
        audit::log(AuditKind::AccountDeleted, Some(user_id), &origin, "account deleted");
        Ok(Response::new(pb::DeleteMeResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let origin = request_metadata::origin(request.metadata());
        let body = request.into_inner();
        let mut conn = self.state.pool.acquire().await.map_err(AppError::from)?;
        let user = find(&mut conn, user_id).await?;
        // Hashing takes tens of milliseconds; no pooled connection waits through it.
        drop(conn);
        confirm_password(&self.state, &user, body.current_password, "current_password").await?;
        passwords::check_policy("new_password", &body.new_password, &user.email)?;
        let hash = self.state.passwords.hash(body.new_password).await?;
        let mut tx = self.state.pool.begin().await.map_err(AppError::from)?;
        let changed = sqlx::query("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1")
            .bind(user_id)
            .bind(hash)
            .execute(&mut *tx)
            .await
            .map_err(AppError::from)?
            .rows_affected();
        if changed == 0 {
            return Err(AppError::NotFound("user").into());
        }
        // A reset link sent before the change would undo it, and a pending change of address
        // may be the intruder's: void them, and any login waiting for its second factor.
        email_tokens::spend_all(&mut tx, user_id, Purpose::ResetPassword).await?;
        email_tokens::spend_all(&mut tx, user_id, Purpose::VerifyEmail).await?;
        mfa::end_challenges(&mut tx, user_id).await?;
        let entry = AuditEvent::new(user_id, AuditKind::PasswordChanged, origin, json!({}));
        audit::record(&mut tx, &entry).await?;
        tx.commit().await.map_err(AppError::from)?;
        // A changed password ends every other session: that is usually why people change it.
        self.state.sessions.revoke_all(user_id).await?;
        Ok(Response::new(pb::ChangePasswordResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn list_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let caller = caller(&request)?;
        let at = |seconds: i64| prost_types::Timestamp { seconds, nanos: 0 };
        let data = self
            .state
            .sessions
            .list(caller.user_id)
            .await?
            .into_iter()
            .map(|s| pb::Session {
                id: s.id.to_string(),
                current: caller.session == Some(s.id),
                client: s.client,
                ip: s.ip,
                created_at: Some(at(s.created_at)),
                last_used_at: Some(at(s.last_used_at)),
            })
            .collect();
        Ok(Response::new(pb::ListSessionsResponse { data }))
    }

    #[tracing::instrument(skip_all)]
    async fn end_session(
        &self,
        request: Request<pb::EndSessionRequest>,
    ) -> Result<Response<pb::EndSessionResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let origin = request_metadata::origin(request.metadata());
        let id = Uuid::parse_str(request.get_ref().id.trim()).map_err(|_| AppError::NotFound("session"))?;
        if !self.state.sessions.end(user_id, id).await? {
            return Err(AppError::NotFound("session").into());
        }
        let event = AuditEvent::new(user_id, AuditKind::SessionEnded, origin, json!({"session_id": id}));
        audit::record_or_log(&self.state.pool, &event).await;
        Ok(Response::new(pb::EndSessionResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn end_other_sessions(
        &self,
        request: Request<pb::EndOtherSessionsRequest>,
    ) -> Result<Response<pb::EndOtherSessionsResponse>, Status> {
        let caller = caller(&request)?;
        let origin = request_metadata::origin(request.metadata());
        let ended = self.state.sessions.end_others(caller.user_id, caller.session).await?;
        let event =
            AuditEvent::new(caller.user_id, AuditKind::SessionEnded, origin, json!({"others": ended}));
        audit::record_or_log(&self.state.pool, &event).await;
        Ok(Response::new(pb::EndOtherSessionsResponse { ended }))
    }

    #[tracing::instrument(skip_all)]
    async fn resend_verification(
        &self,
        request: Request<pb::ResendVerificationRequest>,
    ) -> Result<Response<pb::ResendVerificationResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let ctx = event_context(&request, Some(user_id));
        verification::resend(&self.state, ctx, user_id).await?;
        Ok(Response::new(pb::ResendVerificationResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn change_email(
        &self,
        request: Request<pb::ChangeEmailRequest>,
    ) -> Result<Response<pb::ChangeEmailResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let ctx = event_context(&request, Some(user_id));
        let origin = request_metadata::origin(request.metadata());
        let body = request.into_inner();
        verification::change_email(&self.state, ctx, origin, user_id, &body.new_email, body.password).await?;
        Ok(Response::new(pb::ChangeEmailResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn start_totp(
        &self,
        request: Request<pb::StartTotpRequest>,
    ) -> Result<Response<pb::TotpEnrolment>, Status> {
        let user_id = caller(&request)?.user_id;
        let origin = request_metadata::origin(request.metadata());
        let (otpauth_uri, secret) = mfa::start(&self.state, user_id, origin).await?;
        Ok(Response::new(pb::TotpEnrolment { secret, otpauth_uri }))
    }

    #[tracing::instrument(skip_all)]
    async fn pending_totp(
        &self,
        request: Request<pb::PendingTotpRequest>,
    ) -> Result<Response<pb::TotpEnrolment>, Status> {
        let user_id = caller(&request)?.user_id;
        let (otpauth_uri, secret) = mfa::pending(&self.state, user_id).await?;
        Ok(Response::new(pb::TotpEnrolment { secret, otpauth_uri }))
    }

    #[tracing::instrument(skip_all)]
    async fn confirm_totp(
        &self,
        request: Request<pb::ConfirmTotpRequest>,
    ) -> Result<Response<pb::ConfirmTotpResponse>, Status> {
        let caller = caller(&request)?;
        let origin = request_metadata::origin(request.metadata());
        let code = &request.get_ref().code;
        let recovery_codes = mfa::confirm(&self.state, caller.user_id, caller.session, origin, code).await?;
        Ok(Response::new(pb::ConfirmTotpResponse { recovery_codes }))
    }

    #[tracing::instrument(skip_all)]
    async fn disable_totp(
        &self,
        request: Request<pb::DisableTotpRequest>,
    ) -> Result<Response<pb::DisableTotpResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let origin = request_metadata::origin(request.metadata());
        let body = request.into_inner();
        let proof = mfa::Proof::from_fields(&body.code, &body.recovery_code)?;
        mfa::disable(&self.state, user_id, origin, body.password, proof).await?;
        Ok(Response::new(pb::DisableTotpResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let page = Page::from_request(request.get_ref().page.as_ref()).map_err(AppError::from)?;
        let (rows, next_cursor) = audit::list(&self.state.pool, user_id, &page).await?;
        let events = rows
            .into_iter()
            .map(|row| pb::AuditEvent {
                id: row.id.to_string(),
                kind: row.kind,
                ip: row.ip,
                user_agent: row.user_agent,
                detail_json: row.detail.to_string(),
                occurred_at: Some(timestamp(row.occurred_at)),
            })
            .collect();
        Ok(Response::new(pb::ListAuditEventsResponse { events, next_cursor }))
    }
}
