//! What the gateway forwards in gRPC metadata besides the token and trace headers: the
//! client's address and user agent (for the audit log) and, on POST, the client's
//! `Idempotency-Key`. The gRPC services read them here and hand plain values to the domain.

use prost::Message;
use sha2::{Digest, Sha256};
use tonic::Request;
use tonic::metadata::MetadataMap;

use crate::error::AppResult;
use crate::idempotency::{Fingerprinter, IdempotentRequest, Scope};
use crate::users::audit::Origin;

/// The client's IP address as the gateway saw it.
pub const CLIENT_IP: &str = "x-client-ip";
/// The client's `User-Agent`.
pub const USER_AGENT: &str = "x-user-agent";
/// The client's `Idempotency-Key`.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Recognises the gateway by its credential (`GATEWAY_TOKEN`).
#[derive(Clone)]
pub struct Gateway {
    digest: [u8; 32],
}

impl Gateway {
    /// The gateway that holds `token`.
    pub fn new(token: &secrecy::SecretString) -> Gateway {
        use secrecy::ExposeSecret;
        Gateway { digest: Sha256::digest(token.expose_secret().as_bytes()).into() }
    }

    /// Whether the call carries the gateway's credential. Digests are compared, so the time
    /// taken does not depend on how much of the secret a guess got right.
    pub fn vouches_for(&self, metadata: &MetadataMap) -> bool {
        text(metadata, budgetsmart_common::grpc::GATEWAY_TOKEN)
            .is_some_and(|token| <[u8; 32]>::from(Sha256::digest(token.as_bytes())) == self.digest)
    }
}

fn text<'a>(metadata: &'a MetadataMap, name: &str) -> Option<&'a str> {
    metadata.get(name).and_then(|v| v.to_str().ok())
}

/// Where the call came from.
pub fn origin(metadata: &MetadataMap) -> Origin {
    Origin::new(text(metadata, CLIENT_IP), text(metadata, USER_AGENT))
}

/// The idempotent request a create call makes under `method`: `None` without a key, a field
/// error for a key of the wrong length.
pub fn idempotent<T: Message>(
    fingerprinter: &Fingerprinter,
    request: &Request<T>,
    scope: Scope,
    method: &'static str,
) -> AppResult<Option<IdempotentRequest>> {
    let key = text(request.metadata(), IDEMPOTENCY_KEY).map(str::to_owned);
    fingerprinter.request(key, scope, method, request.get_ref())
}
