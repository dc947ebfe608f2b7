//! The Auth gRPC service: register, login, refresh, logout. No access token is needed here.

use budgetsmart_common::grpc::event_context;
use budgetsmart_proto::engine::v1 as pb;
use serde_json::json;
use tonic::{Request, Response, Status};

use crate::error::AppError;
use crate::idempotency::Scope;
use crate::request_metadata;
use crate::state::AppState;
use crate::users::account;
use crate::users::audit::{self, AuditEvent, AuditKind};
use crate::users::service as users;
use crate::users::sessions::RefreshFailure;

/// Implements `budgetsmart.engine.v1.Auth`.
pub struct AuthService {
    state: AppState,
}

impl AuthService {
    /// A service over `state`.
    pub fn new(state: AppState) -> Self {
        AuthService { state }
    }

    async fn token_pair(
        &self,
        user_id: uuid::Uuid,
        session: uuid::Uuid,
        refresh_token: String,
    ) -> Result<pb::TokenPair, AppError> {
        let access_token = self.state.signer.issue(user_id, session)?;
        Ok(pb::TokenPair {
            access_token,
            token_type: "Bearer".into(),
            expires_in: self.state.signer.ttl_seconds(),
            refresh_token,
            ..Default::default()
        })
    }
}

#[tonic::async_trait]
impl pb::auth_server::Auth for AuthService {
    #[tracing::instrument(skip_all)]
    async fn register(&self, request: Request<pb::RegisterRequest>) -> Result<Response<pb::User>, Status> {
        let ctx = event_context(&request, None);
        let idempotent = self.state.idempotent_request(&request, Scope::Anonymous, "Register")?;
        let user = users::register(&self.state, ctx, request.into_inner(), idempotent.as_ref()).await?;
        Ok(Response::new(user))
    }

    #[tracing::instrument(skip_all)]
    async fn login(&self, request: Request<pb::LoginRequest>) -> Result<Response<pb::TokenPair>, Status> {
        let forwarded = request_metadata::origin(request.metadata());
        // Only the gateway may say where the client is; any other caller is throttled (and
        // audited) by its own address, so it cannot dodge the per-address limits by naming a
        // new address for every guess.
        let vouched = self.state.gateway.vouches_for(request.metadata());
        let peer = request.remote_addr().map(|a| a.ip().to_string()).unwrap_or_default();
        let mut body = request.into_inner();
        if !vouched {
            body.client_ip = peer;
        }
        // The forwarded address, like every other audit row; the body's is the throttle's.
        let origin = if vouched {
            forwarded.or_ip(&body.client_ip)
        } else {
            crate::users::audit::Origin::new(Some(&body.client_ip), None)
        };
        // The email becomes part of a throttle key (hashed) and a database lookup: bound it.
        if body.email.chars().count() > account::MAX_EMAIL {
            return Err(AppError::field(
                "email",
                format!("must be at most {} characters", account::MAX_EMAIL),
            )
            .into());
        }
        let throttle = &self.state.throttle;
        let attempt = throttle.login(&body.email, &body.client_ip).await?;
        let checked = async {
            let mut conn = self.state.pool.acquire().await.map_err(AppError::from)?;
            let user = account::find_by_email(&mut conn, &body.email).await?;
            drop(conn);
            let stored = user.as_ref().map(|u| u.password_hash.clone());
            let valid = self.state.passwords.verify(body.password, stored).await?;
            Ok::<_, AppError>((user, valid))
        };
        let (user, valid) = match checked.await {
            Ok(checked) => checked,
            Err(error) => {
                throttle.forgive(attempt).await;
                return Err(error.into());
            }
        };
        let user = match user {
            Some(user) if valid => user,
            Some(user) => {
                let detail = json!({"reason": "wrong_password"});
                let event = AuditEvent::new(user.id, AuditKind::LoginFailed, origin, detail);
                // Written off the response path: an insert awaited only for real accounts would
                // let response times tell which emails have one (the dummy hash exists for that).
                let pool = self.state.pool.clone();
                tokio::spawn(async move { audit::record_or_log(&pool, &event).await });
                return Err(AppError::Unauthenticated("invalid email or password").into());
            }
            None => {
                // No account to attach a row to. The email typed is left out: it may be
                // someone else's personal data, and the IP is what stuffing is traced by.
                audit::log(AuditKind::LoginFailed, None, &origin, "login failed for an unknown email");
                return Err(AppError::Unauthenticated("invalid email or password").into());
            }
        };
        throttle.succeeded(attempt).await?;
        let mut conn = self.state.pool.acquire().await.map_err(AppError::from)?;
        let second_factor = crate::users::mfa::enabled(&mut conn, user.id).await?;
        drop(conn);
        if second_factor {
            let mfa_token = crate::users::mfa::challenge(&self.state, user.id, origin).await?;
            return Ok(Response::new(pb::TokenPair { mfa_required: true, mfa_token, ..Default::default() }));
        }
        let (session, refresh) = self.state.sessions.create(user.id, &origin).await?;
        let event = AuditEvent::new(user.id, AuditKind::LoginSucceeded, origin, json!({}));
        audit::record_or_log(&self.state.pool, &event).await;
        tracing::info!(user_id = %user.id, "login");
        Ok(Response::new(self.token_pair(user.id, session, refresh).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn refresh(&self, request: Request<pb::RefreshRequest>) -> Result<Response<pb::TokenPair>, Status> {
        let origin = request_metadata::origin(request.metadata());
        let token = request.into_inner().refresh_token;
        match self.state.sessions.rotate(&token).await? {
            Ok((user_id, session, next)) => {
                // A session outliving its account (a revocation lost with Redis, or raced by
                // the deletion) must not mint access tokens for a user who is gone.
                let mut conn = self.state.pool.acquire().await.map_err(AppError::from)?;
                match account::find(&mut conn, user_id).await {
                    Ok(_) => {}
                    Err(AppError::NotFound(_)) => {
                        self.state.sessions.revoke(&next).await?;
                        return Err(
                            AppError::Unauthenticated("the refresh token is invalid or expired").into()
                        );
                    }
                    Err(error) => return Err(error.into()),
                }
                drop(conn);
                Ok(Response::new(self.token_pair(user_id, session, next).await?))
            }
            Err(RefreshFailure::Invalid) => {
                Err(AppError::Unauthenticated("the refresh token is invalid or expired").into())
            }
            Err(RefreshFailure::Reused { user_id }) => {
                tracing::warn!(
                    user_id = user_id.map(|id| id.to_string()),
                    "refresh token reuse detected; session family revoked"
                );
                if let Some(user_id) = user_id {
                    let detail = json!({"sessions_revoked": "family"});
                    let event = AuditEvent::new(user_id, AuditKind::RefreshTokenReused, origin, detail);
                    audit::record_or_log(&self.state.pool, &event).await;
                }
                Err(AppError::Unauthenticated("the refresh token was already used; the session is revoked")
                    .into())
            }
        }
    }

    #[tracing::instrument(skip_all)]
    async fn request_password_reset(
        &self,
        request: Request<pb::PasswordResetRequest>,
    ) -> Result<Response<pb::PasswordResetResponse>, Status> {
        let ctx = event_context(&request, None);
        crate::users::reset::request(&self.state, ctx, &request.get_ref().email)?;
        Ok(Response::new(pb::PasswordResetResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn confirm_password_reset(
        &self,
        request: Request<pb::ConfirmPasswordResetRequest>,
    ) -> Result<Response<pb::ConfirmPasswordResetResponse>, Status> {
        let ctx = event_context(&request, None);
        let origin = request_metadata::origin(request.metadata());
        let body = request.into_inner();
        crate::users::reset::confirm(&self.state, ctx, origin, &body.token, body.new_password).await?;
        Ok(Response::new(pb::ConfirmPasswordResetResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn complete_mfa(
        &self,
        request: Request<pb::CompleteMfaRequest>,
    ) -> Result<Response<pb::TokenPair>, Status> {
        let forwarded = request_metadata::origin(request.metadata());
        let vouched = self.state.gateway.vouches_for(request.metadata());
        let peer = request.remote_addr().map(|a| a.ip().to_string()).unwrap_or_default();
        let body = request.into_inner();
        let origin = if vouched {
            forwarded.or_ip(&body.client_ip)
        } else {
            crate::users::audit::Origin::new(Some(&peer), None)
        };
        let proof = crate::users::mfa::Proof::from_fields(&body.code, &body.recovery_code)?;
        let user_id =
            crate::users::mfa::complete(&self.state, origin.clone(), &body.mfa_token, proof).await?;
        let (session, refresh) = self.state.sessions.create(user_id, &origin).await?;
        tracing::info!(%user_id, "login with a second factor");
        Ok(Response::new(self.token_pair(user_id, session, refresh).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn verify_email(
        &self,
        request: Request<pb::VerifyEmailRequest>,
    ) -> Result<Response<pb::VerifyEmailResponse>, Status> {
        let ctx = event_context(&request, None);
        let origin = request_metadata::origin(request.metadata());
        crate::users::verification::verify(&self.state, ctx, origin, &request.get_ref().token).await?;
        Ok(Response::new(pb::VerifyEmailResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        self.state.sessions.revoke(&request.into_inner().refresh_token).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }
}
