//! Evaluates anomaly detection, recurring-payment detection and categorisation on labelled
//! transactions, with the service's own code.
//!
//! `behaviour-eval TRANSACTIONS.csv SUBSCRIPTIONS.csv` (from scripts/eval/transactions.py):
//! - anomalies: every user's debits scored as the service scores them (fixed-price recurring
//!   payments found first), against the planted `anomaly` column: precision and recall;
//! - recurring: each planted subscription found, and its price rise with the right date and
//!   new price;
//! - categorisation: a user model trained on each user's first 50 labelled transactions,
//!   with the global model as fallback, judged on the later transactions whose text never
//!   appeared among those 50 (unseen spellings).
//!
//! Prints one JSON object on stdout.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use analytics::anomalies::{self, Context};
use analytics::categorizer::store::{CategoryOption, Item, seed_samples, suggest_one};
use analytics::categorizer::{Categorizer, Sample, features};
use analytics::history::Debit;
use analytics::{merchant, recurring};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

/// Labelled transactions each user model is trained on.
const TRAINING: usize = 50;
/// The engine's default auto-categorisation threshold.
const AUTO_FILL: f64 = 0.8;

struct Row {
    user: String,
    date: NaiveDate,
    description: String,
    amount: Decimal,
    category: String,
    anomaly: String,
}

fn read(path: &str) -> anyhow::Result<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    Ok(text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect())
}

fn rows(path: &str) -> anyhow::Result<Vec<Row>> {
    read(path)?
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            anyhow::ensure!(
                f.len() >= 7,
                "{path}:{}: expected user,date,description,amount,currency,category,anomaly",
                i + 2
            );
            Ok(Row {
                user: f[0].clone(),
                date: f[1].parse().map_err(|_| anyhow::anyhow!("{path}:{}: bad date", i + 2))?,
                description: f[2].clone(),
                amount: f[3].parse().map_err(|_| anyhow::anyhow!("{path}:{}: bad amount", i + 2))?,
                category: f[5].clone(),
                anomaly: f[6].clone(),
            })
        })
        .collect()
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(args.len() == 2, "usage: behaviour-eval TRANSACTIONS.csv SUBSCRIPTIONS.csv");
    let all = rows(&args[0])?;
    let planted_subs = read(&args[1])?;
    let mut users: Vec<&str> = all.iter().map(|r| r.user.as_str()).collect();
    users.sort();
    users.dedup();
    let global = Categorizer::train(&seed_samples());

    let (mut flagged, mut truth, mut hits) = (0usize, 0usize, 0usize);
    let mut by_kind: HashMap<String, (usize, usize)> = HashMap::new();
    let mut scoring_seconds = 0.0;
    let mut scored = 0usize;
    let (mut subs_found, mut rises, mut rises_found, mut extra_subs) = (0usize, 0usize, 0usize, 0usize);
    let (mut tested, mut correct, mut confident, mut confident_correct) = (0usize, 0usize, 0usize, 0usize);
    let (mut global_correct, mut global_tested) = (0usize, 0usize);

    for user in &users {
        let mine: Vec<&Row> = all.iter().filter(|r| r.user == *user).collect();
        let ids: HashMap<&str, Uuid> = {
            let mut names: Vec<&str> = mine.iter().map(|r| r.category.as_str()).collect();
            names.sort();
            names.dedup();
            names.into_iter().map(|n| (n, Uuid::now_v7())).collect()
        };
        let debits: Vec<(Debit, &Row)> = mine
            .iter()
            .filter(|r| r.amount.is_sign_negative())
            .map(|r| {
                (
                    Debit {
                        transaction_id: Uuid::now_v7(),
                        occurred_on: r.date,
                        description: r.description.clone(),
                        merchant: merchant::normalise(&r.description),
                        amount: -r.amount,
                        currency: "USD".into(),
                        category_id: Some(ids[r.category.as_str()]),
                        category_name: Some(r.category.clone()),
                        original_amount: None,
                        original_currency: None,
                    },
                    *r,
                )
            })
            .collect();
        let plain: Vec<Debit> = debits.iter().map(|(d, _)| d.clone()).collect();
        let today = mine.iter().map(|r| r.date).max().unwrap_or_default().succ_opt().unwrap_or_default();

        // Anomalies, exactly as retraining runs them.
        let started = Instant::now();
        let found = recurring::detect(&plain, today);
        let context = Context {
            suppressed: HashSet::new(),
            recurring: found
                .iter()
                .filter(|r| r.fixed_price)
                .map(|r| (r.currency.clone(), r.merchant.clone()))
                .collect(),
        };
        let findings = anomalies::detect(&plain, &context);
        scoring_seconds += started.elapsed().as_secs_f64();
        scored += plain.len();
        let flagged_ids: HashSet<Uuid> = findings.iter().map(|f| f.transaction_id).collect();
        // EVAL_VERBOSE=1 lists the false positives and missed price rises on stderr.
        if std::env::var_os("EVAL_VERBOSE").is_some() {
            for f in &findings {
                if let Some((d, r)) = debits.iter().find(|(d, _)| d.transaction_id == f.transaction_id)
                    && r.anomaly.is_empty()
                {
                    let (day, text, kind) = (d.occurred_on, &d.description, f.kind.as_str());
                    eprintln!("false positive {user} {day} {text} {} {kind}: {}", d.amount, f.explanation);
                }
            }
        }
        flagged += flagged_ids.len();
        for (debit, row) in &debits {
            if row.anomaly.is_empty() {
                continue;
            }
            truth += 1;
            let entry = by_kind.entry(row.anomaly.clone()).or_default();
            entry.1 += 1;
            if flagged_ids.contains(&debit.transaction_id) {
                hits += 1;
                if findings
                    .iter()
                    .any(|f| f.transaction_id == debit.transaction_id && f.kind.as_str() == row.anomaly)
                {
                    entry.0 += 1;
                }
            }
        }

        // Recurring: the planted subscriptions and their price rises.
        let planted: Vec<&Vec<String>> = planted_subs.iter().filter(|s| s[0] == *user).collect();
        let mut matched = HashSet::new();
        for s in &planted {
            let name = merchant::normalise(&s[1]);
            let Some(r) = found.iter().find(|r| r.merchant == name) else { continue };
            subs_found += 1;
            matched.insert(name);
            if !s[2].is_empty() {
                rises += 1;
                let on: NaiveDate = s[2].parse()?;
                let to: Decimal = s[4].parse()?;
                if r.price_changes.iter().any(|c| c.on == on && c.to == to) {
                    rises_found += 1;
                } else if std::env::var_os("EVAL_VERBOSE").is_some() {
                    eprintln!("missed rise {user} {} on {on} to {to}: found {:?}", s[1], r.price_changes);
                }
            }
        }
        extra_subs += found
            .iter()
            .filter(|r| {
                r.fixed_price
                    && !matched.contains(&r.merchant)
                    && r.merchant != merchant::normalise("RENT PAYMENT PROPERTY MGMT")
            })
            .count();
        rises += planted
            .iter()
            .filter(|s| !s[2].is_empty() && found.iter().all(|r| r.merchant != merchant::normalise(&s[1])))
            .count();

        // Categorisation after 50 labelled transactions, on spellings not among them.
        let kind = |r: &Row| if r.amount.is_sign_negative() { "debit" } else { "credit" };
        let options: Vec<CategoryOption> = ids
            .iter()
            .map(|(name, id)| CategoryOption {
                id: id.to_string(),
                name: (*name).to_owned(),
                kind: if *name == "Salary" { "income" } else { "expense" }.to_owned(),
            })
            .collect();
        let (train, rest) = mine.split_at(TRAINING.min(mine.len()));
        let samples: Vec<Sample> = train
            .iter()
            .map(|r| Sample {
                features: features(&r.description, r.amount.abs(), kind(r)),
                class: ids[r.category.as_str()].to_string(),
            })
            .collect();
        let own = Categorizer::train(&samples);
        let seen: HashSet<String> = train.iter().map(|r| r.description.to_lowercase()).collect();
        for r in rest.iter().filter(|r| !seen.contains(&r.description.to_lowercase())) {
            let item =
                Item { description: r.description.clone(), amount: r.amount.abs(), kind: kind(r).to_owned() };
            let want = ids[r.category.as_str()].to_string();
            let suggestion = suggest_one(own.as_ref(), global.as_ref(), &item, &options);
            tested += 1;
            let right = suggestion.category_id.as_deref() == Some(want.as_str());
            correct += usize::from(right);
            if !right && std::env::var_os("EVAL_VERBOSE").is_some() {
                let got = ids
                    .iter()
                    .find(|(_, id)| Some(id.to_string()) == suggestion.category_id)
                    .map(|(n, _)| *n);
                eprintln!(
                    "miscategorised {user} {:?} as {got:?}, labelled {} ({:.2})",
                    r.description, r.category, suggestion.confidence
                );
            }
            if suggestion.confidence >= AUTO_FILL {
                confident += 1;
                confident_correct += usize::from(right);
            }
            let fallback = suggest_one(None, global.as_ref(), &item, &options);
            global_tested += 1;
            global_correct += usize::from(fallback.category_id.as_deref() == Some(want.as_str()));
        }
    }

    let kinds: serde_json::Map<String, serde_json::Value> = by_kind
        .iter()
        .map(|(k, (h, t))| (k.clone(), json!({ "recall": ratio(*h, *t), "planted": t })))
        .collect();
    let planted_total = planted_subs.len();
    println!(
        "{}",
        json!({
            "users": users.len(),
            "debits": scored,
            "anomalies": {
                "planted": truth, "flagged": flagged, "true_positives": hits,
                "precision": ratio(hits, flagged), "recall": ratio(hits, truth), "by_kind": kinds,
                "seconds": scoring_seconds, "debits_per_second": scored as f64 / scoring_seconds.max(1e-9),
            },
            "recurring": {
                "planted": planted_total, "found": subs_found, "recall": ratio(subs_found, planted_total),
                "price_rises": rises, "price_rises_found": rises_found, "price_rise_recall": ratio(rises_found, rises),
                "unplanted_subscriptions": extra_subs,
            },
            "categorisation": {
                "training_per_user": TRAINING, "tested": tested, "accuracy": ratio(correct, tested),
                "auto_fill_threshold": AUTO_FILL, "auto_filled_share": ratio(confident, tested),
                "auto_filled_accuracy": ratio(confident_correct, confident),
                "global_only_accuracy": ratio(global_correct, global_tested),
            },
        })
    );
    Ok(())
}
