//! EdDSA access tokens: issuing (engine) and verifying (gateway and every backend service).
//!
//! The algorithm is pinned to EdDSA (RFC 8725 §3.1): the header's `alg` is never trusted to
//! pick the verification method, so `none` and HMAC confusion tokens are refused.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::keys::KeyMaterial;

/// Default `iss` of access tokens.
pub const DEFAULT_ISSUER: &str = "budgetsmart-engine";
/// Default `aud` of access tokens.
pub const DEFAULT_AUDIENCE: &str = "budgetsmart";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user id.
    pub sub: Uuid,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Token id (UUIDv7).
    pub jti: Uuid,
    /// The session (refresh-token family) it was issued for, so `GET /me/sessions` can say
    /// which is the caller's own; absent from older tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

/// Why a token was refused. Deliberately coarse: clients learn nothing useful from the detail.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid(#[source] Option<jsonwebtoken::errors::Error>),
}

/// Issuer and audience, shared by signer and verifier.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// Expected and issued `iss`.
    pub issuer: String,
    /// Expected and issued `aud`.
    pub audience: String,
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings { issuer: DEFAULT_ISSUER.into(), audience: DEFAULT_AUDIENCE.into() }
    }
}

/// Verified tokens remembered per process. A client sends the same token with every request
/// for its lifetime, and an Ed25519 verification was the largest single cost of a gateway
/// request (about a tenth of its CPU); 10 000 tokens are a few MB.
const VERIFIED_CAPACITY: u64 = 10_000;
/// An entry is dropped this long after it was verified, whatever the token's `exp`, so the
/// cache also forgets tokens of users who went away.
const VERIFIED_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// Checks access tokens against one public key.
///
/// A token verified once is remembered by its exact text (a hit needs the same bytes the
/// signature covered), and its expiry is still checked on every use. An access token cannot
/// be revoked before `exp` anyway, so remembering the verdict changes nothing a caller sees.
#[derive(Clone)]
pub struct TokenVerifier {
    key: DecodingKey,
    kid: String,
    validation: Validation,
    verified: moka::sync::Cache<Box<str>, Claims>,
}

impl TokenVerifier {
    /// Builds a verifier for `keys.public_pem`.
    pub fn new(keys: &KeyMaterial, settings: &TokenSettings) -> anyhow::Result<TokenVerifier> {
        let key = DecodingKey::from_ed_pem(keys.public_pem.as_bytes())?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[&settings.audience]);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "aud", "iss"]);
        validation.leeway = 30;
        let verified =
            moka::sync::Cache::builder().max_capacity(VERIFIED_CAPACITY).time_to_live(VERIFIED_TTL).build();
        Ok(TokenVerifier { key, kid: keys.kid.clone(), validation, verified })
    }

    /// Verifies signature, algorithm, `kid`, `iss`, `aud` and `exp`, and returns the claims.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        if let Some(claims) = self.verified.get(token) {
            // The same leeway as a full verification.
            if claims.exp + self.validation.leeway as i64 <= chrono::Utc::now().timestamp() {
                self.verified.invalidate(token);
                return Err(TokenError::Expired);
            }
            return Ok(claims);
        }
        let claims = self.verify_signed(token)?;
        self.verified.insert(token.into(), claims.clone());
        Ok(claims)
    }

    fn verify_signed(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(Some(e)))?;
        if header.alg != Algorithm::EdDSA || header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(TokenError::Invalid(None));
        }
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map(|data| data.claims).map_err(
            |e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid(Some(e)),
            },
        )
    }
}

/// Issues access tokens with the private key.
#[derive(Clone)]
pub struct TokenSigner {
    key: EncodingKey,
    kid: String,
    settings: TokenSettings,
    ttl_seconds: i64,
}

impl TokenSigner {
    /// Builds a signer; fails if `keys` has no private key.
    pub fn new(
        keys: &KeyMaterial,
        settings: &TokenSettings,
        ttl_seconds: i64,
    ) -> anyhow::Result<TokenSigner> {
        let private = keys
            .private_pem
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no private key to sign access tokens with"))?;
        let key = EncodingKey::from_ed_pem(private.expose_secret().as_bytes())?;
        Ok(TokenSigner { key, kid: keys.kid.clone(), settings: settings.clone(), ttl_seconds })
    }

    /// Lifetime of issued tokens in seconds.
    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    /// Issues a token for `user_id`, valid from now for the configured lifetime.
    pub fn issue(&self, user_id: Uuid, session: Uuid) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        self.sign(&Claims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: user_id,
            exp: now + self.ttl_seconds,
            iat: now,
            jti: Uuid::now_v7(),
            sid: Some(session),
        })
    }

    /// Signs arbitrary claims (tests use this to craft expired or foreign tokens).
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.key)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn pair() -> (TokenSigner, TokenVerifier) {
        let keys = KeyMaterial::generate();
        let settings = TokenSettings::default();
        (
            TokenSigner::new(&keys, &settings, 900).expect("signer"),
            TokenVerifier::new(&keys, &settings).expect("verifier"),
        )
    }

    #[test]
    fn accepts_its_own_tokens() {
        let (signer, verifier) = pair();
        let (user, session) = (Uuid::now_v7(), Uuid::now_v7());
        let claims = verifier.verify(&signer.issue(user, session).expect("issues")).expect("valid");
        assert_eq!(claims.sub, user);
        assert_eq!(claims.sid, Some(session), "the session travels with the token");
    }

    #[test]
    fn a_remembered_token_still_expires_and_a_changed_one_is_verified_afresh() {
        let (signer, verifier) = pair();
        let now = chrono::Utc::now().timestamp();
        // Expires in 31 s: inside the 30 s leeway for one more second.
        let claims = Claims {
            iss: DEFAULT_ISSUER.into(),
            aud: DEFAULT_AUDIENCE.into(),
            sub: Uuid::now_v7(),
            exp: now - 29,
            iat: now - 900,
            jti: Uuid::now_v7(),
            sid: None,
        };
        let token = signer.sign(&claims).expect("signs");
        assert_eq!(verifier.verify(&token).expect("valid within the leeway"), claims);
        assert_eq!(verifier.verify(&token).expect("remembered"), claims);
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert!(matches!(verifier.verify(&token), Err(TokenError::Expired)), "expiry is checked on a hit");

        let fresh = signer.issue(Uuid::now_v7(), Uuid::now_v7()).expect("issues");
        verifier.verify(&fresh).expect("valid");
        let mut tampered = fresh.clone();
        tampered.pop();
        tampered.push(if fresh.ends_with('A') { 'B' } else { 'A' });
        assert!(verifier.verify(&tampered).is_err(), "a different text is not a hit");
    }

    #[test]
    fn refuses_expired_foreign_and_unsigned_tokens() {
        let (signer, verifier) = pair();
        let now = chrono::Utc::now().timestamp();
        let mut claims = Claims {
            iss: DEFAULT_ISSUER.into(),
            aud: DEFAULT_AUDIENCE.into(),
            sub: Uuid::now_v7(),
            exp: now - 3600,
            iat: now - 4000,
            jti: Uuid::now_v7(),
            sid: None,
        };
        let expired = signer.sign(&claims).expect("signs");
        assert!(matches!(verifier.verify(&expired), Err(TokenError::Expired)));

        claims.exp = now + 600;
        claims.aud = "someone-else".into();
        assert!(verifier.verify(&signer.sign(&claims).expect("signs")).is_err());

        claims.aud = DEFAULT_AUDIENCE.into();
        let (other_signer, _) = pair();
        assert!(verifier.verify(&other_signer.sign(&claims).expect("signs")).is_err());

        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("json"));
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(verifier.verify(&format!("{header}.{body}.")).is_err());
    }
}
