//! A month's spending in its parts, so that one-offs do not bend the forecast:
//!
//! - **recurring due**: the recurring payments still to come this month, each at its expected
//!   amount on its expected day (known, so not modelled);
//! - **regular**: everything else but one-offs, the series the models are fitted on;
//! - **one-off allowance**: one-off purchases at their rate over the last twelve months.
//!
//! The regular series is the daily totals less every charge of a recurring series and every
//! one-off ([`crate::oneoffs`]), so last December's television is not repeated this December
//! and the rent's day does not shape the month.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::anomalies::store as anomaly_store;
use crate::history::{self, DayTotal, Debit};
use crate::oneoffs::{self, Flags, OneOff};
use crate::recurring::{Recurring, Status, scan};

/// Months over which the one-off rate is taken.
const ONE_OFF_MONTHS: i32 = 12;

/// Which series a part is asked for: the total, or one category (`None`: uncategorised).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    /// Every category.
    Total,
    /// One category.
    Category(Option<Uuid>),
}

impl Series {
    fn holds(self, category: Option<Uuid>) -> bool {
        match self {
            Series::Total => true,
            Series::Category(c) => c == category,
        }
    }
}

/// A one-off still possible this month, at the series' historical rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneOffRisk {
    /// Probability of at least one before the month ends.
    pub chance: f64,
    /// Its expected size, given one comes (so `chance × size` is the allowance).
    pub size: f64,
}

/// The recurring payments and one-offs of a user's history, and what they take out of it.
#[derive(Debug, Clone, Default)]
pub struct Parts {
    /// Recurring debit series that are still being charged.
    pub recurring: Vec<Recurring>,
    /// One-offs, oldest first.
    pub one_offs: Vec<OneOff>,
    /// Every debit set aside from the regular series: its day, category, currency and amount.
    removed: Vec<(NaiveDate, Option<Uuid>, String, Decimal)>,
}

impl Parts {
    /// The parts of `debits`, given the recurring series found in them and the anomaly flags.
    pub fn new(debits: &[Debit], found: &[Recurring], mut flags: Flags) -> Parts {
        let spending: Vec<&Recurring> = found.iter().filter(|r| !r.credit).collect();
        flags.recurring = spending.iter().flat_map(|r| r.charges.iter().copied()).collect();
        let one_offs = oneoffs::find(debits, &flags);
        let aside: HashSet<Uuid> =
            flags.recurring.iter().copied().chain(one_offs.iter().map(|o| o.transaction_id)).collect();
        let removed = debits
            .iter()
            .filter(|d| aside.contains(&d.transaction_id))
            .map(|d| (d.occurred_on, d.category_id, d.currency.clone(), d.amount))
            .collect();
        Parts {
            recurring: spending.into_iter().filter(|r| r.status != Status::Ended).cloned().collect(),
            one_offs,
            removed,
        }
    }

    /// The daily totals of `currency` less what was set aside: the regular series.
    pub fn regular(&self, rows: &[DayTotal], currency: &str) -> Vec<DayTotal> {
        let mut out: HashMap<(NaiveDate, Option<Uuid>), DayTotal> =
            rows.iter().map(|r| ((r.day, r.category_id), r.clone())).collect();
        for (day, category, _, amount) in self.removed.iter().filter(|r| r.2 == currency) {
            if let Some(row) = out.get_mut(&(*day, *category)) {
                row.spent = (row.spent - *amount).max(Decimal::ZERO);
            }
        }
        let mut out: Vec<DayTotal> = out.into_values().collect();
        out.sort_by_key(|r| (r.day, r.category_id));
        out
    }

    /// The recurring charges of `series` expected in `month` after `as_of`, by day, of active
    /// payments (a late one may have been cancelled). A charge due earlier in the month that has
    /// not come yet counts while it is within its grace (the payment is still active).
    pub fn recurring_due(
        &self,
        currency: &str,
        series: Series,
        month: NaiveDate,
        as_of: NaiveDate,
    ) -> Vec<(NaiveDate, Decimal)> {
        let (start, end) = (history::month_start(month), history::month_end(month));
        if end <= as_of {
            return Vec::new();
        }
        self.recurring
            .iter()
            .filter(|r| r.currency == currency && series.holds(r.category_id) && r.status == Status::Active)
            .flat_map(|r| {
                r.due_between(start, end)
                    .into_iter()
                    .map(|d| (d.max(as_of.succ_opt().unwrap_or(d)).max(start), r.expected_amount))
            })
            .collect()
    }

    /// The one-offs of `series` over the twelve months before `as_of`'s month, per month.
    pub fn one_off_rate(&self, currency: &str, series: Series, as_of: NaiveDate) -> Decimal {
        let current = history::month_start(as_of);
        let first = history::shift_months(current, -ONE_OFF_MONTHS);
        let sum: Decimal = self
            .one_offs
            .iter()
            .filter(|o| o.currency == currency && series.holds(o.category_id))
            .filter(|o| o.occurred_on >= first && o.occurred_on < current)
            .map(|o| o.amount)
            .sum();
        sum / Decimal::from(ONE_OFF_MONTHS)
    }

    /// The allowance for one-offs over what is left of `month` after `as_of`.
    pub fn one_off_allowance(
        &self,
        currency: &str,
        series: Series,
        month: NaiveDate,
        as_of: NaiveDate,
    ) -> Decimal {
        let (start, end) = (history::month_start(month), history::month_end(month));
        if end <= as_of {
            return Decimal::ZERO;
        }
        let days = Decimal::from(end.day());
        let left = if as_of < start { days } else { Decimal::from((end - as_of).num_days()) };
        self.one_off_rate(currency, series, as_of) * left / days
    }

    /// The chance of a one-off in `series` over what is left of `month` after `as_of`, and its
    /// expected size: one-offs come as a Poisson process at their rate over the last twelve
    /// months, so `chance × size` is exactly [`Parts::one_off_allowance`].
    pub fn one_off_risk(
        &self,
        currency: &str,
        series: Series,
        month: NaiveDate,
        as_of: NaiveDate,
    ) -> Option<OneOffRisk> {
        use rust_decimal::prelude::ToPrimitive;
        let allowance = self.one_off_allowance(currency, series, month, as_of).to_f64()?;
        if allowance <= 0.0 {
            return None;
        }
        let current = history::month_start(as_of);
        let first = history::shift_months(current, -ONE_OFF_MONTHS);
        let count = self
            .one_offs
            .iter()
            .filter(|o| o.currency == currency && series.holds(o.category_id))
            .filter(|o| o.occurred_on >= first && o.occurred_on < current)
            .count() as f64;
        let rate = self.one_off_rate(currency, series, as_of).to_f64()?;
        // Events expected in what is left of the month: the allowance over the mean size.
        let mean_size = rate * f64::from(ONE_OFF_MONTHS as u32) / count;
        let expected_events = allowance / mean_size;
        let chance = 1.0 - (-expected_events).exp();
        (chance > 0.0).then(|| OneOffRisk { chance, size: allowance / chance })
    }

    /// The one-offs a forecast names: those in `currency` of the last twelve months and this
    /// one, newest first.
    pub fn recent_one_offs(&self, currency: &str, as_of: NaiveDate) -> Vec<&OneOff> {
        let first = history::shift_months(history::month_start(as_of), -ONE_OFF_MONTHS);
        let mut out: Vec<&OneOff> =
            self.one_offs.iter().filter(|o| o.currency == currency && o.occurred_on >= first).collect();
        out.reverse();
        out
    }
}

/// Reads a user's parts as of `as_of`: their recurring series (with corrections) and one-offs
/// (with anomaly feedback).
pub async fn load(conn: &mut PgConnection, user: Uuid, as_of: NaiveDate) -> anyhow::Result<Parts> {
    let inputs = scan::inputs(conn, user, as_of).await?;
    from_inputs(conn, user, as_of, inputs).await
}

/// [`load`] from inputs already read (retraining reads them once for the forecasts and the
/// review).
pub async fn from_inputs(
    conn: &mut PgConnection,
    user: Uuid,
    as_of: NaiveDate,
    inputs: scan::Inputs,
) -> anyhow::Result<Parts> {
    let flags = anomaly_store::flags(conn, user).await?;
    Ok(tokio::task::spawn_blocking(move || {
        let found = inputs.find(as_of);
        Parts::new(&inputs.debits, &found, flags)
    })
    .await?)
}

#[cfg(test)]
mod tests {
    use chrono::Months;

    use super::*;
    use crate::recurring::detect;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn rent_is_due_once_and_a_sofa_is_an_allowance() {
        let mut debits: Vec<Debit> = (0..12)
            .map(|m| {
                Debit::new(
                    day(2025, 1, 1).checked_add_months(Months::new(m)).expect("date"),
                    "MAPLE ST",
                    145_000,
                    None,
                )
            })
            .collect();
        for d in 0..365 {
            debits.push(Debit::new(day(2025, 1, 1) + chrono::Duration::days(d), "CORNER DELI", 1_200, None));
        }
        debits.push(Debit::new(day(2025, 6, 10), "ASHLEY FURNITURE", 240_000, None));
        let as_of = day(2025, 12, 20);
        let found = detect(&debits, as_of);
        let parts = Parts::new(&debits, &found, Flags::default());
        assert_eq!(parts.recurring.len(), 1);
        assert_eq!(parts.one_offs.len(), 1);
        // December's rent came on the 1st: nothing more is due this month, and January's is.
        assert!(parts.recurring_due("USD", Series::Total, day(2025, 12, 1), as_of).is_empty());
        assert_eq!(
            parts.recurring_due("USD", Series::Total, day(2026, 1, 1), as_of),
            vec![(day(2026, 1, 1), Decimal::new(145_000, 2))]
        );
        // 2,400 over twelve months is 200 a month, 11 of 31 days left.
        assert_eq!(parts.one_off_rate("USD", Series::Total, as_of), Decimal::new(200, 0));
        let allowance = parts.one_off_allowance("USD", Series::Total, day(2025, 12, 1), as_of);
        assert_eq!(allowance.round_dp(2), Decimal::new(7097, 2));
    }
}
