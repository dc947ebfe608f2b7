//! `/transactions`. Importing files is `routes::imports`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use budgetsmart_proto::engine::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, QueryMap};
use crate::json::{
    Amount, CurrencyCode, Day, FieldErrors, ListPage, PageParams, PositiveAmount, TransactionType, amount,
    nullable, timestamp,
};
use crate::openapi::problems;
use crate::state::AppState;

/// A booked transaction. `amount` is always positive; `type` says which way the money went.
#[derive(Serialize, ToSchema)]
#[schema(as = Transaction)]
pub struct TransactionJson {
    #[schema(format = Uuid)]
    id: String,
    #[schema(format = Date)]
    occurred_on: String,
    #[schema(example = "Whole Foods")]
    description: String,
    #[schema(value_type = Amount)]
    amount: String,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    #[serde(rename = "type")]
    #[schema(value_type = TransactionType)]
    kind: String,
    #[schema(format = Uuid, required = true)]
    category_id: Option<String>,
    /// Who chose the category: `user`, `import`, `model` (auto-filled) or `rule`; null when
    /// there is no category. Only `user` and `import` teach the categorisation models;
    /// changing a `model` category makes it `user`.
    #[schema(required = true, example = "user")]
    category_source: Option<String>,
    /// The model's confidence, in [0, 1], when `category_source` is `model`.
    #[schema(required = true, minimum = 0, maximum = 1)]
    category_confidence: Option<f64>,
    #[schema(required = true)]
    notes: Option<String>,
    /// The account it belongs to; null when none.
    #[schema(format = Uuid, required = true)]
    account_id: Option<String>,
    /// The import that wrote it (`DELETE /imports/{id}` removes it); null when typed in.
    #[schema(format = Uuid, required = true)]
    import_id: Option<String>,
    #[schema(format = DateTime, required = true)]
    created_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    updated_at: Option<String>,
    /// The following fields appear only when `currency` is not the owner's home currency.
    /// The home currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<CurrencyCode>)]
    home_currency: Option<String>,
    /// The amount in the home currency: what budgets, alerts, summaries and forecasts count.
    /// Absent while the rate is pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Amount>)]
    home_amount: Option<String>,
    /// One unit of `currency` in the home currency (decimal string, up to 10 places).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "1.2722443559")]
    rate: Option<String>,
    /// The day of the ECB reference rate used (the transaction's day, else the last working
    /// day before it), or the transaction's day for a bank's rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Date)]
    rate_date: Option<String>,
    /// `ecb` (the European Central Bank's reference rate) or `bank` (the rate your bank
    /// applied, as you gave it).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "ecb")]
    rate_source: Option<String>,
    /// `true` while no rate is known for the day: the transaction is stored but not yet
    /// counted in home-currency totals; it is counted when its rate arrives, never guessed.
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_pending: Option<bool>,
}

impl From<pb::Transaction> for TransactionJson {
    fn from(t: pb::Transaction) -> Self {
        let currency = t.amount.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default();
        let foreign = !t.home_currency.is_empty() && t.home_currency != currency;
        let text = |value: String| Some(value).filter(|v| foreign && !v.is_empty());
        TransactionJson {
            home_amount: t.home_amount.as_ref().filter(|_| foreign).map(|m| amount(&Some(m.clone()))),
            home_currency: text(t.home_currency),
            rate: text(t.rate),
            rate_date: text(t.rate_date),
            rate_source: text(t.rate_source),
            rate_pending: foreign.then_some(t.rate_pending),
            currency,
            amount: amount(&t.amount),
            id: t.id,
            occurred_on: t.occurred_on,
            description: t.description,
            kind: t.r#type,
            category_id: t.category_id,
            category_source: Some(t.category_source).filter(|s| !s.is_empty()),
            category_confidence: t.category_confidence.filter(|c| c.is_finite()),
            notes: t.notes,
            account_id: t.account_id,
            import_id: t.import_id,
            created_at: timestamp(t.created_at),
            updated_at: timestamp(t.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[schema(as = NewTransaction)]
pub struct CreateBody {
    #[schema(value_type = Day)]
    occurred_on: String,
    #[schema(min_length = 1, max_length = 500, example = "Whole Foods")]
    description: String,
    #[schema(value_type = PositiveAmount)]
    amount: String,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    #[serde(rename = "type")]
    #[schema(value_type = TransactionType)]
    kind: String,
    /// One of the caller's categories; without one, the user's model may pick one.
    #[schema(format = Uuid)]
    category_id: Option<String>,
    #[schema(max_length = 2000)]
    notes: Option<String>,
    /// For a payment in another currency: the rate your bank applied (one unit of `currency`
    /// in your home currency), from the statement; kept to 10 decimal places. Without it, the
    /// ECB reference rate of the day is used. Not together with `home_amount`; ignored for a
    /// payment in your home currency.
    #[schema(pattern = r"^([1-9][0-9]{0,8}(\.[0-9]+)?|0\.[0-9]{0,9}[1-9][0-9]*)$", example = "1.0836")]
    rate: Option<String>,
    /// For a payment in another currency: what your bank charged in your home currency, from
    /// the statement; the rate is what it implies. Not together with `rate`.
    #[schema(value_type = Option<PositiveAmount>)]
    home_amount: Option<String>,
    /// One of the caller's accounts.
    #[schema(format = Uuid)]
    account_id: Option<String>,
}

/// The fields to change; an absent field keeps its value. `currency` changes only together
/// with `amount`.
#[derive(Deserialize, ToSchema)]
#[schema(as = TransactionPatch)]
pub struct UpdateBody {
    #[schema(value_type = Option<Day>)]
    occurred_on: Option<String>,
    #[schema(min_length = 1, max_length = 500)]
    description: Option<String>,
    #[schema(value_type = Option<PositiveAmount>)]
    amount: Option<String>,
    #[schema(value_type = Option<CurrencyCode>)]
    currency: Option<String>,
    #[serde(rename = "type")]
    #[schema(value_type = Option<TransactionType>)]
    kind: Option<String>,
    /// `null` removes the category.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Uuid)]
    category_id: Option<Option<String>>,
    /// `null` removes the notes.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    notes: Option<Option<String>>,
    /// Your bank's rate, as on create; `null` drops a bank conversion so the reference rate
    /// applies again.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = r"^([1-9][0-9]{0,8}(\.[0-9]+)?|0\.[0-9]{0,9}[1-9][0-9]*)$")]
    rate: Option<Option<String>>,
    /// What your bank charged in your home currency, as on create; `null` as for `rate`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<PositiveAmount>)]
    home_amount: Option<Option<String>>,
    /// One of the caller's accounts; `null` takes the transaction out of its account.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Uuid)]
    account_id: Option<Option<String>>,
}

/// A bank's conversion from the `rate` and `home_amount` fields; both at once is refused.
fn bank_conversion(
    errors: &mut FieldErrors,
    rate: Option<&str>,
    home_amount: Option<&str>,
) -> Option<pb::BankConversion> {
    use pb::bank_conversion::Conversion;
    let conversion = match (rate, home_amount) {
        (Some(_), Some(_)) => {
            errors.add("home_amount", "give either rate or home_amount, not both");
            return None;
        }
        (Some(rate), None) => Conversion::Rate(rate.to_owned()),
        (None, Some(charged)) => Conversion::HomeAmount(charged.to_owned()),
        (None, None) => return None,
    };
    Some(pb::BankConversion { conversion: Some(conversion) })
}

/// The caller's transactions, newest first.
#[utoipa::path(
    get,
    path = "/transactions",
    tag = "transactions",
    operation_id = "list_transactions",
    security(("bearer" = [])),
    params(
        PageParams,
        ("from" = Option<String>, Query, format = Date, description = "Only on or after this day"),
        ("to" = Option<String>, Query, format = Date, description = "Only on or before this day"),
        ("category_id" = Option<String>, Query, format = Uuid, description = "Only in this category"),
        ("type" = inline(Option<TransactionType>), Query, description = "Only debits or only credits"),
        (
            "q" = Option<String>,
            Query,
            max_length = 200,
            description = "Only those whose description or notes contain this text, ignoring case"
        ),
        (
            "min_amount" = Option<String>,
            Query,
            pattern = r"^[0-9]+(\.[0-9]+)?$",
            description = "Only amounts of at least this decimal"
        ),
        (
            "max_amount" = Option<String>,
            Query,
            pattern = r"^[0-9]+(\.[0-9]+)?$",
            description = "Only amounts of at most this decimal"
        ),
    ),
    responses(
        (status = 200, description = "A page of transactions", body = ListPage<TransactionJson>),
        problems::BadQuery,
        problems::Unprocessable,
    )
)]
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

/// Book a transaction.
///
/// Without a `category_id`, the user's categorisation model may assign one.
#[utoipa::path(
    post,
    path = "/transactions",
    tag = "transactions",
    operation_id = "create_transaction",
    security(("bearer" = [])),
    request_body(content = CreateBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The transaction was booked", body = TransactionJson),
        problems::JsonBody,
    )
)]
pub async fn create(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<TransactionJson>), ApiError> {
    let mut errors = FieldErrors::default();
    let amount = errors.money("amount", &body.amount, &body.currency);
    let bank_conversion = bank_conversion(&mut errors, body.rate.as_deref(), body.home_amount.as_deref());
    errors.finish()?;
    let request = pb::CreateTransactionRequest {
        bank_conversion,
        occurred_on: body.occurred_on,
        description: body.description,
        amount,
        r#type: body.kind,
        category_id: body.category_id,
        notes: body.notes,
        account_id: body.account_id,
    };
    let created = state.engine.transactions.clone().create_transaction(request).await?.into_inner();
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// One transaction.
#[utoipa::path(
    get,
    path = "/transactions/{id}",
    tag = "transactions",
    operation_id = "get_transaction",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The transaction's id")),
    responses(
        (status = 200, description = "The transaction", body = TransactionJson),
        problems::NotFound,
    )
)]
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

/// Change a transaction; `null` clears `category_id` or `notes`.
#[utoipa::path(
    patch,
    path = "/transactions/{id}",
    tag = "transactions",
    operation_id = "update_transaction",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The transaction's id")),
    request_body(content = UpdateBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated transaction", body = TransactionJson),
        problems::JsonBody,
        problems::NotFound,
    )
)]
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
    if body.rate.is_some() && body.home_amount.is_some() {
        errors.add("home_amount", "give either rate or home_amount, not both");
    }
    let bank_conversion = bank_conversion(
        &mut errors,
        body.rate.clone().flatten().as_deref(),
        body.home_amount.clone().flatten().as_deref(),
    );
    let clear_bank_conversion = matches!(body.rate, Some(None)) || matches!(body.home_amount, Some(None));
    errors.finish()?;
    let request = pb::UpdateTransactionRequest {
        bank_conversion,
        clear_bank_conversion,
        id,
        occurred_on: body.occurred_on,
        description: body.description,
        amount,
        r#type: body.kind,
        clear_category: matches!(body.category_id, Some(None)),
        category_id: body.category_id.flatten(),
        clear_notes: matches!(body.notes, Some(None)),
        notes: body.notes.flatten(),
        clear_account: matches!(body.account_id, Some(None)),
        account_id: body.account_id.flatten(),
    };
    Ok(Json(state.engine.transactions.clone().update_transaction(request).await?.into_inner().into()))
}

/// Delete a transaction.
#[utoipa::path(
    delete,
    path = "/transactions/{id}",
    tag = "transactions",
    operation_id = "delete_transaction",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The transaction's id")),
    responses(
        (status = 204, description = "The transaction is gone"),
        problems::NotFound,
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.transactions.clone().delete_transaction(pb::DeleteTransactionRequest { id }).await?;
    Ok(StatusCode::NO_CONTENT)
}
