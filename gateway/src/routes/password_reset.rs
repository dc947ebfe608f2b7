//! `/auth/password-reset`: a way back in after a forgotten password.
//!
//! `POST /auth/password-reset {email}` answers 202 whether or not an account has the address,
//! so it tells no one which addresses have accounts; the engine emails a single-use link valid
//! for 30 minutes. The link opens `GET /auth/password-reset/confirm?token=`, a page with a
//! new-password field whose form posts to the same URL; API clients post JSON
//! `{token, new_password}` there instead and get 204. Either way every session ends.
//! Both POSTs are in the gateway's login rate class, per client address.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use budgetsmart_proto::engine::v1 as pb;
use serde::Deserialize;
use utoipa::ToSchema;

use super::html::{self, escape, is_form};
use crate::error::ApiError;
use crate::extract::{ApiJson, QueryMap};
use crate::openapi::problems;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[schema(as = PasswordResetRequest)]
pub struct RequestBody {
    /// The account's address; the answer is the same whether or not one has it.
    #[schema(format = Email, max_length = 254, example = "ana@example.com")]
    email: String,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = PasswordReset)]
pub struct ConfirmBody {
    /// The token from the emailed link.
    #[schema(min_length = 1)]
    token: String,
    /// 10 to 128 characters; common passwords and the email address are refused.
    #[schema(format = Password, min_length = 10, max_length = 128)]
    new_password: String,
}

/// Ask for a password reset link.
///
/// Always 202: whether an account has the address is not said. At most 3 links an hour go to
/// one address.
#[utoipa::path(
    post,
    path = "/auth/password-reset",
    tag = "auth",
    operation_id = "request_password_reset",
    request_body(content = RequestBody, content_type = "application/json"),
    responses(
        (status = 202, description = "If an account has this address, a link is on its way"),
        problems::JsonBody,
    )
)]
pub async fn request(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RequestBody>,
) -> Result<StatusCode, ApiError> {
    state.engine.auth.clone().request_password_reset(pb::PasswordResetRequest { email: body.email }).await?;
    Ok(StatusCode::ACCEPTED)
}

/// The page an emailed reset link opens.
///
/// A form for the new password; it posts to this URL. Opening it changes nothing, so a mail
/// scanner that fetches the link spends no token.
#[utoipa::path(
    get,
    path = "/auth/password-reset/confirm",
    tag = "auth",
    operation_id = "password_reset_page",
    params(("token" = String, Query, description = "The token from the emailed link")),
    responses(
        (status = 200, description = "A form for the new password", body = String, content_type = "text/html"),
        problems::BadQuery,
        problems::Unprocessable,
    )
)]
pub async fn page(query: QueryMap) -> Result<Response, ApiError> {
    Ok(form(StatusCode::OK, &html::link_token(&query)?, None))
}

/// Set a new password with a reset link's token.
///
/// JSON `{token, new_password}` answers 204; the link's page posts a form and gets a page.
/// Every session of the account ends. A wrong, expired or used token is refused the same way.
#[utoipa::path(
    post,
    path = "/auth/password-reset/confirm",
    tag = "auth",
    operation_id = "confirm_password_reset",
    request_body(content = ConfirmBody, content_type = "application/json"),
    responses(
        (status = 204, description = "The password is changed and every session ended"),
        problems::JsonBody,
    )
)]
pub async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: QueryMap,
    body: Bytes,
) -> Response {
    if !is_form(&headers) {
        return html::json_post(&body, |body: ConfirmBody| set(&state, body)).await;
    }
    let mut body: ConfirmBody = match serde_urlencoded::from_bytes(&body) {
        Ok(body) => body,
        Err(_) => return ApiError::field("new_password", "is required").into_response(),
    };
    if body.token.is_empty() {
        body.token = query.get("token").unwrap_or_default();
    }
    let token = body.token.clone();
    match set(&state, body).await {
        Ok(()) => html::page(
            StatusCode::OK,
            "Password changed",
            "<h1 style=\"font-size:1.4em\">Your password is changed</h1>\
             <p>You are signed out on every device. Sign in again with your new password.</p>",
        ),
        Err(error) => form(error.status(), &token, Some(&error.message())),
    }
}

async fn set(state: &AppState, body: ConfirmBody) -> Result<(), ApiError> {
    let request = pb::ConfirmPasswordResetRequest { token: body.token, new_password: body.new_password };
    state.engine.auth.clone().confirm_password_reset(request).await?;
    Ok(())
}

/// The new-password form, with the last attempt's problem if there was one.
fn form(status: StatusCode, token: &str, problem: Option<&str>) -> Response {
    let problem =
        problem.map(|p| format!("<p style=\"color:#b91c1c\">{}</p>", escape(p))).unwrap_or_default();
    let body = format!(
        "<h1 style=\"font-size:1.4em\">Choose a new password</h1>{problem}\
         <form method=\"post\">\
         <input type=\"hidden\" name=\"token\" value=\"{}\">\
         <label>New password (10 characters or more)<br>\
         <input type=\"password\" name=\"new_password\" minlength=\"10\" maxlength=\"128\" required \
         autocomplete=\"new-password\" style=\"font-size:1em;padding:.4em;width:100%\"></label>\
         <p><button type=\"submit\" style=\"font-size:1em;padding:.5em 1.2em\">Set the new password</button></p>\
         </form>",
        escape(token)
    );
    html::page(status, "Choose a new password", &body)
}
