//! Insights: what a person would want to know about their money, each issued once.
//!
//! Every insight has a key naming what it is about (a category and month, a budget and
//! month, a subscription and the date of its price change). `insights_issued` remembers the
//! keys, so retraining on every event re-derives the same insights but publishes
//! `insight_generated` only for new ones.

use budgetsmart_common::currency::Currency;
use budgetsmart_common::events::{self, EventContext};
use budgetsmart_common::money;
use budgetsmart_proto::common::v1::MonthEndForecast;
use budgetsmart_proto::events::v1 as ev;
use chrono::{Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::anomalies::display;
use crate::history::{self, DayTotal};
use crate::recurring::store::RecurringRow;

/// One insight, before it is issued.
#[derive(Debug, Clone, PartialEq)]
pub struct Insight {
    /// What it is about; issued once per key.
    pub key: String,
    /// `category_above_average`, `projected_overspend`, `subscription_detected`,
    /// `price_increase` or `savings_opportunity`.
    pub kind: &'static str,
    /// A short headline.
    pub title: String,
    /// One or two sentences with the numbers.
    pub body: String,
    /// The amount it is about (the excess, the rise, the saving).
    pub amount: Option<Decimal>,
    /// The amount's currency.
    pub currency: Option<String>,
}

/// How far above its 3-month average a category must run (×1.25) ...
const ABOVE_AVERAGE: Decimal = Decimal::from_parts(125, 0, 0, false, 2);
/// ... and by at least this share of the average, so small categories stay quiet.
const MIN_EXCESS_SHARE: Decimal = Decimal::from_parts(20, 0, 0, false, 2);
/// Price rises older than this are history, not news.
const PRICE_RISE_NEWS_DAYS: i64 = 120;
/// Subscriptions from which their total is worth a word.
const MIN_SUBSCRIPTIONS: usize = 3;
/// A projected overspend is announced from this probability.
const OVERSPEND_PROBABILITY: f64 = 0.5;

fn text(amount: Decimal, currency: &str) -> String {
    match Currency::parse(currency) {
        Some(c) => format!("{} {currency}", money::format_amount(amount, c)),
        None => format!("{} {currency}", amount.round_dp(2)),
    }
}

fn round(amount: Decimal, currency: &str) -> Decimal {
    amount.round_dp(Currency::parse(currency).map_or(2, |c| c.minor_units()))
}

/// Charges per year of a cadence.
fn per_year(cadence: &str) -> Decimal {
    Decimal::from(match cadence {
        "weekly" => 52,
        "biweekly" => 26,
        "quarterly" => 4,
        "yearly" => 1,
        _ => 12,
    })
}

/// New subscriptions, recent price rises, and what the subscriptions cost together.
pub fn from_recurring(rows: &[RecurringRow], today: NaiveDate) -> Vec<Insight> {
    let mut out = Vec::new();
    let subscriptions: Vec<&RecurringRow> = rows.iter().filter(|r| r.active && r.fixed_price).collect();
    for r in &subscriptions {
        let name = display(&r.merchant);
        out.push(Insight {
            // Keyed by what it is, not the row id: a series missed by one pass and found again
            // gets a new id but is the same subscription.
            key: format!("subscription_detected:{}:{}", r.currency, r.merchant),
            kind: "subscription_detected",
            title: format!("Subscription: {name}"),
            body: format!(
                "{name} charges you {} {}; the next charge is due around {}.",
                text(r.amount, &r.currency),
                r.cadence,
                r.next_expected
            ),
            amount: Some(r.amount),
            currency: Some(r.currency.clone()),
        });
        for change in r.price_changes.as_array().into_iter().flatten() {
            let (Some(on), Some(from), Some(to)) = (
                change["on"].as_str().and_then(|d| d.parse::<NaiveDate>().ok()),
                change["from"].as_str().and_then(|v| v.parse::<Decimal>().ok()),
                change["to"].as_str().and_then(|v| v.parse::<Decimal>().ok()),
            ) else {
                continue;
            };
            if to <= from || (today - on).num_days() > PRICE_RISE_NEWS_DAYS {
                continue;
            }
            let rise = to - from;
            out.push(Insight {
                key: format!("price_increase:{}:{}:{on}", r.currency, r.merchant),
                kind: "price_increase",
                title: format!("{name} went up to {}", text(to, &r.currency)),
                body: format!(
                    "{name} rose from {} to {} on {on}: {} more a year.",
                    text(from, &r.currency),
                    text(to, &r.currency),
                    text(rise * per_year(&r.cadence), &r.currency)
                ),
                amount: Some(rise),
                currency: Some(r.currency.clone()),
            });
        }
    }
    // What the subscriptions cost together, once a quarter, with the dearest as the saving.
    let mut by_currency: std::collections::BTreeMap<&str, Vec<&RecurringRow>> = Default::default();
    for r in &subscriptions {
        by_currency.entry(r.currency.as_str()).or_default().push(r);
    }
    for (currency, subs) in by_currency {
        if subs.len() < MIN_SUBSCRIPTIONS {
            continue;
        }
        let yearly = |r: &RecurringRow| r.amount * per_year(&r.cadence);
        let total: Decimal = subs.iter().map(|r| yearly(r)).sum();
        let Some(dearest) = subs.iter().max_by_key(|r| yearly(r)) else { continue };
        let quarter = (today.month0() / 3) + 1;
        out.push(Insight {
            key: format!("savings_opportunity:subscriptions:{currency}:{}-Q{quarter}", today.year()),
            kind: "savings_opportunity",
            title: format!("Your {} subscriptions cost {} a year", subs.len(), text(total, currency)),
            body: format!(
                "The dearest is {} at {} a year; cancelling or downgrading it would save that much.",
                display(&dearest.merchant),
                text(yearly(dearest), currency)
            ),
            amount: Some(yearly(dearest)),
            currency: Some(currency.to_owned()),
        });
    }
    out
}

/// Categories running above their 3-month average this month, and last month's
/// overspending against the usual month as a saving.
pub fn from_spending(
    rows: &[DayTotal],
    names: &std::collections::HashMap<Uuid, String>,
    currency: &str,
    today: NaiveDate,
) -> Vec<Insight> {
    let current = history::month_start(today);
    let first = history::shift_months(current, -7);
    let mut categories: Vec<Option<Uuid>> =
        rows.iter().filter(|r| !r.spent.is_zero()).map(|r| r.category_id).collect();
    categories.sort();
    categories.dedup();
    let mut out = Vec::new();
    for category in categories {
        let Some(id) = category else { continue };
        let name = names.get(&id).cloned().unwrap_or_else(|| "A category".to_owned());
        let months = history::monthly_totals(&history::category_spend(rows, category), first, current);
        // months: 7 complete months, then the current one.
        let (complete, this_month) = months.split_at(months.len() - 1);
        let this_month = this_month[0].1;
        let last3: Vec<Decimal> = complete.iter().rev().take(3).map(|m| m.1).collect();
        if last3.iter().all(|m| !m.is_zero()) {
            let average = last3.iter().copied().sum::<Decimal>() / Decimal::from(3);
            let excess = this_month - average;
            if this_month > average * ABOVE_AVERAGE && excess > average * MIN_EXCESS_SHARE {
                out.push(Insight {
                    key: format!("category_above_average:{id}:{}", history::month_label(current)),
                    kind: "category_above_average",
                    title: format!("{name} is above your 3-month average"),
                    body: format!(
                        "You have spent {} on {name} this month, {} more than your 3-month average of {}.",
                        text(this_month, currency),
                        text(excess, currency),
                        text(average, currency)
                    ),
                    amount: Some(round(excess, currency)),
                    currency: Some(currency.to_owned()),
                });
            }
        }
        // Last month against the median of the six before it.
        let (before, last) = complete.split_at(complete.len() - 1);
        let last = last[0];
        let mut usual: Vec<Decimal> = before.iter().rev().take(6).map(|m| m.1).collect();
        if usual.len() < 6 || usual.iter().filter(|m| !m.is_zero()).count() < 4 {
            continue;
        }
        usual.sort();
        let median = (usual[2] + usual[3]) / Decimal::from(2);
        let saving = last.1 - median;
        if last.1 > median * ABOVE_AVERAGE && saving > median * MIN_EXCESS_SHARE {
            out.push(Insight {
                key: format!("savings_opportunity:{id}:{}", history::month_label(last.0)),
                kind: "savings_opportunity",
                title: format!("Room to save on {name}"),
                body: format!(
                    "You spent {} on {name} in {}, against a usual month of {}. Getting back to usual saves {} a month.",
                    text(last.1, currency),
                    history::month_label(last.0),
                    text(median, currency),
                    text(saving, currency)
                ),
                amount: Some(round(saving, currency)),
                currency: Some(currency.to_owned()),
            });
        }
    }
    out
}

/// A budget likely to be overspent this month.
pub fn from_forecast(forecast: &MonthEndForecast, budget: Uuid) -> Option<Insight> {
    let probability = forecast.probability_over_budget?;
    if forecast.status != "ok" || probability < OVERSPEND_PROBABILITY {
        return None;
    }
    let limit = money::from_proto(forecast.total_limit.as_ref()?).ok()?.0;
    let projected = money::from_proto(forecast.projected_total.as_ref()?).ok()?.0;
    let over = projected - limit;
    if over <= Decimal::ZERO {
        return None;
    }
    let currency = forecast.currency.as_str();
    let crossing = forecast
        .projected_breach_date
        .as_deref()
        .map(|d| format!(" You are projected to cross it around {d}."))
        .unwrap_or_default();
    Some(Insight {
        key: format!("projected_overspend:{budget}:{}", forecast.month),
        kind: "projected_overspend",
        title: format!("On track to overspend by {}", text(over, currency)),
        body: format!(
            "At this pace you will spend about {} in {} against your budget of {} ({:.0} % likely to go over).{crossing}",
            text(projected, currency),
            forecast.month,
            text(limit, currency),
            probability * 100.0
        ),
        amount: Some(round(over, currency)),
        currency: Some(currency.to_owned()),
    })
}

/// Issues the insights not issued before, each with its `insight_generated`. Returns how
/// many were issued.
pub async fn issue(conn: &mut PgConnection, user: Uuid, insights: &[Insight]) -> Result<usize, sqlx::Error> {
    if insights.is_empty() {
        return Ok(0);
    }
    // One round trip for all of them; only the keys not issued before come back.
    let keys: Vec<&str> = insights.iter().map(|i| i.key.as_str()).collect();
    let ids: Vec<Uuid> = insights.iter().map(|_| Uuid::now_v7()).collect();
    let kinds: Vec<&str> = insights.iter().map(|i| i.kind).collect();
    let fresh: Vec<(String, Uuid)> = sqlx::query_as(
        "INSERT INTO insights_issued (user_id, key, insight_id, kind) \
         SELECT $1, k, i, t FROM unnest($2::text[], $3::uuid[], $4::text[]) AS u(k, i, t) \
         ON CONFLICT (user_id, key) DO NOTHING RETURNING key, insight_id",
    )
    .bind(user)
    .bind(&keys)
    .bind(&ids)
    .bind(&kinds)
    .fetch_all(&mut *conn)
    .await?;
    let fresh: std::collections::HashMap<String, Uuid> = fresh.into_iter().collect();
    let mut issued = 0;
    for insight in insights {
        let Some(&id) = fresh.get(&insight.key) else { continue };
        let now = Utc::now();
        let data = serde_json::json!({
            "key": insight.key,
            "amount": insight.amount.map(|a| match insight.currency.as_deref().and_then(Currency::parse) {
                Some(c) => money::format_amount(a, c),
                None => a.normalize().to_string(),
            }),
            "currency": insight.currency,
        });
        let event = ev::InsightGenerated {
            insight_id: id.to_string(),
            user_id: user.to_string(),
            kind: insight.kind.to_owned(),
            title: insight.title.clone(),
            body: insight.body.clone(),
            data_json: data.to_string(),
            generated_at: Some(prost_types::Timestamp {
                seconds: now.timestamp(),
                nanos: now.timestamp_subsec_nanos() as i32,
            }),
        };
        let ctx = EventContext { user_id: Some(user), ..EventContext::default() };
        events::enqueue(conn, &ctx, &event).await?;
        issued += 1;
    }
    Ok(issued)
}
