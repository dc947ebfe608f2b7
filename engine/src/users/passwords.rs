//! Password hashing (argon2id, OWASP parameters) and the password policy.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

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
fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid")
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

/// Password hashing with bounded memory.
///
/// Each argon2id hash needs 19 MiB of working memory. Allocated per call on the blocking
/// pool (up to 512 threads), a burst of registrations or logins could take `burst × 19 MiB`,
/// and glibc keeps freed blocks of that size in the threads' arenas, so the engine's RSS
/// grew with every new blocking thread and did not come back. Here at most `slots` hashes
/// run at once, each in a buffer allocated on first use and then reused: the hashing memory
/// is at most `slots × 19 MiB` whatever the load. A call that cannot get a slot within
/// `wait` is refused as busy (429 with `Retry-After`), not queued without end.
#[derive(Clone)]
pub struct Passwords {
    slots: Arc<Semaphore>,
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    wait: Duration,
    dummy: Arc<std::sync::OnceLock<String>>,
}

impl Passwords {
    /// At most `slots` (at least one) hashes at once; a caller waits at most `wait` for one.
    pub fn new(slots: usize, wait: Duration) -> Passwords {
        Passwords {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            buffers: Arc::default(),
            wait,
            dummy: Arc::default(),
        }
    }

    /// The argon2id PHC string of `password` with a fresh salt.
    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        self.run(move |memory| hash_with(memory, password.as_bytes())).await?
    }

    /// Whether `password` matches `stored`. With no stored hash it still does the work, so
    /// response time does not tell whether an account exists.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, AppError> {
        let dummy = self.dummy.clone();
        self.run(move |memory| {
            let stored = match stored {
                Some(stored) => stored,
                None => dummy
                    .get_or_init(|| hash_with(memory, b"no account has this").unwrap_or_default())
                    .clone(),
            };
            verify_with(memory, password.as_bytes(), &stored)
        })
        .await?
    }

    /// Runs `work` on the blocking pool with a slot's memory.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let permit = match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(closed)) => return Err(AppError::Internal(closed.into())),
            Err(_) => return Err(AppError::Busy("every password-hashing slot stayed busy")),
        };
        let buffers = self.buffers.clone();
        let mut memory = buffers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop()
            .unwrap_or_else(|| vec![Block::default(); params().block_count()]);
        tokio::task::spawn_blocking(move || {
            let answer = work(&mut memory);
            buffers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(memory);
            drop(permit);
            answer
        })
        .await
        .map_err(|e| AppError::Internal(e.into()))
    }
}

fn crypto(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("argon2: {e}"))
}

/// Hashes `password` in `memory` (at least the parameters' block count).
fn hash_with(memory: &mut [Block], password: &[u8]) -> Result<String, AppError> {
    let params = params();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt.as_salt().decode_b64(&mut salt_bytes).map_err(crypto)?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon2
            .hash_password_into_with_memory(password, raw_salt, out, &mut *memory)
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .map_err(crypto)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(crypto)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Checks `password` against the PHC string `stored`, with the parameters it names (a hash
/// made with more memory than today's grows this slot's buffer once).
fn verify_with(memory: &mut Vec<Block>, password: &[u8], stored: &str) -> Result<bool, AppError> {
    let malformed = |e: &dyn std::fmt::Display| {
        AppError::Internal(anyhow::anyhow!("a stored password hash is malformed: {e}"))
    };
    let parsed = PasswordHash::new(stored).map_err(|e| malformed(&e))?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| malformed(&e))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| malformed(&e))?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(|e| malformed(&e))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(malformed(&"no salt or no hash"));
    };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut salt_bytes).map_err(|e| malformed(&e))?;
    let argon2 = Argon2::new(algorithm, version, params);
    let actual = Output::init_with(expected.len(), |out| {
        argon2
            .hash_password_into_with_memory(password, raw_salt, out, &mut memory[..])
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .map_err(crypto)?;
    // `Output`'s equality is constant-time.
    Ok(actual == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[tokio::test]
    async fn hashes_verify_and_policy_holds() {
        let passwords = Passwords::new(2, Duration::from_secs(30));
        let hashed = passwords.hash("correct horse battery".into()).await.expect("hashes");
        assert!(hashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            passwords.verify("correct horse battery".into(), Some(hashed.clone())).await.expect("verifies")
        );
        assert!(!passwords.verify("wrong horse battery".into(), Some(hashed)).await.expect("verifies"));
        assert!(!passwords.verify("anything at all".into(), None).await.expect("dummy verifies"));
        assert!(check_policy("password", "short", "a@b.co").is_err());
        assert!(check_policy("password", "Password123", "a@b.co").is_err());
        assert!(check_policy("password", "a@example.com", "a@example.com").is_err());
        assert!(check_policy("password", "a fine long passphrase", "a@b.co").is_ok());
    }

    /// The pooled-memory path must read and write the same PHC strings as the argon2 crate's
    /// own API, or existing accounts could not log in.
    #[tokio::test]
    async fn pooled_hashes_agree_with_the_argon2_crate() {
        let passwords = Passwords::new(1, Duration::from_secs(30));
        let ours = passwords.hash("a fine long passphrase".into()).await.expect("hashes");
        let parsed = PasswordHash::new(&ours).expect("a PHC string");
        let crate_hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        assert!(crate_hasher.verify_password(b"a fine long passphrase", &parsed).is_ok());

        let salt = SaltString::generate(&mut OsRng);
        let theirs = crate_hasher.hash_password(b"another passphrase", &salt).expect("hashes").to_string();
        assert!(passwords.verify("another passphrase".into(), Some(theirs.clone())).await.expect("verifies"));
        assert!(!passwords.verify("another passphrase!".into(), Some(theirs)).await.expect("verifies"));
        // A hash with more memory than today's parameters still verifies.
        let stronger = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(32 * 1024, 2, 1, None).expect("valid parameters"),
        );
        let strong = stronger.hash_password(b"stronger passphrase", &salt).expect("hashes").to_string();
        assert!(passwords.verify("stronger passphrase".into(), Some(strong)).await.expect("verifies"));
    }

    /// With every slot busy, a caller is refused as busy after the wait instead of adding
    /// another 19 MiB.
    #[tokio::test]
    async fn a_caller_is_refused_when_every_slot_stays_busy() {
        let passwords = Passwords::new(1, Duration::from_millis(50));
        let held = passwords.slots.clone().acquire_owned().await.expect("the only slot");
        let refused = passwords.hash("correct horse battery".into()).await;
        assert!(matches!(refused, Err(AppError::Busy(_))), "{refused:?}");
        drop(held);
        assert!(passwords.hash("correct horse battery".into()).await.is_ok());
        assert_eq!(
            passwords.buffers.lock().expect("not poisoned").len(),
            1,
            "the slot's buffer is kept for reuse"
        );
    }
}
