//! Evaluates the service's model selection on monthly series from CSV files.
//!
//! `forecast-eval FILE.csv ...`: each file has the header `date,value`. The last 12 points of
//! each are held out; the model is selected on the rest exactly as the service selects it
//! (`forecasting::select` with monthly settings), and judged on the held-out points. One JSON
//! line per file on stdout; a summary on stderr.

use std::time::Instant;

use analytics::forecasting::metrics::{mase_scale, mean, smape};
use analytics::forecasting::models::{self, Context};
use analytics::forecasting::{ModelKind, Settings, select};
use serde_json::{Map, Value, json};

const HORIZON: usize = 12;

fn read_series(path: &str) -> anyhow::Result<Vec<f64>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().trim();
    anyhow::ensure!(header == "date,value", "{path}: the header must be `date,value`, not `{header}`");
    lines
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let value = line.rsplit(',').next().unwrap_or_default().trim();
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| anyhow::anyhow!("{path}:{}: `{value}` is not a number", i + 2))
        })
        .collect()
}

fn coverage(actual: &[f64], lower: &[f64], upper: &[f64]) -> f64 {
    let inside =
        actual.iter().zip(lower.iter().zip(upper)).filter(|(a, (l, u))| *l <= *a && *a <= *u).count();
    inside as f64 / actual.len() as f64
}

fn evaluate(path: &str) -> anyhow::Result<Value> {
    let y = read_series(path)?;
    anyhow::ensure!(y.len() > HORIZON + 4, "{path}: {} points; at least {} needed", y.len(), HORIZON + 5);
    let (train, test) = y.split_at(y.len() - HORIZON);
    let started = Instant::now();
    let selection = select(train, &Settings::monthly(HORIZON))
        .ok_or_else(|| anyhow::anyhow!("{path}: no model could be fitted"))?;
    let seconds = started.elapsed().as_secs_f64();
    let scale = mase_scale(train, 12);
    let mase = |f: &[f64]| {
        scale.map(|s| mean(&test.iter().zip(f).map(|(a, p)| (a - p).abs() / s).collect::<Vec<_>>()))
    };
    // Every candidate refitted on the whole training part and judged on the held-out points.
    let ctx = Context::new(train, 12);
    let mut candidates = Map::new();
    let mut smape_of = |kind: ModelKind| -> Option<f64> {
        let f = models::forecast(kind, &ctx, HORIZON)?;
        let value = smape(test, &f.mean);
        candidates.insert(kind.name().into(), json!({ "smape": value, "mase": mase(&f.mean) }));
        Some(value)
    };
    let per_kind: Vec<(ModelKind, Option<f64>)> =
        ModelKind::ALL.into_iter().map(|k| (k, smape_of(k))).collect();
    let find = |kind| per_kind.iter().find(|(k, _)| *k == kind).and_then(|(_, s)| *s);
    let p = &selection.forecast;
    let series =
        std::path::Path::new(path).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(json!({
        "series": series,
        "n": y.len(),
        "horizon": HORIZON,
        "chosen": selection.chosen.name(),
        "forecast": p.mean,
        "lower_80": p.lower_80,
        "upper_80": p.upper_80,
        "lower_95": p.lower_95,
        "upper_95": p.upper_95,
        "smape": smape(test, &p.mean),
        "naive2_smape": find(ModelKind::Naive2),
        "seasonal_naive_smape": find(ModelKind::SeasonalNaive),
        "mase": mase(&p.mean),
        "coverage_80": coverage(test, &p.lower_80, &p.upper_80),
        "coverage_95": coverage(test, &p.lower_95, &p.upper_95),
        "seconds": seconds,
        "candidates": candidates,
    }))
}

fn main() -> std::process::ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: forecast-eval FILE.csv ...  (each with the header `date,value`)");
        return std::process::ExitCode::from(2);
    }
    let mut results = Vec::new();
    for file in &files {
        match evaluate(file) {
            Ok(line) => {
                println!("{line}");
                results.push(line);
            }
            Err(error) => {
                eprintln!("forecast-eval: {error:#}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let column = |name: &str| mean(&results.iter().filter_map(|r| r[name].as_f64()).collect::<Vec<_>>());
    eprintln!(
        "{} series: sMAPE {:.2} (Naive2 {:.2}, ratio {:.3}), MASE {:.3}, 80% coverage {:.3}, 95% coverage {:.3}, {:.4} s/series",
        results.len(),
        column("smape"),
        column("naive2_smape"),
        column("smape") / column("naive2_smape"),
        column("mase"),
        column("coverage_80"),
        column("coverage_95"),
        column("seconds"),
    );
    std::process::ExitCode::SUCCESS
}
