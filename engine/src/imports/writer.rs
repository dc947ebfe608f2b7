//! Writing a file's rows, batch by batch: the category the file names, duplicates skipped,
//! each amount expressed in the home currency, then the row and its event. A preview runs
//! the same code with `dry_run`, so it answers what the import will do.

use std::collections::{BTreeSet, HashMap};

use budgetsmart_bankfiles::Item;
use budgetsmart_common::currency::Currency;
use budgetsmart_common::events::EventContext;
use budgetsmart_proto::engine::v1 as pb;
use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::accounts::store::number_hint;
use crate::budgets::thresholds;
use crate::convert;
use crate::error::{AppError, AppResult};
use crate::imports::dedup::Dedup;
use crate::imports::link::Linked;
use crate::imports::rows::{self, Row};
use crate::imports::store::{Progress, RowProblem};
use crate::rates::store as rates;
use crate::transactions::store::{self as transactions, CategorySource};

/// Rows a preview shows.
pub const PREVIEW_ROWS: usize = 50;

/// One import's running state.
pub struct Writer {
    pub user_id: Uuid,
    pub import_id: Uuid,
    pub linked: Vec<Linked>,
    home: Currency,
    categories: HashMap<String, Uuid>,
    /// Our own CSV names categories on purpose: an unknown one is an error there. A bank's or
    /// another app's category that the person has no match for is left to the model.
    strict_categories: bool,
    dry_run: bool,
    dedup: Dedup,
    quotes: rates::Quotes,
    pub done: u32,
    pub imported: u32,
    pub duplicates: u32,
    pub errors: Vec<RowProblem>,
    pub rows_per_account: Vec<u32>,
    /// Per account, the signed sum of the entries refused: what the account misses of the
    /// file, for the balance check.
    pub refused: Vec<rust_decimal::Decimal>,
    pub preview: Vec<pb::PreviewRow>,
}

/// What a writer starts from.
pub struct Start {
    pub user_id: Uuid,
    pub import_id: Uuid,
    pub format: &'static str,
    pub linked: Vec<Linked>,
    pub home: Currency,
    pub categories: HashMap<String, Uuid>,
    pub strict_categories: bool,
    pub dry_run: bool,
}

impl Writer {
    pub fn new(start: Start) -> Writer {
        let accounts = start.linked.len();
        Writer {
            user_id: start.user_id,
            import_id: start.import_id,
            home: start.home,
            categories: start.categories,
            strict_categories: start.strict_categories,
            dry_run: start.dry_run,
            dedup: Dedup::new(start.user_id, start.import_id, start.format),
            linked: start.linked,
            quotes: rates::Quotes::default(),
            done: 0,
            imported: 0,
            duplicates: 0,
            errors: Vec::new(),
            rows_per_account: vec![0; accounts],
            refused: vec![rust_decimal::Decimal::ZERO; accounts],
            preview: Vec::new(),
        }
    }

    /// Continues a run that wrote `progress` already.
    pub fn resume(&mut self, progress: Progress<'_>) {
        self.done = progress.rows_done;
        self.imported = progress.imported;
        self.duplicates = progress.duplicates;
        self.errors = progress.errors.to_vec();
    }

    pub fn progress(&self) -> Progress<'_> {
        Progress {
            rows_done: self.done,
            imported: self.imported,
            duplicates: self.duplicates,
            errors: &self.errors,
        }
    }

    /// The items as rows, the unreadable ones recorded as errors. No database.
    pub fn prepare(&mut self, items: Vec<Item>) -> Vec<Row> {
        let mut prepared = Vec::with_capacity(items.len());
        for item in items {
            self.done = self.done.saturating_add(1);
            match item {
                Item::Entry(entry) => {
                    let (account, amount) = (entry.account, entry.amount);
                    match rows::from_entry(entry, &self.linked, self.import_id) {
                        Ok(mut row) => {
                            if let Some(name) = &row.category
                                && let Some(id) = self.categories.get(&name.to_lowercase())
                            {
                                row.new.category_id = Some(*id);
                                row.new.category_source = Some(CategorySource::Import);
                            }
                            prepared.push(row);
                        }
                        Err(problem) => {
                            self.refuse(account, amount);
                            self.errors.push(problem);
                        }
                    }
                }
                Item::Error(error) => {
                    self.errors.push(RowProblem { line: error.line, message: error.message })
                }
            }
        }
        prepared
    }

    /// Writes `rows` (or, in a dry run, counts what would be written) and re-evaluates the
    /// budgets they touch.
    pub async fn write(
        &mut self,
        conn: &mut PgConnection,
        ctx: &EventContext,
        rows: Vec<Row>,
    ) -> AppResult<()> {
        let mut rows = rows;
        for row in &mut rows {
            row.new.account_id = self.linked.get(row.account).and_then(|a| a.account_id);
        }
        self.dedup.load(conn, &rows).await?;
        let mut touched: BTreeSet<(NaiveDate, String)> = BTreeSet::new();
        for row in rows {
            if let Some(name) = &row.category
                && row.new.category_id.is_none()
                && self.strict_categories
            {
                self.errors
                    .push(RowProblem { line: row.line, message: format!("unknown category {name:?}") });
                continue;
            }
            let duplicate = self.dedup.is_duplicate(&row);
            if self.dry_run && self.preview.len() < PREVIEW_ROWS {
                self.preview.push(self.preview_row(&row, duplicate));
            }
            if duplicate {
                self.duplicates += 1;
                continue;
            }
            let t = &row.new;
            let conversion =
                match self.quotes.express(conn, t.amount, t.currency, t.occurred_on, self.home).await {
                    Ok(conversion) => conversion,
                    Err(AppError::Validation(_)) => {
                        let signed = if t.kind == "debit" { -t.amount } else { t.amount };
                        self.refuse(row.account, signed);
                        self.errors.push(RowProblem {
                            line: row.line,
                            message: "amount is too large once converted to your home currency".to_owned(),
                        });
                        continue;
                    }
                    Err(other) => return Err(other),
                };
            if let Some(count) = self.rows_per_account.get_mut(row.account) {
                *count += 1;
            }
            self.imported += 1;
            if self.dry_run {
                continue;
            }
            let stored = transactions::insert(conn, ctx, self.user_id, t, &conversion).await?;
            touched.extend(stored.spending_keys());
        }
        if !touched.is_empty() {
            thresholds::after_change(conn, ctx, self.user_id, touched.into_iter().collect(), None).await?;
        }
        Ok(())
    }

    fn preview_row(&self, row: &Row, duplicate: bool) -> pb::PreviewRow {
        pb::PreviewRow {
            line: row.line,
            occurred_on: row.new.occurred_on.to_string(),
            description: row.new.description.clone(),
            amount: Some(convert::money(row.new.amount, row.new.currency.code())),
            r#type: row.new.kind.clone(),
            category: row.category.clone().unwrap_or_default(),
            duplicate,
            account_number_hint: self
                .linked
                .get(row.account)
                .and_then(|a| a.number.as_deref())
                .map(number_hint)
                .unwrap_or_default(),
            bank_id: row.new.bank_id.clone().unwrap_or_default(),
        }
    }

    fn refuse(&mut self, account: usize, amount: rust_decimal::Decimal) {
        if let Some(sum) = self.refused.get_mut(account) {
            *sum = sum.saturating_add(amount);
        }
    }

    /// The errors in file order, for the answer.
    pub fn sorted_errors(&mut self) {
        self.errors.sort_by_key(|e| e.line);
    }
}
