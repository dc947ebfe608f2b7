//! Month-end projections: what is booked is known, only the rest of the month is forecast.
//!
//! A series with half a year of complete months is modelled monthly: the chosen model
//! forecasts the month's total, and the share of a month's spending that usually comes after
//! today's day of the month (from the user's own past months) says how much of it is still
//! to come. A younger series is modelled daily (weekly seasonality), and the forecasts of the
//! remaining days are summed. Less than two weeks of history is `insufficient_data`.
//!
//! The models see only the regular series ([`crate::parts`]): recurring payments still due
//! are added at their expected amounts and days, and one-offs as an allowance at their
//! historical rate, so a one-off is not repeated and a rent day does not shape the month.
//! The intervals are the regular model's backtest intervals, moved by the known parts.

mod projection;

use std::collections::HashMap;

use budgetsmart_common::currency::Currency;
use budgetsmart_common::money;
use budgetsmart_proto::common::v1 as pb;
use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::history::{self, DailySpend};
use crate::parts::{self, Parts, Series};
use crate::readmodel::budgets::Budget;
use crate::text;

pub use projection::{Components, MIN_DAYS, MIN_MONTHS, Outcome, Projected, Trained, project, project_parts};
use projection::{MONTHLY_HISTORY, f64_of};

/// How far ahead a forecast may look: beyond a year a monthly forecast says little.
pub const MAX_MONTHS_AHEAD: i32 = 12;
/// Categories projected besides those with a limit: the largest recent ones.
const MAX_EXTRA_CATEGORIES: usize = 8;

/// What to project: a month in a currency, against a budget if there is one.
#[derive(Debug, Clone)]
pub struct Target {
    /// First day of the month.
    pub month: NaiveDate,
    /// The currency.
    pub currency: String,
    /// The budget whose limits apply.
    pub budget: Option<Budget>,
}

/// A projection and the selections made for it, for the registry.
pub struct Computed {
    /// The answer.
    pub forecast: pb::MonthEndForecast,
    /// Registry entries by series name.
    pub trained: Vec<(String, Trained)>,
}

/// The registry name of a series.
pub fn series_name(category: Option<Uuid>, currency: &str) -> String {
    match category {
        None => format!("total:{currency}"),
        Some(id) => format!("category:{id}:{currency}"),
    }
}

/// Projects `target` for `user` as seen on `as_of`. The history is read here; the model
/// selection runs on the blocking pool, so it never stalls the runtime's other work.
pub async fn compute(
    conn: &mut PgConnection,
    user: Uuid,
    target: &Target,
    as_of: NaiveDate,
) -> anyhow::Result<Computed> {
    let parts = parts::load(conn, user, as_of).await?;
    compute_with(conn, user, target, as_of, parts).await
}

/// [`compute`] with the user's parts already read (retraining reads them once for all of a
/// user's budgets).
pub async fn compute_with(
    conn: &mut PgConnection,
    user: Uuid,
    target: &Target,
    as_of: NaiveDate,
    parts: Parts,
) -> anyhow::Result<Computed> {
    let from = history::shift_months(history::month_start(as_of).min(target.month), -MONTHLY_HISTORY);
    let rows = history::daily(conn, user, &target.currency, from, history::month_end(target.month)).await?;
    let target = target.clone();
    Ok(tokio::task::spawn_blocking(move || assemble(&rows, &parts, &target, as_of)).await?)
}

/// One series projected from its parts.
fn project_series(
    rows: &[history::DayTotal],
    regular: &[history::DayTotal],
    parts: &Parts,
    series: Series,
    target: &Target,
    as_of: NaiveDate,
) -> (Outcome, Components) {
    let spend = |rows: &[history::DayTotal]| match series {
        Series::Total => history::total_spend(rows),
        Series::Category(c) => history::category_spend(rows, c),
    };
    let currency = target.currency.as_str();
    let due = parts.recurring_due(currency, series, target.month, as_of);
    let risk = parts.one_off_risk(currency, series, target.month, as_of);
    project_parts(&spend(rows), &spend(regular), &due, risk, target.month, as_of)
}

/// Projects the total and the categories of `target` from the user's daily totals and the
/// parts of their history.
pub fn assemble(rows: &[history::DayTotal], parts: &Parts, target: &Target, as_of: NaiveDate) -> Computed {
    let currency = target.currency.as_str();
    let minor = Currency::parse(currency).map_or(2, |c| c.minor_units());

    // Categories with a limit, then the largest recent spenders.
    let limits: HashMap<Uuid, Decimal> =
        target.budget.iter().flat_map(|b| b.category_limits.iter().copied()).collect();
    let mut categories: Vec<Uuid> =
        target.budget.iter().flat_map(|b| b.category_limits.iter().map(|c| c.0)).collect();
    let recent = history::shift_months(target.month.min(history::month_start(as_of)), -3);
    let mut by_spend: HashMap<Uuid, Decimal> = HashMap::new();
    for row in rows.iter().filter(|r| r.day >= recent) {
        if let Some(id) = row.category_id {
            *by_spend.entry(id).or_default() += row.spent;
        }
    }
    let mut extra: Vec<(Uuid, Decimal)> =
        by_spend.into_iter().filter(|(id, s)| !limits.contains_key(id) && !s.is_zero()).collect();
    extra.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    categories.extend(extra.into_iter().take(MAX_EXTRA_CATEGORIES).map(|(id, _)| id));

    let amount = |v: f64| Decimal::from_f64(v).map(|d| money::to_proto(d.round_dp(minor), currency));
    let interval =
        |(lower, upper): (f64, f64)| Some(pb::MoneyInterval { lower: amount(lower), upper: amount(upper) });
    let components = |c: &Components| pb::ForecastComponents {
        recurring_due: amount(c.recurring_due),
        regular: amount(c.regular),
        one_off_allowance: amount(c.one_off_allowance),
    };
    let regular = parts.regular(rows, currency);
    let regular = regular.as_slice();
    // Series are independent: select their models on every core, the total on this thread.
    let (total, outcomes) = std::thread::scope(|scope| {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
        let chunk = categories.len().div_ceil(workers).max(1);
        let handles: Vec<_> = categories
            .chunks(chunk)
            .map(|ids| {
                scope.spawn(move || {
                    ids.iter()
                        .map(|&id| {
                            (
                                id,
                                project_series(
                                    rows,
                                    regular,
                                    parts,
                                    Series::Category(Some(id)),
                                    target,
                                    as_of,
                                ),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let total = project_series(rows, regular, parts, Series::Total, target, as_of);
        let outcomes: Vec<_> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect();
        (total, outcomes)
    });
    let mut trained = Vec::new();
    let mut category_forecasts = Vec::new();
    for (id, (outcome, parts_of)) in outcomes {
        if let Some(t) = outcome.trained {
            trained.push((series_name(Some(id), currency), t));
        }
        let Some(p) = outcome.projected else { continue };
        let limit = limits.get(&id).copied();
        category_forecasts.push(pb::CategoryForecast {
            category_id: id.to_string(),
            projected: amount(p.total),
            interval_80: interval(p.interval_80),
            interval_95: interval(p.interval_95),
            limit: limit.map(|l| money::to_proto(l, currency)),
            probability_over_limit: limit.map(|l| p.probability_over(f64_of(outcome.spent), f64_of(l))),
            model: p.model,
            components: Some(components(&parts_of)),
        });
    }
    let (total, total_parts) = total;
    let limit = target.budget.as_ref().map(|b| b.total_limit);
    let spent_f = f64_of(total.spent);
    let excluded: Vec<pb::ExcludedOneOff> = parts
        .recent_one_offs(currency, as_of)
        .into_iter()
        .map(|o| pb::ExcludedOneOff {
            transaction_id: o.transaction_id.to_string(),
            occurred_on: o.occurred_on.to_string(),
            description: o.description.clone(),
            amount: Some(money::to_proto(o.amount, currency)),
            reason: o.reason.as_str().into(),
        })
        .collect();
    let breach = |p: &Projected, limit: Decimal| {
        if total.spent > limit {
            crossed_on(&history::total_spend(rows), target.month, limit)
        } else {
            p.breach_date(spent_f, f64_of(limit))
        }
    };
    let forecast = pb::MonthEndForecast {
        status: if total.projected.is_some() { "ok" } else { "insufficient_data" }.into(),
        month: history::month_label(target.month),
        currency: currency.to_owned(),
        budget_id: target.budget.as_ref().map(|b| b.id.to_string()),
        total_limit: limit.map(|l| money::to_proto(l, currency)),
        spent_to_date: Some(money::to_proto(total.spent, currency)),
        projected_total: total.projected.as_ref().and_then(|p| amount(p.total)),
        interval_80: total.projected.as_ref().and_then(|p| interval(p.interval_80)),
        interval_95: total.projected.as_ref().and_then(|p| interval(p.interval_95)),
        probability_over_budget: total
            .projected
            .as_ref()
            .zip(limit)
            .map(|(p, l)| p.probability_over(spent_f, f64_of(l))),
        projected_breach_date: total
            .projected
            .as_ref()
            .zip(limit)
            .and_then(|(p, l)| breach(p, l))
            .map(|d| d.to_string()),
        model: total.projected.as_ref().map(|p| p.model.clone()).unwrap_or_default(),
        generated_at: Some(timestamp_now()),
        categories: if total.projected.is_some() { category_forecasts } else { Vec::new() },
        as_of: as_of.to_string(),
        components: total.projected.is_some().then(|| components(&total_parts)),
        excluded_one_offs: excluded,
        explanation: explain(&total, &total_parts, parts, target, as_of),
    };
    if let Some(t) = total.trained {
        trained.insert(0, (series_name(None, currency), t));
    }
    Computed { forecast, trained }
}

/// The forecast's sentence: the projection and its parts, with their numbers.
fn explain(total: &Outcome, c: &Components, parts: &Parts, target: &Target, as_of: NaiveDate) -> String {
    let currency = target.currency.as_str();
    let m = |v: f64| text::money(Decimal::from_f64(v).unwrap_or_default(), currency);
    let month = text::month(target.month);
    let Some(p) = &total.projected else {
        return format!(
            "Not enough history to project {month} yet: {} days of spending are needed.",
            MIN_DAYS
        );
    };
    if p.model == "actual" {
        return format!("{month} is over: {} was spent.", text::money(total.spent, currency));
    }
    let mut sentence = format!(
        "About {} by the end of {month} (80% likely between {} and {}): {} spent so far, {} of \
         recurring payments still due, {} of everyday spending from the {} model, and {} set aside \
         for one-offs at their usual rate{}.",
        m(p.total),
        m(p.interval_80.0),
        m(p.interval_80.1),
        text::money(total.spent, currency),
        m(c.recurring_due),
        m(c.regular),
        p.model.replace('_', " "),
        m(c.one_off_allowance),
        match p.one_off {
            Some(r) if r.chance < 0.005 => " (less than a 1% chance of one before the month ends)".to_owned(),
            Some(r) => format!(" (a {:.0}% chance of one before the month ends)", r.chance * 100.0),
            None => String::new(),
        },
    );
    let one_offs = parts.recent_one_offs(currency, as_of);
    if let Some(largest) = one_offs.iter().max_by_key(|o| o.amount) {
        let others = one_offs.len() - 1;
        sentence.push_str(&format!(
            " Left out of the everyday pattern: {} of {} on {}{}.",
            text::money(largest.amount, currency),
            crate::merchant::display(&crate::merchant::normalise(&largest.description)),
            text::day(largest.occurred_on),
            match others {
                0 => String::new(),
                1 => " and one other one-off".to_owned(),
                n => format!(" and {n} other one-offs"),
            }
        ));
    }
    sentence
}

/// The day booked spending in `month` first exceeded `limit`.
fn crossed_on(spend: &DailySpend, month: NaiveDate, limit: Decimal) -> Option<NaiveDate> {
    let mut cumulative = Decimal::ZERO;
    spend.range(history::month_start(month)..=history::month_end(month)).find_map(|(day, v)| {
        cumulative += *v;
        (cumulative > limit).then_some(*day)
    })
}

fn timestamp_now() -> prost_types::Timestamp {
    let now = Utc::now();
    prost_types::Timestamp { seconds: now.timestamp(), nanos: now.timestamp_subsec_nanos() as i32 }
}
