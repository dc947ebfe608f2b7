//! Anomaly detection: every debit scored against the same user's spending *before its date*.
//!
//! Detection is a pure function of the user's debits, sorted by date and id, and their
//! feedback. It does not depend on the order events arrived in, so a bulk import of 18
//! months flags exactly what posting the same transactions one by one flags. Three kinds:
//! - `amount_spike`: far above the usual amount at that merchant (or, with little history
//!   there, in that category), on log amounts with robust statistics (median and MAD), and
//!   seasonality-aware: the same calendar month of earlier years raises the bar;
//! - `new_merchant`: a large first charge at a merchant never seen before;
//! - `duplicate`: the same amount at the same merchant again within two days.
//!
//! Subscriptions (fixed-price recurring payments) are not scored for amount: their price rise
//! is reported as a price change, not as an anomaly.

pub mod store;

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use rust_decimal::prelude::ToPrimitive;
use uuid::Uuid;

use crate::history::Debit;

/// What kind of anomaly a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Far above the usual amount.
    AmountSpike,
    /// A large first charge at an unknown merchant.
    NewMerchant,
    /// The same charge twice.
    Duplicate,
}

impl Kind {
    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::AmountSpike => "amount_spike",
            Kind::NewMerchant => "new_merchant",
            Kind::Duplicate => "duplicate",
        }
    }

    /// Reads the API's name.
    pub fn parse(text: &str) -> Option<Kind> {
        [Kind::AmountSpike, Kind::NewMerchant, Kind::Duplicate].into_iter().find(|k| k.as_str() == text)
    }
}

/// One flagged transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The transaction.
    pub transaction_id: Uuid,
    /// Why.
    pub kind: Kind,
    /// In [0, 1]; 0.5 is the flagging threshold of its kind.
    pub score: f64,
    /// One sentence, with the numbers.
    pub explanation: String,
}

/// What detection knows besides the debits.
#[derive(Debug, Default)]
pub struct Context {
    /// `(merchant, kind)` the user marked `not_anomaly`: normal for them from then on.
    pub suppressed: HashSet<(String, Kind)>,
    /// `(currency, merchant)` of detected fixed-price recurring payments (subscriptions).
    pub recurring: HashSet<(String, String)>,
}

/// History older than this does not set the usual amount (seasonality looks further back).
const LOOKBACK_DAYS: i64 = 365;
/// Visits at a merchant before its own history is the baseline.
const MIN_MERCHANT_HISTORY: usize = 4;
/// Debits in a category before it is a baseline.
const MIN_CATEGORY_HISTORY: usize = 8;
/// Robust z-score (log amounts) from which an amount is a spike.
const SPIKE_Z: f64 = 3.5;
/// And the least multiple of the usual amount: a tight history must not flag small moves, and
/// people do not call a double-sized shop unusual.
const SPIKE_RATIO: f64 = 3.0;
/// Floor of the log-scale spread (about ±10 %), so a history of identical amounts does not
/// turn every cent into infinity.
const MIN_LOG_SCALE: f64 = 0.1;
/// Debits and days of history before a new merchant can look unusual.
const NEW_MERCHANT_MIN_DEBITS: usize = 30;
const NEW_MERCHANT_MIN_DAYS: i64 = 60;
/// Robust z and multiple for a first charge.
const NEW_MERCHANT_Z: f64 = 3.0;
const NEW_MERCHANT_RATIO: f64 = 3.0;
/// Days within which the same charge again is a possible duplicate.
const DUPLICATE_DAYS: i64 = 2;
/// Same-amount repeats at a merchant after which they are the user's routine.
const ROUTINE_REPEATS: usize = 2;
/// A merchant visited this often (median gap in days) has repeats that are not duplicates
/// unless on the same day.
const FREQUENT_GAP_DAYS: i64 = 7;
/// 1.4826 × MAD estimates a normal standard deviation.
const MAD_TO_SD: f64 = 1.4826;
/// The seasonal adjustment is at most ×3.
const MAX_SEASONAL_LOG: f64 = 1.0986;

/// The median of `values` (which it sorts).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Median and robust spread of log amounts. The spread of a few points is an underestimate
/// as often as not, so it is widened by 1 + 1/√n: four visits at one merchant do not yet say
/// how much that merchant's bills vary.
fn robust(logs: &[f64]) -> (f64, f64) {
    let mut values = logs.to_vec();
    let centre = median(&mut values);
    let mut deviations: Vec<f64> = logs.iter().map(|v| (v - centre).abs()).collect();
    let small_sample = 1.0 + 1.0 / (logs.len().max(1) as f64).sqrt();
    let scale = (MAD_TO_SD * median(&mut deviations)).max(MIN_LOG_SCALE) * small_sample;
    (centre, scale)
}

/// Maps a z-score to [0, 1] so that the flagging threshold is 0.5 and scores rise smoothly.
fn score_of(z: f64, threshold: f64) -> f64 {
    let z = z.max(0.0);
    (z * z / (z * z + threshold * threshold)).clamp(0.0, 1.0)
}

pub use crate::merchant::display;

/// How an explanation names a debit's category.
fn category_label(debit: &Debit) -> String {
    match (&debit.category_name, debit.category_id) {
        (Some(name), _) => name.clone(),
        (None, Some(_)) => "category".to_owned(),
        (None, None) => "uncategorised".to_owned(),
    }
}

/// An amount as people read it: two decimals (or none for whole-unit currencies).
fn money(amount: f64, currency: &str) -> String {
    let places = budgetsmart_common::currency::Currency::parse(currency).map_or(2, |c| c.minor_units());
    format!("{amount:.*} {currency}", places as usize)
}

/// One debit prepared for scoring.
struct Point<'a> {
    debit: &'a Debit,
    log: f64,
}

/// Indices into the points of one currency, by key, in date order.
#[derive(Default)]
struct Index {
    by_merchant: HashMap<String, Vec<usize>>,
    by_category: HashMap<Option<Uuid>, Vec<usize>>,
    all: Vec<usize>,
    /// Same-amount repeats seen so far per merchant.
    repeats: HashMap<String, usize>,
}

/// Scores every debit; the debits may come in any order.
pub fn detect(debits: &[Debit], context: &Context) -> Vec<Finding> {
    let mut sorted: Vec<&Debit> = debits.iter().filter(|d| d.amount.is_sign_positive()).collect();
    sorted.sort_by(|a, b| {
        (&a.currency, a.occurred_on, a.transaction_id).cmp(&(&b.currency, b.occurred_on, b.transaction_id))
    });
    let mut findings = Vec::new();
    for currency in sorted.chunk_by(|a, b| a.currency == b.currency) {
        let points: Vec<Point<'_>> = currency
            .iter()
            .map(|d| Point { debit: d, log: d.amount.to_f64().unwrap_or(0.0).max(1e-9).ln() })
            .collect();
        detect_currency(&points, context, &mut findings);
    }
    findings
}

fn detect_currency(points: &[Point<'_>], context: &Context, findings: &mut Vec<Finding>) {
    let mut index = Index::default();
    let mut day_start = 0;
    while day_start < points.len() {
        let day = points[day_start].debit.occurred_on;
        let day_end =
            day_start + points[day_start..].iter().take_while(|p| p.debit.occurred_on == day).count();
        // Everything of one day is scored against the days before it, then joins the history.
        for i in day_start..day_end {
            let point = &points[i];
            let recurring =
                context.recurring.contains(&(point.debit.currency.clone(), point.debit.merchant.clone()));
            let allowed = |kind: Kind| !context.suppressed.contains(&(point.debit.merchant.clone(), kind));
            // A first charge is judged as one; the same amount is not a second, vaguer spike.
            let first = (!recurring && allowed(Kind::NewMerchant))
                .then(|| new_merchant(points, &index, i, day_start))
                .flatten();
            let is_first = first.is_some();
            findings.extend(first);
            if !recurring && !is_first && allowed(Kind::AmountSpike) {
                findings.extend(spike(points, &index, i));
            }
            // Counted even when suppressed: the repeat still makes the pattern a routine.
            if let Some(finding) = duplicate(points, &mut index, i, day_start)
                && allowed(Kind::Duplicate)
            {
                findings.push(finding);
            }
        }
        for (i, point) in points.iter().enumerate().take(day_end).skip(day_start) {
            index.by_merchant.entry(point.debit.merchant.clone()).or_default().push(i);
            index.by_category.entry(point.debit.category_id).or_default().push(i);
            index.all.push(i);
        }
        day_start = day_end;
    }
}

/// The entries of `history` (indices in date order) within the look-back window of `day`.
fn window<'a>(points: &[Point<'_>], history: &'a [usize], day: NaiveDate) -> &'a [usize] {
    let from = day - chrono::Duration::days(LOOKBACK_DAYS);
    let start = history.partition_point(|&j| points[j].debit.occurred_on < from);
    &history[start..]
}

/// How much higher than usual this calendar month has run in earlier years, in log terms
/// (never lower: a quiet season must not make ordinary amounts look like spikes).
fn seasonal_offset(points: &[Point<'_>], history: &[usize], day: NaiveDate, centre: f64) -> f64 {
    let mut same_month: Vec<f64> = history
        .iter()
        .map(|&j| &points[j])
        .filter(|p| {
            p.debit.occurred_on.month() == day.month() && (day - p.debit.occurred_on).num_days() > 300
        })
        .map(|p| p.log)
        .collect();
    if same_month.len() < 3 {
        return 0.0;
    }
    (median(&mut same_month) - centre).clamp(0.0, MAX_SEASONAL_LOG)
}

fn spike(points: &[Point<'_>], index: &Index, i: usize) -> Option<Finding> {
    let point = &points[i];
    let debit = point.debit;
    let at_merchant = index.by_merchant.get(&debit.merchant).map(Vec::as_slice).unwrap_or(&[]);
    let in_category = index.by_category.get(&debit.category_id).map(Vec::as_slice).unwrap_or(&[]);
    let merchant_window = window(points, at_merchant, debit.occurred_on);
    let (history, full, what) = if merchant_window.len() >= MIN_MERCHANT_HISTORY {
        (merchant_window, at_merchant, format!("spend at {}", display(&debit.merchant)))
    } else {
        let category_window = window(points, in_category, debit.occurred_on);
        if category_window.len() < MIN_CATEGORY_HISTORY {
            return None;
        }
        (category_window, in_category, format!("{} spend", category_label(debit)))
    };
    let logs: Vec<f64> = history.iter().map(|&j| points[j].log).collect();
    let (centre, scale) = robust(&logs);
    let expected = centre + seasonal_offset(points, full, debit.occurred_on, centre);
    let z = (point.log - expected) / scale;
    let ratio = (point.log - expected).exp();
    if z < SPIKE_Z || ratio < SPIKE_RATIO {
        return None;
    }
    Some(Finding {
        transaction_id: debit.transaction_id,
        kind: Kind::AmountSpike,
        score: score_of(z, SPIKE_Z),
        explanation: format!("{ratio:.1}× your usual {what} of {}.", money(expected.exp(), &debit.currency)),
    })
}

fn new_merchant(points: &[Point<'_>], index: &Index, i: usize, day_start: usize) -> Option<Finding> {
    let point = &points[i];
    let debit = point.debit;
    let seen_before = index.by_merchant.contains_key(&debit.merchant)
        || points[day_start..i].iter().any(|p| p.debit.merchant == debit.merchant);
    if seen_before || index.all.len() < NEW_MERCHANT_MIN_DEBITS {
        return None;
    }
    let first_day = points[index.all[0]].debit.occurred_on;
    if (debit.occurred_on - first_day).num_days() < NEW_MERCHANT_MIN_DAYS {
        return None;
    }
    let in_category = index.by_category.get(&debit.category_id).map(Vec::as_slice).unwrap_or(&[]);
    let category_window = window(points, in_category, debit.occurred_on);
    let (history, what) = if category_window.len() >= MIN_CATEGORY_HISTORY {
        (category_window, format!("{} spend", category_label(debit)))
    } else {
        (window(points, &index.all, debit.occurred_on), "spend".to_owned())
    };
    let logs: Vec<f64> = history.iter().map(|&j| points[j].log).collect();
    let (centre, scale) = robust(&logs);
    let z = (point.log - centre) / scale;
    let ratio = (point.log - centre).exp();
    if z < NEW_MERCHANT_Z || ratio < NEW_MERCHANT_RATIO {
        return None;
    }
    Some(Finding {
        transaction_id: debit.transaction_id,
        kind: Kind::NewMerchant,
        score: score_of(z, NEW_MERCHANT_Z),
        explanation: format!(
            "First charge at {}: {}, {ratio:.1}× your usual {what} of {}.",
            display(&debit.merchant),
            money(point.log.exp(), &debit.currency),
            money(centre.exp(), &debit.currency)
        ),
    })
}

/// The median gap in days between earlier visits at a merchant, if there are enough.
fn median_gap(points: &[Point<'_>], visits: &[usize]) -> Option<i64> {
    if visits.len() < 3 {
        return None;
    }
    let mut gaps: Vec<f64> = visits
        .windows(2)
        .map(|w| (points[w[1]].debit.occurred_on - points[w[0]].debit.occurred_on).num_days() as f64)
        .collect();
    Some(median(&mut gaps) as i64)
}

fn duplicate(points: &[Point<'_>], index: &mut Index, i: usize, day_start: usize) -> Option<Finding> {
    let debit = points[i].debit;
    let visits = index.by_merchant.get(&debit.merchant).map(Vec::as_slice).unwrap_or(&[]);
    let earlier_today = points[day_start..i].iter().rev().map(|p| p.debit);
    let earlier_days = visits
        .iter()
        .rev()
        .map(|&j| points[j].debit)
        .take_while(|d| (debit.occurred_on - d.occurred_on).num_days() <= DUPLICATE_DAYS);
    let original = earlier_today
        .chain(earlier_days)
        .find(|d| d.merchant == debit.merchant && d.amount == debit.amount)?;
    let repeats = index.repeats.entry(debit.merchant.clone()).or_default();
    *repeats += 1;
    if *repeats > ROUTINE_REPEATS {
        return None;
    }
    let days_apart = (debit.occurred_on - original.occurred_on).num_days();
    if days_apart > 0 && median_gap(points, visits).is_some_and(|gap| gap < FREQUENT_GAP_DAYS) {
        return None;
    }
    let same_text = original.description.trim().eq_ignore_ascii_case(debit.description.trim());
    let score = (0.9 - 0.1 * days_apart as f64 + if same_text { 0.05 } else { 0.0 }).clamp(0.0, 1.0);
    let when =
        if days_apart == 0 { "the same day".to_owned() } else { format!("on {}", original.occurred_on) };
    Some(Finding {
        transaction_id: debit.transaction_id,
        kind: Kind::Duplicate,
        score,
        explanation: format!(
            "Possibly charged twice: {} at {} was also charged {when}.",
            money(debit.amount.to_f64().unwrap_or(0.0), &debit.currency),
            display(&debit.merchant)
        ),
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn debit(day: NaiveDate, text: &str, cents: i64, category: Uuid) -> Debit {
        Debit::new(day, text, cents, Some((category, "Groceries")))
    }

    /// A year of weekly groceries with some spread, at two stores.
    fn history(category: Uuid) -> Vec<Debit> {
        let start = NaiveDate::from_ymd_opt(2025, 1, 6).expect("date");
        (0..52)
            .map(|w| {
                let store = if w % 2 == 0 { "WHOLE FOODS #102" } else { "TRADER JOES 55" };
                let cents = 9_000 + (w * 737 % 4_000);
                debit(start + Duration::weeks(w), store, cents, category)
            })
            .collect()
    }

    #[test]
    fn a_spike_is_flagged_with_its_numbers_and_ordinary_spending_is_not() {
        let groceries = Uuid::now_v7();
        let mut debits = history(groceries);
        let day = NaiveDate::from_ymd_opt(2026, 1, 7).expect("date");
        let spike = debit(day, "POS WHOLE FOODS #102 AUSTIN", 52_000, groceries);
        debits.push(spike.clone());
        let findings = detect(&debits, &Context::default());
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].transaction_id, spike.transaction_id);
        assert_eq!(findings[0].kind, Kind::AmountSpike);
        assert!(findings[0].score > 0.5 && findings[0].score <= 1.0);
        assert!(
            findings[0].explanation.contains("your usual spend at Whole Foods"),
            "{}",
            findings[0].explanation
        );
    }

    #[test]
    fn arrival_order_does_not_change_the_result() {
        let groceries = Uuid::now_v7();
        let mut debits = history(groceries);
        let day = NaiveDate::from_ymd_opt(2026, 1, 7).expect("date");
        debits.push(debit(day, "WHOLE FOODS", 60_000, groceries));
        debits.push(debit(day, "BESTBUY 0042", 150_000, groceries));
        let dup_day = NaiveDate::from_ymd_opt(2025, 6, 3).expect("date");
        debits.push(debit(dup_day, "AMAZON MKTPLACE", 4_599, groceries));
        debits.push(debit(dup_day, "AMAZON MKTPLACE", 4_599, groceries));
        let forward = detect(&debits, &Context::default());
        debits.reverse();
        let backward = detect(&debits, &Context::default());
        assert_eq!(forward, backward);
        let kinds: Vec<Kind> = forward.iter().map(|f| f.kind).collect();
        assert!(
            kinds.contains(&Kind::AmountSpike)
                && kinds.contains(&Kind::NewMerchant)
                && kinds.contains(&Kind::Duplicate),
            "{forward:?}"
        );
    }

    #[test]
    fn feedback_and_recurring_payments_suppress() {
        let groceries = Uuid::now_v7();
        let mut debits = history(groceries);
        let day = NaiveDate::from_ymd_opt(2026, 1, 7).expect("date");
        debits.push(debit(day, "WHOLE FOODS", 60_000, groceries));
        let mut context = Context::default();
        context.suppressed.insert(("whole foods".into(), Kind::AmountSpike));
        assert!(detect(&debits, &context).is_empty());
        let mut context = Context::default();
        context.recurring.insert(("USD".into(), "whole foods".into()));
        assert!(detect(&debits, &context).is_empty());
    }

    #[test]
    fn scores_stay_in_range() {
        assert_eq!(score_of(SPIKE_Z, SPIKE_Z), 0.5);
        assert!(score_of(1e9, SPIKE_Z) <= 1.0);
        assert_eq!(score_of(-3.0, SPIKE_Z), 0.0);
        assert_eq!(display("whole foods"), "Whole Foods");
    }
}
