//! `/transactions`, including CSV import.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use budgetsmart_proto::engine::v1 as pb;
use serde::{Deserialize, Serialize};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, QueryMap};
use crate::json::{FieldErrors, ListPage, amount, nullable, timestamp};
use crate::state::AppState;

#[derive(Serialize)]
pub struct TransactionJson {
    id: String,
    occurred_on: String,
    description: String,
    amount: String,
    currency: String,
    #[serde(rename = "type")]
    kind: String,
    category_id: Option<String>,
    notes: Option<String>,
    created_at: Option<String>,
    updated_at: Option<String>,
}

impl From<pb::Transaction> for TransactionJson {
    fn from(t: pb::Transaction) -> Self {
        TransactionJson {
            currency: t.amount.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default(),
            amount: amount(&t.amount),
            id: t.id,
            occurred_on: t.occurred_on,
            description: t.description,
            kind: t.r#type,
            category_id: t.category_id,
            notes: t.notes,
            created_at: timestamp(t.created_at),
            updated_at: timestamp(t.updated_at),
        }
    }
}

#[derive(Deserialize)]
pub struct CreateBody {
    occurred_on: String,
    description: String,
    amount: String,
    currency: String,
    #[serde(rename = "type")]
    kind: String,
    category_id: Option<String>,
    notes: Option<String>,
}

#[derive(Deserialize)]
pub struct UpdateBody {
    occurred_on: Option<String>,
    description: Option<String>,
    amount: Option<String>,
    currency: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    category_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    notes: Option<Option<String>>,
}

#[derive(Serialize)]
pub struct ImportJson {
    imported: u32,
    duplicates: u32,
    errors: Vec<ImportErrorJson>,
}

#[derive(Serialize)]
pub struct ImportErrorJson {
    line: u32,
    message: String,
}

/// GET /transactions, newest first, with the filters of the API contract.
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    query: QueryMap,
) -> Result<Json<ListPage<TransactionJson>>, ApiError> {
    let request = pb::ListTransactionsRequest {
        page: Some(query.page()?),
        from: query.get("from"),
        to: query.get("to"),
        category_id: query.get("category_id"),
        r#type: query.get("type"),
        q: query.get("q"),
        min_amount: query.get("min_amount"),
        max_amount: query.get("max_amount"),
    };
    let listed = state.engine.transactions.clone().list_transactions(request).await?.into_inner();
    Ok(Json(ListPage::new(listed.transactions.into_iter().map(Into::into).collect(), listed.next_cursor)))
}

/// POST /transactions → 201.
pub async fn create(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<TransactionJson>), ApiError> {
    let mut errors = FieldErrors::default();
    let amount = errors.money("amount", &body.amount, &body.currency);
    errors.finish()?;
    let request = pb::CreateTransactionRequest {
        occurred_on: body.occurred_on,
        description: body.description,
        amount,
        r#type: body.kind,
        category_id: body.category_id,
        notes: body.notes,
    };
    let created = state.engine.transactions.clone().create_transaction(request).await?.into_inner();
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// GET /transactions/{id}.
pub async fn get(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<TransactionJson>, ApiError> {
    let found = state
        .engine
        .transactions
        .clone()
        .get_transaction(pb::GetTransactionRequest { id })
        .await?
        .into_inner();
    Ok(Json(found.into()))
}

/// PATCH /transactions/{id}; `null` clears `category_id` or `notes`.
pub async fn update(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<TransactionJson>, ApiError> {
    let mut errors = FieldErrors::default();
    let amount = match (&body.amount, &body.currency) {
        (Some(amount), currency) => errors.money("amount", amount, currency.as_deref().unwrap_or("")),
        (None, Some(_)) => return Err(ApiError::field("currency", "can only change together with amount")),
        (None, None) => None,
    };
    errors.finish()?;
    let request = pb::UpdateTransactionRequest {
        id,
        occurred_on: body.occurred_on,
        description: body.description,
        amount,
        r#type: body.kind,
        clear_category: matches!(body.category_id, Some(None)),
        category_id: body.category_id.flatten(),
        clear_notes: matches!(body.notes, Some(None)),
        notes: body.notes.flatten(),
    };
    Ok(Json(state.engine.transactions.clone().update_transaction(request).await?.into_inner().into()))
}

/// DELETE /transactions/{id} → 204.
pub async fn delete(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.transactions.clone().delete_transaction(pb::DeleteTransactionRequest { id }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// POST /transactions/import with a `text/csv` body.
pub async fn import(
    State(state): State<AppState>,
    _user: AuthUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ImportJson>, ApiError> {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !(content_type.starts_with("text/csv") || content_type.starts_with("application/csv")) {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send the file as text/csv"));
    }
    let result = state
        .engine
        .transactions
        .clone()
        .import_transactions(pb::ImportTransactionsRequest { csv: body.to_vec() })
        .await?
        .into_inner();
    Ok(Json(ImportJson {
        imported: result.imported,
        duplicates: result.duplicates,
        errors: result
            .errors
            .into_iter()
            .map(|e| ImportErrorJson { line: e.line, message: e.message })
            .collect(),
    }))
}
