//! A file's entry as a transaction to write, or why it cannot be one. No database here.

use budgetsmart_bankfiles::Entry;
use budgetsmart_common::currency::Currency;
use budgetsmart_common::money;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::imports::link::Linked;
use crate::imports::store::RowProblem;
use crate::transactions::store::NewTransaction;
use crate::validation::MAX_DESCRIPTION;

/// The longest bank id kept; longer ones are not ids anyone reuses.
const MAX_BANK_ID: usize = 255;

/// One row to write.
pub struct Row {
    pub line: u32,
    /// Index of its account among the file's.
    pub account: usize,
    pub new: NewTransaction,
    /// The category the file names, resolved by name when written.
    pub category: Option<String>,
}

/// `entry` as a transaction of import `import_id`, in its account's currency unless it states
/// its own.
pub fn from_entry(entry: Entry, linked: &[Linked], import_id: Uuid) -> Result<Row, RowProblem> {
    let problem = |message: String| RowProblem { line: entry.line, message };
    let account = linked.get(entry.account).or(linked.first());
    let currency = match entry.currency.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => Currency::parse(&code.to_uppercase())
            .ok_or_else(|| problem(format!("currency {code:?} is not an ISO 4217 code")))?,
        None => match account {
            Some(account) => account.currency,
            None => return Err(problem("the row has no currency".to_owned())),
        },
    };
    if entry.amount.is_zero() {
        return Err(problem("amount must not be zero".to_owned()));
    }
    let amount = money::validate_positive(entry.amount.abs(), currency)
        .map_err(|error| problem(format!("amount {} {error}", entry.amount)))?;
    // A bank's memo can run past what a description holds: kept whole up to it, cut after.
    let mut description: String = entry.description.chars().take(MAX_DESCRIPTION).collect();
    if description.trim().is_empty() {
        description = if entry.amount < Decimal::ZERO { "Payment" } else { "Deposit" }.to_owned();
    }
    let bank_id = entry
        .bank_id
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty() && id.chars().count() <= MAX_BANK_ID);
    Ok(Row {
        line: entry.line,
        account: if entry.account < linked.len() { entry.account } else { 0 },
        new: NewTransaction {
            occurred_on: entry.date,
            description,
            amount,
            currency,
            kind: if entry.amount < Decimal::ZERO { "debit" } else { "credit" }.to_owned(),
            category_id: None,
            category_source: None,
            notes: None,
            source: "import",
            bank: None,
            account_id: account.and_then(|a| a.account_id),
            import_id: Some(import_id),
            bank_id,
        },
        category: entry.category.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()),
    })
}
