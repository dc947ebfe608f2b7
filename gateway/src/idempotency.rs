//! `Idempotency-Key` on POST: the same key with the same request (query string and body)
//! replays the first answer; with another it is refused (draft-ietf-httpapi-idempotency-key-header).
//! The query counts because it is part of what a POST asks for (`?token=` on unsubscribe,
//! `?account_id=` on import): the same body under another query is another request.
//!
//! The record lives in Redis, scoped to the caller and path. A "pending" marker taken with
//! `SET NX` makes a concurrent retry wait its turn (409) instead of creating a second resource.
//! Server errors are not recorded, so a retry after a 5xx runs again.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::identity::AuthUser;
use crate::state::AppState;

/// The body limit of every route but file imports.
pub const MAX_BODY: usize = 6 * 1024 * 1024;
/// Largest body the middleware buffers: a bank file (`routes::imports::MAX_FILE_BODY`).
const MAX_BUFFERED: usize = crate::routes::imports::MAX_FILE_BODY;
/// How long a request may hold its key before another attempt may take over.
const PENDING_TTL_SECS: u64 = 60;

#[derive(Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum Record {
    Pending { fingerprint: String },
    Done { fingerprint: String, status: u16, content_type: Option<String>, body: Vec<u8> },
}

/// The request's fingerprint (query string, then body), keyed with `GATEWAY_TOKEN`: a register
/// or password body holds a password, and a plain SHA-256 of it in Redis could be checked
/// against guesses offline.
fn fingerprint(key: &secrecy::SecretString, query: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    use secrecy::ExposeSecret;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.expose_secret().as_bytes())
        .expect("HMAC takes a key of any length");
    // The length first, so no query and body can be split into another pair.
    mac.update(&(query.len() as u64).to_be_bytes());
    mac.update(query.as_bytes());
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

/// The middleware; a no-op for other methods or without the header.
pub async fn idempotent(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let key = request.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Some(key) = key.filter(|_| request.method() == Method::POST) else {
        return next.run(request).await;
    };
    if key.is_empty() || key.len() > 255 {
        return ApiError::field("Idempotency-Key", "must be 1 to 255 characters").into_response();
    }
    match handle(state, key, request, next).await {
        Ok(response) | Err(response) => response,
    }
}

async fn handle(state: AppState, key: String, request: Request, next: Next) -> Result<Response, Response> {
    let owner = request
        .extensions()
        .get::<AuthUser>()
        .map(|u| u.user_id.to_string())
        .unwrap_or_else(|| "anonymous".into());
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_BUFFERED)
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large").into_response())?;
    let fingerprint = fingerprint(&state.config.gateway_token, parts.uri.query().unwrap_or(""), &bytes);
    let redis_key = format!(
        "{}idem:{owner}:{}:{}",
        state.config.redis_key_prefix,
        parts.uri.path(),
        hex(&Sha256::digest(key.as_bytes()))
    );
    let mut redis = state.redis.clone();
    let unavailable = |e: redis::RedisError| {
        tracing::error!(error = %e, "idempotency store unavailable");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "cannot record the Idempotency-Key right now")
            .retry_after(5)
            .into_response()
    };

    let pending =
        serde_json::to_string(&Record::Pending { fingerprint: fingerprint.clone() }).unwrap_or_default();
    let claimed: bool = redis::cmd("SET")
        .arg(&redis_key)
        .arg(&pending)
        .arg("NX")
        .arg("EX")
        .arg(PENDING_TTL_SECS)
        .query_async::<Option<String>>(&mut redis)
        .await
        .map_err(unavailable)?
        .is_some();
    if !claimed {
        let existing: Option<String> =
            redis::cmd("GET").arg(&redis_key).query_async(&mut redis).await.map_err(unavailable)?;
        return Err(match existing.and_then(|r| serde_json::from_str::<Record>(&r).ok()) {
            Some(Record::Done { fingerprint: stored, status, content_type, body })
                if stored == fingerprint =>
            {
                let mut response =
                    (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body).into_response();
                if let Some(content_type) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                    response.headers_mut().insert("content-type", content_type);
                }
                response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
                response
            }
            Some(Record::Done { .. }) => mismatch(),
            Some(Record::Pending { fingerprint: stored }) if stored != fingerprint => mismatch(),
            _ => ApiError::new(
                StatusCode::CONFLICT,
                "a request with this Idempotency-Key is still being processed",
            )
            .retry_after(1)
            .into_response(),
        });
    }

    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let status = response.status();
    if status.is_server_error() {
        let _: Result<(), _> = redis::cmd("DEL").arg(&redis_key).exec_async(&mut redis).await;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, MAX_BUFFERED).await.unwrap_or_default();
    let record = Record::Done {
        fingerprint,
        status: status.as_u16(),
        content_type: parts.headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned),
        body: body.to_vec(),
    };
    if let Ok(record) = serde_json::to_string(&record) {
        let stored: Result<(), _> = redis::cmd("SET")
            .arg(&redis_key)
            .arg(record)
            .arg("EX")
            .arg(state.config.idempotency_ttl_secs)
            .exec_async(&mut redis)
            .await;
        if let Err(error) = stored {
            tracing::warn!(error = %error, "could not record an idempotent response");
        }
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

fn mismatch() -> Response {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "this Idempotency-Key was used with a different request (query string or body)",
    )
    .into_response()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
