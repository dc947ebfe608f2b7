//! The one shape every format is read into. Plain types; nothing here parses.

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// A statement file's format, as it is named in the API (`format` of an import).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Csv,
    /// OFX 1.x (SGML) and 2.x (XML); QFX is OFX with an Intuit header block.
    Ofx,
    Qif,
    Camt053,
    Mt940,
}

impl Format {
    pub const ALL: [Format; 5] = [Format::Csv, Format::Ofx, Format::Qif, Format::Camt053, Format::Mt940];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ofx => "ofx",
            Format::Qif => "qif",
            Format::Camt053 => "camt053",
            Format::Mt940 => "mt940",
        }
    }

    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str().eq_ignore_ascii_case(name))
    }
}

/// What kind of account a file says it holds, where it says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    Checking,
    Savings,
    CreditCard,
    Cash,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Checking => "checking",
            AccountKind::Savings => "savings",
            AccountKind::CreditCard => "credit_card",
            AccountKind::Cash => "cash",
        }
    }
}

/// A balance the file states: signed, in the account's currency, at the end of `on`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub amount: Decimal,
    pub on: NaiveDate,
}

/// One account named in a file (an OFX `<STMTRS>`, a CAMT `<Stmt>`, an MT940 message, a QIF
/// `!Account` block). A CSV has one unnamed account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementAccount {
    /// The account's number as the bank writes it: OFX `ACCTID`, CAMT IBAN (or `Othr/Id`),
    /// MT940 `:25:`, QIF `N`. Empty when the file does not name the account (CSV, plain QIF).
    pub number: String,
    /// The bank: OFX `BANKID` or `<FI><ORG>`, CAMT BIC or name, MT940's bank code part.
    pub institution: Option<String>,
    /// ISO 4217, upper case, when the file states it (OFX `CURDEF`, CAMT `Ccy`, MT940 balance).
    pub currency: Option<String>,
    pub kind: Option<AccountKind>,
    /// The balance before the first entry (CAMT `OPBD`, MT940 `:60F:`/`:60M:`).
    pub opening: Option<Balance>,
    /// The balance after the last entry (OFX `LEDGERBAL`, CAMT `CLBD`, MT940 `:62F:`/`:62M:`).
    pub closing: Option<Balance>,
}

/// One booked transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The 1-based line of the file where the entry starts, for error reports.
    pub line: u32,
    /// Index into the accounts the reader returns.
    pub account: usize,
    /// The booking day (OFX `DTPOSTED`, CAMT `BookgDt`, MT940 `:61:` entry date or value date).
    pub date: NaiveDate,
    /// Signed: negative is money out of the account, positive is money in.
    pub amount: Decimal,
    /// ISO 4217, upper case, when the entry states its own (CSV currency column, CAMT `Amt Ccy`).
    /// When `None` the account's currency applies.
    pub currency: Option<String>,
    /// Who or what, as a person would read it: payee and memo joined, whitespace collapsed.
    pub description: String,
    /// The bank's own id for the entry, stable across downloads: OFX `FITID`, CAMT
    /// `AcctSvcrRef` (else `EndToEndId` when it is not `NOTPROVIDED`), MT940 bank reference,
    /// a CSV id column. `None` when the file has none.
    pub bank_id: Option<String>,
    /// A category name the file carries (CSV category column, QIF `L`, YNAB category).
    pub category: Option<String>,
}

/// A row that could not be read; the rest of the file still imports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u32,
    pub message: String,
}

/// What a reader hands out, one at a time, so a large file is never held as parsed rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Entry(Entry),
    Error(RowError),
}

/// A file that cannot be read at all: it is refused whole and nothing is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The 1-based line where reading broke; 0 when it is the file as a whole.
    pub line: u32,
    pub message: String,
}

impl FileError {
    pub fn at(line: u32, message: impl Into<String>) -> FileError {
        FileError { line, message: message.into() }
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for FileError {}

/// How a CSV writes its days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrder {
    /// 2026-03-14, 2026/03/14, 20260314
    Ymd,
    /// 14.03.2026, 14/03/2026, 14-03-26
    Dmy,
    /// 03/14/2026
    Mdy,
}

impl DateOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            DateOrder::Ymd => "ymd",
            DateOrder::Dmy => "dmy",
            DateOrder::Mdy => "mdy",
        }
    }
}

/// Where a CSV keeps the money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountColumns {
    /// One column; negative is money out.
    Signed(usize),
    /// Money out in one column, money in in another (either may be blank; out may be written
    /// positive or negative, it is always money out).
    DebitCredit { debit: usize, credit: usize },
    /// An unsigned amount and a column that says which way it went (`S`/`H` in German
    /// exports, `Af`/`Bij` in Dutch, `Debit`/`Credit`); `out` lists the values meaning money out.
    Indicator { amount: usize, indicator: usize, out: Vec<String> },
}

/// A CSV's layout: detected, taken from a profile, or given column by column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvLayout {
    pub delimiter: u8,
    /// The 1-based line of the header row (banks put account details above it).
    pub header_line: u32,
    /// The header row's names, as written.
    pub headers: Vec<String>,
    pub date: usize,
    pub date_order: DateOrder,
    /// Joined with " · " when more than one (payee and memo, say), blanks skipped.
    pub description: Vec<usize>,
    pub amount: AmountColumns,
    pub decimal: crate::numbers::DecimalMark,
    pub currency: Option<usize>,
    pub category: Option<usize>,
    pub bank_id: Option<usize>,
}

/// What `read` found a CSV to be, for the preview: the profile, when one matched, and how sure.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvDetection {
    /// The shipped profile's name (`ynab-register`, `firefly-iii`, …), or `None` when the
    /// layout was inferred column by column or given as a mapping.
    pub profile: Option<&'static str>,
    /// In [0, 1]: 1 for a profile named by the caller or a mapping given in full.
    pub confidence: f64,
    pub layout: CsvLayout,
}

/// A caller's column mapping, by header name; what is given overrides detection, what is not
/// is still detected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMapping {
    pub date: Option<String>,
    /// One or more header names.
    pub description: Vec<String>,
    pub amount: Option<String>,
    pub debit: Option<String>,
    pub credit: Option<String>,
    pub currency: Option<String>,
    pub category: Option<String>,
    pub date_order: Option<DateOrder>,
    pub decimal: Option<crate::numbers::DecimalMark>,
}

impl ColumnMapping {
    pub fn is_empty(&self) -> bool {
        *self == ColumnMapping::default()
    }
}

/// What the caller knows about a file besides its bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// The request's `Content-Type`, if any; a hint, checked against the content.
    pub content_type: Option<&'a str>,
    /// A shipped CSV profile to use instead of detection.
    pub profile: Option<&'a str>,
    pub mapping: Option<&'a ColumnMapping>,
}

/// Why `read` refused: the file, or an option the caller gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    File(FileError),
    /// `field` is the option's name (`profile`, `date_column`, …).
    Option {
        field: &'static str,
        message: String,
    },
}

impl From<FileError> for ReadError {
    fn from(error: FileError) -> ReadError {
        ReadError::File(error)
    }
}

/// What a whole file was, once read: returned after the last `Item`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub format: Format,
    pub accounts: Vec<StatementAccount>,
    /// For a CSV, how its layout was found.
    pub csv: Option<CsvDetection>,
}
