//! Recurring payments: repeating charges at one merchant, across the bank's spellings of it
//! ("NETFLIX.COM", "POS NETFLIX 1234"), with their cadence, next expected date and every
//! price change.
//!
//! A merchant's charges recur when the gaps between them fit one cadence and the amounts
//! hold steady from one charge to the next. Fixed-price series (most charges equal to the
//! one before) are subscriptions, and only those report price changes; a bill that varies
//! each month is recurring but has no "price".

pub mod store;

use std::collections::BTreeMap;

use chrono::{Months, NaiveDate};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::history::Debit;

/// How often a payment repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Every 7 days.
    Weekly,
    /// Every 14 days.
    Biweekly,
    /// Every month.
    Monthly,
    /// Every three months.
    Quarterly,
    /// Every year.
    Yearly,
}

/// A cadence's accepted gaps, nominal length, least occurrences and grace after a due date.
struct Rule {
    cadence: Cadence,
    gaps: std::ops::RangeInclusive<i64>,
    days: i64,
    min_occurrences: usize,
    grace_days: i64,
}

const RULES: &[Rule] = &[
    Rule { cadence: Cadence::Weekly, gaps: 5..=9, days: 7, min_occurrences: 4, grace_days: 3 },
    Rule { cadence: Cadence::Biweekly, gaps: 12..=16, days: 14, min_occurrences: 3, grace_days: 5 },
    Rule { cadence: Cadence::Monthly, gaps: 26..=35, days: 30, min_occurrences: 3, grace_days: 7 },
    Rule { cadence: Cadence::Quarterly, gaps: 80..=100, days: 91, min_occurrences: 3, grace_days: 15 },
    Rule { cadence: Cadence::Yearly, gaps: 350..=380, days: 365, min_occurrences: 2, grace_days: 30 },
];

/// Share of gaps that must fit the cadence (one late or missed charge is forgiven).
const MIN_REGULAR_SHARE: f64 = 0.7;
/// Largest relative move between consecutive charges that still counts as "the same bill".
const MAX_STEP: f64 = 0.3;
/// Share of consecutive charges that must stay within that move.
const MIN_STEADY_SHARE: f64 = 0.75;
/// Share of consecutive charges exactly equal that makes a fixed price.
const MIN_FIXED_SHARE: f64 = 0.5;

impl Cadence {
    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Weekly => "weekly",
            Cadence::Biweekly => "biweekly",
            Cadence::Monthly => "monthly",
            Cadence::Quarterly => "quarterly",
            Cadence::Yearly => "yearly",
        }
    }

    fn rule(self) -> &'static Rule {
        RULES.iter().find(|r| r.cadence == self).unwrap_or(&RULES[2])
    }

    /// Nominal days between charges.
    pub fn days(self) -> i64 {
        self.rule().days
    }

    /// The charge after one on `day`: calendar months for the monthly cadences, so a charge on
    /// the 31st is next due at the end of a shorter month.
    pub fn next(self, day: NaiveDate) -> NaiveDate {
        let months = match self {
            Cadence::Monthly => 1,
            Cadence::Quarterly => 3,
            Cadence::Yearly => 12,
            Cadence::Weekly | Cadence::Biweekly => return day + chrono::Duration::days(self.days()),
        };
        day.checked_add_months(Months::new(months)).unwrap_or(day)
    }
}

/// A price change of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceChange {
    /// The first charge at the new price.
    pub on: NaiveDate,
    /// The old price.
    pub from: Decimal,
    /// The new price.
    pub to: Decimal,
}

/// A detected recurring payment.
#[derive(Debug, Clone, PartialEq)]
pub struct Recurring {
    /// Normalised merchant.
    pub merchant: String,
    /// Currency of the charges.
    pub currency: String,
    /// Category of the latest charge.
    pub category_id: Option<Uuid>,
    /// How often.
    pub cadence: Cadence,
    /// The latest amount.
    pub amount: Decimal,
    /// Whether the price is fixed (a subscription) rather than varying (a bill).
    pub fixed_price: bool,
    /// First charge.
    pub first_seen: NaiveDate,
    /// Latest charge.
    pub last_seen: NaiveDate,
    /// When the next charge is due.
    pub next_expected: NaiveDate,
    /// Charges seen (one per day).
    pub occurrences: usize,
    /// Still being charged: the next charge is not overdue by more than the cadence's grace.
    pub active: bool,
    /// Every lasting price change, oldest first.
    pub price_changes: Vec<PriceChange>,
}

/// Finds the recurring payments among `debits` (any order), as of `today`.
pub fn detect(debits: &[Debit], today: NaiveDate) -> Vec<Recurring> {
    let mut groups: BTreeMap<(&str, &str), Vec<&Debit>> = BTreeMap::new();
    for debit in debits {
        groups.entry((debit.currency.as_str(), debit.merchant.as_str())).or_default().push(debit);
    }
    groups.into_values().filter_map(|charges| series(charges, today)).collect()
}

fn series(mut charges: Vec<&Debit>, today: NaiveDate) -> Option<Recurring> {
    charges.sort_by_key(|d| (d.occurred_on, d.transaction_id));
    // One charge per day: a same-day repeat is a duplicate, not a cadence of zero days.
    charges.dedup_by_key(|d| d.occurred_on);
    if charges.len() < 2 {
        return None;
    }
    let gaps: Vec<i64> =
        charges.windows(2).map(|w| (w[1].occurred_on - w[0].occurred_on).num_days()).collect();
    let mut sorted = gaps.clone();
    sorted.sort_unstable();
    let median_gap = sorted[sorted.len() / 2];
    let rule = RULES.iter().find(|r| r.gaps.contains(&median_gap))?;
    if charges.len() < rule.min_occurrences {
        return None;
    }
    let regular = gaps.iter().filter(|g| rule.gaps.contains(g)).count() as f64 / gaps.len() as f64;
    if regular < MIN_REGULAR_SHARE {
        return None;
    }
    let steps: Vec<(Decimal, Decimal)> = charges.windows(2).map(|w| (w[0].amount, w[1].amount)).collect();
    let steady = steps
        .iter()
        .filter(|(a, b)| {
            !a.is_zero() && ((*b - *a).abs() / *a) <= Decimal::try_from(MAX_STEP).unwrap_or(Decimal::ONE)
        })
        .count() as f64
        / steps.len() as f64;
    if steady < MIN_STEADY_SHARE {
        return None;
    }
    let fixed_price =
        steps.iter().filter(|(a, b)| a == b).count() as f64 / steps.len() as f64 >= MIN_FIXED_SHARE;
    let mut price_changes = Vec::new();
    if fixed_price {
        // Against the established price, so a one-off charge in between is no change at all.
        let mut price = charges[0].amount;
        for k in 1..charges.len() {
            let now = charges[k].amount;
            // A lasting change: the next charge (if any) keeps the new price.
            let lasting = charges.get(k + 1).is_none_or(|next| next.amount == now);
            if now != price && lasting {
                price_changes.push(PriceChange { on: charges[k].occurred_on, from: price, to: now });
                price = now;
            }
        }
    }
    let last = charges[charges.len() - 1];
    let next_expected = rule.cadence.next(last.occurred_on);
    Some(Recurring {
        merchant: last.merchant.clone(),
        currency: last.currency.clone(),
        category_id: last.category_id,
        cadence: rule.cadence,
        amount: last.amount,
        fixed_price,
        first_seen: charges[0].occurred_on,
        last_seen: last.occurred_on,
        next_expected,
        occurrences: charges.len(),
        active: today <= next_expected + chrono::Duration::days(rule.grace_days),
        price_changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge(day: NaiveDate, text: &str, cents: i64) -> Debit {
        Debit::new(day, text, cents, None)
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn a_subscription_across_spellings_with_its_price_rise() {
        let spellings = ["NETFLIX.COM", "POS NETFLIX 1234", "Netflix.com *8842"];
        let mut debits: Vec<Debit> = (0..14)
            .map(|m| {
                let on = day(2025, 1, 15).checked_add_months(Months::new(m)).expect("date");
                charge(on, spellings[m as usize % 3], if m < 9 { 1549 } else { 1799 })
            })
            .collect();
        // Weekly groceries with varying amounts are not a subscription.
        let varying = [4210, 12877, 6533, 9900, 3120, 15010, 7420, 5230];
        debits.extend((0..40).map(|w| {
            charge(
                day(2025, 1, 6) + chrono::Duration::weeks(w),
                "KROGER #12",
                varying[w as usize % varying.len()],
            )
        }));
        let found = detect(&debits, day(2026, 3, 20));
        assert_eq!(found.len(), 1, "{found:?}");
        let netflix = &found[0];
        assert_eq!(netflix.merchant, "netflix");
        assert_eq!(netflix.cadence, Cadence::Monthly);
        assert_eq!(netflix.occurrences, 14);
        assert!(netflix.fixed_price && netflix.active);
        assert_eq!(netflix.next_expected, day(2026, 3, 15));
        assert_eq!(
            netflix.price_changes,
            vec![PriceChange {
                on: day(2025, 10, 15),
                from: Decimal::new(1549, 2),
                to: Decimal::new(1799, 2)
            }]
        );
    }

    #[test]
    fn a_one_off_charge_is_no_price_change() {
        let cents = [1549, 1549, 1549, 1549, 999, 1549, 1549, 1549, 1549, 1549, 1549, 1549];
        let debits: Vec<Debit> = cents
            .iter()
            .enumerate()
            .map(|(m, c)| {
                charge(day(2025, 1, 15).checked_add_months(Months::new(m as u32)).expect("date"), "HULU", *c)
            })
            .collect();
        let found = detect(&debits, day(2026, 1, 1));
        assert_eq!(found.len(), 1);
        assert!(found[0].price_changes.is_empty(), "{:?}", found[0].price_changes);
    }

    #[test]
    fn a_lapsed_yearly_payment_is_inactive() {
        let debits = vec![
            charge(day(2023, 5, 2), "AMAZON PRIME*2K3", 13900),
            charge(day(2024, 5, 3), "AMAZON PRIME*9Q1", 13900),
        ];
        let found = detect(&debits, day(2026, 1, 1));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].cadence, Cadence::Yearly);
        assert!(!found[0].active);
    }
}
