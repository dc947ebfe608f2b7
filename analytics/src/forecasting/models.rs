//! The candidate models. Each fits a series and returns point forecasts with a spread per
//! step; the backtest turns spreads into calibrated intervals.

use augurs::ets::AutoETS;
use augurs::mstl::MSTLModel;
use augurs::{Fit, Predict};
use linfa::Dataset;
use linfa::traits::{Fit as _, Predict as _};
use linfa_linear::LinearRegression;
use ndarray::{Array1, Array2};
use serde_json::{Value, json};

use super::metrics::{Z80, mean, rms};
use super::seasonality::Decomposition;

/// A forecasting method. The order is the tie-break: simpler first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// The value one period ago (the last value when there is no period).
    SeasonalNaive,
    /// M4's benchmark: a naive forecast of the seasonally adjusted series.
    Naive2,
    /// The Theta method (Assimakopoulos and Nikolopoulos), as SES with half the linear drift.
    Theta,
    /// Exponential smoothing: augurs' AutoETS, under MSTL when the series is seasonal.
    Ets,
    /// Ordinary least squares on a trend and calendar dummies (linfa).
    CalendarRegression,
    /// Holt's linear method with a damped trend (Gardner and McKenzie) on the seasonally
    /// adjusted series: a trend that fades, as most do.
    DampedTrend,
    /// The mean of Theta and the damped trend: combinations are hard to beat (M4's "Comb"
    /// benchmark averages SES, Holt and damped Holt; these are its trend-aware members).
    Combination,
}

impl ModelKind {
    /// Every candidate, in tie-break order.
    pub const ALL: [ModelKind; 7] = [
        ModelKind::SeasonalNaive,
        ModelKind::Naive2,
        ModelKind::Theta,
        ModelKind::Ets,
        ModelKind::CalendarRegression,
        ModelKind::DampedTrend,
        ModelKind::Combination,
    ];

    /// The name stored in the registry and shown to users.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::SeasonalNaive => "seasonal_naive",
            ModelKind::Naive2 => "naive2",
            ModelKind::Theta => "theta",
            ModelKind::Ets => "ets",
            ModelKind::CalendarRegression => "calendar_regression",
            ModelKind::DampedTrend => "damped_trend",
            ModelKind::Combination => "combination",
        }
    }
}

/// The members of [`ModelKind::Combination`].
pub const COMBINED: [ModelKind; 2] = [ModelKind::Theta, ModelKind::DampedTrend];

/// Point forecasts and a spread (one standard error) per step, and what was fitted.
#[derive(Debug, Clone)]
pub struct Fitted {
    /// Point forecast per step.
    pub mean: Vec<f64>,
    /// Standard error per step; the backtest calibrates how many of them an interval spans.
    pub scale: Vec<f64>,
    /// Fitted parameters, for the registry.
    pub params: Value,
}

impl Fitted {
    fn is_finite(&self) -> bool {
        self.mean.iter().chain(&self.scale).all(|v| v.is_finite())
    }
}

/// Everything the models of one training window share.
pub struct Context<'a> {
    /// The training data.
    pub y: &'a [f64],
    /// The seasonal period (12 for months, 7 for days).
    pub period: usize,
    /// The decomposition, when the series is seasonal.
    pub seasonal: Option<Decomposition>,
}

impl<'a> Context<'a> {
    /// Prepares `y` for the models.
    pub fn new(y: &'a [f64], period: usize) -> Context<'a> {
        Context { y, period, seasonal: Decomposition::of(y, period) }
    }

    fn adjusted(&self) -> Vec<f64> {
        match &self.seasonal {
            Some(d) => d.adjust(self.y),
            None => self.y.to_vec(),
        }
    }

    /// Reseasonalises forecasts and spreads of the adjusted series.
    fn restore(&self, mean: Vec<f64>, scale: Vec<f64>) -> (Vec<f64>, Vec<f64>) {
        match &self.seasonal {
            None => (mean, scale),
            Some(d) => {
                let n = self.y.len();
                let scale = scale.iter().enumerate().map(|(i, s)| d.restore_scale(*s, n + i)).collect();
                (d.restore(&mean, n), scale)
            }
        }
    }

    fn seasonal_params(&self) -> Value {
        match &self.seasonal {
            Some(d) => json!({ "period": d.period(), "seasonal_indices": d.indices() }),
            None => json!({ "period": self.period, "seasonal": false }),
        }
    }
}

/// Fits `kind` on the context's series and forecasts `h` steps; `None` when the series is too
/// short for it or the fit fails.
pub fn forecast(kind: ModelKind, ctx: &Context<'_>, h: usize) -> Option<Fitted> {
    let fitted = match kind {
        ModelKind::SeasonalNaive => seasonal_naive(ctx, h),
        ModelKind::Naive2 => naive2(ctx, h),
        ModelKind::Theta => theta(ctx, h),
        ModelKind::Ets => ets(ctx, h),
        ModelKind::CalendarRegression => calendar_regression(ctx, h),
        ModelKind::DampedTrend => damped_trend(ctx, h),
        ModelKind::Combination => combination(ctx, h),
    }?;
    fitted.is_finite().then_some(fitted)
}

/// At least this many points for any model.
pub const MIN_POINTS: usize = 4;

fn seasonal_naive(ctx: &Context<'_>, h: usize) -> Option<Fitted> {
    let y = ctx.y;
    let n = y.len();
    if n < 2 {
        return None;
    }
    let lag = if ctx.period > 1 && n > ctx.period { ctx.period } else { 1 };
    let sigma = rms(&y.windows(lag + 1).map(|w| w[lag] - w[0]).collect::<Vec<_>>());
    let mean = (0..h).map(|i| y[n - lag + i % lag]).collect();
    let scale = (0..h).map(|i| sigma * ((i / lag + 1) as f64).sqrt()).collect();
    Some(Fitted { mean, scale, params: json!({ "lag": lag }) })
}

fn naive2(ctx: &Context<'_>, h: usize) -> Option<Fitted> {
    let x = ctx.adjusted();
    let last = *x.last()?;
    let sigma = rms(&x.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>());
    let (mean, scale) = ctx.restore(vec![last; h], (1..=h).map(|i| sigma * (i as f64).sqrt()).collect());
    Some(Fitted { mean, scale, params: ctx.seasonal_params() })
}

/// Simple exponential smoothing with the level started at the first value: the final level
/// and the in-sample one-step errors.
fn ses(x: &[f64], alpha: f64) -> (f64, Vec<f64>) {
    let mut level = x[0];
    let mut errors = Vec::with_capacity(x.len());
    for value in &x[1..] {
        let error = value - level;
        errors.push(error);
        level += alpha * error;
    }
    (level, errors)
}

/// The smoothing constant with the least one-step squared error: a coarse grid, then a finer
/// one around the best.
fn best_alpha(x: &[f64]) -> f64 {
    let sse = |a: f64| ses(x, a).1.iter().map(|e| e * e).sum::<f64>();
    let pick = |candidates: Vec<f64>| {
        candidates.into_iter().min_by(|a, b| sse(*a).total_cmp(&sse(*b))).unwrap_or(0.5)
    };
    let coarse = pick((1..20).map(|i| f64::from(i) * 0.05).collect());
    pick((-4..=4).map(|i| (coarse + f64::from(i) * 0.01).clamp(0.01, 0.99)).collect())
}

/// Least-squares slope and intercept of `x` against 0, 1, 2, ...
fn linear_fit(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let t_mean = (n - 1.0) / 2.0;
    let x_mean = mean(x);
    let (mut num, mut den) = (0.0, 0.0);
    for (t, v) in x.iter().enumerate() {
        num += (t as f64 - t_mean) * (v - x_mean);
        den += (t as f64 - t_mean).powi(2);
    }
    let slope = if den == 0.0 { 0.0 } else { num / den };
    (slope, x_mean - slope * t_mean)
}

fn theta(ctx: &Context<'_>, h: usize) -> Option<Fitted> {
    let x = ctx.adjusted();
    if x.len() < MIN_POINTS {
        return None;
    }
    let alpha = best_alpha(&x);
    let (level, errors) = ses(&x, alpha);
    let (slope, _) = linear_fit(&x);
    let n = x.len() as i32;
    // Hyndman and Billah (2003): SES plus half the slope of the linear trend line.
    let drift = |step: usize| 0.5 * slope * (step as f64 - 1.0 + (1.0 - (1.0 - alpha).powi(n)) / alpha);
    let sigma = rms(&errors);
    let mean = (1..=h).map(|i| level + drift(i)).collect();
    let scale = (1..=h).map(|i| sigma * (1.0 + (i as f64 - 1.0) * alpha * alpha).sqrt()).collect();
    let (mean, scale) = ctx.restore(mean, scale);
    let mut params = ctx.seasonal_params();
    params["alpha"] = json!(alpha);
    params["drift"] = json!(slope / 2.0);
    Some(Fitted { mean, scale, params })
}

fn ets(ctx: &Context<'_>, h: usize) -> Option<Fitted> {
    if ctx.y.len() < MIN_POINTS + 2 {
        return None;
    }
    let to_scale = |f: &augurs::Forecast| -> Option<Vec<f64>> {
        let intervals = f.intervals.as_ref()?;
        Some(intervals.upper.iter().zip(&intervals.lower).map(|(u, l)| (u - l) / (2.0 * Z80)).collect())
    };
    // augurs-ets has no seasonal ETS: a seasonal series goes through MSTL with an AutoETS
    // trend, as its authors recommend.
    if let Some(d) = &ctx.seasonal {
        let model = MSTLModel::new(vec![d.period()], AutoETS::non_seasonal().into_trend_model());
        let fitted = model.fit(ctx.y).ok()?;
        let forecast = fitted.predict(h, 0.8).ok()?;
        let scale = to_scale(&forecast)?;
        return Some(Fitted {
            mean: forecast.point,
            scale,
            params: json!({ "decomposition": "mstl", "period": d.period(), "trend": "auto_ets" }),
        });
    }
    let fitted = AutoETS::non_seasonal().fit(ctx.y).ok()?;
    let forecast = fitted.predict(h, 0.8).ok()?;
    let scale = to_scale(&forecast)?;
    let model = fitted.model();
    Some(Fitted {
        mean: forecast.point,
        scale,
        params: json!({ "model_type": model.model_type().to_string(), "damped": model.damped() }),
    })
}

fn calendar_regression(ctx: &Context<'_>, h: usize) -> Option<Fitted> {
    let n = ctx.y.len();
    let period = ctx.period;
    // Dummies for the position in the period (month of year, day of week) once two full
    // periods are there; a trend alone before that. The trend is fitted on the recent past
    // only, where it still says something about the next steps.
    let dummies = period > 1 && n >= 2 * period + 2;
    let window = if dummies { n.min(4 * period).max(2 * period + 2) } else { n.min(24) };
    if window < MIN_POINTS {
        return None;
    }
    let start = n - window;
    let features = 1 + if dummies { period - 1 } else { 0 };
    let row = |t: usize| -> Vec<f64> {
        let mut r = vec![(t as f64 - start as f64) / window as f64];
        if dummies {
            r.extend((1..period).map(|s| if t % period == s { 1.0 } else { 0.0 }));
        }
        r
    };
    let records: Vec<f64> = (start..n).flat_map(row).collect();
    let x = Array2::from_shape_vec((window, features), records).ok()?;
    let targets = Array1::from_vec(ctx.y[start..].to_vec());
    let model = LinearRegression::new().fit(&Dataset::new(x.clone(), targets.clone())).ok()?;
    let residuals: Vec<f64> = (&targets - &model.predict(&x)).to_vec();
    let dof = window.saturating_sub(features + 1).max(1) as f64;
    let sigma = (residuals.iter().map(|r| r * r).sum::<f64>() / dof).sqrt();
    let future: Vec<f64> = (n..n + h).flat_map(row).collect();
    let mean = model.predict(&Array2::from_shape_vec((h, features), future).ok()?).to_vec();
    let scale = (0..h).map(|_| sigma * (1.0 + features as f64 / window as f64).sqrt()).collect();
    let params = json!({
        "intercept": model.intercept(),
        "trend_per_step": model.params()[0] / window as f64,
        "calendar_dummies": dummies,
        "window": window,
    });
    Some(Fitted { mean, scale, params })
}

/// Holt's damped-trend recursions, started from the line through the first points (a first
/// difference alone is mostly noise): the final level and trend, and the one-step errors.
fn holt_damped(x: &[f64], alpha: f64, beta: f64, phi: f64) -> (f64, f64, Vec<f64>) {
    let (slope, intercept) = linear_fit(&x[..x.len().min(10)]);
    // The first step forecasts x[0] from the line's start, so every point leaves an error.
    let (mut level, mut trend) = (intercept - phi * slope, slope);
    let mut errors = Vec::with_capacity(x.len());
    for value in x {
        let forecast = level + phi * trend;
        let error = value - forecast;
        errors.push(error);
        let previous = level;
        level = forecast + alpha * error;
        trend = phi * trend + beta * (level - previous - phi * trend);
    }
    (level, trend, errors)
}

fn damped_trend(ctx: &Context<'_>, h: usize) -> Option<Fitted> {
    let x = ctx.adjusted();
    if x.len() < MIN_POINTS + 2 {
        return None;
    }
    // The least one-step squared error over a grid: 10 × 5 × 5 fits of a few dozen steps.
    let sse = |(a, b, p): (f64, f64, f64)| holt_damped(&x, a, b, p).2.iter().map(|e| e * e).sum::<f64>();
    let mut best = (0.5, 0.1, 0.9);
    let mut least = f64::INFINITY;
    for a in (0..10).map(|i| 0.05 + 0.1 * f64::from(i)) {
        for b in [0.01, 0.05, 0.1, 0.2, 0.3] {
            for p in [0.8, 0.85, 0.9, 0.95, 0.98] {
                let e = sse((a, b, p));
                if e < least {
                    (least, best) = (e, (a, b, p));
                }
            }
        }
    }
    let (alpha, beta, phi) = best;
    let (level, trend, errors) = holt_damped(&x, alpha, beta, phi);
    let sigma = rms(&errors);
    let mut damping = 0.0;
    let mean = (1..=h)
        .map(|i| {
            damping += phi.powi(i as i32);
            level + damping * trend
        })
        .collect();
    let scale =
        (1..=h).map(|i| sigma * (1.0 + (i as f64 - 1.0) * alpha * alpha * (1.0 + beta)).sqrt()).collect();
    let (mean, scale) = ctx.restore(mean, scale);
    let mut params = ctx.seasonal_params();
    params["alpha"] = json!(alpha);
    params["beta"] = json!(beta);
    params["phi"] = json!(phi);
    Some(Fitted { mean, scale, params })
}

fn combination(ctx: &Context<'_>, h: usize) -> Option<Fitted> {
    let members: Vec<(ModelKind, Fitted)> =
        COMBINED.into_iter().filter_map(|k| forecast(k, ctx, h).map(|f| (k, f))).collect();
    combine(&members)
}

/// The equal-weight mean of already fitted members (at least two).
pub fn combine(members: &[(ModelKind, Fitted)]) -> Option<Fitted> {
    if members.len() < 2 {
        return None;
    }
    let h = members[0].1.mean.len();
    let k = members.len() as f64;
    let mean = (0..h).map(|i| members.iter().map(|(_, f)| f.mean[i]).sum::<f64>() / k).collect();
    let scale = (0..h).map(|i| members.iter().map(|(_, f)| f.scale[i]).sum::<f64>() / k).collect();
    let names: Vec<&str> = members.iter().map(|(kind, _)| kind.name()).collect();
    Some(Fitted { mean, scale, params: json!({ "members": names }) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seasonal_series(n: usize) -> Vec<f64> {
        (0..n).map(|t| 1000.0 + 5.0 * t as f64 + if t % 12 == 11 { 400.0 } else { 0.0 }).collect()
    }

    #[test]
    fn every_model_forecasts_a_seasonal_series() {
        let y = seasonal_series(48);
        let ctx = Context::new(&y, 12);
        assert!(ctx.seasonal.is_some());
        for kind in ModelKind::ALL {
            let f = forecast(kind, &ctx, 12).unwrap_or_else(|| panic!("{} fits", kind.name()));
            assert_eq!(f.mean.len(), 12);
            assert!(f.scale.iter().all(|s| *s >= 0.0));
            // Step 12 is a December (position 59): every model sees the peak.
            assert!(f.mean[11] > f.mean[10], "{} misses the December peak: {:?}", kind.name(), f.mean);
        }
    }

    #[test]
    fn theta_follows_a_trend() {
        let y: Vec<f64> = (0..30).map(|t| 100.0 + 10.0 * t as f64).collect();
        let f = forecast(ModelKind::Theta, &Context::new(&y, 12), 3).expect("fits");
        assert!(f.mean[2] > f.mean[0] && f.mean[0] > 390.0, "{:?}", f.mean);
    }

    #[test]
    fn the_damped_trend_follows_a_trend_and_lets_it_fade() {
        let y: Vec<f64> =
            (0..30).map(|t| 100.0 + 10.0 * t as f64 + if t % 2 == 0 { 3.0 } else { -3.0 }).collect();
        let f = forecast(ModelKind::DampedTrend, &Context::new(&y, 12), 24).expect("fits");
        // Up from the last value (about 390) ...
        assert!(f.mean[0] > 390.0 && f.mean[1] > f.mean[0], "{:?}", f.mean);
        // ... by less each step, where a straight line would keep adding ten.
        let (first, last) = (f.mean[1] - f.mean[0], f.mean[23] - f.mean[22]);
        assert!(last < first && last >= 0.0, "{:?}", f.mean);
        assert!(f.params["phi"].as_f64().is_some_and(|p| p < 1.0), "{}", f.params);
    }

    #[test]
    fn short_series_are_refused_not_panicked() {
        let y = [5.0, 6.0];
        for kind in ModelKind::ALL {
            let _ = forecast(kind, &Context::new(&y, 12), 1);
        }
        assert!(forecast(ModelKind::Ets, &Context::new(&y, 12), 1).is_none());
    }
}
