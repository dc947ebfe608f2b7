//! Recurring payments: repeating charges at one merchant, across the bank's spellings of it
//! ("NETFLIX.COM", "POS NETFLIX 1234"), with their cadence, next expected date and every
//! price change.
//!
//! A merchant's charges recur when the gaps between them fit one cadence and the amounts
//! hold steady from one charge to the next. Fixed-price series (most charges equal to the
//! one before) report price changes; a bill that varies each month is recurring but has no
//! "price". A yearly cadence asks for more: three charges, or two at one price (±2 %) at a
//! merchant known to bill yearly, so a flight or a hotel a year apart is not "recurring".
//!
//! Each series then gets its kind (`kind`), what the next charge should be, and a status:
//! `active` until the next charge is overdue past the cadence's grace, `late` after that, and
//! `ended` once a whole further cadence has passed without a charge.

pub mod corrections;
pub mod explain;
pub mod kind;
pub mod scan;
pub mod store;

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::history::Debit;
use corrections::Corrections;
use kind::Evidence;
pub use kind::Kind;

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
/// A yearly charge moves less than a monthly bill between charges, or it is not one thing.
const MAX_YEARLY_STEP: f64 = 0.15;
/// Two yearly charges are "the same price" within this.
const SAME_PRICE: f64 = 0.02;
/// Charges a varying bill's expected amount is the median of.
const RECENT_CHARGES: usize = 3;

/// Whether a payment is still being made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The next charge is not yet overdue past the cadence's grace.
    Active,
    /// Overdue past the grace.
    Late,
    /// No charge for a whole cadence past the grace: it has stopped.
    Ended,
}

impl Status {
    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Late => "late",
            Status::Ended => "ended",
        }
    }
}

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

    /// The API's name parsed back.
    pub fn parse(text: &str) -> Option<Cadence> {
        RULES.iter().map(|r| r.cadence).find(|c| c.as_str() == text)
    }

    /// Charges in a year.
    pub fn per_year(self) -> u32 {
        match self {
            Cadence::Weekly => 52,
            Cadence::Biweekly => 26,
            Cadence::Monthly => 12,
            Cadence::Quarterly => 4,
            Cadence::Yearly => 1,
        }
    }

    /// "every month", for sentences.
    pub fn phrase(self) -> &'static str {
        match self {
            Cadence::Weekly => "every week",
            Cadence::Biweekly => "every two weeks",
            Cadence::Monthly => "every month",
            Cadence::Quarterly => "every three months",
            Cadence::Yearly => "every year",
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
    /// That category's name, when known.
    pub category_name: Option<String>,
    /// How often.
    pub cadence: Cadence,
    /// The latest amount.
    pub amount: Decimal,
    /// Whether the price is fixed rather than varying.
    pub fixed_price: bool,
    /// Money in (income) rather than out.
    pub credit: bool,
    /// What the next charge should be: the price, or a varying bill's recent median.
    pub expected_amount: Decimal,
    /// First charge.
    pub first_seen: NaiveDate,
    /// Latest charge.
    pub last_seen: NaiveDate,
    /// When the next charge is due.
    pub next_expected: NaiveDate,
    /// Charges seen (one per day).
    pub occurrences: usize,
    /// Active, late or ended, as of the detection's day.
    pub status: Status,
    /// Every lasting price change, oldest first.
    pub price_changes: Vec<PriceChange>,
    /// The transactions of the series, oldest first.
    pub charges: Vec<Uuid>,
    /// What it is: set by [`find`]; detection alone guesses from the price and direction.
    pub kind: Kind,
    /// Whether `kind` is the person's correction.
    pub kind_corrected: bool,
    /// Why it is that kind, as a clause for the explanation.
    pub kind_reason: String,
}

impl Recurring {
    /// Still being charged: the next charge is not overdue past the cadence's grace.
    pub fn active(&self) -> bool {
        self.status == Status::Active
    }

    /// The days on which a charge is expected in `[from, to]`, from the next expected one on.
    pub fn due_between(&self, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        if self.status == Status::Ended {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut day = self.next_expected;
        while day <= to {
            if day >= from {
                out.push(day);
            }
            let next = self.cadence.next(day);
            if next <= day {
                break;
            }
            day = next;
        }
        out
    }
}

/// Finds the recurring payments among `debits` (any order), as of `today`.
pub fn detect(debits: &[Debit], today: NaiveDate) -> Vec<Recurring> {
    let mut groups: BTreeMap<(&str, &str), Vec<&Debit>> = BTreeMap::new();
    for debit in debits {
        groups.entry((debit.currency.as_str(), debit.merchant.as_str())).or_default().push(debit);
    }
    groups.into_values().filter_map(|charges| series(charges, today, false)).collect()
}

/// Every recurring series of a user as of `today`, debits and income, without those the user
/// said do not recur, each classified (their corrections first).
pub fn find(
    debits: &[Debit],
    credits: &[Debit],
    today: NaiveDate,
    corrections: &Corrections,
) -> Vec<Recurring> {
    let usual = crate::history::usual_month(debits, today);
    let mut found = detect(debits, today);
    found.extend(detect_income(credits, today));
    found.retain(|r| !corrections.refuses(&r.currency, &r.merchant, r.credit));
    let mut payments = Vec::with_capacity(found.len());
    for mut r in found {
        let share = usual.get(&r.currency).filter(|m| !m.is_zero()).map(|m| r.expected_amount / *m);
        let classified = kind::classify(
            &Evidence {
                merchant: &r.merchant,
                currency: &r.currency,
                category: r.category_id.zip(r.category_name.as_deref()),
                credit: r.credit,
                fixed_price: r.fixed_price,
                monthly: r.cadence == Cadence::Monthly,
                share_of_month: share,
            },
            &corrections.taught,
        );
        // A weekly shop of varying amounts with nothing saying "bill" is a habit, not a payment
        // one owes: the Saturday groceries are everyday spending.
        if !r.fixed_price && !r.credit && classified.by_amount_alone && r.cadence.per_year() > 12 {
            continue;
        }
        r.kind = classified.kind;
        r.kind_corrected = classified.corrected;
        r.kind_reason = classified.reason;
        payments.push(r);
    }
    payments
}

/// Finds the recurring income among `credits` (any order), as of `today`.
pub fn detect_income(credits: &[Debit], today: NaiveDate) -> Vec<Recurring> {
    let mut groups: BTreeMap<(&str, &str), Vec<&Debit>> = BTreeMap::new();
    for credit in credits {
        groups.entry((credit.currency.as_str(), credit.merchant.as_str())).or_default().push(credit);
    }
    groups.into_values().filter_map(|charges| series(charges, today, true)).collect()
}

/// The first date on `day` of a month (or that month's last day) at least half a month after
/// `last`.
fn next_on_day(last: NaiveDate, day: u32) -> NaiveDate {
    let start = crate::history::month_start(last);
    (0..3)
        .filter_map(|k| {
            let month = start.checked_add_months(Months::new(k))?;
            let end = crate::history::month_end(month).day();
            month.with_day(day.min(end))
        })
        .find(|d| (*d - last).num_days() >= 15)
        .unwrap_or_else(|| Cadence::Monthly.next(last))
}

fn relative_step(a: Decimal, b: Decimal) -> Option<f64> {
    use rust_decimal::prelude::ToPrimitive;
    if a.is_zero() { None } else { ((b - a).abs() / a).to_f64() }
}

fn series(mut charges: Vec<&Debit>, today: NaiveDate, credit: bool) -> Option<Recurring> {
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
    let max_step = if rule.cadence == Cadence::Yearly { MAX_YEARLY_STEP } else { MAX_STEP };
    let steady = steps.iter().filter(|(a, b)| relative_step(*a, *b).is_some_and(|s| s <= max_step)).count()
        as f64
        / steps.len() as f64;
    if steady < MIN_STEADY_SHARE {
        return None;
    }
    if rule.cadence == Cadence::Yearly && charges.len() < 3 {
        // Two charges a year apart are a pattern only at one price, where yearly billing is
        // known: otherwise they are two trips, two gifts, two repairs.
        let last = charges[charges.len() - 1];
        let same_price = relative_step(charges[0].amount, last.amount).is_some_and(|s| s <= SAME_PRICE);
        if !same_price || !kind::bills_yearly(&last.merchant, last.category_name.as_deref()) {
            return None;
        }
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
    let next_expected = if rule.cadence == Cadence::Monthly {
        // On the usual day of the month: a rent paid early on the 30th is December's, and the
        // next is January's on the 1st, not the 30th of December.
        let mut days: Vec<u32> = charges.iter().map(|c| c.occurred_on.day()).collect();
        days.sort_unstable();
        next_on_day(last.occurred_on, days[days.len() / 2])
    } else {
        rule.cadence.next(last.occurred_on)
    };
    let expected_amount = if fixed_price {
        last.amount
    } else {
        let mut recent: Vec<Decimal> = charges.iter().rev().take(RECENT_CHARGES).map(|c| c.amount).collect();
        recent.sort();
        recent[recent.len() / 2]
    };
    let grace = chrono::Duration::days(rule.grace_days);
    let status = if today <= next_expected + grace {
        Status::Active
    } else if today <= rule.cadence.next(next_expected) + grace {
        Status::Late
    } else {
        Status::Ended
    };
    Some(Recurring {
        merchant: last.merchant.clone(),
        currency: last.currency.clone(),
        category_id: last.category_id,
        category_name: last.category_name.clone(),
        cadence: rule.cadence,
        amount: last.amount,
        fixed_price,
        credit,
        expected_amount,
        first_seen: charges[0].occurred_on,
        last_seen: last.occurred_on,
        next_expected,
        occurrences: charges.len(),
        status,
        price_changes,
        charges: charges.iter().map(|c| c.transaction_id).collect(),
        kind: if credit {
            Kind::Income
        } else if fixed_price {
            Kind::Subscription
        } else {
            Kind::Bill
        },
        kind_corrected: false,
        kind_reason: String::new(),
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
        assert!(netflix.fixed_price && netflix.active());
        assert_eq!(netflix.expected_amount, Decimal::new(1799, 2));
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
    fn a_yearly_payment_goes_late_then_ends() {
        let debits = vec![
            charge(day(2023, 5, 2), "AMAZON PRIME*2K3", 13900),
            charge(day(2024, 5, 3), "AMAZON PRIME*9Q1", 13900),
        ];
        let status = |today| detect(&debits, today).first().map(|r| r.status);
        assert_eq!(detect(&debits, day(2025, 1, 1))[0].cadence, Cadence::Yearly);
        assert_eq!(status(day(2025, 5, 20)), Some(Status::Active));
        assert_eq!(status(day(2025, 7, 1)), Some(Status::Late));
        assert_eq!(status(day(2026, 7, 1)), Some(Status::Ended));
    }

    #[test]
    fn rent_paid_early_is_next_due_on_its_usual_day() {
        let mut debits: Vec<Debit> = (0..10)
            .map(|m| {
                charge(
                    day(2025, 1, 1).checked_add_months(Months::new(m)).expect("date"),
                    "HARBOR MGMT",
                    150_000,
                )
            })
            .collect();
        // November's rent on the 1st, December's early on 30 November.
        debits.push(charge(day(2025, 11, 1), "HARBOR MGMT", 150_000));
        debits.push(charge(day(2025, 11, 30), "HARBOR MGMT", 150_000));
        let rent = &detect(&debits, day(2025, 12, 10))[0];
        assert_eq!(rent.next_expected, day(2026, 1, 1));
        assert!(rent.due_between(day(2025, 12, 1), day(2025, 12, 31)).is_empty());
        // Charges on the 31st are next due on the last day of a shorter month.
        let late: Vec<Debit> = [day(2025, 10, 31), day(2025, 12, 31), day(2026, 1, 31)]
            .map(|d| charge(d, "CITY LOAN", 20_000))
            .to_vec();
        let mut late = late;
        late.insert(1, charge(day(2025, 11, 30), "CITY LOAN", 20_000));
        assert_eq!(detect(&late, day(2026, 2, 1))[0].next_expected, day(2026, 2, 28));
    }

    #[test]
    fn trips_a_year_apart_are_not_yearly_payments() {
        // Two flights and two hotel stays a year apart at different prices, and a Black
        // Friday purchase: none recurs.
        let debits = vec![
            charge(day(2024, 7, 3), "DELTA AIR 0062341", 48620),
            charge(day(2025, 7, 8), "DELTA AIR 0069912", 61240),
            charge(day(2024, 7, 5), "MARRIOTT HOTEL BOSTON", 84200),
            charge(day(2025, 7, 10), "MARRIOTT HOTEL BOSTON", 91250),
            charge(day(2024, 11, 29), "BEST BUY #1123", 129999),
            charge(day(2025, 11, 28), "BEST BUY #1123", 129999),
        ];
        assert!(detect(&debits, day(2025, 12, 1)).is_empty());
        // Three at about one price are yearly, whatever the merchant.
        let dues = vec![
            charge(day(2023, 3, 1), "CITY SAILING CLUB", 25000),
            charge(day(2024, 3, 1), "CITY SAILING CLUB", 25000),
            charge(day(2025, 3, 2), "CITY SAILING CLUB", 26000),
        ];
        assert_eq!(detect(&dues, day(2025, 12, 1)).len(), 1);
    }

    #[test]
    fn charges_due_in_a_month_follow_the_cadence() {
        let debits: Vec<Debit> =
            (0..6).map(|w| charge(day(2025, 1, 6) + chrono::Duration::weeks(w), "CITY GYM", 1500)).collect();
        let gym = &detect(&debits, day(2025, 2, 12))[0];
        assert_eq!(gym.cadence, Cadence::Weekly);
        assert_eq!(gym.next_expected, day(2025, 2, 17));
        assert_eq!(
            gym.due_between(day(2025, 2, 13), day(2025, 2, 28)),
            vec![day(2025, 2, 17), day(2025, 2, 24)]
        );
    }
}
