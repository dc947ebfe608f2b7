//! One data row to entries under a plan. Errors name the column, as the file's header does, so
//! a person can find the cell.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::model::AmountColumns;
use crate::numbers::parse_amount;
use crate::tabular::plan::{AccountRule, Plan};
use crate::tabular::{dates, money};
use crate::text::collapse;

/// What a row is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Row {
    /// Blank, pending, a split's parent: not an entry and not an error.
    Skip,
    /// Readable, but the amount is 0 (the engine refuses zero amounts).
    Zero,
    Error(String),
    /// Usually one; a Firefly III transfer between two own accounts is two.
    Entries(Vec<Booked>),
}

/// An entry before its account is numbered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Booked {
    /// The account's number as the row names it; empty for a single unnamed account.
    pub(crate) account: String,
    pub(crate) date: NaiveDate,
    pub(crate) amount: Decimal,
    pub(crate) currency: Option<String>,
    pub(crate) description: String,
    pub(crate) bank_id: Option<String>,
    pub(crate) category: Option<String>,
}

/// Firefly III account types that are the user's own (assets and liabilities).
const OWN_TYPES: &[&str] = &["Asset account", "Default account", "Loan", "Debt", "Mortgage", "Credit card"];

pub(crate) fn convert(plan: &Plan, cells: &[&str]) -> Row {
    if cells.iter().all(|c| c.trim().is_empty()) {
        return Row::Skip;
    }
    let layout = &plan.layout;
    let cell = |i: usize| cells.get(i).map_or("", |c| c.trim());
    let name = |i: usize| layout.headers.get(i).map_or("", String::as_str);
    if let Some((column, values)) = plan.skip
        && values.iter().any(|v| v.eq_ignore_ascii_case(cell(column)))
    {
        return Row::Skip;
    }

    let written = cell(layout.date);
    if written.is_empty() {
        return Row::Error(format!("{}: no date", name(layout.date)));
    }
    let Some(date) = dates::parse(written, layout.date_order) else {
        return Row::Error(format!("{}: cannot read \"{written}\" as a day", name(layout.date)));
    };

    let read = |i: usize| -> Result<Option<Decimal>, String> {
        let text = cell(i);
        if text.is_empty() {
            return Ok(None);
        }
        parse_amount(money::bare(text), layout.decimal)
            .map(Some)
            .ok_or_else(|| format!("{}: cannot read \"{text}\" as an amount", name(i)))
    };
    let required =
        |i: usize| -> Result<Decimal, String> { read(i)?.ok_or_else(|| format!("{}: no amount", name(i))) };
    let amount = match &layout.amount {
        AmountColumns::Signed(i) => required(*i),
        AmountColumns::DebitCredit { debit, credit } => match (read(*debit), read(*credit)) {
            (Err(message), _) | (_, Err(message)) => Err(message),
            (Ok(None), Ok(None)) => Err(format!("{} and {}: both are blank", name(*debit), name(*credit))),
            // Money out is out however it is signed.
            (Ok(out), Ok(into)) => Ok(into.unwrap_or_default().abs() - out.unwrap_or_default().abs()),
        },
        AmountColumns::Indicator { amount, indicator, out } => required(*amount).map(|value| {
            let flag = cell(*indicator).to_lowercase();
            if value < Decimal::ZERO || out.iter().any(|o| o.to_lowercase() == flag) {
                -value.abs()
            } else {
                value.abs()
            }
        }),
    };
    let mut amount = match amount {
        Ok(amount) => amount,
        Err(message) => return Row::Error(message),
    };
    if let Some(fee) = plan.fee {
        match read(fee) {
            Ok(charged) => amount -= charged.unwrap_or_default().abs(),
            Err(message) => return Row::Error(message),
        }
    }
    if amount.is_zero() {
        let parent =
            plan.split_parent.is_some_and(|i| read(i).ok().flatten().is_some_and(|total| !total.is_zero()));
        return if parent { Row::Skip } else { Row::Zero };
    }

    let text = |i: usize| collapse(unquote(cell(i), plan.unquote_formulas));
    let memo: Vec<String> = layout.description.iter().map(|&i| text(i)).filter(|t| !t.is_empty()).collect();
    let currency = layout.currency.map(cell).filter(|c| !c.is_empty()).map(currency_code);
    let category = layout.category.map(text).filter(|c| !c.is_empty());
    let bank_id = layout.bank_id.map(cell).filter(|c| !c.is_empty()).map(str::to_owned);

    let entries = sides(plan, amount, cells)
        .into_iter()
        .map(|(account, amount)| {
            let mut parts = Vec::with_capacity(memo.len() + 1);
            if let Some((when_out, when_in)) = plan.counterparty {
                let who = text(if amount < Decimal::ZERO { when_out } else { when_in });
                if !who.is_empty() {
                    parts.push(who);
                }
            }
            parts.extend(memo.iter().cloned());
            // Banks often repeat the payee in the memo.
            parts.dedup();
            Booked {
                account,
                date,
                amount,
                currency: currency.clone(),
                description: parts.join(" · "),
                bank_id: bank_id.clone(),
                category: category.clone(),
            }
        })
        .collect();
    Row::Entries(entries)
}

/// The accounts a row's amount lands in, signed as each account sees it.
fn sides(plan: &Plan, amount: Decimal, cells: &[&str]) -> Vec<(String, Decimal)> {
    let cell = |i: usize| cells.get(i).map_or("", |c| c.trim());
    match plan.account {
        AccountRule::Single => vec![(String::new(), amount)],
        AccountRule::Column(i) => vec![(cell(i).to_owned(), amount)],
        AccountRule::Sides { source, destination, source_type, destination_type } => {
            let own = |i: usize| OWN_TYPES.iter().any(|t| t.eq_ignore_ascii_case(cell(i)));
            let magnitude = amount.abs();
            match (own(source_type), own(destination_type)) {
                (true, true) => {
                    vec![(cell(source).to_owned(), -magnitude), (cell(destination).to_owned(), magnitude)]
                }
                (true, false) => vec![(cell(source).to_owned(), -magnitude)],
                (false, true) => vec![(cell(destination).to_owned(), magnitude)],
                (false, false) if amount < Decimal::ZERO => vec![(cell(source).to_owned(), amount)],
                (false, false) => vec![(cell(destination).to_owned(), amount)],
            }
        }
    }
}

fn unquote(text: &str, on: bool) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if on && rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => text,
    }
}

/// ISO 4217 codes upper-cased; the two symbols that name one currency only, as codes.
fn currency_code(text: &str) -> String {
    match text {
        "€" => "EUR".to_owned(),
        "£" => "GBP".to_owned(),
        _ => text.to_uppercase(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{CsvLayout, DateOrder};
    use crate::numbers::DecimalMark;

    fn layout(headers: &[&str], amount: AmountColumns) -> CsvLayout {
        CsvLayout {
            delimiter: b',',
            header_line: 1,
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            date: 0,
            date_order: DateOrder::Dmy,
            description: vec![1],
            amount,
            decimal: DecimalMark::Comma,
            currency: None,
            category: None,
            bank_id: None,
        }
    }

    fn entry(row: Row) -> Booked {
        match row {
            Row::Entries(mut entries) => entries.remove(0),
            other => panic!("not an entry: {other:?}"),
        }
    }

    #[test]
    fn debit_and_credit_columns() {
        let plan = Plan::plain(
            layout(&["Datum", "Text", "Soll", "Haben"], AmountColumns::DebitCredit { debit: 2, credit: 3 }),
            None,
        );
        assert_eq!(
            entry(convert(&plan, &["01.03.2026", "Miete", "850,00", ""])).amount.to_string(),
            "-850.00"
        );
        assert_eq!(
            entry(convert(&plan, &["01.03.2026", "Miete", "-850,00", ""])).amount.to_string(),
            "-850.00"
        );
        assert_eq!(
            entry(convert(&plan, &["01.03.2026", "Lohn", "", "2.500,00"])).amount.to_string(),
            "2500.00"
        );
        assert_eq!(
            convert(&plan, &["01.03.2026", "?", "", ""]),
            Row::Error("Soll and Haben: both are blank".to_owned())
        );
        assert_eq!(convert(&plan, &["01.03.2026", "?", "0,00", ""]), Row::Zero);
    }

    #[test]
    fn an_indicator_column() {
        let out = vec!["af".to_owned()];
        let plan = Plan::plain(
            layout(
                &["Datum", "Naam", "Af Bij", "Bedrag"],
                AmountColumns::Indicator { amount: 3, indicator: 2, out },
            ),
            None,
        );
        assert_eq!(entry(convert(&plan, &["02.01.2026", "AH", "Af", "12,34"])).amount.to_string(), "-12.34");
        assert_eq!(
            entry(convert(&plan, &["03.01.2026", "Loon", "Bij", "2500,00"])).amount.to_string(),
            "2500.00"
        );
    }

    #[test]
    fn errors_name_the_column() {
        let plan = Plan::plain(layout(&["Datum", "Text", "Betrag"], AmountColumns::Signed(2)), None);
        assert_eq!(
            convert(&plan, &["32.13.2026", "x", "1,00"]),
            Row::Error("Datum: cannot read \"32.13.2026\" as a day".to_owned())
        );
        assert_eq!(
            convert(&plan, &["01.03.2026", "x", "zwölf"]),
            Row::Error("Betrag: cannot read \"zwölf\" as an amount".to_owned())
        );
        assert_eq!(
            convert(&plan, &["Saldo", "", "1,00"]),
            Row::Error("Datum: cannot read \"Saldo\" as a day".to_owned())
        );
        assert_eq!(convert(&plan, &["", " ", ""]), Row::Skip);
    }

    #[test]
    fn payee_and_memo_joined() {
        let mut plan =
            Plan::plain(layout(&["Date", "Payee", "Amount", "Memo"], AmountColumns::Signed(2)), None);
        plan.layout.description = vec![1, 3];
        plan.layout.decimal = DecimalMark::Point;
        let booked = entry(convert(&plan, &["01/03/2026", "  ACME   Corp ", "-5", "'=invoice 7"]));
        assert_eq!(booked.description, "ACME Corp · '=invoice 7");
        plan.unquote_formulas = true;
        let booked = entry(convert(&plan, &["01/03/2026", "ACME", "-5", "'=invoice 7"]));
        assert_eq!(booked.description, "ACME · =invoice 7");
        let booked = entry(convert(&plan, &["01/03/2026", "", "-5", "note"]));
        assert_eq!(booked.description, "note");
    }

    #[test]
    fn firefly_sides() {
        let mut plan = Plan::plain(
            layout(&["date", "description", "amount", "s", "st", "d", "dt"], AmountColumns::Signed(2)),
            None,
        );
        plan.layout.decimal = DecimalMark::Point;
        plan.layout.date_order = DateOrder::Ymd;
        plan.account = AccountRule::Sides { source: 3, source_type: 4, destination: 5, destination_type: 6 };
        let row =
            ["2026-03-01", "Rent", "-800.00", "Checking", "Asset account", "Landlord", "Expense account"];
        let Row::Entries(entries) = convert(&plan, &row) else { panic!() };
        assert_eq!(
            (entries[0].account.as_str(), entries[0].amount.to_string().as_str()),
            ("Checking", "-800.00")
        );
        let row = ["2026-03-01", "Save", "100.00", "Checking", "Asset account", "Savings", "Asset account"];
        let Row::Entries(entries) = convert(&plan, &row) else { panic!() };
        assert_eq!(entries.len(), 2);
        assert_eq!(
            (entries[0].account.as_str(), entries[0].amount.to_string().as_str()),
            ("Checking", "-100.00")
        );
        assert_eq!(
            (entries[1].account.as_str(), entries[1].amount.to_string().as_str()),
            ("Savings", "100.00")
        );
    }
}
