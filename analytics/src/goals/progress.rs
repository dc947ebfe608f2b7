//! A goal's progress and where it is heading: pure computation, no database.
//!
//! - **Saved** is the contributions plus the net flow of a linked savings category; what is
//!   **left** is the target less that, never below zero.
//! - **Monthly needed**: what is left, spread over the months from this one to the target
//!   date's (at least one), rounded up to the minor unit, so paying it meets the date.
//! - **Projected completion**: the monthly contributions so far (complete months) go through
//!   the forecasting code: the model is chosen by backtest as for spending, then forecasts
//!   up to [`HORIZON_MONTHS`]. The goal completes in the first month whose cumulative forecast
//!   reaches what is left, on the day within it in proportion. The 80 % interval takes the
//!   cumulative forecast plus and minus 1.2816 standard errors (the steps' errors summed as
//!   independent): the optimistic pace gives the earliest date, the pessimistic one the
//!   latest (none when it never gets there within the horizon). Each month's standard error
//!   is at least [`MIN_SPREAD`] of its mean: eight identical contributions say the person is
//!   steady, not that they will never skip or change one, and an interval of one day two
//!   years out would claim exactly that.
//! - **Status**: `reached` once saved meets the target; `at_risk` when there is a date and
//!   the projection misses it, or when after [`GRACE_DAYS`] there is still no pace to project
//!   from; `on_track` otherwise.

use budgetsmart_common::currency::Currency;
use chrono::{Datelike, Days, NaiveDate};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::forecasting::models::{self, Context};
use crate::forecasting::{Settings, select};
use crate::history::{month_start, shift_months};

/// How far ahead a projection looks: ten years.
pub const HORIZON_MONTHS: usize = 120;
/// The least uncertainty a month's contribution has, as a share of its forecast.
pub const MIN_SPREAD: f64 = 0.10;
/// A new goal is not at risk for want of contributions before this many days.
pub const GRACE_DAYS: i64 = 30;
/// The 80 % two-sided normal quantile.
const Z80: f64 = 1.2816;
/// Complete months of history from which a model is chosen by backtest; below it, the mean.
const MIN_MONTHS_FOR_MODELS: usize = 6;

/// `on_track`, `at_risk` or `reached`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    OnTrack,
    AtRisk,
    Reached,
}

impl Status {
    /// The answered and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::OnTrack => "on_track",
            Status::AtRisk => "at_risk",
            Status::Reached => "reached",
        }
    }
}

/// What a projection starts from.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub target: Decimal,
    pub currency: Currency,
    pub saved: Decimal,
    pub target_date: Option<NaiveDate>,
    pub today: NaiveDate,
    /// The day the goal was set.
    pub created_on: NaiveDate,
    /// Saved per complete month, oldest first, ending with last month.
    pub monthly: Vec<f64>,
    /// Saved so far this month.
    pub this_month: f64,
}

/// Where the goal stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub saved: Decimal,
    pub remaining: Decimal,
    pub monthly_needed: Option<Decimal>,
    pub projected: Option<NaiveDate>,
    /// Earliest and latest completion (the latest `None`: not within the horizon).
    pub interval_80: Option<(NaiveDate, Option<NaiveDate>)>,
    pub status: Status,
}

/// The goal's progress on `inputs.today`.
pub fn progress(inputs: &Inputs) -> Progress {
    let remaining = (inputs.target - inputs.saved).max(Decimal::ZERO);
    if remaining.is_zero() {
        return Progress {
            saved: inputs.saved,
            remaining,
            monthly_needed: None,
            projected: None,
            interval_80: None,
            status: Status::Reached,
        };
    }
    let monthly_needed = inputs.target_date.map(|date| needed_per_month(remaining, date, inputs));
    let pace = pace(&inputs.monthly);
    let left = remaining.to_f64().unwrap_or(f64::MAX);
    let crossing = |bound: f64| pace.as_ref().and_then(|p| completion(p, left, bound, inputs));
    let projected = crossing(0.0);
    let interval_80 = projected.and_then(|_| crossing(Z80).map(|earliest| (earliest, crossing(-Z80))));
    let old_enough = (inputs.today - inputs.created_on).num_days() >= GRACE_DAYS;
    let status = match (inputs.target_date, projected) {
        (None, _) => Status::OnTrack,
        (Some(date), Some(projected)) if projected > date => Status::AtRisk,
        (Some(date), None) if old_enough || date < inputs.today => Status::AtRisk,
        _ => Status::OnTrack,
    };
    Progress { saved: inputs.saved, remaining, monthly_needed, projected, interval_80, status }
}

fn needed_per_month(remaining: Decimal, date: NaiveDate, inputs: &Inputs) -> Decimal {
    let months =
        (date.year() - inputs.today.year()) * 12 + date.month() as i32 - inputs.today.month() as i32 + 1;
    (remaining / Decimal::from(months.max(1)))
        .round_dp_with_strategy(inputs.currency.minor_units(), RoundingStrategy::AwayFromZero)
}

/// The forecast monthly contributions from this month on: mean and standard error per month.
struct Pace {
    mean: Vec<f64>,
    scale: Vec<f64>,
}

/// The forecasting code's view of the contributions: a model chosen by backtest on six months
/// or more, the mean and spread of what there is below that, nothing without history.
fn pace(monthly: &[f64]) -> Option<Pace> {
    let mut pace = forecast_pace(monthly)?;
    for (scale, mean) in pace.scale.iter_mut().zip(&pace.mean) {
        *scale = scale.max(MIN_SPREAD * mean.abs());
    }
    Some(pace)
}

fn forecast_pace(monthly: &[f64]) -> Option<Pace> {
    if monthly.is_empty() {
        return None;
    }
    if monthly.len() >= MIN_MONTHS_FOR_MODELS {
        let settings = Settings { period: 12, horizon: 3, max_origins: 4 };
        let fitted = select(monthly, &settings)
            .and_then(|chosen| models::forecast(chosen.chosen, &Context::new(monthly, 12), HORIZON_MONTHS));
        if let Some(fitted) =
            fitted.filter(|f| f.mean.len() >= HORIZON_MONTHS && f.scale.len() >= HORIZON_MONTHS)
        {
            return Some(Pace { mean: fitted.mean, scale: fitted.scale });
        }
    }
    let n = monthly.len() as f64;
    let mean = monthly.iter().sum::<f64>() / n;
    let spread = if monthly.len() > 1 {
        (monthly.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    Some(Pace { mean: vec![mean; HORIZON_MONTHS], scale: vec![spread; HORIZON_MONTHS] })
}

/// The day the cumulative pace, `z` standard errors above its mean, reaches `left`.
fn completion(pace: &Pace, left: f64, z: f64, inputs: &Inputs) -> Option<NaiveDate> {
    let this_month = month_start(inputs.today);
    let (mut saved, mut variance) = (0.0, 0.0);
    for (k, (mean, scale)) in pace.mean.iter().zip(&pace.scale).enumerate() {
        // This month's forecast is the whole month's; what it saved so far is already counted.
        let expected = if k == 0 { (mean - inputs.this_month).max(0.0) } else { *mean };
        variance += scale * scale;
        let before = saved;
        saved += expected;
        let reached = saved + z * variance.sqrt();
        // Half a cent of slack: a model's 99.99999 a month still completes on its month.
        if reached + 0.005 >= left {
            let month = shift_months(this_month, k as i32);
            let step = reached - (before + z * (variance - scale * scale).max(0.0).sqrt());
            let fraction = if step > 0.0 { ((left - (reached - step)) / step).clamp(0.0, 1.0) } else { 1.0 };
            let first = if k == 0 { inputs.today } else { month };
            let last = shift_months(month, 1).pred_opt().unwrap_or(month);
            let span = (last - first).num_days().max(0) as f64;
            let day = first.checked_add_days(Days::new((fraction * span).ceil() as u64)).unwrap_or(last);
            return Some(day.min(last));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a day")
    }

    fn inputs(target: i64, saved: i64, monthly: Vec<f64>, target_date: Option<&str>) -> Inputs {
        Inputs {
            target: Decimal::from(target),
            currency: Currency::parse("USD").expect("USD"),
            saved: Decimal::from(saved),
            target_date: target_date.map(day),
            today: day("2026-12-05"),
            created_on: day("2026-06-01"),
            monthly,
            this_month: 0.0,
        }
    }

    #[test]
    fn a_steady_saver_gets_a_date_and_a_tight_interval() {
        // 100 a month for six months, 600 saved, 900 left: nine more months, the ninth being
        // August 2027 (this month, December, is the first).
        let p = progress(&inputs(1500, 600, vec![100.0; 6], Some("2027-12-31")));
        assert_eq!(p.remaining, Decimal::from(900));
        assert_eq!(p.projected, Some(day("2027-08-31")));
        let (earliest, latest) = p.interval_80.expect("an interval");
        assert!(earliest <= day("2027-08-31") && latest >= Some(day("2027-08-31")), "{earliest} {latest:?}");
        // Steady is not certain: nine months out, the interval spans weeks, not a day.
        let latest = latest.expect("a latest date");
        assert!((latest - earliest).num_days() >= 14, "{earliest} {latest}");
        assert!((latest - earliest).num_days() <= 120, "{earliest} {latest}");
        assert_eq!(p.status, Status::OnTrack);
        // 900 over the 13 months December 2026 to December 2027, rounded up: 69.24.
        assert_eq!(p.monthly_needed, Some("69.24".parse().expect("a decimal")));
    }

    #[test]
    fn a_pace_that_misses_the_date_is_at_risk() {
        let p = progress(&inputs(10_000, 600, vec![100.0; 6], Some("2027-03-31")));
        assert_eq!(p.status, Status::AtRisk);
        assert!(p.projected.is_some_and(|d| d > day("2027-03-31")));
    }

    #[test]
    fn an_uneven_saver_gets_a_wider_interval() {
        let p = progress(&inputs(3000, 600, vec![50.0, 250.0, 0.0, 200.0, 40.0, 60.0, 300.0, 0.0], None));
        let (earliest, latest) = p.interval_80.expect("an interval");
        let projected = p.projected.expect("a date");
        assert!(earliest < projected, "{earliest} {projected}");
        assert!(latest.is_none_or(|l| l > projected), "{latest:?} {projected}");
    }

    #[test]
    fn reached_and_new_goals() {
        let reached = progress(&inputs(500, 600, vec![100.0; 6], Some("2027-01-31")));
        assert_eq!((reached.status, reached.remaining), (Status::Reached, Decimal::ZERO));
        let mut new = inputs(1000, 0, vec![], Some("2027-06-30"));
        new.created_on = day("2026-12-01");
        let fresh = progress(&new);
        assert_eq!((fresh.status, fresh.projected), (Status::OnTrack, None), "a new goal has time to start");
        new.created_on = day("2026-09-01");
        assert_eq!(progress(&new).status, Status::AtRisk, "months without a contribution");
    }
}
