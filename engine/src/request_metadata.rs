//! What the gateway forwards in gRPC metadata besides the token and trace headers: the
//! client's address and user agent (for the audit log) and, on POST, the client's
//! `Idempotency-Key`. The gRPC services read them here and hand plain values to the domain.

use prost::Message;
use tonic::Request;
use tonic::metadata::MetadataMap;

use crate::audit::Origin;
use crate::error::AppResult;
use crate::idempotency::{Fingerprinter, IdempotentRequest, Scope};

/// The client's IP address as the gateway saw it.
pub const CLIENT_IP: &str = "x-client-ip";
/// The client's `User-Agent`.
pub const USER_AGENT: &str = "x-user-agent";
/// The client's `Idempotency-Key`.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

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
