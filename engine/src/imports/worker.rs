//! Background imports: a file past `SYNC_ROWS` rows is accepted (202) and written here, one
//! batch per transaction, each recording `rows_done` with its rows. A run that stops (a
//! restart, a database outage) is picked up by the next sweep and skips exactly the rows
//! written; a session advisory lock keeps two engines off one import. An import that fails
//! `MAX_ATTEMPTS` times is given up: its rows are removed and it is marked failed.

use std::sync::Arc;
use std::time::Duration;

use budgetsmart_common::events::EventContext;
use tokio_util::sync::CancellationToken;
use tonic::metadata::MetadataMap;
use uuid::Uuid;

use crate::categories::store as categories;
use crate::error::AppResult;
use crate::imports::balance::{self, Figures};
use crate::imports::link;
use crate::imports::options::FileOptions;
use crate::imports::reading::{self, Scan};
use crate::imports::store::{self as imports, Progress, RowProblem};
use crate::imports::undo;
use crate::imports::writer::{Start, Writer};
use crate::rates::store as rates;
use crate::state::AppState;
use crate::transactions::store::NewTransaction;

/// Items written per transaction.
pub const BATCH: usize = 1_000;
/// How often stopped imports are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
const MAX_ATTEMPTS: i32 = 5;

/// Writes import `import_id` in the background. `auth` lets the rows be auto-categorised as
/// the caller (a resumed run has none, and leaves them to the categorisation the user asks).
pub fn spawn(state: AppState, user_id: Uuid, import_id: Uuid, ctx: EventContext, auth: MetadataMap) {
    tokio::spawn(async move {
        if let Err(error) = run(&state, user_id, import_id, &ctx, &auth).await {
            tracing::warn!(%import_id, error = %format!("{error:#}"), "background import stopped; the sweep resumes it");
        }
    });
}

/// Resumes stopped imports every [`SWEEP_EVERY`] until `shutdown`.
pub async fn sweep(state: AppState, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(SWEEP_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        if shutdown.is_cancelled() {
            return;
        }
        let running: Result<Vec<(Uuid, Uuid)>, sqlx::Error> = sqlx::query_as(
            "SELECT id, user_id FROM imports WHERE status = 'running' ORDER BY created_at LIMIT 20",
        )
        .fetch_all(&state.pool)
        .await;
        match running {
            Ok(running) => {
                for (import_id, user_id) in running {
                    let ctx = EventContext {
                        user_id: Some(user_id),
                        correlation_id: None,
                        traceparent: None,
                        tracestate: None,
                    };
                    spawn(state.clone(), user_id, import_id, ctx, MetadataMap::new());
                }
            }
            Err(error) => tracing::warn!(%error, "cannot look for stopped imports"),
        }
    }
}

fn lock_key(import_id: Uuid) -> String {
    format!("import:{import_id}")
}

async fn run(
    state: &AppState,
    user_id: Uuid,
    import_id: Uuid,
    ctx: &EventContext,
    auth: &MetadataMap,
) -> AppResult<()> {
    let mut lock = state.pool.acquire().await?;
    let mine: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
        .bind(lock_key(import_id))
        .fetch_one(&mut *lock)
        .await?;
    if !mine {
        return Ok(());
    }
    let result = process(state, user_id, import_id, ctx, auth).await;
    let _ = sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
        .bind(lock_key(import_id))
        .execute(&mut *lock)
        .await;
    result
}

#[derive(sqlx::FromRow)]
struct Pending {
    status: String,
    format: String,
    content: Option<Vec<u8>>,
    options: sqlx::types::Json<FileOptions>,
    rows_done: i32,
    imported: i32,
    duplicates: i32,
    errors: sqlx::types::Json<Vec<RowProblem>>,
    attempts: i32,
}

async fn process(
    state: &AppState,
    user_id: Uuid,
    import_id: Uuid,
    ctx: &EventContext,
    auth: &MetadataMap,
) -> AppResult<()> {
    let pending: Option<Pending> = sqlx::query_as(
        "UPDATE imports SET attempts = attempts + 1 WHERE id = $1 AND user_id = $2 AND status = 'running' \
         RETURNING status, format, content, options, rows_done, imported, duplicates, errors, attempts",
    )
    .bind(import_id)
    .bind(user_id)
    .fetch_optional(&state.pool)
    .await?;
    let Some(pending) = pending else { return Ok(()) };
    let Some(content) = pending.content.filter(|_| pending.status == "running") else { return Ok(()) };
    if pending.attempts > MAX_ATTEMPTS {
        return give_up(state, ctx, user_id, import_id, "the import failed repeatedly and was stopped").await;
    }
    let options = Arc::new(pending.options.0);
    let file: Arc<[u8]> = content.into();
    let scan = reading::scan(file.clone(), options.clone(), 0).await?;
    let format = scan.statement.format.as_str();
    let mut conn = state.pool.acquire().await?;
    let home = rates::home_currency(&mut conn, user_id).await?;
    let linked = link::plan(&mut conn, user_id, &scan.statement.accounts, options.account_id, home).await?;
    let names = categories::ids_by_name(&mut conn, user_id).await?;
    drop(conn);
    debug_assert_eq!(format, pending.format);
    let mut writer = Writer::new(Start {
        user_id,
        import_id,
        format,
        linked,
        home,
        categories: names,
        strict_categories: scan.statement.csv.as_ref().is_some_and(|c| c.profile == Some("budgetsmart")),
        dry_run: false,
    });
    let errors = pending.errors.0;
    writer.resume(Progress {
        rows_done: u32::try_from(pending.rows_done).unwrap_or(0),
        imported: u32::try_from(pending.imported).unwrap_or(0),
        duplicates: u32::try_from(pending.duplicates).unwrap_or(0),
        errors: &errors,
    });
    let mut items = reading::stream(file, options, writer.done);
    loop {
        if state.stopping.is_cancelled() {
            tracing::info!(%import_id, rows_done = writer.done, "engine stopping; the next sweep resumes the import");
            return Ok(());
        }
        let mut batch = Vec::with_capacity(BATCH);
        if items.recv_many(&mut batch, BATCH).await == 0 {
            break;
        }
        let mut rows = writer.prepare(batch);
        let mut open: Vec<&mut NewTransaction> =
            rows.iter_mut().filter(|r| r.new.category_id.is_none()).map(|r| &mut r.new).collect();
        if !auth.is_empty() {
            state.categorizer.fill_fresh(&state.pool, user_id, auth, &mut open).await;
        }
        let mut tx = state.pool.begin().await?;
        lock_user(&mut tx, user_id).await?;
        link::realize(&mut tx, user_id, &mut writer.linked).await?;
        writer.write(&mut tx, ctx, rows).await?;
        imports::record_progress(&mut tx, import_id, &writer.progress()).await?;
        state.commit(tx).await?;
    }
    writer.sorted_errors();
    let summaries = summaries(&writer, &scan);
    let warning = warning(&writer, &scan);
    let mut tx = state.pool.begin().await?;
    imports::finish(&mut tx, import_id, &writer.progress(), &summaries, warning.as_deref()).await?;
    state.commit(tx).await?;
    tracing::info!(%import_id, imported = writer.imported, duplicates = writer.duplicates, "background import finished");
    Ok(())
}

async fn give_up(
    state: &AppState,
    ctx: &EventContext,
    user_id: Uuid,
    import_id: Uuid,
    why: &str,
) -> AppResult<()> {
    let mut tx = state.pool.begin().await?;
    lock_user(&mut tx, user_id).await?;
    undo::remove_rows(&mut tx, ctx, user_id, import_id).await?;
    imports::fail(&mut tx, import_id, why).await?;
    state.commit(tx).await
}

/// The per-user lock every import batch and undo takes: two imports of the same file at
/// once must not both miss each other's rows.
pub async fn lock_user(conn: &mut sqlx::PgConnection, user_id: Uuid) -> AppResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
        .bind(user_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// What became of each account of the file.
pub fn summaries(writer: &Writer, scan: &Scan) -> Vec<imports::AccountSummary> {
    let unnamed = budgetsmart_bankfiles::StatementAccount::default();
    writer
        .linked
        .iter()
        .enumerate()
        .map(|(i, linked)| {
            let statement = scan.statement.accounts.get(i).unwrap_or(&unnamed);
            linked.summary(writer.rows_per_account.get(i).copied().unwrap_or(0), statement)
        })
        .filter(|s| s.account_id.is_some() || s.created)
        .collect()
}

/// The closing-balance warning, if the file's balances do not add up.
pub fn warning(writer: &Writer, scan: &Scan) -> Option<String> {
    let figures: Vec<Figures<'_>> = scan
        .statement
        .accounts
        .iter()
        .enumerate()
        .filter_map(|(i, statement)| {
            Some(Figures {
                statement,
                currency: writer.linked.get(i).or(writer.linked.first())?.currency,
                entries: scan.entries.get(i).copied().unwrap_or(0),
                sum: scan.sums.get(i).copied().unwrap_or_default(),
                refused: writer.refused.get(i).copied().unwrap_or_default(),
            })
        })
        .collect();
    balance::warning(&figures)
}
