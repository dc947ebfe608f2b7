//! `/notifications`: the caller's email history, preferences and summary requests, and the
//! public one-click unsubscribe.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use budgetsmart_proto::notification::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::html::{escape, page};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, QueryMap, parse_json};
use crate::json::{ListPage, Month, PageParams, timestamp};
use crate::openapi::problems;
use crate::state::AppState;

/// How a notification is delivered.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Channel {
    Email,
}

/// Where a notification's delivery stands.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Queued,
    Sending,
    Sent,
    Failed,
    Suppressed,
}

/// How emails go out: one by one, or gathered in a daily digest.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Digest {
    Immediate,
    Daily,
}

/// The API's notification object.
#[derive(Serialize, ToSchema)]
#[schema(as = Notification)]
pub struct NotificationJson {
    #[schema(format = Uuid)]
    id: String,
    /// The event that caused it, e.g. `budget_threshold_reached` or `welcome`.
    #[schema(example = "budget_threshold_reached")]
    kind: String,
    #[schema(value_type = Channel)]
    channel: String,
    subject: String,
    #[schema(value_type = DeliveryStatus)]
    status: String,
    /// Delivery attempts so far.
    attempts: u32,
    #[schema(format = DateTime, required = true)]
    created_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    sent_at: Option<String>,
    /// Why the last attempt failed or the email was suppressed.
    #[schema(required = true)]
    last_error: Option<String>,
    /// When a queued email goes out at the earliest.
    #[schema(format = DateTime, required = true)]
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

/// The caller's notifications, sent and pending, newest first.
#[utoipa::path(
    get,
    path = "/notifications",
    tag = "notifications",
    operation_id = "list_notifications",
    security(("bearer" = [])),
    params(
        PageParams,
    ),
    responses(
        (status = 200, description = "A page of notifications", body = ListPage<NotificationJson>),
        problems::BadQuery,
        problems::Unprocessable,
    )
)]
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
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NotificationTypes)]
pub struct TypesJson {
    budget_threshold_reached: bool,
    anomaly_detected: bool,
    prediction_completed: bool,
    insight_generated: bool,
    monthly_summary: bool,
    welcome: bool,
    /// A savings goal met its target. Absent on PUT: on.
    #[serde(default = "on")]
    goal_reached: bool,
    /// A savings goal's date will be missed at the current pace (said once per slip).
    /// Absent on PUT: on.
    #[serde(default = "on")]
    goal_at_risk: bool,
}

/// The default of a type added after clients were written: on, as every type starts.
fn on() -> bool {
    true
}

/// A daily window, "HH:MM" in the user's time zone, when email waits; `start` after `end`
/// spans midnight.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = QuietHours)]
pub struct QuietHoursJson {
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "22:00")]
    start: String,
    /// Must differ from `start`.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "07:00")]
    end: String,
}

/// The API's preferences object; PUT replaces it whole.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Preferences)]
pub struct PreferencesJson {
    /// Off means no email at all.
    email_enabled: bool,
    types: TypesJson,
    /// Anomalies scoring below this are not emailed.
    #[schema(minimum = 0, maximum = 1)]
    min_anomaly_score: f64,
    #[schema(value_type = Digest)]
    digest: String,
    /// `null` (or absent, on PUT) for none.
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
                goal_reached: t.goal_reached,
                goal_at_risk: t.goal_at_risk,
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
                goal_reached: t.goal_reached,
                goal_at_risk: t.goal_at_risk,
            }),
            min_anomaly_score: p.min_anomaly_score,
            digest: p.digest,
            quiet_hours: p.quiet_hours.map(|q| pb::QuietHours { start: q.start, end: q.end }),
        }
    }
}

/// The caller's notification preferences.
#[utoipa::path(
    get,
    path = "/notifications/preferences",
    tag = "notifications",
    operation_id = "get_preferences",
    security(("bearer" = [])),
    responses((status = 200, description = "The preferences", body = PreferencesJson))
)]
pub async fn preferences(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<PreferencesJson>, ApiError> {
    let prefs = state.notifications.clone().get_preferences(pb::GetPreferencesRequest {}).await?.into_inner();
    Ok(Json(prefs.into()))
}

/// Replace the caller's notification preferences whole.
#[utoipa::path(
    put,
    path = "/notifications/preferences",
    tag = "notifications",
    operation_id = "update_preferences",
    security(("bearer" = [])),
    request_body(content = PreferencesJson, content_type = "application/json"),
    responses(
        (status = 200, description = "The saved preferences", body = PreferencesJson),
        problems::JsonBody,
    )
)]
pub async fn update_preferences(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(body): ApiJson<PreferencesJson>,
) -> Result<Json<PreferencesJson>, ApiError> {
    let saved =
        state.notifications.clone().update_preferences(pb::Preferences::from(body)).await?.into_inner();
    Ok(Json(saved.into()))
}

/// Which month to summarise; the body may also be empty.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SummaryRequest)]
pub struct SummaryBody {
    /// The current month when absent.
    #[serde(default)]
    #[schema(value_type = Option<Month>)]
    month: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SummaryQueued {
    /// The queued email, as listed by `GET /notifications`.
    #[schema(format = Uuid)]
    notification_id: String,
}

/// Send the monthly summary email now.
///
/// The body may be empty, meaning the current month; it is read as JSON whatever its
/// content type.
///
/// 409 until the account's address is verified: the summary goes to that address.
#[utoipa::path(
    post,
    path = "/notifications/summary",
    tag = "notifications",
    operation_id = "request_summary",
    security(("bearer" = [])),
    request_body(
        content = SummaryBody,
        content_type = "application/json",
        description = "An empty body is accepted too and means the current month"
    ),
    responses(
        (status = 202, description = "The summary email is queued", body = SummaryQueued),
        problems::BadRequest,
        problems::Conflict,
        problems::RawPayloadTooLarge,
        problems::Unprocessable,
    )
)]
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

/// The page an email's unsubscribe link opens.
///
/// No login: the signed token in the link is the credential. It says what the link would turn
/// off and offers a button; it changes nothing, because mail scanners and link previews fetch
/// every link in an email, and a GET that unsubscribed would unsubscribe people who never
/// clicked. The button (and a mail client's RFC 8058 one-click) is the POST.
#[utoipa::path(
    get,
    path = "/notifications/unsubscribe",
    tag = "notifications",
    operation_id = "unsubscribe",
    params(("token" = String, Query, description = "The signed token from the email's link")),
    responses(
        (status = 200, description = "A confirmation page with a button", body = String, content_type = "text/html"),
        problems::BadQuery,
        problems::NotFound,
        problems::Unprocessable,
    )
)]
pub async fn unsubscribe(State(state): State<AppState>, query: QueryMap) -> Result<Response, ApiError> {
    let token = unsubscribe_token(&query)?;
    let link =
        state.unsubscribe.clone().describe_unsubscribe(pb::UnsubscribeRequest { token }).await?.into_inner();
    // The form posts to this very URL, token included.
    let body = format!(
        "<h1 style=\"font-size:1.4em\">Unsubscribe?</h1>\
         <p>{} will no longer go to {}.</p>\
         <form method=\"post\"><button type=\"submit\" style=\"font-size:1em;padding:.5em 1.2em\">\
         Unsubscribe</button></form>",
        escape(&what(&link.kind)),
        escape(&link.email)
    );
    Ok(page(StatusCode::OK, "Unsubscribe?", &body))
}

/// RFC 8058 one-click unsubscribe, and the confirmation page's button.
///
/// What mail clients post (`List-Unsubscribe=One-Click`, form-encoded; the body is not read).
/// Turns that kind of email (or all email) off and answers a short page. A handler of its own
/// because one operation cannot hold two methods under one `operationId`.
#[utoipa::path(
    post,
    path = "/notifications/unsubscribe",
    tag = "notifications",
    operation_id = "unsubscribe_one_click",
    params(("token" = String, Query, description = "The signed token from the email's link")),
    responses(
        (status = 200, description = "A confirmation page", body = String, content_type = "text/html"),
        problems::BadQuery,
        problems::NotFound,
        problems::Unprocessable,
    )
)]
pub async fn unsubscribe_one_click(
    State(state): State<AppState>,
    query: QueryMap,
) -> Result<Response, ApiError> {
    let token = unsubscribe_token(&query)?;
    let done =
        state.unsubscribe.clone().confirm_unsubscribe(pb::UnsubscribeRequest { token }).await?.into_inner();
    let body = format!(
        "<h1 style=\"font-size:1.4em\">You are unsubscribed</h1>\
         <p>{} will no longer go to {}. You can turn them back on in your notification settings.</p>",
        escape(&what(&done.kind)),
        escape(&done.email)
    );
    Ok(page(StatusCode::OK, "Unsubscribed", &body))
}

fn unsubscribe_token(query: &QueryMap) -> Result<String, ApiError> {
    query.get("token").filter(|t| !t.is_empty()).ok_or_else(|| ApiError::field("token", "is required"))
}

/// What a link's scope turns off, in words.
fn what(kind: &str) -> String {
    match kind {
        "all" => "BudgetSmart emails".to_owned(),
        kind => format!("“{}” emails", kind.replace('_', " ")),
    }
}
