//! Ed25519 key material for access tokens.
//!
//! Production takes PEM keys from the environment. Development generates one key pair on first
//! use into a git-ignored folder, so `make run` needs no set-up and every local service agrees.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rand_core::{OsRng, RngCore};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::config::{self, ConfigError, Environment};

/// PEM-encoded keys: the private one only where tokens are issued.
#[derive(Clone)]
pub struct KeyMaterial {
    /// PKCS#8 private key; `None` in services that only verify.
    pub private_pem: Option<SecretString>,
    /// SPKI public key.
    pub public_pem: String,
    /// Key id: the first 16 hex digits of SHA-256 over the raw public key.
    pub kid: String,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl KeyMaterial {
    /// A fresh random key pair, held only in memory (tests use this).
    pub fn generate() -> KeyMaterial {
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        from_signing_key(&SigningKey::from_bytes(&seed)).expect("a fresh Ed25519 key encodes")
    }

    /// Reads the keys from `JWT_PRIVATE_KEY`/`JWT_PUBLIC_KEY` (PEM text) or their `_FILE`
    /// variants. In development a missing key is generated under `BUDGETSMART_DEV_DIR`.
    pub fn from_env(env: Environment, need_private: bool) -> Result<KeyMaterial, ConfigError> {
        if let Some(private) = read_pem("JWT_PRIVATE_KEY")? {
            return parse_private("JWT_PRIVATE_KEY", private.expose_secret());
        }
        if !need_private && let Some(public) = read_pem("JWT_PUBLIC_KEY")? {
            let public = public.expose_secret().to_owned();
            return Ok(KeyMaterial {
                kid: kid_of_public_pem(&public)
                    .map_err(|problem| ConfigError { name: "JWT_PUBLIC_KEY".into(), problem })?,
                private_pem: None,
                public_pem: public,
            });
        }
        match env {
            Environment::Production => Err(ConfigError {
                name: if need_private { "JWT_PRIVATE_KEY" } else { "JWT_PUBLIC_KEY" }.into(),
                problem: "must be set (PEM text, or a path in the _FILE variant) in production".into(),
            }),
            Environment::Development => {
                let dir = PathBuf::from(config::string("BUDGETSMART_DEV_DIR", ".dev")).join("jwt");
                let mut keys = load_or_create_dev_key(&dir)?;
                if !need_private {
                    keys.private_pem = None;
                }
                Ok(keys)
            }
        }
    }
}

fn read_pem(name: &str) -> Result<Option<SecretString>, ConfigError> {
    if let Some(text) = config::optional(name) {
        return Ok(Some(SecretString::from(text)));
    }
    let file_var = format!("{name}_FILE");
    match config::optional(&file_var) {
        None => Ok(None),
        Some(path) => std::fs::read_to_string(&path)
            .map(|t| Some(SecretString::from(t)))
            .map_err(|e| ConfigError { name: file_var, problem: format!("cannot read {path}: {e}") }),
    }
}

fn parse_private(name: &str, pem: &str) -> Result<KeyMaterial, ConfigError> {
    let key = SigningKey::from_pkcs8_pem(pem).map_err(|e| ConfigError {
        name: name.to_owned(),
        problem: format!("not a PKCS#8 Ed25519 private key: {e}"),
    })?;
    from_signing_key(&key).map_err(|problem| ConfigError { name: name.to_owned(), problem })
}

fn from_signing_key(key: &SigningKey) -> Result<KeyMaterial, String> {
    let private = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| e.to_string())?;
    let verifying = key.verifying_key();
    let public = verifying.to_public_key_pem(LineEnding::LF).map_err(|e| e.to_string())?;
    Ok(KeyMaterial {
        private_pem: Some(SecretString::from(private.as_str().to_owned())),
        public_pem: public,
        kid: kid_of(verifying.as_bytes()),
    })
}

fn kid_of(raw_public: &[u8]) -> String {
    let digest = Sha256::digest(raw_public);
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn kid_of_public_pem(pem: &str) -> Result<String, String> {
    use ed25519_dalek::VerifyingKey;
    use ed25519_dalek::pkcs8::DecodePublicKey;
    let key =
        VerifyingKey::from_public_key_pem(pem).map_err(|e| format!("not an SPKI Ed25519 public key: {e}"))?;
    Ok(kid_of(key.as_bytes()))
}

/// Loads the development key, creating it atomically if no process has yet: several services
/// start at once under `make run`, and they must all end up with the same key.
fn load_or_create_dev_key(dir: &Path) -> Result<KeyMaterial, ConfigError> {
    let path = dir.join("ed25519-private.pem");
    let pem = read_or_create(&path, || {
        let fresh = KeyMaterial::generate();
        fresh.private_pem.as_ref().map(|p| p.expose_secret().to_owned()).unwrap_or_default()
    })?;
    parse_private("BUDGETSMART_DEV_DIR", &pem)
}

/// A secret shared by the local services: `name` from the environment (or `name_FILE`); in
/// development, 32 random bytes (hex) created once under `BUDGETSMART_DEV_DIR`.
pub fn shared_secret(env: Environment, name: &str) -> Result<SecretString, ConfigError> {
    if let Some(secret) = read_pem(name)? {
        let trimmed = secret.expose_secret().trim();
        if trimmed.len() < 32 {
            return Err(ConfigError { name: name.into(), problem: "must be at least 32 characters".into() });
        }
        if env == Environment::Production
            && let Some(why) = placeholder(trimmed)
        {
            return Err(ConfigError {
                name: name.into(),
                problem: format!("looks like a placeholder: {why}"),
            });
        }
        return Ok(SecretString::from(trimmed.to_owned()));
    }
    match env {
        Environment::Production => Err(ConfigError {
            name: name.into(),
            problem: "must be set (or a path in the _FILE variant) in production".into(),
        }),
        Environment::Development => {
            let dir = PathBuf::from(config::string("BUDGETSMART_DEV_DIR", ".dev")).join("secrets");
            let path = dir.join(name.to_ascii_lowercase());
            let text = read_or_create(&path, || {
                let mut bytes = [0u8; 32];
                OsRng.fill_bytes(&mut bytes);
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            })?;
            Ok(SecretString::from(text.trim().to_owned()))
        }
    }
}

/// Why `value` looks like a template's placeholder rather than a secret, if it does: the
/// Kubernetes secret template's `REPLACE-WITH-AT-LEAST-32-RANDOM-CHARACTERS` is 42 characters,
/// so the length check alone let it through into production.
pub fn placeholder(value: &str) -> Option<&'static str> {
    let lower = value.to_ascii_lowercase();
    const WORDS: [&str; 8] =
        ["replace", "change-me", "changeme", "placeholder", "example", "your-", "todo", "xxxx"];
    if WORDS.iter().any(|w| lower.contains(w)) {
        return Some("it contains a template word");
    }
    let distinct: std::collections::HashSet<char> = value.chars().collect();
    // 32 random hex characters hold about 16 distinct ones; a repeated pattern holds few.
    (distinct.len() < 10).then_some("it has fewer than 10 distinct characters")
}

/// Fails unless the named secrets all differ: one leaked secret must not also be another
/// (a service credential that is also the unsubscribe key would let anyone who can read an
/// email's link mint service calls, and the other way round). Checked in production.
pub fn distinct(env: Environment, secrets: &[(&str, &SecretString)]) -> Result<(), ConfigError> {
    if env != Environment::Production {
        return Ok(());
    }
    for (i, (name, secret)) in secrets.iter().enumerate() {
        for (other, other_secret) in &secrets[i + 1..] {
            if secret.expose_secret() == other_secret.expose_secret() {
                return Err(ConfigError {
                    name: (*name).into(),
                    problem: format!("must differ from {other}"),
                });
            }
        }
    }
    Ok(())
}

/// Reads `path`, first writing `fresh()` there if no process has yet. `hard_link` fails when
/// the target exists, so exactly one writer wins and every reader sees its content.
fn read_or_create(path: &Path, fresh: impl FnOnce() -> String) -> Result<String, ConfigError> {
    let problem = |what: &str, e: std::io::Error| ConfigError {
        name: "BUDGETSMART_DEV_DIR".into(),
        problem: format!("{what} {}: {e}", path.display()),
    };
    if !path.exists() {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| problem("cannot create the folder of", e))?;
        // A random name, not the pid: containers sharing the folder are all pid 1.
        let tmp = dir.join(format!(".secret-{}.tmp", uuid::Uuid::now_v7().simple()));
        std::fs::write(&tmp, fresh()).map_err(|e| problem("cannot write next to", e))?;
        let _ = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
    }
    std::fs::read_to_string(path).map_err(|e| problem("cannot read", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_key_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("bs-keys-{}", uuid::Uuid::now_v7()));
        let first = load_or_create_dev_key(&dir).expect("creates");
        let second = load_or_create_dev_key(&dir).expect("reloads");
        assert_eq!(first.kid, second.kid);
        assert_eq!(first.public_pem, second.public_pem);
        assert_eq!(kid_of_public_pem(&first.public_pem).expect("parses"), first.kid);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn template_values_are_placeholders_and_random_ones_are_not() {
        // The Kubernetes secret template's value, which passed the length check.
        assert!(placeholder("REPLACE-WITH-AT-LEAST-32-RANDOM-CHARACTERS").is_some());
        assert!(placeholder("change-me-change-me-change-me-1234").is_some());
        assert!(placeholder(&"ab".repeat(20)).is_some(), "a repeated pattern");
        assert_eq!(placeholder("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"), None);
    }

    #[test]
    fn production_secrets_must_differ() {
        let one = SecretString::from("9f86d081884c7d659a2feaa0c55ad015".to_owned());
        let same = SecretString::from("9f86d081884c7d659a2feaa0c55ad015".to_owned());
        let other = SecretString::from("a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned());
        let refused = distinct(Environment::Production, &[("SERVICE_TOKEN", &one), ("GATEWAY_TOKEN", &same)])
            .expect_err("the same value twice");
        assert_eq!(refused.name, "SERVICE_TOKEN");
        assert!(refused.problem.contains("GATEWAY_TOKEN"), "{}", refused.problem);
        assert!(
            distinct(Environment::Production, &[("SERVICE_TOKEN", &one), ("GATEWAY_TOKEN", &other)]).is_ok()
        );
        assert!(distinct(Environment::Development, &[("A", &one), ("B", &same)]).is_ok(), "only production");
    }
}
