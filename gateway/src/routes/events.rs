//! `GET /events/stream`: the caller's live updates as Server-Sent Events.
//!
//! The feed itself (RabbitMQ in, Redis history, per-process broadcast) is in `crate::live`;
//! this is the HTTP side: the resume header, the token's lifetime, the SSE framing.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

/// A comment this often keeps proxies and load balancers from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The reconnection delay suggested to clients (the SSE `retry` field).
const RECONNECT: Duration = Duration::from_secs(2);
/// Longest a stream stays open on one token, whatever its `exp` says.
const MAX_STREAM: Duration = Duration::from_secs(24 * 3600);

/// GET /events/stream: `notification_sent`, `insight_generated`, `anomaly_detected`,
/// `budget_threshold_reached`, `goal_reached` and `goal_at_risk` for the caller, as they happen.
#[utoipa::path(
    get,
    path = "/events/stream",
    tag = "events",
    security(("bearer" = [])),
    params(
        ("Last-Event-ID" = Option<String>, Header,
         description = "The `id` of the last event received. The caller's events that arrived after it \
                        (up to the last 200, kept for 24 hours) are sent first, then live ones."),
    ),
    responses(
        (status = 200, content_type = "text/event-stream", body = String,
         description = "A Server-Sent Events stream. Each event has `id` (the event id, a UUIDv7), \
                        `event` (notification_sent, insight_generated, anomaly_detected, \
                        budget_threshold_reached, goal_reached or goal_at_risk) and `data` (a JSON object; money as decimal strings \
                        with `currency`). A comment every 15 s keeps it open; it ends when the access \
                        token expires, and the client reconnects with a fresh token and `Last-Event-ID`."),
        (status = 401, content_type = "application/problem+json", body = crate::error::Problem,
         description = "No valid access token"),
        (status = 422, content_type = "application/problem+json", body = crate::error::Problem,
         description = "`Last-Event-ID` is not an event id"),
        (status = 429, content_type = "application/problem+json", body = crate::error::Problem,
         description = "The caller already has 8 streams open on this server; retry after `Retry-After`"),
        (status = 503, content_type = "application/problem+json", body = crate::error::Problem,
         description = "The history needed to resume is unavailable; retry after `Retry-After`"),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn stream(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let last_event_id = parse_last_event_id(&headers)?;
    let until = Some(token_expiry(user.expires_at));
    let Some(slot) = state.live.claim(user.user_id) else {
        let detail = format!(
            "at most {} streams may be open at once; close one, or retry after Retry-After",
            crate::live::MAX_STREAMS_PER_USER
        );
        return Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, detail).retry_after(30));
    };
    let events = state.live.subscribe(slot, last_event_id, until).await.map_err(|error| {
        tracing::error!(error = %format!("{error:#}"), "cannot read the live history to resume");
        let detail = "cannot resume the stream right now; try again shortly";
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, detail).retry_after(5)
    })?;
    // A first frame straight away, so clients and proxies see the stream is up.
    let hello = futures_util::stream::once(async { Ok::<_, Infallible>(Event::default().retry(RECONNECT)) });
    let frames = events.map(|event| {
        Ok::<_, Infallible>(Event::default().id(event.id.to_string()).event(event.event).data(&event.data))
    });
    Ok(Sse::new(hello.chain(frames)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// `Last-Event-ID`, which must be one of our event ids (UUIDv7); empty counts as absent, as
/// EventSource sends it only once it has seen an id.
fn parse_last_event_id(headers: &HeaderMap) -> Result<Option<Uuid>, ApiError> {
    let Some(value) = headers.get("last-event-id") else { return Ok(None) };
    let invalid = || ApiError::field("Last-Event-ID", "must be the id of an event from this stream");
    let text = value.to_str().map_err(|_| invalid())?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match Uuid::parse_str(text) {
        Ok(id) if id.get_version_num() == 7 => Ok(Some(id)),
        _ => Err(invalid()),
    }
}

/// When the stream ends: when its token expires, so a logged-out, revoked or deleted user
/// stops receiving events within one token lifetime. A token the verifier accepted inside its
/// leeway has already expired, and its stream ends at once.
fn token_expiry(expires_at: i64) -> tokio::time::Instant {
    let left = expires_at.saturating_sub(chrono::Utc::now().timestamp());
    let left = Duration::from_secs(u64::try_from(left).unwrap_or(0)).min(MAX_STREAM);
    tokio::time::Instant::now() + left
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("last-event-id", value.parse().expect("a header value"));
        headers
    }

    #[test]
    fn last_event_id_must_be_a_uuidv7() {
        assert!(matches!(parse_last_event_id(&HeaderMap::new()), Ok(None)));
        assert!(matches!(parse_last_event_id(&with("")), Ok(None)));
        let id = Uuid::now_v7();
        assert!(matches!(parse_last_event_id(&with(&id.to_string())), Ok(Some(got)) if got == id));
        for bad in ["nope", "00000000-0000-4000-8000-000000000000", "12"] {
            let error = parse_last_event_id(&with(bad)).expect_err(bad);
            assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        }
    }
}
