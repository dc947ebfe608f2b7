//! SWIFT MT940 customer statements, as banks export them for download.
//!
//! A message is a run of fields, each starting with `:NN[a]:` at the start of a line and going
//! on over the following lines that do not start a field. Around the fields banks put things
//! that are not fields, all skipped:
//!
//! - SWIFT block headers `{1:…}{2:…}{4:` before a message and `-}` or `-}{5:…}` after it;
//! - a plain `-` (ABN AMRO, SNS) or `-XXX` (ING) between messages, and header lines such as
//!   `ABNANL2A`, `940` or `:940:` (Rabobank) before the first field of a message.
//!
//! The fields read are `:25:` (the account), `:60F:`/`:60M:` and `:62F:`/`:62M:` (balances,
//! `C|D YYMMDD CCY amount` with a decimal comma), `:61:` (an entry) and `:86:` (the text of
//! the `:61:` before it). The rest (`:20:`, `:28C:`, `:64:`, `:65:`, `:NS:`, …) only ends the
//! field before it. The quirks handled:
//!
//! - Several messages of one `:25:` account are one account: the opening balance of the first,
//!   the closing balance of the last, as a download of several days comes.
//! - `:61:` is `YYMMDD[MMDD](C|D|RC|RD)[funds letter]amount(N|F|S)xxx[customer ref][//bank ref]`
//!   with supplementary details on the next line. `RC` (reversal of a credit) takes money out
//!   and `RD` puts it back in. The optional letter after the mark is the third letter of the
//!   currency (`CR300,` is a credit of 300 in a currency ending in R). Amounts may lack the
//!   comma (`C500NTRF`, Knab) or have leading zeros (`000000001213,28`, Rabobank).
//! - The entry date has no year: it takes the value date's, moved a year back or forward when
//!   the two straddle a new year (value 31 December, booked 2 January).
//! - German banks date interest settlements on 30 February: a day past the month's end is read
//!   as the month's last day.
//! - `:86:` after a `:62F:` (ING's statement summary) belongs to no entry and is skipped;
//!   several `:86:` after one `:61:` (old Rabobank) are joined.
//! - A `:86:` in the German structured form (`166?00GUTSCHRIFT?20…?32…`, a three-digit
//!   transaction code then `?NN` subfields; Triodos writes `>NN`) is described as the other
//!   party (`?32`+`?33`) and the purpose (`?20`–`?29`, `?60`–`?63`), the purpose cut to its
//!   `SVWZ+` text when it has one. A full subfield (27 characters) runs on into the next
//!   mid-word; a shorter one ended at a word. The Dutch form (`/NAME/…/REMI/…`) is described
//!   by `NAME` and `REMI`. Anything else is the text as written.
//! - Structured text is wrapped at a fixed width, mid-word (`CONTRA ACCOUN` / `T HOLDER`), so
//!   its lines are joined as they are; free text lines are joined with a space unless the line
//!   fills the 65 characters of the field, which means the bank wrapped it.
//! - The bank id is the bank reference after `//`, unless it is `NONREF`; a customer reference
//!   is the payer's and not unique, so it is never the id.
//!
//! A file with no `:20:`, `:25:` or `:61:` at all is not a statement and is refused; a `:61:`
//! before any `:25:` cannot be put in an account and refuses the file at its line. A `:61:` or a
//! balance that cannot be read is a row error and the rest of the file still imports.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::model::{Balance, Entry, FileError, Item, RowError, StatementAccount};
use crate::numbers::{DecimalMark, parse_amount};
use crate::text::collapse;

/// The width of a `:86:` line (6 × 65 characters); a line this long was wrapped by the bank.
const LINE_WIDTH: usize = 65;

/// The width of a `?NN` subfield of the German structured `:86:`.
const SUBFIELD_WIDTH: usize = 27;

/// Reads an MT940 file, handing out entries as they are read, and returns its accounts.
pub(crate) fn read(text: &str, sink: &mut dyn FnMut(Item)) -> Result<Vec<StatementAccount>, FileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut statements = Statements::default();
    let mut field: Option<Field<'_>> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let mut content = raw;
        if content.starts_with('{') {
            statements.take(field.take(), sink)?;
            match content.find("{4:") {
                Some(at) => content = &content[at + 3..],
                // `{5:…}` and the other blocks hold no fields.
                None => continue,
            }
            if content.trim().is_empty() {
                continue;
            }
        }
        if ends_message(content) {
            statements.take(field.take(), sink)?;
            statements.end_message(sink);
            continue;
        }
        if let Some((tag, rest)) = split_tag(content) {
            statements.take(field.take(), sink)?;
            field = Some(Field { tag, line, lines: vec![rest] });
        } else if let Some(open) = field.as_mut() {
            open.lines.push(content);
        }
        // A line outside any field is a header (`ABNANL2A`, `940`, `:940:`): skipped.
    }
    statements.take(field.take(), sink)?;
    statements.end_message(sink);
    statements.finish()
}

/// One field: its tag (`61`, `60F`), the line it starts on, its text line by line (the first
/// without the tag).
struct Field<'t> {
    tag: &'t str,
    line: u32,
    lines: Vec<&'t str>,
}

/// `:NN:`, `:NNa:` or `:NS:` at the start of a line: the tag and the rest of the line.
fn split_tag(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix(':')?;
    let (end, _) = rest.char_indices().take(4).find(|(_, c)| *c == ':')?;
    let tag = &rest[..end];
    let bytes = tag.as_bytes();
    let named = bytes.len() >= 2
        && bytes[..2].iter().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        && bytes[2..].iter().all(u8::is_ascii_uppercase);
    (named && bytes.len() <= 3).then(|| (tag, &rest[end + 1..]))
}

/// `-`, `-XXX` or `-}` (with `{5:…}` after it): the end of a message.
fn ends_message(line: &str) -> bool {
    let line = line.trim();
    line.starts_with("-}")
        || line
            .strip_prefix('-')
            .is_some_and(|rest| rest.len() <= 5 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// An entry read from its `:61:`, waiting for its `:86:`.
struct Pending {
    line: u32,
    account: usize,
    date: NaiveDate,
    amount: Decimal,
    currency: Option<String>,
    bank_id: Option<String>,
    /// Supplementary details or customer reference, for an entry without `:86:`.
    fallback: String,
    /// The `:86:` fields, each joined from its lines.
    information: Vec<String>,
}

#[derive(Default)]
struct Statements {
    accounts: Vec<StatementAccount>,
    /// The account of the message being read (`:25:`).
    current: Option<usize>,
    /// The currency of the message being read (its opening balance's).
    currency: Option<String>,
    pending: Option<Pending>,
    /// Whether a `:20:`, `:25:` or `:61:` was seen: whether this is MT940 at all.
    seen_field: bool,
}

impl Statements {
    /// Reads a completed field.
    fn take(&mut self, field: Option<Field<'_>>, sink: &mut dyn FnMut(Item)) -> Result<(), FileError> {
        let Some(field) = field else {
            return Ok(());
        };
        if field.tag == "86" {
            if let Some(pending) = self.pending.as_mut() {
                pending.information.push(join_lines(&field.lines));
            }
            return Ok(());
        }
        self.flush(sink);
        let first = field.lines.first().copied().unwrap_or_default();
        match field.tag {
            "20" => {
                self.seen_field = true;
                self.current = None;
                self.currency = None;
            }
            "25" => {
                self.seen_field = true;
                self.current = Some(self.account(first.trim()));
            }
            "60F" | "60M" => self.balance(&field, first, true, sink),
            "62F" | "62M" => self.balance(&field, first, false, sink),
            "61" => {
                self.seen_field = true;
                let Some(account) = self.current else {
                    return Err(FileError::at(
                        field.line,
                        "a statement line (:61:) comes before any account (:25:)",
                    ));
                };
                match statement_line(first) {
                    Ok(read) => {
                        let details = field.lines.iter().skip(1).map(|l| l.trim()).find(|l| !l.is_empty());
                        let currency = self
                            .currency
                            .clone()
                            .or_else(|| self.accounts.get(account).and_then(|a| a.currency.clone()));
                        self.pending = Some(Pending {
                            line: field.line,
                            account,
                            date: read.date,
                            amount: read.amount,
                            currency,
                            bank_id: read.bank_reference,
                            fallback: details.or(read.customer_reference).unwrap_or_default().to_owned(),
                            information: Vec::new(),
                        });
                    }
                    Err(why) => sink(Item::Error(RowError {
                        line: field.line,
                        message: format!("the statement line :61:{} cannot be read: {why}", first.trim()),
                    })),
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The account named by `:25:`, added on first sight.
    fn account(&mut self, number: &str) -> usize {
        if let Some(index) = self.accounts.iter().position(|a| a.number == number) {
            return index;
        }
        self.accounts.push(StatementAccount {
            number: number.to_owned(),
            institution: institution(number),
            currency: None,
            kind: None,
            opening: None,
            closing: None,
        });
        self.accounts.len() - 1
    }

    fn balance(&mut self, field: &Field<'_>, text: &str, opening: bool, sink: &mut dyn FnMut(Item)) {
        let Some(account) = self.current.and_then(|i| self.accounts.get_mut(i)) else {
            return;
        };
        match balance(text) {
            Ok((read, currency)) => {
                if opening {
                    self.currency = Some(currency.clone());
                    if account.opening.is_none() {
                        account.opening = Some(read);
                    }
                } else {
                    account.closing = Some(read);
                }
                if account.currency.is_none() {
                    account.currency = Some(currency);
                }
            }
            Err(why) => sink(Item::Error(RowError {
                line: field.line,
                message: format!("the balance :{}:{} cannot be read: {why}", field.tag, text.trim()),
            })),
        }
    }

    /// Hands out the entry waiting for its `:86:`.
    fn flush(&mut self, sink: &mut dyn FnMut(Item)) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let information = pending.information.join(" ");
        let description = match describe(&information) {
            described if described.is_empty() => collapse(&pending.fallback),
            described => described,
        };
        sink(Item::Entry(Entry {
            line: pending.line,
            account: pending.account,
            date: pending.date,
            amount: pending.amount,
            currency: pending.currency,
            description,
            bank_id: pending.bank_id,
            category: None,
        }));
    }

    fn end_message(&mut self, sink: &mut dyn FnMut(Item)) {
        self.flush(sink);
        self.current = None;
        self.currency = None;
    }

    fn finish(self) -> Result<Vec<StatementAccount>, FileError> {
        if !self.seen_field {
            return Err(FileError::at(1, "not an MT940 statement: no :20:, :25: or :61: field"));
        }
        if self.accounts.is_empty() {
            return Err(FileError::at(1, "not an MT940 statement: no account (:25:)"));
        }
        Ok(self.accounts)
    }
}

/// The bank in `BLZ/ACCOUNT` (`10020030/1234567`) or `BIC/ACCOUNT` (`UBRTHUHB/123…/HUF`).
fn institution(number: &str) -> Option<String> {
    let (bank, account) = number.split_once('/')?;
    let is_code = (1..=11).contains(&bank.len()) && bank.bytes().all(|b| b.is_ascii_alphanumeric());
    (is_code && !account.trim().is_empty()).then(|| bank.to_owned())
}

/// A two-digit year: SWIFT dates are this century's unless they read as 1970 or later.
fn year(yy: u32) -> i32 {
    let yy = i32::try_from(yy).unwrap_or_default();
    if yy < 70 { 2000 + yy } else { 1900 + yy }
}

/// `digits` ASCII digits at the start of `text`, as a number.
fn number(text: &str, digits: usize) -> Option<u32> {
    let part = text.get(..digits)?;
    if part.bytes().all(|b| b.is_ascii_digit()) { part.parse().ok() } else { None }
}

/// A day of `month`, a day past the month's end read as its last (30 February).
fn calendar_day(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    if !(1..=31).contains(&day) {
        return None;
    }
    (day.saturating_sub(3).max(1)..=day).rev().find_map(|d| NaiveDate::from_ymd_opt(year, month, d))
}

/// `YYMMDD` as year, month and day (not yet checked against the calendar).
fn yymmdd(text: &str) -> Option<(i32, u32, u32)> {
    Some((year(number(text, 2)?), number(text.get(2..)?, 2)?, number(text.get(4..)?, 2)?))
}

/// The entry date `MMDD` in the year that puts it nearest the value date.
fn entry_date(value: NaiveDate, month: u32, day: u32) -> Option<NaiveDate> {
    let year = chrono::Datelike::year(&value);
    [year - 1, year, year + 1]
        .into_iter()
        .filter_map(|y| calendar_day(y, month, day))
        .min_by_key(|d| d.signed_duration_since(value).num_days().abs())
}

/// An MT940 amount: digits with an optional decimal comma (`1234,56`, `500,`, `500`).
fn amount(text: &str) -> Option<Decimal> {
    if !text.bytes().all(|b| b.is_ascii_digit() || b == b',')
        || !text.starts_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    parse_amount(text.strip_suffix(',').unwrap_or(text), DecimalMark::Comma)
}

/// `C200101EUR444,29`: the signed balance and its currency.
fn balance(text: &str) -> Result<(Balance, String), String> {
    let text = text.trim();
    let negative = match text.get(..1) {
        Some("C") => false,
        Some("D") => true,
        _ => return Err("it does not start with C or D".to_owned()),
    };
    let (y, m, d) = text.get(1..7).and_then(yymmdd).ok_or("the date is not YYMMDD")?;
    let on = calendar_day(y, m, d).ok_or("the date is not a day")?;
    let currency = text
        .get(7..10)
        .filter(|c| c.bytes().all(|b| b.is_ascii_alphabetic()))
        .ok_or("no currency code after the date")?
        .to_ascii_uppercase();
    let raw = text.get(10..).unwrap_or_default().trim();
    let amount = amount(raw).ok_or_else(|| format!("the amount {raw:?} cannot be read"))?;
    Ok((Balance { amount: if negative { -amount } else { amount }, on }, currency))
}

/// What a `:61:` says.
struct StatementLine<'t> {
    date: NaiveDate,
    amount: Decimal,
    customer_reference: Option<&'t str>,
    bank_reference: Option<String>,
}

fn statement_line(text: &str) -> Result<StatementLine<'_>, String> {
    let text = text.trim();
    let (y, m, d) = yymmdd(text).ok_or("it does not start with a value date YYMMDD")?;
    let value = calendar_day(y, m, d).ok_or("the value date is not a day")?;
    let mut rest = &text[6..];
    let date = match (number(rest, 2), number(rest.get(2..).unwrap_or_default(), 2)) {
        (Some(month), Some(day)) => {
            rest = &rest[4..];
            entry_date(value, month, day).ok_or("the entry date is not a day")?
        }
        _ => value,
    };
    // `RC` and `RD` first: a reversal of a credit takes the money back out.
    let (negative, after) = if let Some(after) = rest.strip_prefix("RC") {
        (true, after)
    } else if let Some(after) = rest.strip_prefix("RD") {
        (false, after)
    } else if let Some(after) = rest.strip_prefix('C') {
        (false, after)
    } else if let Some(after) = rest.strip_prefix('D') {
        (true, after)
    } else {
        return Err("no C, D, RC or RD mark after the date".to_owned());
    };
    let after = after.strip_prefix(|c: char| c.is_ascii_alphabetic()).unwrap_or(after);
    let end = after.find(|c: char| !(c.is_ascii_digit() || c == ',')).unwrap_or(after.len());
    let raw = &after[..end];
    let amount = amount(raw).ok_or_else(|| format!("the amount {raw:?} cannot be read"))?;
    let after = &after[end..];
    if !after.starts_with(['N', 'F', 'S']) || after.get(..4).is_none() {
        return Err("no transaction type (N, F or S and a code) after the amount".to_owned());
    }
    let references = &after[4..];
    let (customer, bank) = references.split_once("//").unwrap_or((references, ""));
    Ok(StatementLine {
        date,
        amount: if negative { -amount } else { amount },
        customer_reference: given(customer),
        bank_reference: given(bank).map(str::to_owned),
    })
}

/// A reference that says something: not blank and not `NONREF`.
fn given(reference: &str) -> Option<&str> {
    let reference = reference.trim();
    (!reference.is_empty() && !reference.eq_ignore_ascii_case("NONREF")).then_some(reference)
}

/// Whether `:86:` text is structured (subfields, or the Dutch `/KEY/` form), which decides how
/// its lines are joined and how it is described.
fn subfield_mark(text: &str) -> Option<u8> {
    let bytes = text.as_bytes();
    match bytes {
        [a, b, c, mark, ..]
            if a.is_ascii_digit()
                && b.is_ascii_digit()
                && c.is_ascii_digit()
                && (*mark == b'?' || *mark == b'>') =>
        {
            Some(*mark)
        }
        [b'?', a, b, ..] if a.is_ascii_digit() && b.is_ascii_digit() => Some(b'?'),
        _ => None,
    }
}

fn slash_form(text: &str) -> bool {
    text.starts_with('/') && text[1..].split('/').next().is_some_and(|key| SLASH_KEYS.contains(&key))
}

/// The lines of a `:86:` as one text: structured text is cut at a fixed width, free text is cut
/// at words unless a line is full.
fn join_lines(lines: &[&str]) -> String {
    let first = lines.first().copied().unwrap_or_default();
    let structured = subfield_mark(first.trim_start()).is_some() || slash_form(first.trim_start());
    let mut joined = String::new();
    let mut previous: Option<&str> = None;
    for &line in lines {
        if let Some(previous) = previous
            && !structured
            && previous.chars().count() < LINE_WIDTH
        {
            joined.push(' ');
        }
        joined.push_str(line);
        previous = Some(line);
    }
    joined
}

/// The text of a `:86:`, as a person would read it.
fn describe(information: &str) -> String {
    let information = information.trim();
    let described = match subfield_mark(information) {
        Some(mark) => german(information, mark),
        None if slash_form(information) => dutch(information),
        None => None,
    };
    collapse(described.as_deref().unwrap_or(information))
}

fn join_given(who: &str, what: &str) -> Option<String> {
    let parts: Vec<&str> = [who.trim(), what.trim()].into_iter().filter(|p| !p.is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// `GVC?00text?20purpose…?32name?33name`: the subfields by their two-digit codes.
fn subfields(text: &str, mark: u8) -> Vec<(&str, &str)> {
    let starts: Vec<usize> = text
        .as_bytes()
        .windows(3)
        .enumerate()
        .filter(|(_, w)| w[0] == mark && w[1].is_ascii_digit() && w[2].is_ascii_digit())
        .map(|(i, _)| i)
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, &start)| {
            let end = starts.get(n + 1).copied().unwrap_or(text.len());
            (&text[start + 1..start + 3], &text[start + 3..end])
        })
        .collect()
}

/// The German structured form: the other party (`?32`, `?33`) and the purpose (`?20`–`?29`,
/// `?60`–`?63`), else the booking text (`?00`).
fn german(text: &str, mark: u8) -> Option<String> {
    let fields = subfields(text, mark);
    // A subfield holds 27 characters and long text runs on into the next one mid-word; a
    // shorter subfield was ended by the bank, at a word.
    let joined = |codes: &[&str]| -> String {
        let mut text = String::new();
        let mut previous: Option<&str> = None;
        for (_, value) in fields.iter().filter(|(code, _)| codes.contains(code)) {
            if previous.is_some_and(|p| p.chars().count() < SUBFIELD_WIDTH) {
                text.push(' ');
            }
            text.push_str(value);
            previous = Some(*value);
        }
        text
    };
    let name = joined(&["32", "33"]);
    let purpose =
        joined(&["20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "60", "61", "62", "63"]);
    join_given(&name, sepa_purpose(&purpose)).or_else(|| {
        let booking = joined(&["00"]);
        (!booking.trim().is_empty()).then_some(booking)
    })
}

/// The keys a German SEPA purpose is written in (`EREF+…SVWZ+…`).
const SEPA_KEYS: [&str; 13] = [
    "EREF+", "KREF+", "MREF+", "CRED+", "DEBT+", "SVWZ+", "ABWA+", "ABWE+", "IBAN+", "BIC+", "COAS+",
    "OAMT+", "SQTP+",
];

/// The `SVWZ+` (Verwendungszweck) part of a SEPA purpose: what the payer wrote. A purpose
/// without one is returned whole.
fn sepa_purpose(purpose: &str) -> &str {
    let Some(start) = purpose.find("SVWZ+") else {
        return purpose;
    };
    let text = &purpose[start + 5..];
    let end = SEPA_KEYS.iter().filter_map(|key| text.find(key)).min().unwrap_or(text.len());
    text[..end].trim()
}

/// The keys of the Dutch structured form (ABN AMRO, ING, Rabobank).
const SLASH_KEYS: [&str; 25] = [
    "TRTP", "IBAN", "BIC", "NAME", "REMI", "EREF", "MARF", "CSID", "ORDP", "BENM", "ADDR", "ISDT", "RTRN",
    "CNTP", "PREF", "KREF", "PURP", "ULTC", "ULTD", "ULTB", "EXCH", "CHGS", "OCMT", "SVCL", "ID",
];

/// The Dutch structured form `/KEY/value/KEY/value`: the name (`NAME`, else the third part of
/// `CNTP`, account/BIC/name/city) and the remittance (`REMI`, without its `USTD`/`STRD` marker).
fn dutch(text: &str) -> Option<String> {
    let mut values: Vec<(&str, String)> = Vec::new();
    for token in text.split('/').skip(1) {
        let in_remittance = values.last().is_some_and(|(key, _)| *key == "REMI");
        if in_remittance && (token == "USTD" || token == "STRD") {
            continue;
        }
        if SLASH_KEYS.contains(&token) {
            values.push((token, String::new()));
        } else if let Some((_, value)) = values.last_mut() {
            if !value.is_empty() || token.is_empty() {
                value.push('/');
            }
            value.push_str(token);
        }
    }
    let value = |key: &str| -> String {
        values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.trim_matches(|c: char| c == '/' || c.is_whitespace()).to_owned())
            .unwrap_or_default()
    };
    let mut name = value("NAME");
    if name.is_empty() {
        name = value("CNTP").split('/').nth(2).unwrap_or_default().to_owned();
    }
    join_given(&name, &value("REMI"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().expect("a decimal")
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a day")
    }

    fn run(text: &str) -> (Result<Vec<StatementAccount>, FileError>, Vec<Entry>, Vec<RowError>) {
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        let result = read(text, &mut |item| match item {
            Item::Entry(e) => entries.push(e),
            Item::Error(e) => errors.push(e),
        });
        (result, entries, errors)
    }

    /// One message of account `NL81ASNB0708271685` around `lines`.
    fn message(lines: &str) -> String {
        format!(
            ":20:STMT\n:25:NL81ASNB0708271685\n:28C:1/1\n:60F:C200101EUR100,00\n{lines}\n:62F:C200102EUR50,00\n-\n"
        )
    }

    #[test]
    fn reads_a_message_with_block_headers() {
        let text = "{1:F01ASNBNL21XXXX0000000000}{2:O940ASNBNL21XXXXN}{3:}{4:\n:20:0000000000\n:25:NL81ASNB9999999999\n:28C:1/1\n:60F:C200101EUR444,29\n:61:2001010101D65,00NOVBNL47INGB9999999999\nhr gjlm paulissen\n:86:NL47INGB9999999999 hr gjlm paulissen\n                                                                 \nBetaling sieraden\n:62F:C200101EUR379,29\n-}{5:}\n";
        let (result, entries, errors) = run(text);
        let accounts = result.expect("readable");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].number, "NL81ASNB9999999999");
        assert_eq!(accounts[0].institution, None);
        assert_eq!(accounts[0].currency.as_deref(), Some("EUR"));
        assert_eq!(accounts[0].opening, Some(Balance { amount: d("444.29"), on: day("2020-01-01") }));
        assert_eq!(accounts[0].closing, Some(Balance { amount: d("379.29"), on: day("2020-01-01") }));
        assert_eq!(entries.len(), 1);
        let entry = &entries[0];
        assert_eq!((entry.line, entry.date, entry.amount), (6, day("2020-01-01"), d("-65.00")));
        assert_eq!(entry.currency.as_deref(), Some("EUR"));
        assert_eq!(entry.bank_id, None, "a customer reference is not the bank's id");
        assert_eq!(entry.description, "NL47INGB9999999999 hr gjlm paulissen Betaling sieraden");
    }

    #[test]
    fn statement_line_variants() {
        let line = |text: &str| statement_line(text).map(|l| (l.date, l.amount, l.bank_reference));
        assert_eq!(
            line("1105240524D9,N192NONREF"),
            Ok((day("2011-05-24"), d("-9"), None)),
            "amount without cents"
        );
        assert_eq!(
            line("100722D25,03NTRFNONREF"),
            Ok((day("2010-07-22"), d("-25.03"), None)),
            "no entry date"
        );
        assert_eq!(
            line("1105210523D11,59N426NONREF"),
            Ok((day("2011-05-23"), d("-11.59"), None)),
            "the entry date is the booking day"
        );
        assert_eq!(
            line("0709040904CR300,NTRFTFNr 40005 MSGID//0724710345313905"),
            Ok((day("2007-09-04"), d("300"), Some("0724710345313905".to_owned()))),
            "funds code R, bank reference after //"
        );
        assert_eq!(
            line("0709040904RCR204,88NRTINONREF"),
            Ok((day("2007-09-04"), d("-204.88"), None)),
            "RC: a credit reversed is money out"
        );
        assert_eq!(
            line("0709040904RD10,00NRTINONREF//B1"),
            Ok((day("2007-09-04"), d("10.00"), Some("B1".to_owned())))
        );
        assert_eq!(
            line("1701190119CN0,01NTRFNONREF//MB170119012058"),
            Ok((day("2017-01-19"), d("0.01"), Some("MB170119012058".to_owned())))
        );
        assert_eq!(line("1407290729C500NTRF29-07-2014 10:05//B4G29PGDCK1QFV3E").map(|l| l.1), Ok(d("500")));
        assert_eq!(
            line("110527D000000001213,28N0440121470966      W.P. Jansen").map(|l| l.1),
            Ok(d("-1213.28"))
        );
        assert_eq!(line("2001250125D1,65NDIV").map(|l| l.1), Ok(d("-1.65")));
        assert_eq!(line("180417CF2066637,00N527").map(|l| l.1), Ok(d("2066637.00")));
        assert_eq!(line("0709040904CR300,NTRF//NONREF").map(|l| l.2), Ok(None), "NONREF is no id");
        assert!(line("1610301031D0,42MCI0NONREF").is_err(), "M is no transaction type");
        assert!(line("16103X").is_err());
        assert!(line("161030X5,00NTRF").is_err());
        assert!(line("161030D,5NTRF").is_err());
        assert!(line("161030D5.00NTRF").is_err(), "a decimal point is not MT940");
    }

    #[test]
    fn the_entry_date_wraps_the_year_and_february_30_is_its_end() {
        let line = |text: &str| statement_line(text).map(|l| l.date);
        assert_eq!(line("1012310103D1,00NTRF"), Ok(day("2011-01-03")), "booked in the new year");
        assert_eq!(line("1101021231D1,00NTRF"), Ok(day("2010-12-31")), "booked in the old year");
        assert_eq!(line("1602300301D6,00N024NONREF"), Ok(day("2016-03-01")));
        assert_eq!(line("160230D6,00N024NONREF"), Ok(day("2016-02-29")), "30 February is the last day");
        assert!(line("161330D6,00N024NONREF").is_err(), "no month 13");
    }

    #[test]
    fn balances_and_their_signs() {
        assert_eq!(
            balance("C200101EUR444,29"),
            Ok((Balance { amount: d("444.29"), on: day("2020-01-01") }, "EUR".to_owned()))
        );
        assert_eq!(balance("D070903EUR1234718,36").map(|b| b.0.amount), Ok(d("-1234718.36")));
        assert_eq!(balance("C140507EUR0,").map(|b| b.0.amount), Ok(d("0")));
        assert_eq!(balance("C110614EUR000000000473,17").map(|b| b.0.amount), Ok(d("473.17")));
        assert!(balance("X200101EUR1,00").is_err());
        assert!(balance("C020315105000,00").is_err(), "no currency");
    }

    #[test]
    fn information_in_german_subfields() {
        let text = message(
            ":61:0211021102CR3000,NTRFNONREF//55555\n:86:051?00UEBERWEISUNG?100599?20EREF+E2E-1 SVWZ+Gehalt Oktob\ner?21 2002?3050060400?310847564700?32MUELLER?33 GMBH\n:61:0211031103DR800,NSTONONREF\n:86:008?00DAUERAUFTRAG?100599\n:61:0211041104DR1,NSTONONREF\n:86:000>100987654321\n>20ALGEMENE TUSSENREKENING KOS>21TEN VAN 01-10-2010\n:61:0211051105DR1,NSTONONREF\n:86:177?00DAUERAUFTRAG?20Miete November?21Wohnung 3?32VERMIETER GMBH",
        );
        let (result, entries, errors) = run(&text);
        result.expect("readable");
        assert!(errors.is_empty(), "{errors:?}");
        let described: Vec<&str> = entries.iter().map(|e| e.description.as_str()).collect();
        assert_eq!(
            described,
            vec![
                "MUELLER GMBH · Gehalt Oktober 2002",
                "DAUERAUFTRAG",
                "ALGEMENE TUSSENREKENING KOSTEN VAN 01-10-2010",
                "VERMIETER GMBH · Miete November Wohnung 3",
            ]
        );
        assert_eq!(entries[0].bank_id.as_deref(), Some("55555"));
    }

    #[test]
    fn information_in_the_dutch_form_and_free_text() {
        let text = message(
            ":61:130101D000000000025,00N102EREF\nNL70ABNA0987654321\n:86:/EREF/01-01-2013 12:00 0030000987654321/BENM//NAME/CONTRA ACCOUN\nT HOLDER/REMI//ISDT/2013-07-11\n:61:130102D000000000010,00N154NONREF\nP001234567\n:86:/BENM//NAME/JOHN DOE/REMI/Reference 201301234/ISDT/2013-01-02\n:61:130103D1,00NTRFNONREF\n:86:/EREF/X/CNTP/NL12INGB0001234567/INGBNL2A/J. Jansen/AMSTERDAM/REMI/USTD//Huur januari/\n:61:130104D1,00NTRFNONREF\n:86: RC AFREKENING BETALINGSVERKEER\nBETREFT REKENING 4715589\n:86:ING Bank N.V. tarifering\n:61:130105D2,00NTRFNONREF\nsupplementary only",
        );
        let (result, entries, errors) = run(&text);
        result.expect("readable");
        assert!(errors.is_empty(), "{errors:?}");
        let described: Vec<&str> = entries.iter().map(|e| e.description.as_str()).collect();
        assert_eq!(
            described,
            vec![
                "CONTRA ACCOUNT HOLDER",
                "JOHN DOE · Reference 201301234",
                "J. Jansen · Huur januari",
                "RC AFREKENING BETALINGSVERKEER BETREFT REKENING 4715589 ING Bank N.V. tarifering",
                "supplementary only",
            ]
        );
    }

    #[test]
    fn two_messages_of_one_account_are_one_account() {
        let text = ":20:A\n:25:10020030/1234567\n:28C:1/1\n:60F:C021101EUR100,00\n:61:0211011101D10,00NTRFNONREF\n:86:first\n:62F:C021101EUR90,00\n:86:D000001C000000D10,00\n-\n:20:B\n:25:51210600/9223382012\n:60F:D021101EUR5,00\n:62F:D021101EUR5,00\n-\n:20:C\n:25:10020030/1234567\n:28C:2/1\n:60F:C021102EUR90,00\n:61:0211021102C5,00NTRFNONREF\n:62F:C021102EUR95,00\n-\n";
        let (result, entries, errors) = run(text);
        let accounts = result.expect("readable");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(accounts.len(), 2);
        assert_eq!(accounts[0].institution.as_deref(), Some("10020030"));
        assert_eq!(accounts[0].number, "10020030/1234567");
        assert_eq!(
            accounts[0].opening.as_ref().map(|b| b.amount),
            Some(d("100.00")),
            "the first message's opening"
        );
        assert_eq!(
            accounts[0].closing.as_ref().map(|b| (b.amount, b.on)),
            Some((d("95.00"), day("2002-11-02")))
        );
        assert_eq!(accounts[1].opening.as_ref().map(|b| b.amount), Some(d("-5.00")));
        assert_eq!(entries.iter().map(|e| e.account).collect::<Vec<_>>(), vec![0, 0]);
        assert_eq!(entries[0].description, "first", "the summary :86: after :62F: is nobody's");
        let sum: Decimal = entries.iter().map(|e| e.amount).sum();
        assert_eq!(d("100.00") + sum, d("95.00"));
    }

    #[test]
    fn an_unreadable_line_is_a_row_error_and_the_rest_is_read() {
        let text =
            message(":61:2001010101X65,00NTRFNONREF\n:86:lost\n:61:2001010101D50,00NTRF//B-2\n:86:kept");
        let (result, entries, errors) = run(&text);
        result.expect("readable");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 5);
        assert!(errors[0].message.contains(":61:2001010101X65,00NTRFNONREF"), "{}", errors[0].message);
        assert_eq!(entries.len(), 1);
        assert_eq!((entries[0].description.as_str(), entries[0].bank_id.as_deref()), ("kept", Some("B-2")));
    }

    #[test]
    fn what_is_not_an_mt940_statement() {
        let (result, _, _) = run("Date,Amount\n2020-01-01,5\n");
        assert_eq!(result.expect_err("refused").line, 1);
        let (result, _, _) = run("");
        assert!(result.expect_err("refused").message.starts_with("not an MT940 statement"));
        let (result, _, _) = run(":20:X\n:28C:1\n:60F:C200101EUR1,00\n:61:2001010101D65,00NTRFNONREF\n");
        let error = result.expect_err("refused");
        assert_eq!(error.line, 4);
        assert!(error.message.contains("before any account"), "{}", error.message);
    }

    #[test]
    fn headers_and_separators_are_not_text() {
        let text = "ABNANL2A\n940\nABNANL2A\n:20:ABN AMRO BANK NV\n:25:517852257\n:28:19321/1\n:60F:C110522EUR3236,28\n:61:1105240524D9,N192NONREF\n:86:GIRO   428428 KPN\n:62F:C110523EUR3227,28\n-\nABNANL2A\n940\nABNANL2A\n:20:ABN AMRO BANK NV\n:25:517852257\n:60M:C110523EUR3227,28\n:61:1105240524D9,49N426NONREF\n:86:BEA   NR:XXX1234\n:62M:C110524EUR3217,79\n-XXX\n";
        let (result, entries, errors) = run(text);
        let accounts = result.expect("readable");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(accounts.len(), 1);
        assert_eq!(
            entries.iter().map(|e| e.description.as_str()).collect::<Vec<_>>(),
            vec!["GIRO 428428 KPN", "BEA NR:XXX1234"]
        );
        assert_eq!(accounts[0].closing.as_ref().map(|b| b.amount), Some(d("3217.79")));
    }

    #[test]
    fn tags_and_message_ends() {
        assert_eq!(split_tag(":61:1105"), Some(("61", "1105")));
        assert_eq!(split_tag(":60F:C1"), Some(("60F", "C1")));
        assert_eq!(split_tag(":NS:22x"), Some(("NS", "22x")));
        assert_eq!(split_tag(":940:"), None);
        assert_eq!(split_tag("86:x"), None);
        assert_eq!(split_tag(":8:x"), None);
        assert!(ends_message("-"));
        assert!(ends_message("-}{5:}"));
        assert!(ends_message("-XXX"));
        assert!(!ends_message("- Miete"));
        assert!(!ends_message("-12,50 EUR"));
    }
}
