//! Model selection by rolling-origin backtest, and intervals calibrated on the backtest's own
//! errors.
//!
//! Every candidate is refitted at several origins in the training data and forecasts the
//! points after each. sMAPE and MASE rank the candidates relative to Naive2 (M4's OWA), and
//! the winner is refitted on everything. Its interval width is not taken on trust from the
//! model: it is the quantile of the backtest's standardised errors, so a model that is
//! overconfident on this series gets wider intervals. Coverage is measured the same way but
//! sequentially, each origin judged with a width learnt only from the origins before it.

use std::collections::HashMap;

use serde_json::Value;

use super::metrics::{Z80, Z95, mase_scale, mean, quantile, smape_point};
use super::models::{self, Context, Fitted, MIN_POINTS, ModelKind};

/// How to backtest and forecast a series.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Seasonal period: 12 for monthly, 7 for daily data.
    pub period: usize,
    /// Steps to forecast.
    pub horizon: usize,
    /// At most this many backtest origins.
    pub max_origins: usize,
}

impl Settings {
    /// Monthly series, as the service and `forecast-eval` both use them.
    pub fn monthly(horizon: usize) -> Settings {
        Settings { period: 12, horizon, max_origins: 6 }
    }

    /// Daily series, for users with less than half a year of history.
    pub fn daily(horizon: usize) -> Settings {
        Settings { period: 7, horizon, max_origins: 4 }
    }
}

/// One candidate's backtest evidence.
#[derive(Debug, Clone)]
pub struct CandidateReport {
    /// The model.
    pub model: ModelKind,
    /// Mean sMAPE in percent over all backtest points.
    pub smape: Option<f64>,
    /// Mean absolute scaled error.
    pub mase: Option<f64>,
    /// Share of backtest points inside the (sequentially calibrated) 80 % interval.
    pub coverage_80: Option<f64>,
    /// Parameters fitted on the whole series (for the chosen one) or the last origin.
    pub params: Value,
}

/// The chosen model's forecast with calibrated intervals.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// Point forecast per step.
    pub mean: Vec<f64>,
    /// 80 % interval.
    pub lower_80: Vec<f64>,
    /// See `lower_80`.
    pub upper_80: Vec<f64>,
    /// 95 % interval.
    pub lower_95: Vec<f64>,
    /// See `lower_95`.
    pub upper_95: Vec<f64>,
    /// The Gaussian standard error equivalent to the calibrated 80 % half-width, per step.
    pub sigma: Vec<f64>,
}

/// The outcome of a selection.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The winner.
    pub chosen: ModelKind,
    /// Every candidate with its evidence, in tie-break order.
    pub candidates: Vec<CandidateReport>,
    /// The winner's forecast.
    pub forecast: Prediction,
    /// Points in the series.
    pub n_points: usize,
}

/// How much better than the combination (relative to Naive2) a single model's backtest score
/// must be for it to be chosen instead.
const COMBINATION_MARGIN: f64 = 0.1;

/// Backtest origins below which no single model is chosen over the combination.
const MIN_ORIGINS_TO_CHOOSE: usize = 3;

/// Standardised errors needed before their quantile replaces the Gaussian one.
const MIN_ERRORS_FOR_CALIBRATION: usize = 8;

/// Backtest origins and the horizon evaluated from each, oldest first.
///
/// Every origin keeps enough history for the models to be themselves: two seasons when the
/// series has three, half of it otherwise. Full horizons are preferred; a series too short for
/// two of them is judged on shorter horizons from its latest origins instead.
fn origins(n: usize, settings: &Settings) -> Vec<(usize, usize)> {
    let h = settings.horizon.max(1);
    let min_train = if settings.period > 1 && n >= 3 * settings.period { 2 * settings.period } else { n / 2 }
        .max(MIN_POINTS);
    let step = (h / 2).max(1);
    let full: Vec<(usize, usize)> = (0..settings.max_origins)
        .map_while(|j| n.checked_sub(h + j * step))
        .take_while(|origin| *origin >= min_train)
        .map(|origin| (origin, h))
        .collect();
    let mut planned = if full.len() >= 2 {
        full
    } else {
        (0..settings.max_origins)
            .map_while(|j| n.checked_sub(1 + j * step))
            .take_while(|origin| *origin >= min_train)
            .map(|origin| (origin, (n - origin).min(h)))
            .collect()
    };
    planned.reverse();
    planned
}

/// Forecasts of every candidate from one training window; the combination reuses its members.
fn all_candidates(ctx: &Context<'_>, h: usize) -> HashMap<ModelKind, Fitted> {
    let mut fitted: HashMap<ModelKind, Fitted> = ModelKind::ALL
        .into_iter()
        .filter(|k| *k != ModelKind::Combination)
        .filter_map(|k| models::forecast(k, ctx, h).map(|f| (k, f)))
        .collect();
    let members: Vec<(ModelKind, Fitted)> =
        models::COMBINED.into_iter().filter_map(|k| fitted.get(&k).map(|f| (k, f.clone()))).collect();
    if let Some(combined) = models::combine(&members) {
        fitted.insert(ModelKind::Combination, combined);
    }
    fitted
}

#[derive(Default)]
struct Evidence {
    smape: Vec<f64>,
    mase: Vec<f64>,
    z: Vec<f64>,
    covered: usize,
    judged: usize,
    origins: usize,
    params: Value,
}

impl Evidence {
    /// The calibrated multiplier of the spread for an interval of central probability `q`.
    fn multiplier(&self, q: f64, gaussian: f64) -> f64 {
        let needed = if q > 0.9 { 2 * MIN_ERRORS_FOR_CALIBRATION } else { MIN_ERRORS_FOR_CALIBRATION };
        if self.z.len() < needed {
            return gaussian;
        }
        let abs: Vec<f64> = self.z.iter().map(|z| z.abs()).collect();
        // The finite-sample correction of split conformal prediction: with n errors, the
        // q(n+1)/n quantile covers at least q of a new one.
        let level = (q * (abs.len() + 1) as f64 / abs.len() as f64).min(1.0);
        quantile(&abs, level).filter(|k| k.is_finite() && *k > 0.0).unwrap_or(gaussian)
    }
}

/// Backtests every candidate on `y`, picks one and forecasts `settings.horizon` steps.
/// `None` when the series is too short for any model.
pub fn select(y: &[f64], settings: &Settings) -> Option<Selection> {
    let n = y.len();
    if n < MIN_POINTS || y.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let plan = origins(n, settings);
    let mut evidence: HashMap<ModelKind, Evidence> = HashMap::new();
    for &(origin, h) in &plan {
        let train = &y[..origin];
        let ctx = Context::new(train, settings.period);
        let scale = mase_scale(train, settings.period);
        for (kind, fitted) in all_candidates(&ctx, h) {
            let e = evidence.entry(kind).or_default();
            let k80 = e.multiplier(0.8, Z80);
            let mut new_z = Vec::new();
            for i in 0..h {
                let (actual, predicted, spread) = (y[origin + i], fitted.mean[i], fitted.scale[i]);
                let error = actual - predicted;
                e.smape.push(smape_point(actual, predicted));
                if let Some(scale) = scale {
                    e.mase.push(error.abs() / scale);
                }
                if spread > 0.0 {
                    new_z.push(error / spread);
                }
                e.judged += 1;
                if error.abs() <= k80 * spread {
                    e.covered += 1;
                }
            }
            e.z.extend(new_z);
            e.origins += 1;
            e.params = fitted.params;
        }
    }
    // Only candidates that could forecast from every origin compete.
    let complete =
        |k: &ModelKind| evidence.get(k).is_some_and(|e| e.origins == plan.len() && !plan.is_empty());
    let metric = |k: ModelKind, f: fn(&Evidence) -> &Vec<f64>| {
        evidence.get(&k).filter(|_| complete(&k)).map(f).filter(|v| !v.is_empty()).map(|v| mean(v))
    };
    let smape_of = |k| metric(k, |e| &e.smape);
    let mase_of = |k| metric(k, |e| &e.mase);
    let (base_smape, base_mase) = (smape_of(ModelKind::Naive2), mase_of(ModelKind::Naive2));
    // M4's overall weighted average: each error relative to Naive2's, averaged.
    let score = |k: ModelKind| -> Option<f64> {
        let relative = |value: Option<f64>, base: Option<f64>| match (value, base) {
            (Some(v), Some(b)) if b > 0.0 => Some(v / b),
            (Some(v), _) => Some(v),
            _ => None,
        };
        match (relative(smape_of(k), base_smape), relative(mase_of(k), base_mase)) {
            (Some(s), Some(m)) => Some((s + m) / 2.0),
            (Some(s), None) => Some(s),
            (None, Some(m)) => Some(m),
            (None, None) => None,
        }
    };
    let full = Context::new(y, settings.period);
    let h = settings.horizon.max(1);
    let final_fits = all_candidates(&full, h);
    let mut ranked: Vec<(ModelKind, f64)> =
        ModelKind::ALL.into_iter().filter_map(|k| score(k).map(|s| (k, s))).collect();
    ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
    // Without backtest evidence (a very short series) Theta is the safe default.
    let fallback = [ModelKind::Theta, ModelKind::SeasonalNaive, ModelKind::Naive2];
    let best = ranked.iter().map(|(k, _)| *k).chain(fallback).find(|k| final_fits.contains_key(k))?;
    // A single model must beat the combination clearly to be chosen over it: a few backtest
    // origins rank noisily, and combinations are the robust choice when they do (M4).
    let combined = score(ModelKind::Combination).filter(|_| final_fits.contains_key(&ModelKind::Combination));
    let chosen = match (score(best), combined) {
        // Two origins are no evidence to choose by: the combination is the robust default.
        (_, Some(_)) if plan.len() < MIN_ORIGINS_TO_CHOOSE => ModelKind::Combination,
        (Some(b), Some(c)) if best != ModelKind::Combination && b > c * (1.0 - COMBINATION_MARGIN) => {
            ModelKind::Combination
        }
        _ => best,
    };
    let fitted = final_fits.get(&chosen)?;
    let chosen_evidence = evidence.get(&chosen).filter(|_| complete(&chosen));
    let k80 = chosen_evidence.map_or(Z80, |e| e.multiplier(0.8, Z80));
    let k95 = chosen_evidence.map_or(Z95, |e| e.multiplier(0.95, k80 * Z95 / Z80)).max(k80);
    // Two origins' errors are mostly one stretch of the series: they may say the model's own
    // spread is too wide, not that it is narrower than Gaussian.
    let (k80, k95) =
        if plan.len() < MIN_ORIGINS_TO_CHOOSE { (k80.max(Z80), k95.max(Z95)) } else { (k80, k95) };
    let candidates = ModelKind::ALL
        .into_iter()
        .filter(|k| evidence.contains_key(k) || final_fits.contains_key(k))
        .map(|k| CandidateReport {
            model: k,
            smape: smape_of(k),
            mase: mase_of(k),
            coverage_80: evidence
                .get(&k)
                .filter(|e| complete(&k) && e.judged > 0)
                .map(|e| e.covered as f64 / e.judged as f64),
            params: final_fits
                .get(&k)
                .map(|f| f.params.clone())
                .or_else(|| evidence.get(&k).map(|e| e.params.clone()))
                .unwrap_or(Value::Null),
        })
        .collect();
    Some(Selection { chosen, candidates, forecast: intervals(y, fitted, k80, k95), n_points: n })
}

fn intervals(y: &[f64], fitted: &Fitted, k80: f64, k95: f64) -> Prediction {
    // Money spent is never negative, so neither is its forecast.
    let floor = if y.iter().all(|v| *v >= 0.0) { 0.0 } else { f64::NEG_INFINITY };
    let bound = |sign: f64, k: f64| -> Vec<f64> {
        fitted.mean.iter().zip(&fitted.scale).map(|(m, s)| (m + sign * k * s).max(floor)).collect()
    };
    Prediction {
        mean: fitted.mean.iter().map(|m| m.max(floor)).collect(),
        lower_80: bound(-1.0, k80),
        upper_80: bound(1.0, k80),
        lower_95: bound(-1.0, k95),
        upper_95: bound(1.0, k95),
        sigma: fitted.scale.iter().map(|s| s * k80 / Z80).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seasonal series with noise from a fixed linear congruential generator.
    fn noisy_seasonal(n: usize) -> Vec<f64> {
        let mut state = 42u64;
        (0..n)
            .map(|t| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let noise = ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 60.0;
                1000.0 + 4.0 * t as f64 + 300.0 * ((t % 12) as f64 * std::f64::consts::PI / 6.0).sin() + noise
            })
            .collect()
    }

    #[test]
    fn beats_naive2_out_of_sample_on_a_seasonal_series() {
        let y = noisy_seasonal(84);
        let (train, test) = y.split_at(72);
        let settings = Settings { period: 12, horizon: 12, max_origins: 6 };
        let selection = select(train, &settings).expect("selects");
        assert_ne!(selection.chosen, ModelKind::Naive2);
        let naive2 = models::forecast(ModelKind::Naive2, &Context::new(train, 12), 12).expect("naive2");
        let smape =
            |f: &[f64]| mean(&test.iter().zip(f).map(|(a, p)| smape_point(*a, *p)).collect::<Vec<_>>());
        assert!(smape(&selection.forecast.mean) < smape(&naive2.mean), "{:?}", selection.chosen);
        let p = &selection.forecast;
        assert!(p.lower_95.iter().zip(&p.lower_80).all(|(a, b)| a <= b));
        assert!(p.upper_95.iter().zip(&p.upper_80).all(|(a, b)| a >= b));
        assert!(selection.candidates.iter().filter(|c| c.smape.is_some()).count() >= 5);
    }

    #[test]
    fn short_and_degenerate_series_never_give_nan() {
        let settings = Settings { period: 12, horizon: 1, max_origins: 6 };
        assert!(select(&[1.0, 2.0], &settings).is_none());
        for y in [vec![0.0; 10], vec![5.0; 6], vec![0.0, 0.0, 0.0, 0.0, 100.0, 0.0]] {
            let s = select(&y, &settings).expect("selects");
            let p = &s.forecast;
            for v in p.mean.iter().chain(&p.lower_95).chain(&p.upper_95).chain(&p.sigma) {
                assert!(v.is_finite() && *v >= 0.0, "{y:?} gave {v}");
            }
        }
    }

    #[test]
    fn plans_origins_inside_the_series() {
        let settings = Settings { period: 12, horizon: 12, max_origins: 6 };
        assert_eq!(origins(60, &settings), [24, 30, 36, 42, 48].map(|o| (o, 12)).to_vec());
        // 24 points: only one full horizon fits after 12 of history, so shorter ones are judged.
        assert_eq!(origins(24, &settings), vec![(17, 7), (23, 1)]);
        let short = Settings { period: 7, horizon: 10, max_origins: 3 };
        assert_eq!(origins(9, &short), vec![(8, 1)]);
    }
}
