//! `POST /transactions/import` (through `Transactions.ImportTransactions`) and the Imports
//! gRPC service: preview, history, undo.
//!
//! An import reads the file whole first, writing nothing: a broken file is refused with the
//! line where it broke. A file of at most [`SYNC_ROWS`] rows is then written in one
//! transaction and answered with what it did; a larger one is kept with its import record,
//! answered at once (HTTP 202), and written in the background (`worker`).

use std::sync::Arc;

use budgetsmart_bankfiles::{AmountColumns, CsvDetection, DateOrder, DecimalMark, Format};
use budgetsmart_common::grpc::{caller, event_context};
use budgetsmart_common::pagination::{self, Page};
use budgetsmart_proto::engine::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::categories::store::{self as categories, path_id};
use crate::error::{AppError, AppResult};
use crate::idempotency::{Claim, Scope};
use crate::imports::link;
use crate::imports::options::FileOptions;
use crate::imports::reading::{self, Scan};
use crate::imports::store::{self as imports, COLUMNS, ImportRow, NewImport};
use crate::imports::undo;
use crate::imports::worker::{self, BATCH, lock_user, summaries, warning};
use crate::imports::writer::{Start, Writer};
use crate::rates::store as rates;
use crate::state::AppState;
use crate::transactions::store::NewTransaction;

/// Rows (entries and unreadable rows) written while the caller waits; past this, 202.
pub const SYNC_ROWS: usize = 2_000;

/// The name a file without one is listed under.
fn default_name(format: Format) -> &'static str {
    match format {
        Format::Csv => "statement.csv",
        Format::Ofx => "statement.ofx",
        Format::Qif => "statement.qif",
        Format::Camt053 => "statement.xml",
        Format::Mt940 => "statement.sta",
    }
}

/// What an import and a preview both start from.
struct Prepared {
    options: Arc<FileOptions>,
    file: Arc<[u8]>,
    scan: Scan,
    writer: Writer,
}

async fn prepare(
    state: &AppState,
    user_id: Uuid,
    request: &pb::ImportTransactionsRequest,
    keep: usize,
    dry_run: bool,
) -> AppResult<Prepared> {
    let options = Arc::new(FileOptions::from_proto(request)?);
    if request.file.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::field("file", "is empty"));
    }
    let file: Arc<[u8]> = request.file.clone().into();
    let scan = reading::scan(file.clone(), options.clone(), keep).await?;
    let mut conn = state.pool.acquire().await?;
    let home = rates::home_currency(&mut conn, user_id).await?;
    let linked = link::plan(&mut conn, user_id, &scan.statement.accounts, options.account_id, home).await?;
    let names = categories::ids_by_name(&mut conn, user_id).await?;
    let writer = Writer::new(Start {
        user_id,
        import_id: Uuid::now_v7(),
        format: scan.statement.format.as_str(),
        linked,
        home,
        categories: names,
        strict_categories: scan.statement.csv.as_ref().is_some_and(|c| c.profile == Some("budgetsmart")),
        dry_run,
    });
    Ok(Prepared { options, file, scan, writer })
}

/// `Transactions.ImportTransactions`.
pub async fn import(
    state: &AppState,
    request: Request<pb::ImportTransactionsRequest>,
) -> Result<Response<pb::ImportTransactionsResponse>, Status> {
    let user_id = caller(&request)?.user_id;
    let ctx = event_context(&request, Some(user_id));
    let idempotent = state.idempotent_request(&request, Scope::User(user_id), "ImportTransactions")?;
    let auth = request.metadata().clone();
    let body = request.into_inner();
    let Prepared { options, file, scan, mut writer } =
        prepare(state, user_id, &body, SYNC_ROWS, false).await?;
    let format = scan.statement.format;
    let file_name =
        if options.file_name.is_empty() { default_name(format) } else { options.file_name.as_str() };
    let profile = scan.statement.csv.as_ref().and_then(|c| c.profile);

    // Rows the caller waits for are categorised before the transaction opens: the remote
    // call holds no connection and no lock.
    let mut rows = match scan.kept.clone() {
        Some(items) => {
            let mut rows = writer.prepare(items);
            let mut open: Vec<&mut NewTransaction> =
                rows.iter_mut().filter(|r| r.new.category_id.is_none()).map(|r| &mut r.new).collect();
            state.categorizer.fill_fresh(&state.pool, user_id, &auth, &mut open).await;
            Some(rows)
        }
        None => None,
    };

    let mut write = match state.idempotent_write(idempotent.as_ref()).await? {
        Claim::Replay(answer) => return Ok(Response::new(answer)),
        Claim::Write(write) => write,
    };
    let tx = write.tx();
    lock_user(tx, user_id).await?;
    link::realize(tx, user_id, &mut writer.linked).await?;
    let background = rows.is_none();
    let new = NewImport {
        id: writer.import_id,
        file_name,
        format: format.as_str(),
        profile,
        rows_total: scan.items,
        accounts: &summaries(&writer, &scan),
        options: serde_json::to_value(options.as_ref()).map_err(|e| AppError::Internal(e.into()))?,
        content: background.then_some(&file[..]),
    };
    let record = imports::insert(tx, user_id, &new).await?;
    let record = match rows.take() {
        Some(rows) => {
            writer.write(tx, &ctx, rows).await?;
            writer.sorted_errors();
            let accounts = summaries(&writer, &scan);
            let warning = warning(&writer, &scan);
            imports::finish(tx, writer.import_id, &writer.progress(), &accounts, warning.as_deref()).await?
        }
        None => record,
    };
    let answer = pb::ImportTransactionsResponse {
        imported: writer.imported,
        duplicates: writer.duplicates,
        errors: writer.errors.iter().cloned().map(Into::into).collect(),
        import: Some(record.into()),
    };
    write.commit(&answer).await?;
    if background {
        worker::spawn(state.clone(), user_id, writer.import_id, ctx, auth);
    }
    tracing::info!(imported = answer.imported, duplicates = answer.duplicates, background, "import accepted");
    Ok(Response::new(answer))
}

/// Implements `budgetsmart.engine.v1.Imports`.
pub struct ImportsService {
    state: AppState,
}

impl ImportsService {
    pub fn new(state: AppState) -> Self {
        ImportsService { state }
    }
}

#[tonic::async_trait]
impl pb::imports_server::Imports for ImportsService {
    #[tracing::instrument(skip_all)]
    async fn preview_import(
        &self,
        request: Request<pb::ImportTransactionsRequest>,
    ) -> Result<Response<pb::PreviewImportResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let ctx = event_context(&request, Some(user_id));
        let body = request.into_inner();
        let Prepared { options, file, scan, mut writer } =
            prepare(&self.state, user_id, &body, 0, true).await?;
        let mut items = reading::stream(file, options, 0);
        let mut conn = self.state.pool.acquire().await.map_err(AppError::from)?;
        loop {
            let mut batch = Vec::with_capacity(BATCH);
            if items.recv_many(&mut batch, BATCH).await == 0 {
                break;
            }
            let rows = writer.prepare(batch);
            writer.write(&mut conn, &ctx, rows).await?;
        }
        writer.sorted_errors();
        let csv = scan.statement.csv.as_ref();
        Ok(Response::new(pb::PreviewImportResponse {
            format: scan.statement.format.as_str().to_owned(),
            profile: csv.and_then(|c| c.profile).unwrap_or_default().to_owned(),
            confidence: csv.map(|c| c.confidence).unwrap_or(1.0),
            rows: std::mem::take(&mut writer.preview),
            duplicates: writer.duplicates,
            errors: writer.errors.iter().cloned().map(Into::into).collect(),
            accounts: summaries(&writer, &scan).iter().map(Into::into).collect(),
            rows_total: scan.items,
            would_import: writer.imported,
            mapping: csv.map(mapping),
            balance_warning: warning(&writer, &scan),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_imports(
        &self,
        request: Request<pb::ListImportsRequest>,
    ) -> Result<Response<pb::ListImportsResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let page = Page::from_request(request.get_ref().page.as_ref()).map_err(AppError::from)?;
        let after = match page.after.as_deref() {
            Some([id]) => Some(
                Uuid::parse_str(id)
                    .map_err(|_| AppError::field("cursor", "is not a cursor this API returned"))?,
            ),
            Some(_) => return Err(AppError::field("cursor", "is not a cursor this API returned").into()),
            None => None,
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM imports WHERE user_id = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
        );
        let rows: Vec<ImportRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(after)
            .bind(page.limit + 1)
            .fetch_all(&self.state.pool)
            .await
            .map_err(AppError::from)?;
        let (rows, next_cursor) = pagination::finish(rows, page.limit, |r| vec![r.id.to_string()]);
        Ok(Response::new(pb::ListImportsResponse {
            imports: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_import(
        &self,
        request: Request<pb::GetImportRequest>,
    ) -> Result<Response<pb::ImportRecord>, Status> {
        let user_id = caller(&request)?.user_id;
        let id = path_id(&request.get_ref().id, "import")?;
        let mut conn = self.state.pool.acquire().await.map_err(AppError::from)?;
        Ok(Response::new(imports::find(&mut conn, user_id, id).await?.into()))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_import(
        &self,
        request: Request<pb::DeleteImportRequest>,
    ) -> Result<Response<pb::ImportRecord>, Status> {
        let user_id = caller(&request)?.user_id;
        let ctx = event_context(&request, Some(user_id));
        let id = path_id(&request.get_ref().id, "import")?;
        let mut tx = self.state.pool.begin().await.map_err(AppError::from)?;
        let record = undo::undo(&mut tx, &ctx, user_id, id).await?;
        self.state.commit(tx).await?;
        Ok(Response::new(record.into()))
    }
}

/// A CSV's layout by header name, as the preview shows it.
fn mapping(detection: &CsvDetection) -> pb::CsvMapping {
    let layout = &detection.layout;
    let name = |i: usize| layout.headers.get(i).cloned().unwrap_or_else(|| format!("column {}", i + 1));
    let (amount, debit, credit, indicator) = match &layout.amount {
        AmountColumns::Signed(i) => (name(*i), String::new(), String::new(), String::new()),
        AmountColumns::DebitCredit { debit, credit } => {
            (String::new(), name(*debit), name(*credit), String::new())
        }
        AmountColumns::Indicator { amount, indicator, .. } => {
            (name(*amount), String::new(), String::new(), name(*indicator))
        }
    };
    pb::CsvMapping {
        delimiter: char::from(layout.delimiter).to_string(),
        header_line: layout.header_line,
        date: name(layout.date),
        date_order: match layout.date_order {
            DateOrder::Ymd => "ymd",
            DateOrder::Dmy => "dmy",
            DateOrder::Mdy => "mdy",
        }
        .to_owned(),
        description: layout.description.iter().map(|&i| name(i)).collect(),
        amount,
        debit,
        credit,
        indicator,
        decimal: match layout.decimal {
            DecimalMark::Point => "point",
            DecimalMark::Comma => "comma",
        }
        .to_owned(),
        currency: layout.currency.map(name).unwrap_or_default(),
        category: layout.category.map(name).unwrap_or_default(),
        bank_id: layout.bank_id.map(name).unwrap_or_default(),
    }
}
