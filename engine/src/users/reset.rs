//! The password reset: `RequestPasswordReset` emails a single-use link valid for 30 minutes,
//! and `ConfirmPasswordReset` sets the new password with its token and ends every session.
//!
//! The request answers the same whether or not an account has the address, and in the same
//! time: the lookup, the token and the email are made off the response path, so neither the
//! answer nor its timing tells which addresses have accounts. It is throttled per address
//! here ([`MAX_PER_HOUR`] links an hour, the rest silently dropped) and per client at the
//! gateway (the login rate class).

use budgetsmart_common::events::{self, EventContext};
use budgetsmart_proto::events::v1 as ev;
use chrono::Utc;
use serde_json::json;

use crate::convert::timestamp;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::users::account as users;
use crate::users::audit::{self, AuditEvent, AuditKind, Origin};
use crate::users::email_tokens::{self, Purpose};
use crate::users::passwords;
use crate::users::{mfa, verification};
use crate::validation::Violations;

/// How long a reset link works.
pub const LINK_LIFETIME_MINUTES: i64 = 30;
/// Reset links one address may be sent in an hour.
pub const MAX_PER_HOUR: i64 = 3;
/// What any unusable token is told: wrong, expired and spent look the same.
const INVALID: &str = "is invalid or has expired; ask for a new link";

/// Starts a reset for `email`; returns at once, and does the rest in the background.
pub fn request(state: &AppState, ctx: EventContext, email: &str) -> AppResult<()> {
    // The same rule registration applies, with the same messages.
    let mut violations = Violations::default();
    let email = users::check_email(&mut violations, email);
    violations.finish()?;
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(error) = send_link(&state, ctx, &email).await {
            tracing::warn!(error = %format!("{error:#}"), "could not start a password reset");
        }
    });
    Ok(())
}

async fn send_link(state: &AppState, ctx: EventContext, email: &str) -> AppResult<()> {
    let mut tx = state.pool.begin().await?;
    let Some(user) = users::find_by_email(&mut tx, email).await? else { return Ok(()) };
    // One lock per user, so parallel requests count each other.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 22))")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    let sent =
        email_tokens::recent(&mut tx, user.id, Purpose::ResetPassword, chrono::Duration::hours(1)).await?;
    if sent >= MAX_PER_HOUR {
        tracing::info!(user_id = %user.id, "password reset throttled for this address");
        return Ok(());
    }
    let lifetime = chrono::Duration::minutes(LINK_LIFETIME_MINUTES);
    let (token, expires_at) =
        email_tokens::issue(&mut tx, user.id, Purpose::ResetPassword, &user.email, lifetime).await?;
    let event = ev::PasswordResetRequested {
        user_id: user.id.to_string(),
        email: user.email.clone(),
        name: user.name.clone(),
        token,
        expires_at: Some(timestamp(expires_at)),
        occurred_at: Some(timestamp(Utc::now())),
    };
    events::enqueue(&mut tx, &EventContext { user_id: Some(user.id), ..ctx }, &event).await?;
    state.commit(tx).await?;
    tracing::info!(user_id = %user.id, "password reset link queued");
    Ok(())
}

/// Sets `new_password` for the holder of `token` and ends every session of the account.
/// The link went to the account's address, so using it proves the address as well.
pub async fn confirm(
    state: &AppState,
    ctx: EventContext,
    origin: Origin,
    token: &str,
    new_password: String,
) -> AppResult<()> {
    if token.trim().is_empty() {
        return Err(AppError::field("token", "is required"));
    }
    let mut tx = state.pool.begin().await?;
    let Some((user_id, sent_to)) = email_tokens::consume(&mut tx, Purpose::ResetPassword, token).await?
    else {
        return Err(AppError::field("token", INVALID));
    };
    let user = match users::find(&mut tx, user_id).await {
        Ok(user) => user,
        Err(AppError::NotFound(_)) => return Err(AppError::field("token", INVALID)),
        Err(error) => return Err(error),
    };
    // A link sent to an address the account no longer has does not open it.
    if !user.email.eq_ignore_ascii_case(&sent_to) {
        return Err(AppError::field("token", INVALID));
    }
    // The policy is checked after the token, so a bad password does not spend it: the
    // transaction rolls back, and the same link can be used with a better password.
    passwords::check_policy("new_password", &new_password, &user.email)?;
    let hash = state.passwords.hash(new_password).await?;
    sqlx::query("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1")
        .bind(user_id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    // The other links of this account stop working too: one reset ends them all, and so does
    // a pending change of address (whoever asked for it may be why the password is reset).
    email_tokens::spend_all(&mut tx, user_id, Purpose::ResetPassword).await?;
    email_tokens::spend_all(&mut tx, user_id, Purpose::VerifyEmail).await?;
    // A login that got past the old password and waits for its code is over too.
    mfa::end_challenges(&mut tx, user_id).await?;
    let entry = AuditEvent::new(user_id, AuditKind::PasswordReset, origin.clone(), json!({}));
    audit::record(&mut tx, &entry).await?;
    let ctx = EventContext { user_id: Some(user_id), ..ctx };
    verification::mark_verified(&mut tx, &ctx, origin, &user).await?;
    // Whoever knew the old password, or held a session, is out. Before the commit: if Redis
    // cannot revoke, nothing changes and the same link can be used again; a new password with
    // every old session still alive would be the worse outcome.
    state.sessions.revoke_all(user_id).await?;
    state.commit(tx).await?;
    tracing::info!(%user_id, "password reset");
    Ok(())
}
