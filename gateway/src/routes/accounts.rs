//! `/accounts`: where money sits. Imports create them the first time a file names one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use budgetsmart_proto::engine::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::json::{CurrencyCode, ListPage, nullable, timestamp};
use crate::openapi::problems;
use crate::state::AppState;

/// `checking`, `savings`, `credit_card` or `cash`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum AccountType {
    Checking,
    Savings,
    CreditCard,
    Cash,
}

/// An account.
#[derive(Serialize, ToSchema)]
#[schema(as = Account)]
pub struct AccountJson {
    #[schema(format = Uuid)]
    id: String,
    #[schema(example = "Everyday checking")]
    name: String,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    #[serde(rename = "type")]
    #[schema(value_type = AccountType)]
    kind: String,
    #[schema(required = true, example = "ING")]
    institution: Option<String>,
    /// The last four characters of the account number its bank's files give; null for an
    /// account no file has named. Later files of the same number go to this account.
    #[schema(required = true, example = "3000")]
    number_hint: Option<String>,
    #[schema(format = DateTime, required = true)]
    created_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    updated_at: Option<String>,
}

impl From<pb::Account> for AccountJson {
    fn from(a: pb::Account) -> Self {
        AccountJson {
            id: a.id,
            name: a.name,
            currency: a.currency,
            kind: a.r#type,
            institution: a.institution,
            number_hint: a.number_hint,
            created_at: timestamp(a.created_at),
            updated_at: timestamp(a.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[schema(as = NewAccount)]
pub struct CreateBody {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S", example = "Everyday checking")]
    name: String,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    #[serde(rename = "type")]
    #[schema(value_type = AccountType)]
    kind: String,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S", example = "ING")]
    institution: Option<String>,
}

/// The fields to change; `null` removes `institution`.
#[derive(Deserialize, ToSchema)]
#[schema(as = AccountPatch)]
pub struct UpdateBody {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: Option<String>,
    #[schema(value_type = Option<CurrencyCode>)]
    currency: Option<String>,
    #[serde(rename = "type")]
    #[schema(value_type = Option<AccountType>)]
    kind: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100, pattern = r"\S")]
    institution: Option<Option<String>>,
}

/// A blank institution is not "none": that is `null` (or leaving it out).
fn blank_institution(institution: Option<&str>) -> Result<(), ApiError> {
    match institution {
        Some(text) if text.trim().is_empty() => {
            Err(ApiError::field("institution", "must not be blank; send null (or leave it out) for none"))
        }
        _ => Ok(()),
    }
}

/// The caller's accounts, by name.
#[utoipa::path(
    get,
    path = "/accounts",
    tag = "accounts",
    operation_id = "list_accounts",
    security(("bearer" = [])),
    responses((status = 200, description = "Every account", body = ListPage<AccountJson>))
)]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<ListPage<AccountJson>>, ApiError> {
    let listed = state.engine.accounts.clone().list_accounts(pb::ListAccountsRequest {}).await?.into_inner();
    Ok(Json(ListPage::new(listed.accounts.into_iter().map(Into::into).collect(), String::new())))
}

/// Add an account.
#[utoipa::path(
    post,
    path = "/accounts",
    tag = "accounts",
    operation_id = "create_account",
    security(("bearer" = [])),
    request_body(content = CreateBody, content_type = "application/json"),
    responses((status = 201, description = "The account", body = AccountJson), problems::JsonBody)
)]
pub async fn create(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<AccountJson>), ApiError> {
    blank_institution(body.institution.as_deref())?;
    let request = pb::CreateAccountRequest {
        name: body.name,
        currency: body.currency,
        r#type: body.kind,
        institution: body.institution,
    };
    let created = state.engine.accounts.clone().create_account(request).await?.into_inner();
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// One account.
#[utoipa::path(
    get,
    path = "/accounts/{id}",
    tag = "accounts",
    operation_id = "get_account",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The account's id")),
    responses((status = 200, description = "The account", body = AccountJson), problems::NotFound)
)]
pub async fn get(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<AccountJson>, ApiError> {
    Ok(Json(
        state.engine.accounts.clone().get_account(pb::GetAccountRequest { id }).await?.into_inner().into(),
    ))
}

/// Change an account.
#[utoipa::path(
    patch,
    path = "/accounts/{id}",
    tag = "accounts",
    operation_id = "update_account",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The account's id")),
    request_body(content = UpdateBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed account", body = AccountJson),
        problems::JsonBody,
        problems::NotFound,
    )
)]
pub async fn update(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<AccountJson>, ApiError> {
    blank_institution(body.institution.as_ref().and_then(Option::as_deref))?;
    let request = pb::UpdateAccountRequest {
        id,
        name: body.name,
        currency: body.currency,
        r#type: body.kind,
        institution: body.institution.map(Option::unwrap_or_default),
    };
    Ok(Json(state.engine.accounts.clone().update_account(request).await?.into_inner().into()))
}

/// Delete an account. Its transactions stay, outside any account.
#[utoipa::path(
    delete,
    path = "/accounts/{id}",
    tag = "accounts",
    operation_id = "delete_account",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The account's id")),
    responses((status = 204, description = "The account is gone"), problems::NotFound)
)]
pub async fn delete(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.accounts.clone().delete_account(pb::DeleteAccountRequest { id }).await?;
    Ok(StatusCode::NO_CONTENT)
}
