//! Insights: what a person would want to know about their money, each issued once.
//!
//! Every insight has a key naming what it is about (a category and month, a budget and
//! month, a subscription and the date of its price change). `insights_issued` remembers the
//! keys, so retraining on every event re-derives the same insights but publishes
//! `insight_generated` only for new ones; a key names its period (month or quarter), so
//! the same insight is not issued twice in it.
//!
//! Every insight passes a sanity check before it is issued:
//! - savings are suggested only on discretionary spending (a category that is not housing,
//!   bills, loans or income) and on cancellable subscriptions, never on rent or utilities;
//! - an amount is never larger than what was actually spent on the thing it names;
//! - one-off purchases are left out of "a usual month" and of what was spent above it, so a
//!   sofa bought once is not "room to save" every month.
//!
//! Each carries its evidence (the months and figures compared) and a relevance in (0, 1]
//! from its kind and its size against a usual month; the feed sorts by it as it fades.

use budgetsmart_common::currency::Currency;
use budgetsmart_common::events::{self, EventContext};
use budgetsmart_common::money;
use budgetsmart_proto::common::v1::MonthEndForecast;
use budgetsmart_proto::events::v1 as ev;
use chrono::{Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::history::{self, DayTotal};
use crate::merchant::display;
use crate::recurring::kind;
use crate::recurring::store::RecurringRow;
use crate::recurring::{Cadence, Kind};

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
    /// `{months: ["YYYY-MM", ...], figures: {...}}`: what it compared.
    pub evidence: serde_json::Value,
    /// How much it matters, in (0, 1].
    pub relevance: f64,
}

/// What a usual month and the actual payments look like, for sanity checks and relevance.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The median month's spending in the user's currency (zero when unknown).
    pub usual_month: Decimal,
    /// Paid per `(currency, merchant)` over the last twelve months.
    pub paid_12m: std::collections::HashMap<(String, String), Decimal>,
}

/// Relevance: the kind's weight, scaled by the amount against a tenth of a usual month.
fn relevance(kind: &str, amount: Option<Decimal>, usual_month: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    let weight = match kind {
        "projected_overspend" => 1.0,
        "price_increase" => 0.7,
        "savings_opportunity" => 0.6,
        "category_above_average" => 0.5,
        _ => 0.35,
    };
    let size = match (amount, usual_month.is_zero()) {
        (Some(a), false) => (a / (usual_month / Decimal::TEN)).to_f64().unwrap_or(1.0).clamp(0.0, 1.0),
        _ => 0.5,
    };
    ((weight * (0.4 + 0.6 * size)) * 1000.0).round() / 1000.0
}

impl Insight {
    /// Sets the relevance from the kind and amount.
    fn rated(mut self, usual_month: Decimal) -> Insight {
        self.relevance = relevance(self.kind, self.amount, usual_month);
        self
    }
}

fn evidence(months: &[NaiveDate], figures: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "months": months.iter().map(|m| history::month_label(*m)).collect::<Vec<_>>(),
        "figures": figures,
    })
}

fn figure(amount: Decimal, currency: &str) -> String {
    round(amount, currency).normalize().to_string()
}

/// `foreign_spending`: what last month's payments in other currencies came to, in both the
/// currencies paid and the home currency, e.g. "420.00 EUR (455.10 USD)". Once per month and
/// currency; only for payments whose rate is known (a pending one is not counted anywhere yet).
pub async fn foreign_spending(
    conn: &mut PgConnection,
    user: Uuid,
    home: &str,
    today: NaiveDate,
    usual_month: Decimal,
) -> Result<Vec<Insight>, sqlx::Error> {
    let month = history::shift_months(history::month_start(today), -1);
    let rows: Vec<(String, Decimal, Decimal, i64)> = sqlx::query_as(
        "SELECT original_currency, SUM(original_amount), SUM(amount), count(*) FROM transactions \
         WHERE user_id = $1 AND NOT deleted AND kind = 'debit' AND currency = $2 \
         AND original_currency IS NOT NULL AND occurred_on >= $3 AND occurred_on < $4 \
         GROUP BY original_currency ORDER BY SUM(amount) DESC",
    )
    .bind(user)
    .bind(home)
    .bind(month)
    .bind(history::shift_months(month, 1))
    .fetch_all(conn)
    .await?;
    let label = crate::text::month(month);
    Ok(rows
        .into_iter()
        .map(|(paid_in, paid, counted, payments)| {
            let payments_text =
                if payments == 1 { "1 payment".to_owned() } else { format!("{payments} payments") };
            Insight {
                key: format!("foreign_spending:{paid_in}:{}", history::month_label(month)),
                kind: "foreign_spending",
                title: format!(
                    "{} ({}) spent in {paid_in} in {label}",
                    text(paid, &paid_in),
                    text(counted, home)
                ),
                body: format!(
                    "{payments_text} in {paid_in} in {label} came to {} ({} at the rates of their days), \
                     all counted in your budgets in {home}.",
                    text(paid, &paid_in),
                    text(counted, home),
                ),
                amount: Some(counted),
                currency: Some(home.to_owned()),
                evidence: evidence(
                    &[month],
                    serde_json::json!({
                        "currency": paid_in,
                        "paid": figure(paid, &paid_in),
                        "counted": figure(counted, home),
                        "payments": payments,
                    }),
                ),
                relevance: 0.0,
            }
            .rated(usual_month)
        })
        .collect())
}

/// Whether savings may be suggested on a category of this name: not housing, bills, loans or
/// income.
pub fn discretionary(category_name: &str) -> bool {
    let lower = category_name.to_lowercase();
    let necessity = lower.split(|c: char| !c.is_alphanumeric()).any(|w| NECESSITIES.contains(&w));
    !necessity
        && !matches!(
            kind::by_words(category_name),
            Some(Kind::Housing | Kind::Bill | Kind::Loan | Kind::Income)
        )
}

/// Words of category names whose spending is not a saving to suggest: care, health, school,
/// taxes, debts.
const NECESSITIES: &[&str] = &[
    "tax",
    "taxes",
    "medical",
    "medicine",
    "doctor",
    "health",
    "healthcare",
    "pharmacy",
    "dental",
    "hospital",
    "childcare",
    "daycare",
    "child",
    "children",
    "kids",
    "tuition",
    "school",
    "education",
    "fees",
    "alimony",
    "support",
    "debt",
    "loans",
    "credit",
];

/// How far above its 3-month average a category must run (×1.25) ...
const ABOVE_AVERAGE: Decimal = Decimal::from_parts(125, 0, 0, false, 2);
/// ... and by at least this share of the average, so small categories stay quiet.
const MIN_EXCESS_SHARE: Decimal = Decimal::from_parts(20, 0, 0, false, 2);
/// Price rises older than this are history, not news.
const PRICE_RISE_NEWS_DAYS: i64 = 120;
/// Subscriptions from which their total is worth a word.
const MIN_SUBSCRIPTIONS: usize = 3;
/// A saving on a category is worth a word from this share of a usual month: below it, it is
/// noise in the everyday.
const MIN_SAVING_OF_MONTH: Decimal = Decimal::from_parts(1, 0, 0, false, 2);
/// A projected overspend is announced from this probability.
const OVERSPEND_PROBABILITY: f64 = 0.5;

fn text(amount: Decimal, currency: &str) -> String {
    crate::text::money(amount, currency)
}

fn round(amount: Decimal, currency: &str) -> Decimal {
    amount.round_dp(Currency::parse(currency).map_or(2, |c| c.minor_units()))
}

/// Charges per year of a stored cadence name.
fn per_year(cadence: &str) -> Decimal {
    Decimal::from(Cadence::parse(cadence).map_or(12, Cadence::per_year))
}

/// New subscriptions, recent price rises, and what the cancellable subscriptions cost together.
pub fn from_recurring(rows: &[RecurringRow], context: &Context, today: NaiveDate) -> Vec<Insight> {
    let mut out = Vec::new();
    let live: Vec<&RecurringRow> = rows.iter().filter(|r| r.active && r.direction == "debit").collect();
    let subscriptions: Vec<&RecurringRow> = live.iter().copied().filter(|r| r.is_subscription()).collect();
    for r in &subscriptions {
        let name = display(&r.merchant);
        out.push(
            Insight {
                // Keyed by what it is, not the row id: a series missed by one pass and found again
                // gets a new id but is the same subscription.
                key: format!("subscription_detected:{}:{}", r.currency, r.merchant),
                kind: "subscription_detected",
                title: format!("Subscription: {name}"),
                body: format!(
                    "{name} charges you {} {}, {} times since {}; the next charge is due around {}.",
                    text(r.expected(), &r.currency),
                    r.cadence,
                    r.occurrences,
                    crate::text::day(r.first_seen),
                    crate::text::day(r.next_expected)
                ),
                amount: Some(r.expected()),
                currency: Some(r.currency.clone()),
                evidence: evidence(
                    &[history::month_start(r.first_seen), history::month_start(r.last_seen)],
                    serde_json::json!({
                        "price": figure(r.expected(), &r.currency),
                        "cadence": r.cadence,
                        "occurrences": r.occurrences,
                        "next_expected": r.next_expected,
                    }),
                ),
                relevance: 0.0,
            }
            .rated(context.usual_month),
        );
    }
    // A price rise is news for anything one pays at a fixed price; a raise is not a "price".
    for r in live.iter().filter(|r| r.fixed_price) {
        let name = display(&r.merchant);
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
            let yearly = rise * per_year(&r.cadence);
            out.push(
                Insight {
                    key: format!("price_increase:{}:{}:{on}", r.currency, r.merchant),
                    kind: "price_increase",
                    title: format!("{name} went up to {}", text(to, &r.currency)),
                    body: format!(
                        "{name} rose from {} to {} on {}: {} more a year at this price.",
                        text(from, &r.currency),
                        text(to, &r.currency),
                        crate::text::day(on),
                        text(yearly, &r.currency)
                    ),
                    // What was actually paid extra so far is the rise on each charge since.
                    amount: Some(rise),
                    currency: Some(r.currency.clone()),
                    evidence: evidence(
                        &[history::shift_months(on, -1), history::month_start(on)],
                        serde_json::json!({
                            "from": figure(from, &r.currency),
                            "to": figure(to, &r.currency),
                            "yearly_difference": figure(yearly, &r.currency),
                        }),
                    ),
                    relevance: 0.0,
                }
                .rated(context.usual_month),
            );
        }
    }
    // What the cancellable subscriptions cost together, once a quarter, with the dearest as the
    // saving: at most what was paid for it over the last year.
    let mut by_currency: std::collections::BTreeMap<&str, Vec<&RecurringRow>> = Default::default();
    for r in &subscriptions {
        by_currency.entry(r.currency.as_str()).or_default().push(r);
    }
    for (currency, subs) in by_currency {
        if subs.len() < MIN_SUBSCRIPTIONS {
            continue;
        }
        let yearly = |r: &RecurringRow| r.expected() * per_year(&r.cadence);
        let total: Decimal = subs.iter().map(|r| yearly(r)).sum();
        let Some(dearest) = subs.iter().max_by_key(|r| yearly(r)) else { continue };
        let paid = context
            .paid_12m
            .get(&(dearest.currency.clone(), dearest.merchant.clone()))
            .copied()
            .unwrap_or_default();
        let saving = yearly(dearest).min(paid);
        if saving <= Decimal::ZERO {
            continue;
        }
        let quarter = (today.month0() / 3) + 1;
        let current = history::month_start(today);
        out.push(
            Insight {
                key: format!("savings_opportunity:subscriptions:{currency}:{}-Q{quarter}", today.year()),
                kind: "savings_opportunity",
                title: format!("Your {} subscriptions cost {} a year", subs.len(), text(total, currency)),
                body: format!(
                    "The dearest is {} at {} a year. You paid {} for it over the last 12 months: \
                     that is what cancelling or downgrading it would have saved.",
                    display(&dearest.merchant),
                    text(yearly(dearest), currency),
                    text(saving, currency)
                ),
                amount: Some(saving),
                currency: Some(currency.to_owned()),
                evidence: evidence(
                    &[history::shift_months(current, -12), history::shift_months(current, -1)],
                    serde_json::json!({
                        "subscriptions": subs.iter().map(|r| serde_json::json!({
                            "merchant": display(&r.merchant),
                            "yearly": figure(yearly(r), currency),
                        })).collect::<Vec<_>>(),
                        "yearly_total": figure(total, currency),
                        "dearest_paid_12m": figure(paid, currency),
                    }),
                ),
                relevance: 0.0,
            }
            .rated(context.usual_month),
        );
    }
    out
}

/// Categories running above their 3-month average this month, and last month's
/// overspending against the usual month as a saving. `regular` is `rows` without one-offs and
/// the charges of recurring payments: savings are judged on it, on discretionary categories.
pub fn from_spending(
    rows: &[DayTotal],
    regular: &[DayTotal],
    names: &std::collections::HashMap<Uuid, String>,
    currency: &str,
    context: &Context,
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
        let Some(name) = names.get(&id).cloned() else { continue };
        let months = history::monthly_totals(&history::category_spend(rows, category), first, current);
        // months: 7 complete months, then the current one.
        let (complete, this_month) = months.split_at(months.len() - 1);
        let this_month = this_month[0].1;
        let last3: Vec<(NaiveDate, Decimal)> = complete.iter().rev().take(3).copied().collect();
        if last3.iter().all(|m| !m.1.is_zero()) {
            let average = last3.iter().map(|m| m.1).sum::<Decimal>() / Decimal::from(3);
            let excess = this_month - average;
            if this_month > average * ABOVE_AVERAGE && excess > average * MIN_EXCESS_SHARE {
                let mut compared: Vec<NaiveDate> = last3.iter().map(|m| m.0).collect();
                compared.reverse();
                compared.push(current);
                out.push(
                    Insight {
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
                        evidence: evidence(
                            &compared,
                            serde_json::json!({
                                "monthly": last3.iter().rev().map(|m| figure(m.1, currency)).collect::<Vec<_>>(),
                                "average_3m": figure(average, currency),
                                "this_month": figure(this_month, currency),
                            }),
                        ),
                        relevance: 0.0,
                    }
                    .rated(context.usual_month),
                );
            }
        }
        if !discretionary(&name) {
            continue;
        }
        // Last month against the median of the six before it, both without one-offs and
        // recurring charges: what everyday spending could give back.
        let regular_months =
            history::monthly_totals(&history::category_spend(regular, category), first, current);
        let complete = &regular_months[..regular_months.len() - 1];
        let (before, last) = complete.split_at(complete.len() - 1);
        let last = last[0];
        let mut usual: Vec<Decimal> = before.iter().rev().take(6).map(|m| m.1).collect();
        if usual.len() < 6 || usual.iter().filter(|m| !m.is_zero()).count() < 4 {
            continue;
        }
        usual.sort();
        let median = (usual[2] + usual[3]) / Decimal::from(2);
        // Never more than was spent: the saving is the part of last month above the usual one.
        let saving = (last.1 - median).min(last.1);
        if last.1 > median * ABOVE_AVERAGE
            && saving > median * MIN_EXCESS_SHARE
            && saving >= context.usual_month * MIN_SAVING_OF_MONTH
        {
            let compared: Vec<NaiveDate> =
                before.iter().rev().take(6).rev().map(|m| m.0).chain([last.0]).collect();
            out.push(
                Insight {
                    key: format!("savings_opportunity:{id}:{}", history::month_label(last.0)),
                    kind: "savings_opportunity",
                    title: format!("Room to save on {name}"),
                    body: format!(
                        "You spent {} on {name} in {}, not counting one-off purchases, against a usual month of {}. \
                         Getting back to usual saves {} a month.",
                        text(last.1, currency),
                        crate::text::month(last.0),
                        text(median, currency),
                        text(saving, currency)
                    ),
                    amount: Some(round(saving, currency)),
                    currency: Some(currency.to_owned()),
                    evidence: evidence(
                        &compared,
                        serde_json::json!({
                            "usual_months": before.iter().rev().take(6).rev().map(|m| figure(m.1, currency)).collect::<Vec<_>>(),
                            "usual_median": figure(median, currency),
                            "last_month": figure(last.1, currency),
                        }),
                    ),
                    relevance: 0.0,
                }
                .rated(context.usual_month),
            );
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
        .and_then(|d| d.parse::<NaiveDate>().ok())
        .map(|d| format!(" You are projected to cross it around {}.", crate::text::day(d)))
        .unwrap_or_default();
    Some(Insight {
        key: format!("projected_overspend:{budget}:{}", forecast.month),
        kind: "projected_overspend",
        title: format!("On track to overspend by {}", text(over, currency)),
        body: format!(
            "At this pace you will spend about {} in {} against your budget of {} ({:.0}% likely to go over).{crossing}",
            text(projected, currency),
            history::parse_month(&forecast.month).map_or_else(|| forecast.month.clone(), crate::text::month),
            text(limit, currency),
            probability * 100.0
        ),
        amount: Some(round(over, currency)),
        currency: Some(currency.to_owned()),
        evidence: serde_json::json!({
            "months": [forecast.month],
            "figures": {
                "projected": figure(projected, currency),
                "limit": figure(limit, currency),
                "probability": probability,
                "spent_to_date": forecast.spent_to_date.as_ref().and_then(|m| money::from_proto(m).ok()).map(|m| figure(m.0, currency)),
            },
        }),
        relevance: 0.0,
    }
    // Against the budget: an overspend of a tenth of it or more matters fully.
    .rated(limit))
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
            "evidence": insight.evidence,
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
            relevance: insight.relevance,
        };
        let ctx = EventContext { user_id: Some(user), ..EventContext::default() };
        events::enqueue(conn, &ctx, &event).await?;
        issued += 1;
    }
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savings_are_suggested_on_discretionary_categories_only() {
        for yes in ["Dining", "Shopping", "Entertainment", "Groceries", "Travel"] {
            assert!(discretionary(yes), "{yes}");
        }
        for no in [
            "Housing",
            "Rent",
            "Utilities",
            "Insurance",
            "Student Loans",
            "Salary",
            "Medical",
            "Childcare",
            "Taxes",
            "Health",
        ] {
            assert!(!discretionary(no), "{no}");
        }
    }
}
