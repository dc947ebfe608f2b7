//! Password hashing (argon2id, OWASP parameters) and the password policy.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::AppError;

/// Shortest accepted password, in characters (NIST SP 800-63B allows 8; we ask a bit more).
pub const MIN_LENGTH: usize = 10;
/// Longest accepted password: long passphrases are fine, megabyte "passwords" are a DoS.
pub const MAX_LENGTH: usize = 128;

/// Passwords that meet the length rule but are among the most breached ones.
const COMMON: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "0123456789",
    "password12",
    "password123",
    "password1234",
    "qwertyuiop",
    "qwerty1234",
    "qwerty12345",
    "iloveyou12",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "abcdefghij",
    "aaaaaaaaaa",
    "passw0rd12",
    "letmein123",
    "welcome123",
    "administrator",
    "football12",
    "baseball12",
    "sunshine12",
    "princess12",
    "monkey1234",
];

/// OWASP's argon2id minimum: 19 MiB, 2 iterations, parallelism 1.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks the policy; `field` names the password field in the error.
pub fn check_policy(field: &str, password: &str, email: &str) -> Result<(), AppError> {
    let length = password.chars().count();
    let problem = if length < MIN_LENGTH {
        Some(format!("must be at least {MIN_LENGTH} characters"))
    } else if length > MAX_LENGTH {
        Some(format!("must be at most {MAX_LENGTH} characters"))
    } else if COMMON.contains(&password.to_lowercase().as_str()) {
        Some("is too common; choose another".to_owned())
    } else if password.eq_ignore_ascii_case(email.trim()) {
        Some("must not be the email address".to_owned())
    } else {
        None
    };
    match problem {
        Some(message) => Err(AppError::field(field, message)),
        None => Ok(()),
    }
}

/// Hashes on the blocking pool: argon2 takes tens of milliseconds of CPU by design.
pub async fn hash(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
}

/// Verifies on the blocking pool. With no stored hash it still does the work, so response
/// time does not tell whether an account exists.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let stored = match stored {
            Some(stored) => stored,
            None => dummy_hash()?.to_owned(),
        };
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("a stored password hash is malformed: {e}")))?;
        Ok(hasher().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
}

/// A hash with the same parameters as real ones, of a password nobody knows.
fn dummy_hash() -> Result<&'static str, AppError> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let salt = SaltString::generate(&mut OsRng);
    let hash = hasher()
        .hash_password(salt.as_str().as_bytes(), &salt)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing the dummy password: {e}")))?
        .to_string();
    Ok(DUMMY.get_or_init(|| hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_policy_holds() {
        let hashed = hash("correct horse battery".into()).await.expect("hashes");
        assert!(hashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery".into(), Some(hashed.clone())).await.expect("verifies"));
        assert!(!verify("wrong horse battery".into(), Some(hashed)).await.expect("verifies"));
        assert!(!verify("anything at all".into(), None).await.expect("dummy verifies"));
        assert!(check_policy("password", "short", "a@b.co").is_err());
        assert!(check_policy("password", "Password123", "a@b.co").is_err());
        assert!(check_policy("password", "a@example.com", "a@example.com").is_err());
        assert!(check_policy("password", "a fine long passphrase", "a@b.co").is_ok());
    }
}
