//! Evaluates the household analytics on labelled histories the rules and models were not
//! tuned on (scripts/eval/households.py), with the service's own code:
//!
//! - **forecasts**: each user's last six months, each forecast the day before it began, from
//!   what was booked by then, for the month's total and each category. The service's forecast
//!   (regular model + recurring payments due + one-off allowance) against seasonal naive (the
//!   same month a year before) and against the plain model of the whole series (the service
//!   before issue 20). Months a year after a labelled one-off tell whether it was repeated.
//! - **recurring payments**: every labelled recurring series found, its kind right, and no
//!   one-off or trip called recurring.
//! - **categorisation on merchants held out whole**: a global model trained on pool A's users
//!   judged on pool B's (the pools share no merchant), and each pool B user's own model trained
//!   on their first year and judged on merchants that first year never had.
//!
//! `household-eval HOUSEHOLDS.csv` prints one JSON object on stdout.

use std::collections::{BTreeMap, HashMap, HashSet};

use analytics::anomalies::{self, Context};
use analytics::categorizer::store::{CategoryOption, Item, suggest_one};
use analytics::categorizer::{Categorizer, Sample, features};
use analytics::history::{self, DayTotal, Debit};
use analytics::monthend;
use analytics::oneoffs::Flags;
use analytics::parts::{Parts, Series};
use analytics::recurring::{self, corrections::Corrections};
use analytics::{forecasting::metrics::smape_point, merchant};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::json;
use uuid::Uuid;

/// Months backtested per user.
const MONTHS: i32 = 6;
/// The engine's auto-fill threshold.
const AUTO_FILL: f64 = 0.8;

struct Row {
    user: String,
    date: NaiveDate,
    description: String,
    amount: Decimal,
    category: String,
    label: String,
}

fn rows(path: &str) -> anyhow::Result<Vec<Row>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1).filter(|(_, l)| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        anyhow::ensure!(
            f.len() >= 7,
            "{path}:{}: expected user,date,description,amount,currency,category,label",
            i + 1
        );
        out.push(Row {
            user: f[0].to_owned(),
            date: f[1].parse().map_err(|_| anyhow::anyhow!("{path}:{}: bad date", i + 1))?,
            description: f[2].to_owned(),
            amount: f[3].parse().map_err(|_| anyhow::anyhow!("{path}:{}: bad amount", i + 1))?,
            category: f[5].to_owned(),
            label: f[6].to_owned(),
        });
    }
    Ok(out)
}

/// Absolute errors and sMAPEs of one method.
#[derive(Default)]
struct Errors {
    absolute: Vec<f64>,
    smape: Vec<f64>,
}

impl Errors {
    fn add(&mut self, actual: f64, forecast: f64) {
        self.absolute.push((actual - forecast).abs());
        self.smape.push(smape_point(actual, forecast));
    }

    fn mae(&self) -> f64 {
        self.absolute.iter().sum::<f64>() / self.absolute.len().max(1) as f64
    }

    fn smape(&self) -> f64 {
        self.smape.iter().sum::<f64>() / self.smape.len().max(1) as f64
    }
}

/// Forecast errors per method, and how often a one-off a year earlier came back.
#[derive(Default)]
struct Backtest {
    ours: Errors,
    seasonal_naive: Errors,
    whole_series: Errors,
    /// Series-months a year after a labelled one-off: (ours repeated, naive repeated, whole repeated, months).
    one_off_months: [usize; 4],
}

fn f(value: Decimal) -> f64 {
    value.to_f64().unwrap_or(0.0)
}

fn month_sum(debits: &[&Debit], category: Option<Option<Uuid>>, month: NaiveDate) -> Decimal {
    debits
        .iter()
        .filter(|d| history::month_start(d.occurred_on) == month)
        .filter(|d| category.is_none_or(|c| c == d.category_id))
        .map(|d| d.amount)
        .sum()
}

fn day_totals(debits: &[&Debit]) -> Vec<DayTotal> {
    let mut totals: BTreeMap<(NaiveDate, Option<Uuid>), Decimal> = BTreeMap::new();
    for d in debits {
        *totals.entry((d.occurred_on, d.category_id)).or_default() += d.amount;
    }
    totals
        .into_iter()
        .map(|((day, category_id), spent)| DayTotal {
            day,
            category_id,
            spent,
            income: Decimal::ZERO,
            count: 1,
        })
        .collect()
}

/// The service's forecast and the whole-series model's for each series of `month`, from the
/// debits and credits booked by `as_of`, exactly as retraining makes them.
fn forecasts<'a>(
    seen: &[Debit],
    credits: &[Debit],
    series: &[(&'a str, Series)],
    month: NaiveDate,
    as_of: NaiveDate,
) -> HashMap<&'a str, (f64, f64)> {
    let found = recurring::find(seen, credits, as_of, &Corrections::default());
    let context = Context {
        suppressed: HashSet::new(),
        recurring: found
            .iter()
            .filter(|r| r.fixed_price && !r.credit)
            .map(|r| (r.currency.clone(), r.merchant.clone()))
            .collect(),
    };
    let flags = Flags {
        anomalies: anomalies::detect(seen, &context).iter().map(|f| f.transaction_id).collect(),
        ..Flags::default()
    };
    let parts = Parts::new(seen, &found, flags);
    let refs: Vec<&Debit> = seen.iter().collect();
    let rows = day_totals(&refs);
    let regular = parts.regular(&rows, "USD");
    let mut out = HashMap::new();
    for (name, s) in series {
        let spend = |rows: &[DayTotal]| match s {
            Series::Total => history::total_spend(rows),
            Series::Category(c) => history::category_spend(rows, *c),
        };
        let due = parts.recurring_due("USD", *s, month, as_of);
        let risk = parts.one_off_risk("USD", *s, month, as_of);
        let (ours, _) = monthend::project_parts(&spend(&rows), &spend(&regular), &due, risk, month, as_of);
        let whole = monthend::project(&spend(&rows), month, as_of);
        if let (Some(ours), Some(whole)) = (ours.projected, whole.projected) {
            out.insert(*name, (ours.total, whole.total));
        }
    }
    out
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(args.len() == 1, "usage: household-eval HOUSEHOLDS.csv");
    let all = rows(&args[0])?;
    let mut users: Vec<&str> = all.iter().map(|r| r.user.as_str()).collect();
    users.sort();
    users.dedup();
    let categories: HashMap<&str, Uuid> = {
        let mut names: Vec<&str> = all.iter().map(|r| r.category.as_str()).collect();
        names.sort();
        names.dedup();
        names.into_iter().map(|n| (n, Uuid::now_v7())).collect()
    };
    let flow = |r: &Row| Debit {
        transaction_id: Uuid::now_v7(),
        occurred_on: r.date,
        description: r.description.clone(),
        merchant: merchant::normalise(&r.description),
        amount: r.amount.abs(),
        currency: "USD".into(),
        category_id: Some(categories[r.category.as_str()]),
        category_name: Some(r.category.clone()),
        original_amount: None,
        original_currency: None,
    };

    let mut backtests: BTreeMap<(&str, &str), Backtest> = BTreeMap::new();
    let mut recurring_stats: BTreeMap<&str, [usize; 6]> = BTreeMap::new();
    let mut kind_confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
    for user in &users {
        let pool = if user.starts_with("hA") { "A" } else { "B" };
        let mine: Vec<&Row> = all.iter().filter(|r| r.user == *user).collect();
        let debits: Vec<(Debit, &Row)> =
            mine.iter().filter(|r| r.amount.is_sign_negative()).map(|r| (flow(r), *r)).collect();
        let credits: Vec<(Debit, &Row)> =
            mine.iter().filter(|r| r.amount.is_sign_positive()).map(|r| (flow(r), *r)).collect();
        let last = mine.iter().map(|r| r.date).max().unwrap_or_default();
        let label_of: HashMap<Uuid, &str> =
            debits.iter().chain(&credits).map(|(d, r)| (d.transaction_id, r.label.as_str())).collect();

        // Forecasts: each of the last six months from the day before it began.
        for back in (0..MONTHS).rev() {
            let month = history::shift_months(history::month_start(last), -back);
            let as_of = month.pred_opt().unwrap_or(month);
            let seen: Vec<Debit> =
                debits.iter().filter(|(d, _)| d.occurred_on <= as_of).map(|(d, _)| d.clone()).collect();
            let seen_credits: Vec<Debit> =
                credits.iter().filter(|(d, _)| d.occurred_on <= as_of).map(|(d, _)| d.clone()).collect();
            let every: Vec<&Debit> = debits.iter().map(|(d, _)| d).collect();
            let mut series: Vec<(&str, Series)> = vec![("total", Series::Total)];
            let mut names: Vec<&str> = debits.iter().map(|(_, r)| r.category.as_str()).collect();
            names.sort();
            names.dedup();
            series.extend(names.iter().map(|n| (*n, Series::Category(Some(categories[n])))));
            let base = forecasts(&seen, &seen_credits, &series, month, as_of);
            // The same history without last year's one-offs of this month: what they added.
            let year_ago = history::shift_months(month, -12);
            let one_offs: Vec<&(Debit, &Row)> = debits
                .iter()
                .filter(|(d, r)| r.label == "one_off" && history::month_start(d.occurred_on) == year_ago)
                .collect();
            let without: Option<HashMap<&str, (f64, f64)>> = (!one_offs.is_empty()).then(|| {
                let gone: HashSet<Uuid> = one_offs.iter().map(|(d, _)| d.transaction_id).collect();
                let kept: Vec<Debit> =
                    seen.iter().filter(|d| !gone.contains(&d.transaction_id)).cloned().collect();
                forecasts(&kept, &seen_credits, &series, month, as_of)
            });
            for (name, s) in &series {
                let Some(&(ours, whole)) = base.get(name) else { continue };
                let category = match s {
                    Series::Total => None,
                    Series::Category(c) => Some(*c),
                };
                let actual = f(month_sum(&every, category, month));
                let year_before = f(month_sum(&every, category, year_ago));
                let kind = if *name == "total" { "total" } else { "category" };
                let b = backtests.entry((pool, kind)).or_default();
                b.ours.add(actual, ours);
                b.seasonal_naive.add(actual, year_before);
                b.whole_series.add(actual, whole);
                // A one-off of this series a year before, a fifth of its usual month or more:
                // repeated when it moved the forecast by half its size or more.
                let one_off: f64 = one_offs
                    .iter()
                    .filter(|(d, _)| category.is_none_or(|c| c == d.category_id))
                    .map(|(d, _)| f(d.amount))
                    .sum();
                let mut months: Vec<f64> = (1..=12)
                    .map(|k| f(month_sum(&every, category, history::shift_months(month, -k))))
                    .collect();
                months.sort_by(f64::total_cmp);
                let Some(&(ours_without, whole_without)) = without.as_ref().and_then(|w| w.get(name)) else {
                    continue;
                };
                if one_off > 0.0 && one_off >= 0.2 * months[6] {
                    let repeated = |added: f64| usize::from(added >= 0.5 * one_off);
                    b.one_off_months[0] += repeated(ours - ours_without);
                    // Seasonal naive repeats last year's month, one-off and all.
                    b.one_off_months[1] += 1;
                    b.one_off_months[2] += repeated(whole - whole_without);
                    b.one_off_months[3] += 1;
                }
            }
        }

        // Recurring payments on the whole history.
        let today = last.succ_opt().unwrap_or(last);
        let plain: Vec<Debit> = debits.iter().map(|(d, _)| d.clone()).collect();
        let plain_credits: Vec<Debit> = credits.iter().map(|(d, _)| d.clone()).collect();
        let found = recurring::find(&plain, &plain_credits, today, &Corrections::default());
        let stats = recurring_stats.entry(pool).or_default();
        // Truth: (merchant, label) series of recurring labels.
        let mut truth: HashMap<(String, String), usize> = HashMap::new();
        for (d, r) in debits.iter().chain(&credits).filter(|(_, r)| r.label.starts_with("recurring:")) {
            *truth.entry((d.merchant.clone(), r.label.clone())).or_default() += 1;
        }
        stats[0] += truth.len();
        let mut matched: HashSet<(String, String)> = HashSet::new();
        for series in &found {
            stats[1] += 1;
            let mut labels: HashMap<&str, usize> = HashMap::new();
            for id in &series.charges {
                *labels.entry(label_of.get(id).copied().unwrap_or("")).or_default() += 1;
            }
            let (label, _) =
                labels.iter().max_by_key(|(l, n)| (**n, **l)).map(|(l, n)| (*l, *n)).unwrap_or(("", 0));
            if let Some(rest) = label.strip_prefix("recurring:") {
                stats[2] += 1;
                matched.insert((series.merchant.clone(), label.to_owned()));
                let want = rest.split(':').next().unwrap_or_default();
                stats[3] += usize::from(want == series.kind.as_str());
                *kind_confusion.entry((want.to_owned(), series.kind.as_str().to_owned())).or_default() += 1;
            } else if label == "one_off" {
                stats[4] += 1;
            }
        }
        stats[5] += truth.keys().filter(|k| matched.contains(*k)).count();
        // EVAL_VERBOSE=1 lists the labelled series not found on stderr.
        if std::env::var_os("EVAL_VERBOSE").is_some() {
            for (key, n) in truth.iter().filter(|(k, _)| !matched.contains(*k)) {
                eprintln!("missed {user} {} {} ({n} charges)", key.0, key.1);
            }
        }
    }

    // Categorisation on merchants held out whole.
    let kind = |r: &Row| if r.amount.is_sign_negative() { "debit" } else { "credit" };
    let options: Vec<CategoryOption> = categories
        .iter()
        .map(|(name, id)| CategoryOption {
            id: id.to_string(),
            name: (*name).to_owned(),
            kind: if all.iter().any(|r| r.category == *name && r.amount.is_sign_positive()) {
                "income"
            } else {
                "expense"
            }
            .to_owned(),
        })
        .collect();
    let sample = |r: &Row| Sample {
        features: features(&r.description, r.amount.abs(), kind(r)),
        class: categories[r.category.as_str()].to_string(),
    };
    // The service's global model learns category names, which each user's own ids then map.
    let named = |r: &Row| Sample {
        features: features(&r.description, r.amount.abs(), kind(r)),
        class: r.category.to_lowercase(),
    };
    let global =
        Categorizer::train(&all.iter().filter(|r| r.user.starts_with("hA")).map(named).collect::<Vec<_>>());
    let mut global_score = [0usize; 4];
    let mut own_score = [0usize; 4];
    let mut spelling_score = [0usize; 4];
    let judge = |score: &mut [usize; 4], own: Option<&Categorizer>, global: Option<&Categorizer>, r: &Row| {
        let item =
            Item { description: r.description.clone(), amount: r.amount.abs(), kind: kind(r).to_owned() };
        let s = suggest_one(own, global, &item, &options);
        let right = s.category_id.as_deref() == Some(categories[r.category.as_str()].to_string().as_str());
        score[0] += 1;
        score[1] += usize::from(right);
        if s.confidence >= AUTO_FILL {
            score[2] += 1;
            score[3] += usize::from(right);
        }
    };
    for user in users.iter().filter(|u| u.starts_with("hB")) {
        let mine: Vec<&Row> = all.iter().filter(|r| r.user == *user).collect();
        for r in &mine {
            judge(&mut global_score, None, global.as_ref(), r);
        }
        let first = mine.iter().map(|r| r.date).min().unwrap_or_default();
        let cut = first.checked_add_months(chrono::Months::new(12)).unwrap_or(first);
        let (train, test): (Vec<&Row>, Vec<&Row>) = mine.iter().partition(|r| r.date < cut);
        let own = Categorizer::train(&train.iter().map(|r| sample(r)).collect::<Vec<_>>());
        let known: HashSet<String> = train.iter().map(|r| merchant::normalise(&r.description)).collect();
        let spellings: HashSet<String> = train.iter().map(|r| r.description.to_lowercase()).collect();
        for r in &test {
            if !known.contains(&merchant::normalise(&r.description)) {
                judge(&mut own_score, own.as_ref(), global.as_ref(), r);
            } else if !spellings.contains(&r.description.to_lowercase()) {
                judge(&mut spelling_score, own.as_ref(), global.as_ref(), r);
            }
        }
    }

    let ratio =
        |a: usize, b: usize| if b == 0 { serde_json::Value::Null } else { json!(a as f64 / b as f64) };
    let forecasts: serde_json::Map<String, serde_json::Value> = backtests
        .iter()
        .map(|((pool, kind), b)| {
            (
                format!("{kind}:{pool}"),
                json!({
                    "series_months": b.ours.absolute.len(),
                    "mae": { "ours": b.ours.mae(), "seasonal_naive": b.seasonal_naive.mae(), "whole_series": b.whole_series.mae() },
                    "smape": { "ours": b.ours.smape(), "seasonal_naive": b.seasonal_naive.smape(), "whole_series": b.whole_series.smape() },
                    "mae_ratio_to_seasonal_naive": b.ours.mae() / b.seasonal_naive.mae().max(1e-9),
                    "one_off_months": {
                        "months": b.one_off_months[3],
                        "repeated": { "ours": b.one_off_months[0], "seasonal_naive": b.one_off_months[1], "whole_series": b.one_off_months[2] },
                    },
                }),
            )
        })
        .collect();
    let recurring: serde_json::Map<String, serde_json::Value> = recurring_stats
        .iter()
        .map(|(pool, s)| {
            (
                (*pool).to_owned(),
                json!({
                    "labelled_series": s[0], "detected": s[1], "true_positives": s[2],
                    "precision": ratio(s[2], s[1]), "recall": ratio(s[5], s[0]),
                    "kind_accuracy": ratio(s[3], s[2]), "one_offs_called_recurring": s[4],
                }),
            )
        })
        .collect();
    let confusion: Vec<serde_json::Value> = kind_confusion
        .iter()
        .map(|((want, got), n)| json!({ "labelled": want, "classified": got, "series": n }))
        .collect();
    println!(
        "{}",
        json!({
            "users": users.len(),
            "months_per_user": MONTHS,
            "forecasts": forecasts,
            "recurring": recurring,
            "kind_confusion": confusion,
            "categorisation": {
                "global_trained_on": "pool A", "judged_on": "pool B (no merchant in common)",
                "global": { "tested": global_score[0], "accuracy": ratio(global_score[1], global_score[0]),
                    "auto_filled_share": ratio(global_score[2], global_score[0]), "auto_filled_precision": ratio(global_score[3], global_score[2]) },
                "own_first_year_on_new_merchants": { "tested": own_score[0], "accuracy": ratio(own_score[1], own_score[0]),
                    "auto_filled_share": ratio(own_score[2], own_score[0]), "auto_filled_precision": ratio(own_score[3], own_score[2]) },
                "own_first_year_on_new_spellings": { "tested": spelling_score[0], "accuracy": ratio(spelling_score[1], spelling_score[0]),
                    "auto_filled_share": ratio(spelling_score[2], spelling_score[0]), "auto_filled_precision": ratio(spelling_score[3], spelling_score[2]) },
                "auto_fill_threshold": AUTO_FILL,
            },
        })
    );
    Ok(())
}
