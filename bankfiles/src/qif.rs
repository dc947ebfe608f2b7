//! QIF, the Quicken Interchange Format: lines whose first character says what the rest is
//! (`D` date, `T` amount, `P` payee, `M` memo, `L` category, …), records ended by `^`, sections
//! opened by `!` headers.
//!
//! What the format leaves open, and how it is read here:
//! - Dates: `12/31/2025`, `12/31/25`, `12/31'25`, ` 1/ 5'26`, `31/12/2025`, `2025-12-31`. The
//!   order of day and month is decided once per file from all its dates: a first field above 12
//!   means day first, a second field above 12 month first, and neither means month first
//!   (Quicken US). A two-digit year after `'` is 20yy (Quicken's mark for this century),
//!   otherwise 20yy below 70 and 19yy from 70.
//! - Amounts: `-1,000.00` (US grouping) and, from European exports, `-12,34` or `1.234,56`: a
//!   comma followed by only one or two digits at the end is the decimal mark.
//! - Sections: `!Type:Bank`, `!Type:CCard`, `!Type:Cash`, `!Type:Oth A` and `!Type:Oth L` hold
//!   transactions; every other `!Type:` (`Cat`, `Class`, `Memorized`, `Invst`, `Prices`, `Tag`,
//!   …) is skipped whole, its records are not transactions here.
//! - Accounts: an `!Account` block (`N` name, `T` type, `^`) names the account the next
//!   `!Type:` section belongs to. Quicken's full export first lists every account in one block
//!   between `!Option:AutoSwitch` and `!Clear:AutoSwitch`; a listed account becomes an account
//!   of the file only when a section of transactions follows it. A file without `!Account` has
//!   one unnamed account (one per kind of section).
//! - In `!Account` blocks `D` is a description, not a date; it is not read as one.
//! - Split lines (`S`, `E`, `$`) are left alone: `T` is the whole transaction.
//! - `L[Checking]`, in brackets, is a transfer to another account, not a category.
//! - The last record may lack its `^`; a file may start with a byte-order mark; lines may end in
//!   CR LF, or (old Macs) CR alone.
//!
//! QIF has no ids for transactions; entries carry none.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::model::{AccountKind, Entry, FileError, Item, RowError, StatementAccount};
use crate::numbers::{DecimalMark, parse_amount};
use crate::text::collapse;

const NOT_QIF: &str = "not a QIF file: it must begin with !Type: or !Account";

/// Reads a QIF file, handing out its transactions (and unreadable records) as it goes. Entries
/// name their account by its index in the returned accounts.
pub(crate) fn read(text: &str, sink: &mut dyn FnMut(Item)) -> Result<Vec<StatementAccount>, FileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = split_lines(text);
    check_header(&lines)?;
    let mut reader = Reader {
        order: date_order(&lines),
        accounts: Vec::new(),
        section: Section::None,
        named: None,
        current: 0,
        record: Record::default(),
    };
    for (index, raw) in lines.iter().enumerate() {
        let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
        reader.line(line, raw.trim(), sink);
    }
    reader.end_record(sink);
    Ok(reader.accounts)
}

fn split_lines(text: &str) -> Vec<&str> {
    if text.contains('\n') { text.lines().collect() } else { text.split('\r').collect() }
}

fn check_header(lines: &[&str]) -> Result<(), FileError> {
    let starts_with_header =
        lines.iter().map(|l| l.trim()).find(|l| !l.is_empty()).is_some_and(|l| l.starts_with('!'));
    let has_type = lines.iter().any(|l| type_header(l.trim()).is_some());
    if starts_with_header && has_type { Ok(()) } else { Err(FileError::at(1, NOT_QIF)) }
}

/// What follows `!Type:` on a header line, if it is one.
fn type_header(line: &str) -> Option<&str> {
    let prefix = line.get(..6)?;
    if prefix.eq_ignore_ascii_case("!type:") { line.get(6..).map(str::trim) } else { None }
}

/// What a `!Type:` (or an `!Account` `T` line) names: `Some` for a register of transactions,
/// with the kind of account when the type says; `None` for everything else.
fn register(name: &str) -> Option<Option<AccountKind>> {
    match collapse(&name.to_ascii_lowercase()).as_str() {
        "bank" => Some(Some(AccountKind::Checking)),
        "ccard" | "creditcard" | "credit card" => Some(Some(AccountKind::CreditCard)),
        "cash" => Some(Some(AccountKind::Cash)),
        "oth a" | "oth l" => Some(None),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    MonthFirst,
    DayFirst,
}

/// The file's order of day and month, from every date in its registers.
fn date_order(lines: &[&str]) -> Order {
    let (mut day_first, mut month_first) = (false, false);
    let mut in_register = false;
    for raw in lines {
        let text = raw.trim();
        if text.starts_with('!') {
            in_register = type_header(text).and_then(register).is_some();
            continue;
        }
        if !in_register {
            continue;
        }
        if let Some(value) = text.strip_prefix(['D', 'd'])
            && let Some(parts) = date_parts(value)
            && parts.first_digits <= 2
        {
            let [first, second, _] = parts.numbers;
            day_first |= first > 12;
            month_first |= second > 12;
        }
    }
    if day_first && !month_first { Order::DayFirst } else { Order::MonthFirst }
}

/// A date's three numbers as written, before the order is known.
struct DateParts {
    numbers: [u32; 3],
    first_digits: usize,
    year_digits: usize,
    /// Quicken writes `'` before the year from 2000 on.
    apostrophe: bool,
}

fn date_parts(value: &str) -> Option<DateParts> {
    let value = value.trim();
    let mut parts = value.split(['/', '-', '.', '\'']).map(str::trim);
    let (first, second, third) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let number = |part: &str| -> Option<u32> {
        if part.is_empty() || part.len() > 4 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    Some(DateParts {
        numbers: [number(first)?, number(second)?, number(third)?],
        first_digits: first.len(),
        year_digits: third.len(),
        apostrophe: value.contains('\''),
    })
}

fn qif_date(value: &str, order: Order) -> Option<NaiveDate> {
    let parts = date_parts(value)?;
    let [first, second, third] = parts.numbers;
    if parts.first_digits == 4 {
        return NaiveDate::from_ymd_opt(i32::try_from(first).ok()?, second, third);
    }
    let (month, day) = match order {
        Order::MonthFirst => (first, second),
        Order::DayFirst => (second, first),
    };
    let year = match parts.year_digits {
        4 => third,
        1 | 2 if parts.apostrophe || third < 70 => 2000 + third,
        1 | 2 => 1900 + third,
        _ => return None,
    };
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// `-1,000.00` from Quicken; `-12,34` and `1.234,56` from European exports. A group of
/// thousands always has three digits, so a comma with one or two after it is the decimal mark.
fn qif_amount(text: &str) -> Option<Decimal> {
    let text = text.trim();
    let decimal_comma = text.rfind(['.', ',']).is_some_and(|at| {
        let after = &text[at + 1..];
        text[at..].starts_with(',')
            && (1..=2).contains(&after.len())
            && after.bytes().all(|b| b.is_ascii_digit())
    });
    parse_amount(text, if decimal_comma { DecimalMark::Comma } else { DecimalMark::Point })
}

/// `L` holds `Category:Subcategory/Class`; `[Account]` is a transfer, which is no category.
fn category(text: &str) -> Option<String> {
    let name = text.split('/').next().unwrap_or_default().trim();
    if name.is_empty() || name.starts_with('[') { None } else { Some(collapse(name)) }
}

/// Payee and memo as one description: the memo is added when it says something the payee
/// does not.
fn describe(payee: &str, memo: &str) -> String {
    let (payee, memo) = (collapse(payee), collapse(memo));
    if memo.is_empty() || payee.to_lowercase().contains(&memo.to_lowercase()) {
        payee
    } else if payee.is_empty() {
        memo
    } else {
        format!("{payee} · {memo}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Before the first header.
    None,
    /// `!Type:Bank` and the other registers: records are transactions.
    Register,
    /// `!Account`: records name accounts.
    Account,
    /// Any other header (`!Type:Cat`, `!Type:Invst`, `!Option:AutoSwitch`, …).
    Skip,
}

/// The field lines of one record, from its first line to its `^`.
#[derive(Default)]
struct Record {
    /// The record's first line; 0 while it has none.
    line: u32,
    date: Option<String>,
    amount: Option<String>,
    /// `U`: newer Quicken writes the amount twice, `T` and `U`; either will do.
    other_amount: Option<String>,
    payee: String,
    memo: String,
    category: String,
    /// `!Account` records: `N` and `T`.
    name: String,
    kind: String,
}

impl Record {
    fn set(&mut self, section: Section, code: char, value: &str) {
        match (section, code) {
            (Section::Register, 'D') => keep_first_of(&mut self.date, value),
            (Section::Register, 'T') => keep_first_of(&mut self.amount, value),
            (Section::Register, 'U') => keep_first_of(&mut self.other_amount, value),
            (Section::Register, 'P') => keep_first(&mut self.payee, value),
            (Section::Register, 'M') => keep_first(&mut self.memo, value),
            (Section::Register, 'L') => keep_first(&mut self.category, value),
            (Section::Account, 'N') => keep_first(&mut self.name, value),
            (Section::Account, 'T') => keep_first(&mut self.kind, value),
            // Check numbers, cleared marks, addresses, splits: nothing an entry holds.
            _ => {}
        }
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

struct Reader {
    order: Order,
    accounts: Vec<StatementAccount>,
    section: Section,
    /// The account the last `!Account` record named, and the kind its `T` says.
    named: Option<(String, Option<AccountKind>)>,
    /// The account the current register's transactions belong to.
    current: usize,
    record: Record,
}

impl Reader {
    fn line(&mut self, line: u32, text: &str, sink: &mut dyn FnMut(Item)) {
        if text.is_empty() {
            return;
        }
        if text.starts_with('!') {
            self.end_record(sink);
            self.header(text);
            return;
        }
        if text.starts_with('^') {
            self.end_record(sink);
            return;
        }
        if matches!(self.section, Section::None | Section::Skip) {
            return;
        }
        let mut chars = text.chars();
        let Some(code) = chars.next() else {
            return;
        };
        if self.record.line == 0 {
            self.record.line = line;
        }
        self.record.set(self.section, code.to_ascii_uppercase(), chars.as_str().trim());
    }

    fn header(&mut self, text: &str) {
        self.section = if let Some(name) = type_header(text) {
            match register(name) {
                Some(kind) => {
                    self.current = self.account(kind);
                    Section::Register
                }
                None => Section::Skip,
            }
        } else if text.get(..8).is_some_and(|h| h.eq_ignore_ascii_case("!account")) {
            Section::Account
        } else {
            Section::Skip
        };
    }

    /// The account a register belongs to: the one `!Account` last named, else the file's
    /// unnamed account of that kind.
    fn account(&mut self, register_kind: Option<AccountKind>) -> usize {
        let (number, kind) = match &self.named {
            Some((name, kind)) => (name.clone(), kind.or(register_kind)),
            None => (String::new(), register_kind),
        };
        let found =
            self.accounts.iter().position(|a| a.number == number && (!number.is_empty() || a.kind == kind));
        match found {
            Some(index) => index,
            None => {
                self.accounts.push(StatementAccount { number, kind, ..StatementAccount::default() });
                self.accounts.len() - 1
            }
        }
    }

    fn end_record(&mut self, sink: &mut dyn FnMut(Item)) {
        let record = std::mem::take(&mut self.record);
        if record.line == 0 {
            return;
        }
        match self.section {
            Section::Account => {
                let kind = register(&record.kind).flatten();
                self.named = Some((collapse(&record.name), kind));
            }
            Section::Register => sink(self.transaction(record)),
            Section::None | Section::Skip => {}
        }
    }

    fn transaction(&self, record: Record) -> Item {
        let line = record.line;
        let error = |message: String| Item::Error(RowError { line, message });
        let Some(written_date) = record.date.as_deref() else {
            return error("the record has no date (no D line)".to_owned());
        };
        let Some(written_amount) = record.amount.as_deref().or(record.other_amount.as_deref()) else {
            return error("the record has no amount (no T line)".to_owned());
        };
        let Some(date) = qif_date(written_date, self.order) else {
            return error(format!("D{written_date} is not a date"));
        };
        let Some(amount) = qif_amount(written_amount) else {
            return error(format!("{written_amount:?} is not an amount"));
        };
        Item::Entry(Entry {
            line,
            account: self.current,
            date,
            amount,
            currency: None,
            description: describe(&record.payee, &record.memo),
            bank_id: None,
            category: category(&record.category),
        })
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

    fn dates(text: &str) -> Vec<NaiveDate> {
        let (result, items) = run(text);
        result.unwrap();
        assert!(errors(&items).is_empty(), "{items:?}");
        entries(&items).iter().map(|e| e.date).collect()
    }

    #[test]
    fn a_plain_bank_register() {
        let text = "!Type:Bank\r
D6/1/94\r
T-1,000.00\r
CX\r
N1005\r
PBank Of Mortgage\r
MMemo\r
L[linda]\r
S[linda]\r
$-253.64\r
SMort Int\r
$=746.36\r
^\r
D6/2/94\r
U75.00\r
T75.00\r
PDeposit\r
LSalary:Bonus/Work\r
^\r
";
        let (result, items) = run(text);
        let accounts = result.unwrap();
        assert_eq!(
            accounts,
            vec![StatementAccount {
                number: String::new(),
                kind: Some(AccountKind::Checking),
                ..StatementAccount::default()
            }]
        );
        let entries = entries(&items);
        assert_eq!(
            *entries[0],
            Entry {
                line: 2,
                account: 0,
                date: day("1994-06-01"),
                amount: dec("-1000.00"),
                currency: None,
                description: "Bank Of Mortgage · Memo".into(),
                bank_id: None,
                category: None,
            }
        );
        assert_eq!(entries[1].line, 14);
        assert_eq!(entries[1].amount, dec("75.00"));
        assert_eq!(entries[1].category.as_deref(), Some("Salary:Bonus"));
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn the_order_of_day_and_month_is_the_files() {
        let uk = "!Type:Bank\nD01/06/2010\nT1\n^\nD29/12/2010\nT1\n^\n";
        assert_eq!(dates(uk), vec![day("2010-06-01"), day("2010-12-29")]);
        let us = "!Type:Bank\nD01/06/2010\nT1\n^\nD12/29/2010\nT1\n^\n";
        assert_eq!(dates(us), vec![day("2010-01-06"), day("2010-12-29")]);
        let unsure = "!Type:Bank\nD01/06/2010\nT1\n^\n";
        assert_eq!(dates(unsure), vec![day("2010-01-06")]);
    }

    #[test]
    fn the_ways_quicken_writes_a_year() {
        let text = "!Type:CCard\nD12/31'25\nT1\n^\nD 1/ 5'26\nT1\n^\nD12/31/99\nT1\n^\nD1/1/05\nT1\n^\nD2025-12-31\nT1\n^\nD 1/ 5' 6\nT1\n^\n";
        assert_eq!(
            dates(text),
            vec![
                day("2025-12-31"),
                day("2026-01-05"),
                day("1999-12-31"),
                day("2005-01-01"),
                day("2025-12-31"),
                day("2006-01-05")
            ]
        );
    }

    #[test]
    fn account_blocks_switch_the_account() {
        let text = "!Option:AutoSwitch
!Account
NChecking
TBank
^
NVisa
TCCard
^
NNever Used
TBank
^
!Clear:AutoSwitch
!Account
NChecking
TBank
DMy main account
^
!Type:Bank
D03/01/2026
T-5.00
PCafe
^
!Account
NVisa
TCCard
D12/12/1212
^
!Type:CCard
D03/02/2026
T-20.00
PBooks
^
!Account
NChecking
TBank
^
!Type:Bank
D03/03/2026
T100
PRefund
^
";
        let (result, items) = run(text);
        let accounts = result.unwrap();
        let names: Vec<(&str, Option<AccountKind>)> =
            accounts.iter().map(|a| (a.number.as_str(), a.kind)).collect();
        assert_eq!(
            names,
            vec![("Checking", Some(AccountKind::Checking)), ("Visa", Some(AccountKind::CreditCard))]
        );
        let placed: Vec<(usize, u32, &str)> =
            entries(&items).iter().map(|e| (e.account, e.line, e.description.as_str())).collect();
        assert_eq!(placed, vec![(0, 19, "Cafe"), (1, 29, "Books"), (0, 38, "Refund")]);
        assert!(errors(&items).is_empty());
    }

    #[test]
    fn sections_that_hold_no_transactions_are_skipped() {
        let text = "\u{feff}!Type:Tag
NVacation
^
!Type:Cat
NFood
DFood and drink
E
^
!Type:Class
NWork
^
!Type:Memorized
KP
T-10.00
PGym
^
!Type:Invst
D8/25/93
NShrsIn
Yibm4
T1,000.00
^
!Type:Prices
\"ACOM\",33 3/4,\" 3/ 4'11\"
^
!Type:Oth L
D1/2/2026
T-300
PLoan payment
^
";
        let (result, items) = run(text);
        let accounts = result.unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].kind, None);
        assert!(errors(&items).is_empty(), "{items:?}");
        let entries = entries(&items);
        assert_eq!(entries.len(), 1);
        assert_eq!((entries[0].line, entries[0].date), (27, day("2026-01-02")));
    }

    #[test]
    fn a_record_without_date_or_amount_is_a_row_error() {
        let text = "!Type:Bank
PNo amount
D1/1/2026
^
D1/2/2026
T-1.50
PCoffee
^

T-2.00
PNo date
^
D1/32/2026
T1
^
D1/4/2026
Tabc
^
D1/5/2026
T-3.00
PLast, no caret";
        let (result, items) = run(text);
        assert_eq!(result.unwrap().len(), 1);
        let errors: Vec<(u32, String)> = errors(&items).iter().map(|e| (e.line, e.message.clone())).collect();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert_eq!(errors[0].0, 2);
        assert!(errors[0].1.contains("amount"), "{errors:?}");
        assert_eq!(errors[1].0, 10);
        assert!(errors[1].1.contains("date"), "{errors:?}");
        assert_eq!(errors[2].0, 13);
        assert_eq!(errors[3].0, 16);
        let kept: Vec<(u32, Decimal)> = entries(&items).iter().map(|e| (e.line, e.amount)).collect();
        assert_eq!(kept, vec![(5, dec("-1.50")), (19, dec("-3.00"))]);
    }

    #[test]
    fn not_a_qif_file() {
        for text in [
            "Date,Amount\n1/1/2026,1\n",
            "",
            "D1/1/2026\nT1\n^\n",
            "!Account\nNChecking\n^\n",
            "\n\nhello\n!Type:Bank\n",
        ] {
            let error = run(text).0.unwrap_err();
            assert_eq!(error, FileError::at(1, NOT_QIF), "{text:?}");
        }
        assert!(run("\n\n!Type:Bank\nD1/1/2026\nT1\n^").0.is_ok());
        assert!(run("!type:bank\rD1/1/2026\rT1\r^\r").0.is_ok());
    }

    #[test]
    fn amounts_and_categories() {
        assert_eq!(qif_amount("-1,000.00"), Some(dec("-1000.00")));
        assert_eq!(qif_amount("1,000"), Some(dec("1000")));
        assert_eq!(qif_amount("-12,34"), Some(dec("-12.34")));
        assert_eq!(qif_amount("1.234,56"), Some(dec("1234.56")));
        assert_eq!(qif_amount("12,5"), Some(dec("12.5")));
        assert_eq!(qif_amount("75"), Some(dec("75")));
        assert_eq!(qif_amount(""), None);
        assert_eq!(category("[Savings]"), None);
        assert_eq!(category("[Savings]/Trip"), None);
        assert_eq!(category("Food:Dining Out/Work"), Some("Food:Dining Out".into()));
        assert_eq!(category(""), None);
        assert_eq!(describe("Shop", " shop "), "Shop");
        assert_eq!(describe("", "Memo  only"), "Memo only");
    }
}
