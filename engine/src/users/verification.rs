//! Verified email: a link sent to an address proves it is the account's.
//!
//! Registration sends the first link, in the registration's transaction. Until a link is
//! used, the notification service sends the address only security email (this link, a reset
//! link); alerts, summaries and digests wait for the proof. Links are throttled: one a minute
//! to an address, and five a day to an account, the registration's counted.
//!
//! A change of address is a link to the new address, and needs the password. The account
//! keeps its old address, for signing in and for email, until the new one's link is used;
//! a typo in the new address locks no one out. When it is used, the old address is told.
//! A password reset proves the address too, since its link went there.

use budgetsmart_common::events::{self, EventContext};
use budgetsmart_proto::events::v1 as ev;
use chrono::Utc;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::convert::timestamp;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::users::account::{self as users, UserRow};
use crate::users::audit::{self, AuditEvent, AuditKind, Origin};
use crate::users::email_tokens::{self, Purpose};
use crate::validation::Violations;

/// How long a verification link works.
pub const LINK_LIFETIME_HOURS: i64 = 24;
/// The least time between two links, in seconds.
pub const RESEND_INTERVAL_SECS: i64 = 60;
/// Links one account may be sent in a day.
pub const MAX_PER_DAY: usize = 5;
/// What any unusable token is told: wrong, expired and spent look the same.
const INVALID: &str = "is invalid or has expired; ask for a new link";

/// Issues a link to `address` for `user` and enqueues the email, in the caller's transaction.
/// `change` says the address is one the account is changing to.
pub async fn send_link(
    conn: &mut PgConnection,
    ctx: &EventContext,
    user: &UserRow,
    address: &str,
    change: bool,
) -> AppResult<()> {
    let lifetime = chrono::Duration::hours(LINK_LIFETIME_HOURS);
    let (token, expires_at) =
        email_tokens::issue(conn, user.id, Purpose::VerifyEmail, address, lifetime).await?;
    let event = ev::EmailVerificationRequested {
        user_id: user.id.to_string(),
        email: address.to_owned(),
        name: user.name.clone(),
        token,
        expires_at: Some(timestamp(expires_at)),
        occurred_at: Some(timestamp(Utc::now())),
        change,
    };
    events::enqueue(conn, ctx, &event).await?;
    Ok(())
}

/// Refuses a link to `address` sooner than [`RESEND_INTERVAL_SECS`] after the last one to it
/// from any account, or past [`MAX_PER_DAY`] links of the account a day, saying when the next
/// is allowed. (A first link to a new address need not wait for the account's last: the minute
/// protects a mailbox from a burst, the day's cap bounds the account.) Holds the user's and the
/// address's locks until the transaction ends, so parallel requests count each other.
async fn throttle(conn: &mut PgConnection, user_id: Uuid, address: &str) -> AppResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 23))")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    // Several accounts naming one address count together for its minute.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended(lower($1), 23))")
        .bind(address)
        .execute(&mut *conn)
        .await?;
    let sent: Vec<chrono::DateTime<Utc>> = sqlx::query_scalar(
        "SELECT created_at FROM email_tokens WHERE user_id = $1 AND purpose = 'verify_email' \
         AND created_at > now() - interval '1 day' ORDER BY created_at DESC",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    let last_to_address: Option<chrono::DateTime<Utc>> = sqlx::query_scalar(
        "SELECT max(created_at) FROM email_tokens WHERE purpose = 'verify_email' AND lower(email) = lower($1)",
    )
    .bind(address)
    .fetch_one(&mut *conn)
    .await?;
    let now = Utc::now();
    let wait = |until: chrono::DateTime<Utc>| AppError::Throttled {
        retry_after: u64::try_from((until - now).num_seconds().max(1)).unwrap_or(1),
    };
    if let Some(last) = last_to_address {
        let next = last + chrono::Duration::seconds(RESEND_INTERVAL_SECS);
        if next > now {
            return Err(wait(next));
        }
    }
    if let Some(oldest_counted) = sent.get(MAX_PER_DAY - 1) {
        return Err(wait(*oldest_counted + chrono::Duration::days(1)));
    }
    Ok(())
}

/// Sends a new link to the caller's address, unless it is verified already.
pub async fn resend(state: &AppState, ctx: EventContext, user_id: Uuid) -> AppResult<()> {
    let mut tx = state.pool.begin().await?;
    let user = users::find(&mut tx, user_id).await?;
    if user.email_verified_at.is_some() {
        return Err(AppError::Conflict("the address is already verified".into()));
    }
    throttle(&mut tx, user_id, &user.email).await?;
    send_link(&mut tx, &ctx, &user, &user.email, false).await?;
    state.commit(tx).await?;
    tracing::info!(%user_id, "verification link queued");
    Ok(())
}

/// Starts a change of the caller's address to `new_email`: checks the password, then sends
/// the new address a link. Earlier links of the account stop working.
pub async fn change_email(
    state: &AppState,
    ctx: EventContext,
    origin: Origin,
    user_id: Uuid,
    new_email: &str,
    password: String,
) -> AppResult<()> {
    let mut violations = Violations::default();
    let new_email = users::check_address(&mut violations, "new_email", new_email);
    if password.is_empty() {
        violations.add("password", "is required");
    }
    violations.finish()?;
    let mut conn = state.pool.acquire().await?;
    let user = users::find(&mut conn, user_id).await?;
    drop(conn);
    users::confirm_password(state, &user, password, "password").await?;
    if new_email.eq_ignore_ascii_case(&user.email) {
        return Err(AppError::field("new_email", "is already the account's address"));
    }
    let mut tx = state.pool.begin().await?;
    if users::find_by_email(&mut tx, &new_email).await?.is_some() {
        return Err(AppError::AlreadyExists("an account with this email already exists".into()));
    }
    throttle(&mut tx, user_id, &new_email).await?;
    // Only the newest link of the account works: an earlier change, or the old address's
    // own verification, is superseded.
    email_tokens::spend_all(&mut tx, user_id, Purpose::VerifyEmail).await?;
    send_link(&mut tx, &ctx, &user, &new_email, true).await?;
    let entry = AuditEvent::new(user_id, AuditKind::EmailChangeRequested, origin, json!({ "to": new_email }));
    audit::record(&mut tx, &entry).await?;
    state.commit(tx).await?;
    tracing::info!(%user_id, "change of address requested");
    Ok(())
}

/// Spends `token`: the address it was sent to is proven, and becomes the account's when it
/// was a change.
pub async fn verify(state: &AppState, ctx: EventContext, origin: Origin, token: &str) -> AppResult<()> {
    if token.trim().is_empty() {
        return Err(AppError::field("token", "is required"));
    }
    let mut tx = state.pool.begin().await?;
    let Some((user_id, sent_to)) = email_tokens::consume(&mut tx, Purpose::VerifyEmail, token).await? else {
        return Err(AppError::field("token", INVALID));
    };
    let user = match users::find(&mut tx, user_id).await {
        Ok(user) => user,
        Err(AppError::NotFound(_)) => return Err(AppError::field("token", INVALID)),
        Err(error) => return Err(error),
    };
    let ctx = EventContext { user_id: Some(user_id), ..ctx };
    if sent_to.eq_ignore_ascii_case(&user.email) {
        mark_verified(&mut tx, &ctx, origin, &user).await?;
    } else {
        change_to(&mut tx, &ctx, origin, &user, &sent_to).await?;
    }
    state.commit(tx).await?;
    Ok(())
}

/// Records that `user`'s current address is proven, once.
pub async fn mark_verified(
    conn: &mut PgConnection,
    ctx: &EventContext,
    origin: Origin,
    user: &UserRow,
) -> AppResult<()> {
    let verified = sqlx::query(
        "UPDATE users SET email_verified_at = now(), updated_at = now() \
         WHERE id = $1 AND email_verified_at IS NULL",
    )
    .bind(user.id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if verified == 0 {
        return Ok(());
    }
    let event = ev::EmailVerified {
        user_id: user.id.to_string(),
        email: user.email.clone(),
        name: user.name.clone(),
        previous_email: String::new(),
        occurred_at: Some(timestamp(Utc::now())),
    };
    events::enqueue(&mut *conn, ctx, &event).await?;
    let entry = AuditEvent::new(user.id, AuditKind::EmailVerified, origin, json!({}));
    audit::record(conn, &entry).await?;
    tracing::info!(user_id = %user.id, "address verified");
    Ok(())
}

/// Makes `address`, just proven, the account's address; the old one is told.
async fn change_to(
    conn: &mut PgConnection,
    ctx: &EventContext,
    origin: Origin,
    user: &UserRow,
    address: &str,
) -> AppResult<()> {
    // Another account may have taken the address since the link was sent: the unique index
    // refuses it (409), and the token stays unspent with the rollback.
    let changed: UserRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE users SET email = $2, email_verified_at = now(), updated_at = now() WHERE id = $1 \
         RETURNING {}",
        users::USER_COLUMNS
    )))
    .bind(user.id)
    .bind(address)
    .fetch_one(&mut *conn)
    .await?;
    // Links sent to the old address (a reset) no longer open the account.
    email_tokens::spend_all(conn, user.id, Purpose::ResetPassword).await?;
    email_tokens::spend_all(conn, user.id, Purpose::VerifyEmail).await?;
    events::enqueue(&mut *conn, ctx, &changed.updated_event()).await?;
    let event = ev::EmailVerified {
        user_id: user.id.to_string(),
        email: changed.email.clone(),
        name: changed.name.clone(),
        // An address never proven is not told (it may be a stranger's); the account then gets
        // the welcome it never had.
        previous_email: if user.email_verified_at.is_some() { user.email.clone() } else { String::new() },
        occurred_at: Some(timestamp(Utc::now())),
    };
    events::enqueue(&mut *conn, ctx, &event).await?;
    let detail = json!({ "from": user.email, "to": changed.email });
    audit::record(conn, &AuditEvent::new(user.id, AuditKind::EmailChanged, origin, detail)).await?;
    tracing::info!(user_id = %user.id, "address changed");
    Ok(())
}
