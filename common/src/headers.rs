//! Header and metadata names every service agrees on: plain names, below the gRPC and
//! observability code that reads them.

/// The request id: set by the gateway, forwarded on every call, logged by every service.
pub const REQUEST_ID: &str = "x-request-id";
