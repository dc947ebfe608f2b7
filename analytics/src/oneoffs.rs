//! One-off purchases: the sofa, the laptop, last December's television. They are real
//! spending, but a model fitted with them repeats them a year later, and a savings idea
//! built on them tells a person to "get back to usual" after a purchase they made once.
//!
//! A debit is a one-off when anomaly detection flagged it (and the person did not say "not an
//! anomaly"), or when it is large and infrequent: at least `LARGE_FACTOR` times the user's
//! median debit, at least `MONTH_SHARE` of a usual month, and either at a merchant the user
//! rarely visits or far above that merchant's usual charge. Charges of a recurring series
//! never are.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::history::{self, Debit};

/// How many times the user's median debit a one-off is at least.
const LARGE_FACTOR: Decimal = Decimal::from_parts(8, 0, 0, false, 0);
/// The share of a usual month a one-off is at least.
const MONTH_SHARE: Decimal = Decimal::from_parts(15, 0, 0, false, 2);
/// A merchant with fewer charges than this in the window is one the user rarely visits.
const RARE_VISITS: usize = 3;

/// Why a debit was set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Anomaly detection flagged it.
    Anomaly,
    /// Large, at a merchant rarely visited or far above its usual charge.
    LargeInfrequent,
}

impl Reason {
    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Anomaly => "anomaly",
            Reason::LargeInfrequent => "large_infrequent",
        }
    }
}

/// A debit set aside from the regular series.
#[derive(Debug, Clone, PartialEq)]
pub struct OneOff {
    /// The transaction.
    pub transaction_id: Uuid,
    /// When.
    pub occurred_on: NaiveDate,
    /// As the bank wrote it.
    pub description: String,
    /// How much.
    pub amount: Decimal,
    /// Its currency.
    pub currency: String,
    /// Its category.
    pub category_id: Option<Uuid>,
    /// Why.
    pub reason: Reason,
}

/// What the person and the detectors said about the debits.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// Transactions of open or confirmed anomalies.
    pub anomalies: HashSet<Uuid>,
    /// Transactions the person said are not anomalies: they stay regular.
    pub not_anomalies: HashSet<Uuid>,
    /// Transactions of recurring series.
    pub recurring: HashSet<Uuid>,
}

fn median(mut values: Vec<Decimal>) -> Option<Decimal> {
    values.sort();
    values.get(values.len() / 2).copied()
}

/// The one-offs among `debits` (any order), oldest first.
pub fn find(debits: &[Debit], flags: &Flags) -> Vec<OneOff> {
    let mut by_currency: HashMap<&str, Vec<&Debit>> = HashMap::new();
    for d in debits {
        by_currency.entry(d.currency.as_str()).or_default().push(d);
    }
    let mut out = Vec::new();
    for (_, debits) in by_currency {
        let Some(typical) = median(debits.iter().map(|d| d.amount).collect()) else { continue };
        let mut months: HashMap<NaiveDate, Decimal> = HashMap::new();
        let mut merchants: HashMap<&str, Vec<Decimal>> = HashMap::new();
        for d in &debits {
            *months.entry(history::month_start(d.occurred_on)).or_default() += d.amount;
            merchants.entry(d.merchant.as_str()).or_default().push(d.amount);
        }
        let usual_month = median(months.into_values().collect()).unwrap_or_default();
        for d in &debits {
            if flags.recurring.contains(&d.transaction_id) || flags.not_anomalies.contains(&d.transaction_id)
            {
                continue;
            }
            let reason = if flags.anomalies.contains(&d.transaction_id) {
                Some(Reason::Anomaly)
            } else {
                let visits = merchants.get(d.merchant.as_str()).map_or(&[][..], Vec::as_slice);
                let above_usual_there = median(visits.to_vec()).is_some_and(|m| d.amount >= m * LARGE_FACTOR);
                let large = d.amount >= typical * LARGE_FACTOR && d.amount >= usual_month * MONTH_SHARE;
                (large && (visits.len() < RARE_VISITS || above_usual_there))
                    .then_some(Reason::LargeInfrequent)
            };
            if let Some(reason) = reason {
                out.push(OneOff {
                    transaction_id: d.transaction_id,
                    occurred_on: d.occurred_on,
                    description: d.description.clone(),
                    amount: d.amount,
                    currency: d.currency.clone(),
                    category_id: d.category_id,
                    reason,
                });
            }
        }
    }
    out.sort_by_key(|o| (o.occurred_on, o.transaction_id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    /// A year of everyday spending: groceries twice a week, coffee most days.
    fn everyday() -> Vec<Debit> {
        let mut out = Vec::new();
        for d in 0..365 {
            let on = day(2025, 1, 1) + chrono::Duration::days(d);
            if d % 3 == 0 {
                out.push(Debit::new(on, "KROGER #12", 6_000 + (d % 7) * 500, None));
            }
            out.push(Debit::new(on, "BLUE BOTTLE COFFEE", 450, None));
        }
        out
    }

    #[test]
    fn a_sofa_is_a_one_off_and_groceries_are_not() {
        let mut debits = everyday();
        let sofa = Debit::new(day(2025, 12, 12), "ASHLEY FURNITURE", 240_000, None);
        debits.push(sofa.clone());
        let found = find(&debits, &Flags::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].transaction_id, sofa.transaction_id);
        assert_eq!(found[0].reason, Reason::LargeInfrequent);
    }

    #[test]
    fn not_an_anomaly_puts_it_back_and_a_flag_sets_it_aside() {
        let mut debits = everyday();
        let sofa = Debit::new(day(2025, 12, 12), "ASHLEY FURNITURE", 240_000, None);
        let spike = debits[30].clone();
        debits.push(sofa.clone());
        let flags = Flags {
            anomalies: HashSet::from([spike.transaction_id]),
            not_anomalies: HashSet::from([sofa.transaction_id]),
            recurring: HashSet::new(),
        };
        let found = find(&debits, &flags);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].transaction_id, found[0].reason), (spike.transaction_id, Reason::Anomaly));
    }
}
