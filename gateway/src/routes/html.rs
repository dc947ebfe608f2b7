//! The few HTML pages the API serves to people following a link from an email (unsubscribe,
//! password reset, address verification): fixed text and escaped values, no scripts, styled
//! inline.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::extract::{QueryMap, parse_json};

/// A page titled `title` holding `body` (already escaped where it holds values).
pub(super) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{title}</title></head>\
         <body style=\"font-family:Helvetica,Arial,sans-serif;max-width:32em;margin:3em auto;padding:0 1em;color:#1f2933\">\
         {body}</body></html>"
    );
    // The API's policy forbids everything, inline styles too; these pages need those and
    // their form's post back to us, and nothing else.
    let policy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CONTENT_SECURITY_POLICY, policy)],
        html,
    )
        .into_response()
}

/// The `token` an emailed link's page was opened with; 422 without one.
pub(super) fn link_token(query: &QueryMap) -> Result<String, ApiError> {
    query.get("token").ok_or_else(|| ApiError::field("token", "is required"))
}

/// An API client's JSON post to a link's page: `act` on the body, then 204 or the problem.
pub(super) async fn json_post<B, F, Fut>(body: &[u8], act: F) -> Response
where
    B: DeserializeOwned,
    F: FnOnce(B) -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    let outcome = match parse_json::<B>(body) {
        Ok(body) => act(body).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.into_response(),
    }
}

/// Whether a POST is a page's form (rather than an API client's JSON).
pub(super) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// `text` safe inside HTML text and attribute values.
pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
