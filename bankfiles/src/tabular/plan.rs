//! How rows are read: the layout the preview shows, and what a few exports need beyond it.

use crate::model::{AccountKind, CsvLayout};

/// Which account a row belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AccountRule {
    /// One account, unnamed.
    Single,
    /// Apps that export every account in one file name it per row (YNAB, Actual, ING's
    /// `Rekening`, Barclays' `Account`).
    Column(usize),
    /// Firefly III names both sides of a journal and their types; the rows' own side is the one
    /// that is an asset or liability, and a transfer between two of them is two entries.
    Sides { source: usize, destination: usize, source_type: usize, destination_type: usize },
}

/// A layout plus the few things some exports need that a layout cannot say.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) layout: CsvLayout,
    pub(crate) account: AccountRule,
    /// (when money goes out, when it comes in): the counterparty's column depends on the
    /// direction (DKB writes payer and payee, one of whom is the account holder). Put before
    /// the description columns.
    pub(crate) counterparty: Option<(usize, usize)>,
    /// A fee charged on top of the amount (Revolut): the entry is the amount less the fee.
    pub(crate) fee: Option<usize>,
    /// Rows whose cell in this column is one of these values (case-insensitive) are left out:
    /// pending, reverted and declined card payments come back booked in a later download.
    pub(crate) skip: Option<(usize, &'static [&'static str])>,
    /// A split's parent row has amount 0 and its total here; its children carry the money.
    pub(crate) split_parent: Option<usize>,
    /// The export prefixes text starting with `=`, `+`, `-`, `@` with `'` to defuse spreadsheet
    /// formulas; the `'` is not part of the text.
    pub(crate) unquote_formulas: bool,
    /// The accounts' currency when the file implies one (a single-currency bank, a header such
    /// as `Amount (EUR)`).
    pub(crate) currency: Option<String>,
    pub(crate) institution: Option<&'static str>,
    pub(crate) kind: Option<AccountKind>,
}

impl Plan {
    /// A plan that is the layout alone.
    pub(crate) fn plain(layout: CsvLayout, currency: Option<String>) -> Plan {
        Plan {
            layout,
            account: AccountRule::Single,
            counterparty: None,
            fee: None,
            skip: None,
            split_parent: None,
            unquote_formulas: false,
            currency,
            institution: None,
            kind: None,
        }
    }
}
