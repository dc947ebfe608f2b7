//! Single-use tokens sent by email: a password reset, and an address's verification.
//!
//! A token is 32 random bytes, base64url; only its SHA-256 is stored, looked up by that hash.
//! It is as unforgeable as a signed token and, unlike one, can be spent: `consume` marks it
//! used in the statement that checks it, so two uses racing each other cannot both pass.
//! A wrong, expired or spent token gets the same answer, so a caller learns nothing about
//! which it was.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::AppResult;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Setting a new password without the old one.
    ResetPassword,
    /// Proving an address: the account's own, or one it is changing to.
    VerifyEmail,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::ResetPassword => "reset_password",
            Purpose::VerifyEmail => "verify_email",
        }
    }
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.trim().as_bytes()).to_vec()
}

/// Issues a token for `user_id` at `email`, valid for `ttl`; returns it and its expiry.
pub async fn issue(
    conn: &mut PgConnection,
    user_id: Uuid,
    purpose: Purpose,
    email: &str,
    ttl: chrono::Duration,
) -> AppResult<(String, DateTime<Utc>)> {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let expires_at = Utc::now() + ttl;
    sqlx::query(
        "INSERT INTO email_tokens (token_hash, user_id, purpose, email, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash(&token))
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(email)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok((token, expires_at))
}

/// Spends `token`: its user and the address it was sent to, or `None` when it is wrong,
/// expired or already used.
pub async fn consume(
    conn: &mut PgConnection,
    purpose: Purpose,
    token: &str,
) -> AppResult<Option<(Uuid, String)>> {
    Ok(sqlx::query_as(
        "UPDATE email_tokens SET used_at = now() \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now() \
         RETURNING user_id, email",
    )
    .bind(hash(token))
    .bind(purpose.as_str())
    .fetch_optional(conn)
    .await?)
}

/// Spends every unused token of `purpose` of `user_id` (a reset, or a password change, makes
/// the other reset links void).
pub async fn spend_all(conn: &mut PgConnection, user_id: Uuid, purpose: Purpose) -> AppResult<()> {
    sqlx::query(
        "UPDATE email_tokens SET used_at = now() WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(purpose.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// How many tokens of `purpose` `user_id` was sent in the last `window`.
pub async fn recent(
    conn: &mut PgConnection,
    user_id: Uuid,
    purpose: Purpose,
    window: chrono::Duration,
) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM email_tokens WHERE user_id = $1 AND purpose = $2 AND created_at > $3",
    )
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(Utc::now() - window)
    .fetch_one(conn)
    .await?)
}
