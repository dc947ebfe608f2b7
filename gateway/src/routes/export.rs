//! `GET /me/export`: everything the service holds about the caller, as one JSON document, or
//! the transactions as CSV.
//!
//! The document is written while it is read: a task pages through the same calls the API's
//! list routes make (200 rows a page) and sends each page down a channel of four chunks, so a
//! long history never sits in memory, and a slow reader slows the paging instead of filling a
//! buffer. The items have the shapes the API's own answers have. If a backend fails half-way,
//! the body is cut off with an error rather than ended as if complete, so a client never takes
//! a partial export for the whole. The task runs in the request's context (its token and
//! request id), which the response body outlives.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use budgetsmart_proto::analytics::v1 as an;
use budgetsmart_proto::common::v1::PageRequest;
use budgetsmart_proto::engine::v1 as pb;
use budgetsmart_proto::notification::v1 as nt;
use serde::Serialize;
use tokio::sync::mpsc;
use utoipa::ToSchema;

use super::accounts::AccountJson;
use super::anomalies::AnomalyJson;
use super::audit::AuditEventJson;
use super::budgets::BudgetJson;
use super::categories::CategoryJson;
use super::goals::{ContributionJson, GoalJson};
use super::imports::ImportRecordJson;
use super::insights::InsightJson;
use super::me::UserJson;
use super::notifications::{NotificationJson, PreferencesJson};
use super::recurring::RecurringJson;
use super::sessions::SessionJson;
use super::transactions::TransactionJson;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::QueryMap;
use crate::forward::CONTEXT;
use crate::json::amount;
use crate::openapi::problems;
use crate::state::AppState;

/// Rows asked for per page.
const PAGE: u32 = 200;

/// What `GET /me/export` answers.
#[derive(ToSchema)]
#[allow(dead_code)] // The query is read as text; this names its values for the document.
pub enum ExportFormat {
    #[schema(rename = "json")]
    Json,
    #[schema(rename = "csv")]
    Csv,
}

/// The export document. It is streamed rather than built, so this type only names its parts;
/// the e2e OpenAPI test checks real exports against it.
#[derive(Serialize, ToSchema)]
#[schema(as = Export)]
pub struct ExportJson {
    /// Always `budgetsmart-export`.
    #[schema(example = "budgetsmart-export")]
    format: String,
    /// The document's version: 1.
    #[schema(example = 1)]
    version: u32,
    #[schema(format = DateTime)]
    exported_at: String,
    profile: UserJson,
    preferences: PreferencesJson,
    sessions: Vec<SessionJson>,
    categories: Vec<CategoryJson>,
    accounts: Vec<AccountJson>,
    budgets: Vec<BudgetJson>,
    transactions: Vec<TransactionJson>,
    insights: Vec<InsightJson>,
    /// Every anomaly, whatever its status.
    anomalies: Vec<AnomalyJson>,
    recurring: Vec<RecurringJson>,
    /// Imported files, with what each did.
    imports: Vec<ImportRecordJson>,
    /// Savings goals, each with every contribution.
    goals: Vec<GoalExportJson>,
    /// Sent, pending and suppressed email.
    notifications: Vec<NotificationJson>,
    /// The security log, newest first.
    audit: Vec<AuditEventJson>,
}

/// A goal as `GET /goals/{id}` answers it, with its contributions, newest first.
#[derive(Serialize, ToSchema)]
#[schema(as = GoalExport)]
pub struct GoalExportJson {
    #[serde(flatten)]
    goal: GoalJson,
    contributions: Vec<ContributionJson>,
}

/// Everything held about the caller.
///
/// `format=json` (the default): one document with the profile, preferences, sessions,
/// categories, accounts, budgets, transactions, insights, anomalies, recurring payments,
/// imports, savings goals with their contributions, notifications and the audit log, in the
/// API's own shapes. `format=csv`: the transactions, with a signed
/// amount (negative for a debit) and the category's name, as `POST /transactions/import`
/// takes them back. Streamed; a failure half-way cuts the body off rather than ending it.
#[utoipa::path(
    get,
    path = "/me/export",
    tag = "me",
    operation_id = "export",
    security(("bearer" = [])),
    params(("format" = inline(Option<ExportFormat>), Query, description = "`json` (the default) or `csv`")),
    responses(
        (status = 200, description = "The export", content(
            (ExportJson = "application/json"),
            (String = "text/csv"),
        )),
        problems::BadQuery,
        problems::Unprocessable,
    )
)]
pub async fn export(
    State(state): State<AppState>,
    _user: AuthUser,
    query: QueryMap,
) -> Result<Response, ApiError> {
    let csv = match query.get("format").as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::field("format", "must be json or csv")),
    };
    // Asked before the answer starts, so that a backend that is down is a 503, not a cut body.
    let profile = state.engine.users.clone().get_me(pb::GetMeRequest {}).await?.into_inner();
    let context = CONTEXT.try_with(Clone::clone).unwrap_or_default();
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let out = Out(sender);
    let span = tracing::Span::current();
    tokio::spawn(CONTEXT.scope(
        context,
        tracing::Instrument::instrument(
            async move {
                let written =
                    if csv { write_csv(&state, &out).await } else { write_json(&state, profile, &out).await };
                if let Err(error) = written {
                    tracing::warn!(error = %error.message(), "an export was cut off");
                    let _ = out.0.send(Err(std::io::Error::other("the export could not be completed"))).await;
                }
            },
            span,
        ),
    ));
    let chunks = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    let body = Body::from_stream(chunks);
    let today = chrono::Utc::now().format("%Y-%m-%d");
    let (kind, extension) =
        if csv { ("text/csv; charset=utf-8", "csv") } else { ("application/json", "json") };
    let disposition = format!("attachment; filename=\"budgetsmart-export-{today}.{extension}\"");
    Ok((
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

/// The sending end; a reader that went away ends the writing quietly.
struct Out(mpsc::Sender<Result<Bytes, std::io::Error>>);

impl Out {
    async fn write(&self, chunk: impl Into<Bytes>) -> Result<(), ApiError> {
        self.0.send(Ok(chunk.into())).await.map_err(|_| gone())
    }
}

/// The client stopped reading.
fn gone() -> ApiError {
    ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "the client went away")
}

fn page(cursor: String) -> Option<PageRequest> {
    Some(PageRequest { limit: PAGE, cursor })
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value)
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// Writes `"name":[…]`, fetching pages with `next` until its cursor is empty.
async fn list<T, F, Fut>(out: &Out, name: &str, mut next: F) -> Result<(), ApiError>
where
    T: Serialize,
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, String), ApiError>>,
{
    out.write(format!(",\"{name}\":[")).await?;
    let (mut cursor, mut first) = (String::new(), true);
    loop {
        let (items, following) = next(cursor).await?;
        write_items(out, &mut first, &items).await?;
        if following.is_empty() {
            break;
        }
        cursor = following;
    }
    out.write("]").await
}

/// One page of a list's items, comma-separated from those before (`first` says if any were).
async fn write_items<T: Serialize>(out: &Out, first: &mut bool, items: &[T]) -> Result<(), ApiError> {
    let mut chunk = Vec::new();
    for item in items {
        if !*first {
            chunk.push(b',');
        }
        *first = false;
        chunk.extend(json(item)?);
    }
    out.write(chunk).await
}

async fn write_json(state: &AppState, profile: pb::User, out: &Out) -> Result<(), ApiError> {
    let head = serde_json::json!({
        "format": "budgetsmart-export",
        "version": 1,
        "exported_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    let head = json(&head)?;
    out.write(Bytes::copy_from_slice(&head[..head.len() - 1])).await?;
    out.write([b",\"profile\":".as_slice(), &json(&UserJson::from(profile))?].concat()).await?;
    let prefs = state.notifications.clone().get_preferences(nt::GetPreferencesRequest {}).await?.into_inner();
    out.write([b",\"preferences\":".as_slice(), &json(&PreferencesJson::from(prefs))?].concat()).await?;
    let sessions = state.engine.users.clone().list_sessions(pb::ListSessionsRequest {}).await?.into_inner();
    let sessions: Vec<SessionJson> = sessions.data.into_iter().map(Into::into).collect();
    out.write([b",\"sessions\":".as_slice(), &json(&sessions)?].concat()).await?;
    list(out, "categories", |_| async {
        let listed = state.engine.categories.clone().list_categories(pb::ListCategoriesRequest {}).await?;
        Ok((listed.into_inner().categories.into_iter().map(CategoryJson::from).collect(), String::new()))
    })
    .await?;
    list(out, "accounts", |_| async {
        let listed = state.engine.accounts.clone().list_accounts(pb::ListAccountsRequest {}).await?;
        Ok((listed.into_inner().accounts.into_iter().map(AccountJson::from).collect(), String::new()))
    })
    .await?;
    list(out, "budgets", |cursor| async move {
        let listed =
            state.engine.budgets.clone().list_budgets(pb::ListBudgetsRequest { page: page(cursor) }).await?;
        let listed = listed.into_inner();
        Ok((listed.budgets.into_iter().map(BudgetJson::from).collect(), listed.next_cursor))
    })
    .await?;
    list(out, "transactions", |cursor| async move {
        let request = pb::ListTransactionsRequest { page: page(cursor), ..Default::default() };
        let listed = state.engine.transactions.clone().list_transactions(request).await?.into_inner();
        Ok((listed.transactions.into_iter().map(TransactionJson::from).collect(), listed.next_cursor))
    })
    .await?;
    list(out, "insights", |cursor| async move {
        let request = pb::ListInsightsRequest { page: page(cursor) };
        let listed = state.engine.insights.clone().list_insights(request).await?.into_inner();
        Ok((listed.insights.into_iter().map(InsightJson::from).collect(), listed.next_cursor))
    })
    .await?;
    // The default listing leaves out what the user marked "not an anomaly"; an export does not.
    out.write(",\"anomalies\":[").await?;
    let mut first = true;
    for status in ["", "not_anomaly"] {
        let mut cursor = String::new();
        loop {
            let request = an::ListAnomaliesRequest { status: status.to_owned(), page: page(cursor) };
            let listed = state.analytics.clone().list_anomalies(request).await?.into_inner();
            let items: Vec<AnomalyJson> = listed.data.into_iter().map(Into::into).collect();
            write_items(out, &mut first, &items).await?;
            if listed.next_cursor.is_empty() {
                break;
            }
            cursor = listed.next_cursor;
        }
    }
    out.write("]").await?;
    list(out, "recurring", |_| async {
        let listed = state.analytics.clone().list_recurring(an::ListRecurringRequest {}).await?.into_inner();
        Ok((listed.data.into_iter().map(RecurringJson::from).collect(), String::new()))
    })
    .await?;
    list(out, "imports", |cursor| async move {
        let listed =
            state.engine.imports.clone().list_imports(pb::ListImportsRequest { page: page(cursor) }).await?;
        let listed = listed.into_inner();
        Ok((listed.imports.into_iter().map(ImportRecordJson::from).collect(), listed.next_cursor))
    })
    .await?;
    list(out, "goals", |cursor| async move {
        let request = an::ListGoalsRequest { page: page(cursor) };
        let listed = state.goals.clone().list_goals(request).await?.into_inner();
        let mut goals = Vec::with_capacity(listed.data.len());
        for goal in listed.data {
            let (id, mut contributions, mut cursor) = (goal.id.clone(), Vec::new(), String::new());
            loop {
                let request = an::ListContributionsRequest { goal_id: id.clone(), page: page(cursor) };
                let page = state.goals.clone().list_contributions(request).await?.into_inner();
                contributions.extend(page.data.into_iter().map(ContributionJson::from));
                if page.next_cursor.is_empty() {
                    break;
                }
                cursor = page.next_cursor;
            }
            goals.push(GoalExportJson { goal: goal.into(), contributions });
        }
        Ok((goals, listed.next_cursor))
    })
    .await?;
    list(out, "notifications", |cursor| async move {
        let request = nt::ListNotificationsRequest { page: page(cursor) };
        let listed = state.notifications.clone().list_notifications(request).await?.into_inner();
        Ok((listed.data.into_iter().map(NotificationJson::from).collect(), listed.next_cursor))
    })
    .await?;
    list(out, "audit", |cursor| async move {
        let request = pb::ListAuditEventsRequest { page: page(cursor) };
        let listed = state.engine.users.clone().list_audit_events(request).await?.into_inner();
        Ok((listed.events.into_iter().map(AuditEventJson::from).collect(), listed.next_cursor))
    })
    .await?;
    out.write("}").await
}

async fn write_csv(state: &AppState, out: &Out) -> Result<(), ApiError> {
    let categories = state.engine.categories.clone().list_categories(pb::ListCategoriesRequest {}).await?;
    let names: HashMap<String, String> =
        categories.into_inner().categories.into_iter().map(|c| (c.id, c.name)).collect();
    out.write("date,description,amount,currency,category,type,notes,id,category_id,created_at\r\n").await?;
    let mut cursor = String::new();
    loop {
        let request = pb::ListTransactionsRequest { page: page(cursor), ..Default::default() };
        let listed = state.engine.transactions.clone().list_transactions(request).await?.into_inner();
        let mut chunk = String::new();
        for t in &listed.transactions {
            let sign = if t.r#type == "debit" { "-" } else { "" };
            let category_id = t.category_id.clone().unwrap_or_default();
            let row = [
                t.occurred_on.clone(),
                text(&t.description),
                format!("{sign}{}", amount(&t.amount)),
                t.amount.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default(),
                text(names.get(&category_id).map_or("", String::as_str)),
                t.r#type.clone(),
                text(t.notes.as_deref().unwrap_or_default()),
                t.id.clone(),
                category_id,
                crate::json::timestamp(t.created_at).unwrap_or_default(),
            ];
            chunk.push_str(&row.iter().map(|f| field(f)).collect::<Vec<_>>().join(","));
            chunk.push_str("\r\n");
        }
        out.write(chunk).await?;
        if listed.next_cursor.is_empty() {
            return Ok(());
        }
        cursor = listed.next_cursor;
    }
}

/// Text a person typed, made safe for spreadsheets: a leading `=`, `+`, `-`, `@`, tab or
/// carriage return would be read as a formula, so it gets a `'` (OWASP's CSV injection advice).
fn text(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() }
}

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break.
fn field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(text("Groceries"), "Groceries");
    }
}
