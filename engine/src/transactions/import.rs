//! CSV import: `date,description,amount,currency[,category]`, negative amounts are debits.
//!
//! Rows that fail validation are reported by line and skipped; the rest are imported in one
//! transaction. A row is a duplicate when the user already has a transaction with the same
//! fingerprint (day, amount, currency, direction, description). Counting is per fingerprint,
//! so a file with two identical coffees on one day, imported where one is already stored,
//! adds exactly one.

use std::collections::HashMap;

use budgetsmart_common::events::EventContext;
use budgetsmart_common::money;
use budgetsmart_proto::engine::v1 as pb;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::budgets::thresholds;
use crate::categories::store as categories;
use crate::error::{AppError, AppResult};
use crate::idempotency::{Claim, IdempotentRequest};
use crate::rates::store as rates;
use crate::state::AppState;
use crate::transactions::store::{self as transactions, CategorySource, NewTransaction};
use crate::validation::{MAX_DESCRIPTION, Violations};

/// Most data rows in one file.
pub const MAX_ROWS: usize = 10_000;

struct ParsedRow {
    line: u32,
    transaction: NewTransaction,
    category: Option<String>,
}

struct Columns {
    date: usize,
    description: usize,
    amount: usize,
    currency: usize,
    category: Option<usize>,
}

fn columns(headers: &csv::StringRecord) -> AppResult<Columns> {
    let find = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let mut missing = Vec::new();
    let mut need = |name: &'static str| {
        let index = find(name);
        if index.is_none() {
            missing.push(name);
        }
        index.unwrap_or(0)
    };
    let columns = Columns {
        date: need("date"),
        description: need("description"),
        amount: need("amount"),
        currency: need("currency"),
        category: find("category"),
    };
    if missing.is_empty() {
        Ok(columns)
    } else {
        Err(AppError::field(
            "csv",
            format!(
                "the header must name date,description,amount,currency[,category]; missing {}",
                missing.join(", ")
            ),
        ))
    }
}

fn parse_row(
    record: &csv::StringRecord,
    columns: &Columns,
) -> Result<(NewTransaction, Option<String>), String> {
    let field = |i: usize| record.get(i).unwrap_or("").trim();
    let mut violations = Violations::default();
    let occurred_on = violations.date("date", field(columns.date));
    let description = violations.text("description", field(columns.description), MAX_DESCRIPTION);
    let currency = violations.currency("currency", field(columns.currency));
    let signed = match money::parse_decimal(field(columns.amount)) {
        Ok(amount) if !amount.is_zero() => Some(amount),
        Ok(_) => {
            violations.add("amount", "must not be zero");
            None
        }
        Err(error) => {
            violations.add("amount", error.to_string());
            None
        }
    };
    let amount = match (signed, currency) {
        (Some(signed), Some(currency)) => match money::validate_positive(signed.abs(), currency) {
            Ok(amount) => Some(amount),
            Err(error) => {
                violations.add("amount", error.to_string());
                None
            }
        },
        _ => None,
    };
    let category = columns.category.map(field).filter(|c| !c.is_empty()).map(str::to_owned);
    if let Err(AppError::Validation(fields)) = violations.finish() {
        let message = fields.iter().map(|(f, m)| format!("{f} {m}")).collect::<Vec<_>>().join("; ");
        return Err(message);
    }
    match (occurred_on, amount, currency, signed) {
        (Some(occurred_on), Some(amount), Some(currency), Some(signed)) => Ok((
            NewTransaction {
                occurred_on,
                description,
                amount,
                currency,
                kind: if signed < Decimal::ZERO { "debit" } else { "credit" }.to_owned(),
                category_id: None,
                category_source: None,
                notes: None,
                source: "import",
                bank: None,
            },
            category,
        )),
        _ => Err("the row is incomplete".to_owned()),
    }
}

/// Imports `csv` for `user_id`; with an Idempotency-Key, a repeated import answers the first
/// one's report instead of counting every row as a duplicate.
#[tracing::instrument(skip_all, fields(bytes = csv.len()))]
pub async fn run(
    state: &AppState,
    ctx: &EventContext,
    auth: &tonic::metadata::MetadataMap,
    user_id: Uuid,
    csv: &[u8],
    idempotent: Option<&IdempotentRequest>,
) -> AppResult<pb::ImportTransactionsResponse> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(csv);
    let headers =
        reader.headers().map_err(|e| AppError::field("csv", format!("cannot read the header: {e}")))?.clone();
    let columns = columns(&headers)?;

    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map(|p| p.line() as u32).unwrap_or(0);
                errors.push(pb::ImportError { line, message: error.to_string() });
                continue;
            }
        };
        let line = record.position().map(|p| p.line() as u32).unwrap_or(0);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if rows.len() + errors.len() >= MAX_ROWS {
            return Err(AppError::field("csv", format!("a file may have at most {MAX_ROWS} rows")));
        }
        match parse_row(&record, &columns) {
            Ok((transaction, category)) => rows.push(ParsedRow { line, transaction, category }),
            Err(message) => errors.push(pb::ImportError { line, message }),
        }
    }

    // Rows the file left uncategorised get analytics' suggestion when it is confident; asked
    // before the transaction opens, so the remote calls hold no connection and no lock.
    let mut open: Vec<&mut NewTransaction> =
        rows.iter_mut().filter(|r| r.category.is_none()).map(|r| &mut r.transaction).collect();
    state.categorizer.fill(&state.pool, user_id, auth, &mut open).await;

    // The key is claimed first, before the import lock: a call waiting on a concurrent
    // holder of the key must hold no other lock.
    let mut write = match state.idempotent_write(idempotent).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::Write(write) => write,
    };
    let tx = write.tx();
    // Two imports of the same file at once must not both miss each other's rows.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
        .bind(user_id.to_string())
        .execute(&mut **tx)
        .await?;
    let by_name = categories::ids_by_name(tx, user_id).await?;
    let mut valid = Vec::with_capacity(rows.len());
    for mut row in rows {
        if let Some(name) = &row.category {
            match by_name.get(&name.to_lowercase()) {
                Some(id) => {
                    row.transaction.category_id = Some(*id);
                    row.transaction.category_source = Some(CategorySource::Import);
                }
                None => {
                    errors.push(pb::ImportError {
                        line: row.line,
                        message: format!("unknown category {name:?}"),
                    });
                    continue;
                }
            }
        }
        valid.push(row);
    }

    let prints: Vec<Vec<u8>> = valid
        .iter()
        .map(|r| {
            let t = &r.transaction;
            transactions::fingerprint(t.occurred_on, t.amount, t.currency.code(), &t.kind, &t.description)
        })
        .collect();
    let stored: Vec<(Vec<u8>, i64)> = sqlx::query_as(
        "SELECT fingerprint, count(*) FROM transactions WHERE user_id = $1 AND fingerprint = ANY($2) GROUP BY fingerprint",
    )
    .bind(user_id)
    .bind(&prints)
    .fetch_all(&mut **tx)
    .await?;
    let mut already: HashMap<Vec<u8>, i64> = stored.into_iter().collect();

    let home = rates::home_currency(tx, user_id).await?;
    let mut quotes = rates::Quotes::default();
    let mut imported = 0u32;
    let mut duplicates = 0u32;
    let mut touched = Vec::new();
    for (row, print) in valid.iter().zip(prints) {
        if let Some(count) = already.get_mut(&print)
            && *count > 0
        {
            *count -= 1;
            duplicates += 1;
            continue;
        }
        let t = &row.transaction;
        let conversion = match quotes.express(tx, t.amount, t.currency, t.occurred_on, home).await {
            Ok(conversion) => conversion,
            Err(AppError::Validation(_)) => {
                errors.push(pb::ImportError {
                    line: row.line,
                    message: "amount is too large once converted to your home currency".to_owned(),
                });
                continue;
            }
            Err(other) => return Err(other),
        };
        let stored = transactions::insert(tx, ctx, user_id, t, &conversion).await?;
        touched.extend(stored.spending_keys());
        imported += 1;
    }
    thresholds::after_change(tx, ctx, user_id, touched, None).await?;
    errors.sort_by_key(|e| e.line);
    let answer = pb::ImportTransactionsResponse { imported, duplicates, errors };
    write.commit(&answer).await?;
    tracing::info!(imported, duplicates, errors = answer.errors.len(), "import finished");
    Ok(answer)
}
