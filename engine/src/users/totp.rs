//! The arithmetic of two-factor sign-in, with no storage: TOTP codes (RFC 6238: HMAC-SHA-1,
//! six digits, 30-second steps, one step either side accepted, by the `totp-rs` crate) and
//! recovery codes.

use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use totp_rs::{Builder, Totp};

use crate::error::{AppError, AppResult};

/// The name authenticator apps show beside the account.
pub const ISSUER: &str = "BudgetSmart";
/// How many recovery codes an enrolment gives.
pub const RECOVERY_CODES: usize = 10;
/// Secret length: 160 bits, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;

/// A fresh secret from the operating system's generator.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut secret);
    secret
}

/// The generator for `secret`, labelled with `account` (the email) in its URI.
pub fn generator(secret: &[u8], account: &str) -> AppResult<Totp> {
    // A colon separates issuer and account in the label: an address cannot hold one here.
    let account = account.replace(':', "_");
    Builder::new()
        .with_secret(secret.to_vec())
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("TOTP settings: {e}")))
}

/// The `otpauth://` URI an authenticator app scans, and the secret as it is typed (base32).
pub fn enrolment(secret: &[u8], account: &str) -> AppResult<(String, String)> {
    let totp = generator(secret, account)?;
    let uri = totp.to_url().map_err(|e| AppError::Internal(anyhow::anyhow!("otpauth URI: {e}")))?;
    Ok((uri, totp.secret().to_base32()))
}

/// The time step `code` is valid for at `unix_time` (the current step or one either side),
/// or `None`. Spaces people type between the digits are ignored. The comparison is
/// constant-time (the crate's `Token` equality).
pub fn step_of(totp: &Totp, code: &str, unix_time: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp.check(&code, unix_time)
}

/// Ten codes such as `k7qm2-x9fa4`: 50 random bits each, in an alphabet without look-alikes.
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            OsRng.fill_bytes(&mut bytes);
            let chars: String =
                bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// The stored form of a recovery code: SHA-256 of it lower-cased, without dashes or spaces,
/// so `K7QM2 X9FA4` matches `k7qm2-x9fa4`.
pub fn recovery_hash(code: &str) -> Vec<u8> {
    let normal: String =
        code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    Sha256::digest(normal.as_bytes()).to_vec()
}

/// A random single-use token (32 bytes, base64url) and its stored SHA-256.
pub fn new_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

/// The stored form of a token from [`new_token`].
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.trim().as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use totp_rs::Algorithm;

    use super::*;

    /// RFC 6238, appendix B: the SHA-1 rows, eight digits, secret "12345678901234567890".
    #[test]
    fn the_rfc_6238_test_vectors_hold() {
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(8)
            .with_secret(b"12345678901234567890".to_vec())
            .build()
            .expect("valid settings");
        for (time, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp.generate(time).to_string(), code, "at {time}");
        }
    }

    #[test]
    fn a_code_is_good_for_its_step_and_one_either_side_only() {
        let totp = generator(&new_secret(), "ana@example.com").expect("builds");
        let now = 1_800_000_000;
        let code = totp.generate(now).to_string();
        assert_eq!(step_of(&totp, &code, now), Some(now / 30));
        assert_eq!(step_of(&totp, &code, now + 30), Some(now / 30), "a step late");
        assert_eq!(step_of(&totp, &code, now - 30), Some(now / 30), "a step early");
        assert_eq!(step_of(&totp, &code, now + 60), None, "two steps late");
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(step_of(&totp, &spaced, now), Some(now / 30));
        for junk in ["", "12345", "1234567", "abcdef", "12 34 5x"] {
            assert_eq!(step_of(&totp, junk, now), None, "{junk:?}");
        }
    }

    #[test]
    fn the_uri_names_the_issuer_and_the_account() {
        let (uri, secret) = enrolment(b"12345678901234567890", "ana@example.com").expect("builds");
        assert!(uri.starts_with("otpauth://totp/BudgetSmart:ana%40example.com?"), "{uri}");
        assert!(
            uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ") && uri.contains("issuer=BudgetSmart"),
            "{uri}"
        );
        assert_eq!(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn recovery_codes_are_distinct_and_match_however_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        assert_eq!(recovery_hash(code), recovery_hash(&code.to_uppercase().replace('-', " ")));
        assert_ne!(recovery_hash(code), recovery_hash(&codes[1]));
    }
}
