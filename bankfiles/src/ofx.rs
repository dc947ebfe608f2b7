//! OFX statements: OFX 1.x (SGML), OFX 2.x (XML) and Intuit's QFX, which is OFX with a few
//! `INTU.*` elements added.
//!
//! One small tokenizer reads both versions, because real files do not keep to their header:
//! OFX 1.x leaves have no end tag (`<TRNAMT>-12.34` then a newline), some files announce XML
//! (`<?xml …?><?OFX …?>`) and still leave their leaves open, and XML files wrap text in
//! `<![CDATA[…]]>`. A leaf is therefore "a start tag and the text up to the next tag", whether
//! or not its end tag follows. Only the aggregates this reader needs are tracked (`OFX`,
//! `STMTRS`, `CCSTMTRS`, the `…ACCTFROM`s, `STMTTRN`, `LEDGERBAL`, `AVAILBAL`); every other
//! element, `INTU.BID` included, is read past. Those tracked aggregates always have end tags,
//! in either version, so a missing or stray one is a broken (often cut) download and refuses
//! the file, naming the line. Two slips real banks make are let through, because nothing is
//! lost by them: a `BANKTRANLIST` never closed (Nubank; it is not tracked) and a `CCSTMTRS`
//! closed by `</STMTRS>` (Commonwealth Bank of Australia), or the other way round.
//!
//! What else is handled:
//! - several statements in one file (bank and credit card), one account each; the same account
//!   twice is one account;
//! - entries written before their statement names its account wait for it;
//! - `DTPOSTED` with a time and a zone (`20090401122017.000[-5:EST]`): the day as written;
//! - `TRNAMT` with a decimal comma (`-12,34`), as some European OFX 1.x exports write it;
//! - `&amp;`-style and numeric character references, and a bare `&` (`AT&T`) kept as it is;
//! - `NAME` cut at 32 characters and repeated whole in `MEMO`: the memo alone, not both; a
//!   memo that repeats the name inside it (`POS MERCHANDISE;MCDONALD'S #112`) loses the repeat;
//! - investment statements (`INVSTMTRS`) are skipped whole: their `STMTTRN`s are cash
//!   movements of a brokerage account, not of a bank account.
//!
//! A transaction whose date or amount cannot be read is a row error; the rest still imports.

use std::borrow::Cow;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::model::{AccountKind, Balance, Entry, FileError, Item, RowError, StatementAccount};
use crate::numbers::{DecimalMark, parse_amount};
use crate::text::{collapse, line_of};

/// Reads an OFX or QFX file, handing out its entries (and unreadable transactions) as it goes.
/// Entries name their account by its index in the returned accounts.
pub(crate) fn read(text: &str, sink: &mut dyn FnMut(Item)) -> Result<Vec<StatementAccount>, FileError> {
    let mut reader = Reader::new(text);
    for (at, token) in Tokens::new(text) {
        reader.token(at, token, sink)?;
    }
    reader.finish()
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Open(&'a str),
    Close(&'a str),
    /// Text between tags, character references decoded; CDATA as written.
    Text(Cow<'a, str>),
}

/// Start tags, end tags and text, each with the byte offset where it begins. Processing
/// instructions (the OFX 2 header), comments and declarations are skipped.
struct Tokens<'a> {
    text: &'a str,
    pos: usize,
    /// The end of a self-closing `<NAME/>`, handed out right after its start.
    pending_close: Option<(usize, &'a str)>,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Tokens<'a> {
        Tokens { text, pos: 0, pending_close: None }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = (usize, Token<'a>);

    fn next(&mut self) -> Option<(usize, Token<'a>)> {
        if let Some((at, name)) = self.pending_close.take() {
            return Some((at, Token::Close(name)));
        }
        loop {
            let start = self.pos;
            let rest = self.text.get(start..)?;
            if rest.is_empty() {
                return None;
            }
            if let Some(body) = rest.strip_prefix("<![CDATA[") {
                let (content, used) = match body.find("]]>") {
                    Some(end) => (&body[..end], end + 3),
                    None => (body, body.len()),
                };
                self.pos = start + "<![CDATA[".len() + used;
                return Some((start, Token::Text(Cow::Borrowed(content))));
            }
            if let Some(body) = rest.strip_prefix("<!--") {
                self.pos = start + "<!--".len() + body.find("-->").map_or(body.len(), |end| end + 3);
                continue;
            }
            if rest.starts_with("<?") || rest.starts_with("<!") {
                self.pos = start + rest.find('>').map_or(rest.len(), |end| end + 1);
                continue;
            }
            if let Some(tag) = Tag::read(rest) {
                self.pos = start + tag.len;
                if tag.closing {
                    return Some((start, Token::Close(tag.name)));
                }
                if tag.empty {
                    self.pending_close = Some((start, tag.name));
                }
                return Some((start, Token::Open(tag.name)));
            }
            // Text runs to the next `<`; a `<` that starts no tag (`A<B`) is text too.
            let first = rest.chars().next().map_or(1, char::len_utf8);
            let end = rest[first..].find('<').map_or(rest.len(), |i| i + first);
            self.pos = start + end;
            return Some((start, Token::Text(decode_references(&rest[..end]))));
        }
    }
}

/// A start or end tag at the beginning of some text.
struct Tag<'a> {
    name: &'a str,
    closing: bool,
    /// `<NAME/>`
    empty: bool,
    /// Bytes from `<` to `>`, both included.
    len: usize,
}

impl<'a> Tag<'a> {
    fn read(rest: &'a str) -> Option<Tag<'a>> {
        let body = rest.strip_prefix('<')?;
        let (closing, body) = match body.strip_prefix('/') {
            Some(body) => (true, body),
            None => (false, body),
        };
        let name_len = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')))
            .unwrap_or(body.len());
        let name = &body[..name_len];
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return None;
        }
        let after = &body[name_len..];
        let end = after.find('>')?;
        let inside = &after[..end];
        if inside.contains('<') {
            return None;
        }
        Some(Tag {
            name,
            closing,
            empty: inside.trim_end().ends_with('/'),
            len: rest.len() - after.len() + end + 1,
        })
    }
}

/// Decodes `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&nbsp;` and numeric references. An `&`
/// that starts none of them is kept: OFX 1.x files write `AT&T` as it is.
fn decode_references(raw: &str) -> Cow<'_, str> {
    if !raw.contains('&') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after
            .find(';')
            .filter(|&semi| semi <= 10)
            .and_then(|semi| reference(&after[..semi]).map(|c| (c, semi)));
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn reference(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{a0}'),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// Line numbers for offsets that only move forward, without rescanning the file each time.
struct Lines<'a> {
    text: &'a str,
    offset: usize,
    line: u32,
}

impl Lines<'_> {
    fn at(&mut self, offset: usize) -> u32 {
        if offset < self.offset {
            return line_of(self.text, offset);
        }
        let end = offset.min(self.text.len());
        let newlines = self.text.as_bytes()[self.offset..end].iter().filter(|&&b| b == b'\n').count();
        self.line = self.line.saturating_add(u32::try_from(newlines).unwrap_or(u32::MAX));
        self.offset = end;
        self.line
    }
}

// ---------------------------------------------------------------------------------------------
// Structure
// ---------------------------------------------------------------------------------------------

/// The aggregates whose nesting is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Ofx,
    StmtRs,
    CcStmtRs,
    BankAcctFrom,
    CcAcctFrom,
    StmtTrn,
    LedgerBal,
    AvailBal,
    InvStmtRs,
}

impl Aggregate {
    const ALL: [Aggregate; 9] = [
        Aggregate::Ofx,
        Aggregate::StmtRs,
        Aggregate::CcStmtRs,
        Aggregate::BankAcctFrom,
        Aggregate::CcAcctFrom,
        Aggregate::StmtTrn,
        Aggregate::LedgerBal,
        Aggregate::AvailBal,
        Aggregate::InvStmtRs,
    ];

    fn name(self) -> &'static str {
        match self {
            Aggregate::Ofx => "OFX",
            Aggregate::StmtRs => "STMTRS",
            Aggregate::CcStmtRs => "CCSTMTRS",
            Aggregate::BankAcctFrom => "BANKACCTFROM",
            Aggregate::CcAcctFrom => "CCACCTFROM",
            Aggregate::StmtTrn => "STMTTRN",
            Aggregate::LedgerBal => "LEDGERBAL",
            Aggregate::AvailBal => "AVAILBAL",
            Aggregate::InvStmtRs => "INVSTMTRS",
        }
    }

    /// Whether `</self>` ends an open `open`: itself, or the other kind of statement.
    fn ends(self, open: Aggregate) -> bool {
        let statement = |a: Aggregate| matches!(a, Aggregate::StmtRs | Aggregate::CcStmtRs);
        self == open || (statement(self) && statement(open))
    }

    fn named(name: &str) -> Option<Aggregate> {
        Aggregate::ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// These hold leaves only (and untracked aggregates such as `PAYEE`): a tracked aggregate
    /// starting inside one means its end tag is missing.
    fn holds_only_leaves(self) -> bool {
        matches!(
            self,
            Aggregate::StmtTrn
                | Aggregate::BankAcctFrom
                | Aggregate::CcAcctFrom
                | Aggregate::LedgerBal
                | Aggregate::AvailBal
        )
    }
}

/// One `STMTRS` or `CCSTMTRS` being read.
#[derive(Default)]
struct Statement {
    line: u32,
    card: bool,
    bank_id: String,
    acct_id: String,
    acct_type: String,
    curdef: String,
    balance: String,
    balance_on: String,
    /// Set once `BANKACCTFROM`/`CCACCTFROM` has named the account (or the statement ended).
    account: Option<usize>,
    /// Entries read before the account was named.
    waiting: Vec<Entry>,
}

impl Statement {
    fn kind(&self) -> Option<AccountKind> {
        if self.card {
            return Some(AccountKind::CreditCard);
        }
        match self.acct_type.to_ascii_uppercase().as_str() {
            "CHECKING" => Some(AccountKind::Checking),
            "SAVINGS" | "MONEYMRKT" | "CD" => Some(AccountKind::Savings),
            // A line of credit (CREDITLINE) is neither a current account nor a card; say nothing.
            _ => None,
        }
    }

    fn set(&mut self, field: &str, value: &str) {
        let slot = match field {
            "BANKID" => &mut self.bank_id,
            "ACCTID" => &mut self.acct_id,
            "ACCTTYPE" => &mut self.acct_type,
            _ => return,
        };
        keep_first(slot, value);
    }
}

/// One `STMTTRN` being read.
#[derive(Default)]
struct Transaction {
    line: u32,
    kind: String,
    /// `None` when the element is missing, which is a broken file; an empty one is a bad row.
    posted: Option<String>,
    amount: Option<String>,
    fitid: String,
    name: String,
    payee: String,
    memo: String,
    currency: String,
    /// The last currency aggregate opened was `<CURRENCY>`: TRNAMT is in its `CURSYM`. After
    /// `<ORIGCURRENCY>` the amount is already in the statement's currency and CURSYM only says
    /// what it was converted from.
    own_currency: bool,
}

impl Transaction {
    fn set(&mut self, field: &str, value: &str) {
        match field {
            "DTPOSTED" => keep_first_of(&mut self.posted, value),
            "TRNAMT" => keep_first_of(&mut self.amount, value),
            "TRNTYPE" => keep_first(&mut self.kind, value),
            "FITID" => keep_first(&mut self.fitid, value),
            // NAME directly, or inside a PAYEE aggregate; a PAYEE written as a leaf is a name.
            "NAME" => keep_first(&mut self.name, value),
            "PAYEE" => keep_first(&mut self.payee, value),
            "MEMO" => keep_first(&mut self.memo, value),
            "CURSYM" if self.own_currency => keep_first(&mut self.currency, value),
            _ => {}
        }
    }

    fn description(&self) -> String {
        let name = collapse(if self.name.is_empty() { &self.payee } else { &self.name });
        let text = join(name, collapse(&self.memo));
        if text.is_empty() { collapse(&self.kind) } else { text }
    }
}

fn keep_first(slot: &mut String, value: &str) {
    if slot.is_empty() {
        value.clone_into(slot);
    }
}

fn keep_first_of(slot: &mut Option<String>, value: &str) {
    if slot.is_none() {
        *slot = Some(value.to_owned());
    }
}

/// Name and memo as one description, without saying anything twice. OFX 1.x cuts NAME at 32
/// characters and many banks repeat it whole at the start of MEMO: then the memo alone says it
/// all. Others put it at the end of the memo (`POS MERCHANDISE;MCDONALD'S #112`): then the
/// name, and the memo without it.
fn join(name: String, memo: String) -> String {
    // ASCII lower-casing keeps every byte where it was, so offsets found in the lower-cased
    // memo hold in the memo.
    let (lower_name, lower_memo) = (name.to_ascii_lowercase(), memo.to_ascii_lowercase());
    if memo.is_empty() || lower_name.contains(&lower_memo) {
        return name;
    }
    if name.is_empty() || lower_memo.starts_with(&lower_name) {
        return memo;
    }
    let Some(at) = lower_memo.find(&lower_name) else {
        return format!("{name} · {memo}");
    };
    let rest = collapse(&format!("{} {}", &memo[..at], &memo[at + name.len()..]));
    let rest = rest.trim_matches(|c: char| c.is_whitespace() || matches!(c, ';' | ',' | '-' | ':' | '/'));
    if rest.is_empty() { name } else { format!("{name} · {rest}") }
}

struct Reader<'a> {
    lines: Lines<'a>,
    /// The tracked aggregates open, with the line each started on.
    stack: Vec<(Aggregate, u32)>,
    /// The element whose text is being read.
    leaf: Option<(&'a str, String)>,
    seen_ofx: bool,
    statements: usize,
    /// The line of an `INVSTMTRS` being skipped.
    skipping: Option<u32>,
    /// `<SONRS><FI><ORG>`: the bank, for statements that give no BANKID (credit cards).
    org: Option<String>,
    statement: Option<Statement>,
    transaction: Option<Transaction>,
    accounts: Vec<StatementAccount>,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Reader<'a> {
        Reader {
            lines: Lines { text, offset: 0, line: 1 },
            stack: Vec::new(),
            leaf: None,
            seen_ofx: false,
            statements: 0,
            skipping: None,
            org: None,
            statement: None,
            transaction: None,
            accounts: Vec::new(),
        }
    }

    fn token(&mut self, at: usize, token: Token<'a>, sink: &mut dyn FnMut(Item)) -> Result<(), FileError> {
        if self.skipping.is_some() {
            if let Token::Close(name) = token
                && Aggregate::named(name) == Some(Aggregate::InvStmtRs)
            {
                self.skipping = None;
            }
            return Ok(());
        }
        match token {
            Token::Text(text) => {
                if let Some((_, value)) = &mut self.leaf {
                    value.push_str(&text);
                }
                Ok(())
            }
            Token::Open(name) => {
                self.end_leaf();
                match Aggregate::named(name) {
                    Some(aggregate) => {
                        let line = self.lines.at(at);
                        self.open(aggregate, line)
                    }
                    None => {
                        self.note_currency_block(name);
                        self.leaf = Some((name, String::new()));
                        Ok(())
                    }
                }
            }
            Token::Close(name) => {
                let ends_leaf = self.leaf.as_ref().is_some_and(|(open, _)| open.eq_ignore_ascii_case(name));
                self.end_leaf();
                match Aggregate::named(name) {
                    Some(aggregate) if !ends_leaf => {
                        let line = self.lines.at(at);
                        self.close(aggregate, line, sink)
                    }
                    // The end of a leaf (XML) or of an aggregate nobody tracks (`</STATUS>`).
                    _ => Ok(()),
                }
            }
        }
    }

    fn open(&mut self, aggregate: Aggregate, line: u32) -> Result<(), FileError> {
        match self.stack.last() {
            None if aggregate != Aggregate::Ofx => {
                return Err(FileError::at(line, format!("<{}> outside <OFX>", aggregate.name())));
            }
            Some(&(parent, parent_line)) if parent.holds_only_leaves() => {
                return Err(FileError::at(
                    line,
                    format!(
                        "<{}> inside <{}> (from line {parent_line}): is </{}> missing?",
                        aggregate.name(),
                        parent.name(),
                        parent.name()
                    ),
                ));
            }
            _ => {}
        }
        match aggregate {
            Aggregate::Ofx => self.seen_ofx = true,
            Aggregate::InvStmtRs => {
                self.skipping = Some(line);
                return Ok(());
            }
            Aggregate::StmtRs | Aggregate::CcStmtRs => {
                if let Some(open) = &self.statement {
                    return Err(FileError::at(
                        line,
                        format!("<{}> inside the statement from line {}", aggregate.name(), open.line),
                    ));
                }
                self.statement =
                    Some(Statement { line, card: aggregate == Aggregate::CcStmtRs, ..Statement::default() });
                self.statements += 1;
            }
            Aggregate::StmtTrn => self.transaction = Some(Transaction { line, ..Transaction::default() }),
            _ => {}
        }
        self.stack.push((aggregate, line));
        Ok(())
    }

    fn close(
        &mut self,
        aggregate: Aggregate,
        line: u32,
        sink: &mut dyn FnMut(Item),
    ) -> Result<(), FileError> {
        let not_open = || FileError::at(line, format!("</{0}> without an open <{0}>", aggregate.name()));
        let Some(&(open, open_line)) = self.stack.last() else {
            return Err(not_open());
        };
        if !aggregate.ends(open) {
            if self.stack.iter().any(|&(a, _)| aggregate.ends(a)) {
                return Err(FileError::at(
                    line,
                    format!(
                        "</{}> while <{}> from line {open_line} is still open",
                        aggregate.name(),
                        open.name()
                    ),
                ));
            }
            return Err(not_open());
        }
        self.stack.pop();
        match open {
            Aggregate::BankAcctFrom | Aggregate::CcAcctFrom => self.name_account(sink),
            Aggregate::StmtTrn => self.end_transaction(sink)?,
            Aggregate::StmtRs | Aggregate::CcStmtRs => self.end_statement(sink),
            _ => {}
        }
        Ok(())
    }

    /// `<CURRENCY>` and `<ORIGCURRENCY>` are not tracked (nothing needs their nesting checked);
    /// only which of them a `CURSYM` belongs to.
    fn note_currency_block(&mut self, name: &str) {
        if let (Some(transaction), Some(&(Aggregate::StmtTrn, _))) =
            (&mut self.transaction, self.stack.last())
        {
            if name.eq_ignore_ascii_case("CURRENCY") {
                transaction.own_currency = true;
            } else if name.eq_ignore_ascii_case("ORIGCURRENCY") {
                transaction.own_currency = false;
            }
        }
    }

    /// Hands a leaf's text to whatever the innermost tracked aggregate is.
    fn end_leaf(&mut self) {
        let Some((name, value)) = self.leaf.take() else {
            return;
        };
        let Some(&(top, _)) = self.stack.last() else {
            return;
        };
        let field = name.to_ascii_uppercase();
        let value = value.trim();
        match top {
            Aggregate::StmtTrn => {
                if let Some(transaction) = &mut self.transaction {
                    transaction.set(&field, value);
                }
            }
            Aggregate::BankAcctFrom | Aggregate::CcAcctFrom => {
                if let Some(statement) = &mut self.statement {
                    statement.set(&field, value);
                }
            }
            Aggregate::StmtRs | Aggregate::CcStmtRs => {
                if let Some(statement) = &mut self.statement
                    && field == "CURDEF"
                {
                    keep_first(&mut statement.curdef, value);
                }
            }
            Aggregate::LedgerBal => {
                if let Some(statement) = &mut self.statement {
                    match field.as_str() {
                        "BALAMT" => keep_first(&mut statement.balance, value),
                        "DTASOF" => keep_first(&mut statement.balance_on, value),
                        _ => {}
                    }
                }
            }
            Aggregate::Ofx => {
                if field == "ORG" && self.org.is_none() && !value.is_empty() {
                    self.org = Some(value.to_owned());
                }
            }
            Aggregate::AvailBal | Aggregate::InvStmtRs => {}
        }
    }

    fn end_transaction(&mut self, sink: &mut dyn FnMut(Item)) -> Result<(), FileError> {
        let Some(transaction) = self.transaction.take() else {
            return Ok(());
        };
        // A STMTTRN outside a bank or card statement is not a movement of one of its accounts.
        let Some(statement) = &mut self.statement else {
            return Ok(());
        };
        let line = transaction.line;
        let posted = transaction
            .posted
            .as_deref()
            .ok_or_else(|| FileError::at(line, "<STMTTRN> has no <DTPOSTED>"))?;
        let written =
            transaction.amount.as_deref().ok_or_else(|| FileError::at(line, "<STMTTRN> has no <TRNAMT>"))?;
        let Some(date) = ofx_date(posted) else {
            sink(Item::Error(RowError {
                line,
                message: format!("DTPOSTED {posted:?} is not a date (YYYYMMDD…)"),
            }));
            return Ok(());
        };
        let Some(amount) = ofx_amount(written) else {
            sink(Item::Error(RowError { line, message: format!("TRNAMT {written:?} is not an amount") }));
            return Ok(());
        };
        let entry = Entry {
            line,
            account: statement.account.unwrap_or(0),
            date,
            amount,
            currency: currency_code(&transaction.currency),
            description: transaction.description(),
            bank_id: Some(transaction.fitid).filter(|id| !id.is_empty()),
            category: None,
        };
        if statement.account.is_some() {
            sink(Item::Entry(entry));
        } else {
            statement.waiting.push(entry);
        }
        Ok(())
    }

    /// Finds or adds the statement's account once it is named, and hands out what waited for it.
    fn name_account(&mut self, sink: &mut dyn FnMut(Item)) {
        let Some(statement) = &mut self.statement else {
            return;
        };
        if statement.account.is_some() {
            return;
        }
        let kind = statement.kind();
        let found = self.accounts.iter().position(|a| a.number == statement.acct_id && a.kind == kind);
        let index = match found {
            Some(index) => index,
            None => {
                let institution = if statement.bank_id.is_empty() {
                    self.org.clone()
                } else {
                    Some(statement.bank_id.clone())
                };
                self.accounts.push(StatementAccount {
                    number: statement.acct_id.clone(),
                    institution,
                    currency: currency_code(&statement.curdef),
                    kind,
                    opening: None,
                    closing: None,
                });
                self.accounts.len() - 1
            }
        };
        statement.account = Some(index);
        for mut entry in statement.waiting.drain(..) {
            entry.account = index;
            sink(Item::Entry(entry));
        }
    }

    fn end_statement(&mut self, sink: &mut dyn FnMut(Item)) {
        // A statement that never named its account still had one (its number unknown).
        self.name_account(sink);
        let Some(statement) = self.statement.take() else {
            return;
        };
        let Some(account) = statement.account.and_then(|index| self.accounts.get_mut(index)) else {
            return;
        };
        if account.currency.is_none() {
            account.currency = currency_code(&statement.curdef);
        }
        // The same account twice: the later balance is the closing one.
        if let Some(closing) = balance(&statement.balance, &statement.balance_on)
            && account.closing.as_ref().is_none_or(|held| held.on <= closing.on)
        {
            account.closing = Some(closing);
        }
    }

    fn finish(mut self) -> Result<Vec<StatementAccount>, FileError> {
        self.end_leaf();
        if !self.seen_ofx {
            return Err(FileError::at(1, "not an OFX file: there is no <OFX> element"));
        }
        if let Some(line) = self.skipping {
            return Err(FileError::at(line, "<INVSTMTRS> is never closed: the file ends inside it"));
        }
        if let Some(&(open, line)) = self.stack.last() {
            return Err(FileError::at(
                line,
                format!("<{}> is never closed: the file ends inside it (cut short?)", open.name()),
            ));
        }
        if self.statements == 0 {
            return Err(FileError::at(0, "the file has no statement (no <STMTRS> or <CCSTMTRS>)"));
        }
        Ok(self.accounts)
    }
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/// `YYYYMMDD`, optionally followed by a time, fraction and zone (`20090401122017.000[-5:EST]`):
/// the day as the bank wrote it, the zone ignored.
fn ofx_date(text: &str) -> Option<NaiveDate> {
    let day = text.trim().get(..8)?;
    if !day.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year = day[..4].parse().ok()?;
    let month = day[4..6].parse().ok()?;
    let day = day[6..8].parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// OFX writes `-12.34`; some European OFX 1.x exports write `-12,34`.
fn ofx_amount(text: &str) -> Option<Decimal> {
    let mark =
        if text.contains(',') && !text.contains('.') { DecimalMark::Comma } else { DecimalMark::Point };
    parse_amount(text, mark)
}

fn balance(amount: &str, on: &str) -> Option<Balance> {
    Some(Balance { amount: ofx_amount(amount)?, on: ofx_date(on)? })
}

/// Three letters, upper-cased; anything else is not a currency code.
fn currency_code(text: &str) -> Option<String> {
    let text = text.trim();
    if text.len() == 3 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
        Some(text.to_ascii_uppercase())
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    type Read = (Result<Vec<StatementAccount>, FileError>, Vec<Item>);

    fn run(text: &str) -> Read {
        let mut items = Vec::new();
        let result = read(text, &mut |item: Item| items.push(item));
        (result, items)
    }

    fn entries(items: &[Item]) -> Vec<&Entry> {
        items
            .iter()
            .filter_map(|item| match item {
                Item::Entry(entry) => Some(entry),
                Item::Error(_) => None,
            })
            .collect()
    }

    fn errors(items: &[Item]) -> Vec<&RowError> {
        items
            .iter()
            .filter_map(|item| match item {
                Item::Error(error) => Some(error),
                Item::Entry(_) => None,
            })
            .collect()
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    const SGML: &str = "OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX>
<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>
<DTSERVER>20260301120000<LANGUAGE>ENG<INTU.BID>00024</SONRS></SIGNONMSGSRSV1>
<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<STMTRS><CURDEF>eur
<BANKACCTFROM><BANKID>12345<ACCTID>DE0012<ACCTTYPE>SAVINGS</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20260201<DTEND>20260301
<STMTTRN>
<TRNTYPE>POS
<DTPOSTED>20260203120000.000[-5:EST]
<TRNAMT>-12.34
<FITID> 0001 
<NAME>CAFE CENTRAL
<MEMO>Card   payment
</STMTTRN>
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260205<TRNAMT>1500<FITID>0002<NAME>SALARY</STMTTRN>
</BANKTRANLIST>
<LEDGERBAL><BALAMT>1487.66<DTASOF>20260301</LEDGERBAL>
<AVAILBAL><BALAMT>999.99<DTASOF>20260302</AVAILBAL>
</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>
";

    #[test]
    fn sgml_leaves_without_end_tags() {
        let (result, items) = run(SGML);
        let accounts = result.unwrap();
        assert_eq!(
            accounts,
            vec![StatementAccount {
                number: "DE0012".into(),
                institution: Some("12345".into()),
                currency: Some("EUR".into()),
                kind: Some(AccountKind::Savings),
                opening: None,
                closing: Some(Balance { amount: dec("1487.66"), on: day("2026-03-01") }),
            }]
        );
        let entries = entries(&items);
        assert_eq!(entries.len(), 2);
        assert_eq!(
            *entries[0],
            Entry {
                line: 18,
                account: 0,
                date: day("2026-02-03"),
                amount: dec("-12.34"),
                currency: None,
                description: "CAFE CENTRAL · Card payment".into(),
                bank_id: Some("0001".into()),
                category: None,
            }
        );
        assert_eq!(entries[1].line, 26);
        assert_eq!(entries[1].amount, dec("1500"));
        assert_eq!(entries[1].description, "SALARY");
        assert!(errors(&items).is_empty());
    }

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>
<OFX>
  <!-- a comment with <STMTTRN> in it -->
  <SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>
    <FI><ORG>Big &amp; Small Bank</ORG><FID>1</FID></FI></SONRS></SIGNONMSGSRSV1>
  <BANKMSGSRSV1><STMTTRNRS><TRNUID>1</TRNUID>
    <STMTRS>
      <CURDEF>USD</CURDEF>
      <BANKACCTFROM><BANKID>021000021</BANKID><ACCTID>1234</ACCTID><ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM>
      <BANKTRANLIST>
        <STMTTRN>
          <TRNTYPE>DEBIT</TRNTYPE>
          <DTPOSTED>20251231</DTPOSTED>
          <TRNAMT>-5.00</TRNAMT>
          <FITID>A1</FITID>
          <NAME><![CDATA[AT&T <WIRELESS>]]></NAME>
          <MEMO/>
        </STMTTRN>
        <STMTTRN>
          <TRNTYPE>DEBIT</TRNTYPE>
          <DTPOSTED>20260101</DTPOSTED>
          <TRNAMT>-7.5</TRNAMT>
          <FITID>A2</FITID>
          <PAYEE><NAME>Caf&#233; &lt;Nord&gt; H&M &#x263A;</NAME><ADDR1>1 Main St</ADDR1></PAYEE>
          <CURRENCY><CURRATE>1.1</CURRATE><CURSYM>eur</CURSYM></CURRENCY>
        </STMTTRN>
      </BANKTRANLIST>
      <LEDGERBAL><BALAMT>100.00</BALAMT><DTASOF>20260102</DTASOF></LEDGERBAL>
    </STMTRS>
  </STMTTRNRS></BANKMSGSRSV1>
</OFX>
"#;

    #[test]
    fn xml_with_end_tags_cdata_and_references() {
        let (result, items) = run(XML);
        let accounts = result.unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].number, "1234");
        assert_eq!(accounts[0].kind, Some(AccountKind::Checking));
        assert_eq!(accounts[0].institution.as_deref(), Some("021000021"));
        assert_eq!(accounts[0].closing, Some(Balance { amount: dec("100.00"), on: day("2026-01-02") }));
        let entries = entries(&items);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].line, 12);
        assert_eq!(entries[0].date, day("2025-12-31"));
        assert_eq!(entries[0].description, "AT&T <WIRELESS>");
        assert_eq!(entries[0].currency, None);
        assert_eq!(entries[1].description, "Café <Nord> H&M ☺");
        assert_eq!(entries[1].amount, dec("-7.5"));
        assert_eq!(entries[1].currency.as_deref(), Some("EUR"));
        assert_eq!(entries[1].bank_id.as_deref(), Some("A2"));
    }

    #[test]
    fn an_amount_already_converted_keeps_the_account_currency() {
        let text = "<OFX><STMTRS><CURDEF>USD<BANKACCTFROM><ACCTID>1</BANKACCTFROM><BANKTRANLIST>
<STMTTRN><DTPOSTED>20260101<TRNAMT>-11.00<ORIGCURRENCY><CURRATE>1.1<CURSYM>EUR</ORIGCURRENCY><NAME>X</STMTTRN>
</BANKTRANLIST></STMTRS></OFX>";
        let (result, items) = run(text);
        assert_eq!(result.unwrap()[0].currency.as_deref(), Some("USD"));
        assert_eq!(entries(&items)[0].currency, None);
    }

    const BANK_AND_CARD: &str = "<OFX>
<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><FI><ORG>MYBANK<FID>77</FI></SONRS></SIGNONMSGSRSV1>
<BANKMSGSRSV1>
<STMTTRNRS><TRNUID>1<STMTRS><CURDEF>GBP<BANKACCTFROM><BANKID>200000<ACCTID>111<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20260110<TRNAMT>-1.00<FITID>b1<NAME>TEA</STMTTRN></BANKTRANLIST>
<LEDGERBAL><BALAMT>10.00<DTASOF>20260110</LEDGERBAL></STMTRS></STMTTRNRS>
<STMTTRNRS><TRNUID>2<STMTRS><CURDEF>GBP<BANKACCTFROM><BANKID>200000<ACCTID>111<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20260120<TRNAMT>-2.00<FITID>b2<NAME>COFFEE</STMTTRN></BANKTRANLIST>
<LEDGERBAL><BALAMT>8.00<DTASOF>20260120</LEDGERBAL></STMTRS></STMTTRNRS>
</BANKMSGSRSV1>
<CREDITCARDMSGSRSV1><CCSTMTTRNRS><TRNUID>3<CCSTMTRS><CURDEF>GBP<CCACCTFROM><ACCTID>4111</CCACCTFROM>
<BANKTRANLIST>
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20260115<TRNAMT>-30.00<FITID>c1<NAME>BOOKS</STMTTRN>
<STMTTRN><TRNTYPE>PAYMENT<DTPOSTED>20260116<TRNAMT>30.00<FITID>c2</STMTTRN>
</BANKTRANLIST>
<LEDGERBAL><BALAMT>-0.00<DTASOF>20260131</LEDGERBAL></CCSTMTRS></CCSTMTTRNRS></CREDITCARDMSGSRSV1>
</OFX>";

    #[test]
    fn a_bank_account_and_a_card_and_the_same_account_twice() {
        let (result, items) = run(BANK_AND_CARD);
        let accounts = result.unwrap();
        assert_eq!(accounts.len(), 2);
        assert_eq!(accounts[0].number, "111");
        assert_eq!(accounts[0].institution.as_deref(), Some("200000"));
        assert_eq!(accounts[0].closing, Some(Balance { amount: dec("8.00"), on: day("2026-01-20") }));
        assert_eq!(accounts[1].number, "4111");
        assert_eq!(accounts[1].kind, Some(AccountKind::CreditCard));
        assert_eq!(accounts[1].institution.as_deref(), Some("MYBANK"));
        assert_eq!(accounts[1].currency.as_deref(), Some("GBP"));
        let entries = entries(&items);
        let by_account: Vec<(usize, &str)> =
            entries.iter().map(|e| (e.account, e.description.as_str())).collect();
        assert_eq!(by_account, vec![(0, "TEA"), (0, "COFFEE"), (1, "BOOKS"), (1, "PAYMENT")]);
        assert_eq!(entries[2].line, 13);
    }

    #[test]
    fn entries_before_the_account_is_named_wait_for_it() {
        let text = "<OFX><STMTRS><BANKTRANLIST>
<STMTTRN><DTPOSTED>20260101<TRNAMT>1<NAME>A</STMTTRN>
</BANKTRANLIST><BANKACCTFROM><ACCTID>9</BANKACCTFROM></STMTRS>
<STMTRS><BANKACCTFROM><ACCTID>8</BANKACCTFROM><BANKTRANLIST>
<STMTTRN><DTPOSTED>20260102<TRNAMT>2<NAME>B</STMTTRN>
</BANKTRANLIST></STMTRS></OFX>";
        let (result, items) = run(text);
        let numbers: Vec<String> = result.unwrap().into_iter().map(|a| a.number).collect();
        assert_eq!(numbers, vec!["9", "8"]);
        let placed: Vec<(usize, u32)> = entries(&items).iter().map(|e| (e.account, e.line)).collect();
        assert_eq!(placed, vec![(0, 2), (1, 5)]);
    }

    #[test]
    fn a_bad_amount_or_date_is_a_row_error_and_the_rest_reads() {
        let text = "<OFX><STMTRS><BANKACCTFROM><ACCTID>1</BANKACCTFROM><BANKTRANLIST>
<STMTTRN><DTPOSTED>20260101<TRNAMT>abc<NAME>A</STMTTRN>
<STMTTRN><DTPOSTED>2026-01-02<TRNAMT>1.00<NAME>B</STMTTRN>
<STMTTRN><DTPOSTED>20260230<TRNAMT>1.00<NAME>C</STMTTRN>
<STMTTRN><DTPOSTED><TRNAMT>1.00<NAME>D</STMTTRN>
<STMTTRN><DTPOSTED>20260103<TRNAMT>-12,34<NAME>E</STMTTRN>
</BANKTRANLIST></STMTRS></OFX>";
        let (result, items) = run(text);
        assert_eq!(result.unwrap().len(), 1);
        let lines: Vec<u32> = errors(&items).iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5]);
        assert!(errors(&items)[0].message.contains("\"abc\""), "{:?}", errors(&items)[0]);
        let entries = entries(&items);
        assert_eq!(entries.len(), 1);
        assert_eq!((entries[0].line, entries[0].amount), (6, dec("-12.34")));
    }

    #[test]
    fn slips_real_banks_make_are_let_through() {
        // Nubank: the transaction list is never closed.
        let open_list = "<OFX><CCSTMTRS><CURDEF>BRL<CCACCTFROM><ACCTID>1</CCACCTFROM><BANKTRANLIST>
<STMTTRN><DTPOSTED>20240323000000[-3:GMT]<TRNAMT>-13.00<FITID>a<MEMO>m</STMTTRN>
<LEDGERBAL><BALAMT>-13.00<DTASOF>20240325000000[-3:GMT]</LEDGERBAL>
</CCSTMTRS></OFX>";
        let (result, items) = run(open_list);
        let accounts = result.unwrap();
        assert_eq!(accounts[0].closing, Some(Balance { amount: dec("-13.00"), on: day("2024-03-25") }));
        assert_eq!(entries(&items).len(), 1);

        // Commonwealth Bank of Australia: a card statement closed as a bank statement.
        let crossed = "<OFX><CCSTMTRS><CCACCTFROM><ACCTID>1</CCACCTFROM><BANKTRANLIST>
<STMTTRN><DTPOSTED>20190101<TRNAMT>-1.00<FITID>a<NAME>n</STMTTRN>
</BANKTRANLIST></STMTRS></OFX>";
        let (result, items) = run(crossed);
        assert_eq!(result.unwrap()[0].kind, Some(AccountKind::CreditCard));
        assert_eq!(entries(&items).len(), 1);
    }

    fn refused(text: &str) -> FileError {
        run(text).0.unwrap_err()
    }

    #[test]
    fn broken_structure_refuses_the_file_naming_the_line() {
        let stray = "<OFX><STMTRS><BANKACCTFROM><ACCTID>1</BANKACCTFROM><BANKTRANLIST>
<DTSTART>20260101
</STMTTRN>
</BANKTRANLIST></STMTRS></OFX>";
        let error = refused(stray);
        assert_eq!(error.line, 3);
        assert!(error.message.contains("</STMTTRN>"), "{error}");

        let cut = "<OFX>
<STMTRS><BANKACCTFROM><ACCTID>1</BANKACCTFROM><BANKTRANLIST>
<STMTTRN><DTPOSTED>20260101<TRNAMT>1.00</STMTTRN>
</BANKTRANLIST>
";
        let error = refused(cut);
        assert_eq!(error.line, 2);
        assert!(error.message.contains("<STMTRS>"), "{error}");

        let unclosed_transaction = "<OFX><STMTRS><BANKACCTFROM><ACCTID>1</BANKACCTFROM><BANKTRANLIST>
<STMTTRN><DTPOSTED>20260101<TRNAMT>1.00
<STMTTRN><DTPOSTED>20260102<TRNAMT>2.00</STMTTRN>
</BANKTRANLIST></STMTRS></OFX>";
        let error = refused(unclosed_transaction);
        assert_eq!(error.line, 3);
        assert!(error.message.contains("</STMTTRN> missing"), "{error}");

        let crossed = "<OFX><STMTRS><BANKACCTFROM><ACCTID>1</BANKACCTFROM><BANKTRANLIST>
<STMTTRN><DTPOSTED>20260101<TRNAMT>1.00
</BANKTRANLIST></STMTRS></OFX>";
        let error = refused(crossed);
        assert_eq!(error.line, 3);
        assert!(error.message.contains("<STMTTRN> from line 2"), "{error}");

        let no_date = "<OFX><STMTRS><BANKACCTFROM><ACCTID>1</BANKACCTFROM><BANKTRANLIST>

<STMTTRN><TRNAMT>1.00<NAME>A</STMTTRN>
</BANKTRANLIST></STMTRS></OFX>";
        let error = refused(no_date);
        assert_eq!(error.line, 3);
        assert!(error.message.contains("DTPOSTED"), "{error}");

        let no_amount = "<OFX><STMTRS><BANKACCTFROM><ACCTID>1</BANKACCTFROM><BANKTRANLIST>
<STMTTRN><DTPOSTED>20260101</STMTTRN></BANKTRANLIST></STMTRS></OFX>";
        assert!(refused(no_amount).message.contains("TRNAMT"));
    }

    #[test]
    fn not_ofx_or_no_statement() {
        assert_eq!(refused("Date,Amount\n2026-01-01,1.00\n").line, 1);
        assert_eq!(refused("").line, 1);
        let error = refused("OFXHEADER:100\n\n<OFX></OFX>\n");
        assert_eq!(error.line, 0);
        assert!(error.message.contains("no statement"));
        assert_eq!(refused("<STMTRS></STMTRS>").line, 1);
    }

    #[test]
    fn investment_statements_are_skipped_whole() {
        let text = "<OFX>
<INVSTMTMSGSRSV1><INVSTMTTRNRS><INVSTMTRS><CURDEF>USD<INVACCTFROM><BROKERID>b<ACCTID>X</INVACCTFROM>
<INVTRANLIST><INVBANKTRAN><STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260101<TRNAMT>5</STMTTRN><SUBACCTFUND>CASH</INVBANKTRAN>
</INVTRANLIST></INVSTMTRS></INVSTMTTRNRS></INVSTMTMSGSRSV1>
<BANKMSGSRSV1><STMTTRNRS><STMTRS><BANKACCTFROM><ACCTID>1</BANKACCTFROM><BANKTRANLIST>
<STMTTRN><DTPOSTED>20260102<TRNAMT>2<NAME>B</STMTTRN></BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1>
</OFX>";
        let (result, items) = run(text);
        assert_eq!(result.unwrap().len(), 1);
        assert_eq!(entries(&items).len(), 1);
        assert_eq!(refused("<OFX><INVSTMTRS><CURDEF>USD</INVSTMTRS></OFX>").line, 0);
        assert_eq!(refused("<OFX>\n<INVSTMTRS><CURDEF>USD</OFX>").line, 2);
    }

    #[test]
    fn the_description_from_name_memo_and_type() {
        let one = |fields: &str| {
            let text = format!(
                "<OFX><STMTRS><BANKACCTFROM><ACCTID>1</BANKACCTFROM><BANKTRANLIST>\
                 <STMTTRN><TRNTYPE>ATM<DTPOSTED>20260101<TRNAMT>1{fields}</STMTTRN></BANKTRANLIST></STMTRS></OFX>"
            );
            let (result, items) = run(&text);
            result.unwrap();
            entries(&items)[0].description.clone()
        };
        assert_eq!(one("<NAME>SHOP<MEMO>shop"), "SHOP");
        assert_eq!(
            one("<NAME>DIVIDEND EARNED FOR<MEMO>DIVIDEND EARNED FOR MARCH"),
            "DIVIDEND EARNED FOR MARCH"
        );
        assert_eq!(one("<NAME>SHOP<MEMO>Groceries"), "SHOP · Groceries");
        assert_eq!(
            one("<NAME>MCDONALD'S #112<MEMO>POS MERCHANDISE;MCDONALD'S #112"),
            "MCDONALD'S #112 · POS MERCHANDISE"
        );
        assert_eq!(one("<NAME>Café<MEMO>Card café 12"), "Café · Card 12");
        assert_eq!(one("<MEMO>Only  memo"), "Only memo");
        assert_eq!(one("<NAME><MEMO>"), "ATM");
    }

    #[test]
    fn dates_amounts_and_references() {
        assert_eq!(ofx_date("20090401122017.000[-5:EST]"), Some(day("2009-04-01")));
        assert_eq!(ofx_date("20131215"), Some(day("2013-12-15")));
        assert_eq!(ofx_date("2013121"), None);
        assert_eq!(ofx_date("20131315"), None);
        assert_eq!(ofx_amount("-1234,5"), Some(dec("-1234.5")));
        assert_eq!(ofx_amount("+5.00"), Some(dec("5.00")));
        assert_eq!(ofx_amount(""), None);
        assert_eq!(decode_references("a &amp b &#65; &#x42; &bogus; &"), "a &amp b A B &bogus; &");
        assert_eq!(currency_code(" usd "), Some("USD".into()));
        assert_eq!(currency_code("Euro"), None);
    }

    #[test]
    fn tokens() {
        let tokens: Vec<Token<'_>> = Tokens::new("<A>x<B/></A><!-- c --><?pi?>1<2").map(|(_, t)| t).collect();
        assert_eq!(
            tokens,
            vec![
                Token::Open("A"),
                Token::Text(Cow::Borrowed("x")),
                Token::Open("B"),
                Token::Close("B"),
                Token::Close("A"),
                Token::Text(Cow::Borrowed("1")),
                Token::Text(Cow::Borrowed("<2")),
            ]
        );
    }
}
