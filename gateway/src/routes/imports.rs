//! Bank files: `POST /transactions/import` and its preview, `/imports` (history and undo).
//!
//! The file is the request body, sent as it is (not a form): CSV, OFX/QFX, QIF, CAMT.053 or
//! MT940. The format comes from the content (the content type is the tie-breaker), so a
//! client that sends `text/plain` or `application/octet-stream` still works. The file's name
//! for the history comes from `?file_name=` or a `Content-Disposition` header.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use budgetsmart_proto::engine::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::QueryMap;
use crate::json::{Amount, CurrencyCode, ListPage, PageParams, TransactionType, amount, timestamp};
use crate::openapi::problems;
use crate::state::AppState;

/// The largest file an import takes: a 50,000-row OFX statement is about 15 MiB.
pub const MAX_FILE_BODY: usize = 32 * 1024 * 1024;

/// Content types a file may be sent as.
const FILE_TYPES: &[&str] = &[
    "text/csv",
    "application/csv",
    "text/plain",
    "application/octet-stream",
    "application/x-ofx",
    "application/ofx",
    "application/vnd.intu.qfx",
    "application/x-qfx",
    "application/qif",
    "application/x-qif",
    "application/xml",
    "text/xml",
    "application/x-mt940",
];

/// `csv`, `ofx` (OFX 1.x, 2.x and QFX), `qif`, `camt053` or `mt940`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum FileFormat {
    Csv,
    Ofx,
    Qif,
    Camt053,
    Mt940,
}

/// `running` (written in the background; see `rows_done`), `done` or `failed`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ImportStatus {
    Running,
    Done,
    Failed,
}

/// A row refused, with why; the others are still imported.
#[derive(Serialize, ToSchema)]
#[schema(as = ImportError)]
pub struct ImportErrorJson {
    /// The file's line (for a CSV, the header is line 1); 0 for the file as a whole.
    line: u32,
    message: String,
}

fn errors(list: Vec<pb::ImportError>) -> Vec<ImportErrorJson> {
    list.into_iter().map(|e| ImportErrorJson { line: e.line, message: e.message }).collect()
}

/// An account the file named, and what became of it.
#[derive(Serialize, ToSchema)]
#[schema(as = ImportAccount)]
pub struct ImportAccountJson {
    /// Null in a preview for an account the import would create.
    #[schema(format = Uuid, required = true)]
    account_id: Option<String>,
    name: String,
    /// The account number's last four characters; null when the file names none.
    #[schema(required = true)]
    number_hint: Option<String>,
    /// Whether the import created the account (in a preview: would create it).
    created: bool,
    /// Rows imported into it (in a preview: that would be).
    rows: u32,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    /// The balances the file states, signed; null where it states none.
    #[schema(value_type = Option<String>, required = true)]
    opening_balance: Option<String>,
    #[schema(value_type = Option<String>, required = true)]
    closing_balance: Option<String>,
}

fn accounts(list: Vec<pb::ImportAccount>) -> Vec<ImportAccountJson> {
    let some = |s: String| Some(s).filter(|s| !s.is_empty());
    list.into_iter()
        .map(|a| ImportAccountJson {
            account_id: some(a.account_id),
            name: a.name,
            number_hint: some(a.number_hint),
            created: a.created,
            rows: a.rows,
            currency: a.currency,
            opening_balance: a.opening_balance.map(|m| amount(&Some(m))),
            closing_balance: a.closing_balance.map(|m| amount(&Some(m))),
        })
        .collect()
}

/// One imported file.
#[derive(Serialize, ToSchema)]
#[schema(as = Import)]
pub struct ImportRecordJson {
    #[schema(format = Uuid)]
    id: String,
    #[schema(example = "statement.ofx")]
    file_name: String,
    #[schema(value_type = FileFormat)]
    format: String,
    /// The CSV profile used; null when the layout was detected or for other formats.
    #[schema(required = true, example = "ynab-register")]
    profile: Option<String>,
    #[schema(value_type = ImportStatus)]
    status: String,
    /// Rows in the file (entries and unreadable rows).
    rows_total: u32,
    /// Rows handled so far: equal to `rows_total` once done.
    rows_done: u32,
    imported: u32,
    duplicates: u32,
    errors: Vec<ImportErrorJson>,
    /// Set when the file's opening balance plus its rows does not come to its closing balance,
    /// or rows were refused: the account is then off the bank's balance.
    #[schema(required = true)]
    balance_warning: Option<String>,
    accounts: Vec<ImportAccountJson>,
    #[schema(format = DateTime, required = true)]
    created_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    finished_at: Option<String>,
    /// When the import was undone (its rows removed); null while it stands.
    #[schema(format = DateTime, required = true)]
    undone_at: Option<String>,
}

impl From<pb::ImportRecord> for ImportRecordJson {
    fn from(r: pb::ImportRecord) -> Self {
        ImportRecordJson {
            id: r.id,
            file_name: r.file_name,
            format: r.format,
            profile: Some(r.profile).filter(|p| !p.is_empty()),
            status: r.status,
            rows_total: r.rows_total,
            rows_done: r.rows_done,
            imported: r.imported,
            duplicates: r.duplicates,
            errors: errors(r.errors),
            balance_warning: r.balance_warning,
            accounts: accounts(r.accounts),
            created_at: timestamp(r.created_at),
            finished_at: timestamp(r.finished_at),
            undone_at: timestamp(r.undone_at),
        }
    }
}

/// What an import did (when it ran while you waited).
#[derive(Serialize, ToSchema)]
#[schema(as = ImportResult)]
pub struct ImportJson {
    /// Rows stored as new transactions.
    imported: u32,
    /// Rows skipped as already stored: the bank's own id for the row where the file has one,
    /// else the same day, amount, currency, direction and description, or the same account,
    /// day and amount from a file of another format.
    duplicates: u32,
    /// Rows refused, with why; the others are still imported.
    errors: Vec<ImportErrorJson>,
    /// The import's record: undo it with `DELETE /imports/{id}`.
    import: Option<ImportRecordJson>,
}

/// A row as it would be stored.
#[derive(Serialize, ToSchema)]
#[schema(as = PreviewRow)]
pub struct PreviewRowJson {
    line: u32,
    #[schema(format = Date)]
    occurred_on: String,
    description: String,
    #[schema(value_type = Amount)]
    amount: String,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    #[serde(rename = "type")]
    #[schema(value_type = TransactionType)]
    kind: String,
    /// The category the file names, if any.
    #[schema(required = true)]
    category: Option<String>,
    /// Already stored: the import would skip it.
    duplicate: bool,
    #[schema(required = true)]
    account_number_hint: Option<String>,
    /// The bank's own id for the row, where the file has one.
    #[schema(required = true)]
    bank_id: Option<String>,
}

/// A CSV's layout, by header name: as detected, or as the profile or mapping gave it.
#[derive(Serialize, ToSchema)]
#[schema(as = CsvMapping)]
pub struct CsvMappingJson {
    delimiter: String,
    /// The header row's line (banks put account details above it).
    header_line: u32,
    date: String,
    /// `ymd`, `dmy` or `mdy`.
    date_order: String,
    description: Vec<String>,
    /// The signed amount column, or the unsigned one beside `indicator`; null with
    /// `debit` and `credit`.
    #[schema(required = true)]
    amount: Option<String>,
    #[schema(required = true)]
    debit: Option<String>,
    #[schema(required = true)]
    credit: Option<String>,
    /// The column saying which way the money went (`Af Bij`, `Soll/Haben`).
    #[schema(required = true)]
    indicator: Option<String>,
    /// `point` or `comma`.
    decimal: String,
    #[schema(required = true)]
    currency: Option<String>,
    #[schema(required = true)]
    category: Option<String>,
    #[schema(required = true)]
    bank_id: Option<String>,
}

/// What an import would do; nothing is written.
#[derive(Serialize, ToSchema)]
#[schema(as = ImportPreview)]
pub struct PreviewJson {
    #[schema(value_type = FileFormat)]
    format: String,
    /// The shipped CSV profile the file matched or was given; null otherwise.
    #[schema(required = true)]
    profile: Option<String>,
    /// How sure the format and layout detection is, in [0, 1]; 1 for OFX, QIF, CAMT and
    /// MT940 files and for a profile or mapping you gave.
    #[schema(minimum = 0, maximum = 1)]
    confidence: f64,
    /// The first 50 rows as they would be stored.
    rows: Vec<PreviewRowJson>,
    duplicates: u32,
    errors: Vec<ImportErrorJson>,
    accounts: Vec<ImportAccountJson>,
    rows_total: u32,
    /// Rows that would be stored: `rows_total` less duplicates and errors.
    would_import: u32,
    #[schema(required = true)]
    mapping: Option<CsvMappingJson>,
    #[schema(required = true)]
    balance_warning: Option<String>,
}

fn some(text: String) -> Option<String> {
    Some(text).filter(|t| !t.is_empty())
}

impl From<pb::PreviewImportResponse> for PreviewJson {
    fn from(p: pb::PreviewImportResponse) -> Self {
        PreviewJson {
            format: p.format,
            profile: some(p.profile),
            confidence: p.confidence,
            rows: p
                .rows
                .into_iter()
                .map(|r| PreviewRowJson {
                    line: r.line,
                    occurred_on: r.occurred_on,
                    description: r.description,
                    currency: r.amount.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default(),
                    amount: amount(&r.amount),
                    kind: r.r#type,
                    category: some(r.category),
                    duplicate: r.duplicate,
                    account_number_hint: some(r.account_number_hint),
                    bank_id: some(r.bank_id),
                })
                .collect(),
            duplicates: p.duplicates,
            errors: errors(p.errors),
            accounts: accounts(p.accounts),
            rows_total: p.rows_total,
            would_import: p.would_import,
            mapping: p.mapping.map(|m| CsvMappingJson {
                delimiter: m.delimiter,
                header_line: m.header_line,
                date: m.date,
                date_order: m.date_order,
                description: m.description,
                amount: some(m.amount),
                debit: some(m.debit),
                credit: some(m.credit),
                indicator: some(m.indicator),
                decimal: m.decimal,
                currency: some(m.currency),
                category: some(m.category),
                bank_id: some(m.bank_id),
            }),
            balance_warning: p.balance_warning,
        }
    }
}

/// The file's name from `Content-Disposition: attachment; filename="…"`.
fn disposition_name(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("content-disposition")?.to_str().ok()?;
    let start = value.find("filename=")? + "filename=".len();
    let name = value[start..].split(';').next()?.trim().trim_matches('"');
    some(name.to_owned())
}

/// The request to the engine: the body, its content type, and the query's options.
fn file_request(
    headers: &HeaderMap,
    query: &QueryMap,
    body: Bytes,
) -> Result<pb::ImportTransactionsRequest, ApiError> {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !FILE_TYPES.contains(&essence.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("send the file as one of: {}", FILE_TYPES.join(", ")),
        ));
    }
    let list = |name: &str| -> Vec<String> {
        query
            .get(name)
            .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    };
    let mapping = pb::ColumnMapping {
        date: query.get("date_column").unwrap_or_default(),
        description: list("description_column"),
        amount: query.get("amount_column").unwrap_or_default(),
        debit: query.get("debit_column").unwrap_or_default(),
        credit: query.get("credit_column").unwrap_or_default(),
        currency: query.get("currency_column").unwrap_or_default(),
        category: query.get("category_column").unwrap_or_default(),
        date_order: query.get("date_order").unwrap_or_default(),
        decimal: query.get("decimal").unwrap_or_default(),
    };
    Ok(pb::ImportTransactionsRequest {
        file: body.to_vec(),
        content_type: essence,
        profile: query.get("profile").unwrap_or_default(),
        mapping: Some(mapping),
        account_id: query.get("account_id"),
        file_name: query.get("file_name").or_else(|| disposition_name(headers)).unwrap_or_default(),
    })
}

/// Import a bank file or CSV.
///
/// Takes OFX/QFX (1.x and 2.x), QIF, CAMT.053 (001.02 to 001.08), MT940, and CSVs: ours
/// (`date,description,amount,currency[,category]`), the shipped profiles (YNAB, Firefly III,
/// Actual and banks' exports), or any layout whose columns can be detected or are named with
/// `*_column`. A file that cannot be read is refused whole (422 naming the line); a bad row
/// is reported by line and the rest imported. Accounts the file names are linked by number,
/// or created. Past 2,000 rows the import is accepted (202) and written in the background;
/// follow it at `GET /imports/{id}`.
#[utoipa::path(
    post,
    path = "/transactions/import",
    tag = "imports",
    operation_id = "import_transactions",
    security(("bearer" = [])),
    params(FileParams),
    request_body(
        description = "The file as it is, at most 32 MiB",
        content(
            (String = "text/csv", example = "date,description,amount,currency\n2026-03-01,Rent,-1200.00,USD"),
            (String = "application/x-ofx"),
            (String = "application/vnd.intu.qfx"),
            (String = "application/x-qif"),
            (String = "application/xml"),
            (String = "text/plain"),
        )
    ),
    responses(
        (status = 200, description = "What was imported", body = ImportJson),
        (status = 202, description = "Accepted: written in the background", body = ImportRecordJson),
        problems::BadQuery,
        problems::NotFound,
        problems::RawPayloadTooLarge,
        problems::UnsupportedMediaType,
        problems::Unprocessable,
    )
)]
pub async fn import(
    State(state): State<AppState>,
    _user: AuthUser,
    headers: HeaderMap,
    query: QueryMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = file_request(&headers, &query, body)?;
    let result = state.engine.transactions.clone().import_transactions(request).await?.into_inner();
    let record = result.import.map(ImportRecordJson::from);
    if record.as_ref().is_some_and(|r| r.status == "running") {
        return Ok((StatusCode::ACCEPTED, Json(record)).into_response());
    }
    Ok(Json(ImportJson {
        imported: result.imported,
        duplicates: result.duplicates,
        errors: errors(result.errors),
        import: record,
    })
    .into_response())
}

/// What importing a file would do, writing nothing.
#[utoipa::path(
    post,
    path = "/transactions/import/preview",
    tag = "imports",
    operation_id = "preview_import",
    security(("bearer" = [])),
    params(FileParams),
    request_body(
        description = "The file as it is, at most 32 MiB",
        content(
            (String = "text/csv", example = "date,description,amount,currency\n2026-03-01,Rent,-1200.00,USD"),
            (String = "application/x-ofx"),
            (String = "application/vnd.intu.qfx"),
            (String = "application/x-qif"),
            (String = "application/xml"),
            (String = "text/plain"),
        )
    ),
    responses(
        (status = 200, description = "What the import would do", body = PreviewJson),
        problems::BadQuery,
        problems::NotFound,
        problems::RawPayloadTooLarge,
        problems::UnsupportedMediaType,
        problems::Unprocessable,
    )
)]
pub async fn preview(
    State(state): State<AppState>,
    _user: AuthUser,
    headers: HeaderMap,
    query: QueryMap,
    body: Bytes,
) -> Result<Json<PreviewJson>, ApiError> {
    let request = file_request(&headers, &query, body)?;
    Ok(Json(state.engine.imports.clone().preview_import(request).await?.into_inner().into()))
}

/// How to read a file; all optional. Only documents the parameters: the handler reads them
/// from the query map, which also refuses blank ones.
#[derive(utoipa::IntoParams)]
#[allow(dead_code)]
#[into_params(parameter_in = Query)]
pub struct FileParams {
    /// A shipped CSV profile instead of detection: `budgetsmart`, `ynab-register`,
    /// `firefly-iii`, `actual`, and banks' exports (see docs/imports.md).
    profile: Option<String>,
    /// Put every row in this account of yours (a file of one account, or a CSV).
    #[param(format = Uuid)]
    account_id: Option<String>,
    /// The name the import is listed under.
    file_name: Option<String>,
    /// CSV: the header of the column holding the day.
    date_column: Option<String>,
    /// CSV: the header(s) of the description, comma-separated.
    description_column: Option<String>,
    /// CSV: the signed amount's header.
    amount_column: Option<String>,
    /// CSV: money out's header (with `credit_column`).
    debit_column: Option<String>,
    /// CSV: money in's header (with `debit_column`).
    credit_column: Option<String>,
    currency_column: Option<String>,
    category_column: Option<String>,
    /// CSV: `ymd`, `dmy` or `mdy`.
    date_order: Option<String>,
    /// CSV: `point` or `comma`.
    decimal: Option<String>,
}

/// Past imports, newest first.
#[utoipa::path(
    get,
    path = "/imports",
    tag = "imports",
    operation_id = "list_imports",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of imports", body = ListPage<ImportRecordJson>),
        problems::BadQuery,
        problems::Unprocessable,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    query: QueryMap,
) -> Result<Json<ListPage<ImportRecordJson>>, ApiError> {
    let listed = state
        .engine
        .imports
        .clone()
        .list_imports(pb::ListImportsRequest { page: Some(query.page()?) })
        .await?
        .into_inner();
    Ok(Json(ListPage::new(listed.imports.into_iter().map(Into::into).collect(), listed.next_cursor)))
}

/// One import; while it runs, `rows_done` of `rows_total` shows its progress.
#[utoipa::path(
    get,
    path = "/imports/{id}",
    tag = "imports",
    operation_id = "get_import",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The import's id")),
    responses((status = 200, description = "The import", body = ImportRecordJson), problems::NotFound)
)]
pub async fn get(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<ImportRecordJson>, ApiError> {
    Ok(Json(state.engine.imports.clone().get_import(pb::GetImportRequest { id }).await?.into_inner().into()))
}

/// Undo an import: its transactions are removed and budgets re-evaluated. Undoing it again
/// changes nothing. Accounts it created stay.
#[utoipa::path(
    delete,
    path = "/imports/{id}",
    tag = "imports",
    operation_id = "undo_import",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The import's id")),
    responses(
        (status = 204, description = "The import's transactions are gone"),
        problems::Conflict,
        problems::NotFound,
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.imports.clone().delete_import(pb::DeleteImportRequest { id }).await?;
    Ok(StatusCode::NO_CONTENT)
}
