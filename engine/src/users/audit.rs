//! The audit log: security events of an account that its owner can read (`GET /me/audit`).
//!
//! A row is written in the same transaction as the change it describes where there is one
//! (password, profile), so the log never claims a change that did not commit nor misses one
//! that did. Logins and refresh-token reuse change nothing in the database; their rows are
//! plain inserts whose failure is logged and never fails the call. Events with no account to
//! attach a row to (a login with an unknown email, the deletion of the account itself, whose
//! rows go with it) go to the `audit` tracing target only.

use budgetsmart_common::pagination::{self, Page};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Longest user agent kept: enough to identify a browser or app, bounded so a client cannot
/// fill the table with one header.
pub const MAX_USER_AGENT: usize = 256;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    /// A login with the right password.
    LoginSucceeded,
    /// A login with a wrong password for an existing account.
    LoginFailed,
    /// An already-rotated refresh token came back; its session family was revoked.
    RefreshTokenReused,
    /// The password was changed (every session was revoked).
    PasswordChanged,
    /// Name, currency or time zone changed.
    ProfileUpdated,
    /// The account was deleted (logged only: its rows go with it).
    AccountDeleted,
    /// One session, or every other one, was ended from `/me/sessions`.
    SessionEnded,
    /// The password was set with a reset link (every session was revoked).
    PasswordReset,
    /// A link sent to the account's address was used.
    EmailVerified,
    /// A link was sent to a new address (`{"to": …}`); it is the account's once used.
    EmailChangeRequested,
    /// The account's address changed (`{"from": …, "to": …}`).
    EmailChanged,
    /// A TOTP app's enrolment began (not yet on).
    MfaEnrolmentStarted,
    /// A code confirmed the enrolment: two-factor sign-in is on, recovery codes issued.
    MfaEnabled,
    /// A login's password was right; its second factor was asked for.
    MfaRequired,
    /// A login's second step was refused (`{"with": "totp"|"recovery_code"}`).
    MfaFailed,
    /// Two-factor sign-in was turned off.
    MfaDisabled,
}

impl AuditKind {
    /// The name stored and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::LoginSucceeded => "login_succeeded",
            AuditKind::LoginFailed => "login_failed",
            AuditKind::RefreshTokenReused => "refresh_token_reused",
            AuditKind::PasswordChanged => "password_changed",
            AuditKind::ProfileUpdated => "profile_updated",
            AuditKind::AccountDeleted => "account_deleted",
            AuditKind::SessionEnded => "session_ended",
            AuditKind::PasswordReset => "password_reset",
            AuditKind::EmailVerified => "email_verified",
            AuditKind::EmailChangeRequested => "email_change_requested",
            AuditKind::EmailChanged => "email_changed",
            AuditKind::MfaEnrolmentStarted => "mfa_enrolment_started",
            AuditKind::MfaEnabled => "mfa_enabled",
            AuditKind::MfaRequired => "mfa_required",
            AuditKind::MfaFailed => "mfa_failed",
            AuditKind::MfaDisabled => "mfa_disabled",
        }
    }
}

/// Where a request came from, as the gateway saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The client's address, normalised; `None` when unknown or not an address.
    pub ip: Option<String>,
    /// The client's user agent, at most [`MAX_USER_AGENT`] characters.
    pub user_agent: Option<String>,
}

impl Origin {
    /// Normalises what the gateway forwarded: anything that is not an IP address is dropped
    /// (the column must never hold arbitrary client text), the user agent is cut to size.
    pub fn new(ip: Option<&str>, user_agent: Option<&str>) -> Origin {
        Origin {
            ip: ip.and_then(parse_ip),
            user_agent: user_agent
                .map(str::trim)
                .filter(|ua| !ua.is_empty())
                .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
        }
    }

    /// The same origin, with `ip` as the address if it had none.
    pub fn or_ip(self, ip: &str) -> Origin {
        Origin { ip: self.ip.or_else(|| parse_ip(ip)), ..self }
    }
}

fn parse_ip(text: &str) -> Option<String> {
    text.trim().parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
}

/// One event about to be recorded.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// UUIDv7, taken when the event happens, so the order holds even for rows written later.
    pub id: Uuid,
    /// Whose account.
    pub user_id: Uuid,
    /// What happened.
    pub kind: AuditKind,
    /// Where the request came from.
    pub origin: Origin,
    /// A JSON object with facts about the event.
    pub detail: serde_json::Value,
    /// When it happened (not when the row was written).
    pub occurred_at: DateTime<Utc>,
}

impl AuditEvent {
    /// An event happening now.
    pub fn new(user_id: Uuid, kind: AuditKind, origin: Origin, detail: serde_json::Value) -> AuditEvent {
        AuditEvent { id: Uuid::now_v7(), user_id, kind, origin, detail, occurred_at: Utc::now() }
    }
}

/// A stored event. `kind` stays text so a row written by a newer replica still reads.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: Uuid,
    pub kind: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

/// Writes `event`; inside the change's transaction when `conn` is one.
#[tracing::instrument(skip_all, fields(kind = event.kind.as_str()))]
pub async fn record(conn: &mut PgConnection, event: &AuditEvent) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO audit_events (id, user_id, kind, ip, user_agent, detail, occurred_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(event.id)
    .bind(event.user_id)
    .bind(event.kind.as_str())
    .bind(event.origin.ip.as_deref())
    .bind(event.origin.user_agent.as_deref())
    .bind(&event.detail)
    .bind(event.occurred_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes `event` on its own, for calls the audit row must never fail (a login that succeeded
/// is still a success): a failure is logged with the event instead.
pub async fn record_or_log(pool: &PgPool, event: &AuditEvent) {
    let written = match pool.acquire().await {
        Ok(mut conn) => record(&mut conn, event).await,
        Err(error) => Err(AppError::from(error)),
    };
    if let Err(error) = written {
        tracing::error!(
            target: "audit",
            error = %format!("{error:#}"),
            kind = event.kind.as_str(),
            user_id = %event.user_id,
            ip = event.origin.ip.as_deref(),
            user_agent = event.origin.user_agent.as_deref(),
            "could not record an audit event"
        );
    }
}

/// Logs an event that has no row: no account to attach it to (`user_id` is `None`), or the
/// account is being deleted with its rows. Operators keep these in the `audit` log target.
pub fn log(kind: AuditKind, user_id: Option<Uuid>, origin: &Origin, message: &str) {
    tracing::info!(
        target: "audit",
        kind = kind.as_str(),
        user_id = user_id.map(|id| id.to_string()),
        ip = origin.ip.as_deref(),
        user_agent = origin.user_agent.as_deref(),
        "{message}"
    );
}

/// A page of `user_id`'s events, newest first, and the cursor of the next page (empty at the end).
#[tracing::instrument(skip_all)]
pub async fn list(pool: &PgPool, user_id: Uuid, page: &Page) -> AppResult<(Vec<AuditRow>, String)> {
    let after = match page.after.as_deref() {
        Some([id]) => Some(
            Uuid::parse_str(id)
                .map_err(|_| AppError::field("cursor", "is not a cursor this API returned"))?,
        ),
        Some(_) => return Err(AppError::field("cursor", "is not a cursor this API returned")),
        None => None,
    };
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT id, kind, ip, user_agent, detail, occurred_at FROM audit_events \
         WHERE user_id = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(after)
    .bind(page.limit + 1)
    .fetch_all(pool)
    .await?;
    Ok(pagination::finish(rows, page.limit, |r| vec![r.id.to_string()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_keeps_only_addresses_and_bounded_user_agents() {
        let long = "x".repeat(MAX_USER_AGENT + 50);
        let origin = Origin::new(Some(" 127.0.0.1 "), Some(long.as_str()));
        assert_eq!(origin.ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(origin.user_agent.map(|ua| ua.chars().count()), Some(MAX_USER_AGENT));

        let junk = Origin::new(Some("<script>"), Some("   "));
        assert_eq!(junk, Origin::default());

        let forwarded = Origin::new(Some("10.0.0.1"), None).or_ip("::1");
        assert_eq!(forwarded.ip.as_deref(), Some("10.0.0.1"));
        let fallback = Origin::new(None, None).or_ip("::1");
        assert_eq!(fallback.ip.as_deref(), Some("::1"));
    }

    #[test]
    fn kinds_have_their_api_names() {
        assert_eq!(AuditKind::RefreshTokenReused.as_str(), "refresh_token_reused");
        assert_eq!(AuditKind::LoginFailed.as_str(), "login_failed");
    }
}
