//! `/notifications`: the caller's email history, preferences and summary requests, and the
//! public one-click unsubscribe.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use budgetsmart_proto::notification::v1 as pb;
use serde::{Deserialize, Serialize};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, QueryMap, parse_json};
use crate::json::{ListPage, timestamp};
use crate::state::AppState;

/// The API's notification object.
#[derive(Serialize)]
pub struct NotificationJson {
    id: String,
    kind: String,
    channel: String,
    subject: String,
    status: String,
    attempts: u32,
    created_at: Option<String>,
    sent_at: Option<String>,
    last_error: Option<String>,
    /// When a queued email goes out at the earliest.
    not_before: Option<String>,
}

impl From<pb::Notification> for NotificationJson {
    fn from(n: pb::Notification) -> Self {
        NotificationJson {
            id: n.id,
            kind: n.kind,
            channel: n.channel,
            subject: n.subject,
            status: n.status,
            attempts: n.attempts,
            created_at: timestamp(n.created_at),
            sent_at: timestamp(n.sent_at),
            last_error: n.last_error,
            not_before: timestamp(n.not_before),
        }
    }
}

/// GET /notifications?limit=&cursor=, newest first.
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    query: QueryMap,
) -> Result<Json<ListPage<NotificationJson>>, ApiError> {
    let request = pb::ListNotificationsRequest { page: Some(query.page()?) };
    let listed = state.notifications.clone().list_notifications(request).await?.into_inner();
    Ok(Json(ListPage::new(listed.data.into_iter().map(Into::into).collect(), listed.next_cursor)))
}

/// Which kinds of email are on.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypesJson {
    budget_threshold_reached: bool,
    anomaly_detected: bool,
    prediction_completed: bool,
    insight_generated: bool,
    monthly_summary: bool,
    welcome: bool,
}

/// A daily window, "HH:MM" in the user's time zone.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursJson {
    start: String,
    end: String,
}

/// The API's preferences object; PUT replaces it whole.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferencesJson {
    email_enabled: bool,
    types: TypesJson,
    min_anomaly_score: f64,
    digest: String,
    #[serde(default)]
    quiet_hours: Option<QuietHoursJson>,
}

impl From<pb::Preferences> for PreferencesJson {
    fn from(p: pb::Preferences) -> Self {
        let t = p.types.unwrap_or_default();
        PreferencesJson {
            email_enabled: p.email_enabled,
            types: TypesJson {
                budget_threshold_reached: t.budget_threshold_reached,
                anomaly_detected: t.anomaly_detected,
                prediction_completed: t.prediction_completed,
                insight_generated: t.insight_generated,
                monthly_summary: t.monthly_summary,
                welcome: t.welcome,
            },
            min_anomaly_score: p.min_anomaly_score,
            digest: p.digest,
            quiet_hours: p.quiet_hours.map(|q| QuietHoursJson { start: q.start, end: q.end }),
        }
    }
}

impl From<PreferencesJson> for pb::Preferences {
    fn from(p: PreferencesJson) -> Self {
        let t = p.types;
        pb::Preferences {
            email_enabled: p.email_enabled,
            types: Some(pb::TypeSettings {
                budget_threshold_reached: t.budget_threshold_reached,
                anomaly_detected: t.anomaly_detected,
                prediction_completed: t.prediction_completed,
                insight_generated: t.insight_generated,
                monthly_summary: t.monthly_summary,
                welcome: t.welcome,
            }),
            min_anomaly_score: p.min_anomaly_score,
            digest: p.digest,
            quiet_hours: p.quiet_hours.map(|q| pb::QuietHours { start: q.start, end: q.end }),
        }
    }
}

/// GET /notifications/preferences.
pub async fn preferences(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<PreferencesJson>, ApiError> {
    let prefs = state.notifications.clone().get_preferences(pb::GetPreferencesRequest {}).await?.into_inner();
    Ok(Json(prefs.into()))
}

/// PUT /notifications/preferences.
pub async fn update_preferences(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(body): ApiJson<PreferencesJson>,
) -> Result<Json<PreferencesJson>, ApiError> {
    let saved =
        state.notifications.clone().update_preferences(pb::Preferences::from(body)).await?.into_inner();
    Ok(Json(saved.into()))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SummaryBody {
    #[serde(default)]
    month: Option<String>,
}

#[derive(Serialize)]
pub struct SummaryQueued {
    notification_id: String,
}

/// POST /notifications/summary `{month?}`: 202, the summary email is queued. The body may
/// be empty: it then means the current month.
pub async fn summary(
    State(state): State<AppState>,
    _user: AuthUser,
    body: Bytes,
) -> Result<(StatusCode, Json<SummaryQueued>), ApiError> {
    let body: SummaryBody =
        if body.iter().all(u8::is_ascii_whitespace) { SummaryBody::default() } else { parse_json(&body)? };
    let month = body.month.unwrap_or_default();
    let queued =
        state.notifications.clone().request_summary(pb::RequestSummaryRequest { month }).await?.into_inner();
    Ok((StatusCode::ACCEPTED, Json(SummaryQueued { notification_id: queued.notification_id })))
}

/// GET and POST /notifications/unsubscribe?token=: no login, the signed token is the
/// credential. POST is RFC 8058's one-click (mail clients post `List-Unsubscribe=One-Click`);
/// GET is the link a person clicks. Both turn the email type off and answer a short page.
pub async fn unsubscribe(State(state): State<AppState>, query: QueryMap) -> Result<Response, ApiError> {
    let token = query
        .get("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::field("token", "is required"))?;
    let done =
        state.unsubscribe.clone().confirm_unsubscribe(pb::UnsubscribeRequest { token }).await?.into_inner();
    let what = match done.kind.as_str() {
        "all" => "BudgetSmart emails".to_owned(),
        kind => format!("“{}” emails", kind.replace('_', " ")),
    };
    // Only fixed text and the masked address (an email address has no HTML-special
    // characters that survive validation, but escape anyway).
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Unsubscribed</title></head>\
         <body style=\"font-family:Helvetica,Arial,sans-serif;max-width:32em;margin:3em auto;color:#1f2933\">\
         <h1 style=\"font-size:1.4em\">You are unsubscribed</h1>\
         <p>{} will no longer go to {}. You can turn them back on in your notification settings.</p>\
         </body></html>",
        escape(&what),
        escape(&done.email)
    );
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
