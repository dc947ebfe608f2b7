//! Two-factor sign-in with a TOTP app: enrolment, the login's second step, turning it off.
//!
//! Enrolment stores a pending factor and gives its secret and `otpauth://` URI; a code from the
//! app confirms it, turns it on and gives ten recovery codes (stored hashed). With it on, a
//! login whose password is right gets a five-minute `mfa_token` instead of tokens (a
//! `mfa_challenges` row), and `CompleteMfa` with that token and a code, or a recovery code,
//! starts the session. A code is accepted once: its time step must be later than the last
//! accepted one. Wrong codes count against the account like wrong passwords (five in the
//! window). A wrong, expired or spent token and a wrong or reused code get the same answer.
//! Turning it off needs the password and a code. Every step is in the audit log.

use chrono::Utc;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::users::account::{self as users, UserRow};
use crate::users::audit::{self, AuditEvent, AuditKind, Origin};
use crate::users::totp;

/// How long a login may wait for its second factor.
pub const CHALLENGE_MINUTES: i64 = 5;
/// What a failed second step is told, whatever failed.
const REFUSED: &str = "the sign-in token or the code is not valid";

/// A stored factor.
#[derive(sqlx::FromRow)]
struct Factor {
    secret: Vec<u8>,
    confirmed_at: Option<chrono::DateTime<Utc>>,
}

async fn factor(conn: &mut PgConnection, user_id: Uuid, lock: bool) -> AppResult<Option<Factor>> {
    let sql = if lock {
        "SELECT secret, confirmed_at FROM totp_factors WHERE user_id = $1 FOR UPDATE"
    } else {
        "SELECT secret, confirmed_at FROM totp_factors WHERE user_id = $1"
    };
    Ok(sqlx::query_as(sql).bind(user_id).fetch_optional(conn).await?)
}

/// Ends every login of `user_id` that waits for its second factor (the password changed).
pub async fn end_challenges(conn: &mut PgConnection, user_id: Uuid) -> AppResult<()> {
    sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1").bind(user_id).execute(conn).await?;
    Ok(())
}

/// Whether `user_id` signs in with a second factor.
pub async fn enabled(conn: &mut PgConnection, user_id: Uuid) -> AppResult<bool> {
    Ok(factor(conn, user_id, false).await?.is_some_and(|f| f.confirmed_at.is_some()))
}

/// Starts (or restarts) an enrolment: a new pending secret; its URI and base32 form.
pub async fn start(state: &AppState, user_id: Uuid, origin: Origin) -> AppResult<(String, String)> {
    let mut tx = state.pool.begin().await?;
    let user = users::find(&mut tx, user_id).await?;
    if factor(&mut tx, user_id, true).await?.is_some_and(|f| f.confirmed_at.is_some()) {
        return Err(AppError::Conflict("two-factor sign-in is already on; turn it off first".into()));
    }
    let secret = totp::new_secret();
    sqlx::query(
        "INSERT INTO totp_factors (user_id, secret) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE SET secret = EXCLUDED.secret, created_at = now(), last_step = 0",
    )
    .bind(user_id)
    .bind(&secret)
    .execute(&mut *tx)
    .await?;
    audit::record(&mut tx, &AuditEvent::new(user_id, AuditKind::MfaEnrolmentStarted, origin, json!({})))
        .await?;
    tx.commit().await?;
    totp::enrolment(&secret, &user.email)
}

/// The pending enrolment's URI and secret (for its QR code); none once confirmed.
pub async fn pending(state: &AppState, user_id: Uuid) -> AppResult<(String, String)> {
    let mut conn = state.pool.acquire().await?;
    let user = users::find(&mut conn, user_id).await?;
    match factor(&mut conn, user_id, false).await? {
        Some(Factor { secret, confirmed_at: None }) => totp::enrolment(&secret, &user.email),
        _ => Err(AppError::NotFound("pending enrolment")),
    }
}

/// Confirms the pending enrolment with a `code` from the app: two-factor sign-in is on, and
/// these are the recovery codes (shown once).
/// Every other session ends: one that began with the password alone (perhaps a phished one)
/// must not outlive the second factor.
pub async fn confirm(
    state: &AppState,
    user_id: Uuid,
    session: Option<Uuid>,
    origin: Origin,
    code: &str,
) -> AppResult<Vec<String>> {
    let attempt = state.throttle.second_factor(user_id).await?;
    let mut tx = state.pool.begin().await?;
    let user = users::find(&mut tx, user_id).await?;
    let Some(Factor { secret, confirmed_at: None }) = factor(&mut tx, user_id, true).await? else {
        state.throttle.forgive(attempt).await;
        return Err(AppError::Conflict(
            "no enrolment waits for a code; start one with POST /me/mfa/totp".into(),
        ));
    };
    let generator = totp::generator(&secret, &user.email)?;
    let Some(step) = totp::step_of(&generator, code, now()) else {
        return Err(AppError::field("code", "is not the app's current code"));
    };
    sqlx::query("UPDATE totp_factors SET confirmed_at = now(), last_step = $2 WHERE user_id = $1")
        .bind(user_id)
        .bind(i64::try_from(step).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
    let codes = totp::new_recovery_codes();
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    for code in &codes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(totp::recovery_hash(code))
            .execute(&mut *tx)
            .await?;
    }
    audit::record(&mut tx, &AuditEvent::new(user_id, AuditKind::MfaEnabled, origin, json!({}))).await?;
    tx.commit().await?;
    state.throttle.succeeded(attempt).await?;
    state.sessions.end_others(user_id, session).await?;
    Ok(codes)
}

/// A second factor as given: a code from the app, or a recovery code.
pub enum Proof<'a> {
    Code(&'a str),
    RecoveryCode(&'a str),
}

impl<'a> Proof<'a> {
    /// Exactly one of `code` and `recovery_code`.
    pub fn from_fields(code: &'a str, recovery_code: &'a str) -> AppResult<Proof<'a>> {
        match (code.trim().is_empty(), recovery_code.trim().is_empty()) {
            (false, true) => Ok(Proof::Code(code)),
            (true, false) => Ok(Proof::RecoveryCode(recovery_code)),
            (true, true) => Err(AppError::field("code", "is required (or a recovery_code)")),
            (false, false) => {
                Err(AppError::field("recovery_code", "give a code or a recovery code, not both"))
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Proof::Code(_) => "totp",
            Proof::RecoveryCode(_) => "recovery_code",
        }
    }
}

/// Spends `proof` for `user` in the caller's transaction: a code whose step is later than the
/// last accepted one (which it becomes), or an unused recovery code (which it uses up).
async fn spend(conn: &mut PgConnection, user: &UserRow, proof: &Proof<'_>) -> AppResult<bool> {
    let Some(Factor { secret, confirmed_at: Some(_) }) = factor(conn, user.id, true).await? else {
        return Ok(false);
    };
    match proof {
        Proof::Code(code) => {
            let generator = totp::generator(&secret, &user.email)?;
            let Some(step) = totp::step_of(&generator, code, now()) else { return Ok(false) };
            let accepted =
                sqlx::query("UPDATE totp_factors SET last_step = $2 WHERE user_id = $1 AND last_step < $2")
                    .bind(user.id)
                    .bind(i64::try_from(step).unwrap_or(i64::MAX))
                    .execute(conn)
                    .await?
                    .rows_affected();
            Ok(accepted == 1)
        }
        Proof::RecoveryCode(code) => {
            let used = sqlx::query(
                "UPDATE recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
            )
            .bind(user.id)
            .bind(totp::recovery_hash(code))
            .execute(conn)
            .await?
            .rows_affected();
            Ok(used == 1)
        }
    }
}

/// Issues the second step's token for a login of `user_id` whose password was right.
pub async fn challenge(state: &AppState, user_id: Uuid, origin: Origin) -> AppResult<String> {
    let (token, hash) = totp::new_token();
    let mut tx = state.pool.begin().await?;
    sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1 AND expires_at < now()")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO mfa_challenges (token_hash, user_id, expires_at) \
         VALUES ($1, $2, now() + make_interval(mins => $3))",
    )
    .bind(hash)
    .bind(user_id)
    .bind(i32::try_from(CHALLENGE_MINUTES).unwrap_or(5))
    .execute(&mut *tx)
    .await?;
    let entry = AuditEvent::new(user_id, AuditKind::MfaRequired, origin, json!({}));
    audit::record(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(token)
}

/// The login's second step: the user whose session may start, once `proof` is right for the
/// login that `mfa_token` stands for.
pub async fn complete(
    state: &AppState,
    origin: Origin,
    mfa_token: &str,
    proof: Proof<'_>,
) -> AppResult<Uuid> {
    let refused = || AppError::Unauthenticated(REFUSED);
    if mfa_token.trim().is_empty() {
        return Err(AppError::field("mfa_token", "is required"));
    }
    let hash = totp::token_hash(mfa_token);
    let mut conn = state.pool.acquire().await?;
    let user_id: Option<Uuid> =
        sqlx::query_scalar("SELECT user_id FROM mfa_challenges WHERE token_hash = $1 AND expires_at > now()")
            .bind(&hash)
            .fetch_optional(&mut *conn)
            .await?;
    drop(conn);
    let Some(user_id) = user_id else { return Err(refused()) };
    let attempt = state.throttle.second_factor(user_id).await?;
    let mut tx = state.pool.begin().await?;
    let user = users::find(&mut tx, user_id).await?;
    // The token is spent with the code, in one transaction: two racing uses cannot both pass.
    let taken = sqlx::query("DELETE FROM mfa_challenges WHERE token_hash = $1 AND expires_at > now()")
        .bind(&hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if taken == 0 {
        // Spent by a parallel use (a double submit) or just expired: not a guess at the code.
        drop(tx);
        state.throttle.forgive(attempt).await;
        return Err(refused());
    }
    if !spend(&mut tx, &user, &proof).await? {
        drop(tx);
        let entry = AuditEvent::new(user_id, AuditKind::MfaFailed, origin, json!({ "with": proof.name() }));
        audit::record_or_log(&state.pool, &entry).await;
        return Err(refused());
    }
    let entry =
        AuditEvent::new(user_id, AuditKind::LoginSucceeded, origin, json!({ "second_factor": proof.name() }));
    audit::record(&mut tx, &entry).await?;
    tx.commit().await?;
    state.throttle.succeeded(attempt).await?;
    Ok(user_id)
}

/// Turns two-factor sign-in off: the password and a code (or a recovery code) are needed.
pub async fn disable(
    state: &AppState,
    user_id: Uuid,
    origin: Origin,
    password: String,
    proof: Proof<'_>,
) -> AppResult<()> {
    let mut conn = state.pool.acquire().await?;
    let user = users::find(&mut conn, user_id).await?;
    let on = enabled(&mut conn, user_id).await?;
    drop(conn);
    if !on {
        return Err(AppError::Conflict("two-factor sign-in is not on".into()));
    }
    users::confirm_password(state, &user, password, "password").await?;
    let attempt = state.throttle.second_factor(user_id).await?;
    let mut tx = state.pool.begin().await?;
    if !spend(&mut tx, &user, &proof).await? {
        let field = match proof {
            Proof::Code(_) => "code",
            Proof::RecoveryCode(_) => "recovery_code",
        };
        return Err(AppError::field(field, "is not valid"));
    }
    sqlx::query("DELETE FROM totp_factors WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    audit::record(&mut tx, &AuditEvent::new(user_id, AuditKind::MfaDisabled, origin, json!({}))).await?;
    tx.commit().await?;
    state.throttle.succeeded(attempt).await?;
    Ok(())
}

fn now() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or(0)
}
