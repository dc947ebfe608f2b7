//! Inferring a layout column by column, for files no profile knows: roles from header names
//! (see `headers`), checked against and completed by the cells of the first rows; the date order
//! and decimal mark from the values; and how sure all that is.
//!
//! The confidence of a guess is
//!
//! ```text
//! 0.95 × roles × order × decimal × parsed
//! ```
//!
//! - `roles`: the mean, over the date, the money and the description, of 1.0 when the column
//!   was found by its header name (or given in the mapping), 0.6 when only its cells gave it
//!   away, and, for a description that was not found at all, 0.5;
//! - `order`: 1.0 when the values decide the date order (a four-digit year first, a day above
//!   12), 0.8 when every sampled day was 12 or less and the order came from hints (`;`
//!   delimiter, decimal comma, a non-English header, `€`/`£` amounts → day first; otherwise
//!   month first), 0.7 when the values contradict each other;
//! - `decimal`: 1.0 when the amounts decide the mark, 0.95 when no amount has a separator,
//!   0.9 when only `1.234`-like amounts were seen, 0.75 when they contradict each other;
//! - `parsed`: the share of sampled rows whose date and amount read under the chosen layout.
//!
//! The 0.95 ceiling keeps any guess below a profile, which is 1.0 when its header matches and
//! every sampled row reads. A mapping that names the date, description and money columns, the
//! date order and the decimal mark is not a guess: 1.0.

use std::collections::HashSet;

use crate::model::{AmountColumns, ColumnMapping, CsvLayout, DateOrder, FileError, ReadError};
use crate::numbers::{DecimalMark, parse_amount};
use crate::tabular::headers::{self, Lang, Role};
use crate::tabular::plan::Plan;
use crate::tabular::rows::{self, Row};
use crate::tabular::sniff::Sample;
use crate::tabular::{dates, money};

const GUESS_CEILING: f64 = 0.95;

/// Indicator values meaning money out, lower case.
pub(crate) const OUT_FLAGS: &[&str] = &[
    "d",
    "dr",
    "db",
    "debit",
    "débit",
    "debet",
    "s",
    "soll",
    "af",
    "out",
    "uit",
    "withdrawal",
    "ausgang",
    "belastung",
    "cargo",
    "debe",
    "débito",
    "debito",
    "-",
];
/// Indicator values meaning money in, lower case.
const IN_FLAGS: &[&str] = &[
    "c",
    "cr",
    "credit",
    "crédit",
    "h",
    "haben",
    "bij",
    "in",
    "deposit",
    "eingang",
    "gutschrift",
    "abono",
    "haber",
    "crédito",
    "credito",
    "+",
];

/// Codes a currency column holds, for telling it from other three-letter columns by content.
const COMMON_CODES: &[&str] = &[
    "EUR", "USD", "GBP", "CHF", "JPY", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RON",
    "BGN", "TRY", "INR", "CNY", "HKD", "SGD", "BRL", "MXN", "ZAR", "ILS", "AED", "THB", "KRW", "UAH", "ISK",
    "IDR", "MYR", "PHP", "ARS", "CLP", "COP", "PEN",
];

/// The caller's mapping as column indices.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pinned {
    pub(crate) date: Option<usize>,
    pub(crate) description: Vec<usize>,
    pub(crate) amount: Option<usize>,
    pub(crate) debit: Option<usize>,
    pub(crate) credit: Option<usize>,
    pub(crate) currency: Option<usize>,
    pub(crate) category: Option<usize>,
    pub(crate) date_order: Option<DateOrder>,
    pub(crate) decimal: Option<DecimalMark>,
}

impl Pinned {
    /// Everything a row needs is given: nothing is guessed.
    pub(crate) fn is_full(&self) -> bool {
        self.date.is_some()
            && !self.description.is_empty()
            && (self.amount.is_some() || (self.debit.is_some() && self.credit.is_some()))
            && self.date_order.is_some()
            && self.decimal.is_some()
    }
}

/// Resolves the mapping's header names against the file's header row.
pub(crate) fn pin(mapping: Option<&ColumnMapping>, header_row: &[String]) -> Result<Pinned, ReadError> {
    let Some(mapping) = mapping else { return Ok(Pinned::default()) };
    let find = |field: &'static str, name: &Option<String>| -> Result<Option<usize>, ReadError> {
        name.as_deref().map(|name| column(header_row, field, name)).transpose()
    };
    Ok(Pinned {
        date: find("date_column", &mapping.date)?,
        description: mapping
            .description
            .iter()
            .map(|name| column(header_row, "description_column", name))
            .collect::<Result<Vec<_>, _>>()?,
        amount: find("amount_column", &mapping.amount)?,
        debit: find("debit_column", &mapping.debit)?,
        credit: find("credit_column", &mapping.credit)?,
        currency: find("currency_column", &mapping.currency)?,
        category: find("category_column", &mapping.category)?,
        date_order: mapping.date_order,
        decimal: mapping.decimal,
    })
}

/// A column by its name as written, else ignoring case, else by key (`Betrag (EUR)` for
/// `betrag`).
fn column(header_row: &[String], field: &'static str, name: &str) -> Result<usize, ReadError> {
    let wanted = name.trim();
    header_row
        .iter()
        .position(|h| h == wanted)
        .or_else(|| header_row.iter().position(|h| h.to_lowercase() == wanted.to_lowercase()))
        .or_else(|| header_row.iter().position(|h| headers::same(h, wanted)))
        .ok_or_else(|| ReadError::Option {
            field,
            message: format!(
                "the file has no column \"{wanted}\"; its columns are {}",
                header_row.iter().map(|h| format!("\"{h}\"")).collect::<Vec<_>>().join(", ")
            ),
        })
}

fn together(field: &'static str) -> ReadError {
    ReadError::Option { field, message: "debit_column and credit_column go together: name both".to_owned() }
}

/// What a mapping changes in a profile's money columns.
pub(crate) fn override_money(amount: AmountColumns, pinned: &Pinned) -> Result<AmountColumns, ReadError> {
    match (pinned.amount, pinned.debit, pinned.credit, amount) {
        (Some(amount), _, _, AmountColumns::Indicator { indicator, out, .. }) => {
            Ok(AmountColumns::Indicator { amount, indicator, out })
        }
        (Some(amount), _, _, _) => Ok(AmountColumns::Signed(amount)),
        (None, Some(debit), Some(credit), _) => Ok(AmountColumns::DebitCredit { debit, credit }),
        (None, Some(debit), None, AmountColumns::DebitCredit { credit, .. }) => {
            Ok(AmountColumns::DebitCredit { debit, credit })
        }
        (None, None, Some(credit), AmountColumns::DebitCredit { debit, .. }) => {
            Ok(AmountColumns::DebitCredit { debit, credit })
        }
        (None, Some(_), None, _) => Err(together("credit_column")),
        (None, None, Some(_), _) => Err(together("debit_column")),
        (None, None, None, amount) => Ok(amount),
    }
}

/// The columns that hold amounts (not the indicator).
pub(crate) fn value_columns(amount: &AmountColumns) -> Vec<usize> {
    match amount {
        AmountColumns::Signed(column) => vec![*column],
        AmountColumns::DebitCredit { debit, credit } => vec![*debit, *credit],
        AmountColumns::Indicator { amount, .. } => vec![*amount],
    }
}

/// A detected layout and how sure it is.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) plan: Plan,
    pub(crate) confidence: f64,
}

/// How a role's column was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// By its header name, or the caller's mapping.
    Named,
    /// By its cells alone.
    Content,
    /// Not at all (only the description may be missing).
    Missing,
}

impl Source {
    fn score(self) -> f64 {
        match self {
            Source::Named => 1.0,
            Source::Content => 0.6,
            Source::Missing => 0.5,
        }
    }
}

/// What the sampled cells of one column look like.
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    filled: usize,
    dates: usize,
    amounts: usize,
    negative: usize,
    separated: usize,
    codes: usize,
    common_codes: usize,
    flags: usize,
    distinct: usize,
    letters: usize,
}

impl Stats {
    fn of(sample: &Sample, column: usize) -> Stats {
        let mut stats = Stats::default();
        let mut seen = HashSet::new();
        for cell in column_values(sample, &[column]) {
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            stats.filled += 1;
            if dates::evidence(cell).is_some() {
                stats.dates += 1;
            }
            let number = money::bare(cell);
            if parse_amount(number, DecimalMark::Point).is_some()
                || parse_amount(number, DecimalMark::Comma).is_some()
            {
                stats.amounts += 1;
                if cell.contains(['-', '−', '(']) {
                    stats.negative += 1;
                }
                if cell.contains(['.', ',']) {
                    stats.separated += 1;
                }
            }
            if is_code(cell) {
                stats.codes += 1;
                if COMMON_CODES.contains(&cell.to_ascii_uppercase().as_str()) {
                    stats.common_codes += 1;
                }
            }
            if flag(cell).is_some() {
                stats.flags += 1;
            }
            stats.letters += cell.chars().filter(|c| c.is_alphabetic()).count();
            seen.insert(cell);
        }
        stats.distinct = seen.len();
        stats
    }

    fn mostly(&self, count: usize) -> bool {
        self.filled > 0 && count * 10 >= self.filled * 9
    }

    fn is_dates(&self) -> bool {
        self.filled > 0 && self.dates * 10 >= self.filled * 8
    }

    fn is_amounts(&self) -> bool {
        !self.is_dates() && self.mostly(self.amounts)
    }

    fn is_codes(&self) -> bool {
        self.mostly(self.codes)
    }

    fn is_flags(&self) -> bool {
        self.mostly(self.flags)
    }

    /// Could be a description: not dates, amounts or direction flags (Chase's `Details` column
    /// says `DEBIT`/`CREDIT`).
    fn is_text(&self) -> bool {
        self.filled == 0 || (!self.is_dates() && !self.is_amounts() && !self.is_flags())
    }
}

fn is_code(cell: &str) -> bool {
    (cell.len() == 3 && cell.chars().all(|c| c.is_ascii_alphabetic())) || matches!(cell, "€" | "£" | "$")
}

/// `Some(true)` for a value meaning money out, `Some(false)` for money in.
pub(crate) fn flag(cell: &str) -> Option<bool> {
    let lower = cell.trim().to_lowercase();
    if OUT_FLAGS.contains(&lower.as_str()) {
        Some(true)
    } else if IN_FLAGS.contains(&lower.as_str()) {
        Some(false)
    } else {
        None
    }
}

/// The money-out values a column uses, lower case; all known ones when the sample shows none.
fn out_values(sample: &Sample, column: usize) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for value in column_values(sample, &[column]) {
        let lower = value.trim().to_lowercase();
        if flag(&lower) == Some(true) && !seen.contains(&lower) {
            seen.push(lower);
        }
    }
    if seen.is_empty() { OUT_FLAGS.iter().map(|s| (*s).to_owned()).collect() } else { seen }
}

/// The sampled cells of some columns.
pub(crate) fn column_values<'s>(sample: &'s Sample, columns: &[usize]) -> Vec<&'s str> {
    sample
        .rows
        .iter()
        .flat_map(move |row| columns.iter().filter_map(move |&c| row.get(c).map(String::as_str)))
        .collect()
}

/// The column with the best-ranked header name for `role` that `accept` takes.
fn best(roles: &[Vec<(Role, u8, Lang)>], role: Role, mut accept: impl FnMut(usize) -> bool) -> Option<usize> {
    let mut ranked: Vec<(u8, usize)> = roles
        .iter()
        .enumerate()
        .filter_map(|(column, found)| {
            found
                .iter()
                .filter(|(r, _, _)| *r == role)
                .map(|&(_, rank, _)| rank)
                .min()
                .map(|rank| (rank, column))
        })
        .collect();
    ranked.sort_unstable();
    ranked.into_iter().map(|(_, column)| column).find(|&column| accept(column))
}

/// The decimal mark: given, else read from the amounts, else `;` files and non-English headers
/// write a comma. With the factor it contributes to the confidence.
pub(crate) fn choose_decimal(
    sample: &Sample,
    value_columns: &[usize],
    given: Option<DecimalMark>,
) -> (DecimalMark, f64) {
    if let Some(mark) = given {
        return (mark, 1.0);
    }
    let guess = money::guess(column_values(sample, value_columns));
    let hinted = if sample.delimiter == b';' || headers::foreign(&sample.headers) {
        DecimalMark::Comma
    } else {
        DecimalMark::Point
    };
    (guess.mark.unwrap_or(hinted), guess.factor())
}

/// The date order: given, else read from the dates, else from hints. With the factor it
/// contributes to the confidence.
pub(crate) fn choose_order(
    sample: &Sample,
    date: usize,
    given: Option<DateOrder>,
    value_columns: &[usize],
    currency: Option<usize>,
    decimal: DecimalMark,
) -> (DateOrder, f64) {
    if let Some(order) = given {
        return (order, 1.0);
    }
    let guess = dates::infer(column_values(sample, &[date]));
    match guess.order {
        Some(order) if guess.conflicting => (order, 0.7),
        Some(order) => (order, 1.0),
        None => {
            let order = if day_first(sample, value_columns, currency, decimal) {
                DateOrder::Dmy
            } else {
                DateOrder::Mdy
            };
            (order, if sample.rows.is_empty() { 0.9 } else { 0.8 })
        }
    }
}

/// Whether a file whose days are all 12 or less writes the day first: Europe does (`;`, decimal
/// comma, a non-English header, euros and pounds), the United States does not.
fn day_first(
    sample: &Sample,
    value_columns: &[usize],
    currency: Option<usize>,
    decimal: DecimalMark,
) -> bool {
    if sample.delimiter == b';' || decimal == DecimalMark::Comma || headers::foreign(&sample.headers) {
        return true;
    }
    let (mut dollars, mut others) = (false, false);
    for value in column_values(sample, value_columns) {
        dollars |= value.contains('$');
        others |= value.contains(['€', '£']);
    }
    for code in currency.map(|c| column_values(sample, &[c])).unwrap_or_default() {
        match code.trim().to_ascii_uppercase().as_str() {
            "" => {}
            "USD" => dollars = true,
            _ => others = true,
        }
    }
    for header in &sample.headers {
        match headers::unit_currency(header).as_deref() {
            Some("USD") => dollars = true,
            Some(_) => others = true,
            None => {}
        }
    }
    others && !dollars
}

/// The share of sampled rows that read under `plan`; blank and skipped rows do not count, and
/// a zero amount is read.
pub(crate) fn parse_rate(plan: &Plan, sample: &Sample) -> f64 {
    let (mut counted, mut read) = (0usize, 0usize);
    for row in &sample.rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        match rows::convert(plan, &cells) {
            Row::Skip => {}
            Row::Error(_) => counted += 1,
            Row::Zero | Row::Entries(_) => {
                counted += 1;
                read += 1;
            }
        }
    }
    if counted == 0 { 1.0 } else { read as f64 / counted as f64 }
}

/// The currency a header row implies for the accounts when no column gives it per row.
pub(crate) fn unit_currency(sample: &Sample, value_columns: &[usize]) -> Option<String> {
    value_columns.iter().find_map(|&c| sample.headers.get(c).and_then(|h| headers::unit_currency(h)))
}

/// Infers a layout for a file no profile matched.
pub(crate) fn detect(sample: &Sample, pinned: &Pinned) -> Result<Found, ReadError> {
    let width = sample.headers.len();
    let roles: Vec<Vec<(Role, u8, Lang)>> = sample.headers.iter().map(|h| headers::classify(h)).collect();
    let stats: Vec<Stats> = (0..width).map(|column| Stats::of(sample, column)).collect();
    let no_rows = sample.rows.is_empty();
    let named_as = |column: usize, role: Role| roles[column].iter().any(|&(r, _, _)| r == role);
    let mut taken = vec![false; width];

    let (date, date_source) = if let Some(column) = pinned.date {
        (column, Source::Named)
    } else if let Some(column) = best(&roles, Role::Date, |c| no_rows || stats[c].is_dates()) {
        (column, Source::Named)
    } else if let Some(column) = (0..width).find(|&c| stats[c].is_dates()) {
        (column, Source::Content)
    } else {
        return Err(FileError::at(
            sample.header_line,
            "cannot tell which column holds the date; name it with ?date_column=<header>",
        )
        .into());
    };
    taken[date] = true;

    let money_like = |c: usize| c != date && (no_rows || stats[c].filled == 0 || stats[c].is_amounts());
    let indicator = best(&roles, Role::Indicator, |c| c != date && (no_rows || stats[c].is_flags()))
        .or_else(|| (0..width).find(|&c| c != date && roles[c].is_empty() && stats[c].is_flags()));
    // An indicator only matters when the amounts are unsigned.
    let signed_or_flagged = |amount: usize| match indicator {
        Some(flagged) if flagged != amount && stats[amount].negative == 0 => {
            AmountColumns::Indicator { amount, indicator: flagged, out: out_values(sample, flagged) }
        }
        _ => AmountColumns::Signed(amount),
    };
    let found_amount = best(&roles, Role::Amount, |c| c != date && (no_rows || stats[c].is_amounts()));
    let found_debit = best(&roles, Role::Debit, money_like);
    let found_credit = best(&roles, Role::Credit, |c| Some(c) != found_debit && money_like(c));
    let mut money_source = Source::Named;
    let amount = match (pinned.amount, pinned.debit, pinned.credit) {
        (Some(amount), _, _) => signed_or_flagged(amount),
        (None, Some(debit), Some(credit)) => AmountColumns::DebitCredit { debit, credit },
        (None, Some(debit), None) => AmountColumns::DebitCredit {
            debit,
            credit: found_credit.filter(|&c| c != debit).ok_or_else(|| together("credit_column"))?,
        },
        (None, None, Some(credit)) => AmountColumns::DebitCredit {
            debit: found_debit.filter(|&c| c != credit).ok_or_else(|| together("debit_column"))?,
            credit,
        },
        (None, None, None) => match (found_amount, found_debit, found_credit) {
            (Some(amount), _, _) => signed_or_flagged(amount),
            (None, Some(debit), Some(credit)) => AmountColumns::DebitCredit { debit, credit },
            _ => {
                money_source = Source::Content;
                // Integers alone could be check or account numbers: a sign or a separator says money.
                let money = (0..width).find(|&c| {
                    !taken[c]
                        && !named_as(c, Role::Balance)
                        && !named_as(c, Role::Id)
                        && stats[c].is_amounts()
                        && (stats[c].negative > 0 || stats[c].separated > 0)
                });
                match money {
                    Some(amount) => signed_or_flagged(amount),
                    None => {
                        return Err(FileError::at(
                            sample.header_line,
                            "cannot tell which column holds the amount; name it with ?amount_column=<header>, \
                             or ?debit_column= and ?credit_column=",
                        )
                        .into());
                    }
                }
            }
        },
    };
    match &amount {
        AmountColumns::Signed(column) => taken[*column] = true,
        AmountColumns::DebitCredit { debit, credit } => {
            taken[*debit] = true;
            taken[*credit] = true;
        }
        AmountColumns::Indicator { amount, indicator, .. } => {
            taken[*amount] = true;
            taken[*indicator] = true;
        }
    }

    let (description, description_source) = if pinned.description.is_empty() {
        let payee = best(&roles, Role::Payee, |c| !taken[c] && stats[c].is_text());
        let memo = best(&roles, Role::Memo, |c| !taken[c] && Some(c) != payee && stats[c].is_text());
        let named: Vec<usize> = payee.into_iter().chain(memo).collect();
        if named.is_empty() {
            let wordiest = (0..width)
                .filter(|&c| !taken[c] && roles[c].is_empty() && stats[c].letters > 0 && stats[c].is_text())
                .max_by_key(|&c| stats[c].letters);
            match wordiest {
                Some(column) => (vec![column], Source::Content),
                None => (Vec::new(), Source::Missing),
            }
        } else {
            (named, Source::Named)
        }
    } else {
        (pinned.description.clone(), Source::Named)
    };
    for &column in &description {
        taken[column] = true;
    }

    let currency = pinned
        .currency
        .or_else(|| {
            best(&roles, Role::Currency, |c| {
                !taken[c] && (no_rows || stats[c].filled == 0 || stats[c].is_codes())
            })
        })
        .or_else(|| {
            (0..width).find(|&c| {
                !taken[c]
                    && roles[c].is_empty()
                    && stats[c].filled > 0
                    && stats[c].common_codes == stats[c].filled
            })
        });
    if let Some(column) = currency {
        taken[column] = true;
    }
    let category = pinned.category.or_else(|| best(&roles, Role::Category, |c| !taken[c]));
    if let Some(column) = category {
        taken[column] = true;
    }
    // A reference that repeats within the sample is not an entry's id.
    let bank_id =
        best(&roles, Role::Id, |c| !taken[c] && stats[c].filled > 0 && stats[c].distinct == stats[c].filled);

    let values = value_columns(&amount);
    let (decimal, decimal_factor) = choose_decimal(sample, &values, pinned.decimal);
    let (date_order, order_factor) =
        choose_order(sample, date, pinned.date_order, &values, currency, decimal);
    let accounts_currency = if currency.is_none() { unit_currency(sample, &values) } else { None };
    let layout = CsvLayout {
        delimiter: sample.delimiter,
        header_line: sample.header_line,
        headers: sample.headers.clone(),
        date,
        date_order,
        description,
        amount,
        decimal,
        currency,
        category,
        bank_id,
    };
    let plan = Plan::plain(layout, accounts_currency);
    let confidence = if pinned.is_full() {
        1.0
    } else {
        let roles_score = (date_source.score() + money_source.score() + description_source.score()) / 3.0;
        (GUESS_CEILING * roles_score * order_factor * decimal_factor * parse_rate(&plan, sample))
            .clamp(0.0, 1.0)
    };
    Ok(Found { plan, confidence })
}
