//! The `/api/v1` router, and the OpenAPI paths of its routes.
//!
//! Every route is registered with `routes!`, which takes the path and methods from the
//! handler's `#[utoipa::path]`: the router and the document come from the same place, so a
//! route cannot exist without being documented, nor be documented at another path.

pub mod accounts;
pub mod analytics;
pub mod anomalies;
pub mod audit;
pub mod auth;
pub mod budgets;
pub mod categories;
pub mod categorize;
pub mod events;
pub mod export;
pub mod goals;
mod html;
pub mod imports;
pub mod insights;
pub mod me;
pub mod mfa;
pub mod notifications;
pub mod password_reset;
pub mod recurring;
pub mod sessions;
pub mod transactions;
pub mod verify_email;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::idempotency::{self, MAX_BODY};
use crate::openapi;
use crate::state::AppState;

/// Every public route, and its OpenAPI document with paths relative to `/api/v1` (pass it to
/// [`openapi::document`]). Protected routes verify the token before idempotency runs, so
/// idempotency records are scoped to the verified caller.
///
/// The documentation of what the layers do (bearer security and 401, `Idempotency-Key`, the
/// errors every route can answer) is added next to the layers themselves, so a handler's
/// `#[utoipa::path]` lists only what the handler itself answers.
pub fn api(state: AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    // Only registration creates something. Login and refresh answers hold live tokens, which
    // must never sit in an idempotency record (refresh tokens are stored only hashed).
    let mut register = OpenApiRouter::<AppState>::default().routes(routes!(auth::register));
    openapi::idempotent_posts(register.get_openapi_mut());
    let register = register.layer(from_fn_with_state(state.clone(), idempotency::idempotent));

    let sessions = OpenApiRouter::<AppState>::default()
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(password_reset::request))
        .routes(routes!(password_reset::page, password_reset::confirm))
        .routes(routes!(verify_email::page, verify_email::verify))
        .routes(routes!(mfa::complete))
        // No login: the signed token in the link is the credential.
        .routes(routes!(notifications::unsubscribe, notifications::unsubscribe_one_click));

    let protected = OpenApiRouter::<AppState>::default()
        .routes(routes!(me::get, me::update, me::delete))
        .routes(routes!(me::change_password))
        .routes(routes!(verify_email::change))
        .routes(routes!(verify_email::resend))
        .routes(routes!(sessions::list, sessions::end_others))
        .routes(routes!(sessions::end))
        .routes(routes!(categories::list, categories::create))
        .routes(routes!(categories::get, categories::update, categories::delete))
        .routes(routes!(budgets::list, budgets::create))
        .routes(routes!(budgets::get, budgets::update, budgets::delete))
        .routes(routes!(budgets::status))
        .routes(routes!(transactions::list, transactions::create))
        .routes(routes!(categorize::categorize))
        .routes(routes!(transactions::get, transactions::update, transactions::delete))
        .routes(routes!(insights::list))
        .routes(routes!(analytics::summary))
        .routes(routes!(analytics::trends))
        .routes(routes!(analytics::forecast))
        .routes(routes!(analytics::models))
        .routes(routes!(analytics::chart))
        .routes(routes!(anomalies::list))
        .routes(routes!(anomalies::feedback))
        .routes(routes!(recurring::list))
        .routes(routes!(recurring::correct))
        .routes(routes!(accounts::list, accounts::create))
        .routes(routes!(accounts::get, accounts::update, accounts::delete))
        .routes(routes!(imports::list))
        .routes(routes!(imports::get, imports::delete))
        .routes(routes!(goals::list, goals::create))
        .routes(routes!(goals::get, goals::update, goals::delete))
        .routes(routes!(goals::contributions, goals::contribute))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::preferences, notifications::update_preferences))
        .routes(routes!(notifications::summary))
        .routes(routes!(audit::list))
        .routes(routes!(export::export))
        .routes(routes!(events::stream));
    // Answers that hold a secret (a TOTP secret, recovery codes) must never sit in an
    // idempotency record, like login's tokens: these need the token but take no key.
    let mut secrets = OpenApiRouter::<AppState>::default()
        .routes(routes!(mfa::start, mfa::disable))
        .routes(routes!(mfa::confirm))
        .routes(routes!(mfa::qr_svg))
        .routes(routes!(mfa::qr_png));
    openapi::requires_bearer(secrets.get_openapi_mut());
    let secrets = secrets.layer(from_fn_with_state(state.clone(), crate::auth::require_token));

    // Files are larger than any other body: their own limit, set nearer the handler than the
    // API-wide one, so it is the one that applies to them.
    let files = OpenApiRouter::<AppState>::default()
        .routes(routes!(imports::import))
        .routes(routes!(imports::preview))
        .layer(DefaultBodyLimit::max(imports::MAX_FILE_BODY));
    let mut protected = protected.merge(files);

    // The stream needs no layer of its own: GETs pass the idempotency middleware untouched.
    // In this order: a 401 comes before idempotency, so it is never a replayed answer.
    openapi::idempotent_posts(protected.get_openapi_mut());
    openapi::requires_bearer(protected.get_openapi_mut());
    let protected = protected
        .layer(from_fn_with_state(state.clone(), idempotency::idempotent))
        .layer(from_fn_with_state(state, crate::auth::require_token));

    let mut api =
        register.merge(sessions).merge(secrets).merge(protected).layer(DefaultBodyLimit::max(MAX_BODY));
    openapi::common_responses(api.get_openapi_mut());
    api.split_for_parts()
}
