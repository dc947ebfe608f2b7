//! Forecast accuracy measures as in the M4 competition, and the few statistics the models
//! share.

/// sMAPE of one point in percent, as in M4: `200 |y - f| / (|y| + |f|)`; 0 when both are 0.
pub fn smape_point(actual: f64, forecast: f64) -> f64 {
    let denominator = actual.abs() + forecast.abs();
    if denominator == 0.0 { 0.0 } else { 200.0 * (actual - forecast).abs() / denominator }
}

/// Mean sMAPE in percent over paired points.
pub fn smape(actual: &[f64], forecast: &[f64]) -> f64 {
    mean(&actual.iter().zip(forecast).map(|(a, f)| smape_point(*a, *f)).collect::<Vec<_>>())
}

/// The MASE denominator: the in-sample mean absolute error of the seasonal naive forecast
/// (lag `period`, or 1 when the series is too short). `None` for a constant series.
pub fn mase_scale(train: &[f64], period: usize) -> Option<f64> {
    let lag = if period > 1 && train.len() > period { period } else { 1 };
    if train.len() <= lag {
        return None;
    }
    let scale = mean(&train.windows(lag + 1).map(|w| (w[lag] - w[0]).abs()).collect::<Vec<_>>());
    (scale > 0.0 && scale.is_finite()).then_some(scale)
}

/// Arithmetic mean; 0 for no values.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() { 0.0 } else { values.iter().sum::<f64>() / values.len() as f64 }
}

/// Root mean square; 0 for no values.
pub fn rms(values: &[f64]) -> f64 {
    mean(&values.iter().map(|v| v * v).collect::<Vec<_>>()).sqrt()
}

/// The `q` quantile (0..1) by linear interpolation; `None` for no values.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    Some(sorted[below] + (sorted[above] - sorted[below]) * (position - below as f64))
}

/// The standard normal distribution function (Abramowitz and Stegun 7.1.26, error < 1.5e-7).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 { 0.5 * (1.0 + erf) } else { 0.5 * (1.0 - erf) }
}

/// z of the central 80 % and 95 % Gaussian intervals.
pub const Z80: f64 = 1.281_551_565_5;
/// See [`Z80`].
pub const Z95: f64 = 1.959_963_985;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smape_matches_the_m4_definition() {
        assert_eq!(smape_point(100.0, 100.0), 0.0);
        assert!((smape_point(100.0, 50.0) - 66.666_666).abs() < 1e-3);
        assert_eq!(smape_point(0.0, 0.0), 0.0);
        assert_eq!(smape_point(0.0, 5.0), 200.0);
    }

    #[test]
    fn mase_scale_uses_the_seasonal_lag() {
        let y: Vec<f64> = (0..24).map(|t| (t % 12) as f64).collect();
        // Exactly seasonal: the seasonal naive is perfect, so there is no scale.
        assert_eq!(mase_scale(&y, 12), None);
        assert_eq!(mase_scale(&[1.0, 3.0, 2.0], 12), Some(1.5));
    }

    #[test]
    fn normal_cdf_and_quantiles() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(Z95) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-Z80) - 0.1).abs() < 1e-6);
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
