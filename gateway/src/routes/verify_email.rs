//! `/auth/verify-email`: proving that an account's address is its owner's.
//!
//! Registration, a resend and a change of address email a link to
//! `GET /auth/verify-email?token=`, a page with a button whose form posts the token back to
//! `POST /auth/verify-email`; API clients post JSON `{token}` there and get 204. Opening the
//! page changes nothing, since mail scanners fetch links. `POST /auth/verify-email/resend`
//! (logged in) sends a new link: one a minute, five a day. `POST /me/email` starts a change of
//! address, which takes effect when the new address's link is used.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use budgetsmart_proto::engine::v1 as pb;
use serde::Deserialize;
use utoipa::ToSchema;

use super::html::{self, escape, is_form};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, QueryMap};
use crate::openapi::problems;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[schema(as = EmailVerification)]
pub struct VerifyBody {
    /// The token from the emailed link.
    #[schema(min_length = 1, max_length = 200)]
    token: String,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = EmailChange)]
pub struct ChangeBody {
    /// The address to change to; it becomes the account's when its link is used.
    #[schema(format = Email, max_length = 254, example = "ana@example.org")]
    new_email: String,
    /// The account's current password.
    #[schema(format = Password, min_length = 1)]
    password: String,
}

/// The page a verification link opens.
///
/// A button that confirms the address; opening the page changes nothing, so a mail scanner
/// that fetches the link spends no token.
#[utoipa::path(
    get,
    path = "/auth/verify-email",
    tag = "auth",
    operation_id = "verify_email_page",
    params(("token" = String, Query, description = "The token from the emailed link")),
    responses(
        (status = 200, description = "A page with a button that confirms the address", body = String, content_type = "text/html"),
        problems::BadQuery,
        problems::Unprocessable,
    )
)]
pub async fn page(query: QueryMap) -> Result<Response, ApiError> {
    Ok(button(StatusCode::OK, &html::link_token(&query)?, None))
}

/// Verify an address with the token of its emailed link.
///
/// JSON `{token}` answers 204; the link's page posts a form and gets a page. For a change of
/// address, the address becomes the account's (409 if another account took it meanwhile).
/// A wrong, expired or used token is refused the same way.
#[utoipa::path(
    post,
    path = "/auth/verify-email",
    tag = "auth",
    operation_id = "verify_email",
    request_body(content = VerifyBody, content_type = "application/json"),
    responses(
        (status = 204, description = "The address is verified"),
        problems::JsonBody,
        problems::Conflict,
    )
)]
pub async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: QueryMap,
    body: Bytes,
) -> Response {
    if !is_form(&headers) {
        return html::json_post(&body, |body: VerifyBody| spend(&state, body.token)).await;
    }
    let token = serde_urlencoded::from_bytes::<VerifyBody>(&body)
        .map(|b| b.token)
        .ok()
        .filter(|t| !t.is_empty())
        .or_else(|| query.get("token"))
        .unwrap_or_default();
    match spend(&state, token.clone()).await {
        Ok(()) => html::page(
            StatusCode::OK,
            "Address confirmed",
            "<h1 style=\"font-size:1.4em\">Your address is confirmed</h1>\
             <p>Budget alerts, insights and monthly summaries will come to this address.</p>",
        ),
        Err(error) => button(error.status(), &token, Some(&error.message())),
    }
}

async fn spend(state: &AppState, token: String) -> Result<(), ApiError> {
    state.engine.auth.clone().verify_email(pb::VerifyEmailRequest { token }).await?;
    Ok(())
}

/// The confirmation page, with the last attempt's problem if there was one.
fn button(status: StatusCode, token: &str, problem: Option<&str>) -> Response {
    let problem =
        problem.map(|p| format!("<p style=\"color:#b91c1c\">{}</p>", escape(p))).unwrap_or_default();
    let body = format!(
        "<h1 style=\"font-size:1.4em\">Confirm your email address</h1>{problem}\
         <form method=\"post\">\
         <input type=\"hidden\" name=\"token\" value=\"{}\">\
         <p><button type=\"submit\" style=\"font-size:1em;padding:.5em 1.2em\">Confirm this address</button></p>\
         </form>",
        escape(token)
    );
    html::page(status, "Confirm your email address", &body)
}

/// Send a new verification link to the caller's address.
///
/// One a minute and five a day, the registration's link included (429 with `Retry-After`);
/// 409 when the address is verified already.
#[utoipa::path(
    post,
    path = "/auth/verify-email/resend",
    tag = "auth",
    operation_id = "resend_verification",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "A new link is on its way"),
        problems::Conflict,
    )
)]
pub async fn resend(State(state): State<AppState>, _user: AuthUser) -> Result<StatusCode, ApiError> {
    state.engine.users.clone().resend_verification(pb::ResendVerificationRequest {}).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Change the account's email address.
///
/// Needs the password. A link goes to the new address; the account keeps its current
/// address until the link is used, and then the old address is told. Links are throttled as
/// resends are. 409 when another account has the address.
#[utoipa::path(
    post,
    path = "/me/email",
    tag = "me",
    operation_id = "change_email",
    security(("bearer" = [])),
    request_body(content = ChangeBody, content_type = "application/json"),
    responses(
        (status = 202, description = "A link is on its way to the new address"),
        problems::JsonBody,
        problems::Conflict,
    )
)]
pub async fn change(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(body): ApiJson<ChangeBody>,
) -> Result<StatusCode, ApiError> {
    let request = pb::ChangeEmailRequest { new_email: body.new_email, password: body.password };
    state.engine.users.clone().change_email(request).await?;
    Ok(StatusCode::ACCEPTED)
}
