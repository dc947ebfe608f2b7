//! The parts every email's template data shares: who it greets, and its links.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::recipients::Recipient;
use crate::unsubscribe::{Scope, UnsubscribeSigner};

/// Builds the links of emails.
#[derive(Clone)]
pub struct Links {
    base_url: String,
    signer: UnsubscribeSigner,
}

impl Links {
    /// Links under `base_url` (`PUBLIC_BASE_URL`), unsubscribe tokens from `signer`.
    pub fn new(base_url: String, signer: UnsubscribeSigner) -> Links {
        Links { base_url, signer }
    }

    /// The signer, for the unsubscribe endpoint.
    pub fn signer(&self) -> &UnsubscribeSigner {
        &self.signer
    }

    /// The one-click link that turns `scope` off for `user_id`; the gateway serves it.
    pub fn unsubscribe_url(&self, user_id: Uuid, scope: Scope) -> String {
        format!(
            "{}/api/v1/notifications/unsubscribe?token={}",
            self.base_url,
            self.signer.sign(user_id, scope)
        )
    }

    /// `payload` with the shared parts added: `user`, `links` and `currency`.
    pub fn context(&self, recipient: &Recipient, scope: Scope, payload: &Value) -> Value {
        let mut context = match payload {
            Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        context.insert("user".into(), json!({ "name": recipient.name, "email": recipient.email }));
        context.insert(
            "links".into(),
            json!({
                "base_url": self.base_url,
                // The web client's settings page, on the same public origin as the API.
                "preferences_url": format!("{}/settings/notifications", self.base_url),
                "unsubscribe_url": self.unsubscribe_url(recipient.user_id, scope),
            }),
        );
        context.insert("currency".into(), Value::String(recipient.currency.clone()));
        Value::Object(context)
    }
}
