//! Signed one-click unsubscribe tokens (RFC 8058): the link works without logging in, so the
//! token itself proves which user and which kind of email it turns off.
//!
//! `v1.<user id, hex>.<kind>.<HMAC-SHA256, base64url>`. Tokens do not expire: a link in an old
//! email must keep working, and all it can do is turn email off.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use uuid::Uuid;

use crate::kind::Kind;

/// What a link turns off: one kind, or all email (the digest mixes kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only this kind.
    Only(Kind),
    /// Email as a whole.
    All,
}

impl Scope {
    /// The name in tokens and answers: a kind's name, or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Only(kind) => kind.as_str(),
            Scope::All => "all",
        }
    }

    /// What an email of `kind` offers to stop: its kind, or all email for a security email,
    /// which is not a preference of its own.
    pub fn for_kind(kind: Kind) -> Scope {
        if kind.is_security() { Scope::All } else { Scope::Only(kind) }
    }

    fn parse(name: &str) -> Option<Scope> {
        if name == "all" { Some(Scope::All) } else { Kind::parse(name).map(Scope::Only) }
    }
}

/// Signs and checks unsubscribe tokens with `UNSUBSCRIBE_SECRET`.
#[derive(Clone)]
pub struct UnsubscribeSigner {
    secret: SecretString,
}

impl UnsubscribeSigner {
    /// A signer over `secret`.
    pub fn new(secret: SecretString) -> UnsubscribeSigner {
        UnsubscribeSigner { secret }
    }

    /// The token that turns `scope` off for `user_id`.
    pub fn sign(&self, user_id: Uuid, scope: Scope) -> String {
        let body = format!("v1.{}.{}", user_id.simple(), scope.as_str());
        let tag = URL_SAFE_NO_PAD.encode(self.mac(&body).finalize().into_bytes());
        format!("{body}.{tag}")
    }

    /// The user and scope a genuine token names; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<(Uuid, Scope)> {
        let (body, tag) = token.trim().rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        // verify_slice compares in constant time.
        self.mac(body).verify_slice(&tag).ok()?;
        let mut parts = body.split('.');
        let (Some("v1"), Some(user), Some(kind), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some((Uuid::parse_str(user).ok()?, Scope::parse(kind)?))
    }

    fn mac(&self, body: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.secret.expose_secret().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(body.as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(secret: &str) -> UnsubscribeSigner {
        UnsubscribeSigner::new(SecretString::from(secret.to_owned()))
    }

    #[test]
    fn accepts_its_own_and_refuses_tampered_or_foreign_tokens() {
        let a = signer("a-secret-of-at-least-thirty-two-chars");
        let user = Uuid::now_v7();
        let token = a.sign(user, Scope::Only(Kind::AnomalyDetected));
        assert_eq!(a.verify(&token), Some((user, Scope::Only(Kind::AnomalyDetected))));
        assert_eq!(a.verify(&a.sign(user, Scope::All)), Some((user, Scope::All)));

        let other_kind = token.replace("anomaly_detected", "insight_generated");
        assert_eq!(a.verify(&other_kind), None);
        let other_user = token.replace(&user.simple().to_string(), &Uuid::now_v7().simple().to_string());
        assert_eq!(a.verify(&other_user), None);
        assert_eq!(signer("another-secret-of-thirty-two-chars!!").verify(&token), None);
        for junk in ["", ".", "v1", "v1.x.y.z", "v1..welcome.AAAA"] {
            assert_eq!(a.verify(junk), None, "{junk:?}");
        }
    }
}
