//! The `/api/v1` router.

pub mod analytics;
pub mod anomalies;
pub mod auth;
pub mod budgets;
pub mod categories;
pub mod categorize;
pub mod insights;
pub mod me;
pub mod notifications;
pub mod recurring;
pub mod transactions;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, patch, post};

use crate::idempotency::{self, MAX_BODY};
use crate::state::AppState;

/// Every public route. Protected routes verify the token before idempotency runs, so
/// idempotency records are scoped to the verified caller.
pub fn api(state: AppState) -> Router<AppState> {
    // Only registration creates something. Login and refresh answers hold live tokens, which
    // must never sit in an idempotency record (refresh tokens are stored only hashed).
    let register = Router::new()
        .route("/auth/register", post(auth::register))
        .layer(from_fn_with_state(state.clone(), idempotency::idempotent));
    let sessions = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        // No login: the signed token in the link is the credential.
        .route(
            "/notifications/unsubscribe",
            get(notifications::unsubscribe).post(notifications::unsubscribe),
        );

    let protected = Router::new()
        .route("/me", get(me::get).patch(me::update).delete(me::delete))
        .route("/me/password", post(me::change_password))
        .route("/categories", get(categories::list).post(categories::create))
        .route("/categories/{id}", get(categories::get).patch(categories::update).delete(categories::delete))
        .route("/budgets", get(budgets::list).post(budgets::create))
        .route("/budgets/{id}", get(budgets::get).patch(budgets::update).delete(budgets::delete))
        .route("/budgets/{id}/status", get(budgets::status))
        .route("/transactions", get(transactions::list).post(transactions::create))
        .route("/transactions/import", post(transactions::import))
        .route("/transactions/categorize", post(categorize::categorize))
        .route(
            "/transactions/{id}",
            get(transactions::get).patch(transactions::update).delete(transactions::delete),
        )
        .route("/insights", get(insights::list))
        .route("/analytics/summary", get(analytics::summary))
        .route("/analytics/trends", get(analytics::trends))
        .route("/analytics/forecast", get(analytics::forecast))
        .route("/analytics/models", get(analytics::models))
        .route("/analytics/charts/{file}", get(analytics::chart))
        .route("/analytics/anomalies", get(anomalies::list))
        .route("/analytics/anomalies/{id}", patch(anomalies::feedback))
        .route("/analytics/recurring", get(recurring::list))
        .route("/notifications", get(notifications::list))
        .route(
            "/notifications/preferences",
            get(notifications::preferences).put(notifications::update_preferences),
        )
        .route("/notifications/summary", post(notifications::summary))
        .layer(from_fn_with_state(state.clone(), idempotency::idempotent))
        .layer(from_fn_with_state(state, crate::auth::require_token));

    register.merge(sessions).merge(protected).layer(DefaultBodyLimit::max(MAX_BODY))
}
