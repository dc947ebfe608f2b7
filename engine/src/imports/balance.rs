//! The closing-balance check: where a file states an opening and a closing balance (CAMT.053,
//! MT940), the opening plus every row must come to the closing. A mismatch means rows the file
//! lost or we could not read; rows we refused leave the account short of the bank's balance.
//! Either is a warning on the import, never a refusal: the rows that were read are still right.
//!
//! An OFX file states only the closing balance (LEDGERBAL), and a CSV or QIF none, so they are
//! not checked: without an opening balance there is nothing to add the rows to.

use budgetsmart_bankfiles::StatementAccount;
use budgetsmart_common::currency::Currency;
use rust_decimal::Decimal;

use crate::accounts::store::number_hint;

/// One account's figures.
pub struct Figures<'a> {
    pub statement: &'a StatementAccount,
    pub currency: Currency,
    /// Entries read and their signed sum.
    pub entries: u32,
    pub sum: Decimal,
    /// The signed sum of entries read but refused.
    pub refused: Decimal,
}

fn money(amount: Decimal, currency: Currency) -> String {
    format!("{} {}", amount.round_dp(currency.minor_units()), currency.code())
}

/// The warning for the file's accounts, or `None` when every stated balance adds up.
pub fn warning(accounts: &[Figures<'_>]) -> Option<String> {
    let lines: Vec<String> = accounts.iter().filter_map(check).collect();
    (!lines.is_empty()).then(|| lines.join(" "))
}

fn check(f: &Figures<'_>) -> Option<String> {
    let (Some(opening), Some(closing)) = (&f.statement.opening, &f.statement.closing) else { return None };
    let name = if f.statement.number.is_empty() {
        "The statement".to_owned()
    } else {
        format!("Account …{}", number_hint(&f.statement.number))
    };
    let read = opening.amount.saturating_add(f.sum);
    if read != closing.amount {
        return Some(format!(
            "{name}: the file gives a closing balance of {} on {}, but its opening balance of {} plus the {} rows \
             read comes to {} ({} unaccounted for). The file may be incomplete.",
            money(closing.amount, f.currency),
            closing.on,
            money(opening.amount, f.currency),
            f.entries,
            money(read, f.currency),
            money(closing.amount - read, f.currency),
        ));
    }
    if !f.refused.is_zero() {
        return Some(format!(
            "{name}: rows worth {} were refused (see errors), so this account is that much off the bank's closing \
             balance of {} on {}.",
            money(f.refused, f.currency),
            money(closing.amount, f.currency),
            closing.on,
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use budgetsmart_bankfiles::Balance;
    use chrono::NaiveDate;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap_or_else(|| unreachable!())
    }

    fn statement(opening: &str, closing: &str) -> StatementAccount {
        let on = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap_or_default();
        StatementAccount {
            number: "DE89370400440532013000".to_owned(),
            opening: Some(Balance { amount: opening.parse().unwrap_or_default(), on }),
            closing: Some(Balance { amount: closing.parse().unwrap_or_default(), on }),
            ..StatementAccount::default()
        }
    }

    #[test]
    fn a_statement_that_adds_up_has_no_warning() {
        let s = statement("1000.00", "950.50");
        let f = Figures {
            statement: &s,
            currency: eur(),
            entries: 3,
            sum: "-49.50".parse().unwrap_or_default(),
            refused: Decimal::ZERO,
        };
        assert_eq!(warning(&[f]), None);
    }

    #[test]
    fn a_missing_row_and_a_refused_row_are_named() {
        let s = statement("1000.00", "950.50");
        let f = Figures {
            statement: &s,
            currency: eur(),
            entries: 2,
            sum: "-40.00".parse().unwrap_or_default(),
            refused: Decimal::ZERO,
        };
        let text = warning(&[f]).unwrap_or_default();
        assert!(text.contains("…3000"), "{text}");
        assert!(text.contains("-9.50 EUR unaccounted for"), "{text}");
        let f = Figures {
            statement: &s,
            currency: eur(),
            entries: 3,
            sum: "-49.50".parse().unwrap_or_default(),
            refused: "-9.50".parse().unwrap_or_default(),
        };
        assert!(warning(&[f]).unwrap_or_default().contains("rows worth -9.50 EUR were refused"));
    }
}
