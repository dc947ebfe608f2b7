//! ISO 20022 CAMT.053 bank-to-customer statements: `Document/BkToCstmrStmt/Stmt`.
//!
//! Versions 001.02 to 001.13 differ in ways that matter here only a little, so elements are
//! matched by local name and namespaces are ignored:
//!
//! - 001.08 wraps a party in `Pty` (`Cdtr/Pty/Nm`) and a status in `Cd` (`Sts/Cd`); 001.02
//!   writes `Cdtr/Nm` and `Sts` directly. Both paths are read.
//! - The servicer's BIC is `BIC` up to 001.04 and `BICFI` from 001.05 on.
//! - Dates are `Dt` or `DtTm`; of a `DtTm` the day as written (its first ten characters) is
//!   taken, not the day in UTC, because that is the day the bank shows its customer.
//!
//! What a statement holds is read as follows:
//!
//! - An `Ntry` is one entry even when its `NtryDtls` hold several `TxDtls` (a batch booking): the
//!   entry's own amount is what moved the balance. A batch is described by `AddtlNtryInf` when
//!   the bank wrote one, since the first transaction's party names only one of many.
//! - `CdtDbtInd` is the direction of the booking itself, also for a reversal (`RvslInd`), so the
//!   sign is never flipped again.
//! - Entries whose status is `PDNG` (pending) or `INFO` (information only) are not booked and
//!   are skipped without an error.
//! - The bank id is `AcctSvcrRef`, else the transaction's `EndToEndId` unless it is
//!   `NOTPROVIDED`. `NtryRef` is not used: some banks number it per statement (1, 2, 3, …), and
//!   an id that repeats across downloads would merge distinct entries.
//! - Several `Stmt` of one account (one per day, say) are one account: the opening balance of
//!   the first, the closing balance of the last.
//!
//! A file that is not well-formed XML, is cut short, or is another ISO 20022 message (a camt.052
//! account report, a camt.054 notification, a pain.001 payment order) is refused whole with the
//! line where it broke. An entry that cannot be read (no amount, no indicator, no date) is
//! reported as a row error and the rest of the file still imports.

use chrono::NaiveDate;
use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event};
use rust_decimal::Decimal;

use crate::model::{Balance, Entry, FileError, Item, RowError, StatementAccount};
use crate::numbers::{DecimalMark, parse_amount};
use crate::text::{collapse, line_of};

/// Reads a CAMT.053 document, handing out entries as they are read, and returns its accounts.
pub(crate) fn read(text: &str, sink: &mut dyn FnMut(Item)) -> Result<Vec<StatementAccount>, FileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    // A mismatched end tag is how a damaged file usually shows; quick-xml checks by default,
    // and the check is what makes the reported line point at the damage.
    reader.config_mut().check_end_names = true;
    let mut document = Document::new(text);
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) => {
                let line = line_of(text, offset(reader.error_position()));
                return Err(FileError::at(line, format!("the XML does not parse: {error}")));
            }
        };
        let at = offset(reader.buffer_position());
        match event {
            Event::Start(element) => document.open(&element, at)?,
            Event::Empty(element) => {
                document.open(&element, at)?;
                document.close(sink);
            }
            Event::End(_) => document.close(sink),
            Event::Text(chars) => {
                document.chars.push_str(&chars.decode().map_err(|e| unreadable(text, at, e))?)
            }
            Event::CData(chars) => {
                document.chars.push_str(&chars.decode().map_err(|e| unreadable(text, at, e))?)
            }
            Event::GeneralRef(reference) => document.reference(&reference, text, at)?,
            Event::Eof => break,
            _ => {}
        }
    }
    document.finish()
}

fn offset(position: u64) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}

fn unreadable(text: &str, at: usize, error: impl std::fmt::Display) -> FileError {
    FileError::at(line_of(text, at), format!("the XML does not parse: {error}"))
}

/// What the other ISO 20022 messages a bank offers for download are, for the refusal.
fn other_message(name: &str) -> Option<&'static str> {
    match name {
        "BkToCstmrAcctRpt" => Some("a camt.052 account report"),
        "BkToCstmrDbtCdtNtfctn" => Some("a camt.054 debit/credit notification"),
        "CstmrCdtTrfInitn" => Some("a pain.001 credit transfer order"),
        "CstmrDrctDbtInitn" => Some("a pain.008 direct debit order"),
        "CstmrPmtStsRpt" => Some("a pain.002 payment status report"),
        // Version 001.01 (2006) named its messages with the version: too old to be read here.
        "BkToCstmrStmtV01" => Some("a camt.053.001.01 statement, a version too old to be read"),
        "BkToCstmrAcctRptV01" => Some("a camt.052.001.01 account report"),
        "BkToCstmrDbtCdtNtfctnV01" => Some("a camt.054.001.01 debit/credit notification"),
        _ => None,
    }
}

/// Line numbers for the reader's positions, which only move forward: each newline is counted
/// once, where `line_of` from the start for every element would make a large file quadratic.
struct Lines<'t> {
    text: &'t str,
    offset: usize,
    line: u32,
}

impl Lines<'_> {
    fn at(&mut self, offset: usize) -> u32 {
        let offset = offset.min(self.text.len());
        if offset < self.offset {
            return line_of(self.text, offset);
        }
        let newlines = self.text.as_bytes()[self.offset..offset].iter().filter(|&&b| b == b'\n').count();
        self.line = self.line.saturating_add(u32::try_from(newlines).unwrap_or(u32::MAX));
        self.offset = offset;
        self.line
    }
}

/// The reading state: where in the tree we are and what the open statement, balance and
/// entry have gathered so far.
struct Document<'t> {
    text: &'t str,
    lines: Lines<'t>,
    /// Local names of the open elements, outermost first.
    path: Vec<String>,
    /// The character data of the element being read (entities resolved).
    chars: String,
    /// The root element and its line, once seen.
    root: Option<(String, u32)>,
    /// The line of `<BkToCstmrStmt>`, once seen.
    statements_at: Option<u32>,
    statement_count: usize,
    accounts: Vec<StatementAccount>,
    statement: Option<Stmt>,
    balance: Option<Bal>,
    entry: Option<Ntry>,
}

/// An open `<Stmt>`.
#[derive(Default)]
struct Stmt {
    depth: usize,
    number: Option<String>,
    currency: Option<String>,
    /// The currency of the first balance, for an `Acct` that names none.
    balance_currency: Option<String>,
    bic: Option<String>,
    bank_name: Option<String>,
    opening: Option<Balance>,
    /// `PRCD`, the previous day's closing: the opening when there is no `OPBD`.
    previous_closing: Option<Balance>,
    closing: Option<Balance>,
    /// The index among the returned accounts, once decided.
    account: Option<usize>,
}

/// An open `<Bal>`.
#[derive(Default)]
struct Bal {
    depth: usize,
    line: u32,
    code: Option<String>,
    amount: Option<String>,
    currency: Option<String>,
    indicator: Option<String>,
    date: Option<String>,
}

/// An open `<Ntry>`.
#[derive(Default)]
struct Ntry {
    depth: usize,
    line: u32,
    account: usize,
    amount: Option<String>,
    currency: Option<String>,
    indicator: Option<String>,
    status: Option<String>,
    booked: Option<String>,
    valued: Option<String>,
    reference: Option<String>,
    additional: Option<String>,
    transactions: Vec<TxDtls>,
}

/// One `<TxDtls>` of an entry.
#[derive(Default)]
struct TxDtls {
    reference: Option<String>,
    end_to_end: Option<String>,
    creditor: Option<String>,
    debtor: Option<String>,
    remittance: Vec<String>,
    additional: Option<String>,
}

/// Sets `slot` unless it already holds a value: the first of repeated elements wins.
fn keep_first(slot: &mut Option<String>, value: &str) {
    if slot.is_none() && !value.is_empty() {
        *slot = Some(value.to_owned());
    }
}

fn attribute(element: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .map(|a| String::from_utf8_lossy(&a.value).trim().to_ascii_uppercase())
}

impl<'t> Document<'t> {
    fn new(text: &'t str) -> Document<'t> {
        Document {
            text,
            lines: Lines { text, offset: 0, line: 1 },
            path: Vec::new(),
            chars: String::new(),
            root: None,
            statements_at: None,
            statement_count: 0,
            accounts: Vec::new(),
            statement: None,
            balance: None,
            entry: None,
        }
    }

    fn parent(&self) -> Option<&str> {
        self.path.last().map(String::as_str)
    }

    fn open(&mut self, element: &BytesStart<'_>, at: usize) -> Result<(), FileError> {
        let name = String::from_utf8_lossy(element.local_name().as_ref()).into_owned();
        let depth = self.path.len();
        let line = self.lines.at(at);
        if self.root.is_none() {
            self.root = Some((name.clone(), line));
        }
        if self.parent() == Some("Document") && name != "BkToCstmrStmt" {
            let what = other_message(&name).unwrap_or("not a bank-to-customer statement");
            return Err(FileError::at(
                line,
                format!("not a CAMT.053 statement: the document holds <{name}>, {what}"),
            ));
        }
        match name.as_str() {
            "BkToCstmrStmt" if self.statements_at.is_none() => self.statements_at = Some(line),
            "Stmt" if self.parent() == Some("BkToCstmrStmt") => {
                self.statement = Some(Stmt { depth, ..Stmt::default() });
                self.statement_count += 1;
            }
            "Bal" if self.statement.as_ref().is_some_and(|s| s.depth + 1 == depth) => {
                self.balance = Some(Bal { depth, line, ..Bal::default() });
            }
            "Ntry" if self.statement.as_ref().is_some_and(|s| s.depth + 1 == depth) => {
                let account = self.account();
                self.entry = Some(Ntry { depth, line, account, ..Ntry::default() });
            }
            "TxDtls" => {
                if let Some(entry) = self.entry.as_mut()
                    && entry.depth + 2 == depth
                {
                    entry.transactions.push(TxDtls::default());
                }
            }
            "Amt" => {
                if let Some(entry) = self.entry.as_mut()
                    && entry.depth + 1 == depth
                {
                    entry.currency = attribute(element, b"Ccy");
                } else if let Some(balance) = self.balance.as_mut()
                    && balance.depth + 1 == depth
                {
                    balance.currency = attribute(element, b"Ccy");
                }
            }
            _ => {}
        }
        self.path.push(name);
        self.chars.clear();
        Ok(())
    }

    fn close(&mut self, sink: &mut dyn FnMut(Item)) {
        let value = std::mem::take(&mut self.chars);
        let value = value.trim();
        let depth = self.path.len().saturating_sub(1);
        if let Some(balance) = self.balance.as_mut() {
            if depth == balance.depth {
                self.end_balance(sink);
            } else {
                read_balance(balance, &self.path[balance.depth + 1..], value);
            }
        } else if let Some(entry) = self.entry.as_mut() {
            if depth == entry.depth {
                self.end_entry(sink);
            } else {
                read_entry(entry, &self.path[entry.depth + 1..], value);
            }
        } else if let Some(statement) = self.statement.as_mut() {
            if depth == statement.depth {
                self.end_statement();
            } else {
                read_statement(statement, &self.path[statement.depth + 1..], value);
            }
        }
        self.path.pop();
    }

    fn reference(&mut self, reference: &BytesRef<'_>, text: &str, at: usize) -> Result<(), FileError> {
        if reference.is_char_ref() {
            match reference.resolve_char_ref() {
                Ok(Some(c)) => self.chars.push(c),
                Ok(None) => {}
                Err(error) => return Err(unreadable(text, at, error)),
            }
            return Ok(());
        }
        let name = reference.decode().map_err(|e| unreadable(text, at, e))?;
        match &*name {
            "lt" => self.chars.push('<'),
            "gt" => self.chars.push('>'),
            "amp" => self.chars.push('&'),
            "apos" => self.chars.push('\''),
            "quot" => self.chars.push('"'),
            // No CAMT schema declares entities; keep an unknown one as written rather than lose it.
            other => {
                self.chars.push('&');
                self.chars.push_str(other);
                self.chars.push(';');
            }
        }
        Ok(())
    }

    /// The index of the open statement's account, deciding it on first use: a statement of an
    /// account already read (same number and currency) adds to that account.
    fn account(&mut self) -> usize {
        let Some(statement) = self.statement.as_mut() else {
            return 0;
        };
        if let Some(index) = statement.account {
            return index;
        }
        let number = statement.number.clone().unwrap_or_default();
        let currency = statement.currency.clone().or_else(|| statement.balance_currency.clone());
        let existing = if number.is_empty() {
            None
        } else {
            self.accounts.iter().position(|a| a.number == number && a.currency == currency)
        };
        let index = existing.unwrap_or_else(|| {
            self.accounts.push(StatementAccount {
                number,
                institution: statement.bank_name.clone().or_else(|| statement.bic.clone()),
                currency,
                kind: None,
                opening: None,
                closing: None,
            });
            self.accounts.len() - 1
        });
        statement.account = Some(index);
        index
    }

    fn end_statement(&mut self) {
        let index = self.account();
        let Some(statement) = self.statement.take() else {
            return;
        };
        if let Some(account) = self.accounts.get_mut(index) {
            if account.opening.is_none() {
                account.opening = statement.opening.or(statement.previous_closing);
            }
            if statement.closing.is_some() {
                account.closing = statement.closing;
            }
        }
    }

    fn end_balance(&mut self, sink: &mut dyn FnMut(Item)) {
        let Some(balance) = self.balance.take() else {
            return;
        };
        let Some(statement) = self.statement.as_mut() else {
            return;
        };
        if statement.balance_currency.is_none() {
            statement.balance_currency = balance.currency.clone();
        }
        let code = balance.code.as_deref().unwrap_or_default();
        let slot = match code {
            "OPBD" => &mut statement.opening,
            "PRCD" => &mut statement.previous_closing,
            "CLBD" => &mut statement.closing,
            // Available, interim and forward balances say nothing about the entries listed.
            _ => return,
        };
        match signed_balance(&balance) {
            Ok(read) => {
                if slot.is_none() {
                    *slot = Some(read);
                }
            }
            Err(why) => sink(Item::Error(RowError {
                line: balance.line,
                message: format!("the {code} balance cannot be read: {why}"),
            })),
        }
    }

    fn end_entry(&mut self, sink: &mut dyn FnMut(Item)) {
        let Some(entry) = self.entry.take() else {
            return;
        };
        let status = entry.status.as_deref().unwrap_or_default();
        if status.eq_ignore_ascii_case("PDNG") || status.eq_ignore_ascii_case("INFO") {
            return;
        }
        match booked_entry(&entry) {
            Ok(read) => sink(Item::Entry(read)),
            Err(message) => sink(Item::Error(RowError { line: entry.line, message })),
        }
    }

    fn finish(self) -> Result<Vec<StatementAccount>, FileError> {
        let end = line_of(self.text, self.text.len());
        if let Some(open) = self.path.last() {
            return Err(FileError::at(end, format!("the XML ends inside <{open}> (a cut download?)")));
        }
        let Some((root, root_line)) = self.root else {
            return Err(FileError::at(1, "not a CAMT.053 statement: the file holds no XML element"));
        };
        let Some(statements_at) = self.statements_at else {
            return Err(FileError::at(
                root_line,
                format!("not a CAMT.053 statement: no <BkToCstmrStmt> in <{root}>"),
            ));
        };
        if self.statement_count == 0 {
            return Err(FileError::at(
                statements_at,
                "the file has no statement (no <Stmt> in <BkToCstmrStmt>)",
            ));
        }
        Ok(self.accounts)
    }
}

fn is(path: &[String], want: &[&str]) -> bool {
    path.len() == want.len() && path.iter().zip(want).all(|(a, b)| a == b)
}

fn read_statement(statement: &mut Stmt, path: &[String], value: &str) {
    if is(path, &["Acct", "Id", "IBAN"]) || is(path, &["Acct", "Id", "Othr", "Id"]) {
        keep_first(&mut statement.number, value);
    } else if is(path, &["Acct", "Ccy"]) {
        keep_first(&mut statement.currency, &value.to_ascii_uppercase());
    } else if is(path, &["Acct", "Svcr", "FinInstnId", "BIC"])
        || is(path, &["Acct", "Svcr", "FinInstnId", "BICFI"])
    {
        keep_first(&mut statement.bic, value);
    } else if is(path, &["Acct", "Svcr", "FinInstnId", "Nm"]) {
        keep_first(&mut statement.bank_name, value);
    }
}

fn read_balance(balance: &mut Bal, path: &[String], value: &str) {
    if is(path, &["Tp", "CdOrPrtry", "Cd"]) {
        keep_first(&mut balance.code, &value.to_ascii_uppercase());
    } else if is(path, &["Amt"]) {
        keep_first(&mut balance.amount, value);
    } else if is(path, &["CdtDbtInd"]) {
        keep_first(&mut balance.indicator, value);
    } else if is(path, &["Dt", "Dt"]) || is(path, &["Dt", "DtTm"]) {
        keep_first(&mut balance.date, value);
    }
}

fn read_entry(entry: &mut Ntry, path: &[String], value: &str) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    match (first.as_str(), rest) {
        ("Amt", []) => keep_first(&mut entry.amount, value),
        ("CdtDbtInd", []) => keep_first(&mut entry.indicator, value),
        ("Sts", []) => keep_first(&mut entry.status, value),
        ("Sts", [code]) if code == "Cd" => keep_first(&mut entry.status, value),
        ("BookgDt", [date]) if date == "Dt" || date == "DtTm" => keep_first(&mut entry.booked, value),
        ("ValDt", [date]) if date == "Dt" || date == "DtTm" => keep_first(&mut entry.valued, value),
        ("AcctSvcrRef", []) => keep_first(&mut entry.reference, value),
        ("AddtlNtryInf", []) => keep_first(&mut entry.additional, value),
        ("NtryDtls", [details, rest @ ..]) if details == "TxDtls" => {
            if let Some(transaction) = entry.transactions.last_mut() {
                read_transaction(transaction, rest, value);
            }
        }
        _ => {}
    }
}

fn read_transaction(transaction: &mut TxDtls, path: &[String], value: &str) {
    if is(path, &["Refs", "AcctSvcrRef"]) {
        keep_first(&mut transaction.reference, value);
    } else if is(path, &["Refs", "EndToEndId"]) {
        keep_first(&mut transaction.end_to_end, value);
    } else if is(path, &["RltdPties", "Cdtr", "Nm"]) || is(path, &["RltdPties", "Cdtr", "Pty", "Nm"]) {
        keep_first(&mut transaction.creditor, value);
    } else if is(path, &["RltdPties", "Dbtr", "Nm"]) || is(path, &["RltdPties", "Dbtr", "Pty", "Nm"]) {
        keep_first(&mut transaction.debtor, value);
    } else if is(path, &["RmtInf", "Ustrd"]) {
        if !value.is_empty() {
            transaction.remittance.push(value.to_owned());
        }
    } else if is(path, &["AddtlTxInf"]) {
        keep_first(&mut transaction.additional, value);
    }
}

/// An unsigned CAMT amount: the direction is the indicator's, never a sign.
fn unsigned_amount(raw: Option<&str>) -> Result<Decimal, String> {
    let raw = raw.ok_or("it has no amount (Amt)")?;
    match parse_amount(raw, DecimalMark::Point) {
        Some(amount) if !amount.is_sign_negative() => Ok(amount),
        _ => Err(format!("the amount {raw:?} cannot be read")),
    }
}

/// `CRDT` is money in, `DBIT` money out.
fn is_credit(raw: Option<&str>) -> Result<bool, String> {
    match raw {
        None => Err("it has no credit/debit indicator (CdtDbtInd)".to_owned()),
        Some(raw) if raw.eq_ignore_ascii_case("CRDT") => Ok(true),
        Some(raw) if raw.eq_ignore_ascii_case("DBIT") => Ok(false),
        Some(raw) => Err(format!("the credit/debit indicator {raw:?} is neither CRDT nor DBIT")),
    }
}

/// A `Dt` (`2024-11-29`) or a `DtTm` (`2014-12-31T13:15:00+01:00`): the day as written.
fn day(raw: &str) -> Result<NaiveDate, String> {
    raw.get(..10)
        .and_then(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
        .ok_or_else(|| format!("the date {raw:?} cannot be read"))
}

fn signed(amount: Decimal, credit: bool) -> Decimal {
    if credit { amount } else { -amount }
}

fn signed_balance(balance: &Bal) -> Result<Balance, String> {
    let amount = unsigned_amount(balance.amount.as_deref())?;
    let credit = is_credit(balance.indicator.as_deref())?;
    let on = day(balance.date.as_deref().ok_or("it has no date (Dt)")?)?;
    Ok(Balance { amount: signed(amount, credit), on })
}

fn booked_entry(entry: &Ntry) -> Result<Entry, String> {
    let why = |reason: String| format!("the entry cannot be read: {reason}");
    let amount = unsigned_amount(entry.amount.as_deref()).map_err(why)?;
    let credit = is_credit(entry.indicator.as_deref()).map_err(why)?;
    let date = entry
        .booked
        .as_deref()
        .or(entry.valued.as_deref())
        .ok_or_else(|| why("it has no booking or value date (BookgDt, ValDt)".to_owned()))?;
    let date = day(date).map_err(why)?;
    Ok(Entry {
        line: entry.line,
        account: entry.account,
        date,
        amount: signed(amount, credit),
        currency: entry.currency.clone(),
        description: describe(entry, credit),
        bank_id: bank_id(entry),
        category: None,
    })
}

fn bank_id(entry: &Ntry) -> Option<String> {
    let transaction_reference = || entry.transactions.iter().find_map(|t| t.reference.clone());
    // The payer's end-to-end id, when the payer gave one.
    let end_to_end = || {
        entry
            .transactions
            .iter()
            .filter_map(|t| t.end_to_end.clone())
            .find(|id| !id.eq_ignore_ascii_case("NOTPROVIDED"))
    };
    entry.reference.clone().or_else(transaction_reference).or_else(end_to_end)
}

/// Who (the other party: the creditor of a payment out, the debtor of a payment in) and what
/// (the unstructured remittance lines), joined.
fn summary(transaction: &TxDtls, credit: bool) -> Option<String> {
    let party = if credit { &transaction.debtor } else { &transaction.creditor };
    let remittance = transaction.remittance.join(" ");
    let parts: Vec<&str> = [party.as_deref().unwrap_or_default(), remittance.as_str()]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

fn describe(entry: &Ntry, credit: bool) -> String {
    let details = entry.transactions.first().and_then(|t| summary(t, credit));
    let text = if entry.transactions.len() > 1 {
        entry.additional.clone().or(details)
    } else {
        details.or_else(|| entry.additional.clone())
    };
    let text = text.or_else(|| entry.transactions.iter().find_map(|t| t.additional.clone()));
    collapse(text.as_deref().unwrap_or_default())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().expect("a decimal")
    }

    fn day_of(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a day")
    }

    fn run(xml: &str) -> (Result<Vec<StatementAccount>, FileError>, Vec<Item>) {
        let mut items = Vec::new();
        let result = read(xml, &mut |item| items.push(item));
        (result, items)
    }

    fn entries(items: &[Item]) -> Vec<&Entry> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Entry(e) => Some(e),
                Item::Error(_) => None,
            })
            .collect()
    }

    fn errors(items: &[Item]) -> Vec<&RowError> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Error(e) => Some(e),
                Item::Entry(_) => None,
            })
            .collect()
    }

    /// A 001.02 statement around `body` (balances and entries).
    fn v2(body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>1</MsgId><CreDtTm>2026-03-02T08:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>S1</Id>
      <Acct>
        <Id><IBAN>DE89370400440532013000</IBAN></Id>
        <Ccy>EUR</Ccy>
        <Svcr><FinInstnId><BIC>COBADEFFXXX</BIC></FinInstnId></Svcr>
      </Acct>
{body}
    </Stmt>
  </BkToCstmrStmt>
</Document>
"#
        )
    }

    const BALANCES: &str = r#"
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">100.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-03-01</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLAV</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">999.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-03-01</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">20.50</Amt><CdtDbtInd>DBIT</CdtDbtInd><Dt><Dt>2026-03-02</Dt></Dt></Bal>"#;

    #[test]
    fn reads_the_account_its_balances_and_signs() {
        let balances = BALANCES;
        let body = format!(
            r#"{balances}
      <Ntry>
        <Amt Ccy="EUR">150.50</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2026-03-02</Dt></BookgDt>
        <ValDt><Dt>2026-03-03</Dt></ValDt>
        <AcctSvcrRef>REF-1</AcctSvcrRef>
        <NtryDtls><TxDtls>
          <RltdPties><Dbtr><Nm>Me</Nm></Dbtr><Cdtr><Nm>Stadtwerke  Köln</Nm></Cdtr></RltdPties>
          <RmtInf><Ustrd>Abschlag März</Ustrd><Ustrd>Vertrag 42</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">30</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <ValDt><DtTm>2026-03-02T23:30:00+01:00</DtTm></ValDt>
        <NtryDtls><TxDtls>
          <RltdPties><Dbtr><Nm>Erika Mustermann</Nm></Dbtr><Cdtr><Nm>Me</Nm></Cdtr></RltdPties>
        </TxDtls></NtryDtls>
      </Ntry>"#
        );
        let (result, items) = run(&v2(&body));
        let accounts = result.expect("readable");
        assert_eq!(accounts.len(), 1);
        let account = &accounts[0];
        assert_eq!(account.number, "DE89370400440532013000");
        assert_eq!(account.currency.as_deref(), Some("EUR"));
        assert_eq!(account.institution.as_deref(), Some("COBADEFFXXX"));
        assert_eq!(account.opening, Some(Balance { amount: d("100.00"), on: day_of("2026-03-01") }));
        assert_eq!(
            account.closing,
            Some(Balance { amount: d("-20.50"), on: day_of("2026-03-02") }),
            "CLAV is ignored"
        );
        let read = entries(&items);
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].amount, d("-150.50"));
        assert_eq!(read[0].date, day_of("2026-03-02"), "the booking day, not the value day");
        assert_eq!(read[0].currency.as_deref(), Some("EUR"));
        assert_eq!(read[0].bank_id.as_deref(), Some("REF-1"));
        assert_eq!(
            read[0].description, "Stadtwerke Köln · Abschlag März Vertrag 42",
            "money out names the creditor"
        );
        assert_eq!(read[1].amount, d("30"));
        assert_eq!(
            read[1].date,
            day_of("2026-03-02"),
            "the value day when there is no booking day, as written"
        );
        assert_eq!(read[1].description, "Erika Mustermann", "money in names the debtor");
        assert_eq!(read[1].bank_id, None);
        assert_eq!(
            account.opening.as_ref().map(|b| b.amount).unwrap() + read[0].amount + read[1].amount,
            d("-20.50")
        );
        let ntry_line = v2(&body).lines().position(|l| l.trim() == "<Ntry>").unwrap() + 1;
        assert_eq!(read[0].line as usize, ntry_line);
    }

    #[test]
    fn reads_the_001_08_shapes() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
<BkToCstmrStmt><GrpHdr><MsgId>1</MsgId></GrpHdr>
<Stmt><Id>1</Id>
<Acct><Id><Othr><Id>0532013000</Id></Othr></Id><Svcr><FinInstnId><BICFI>UBSWCHZH80A</BICFI></FinInstnId></Svcr></Acct>
<Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy="CHF">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-01-31</Dt></Dt></Bal>
<Ntry><Amt Ccy="CHF">4.20</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><DtTm>2026-02-01T09:00:00</DtTm></BookgDt>
<NtryDtls><TxDtls><Refs><AcctSvcrRef>TX-9</AcctSvcrRef><EndToEndId>E2E-1</EndToEndId></Refs>
<RltdPties><Cdtr><Pty><Nm>Migros &amp; Co</Nm></Pty></Cdtr></RltdPties></TxDtls></NtryDtls></Ntry>
<Ntry><Amt Ccy="CHF">1.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>PDNG</Cd></Sts><BookgDt><Dt>2026-02-02</Dt></BookgDt></Ntry>
</Stmt></BkToCstmrStmt></Document>"#;
        let (result, items) = run(xml);
        let accounts = result.expect("readable");
        assert_eq!(accounts[0].number, "0532013000");
        assert_eq!(accounts[0].institution.as_deref(), Some("UBSWCHZH80A"));
        assert_eq!(accounts[0].currency.as_deref(), Some("CHF"), "from the balances when Acct has no Ccy");
        assert_eq!(
            accounts[0].opening.as_ref().map(|b| (b.amount, b.on)),
            Some((d("10.00"), day_of("2026-01-31")))
        );
        assert_eq!(accounts[0].closing, None);
        let read = entries(&items);
        assert_eq!(read.len(), 1, "the pending entry is skipped");
        assert!(errors(&items).is_empty());
        assert_eq!(read[0].description, "Migros & Co");
        assert_eq!(
            read[0].bank_id.as_deref(),
            Some("TX-9"),
            "the transaction's AcctSvcrRef before its EndToEndId"
        );
        assert_eq!(read[0].date, day_of("2026-02-01"));
    }

    #[test]
    fn pending_in_001_02_is_skipped_too() {
        let body = r#"
      <Ntry><Amt Ccy="EUR">5.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>PDNG</Sts><BookgDt><Dt>2026-03-02</Dt></BookgDt></Ntry>
      <Ntry><Amt Ccy="EUR">6.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-03-02</Dt></BookgDt></Ntry>"#;
        let (result, items) = run(&v2(body));
        result.expect("readable");
        assert_eq!(items.len(), 1);
        assert_eq!(entries(&items)[0].amount, d("-6.00"));
    }

    #[test]
    fn end_to_end_id_is_the_id_unless_notprovided() {
        let body = r#"
      <Ntry><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-03-02</Dt></BookgDt>
        <NtryDtls><TxDtls><Refs><EndToEndId>INV-2026-7</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>
      <Ntry><Amt Ccy="EUR">2.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-03-02</Dt></BookgDt>
        <NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>
      <Ntry><Amt Ccy="EUR">3.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-03-02</Dt></BookgDt><AcctSvcrRef>BANK-3</AcctSvcrRef>
        <NtryDtls><TxDtls><Refs><EndToEndId>E2E-3</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>"#;
        let (result, items) = run(&v2(body));
        result.expect("readable");
        let ids: Vec<Option<&str>> = entries(&items).iter().map(|e| e.bank_id.as_deref()).collect();
        assert_eq!(ids, vec![Some("INV-2026-7"), None, Some("BANK-3")]);
    }

    #[test]
    fn a_batch_is_one_entry_described_by_the_bank() {
        let body = r#"
      <Ntry><Amt Ccy="EUR">300.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><BookgDt><Dt>2026-03-02</Dt></BookgDt>
        <NtryDtls>
          <Btch><NbOfTxs>2</NbOfTxs></Btch>
          <TxDtls><Amt Ccy="EUR">100.00</Amt><RltdPties><Cdtr><Nm>A</Nm></Cdtr></RltdPties></TxDtls>
          <TxDtls><Amt Ccy="EUR">200.00</Amt><RltdPties><Cdtr><Nm>B</Nm></Cdtr></RltdPties></TxDtls>
        </NtryDtls>
        <AddtlNtryInf>SAMMLER 2 Posten</AddtlNtryInf>
      </Ntry>
      <Ntry><Amt Ccy="EUR">7.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><BookgDt><Dt>2026-03-02</Dt></BookgDt>
        <NtryDtls><TxDtls/></NtryDtls>
        <AddtlNtryInf>Kosten   betaalrekening</AddtlNtryInf>
      </Ntry>"#;
        let (result, items) = run(&v2(body));
        result.expect("readable");
        let read = entries(&items);
        assert_eq!(read.len(), 2);
        assert_eq!((read[0].amount, read[0].description.as_str()), (d("-300.00"), "SAMMLER 2 Posten"));
        assert_eq!(read[1].description, "Kosten betaalrekening", "AddtlNtryInf when the details say nothing");
    }

    #[test]
    fn two_statements_are_two_accounts_and_one_account_twice_is_one() {
        let stmt = |iban: &str, open: &str, close: &str, amount: &str| {
            format!(
                r#"<Stmt><Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{open}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-03-01</Dt></Dt></Bal>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{close}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-03-02</Dt></Dt></Bal>
<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-03-02</Dt></BookgDt></Ntry></Stmt>"#
            )
        };
        let xml = format!(
            "<Document><BkToCstmrStmt>{}{}{}</BkToCstmrStmt></Document>",
            stmt("NL01AAAA0000000001", "10", "11", "1"),
            stmt("NL02BBBB0000000002", "20", "22", "2"),
            stmt("NL01AAAA0000000001", "11", "14", "3"),
        );
        let (result, items) = run(&xml);
        let accounts = result.expect("readable");
        assert_eq!(accounts.len(), 2);
        assert_eq!(
            accounts[0].opening.as_ref().map(|b| b.amount),
            Some(d("10")),
            "the first statement's opening"
        );
        assert_eq!(
            accounts[0].closing.as_ref().map(|b| b.amount),
            Some(d("14")),
            "the last statement's closing"
        );
        assert_eq!(accounts[1].number, "NL02BBBB0000000002");
        let to: Vec<usize> = entries(&items).iter().map(|e| e.account).collect();
        assert_eq!(to, vec![0, 1, 0]);
    }

    #[test]
    fn lines_counted_forward_match_line_of() {
        let text = "a\nbb\n\nccc\n";
        let mut lines = Lines { text, offset: 0, line: 1 };
        for offset in [0, 1, 2, 4, 5, 6, 9, 10, 50, 3] {
            assert_eq!(lines.at(offset), line_of(text, offset), "offset {offset}");
        }
    }

    #[test]
    fn a_mismatched_tag_is_refused_at_its_line() {
        let xml = v2(r#"
      <Ntry>
        <Amt Ccy="EUR">1.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <BookgDt><Dt>2026-03-02</Dt></Bookgdt>
      </Ntry>"#);
        let bad = xml.lines().position(|l| l.contains("</Bookgdt>")).unwrap() + 1;
        let (result, _) = run(&xml);
        let error = result.expect_err("refused");
        assert_eq!(error.line as usize, bad);
        assert!(error.message.contains("does not parse"), "{}", error.message);
    }

    #[test]
    fn a_cut_download_is_refused() {
        let xml = v2("");
        let cut = &xml[..xml.find("</Stmt>").unwrap()];
        let (result, _) = run(cut);
        let error = result.expect_err("refused");
        assert!(error.message.contains("ends inside <Stmt>"), "{}", error.message);
        assert_eq!(error.line, line_of(cut, cut.len()));
    }

    #[test]
    fn other_messages_are_refused() {
        for (xml, says) in [
            (
                r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02"><BkToCstmrAcctRpt><Rpt/></BkToCstmrAcctRpt></Document>"#,
                "camt.052",
            ),
            (
                "<?xml version=\"1.0\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03\">\n  <CstmrCdtTrfInitn/>\n</Document>",
                "pain.001",
            ),
        ] {
            let (result, _) = run(xml);
            let error = result.expect_err("refused");
            assert!(error.message.starts_with("not a CAMT.053 statement"), "{}", error.message);
            assert!(error.message.contains(says), "{}", error.message);
        }
        let (result, _) = run("<?xml version=\"1.0\"?>\n<Document>\n  <CstmrCdtTrfInitn/>\n</Document>");
        assert_eq!(result.expect_err("refused").line, 3);
        let (result, _) = run("<OFX><BANKMSGSRSV1/></OFX>");
        assert!(result.expect_err("refused").message.contains("no <BkToCstmrStmt>"));
        let (result, _) = run("<Document>\n<BkToCstmrStmt><GrpHdr/></BkToCstmrStmt></Document>");
        let error = result.expect_err("refused");
        assert_eq!((error.line, error.message.contains("no statement")), (2, true));
        let (result, _) = run("");
        assert!(result.is_err());
    }

    #[test]
    fn an_unreadable_entry_is_a_row_error_and_the_rest_is_read() {
        let body = r#"
      <Ntry>
        <CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-03-02</Dt></BookgDt>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">12.3.4</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-03-02</Dt></BookgDt>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">2.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">3.00</Amt><CdtDbtInd>UP</CdtDbtInd><BookgDt><Dt>2026-03-02</Dt></BookgDt>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">4.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-03-02</Dt></BookgDt>
      </Ntry>"#;
        let xml = v2(body);
        let (result, items) = run(&xml);
        result.expect("the file is still read");
        let failed = errors(&items);
        assert_eq!(failed.len(), 4);
        assert!(failed[0].message.contains("no amount"), "{}", failed[0].message);
        assert!(failed[1].message.contains("\"12.3.4\""), "{}", failed[1].message);
        assert!(failed[2].message.contains("no booking or value date"), "{}", failed[2].message);
        assert!(failed[3].message.contains("\"UP\""), "{}", failed[3].message);
        let first_ntry = xml.lines().position(|l| l.trim() == "<Ntry>").unwrap() + 1;
        assert_eq!(failed[0].line as usize, first_ntry);
        assert_eq!(entries(&items).len(), 1);
        assert_eq!(entries(&items)[0].amount, d("4.00"));
    }

    #[test]
    fn an_unreadable_balance_is_reported_and_left_out() {
        let body = r#"
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">10.00</Amt><Dt><Dt>2026-03-01</Dt></Dt></Bal>"#;
        let (result, items) = run(&v2(body));
        let accounts = result.expect("readable");
        assert_eq!(accounts[0].opening, None);
        assert!(errors(&items)[0].message.contains("OPBD"));
    }
}
