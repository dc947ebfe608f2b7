//! Seasonality: the M4 test for it, and classical decomposition to take it out and put it back.

use super::metrics::mean;

/// Autocorrelation of `y` at `lag`.
fn acf(y: &[f64], lag: usize) -> f64 {
    let m = mean(y);
    let denominator: f64 = y.iter().map(|v| (v - m).powi(2)).sum();
    if denominator == 0.0 || lag >= y.len() {
        return 0.0;
    }
    y.windows(lag + 1).map(|w| (w[0] - m) * (w[lag] - m)).sum::<f64>() / denominator
}

/// The M4 seasonality test: the autocorrelation at lag `period` is significant at 90 %,
/// with Bartlett's variance. Needs three full periods.
pub fn is_seasonal(y: &[f64], period: usize) -> bool {
    if period < 2 || y.len() < 3 * period {
        return false;
    }
    let lower: f64 = (1..period).map(|k| acf(y, k).powi(2)).sum();
    let limit = 1.645 * ((1.0 + 2.0 * lower) / y.len() as f64).sqrt();
    acf(y, period).abs() > limit
}

/// Seasonal indices from classical decomposition, by position modulo the period counted from
/// the start of the series. Multiplicative when the series is strictly positive.
#[derive(Debug, Clone)]
pub struct Decomposition {
    indices: Vec<f64>,
    multiplicative: bool,
}

impl Decomposition {
    /// Decomposes `y` if it is seasonal with `period`; `None` otherwise.
    pub fn of(y: &[f64], period: usize) -> Option<Decomposition> {
        if !is_seasonal(y, period) {
            return None;
        }
        let multiplicative = y.iter().all(|v| *v > 0.0);
        let trend = centred_moving_average(y, period);
        let mut sums = vec![0.0; period];
        let mut counts = vec![0usize; period];
        for (t, (value, level)) in y.iter().zip(&trend).enumerate() {
            if let Some(level) = level {
                let detrended = if multiplicative { value / level } else { value - level };
                sums[t % period] += detrended;
                counts[t % period] += 1;
            }
        }
        let mut indices: Vec<f64> =
            sums.iter().zip(&counts).map(|(s, c)| if *c == 0 { f64::NAN } else { s / *c as f64 }).collect();
        if indices.iter().any(|i| !i.is_finite()) {
            return None;
        }
        let centre = mean(&indices);
        for index in &mut indices {
            if multiplicative {
                *index /= centre;
            } else {
                *index -= centre;
            }
        }
        if multiplicative && indices.iter().any(|i| *i <= 0.0) {
            return None;
        }
        Some(Decomposition { indices, multiplicative })
    }

    /// The period.
    pub fn period(&self) -> usize {
        self.indices.len()
    }

    fn apply(&self, value: f64, t: usize, remove: bool) -> f64 {
        let index = self.indices[t % self.indices.len()];
        match (self.multiplicative, remove) {
            (true, true) => value / index,
            (true, false) => value * index,
            (false, true) => value - index,
            (false, false) => value + index,
        }
    }

    /// `y` with the seasonal component removed.
    pub fn adjust(&self, y: &[f64]) -> Vec<f64> {
        y.iter().enumerate().map(|(t, v)| self.apply(*v, t, true)).collect()
    }

    /// Puts the seasonal component back into forecasts that start at position `start`.
    pub fn restore(&self, forecast: &[f64], start: usize) -> Vec<f64> {
        forecast.iter().enumerate().map(|(i, v)| self.apply(*v, start + i, false)).collect()
    }

    /// Scales a spread at position `t` back to the original units.
    pub fn restore_scale(&self, scale: f64, t: usize) -> f64 {
        if self.multiplicative { scale * self.indices[t % self.indices.len()] } else { scale }
    }

    /// The indices, for the registry.
    pub fn indices(&self) -> &[f64] {
        &self.indices
    }
}

/// The centred moving average of order `period` (2×`period` when even); `None` at the ends.
fn centred_moving_average(y: &[f64], period: usize) -> Vec<Option<f64>> {
    let n = y.len();
    let mut out = vec![None; n];
    let half = period / 2;
    for (t, slot) in out.iter_mut().enumerate() {
        if t < half || t + half >= n {
            continue;
        }
        *slot = Some(if period.is_multiple_of(2) {
            let inner: f64 = y[t + 1 - half..t + half].iter().sum();
            (inner + 0.5 * (y[t - half] + y[t + half])) / period as f64
        } else {
            y[t - half..=t + half].iter().sum::<f64>() / period as f64
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seasonal(n: usize) -> Vec<f64> {
        (0..n).map(|t| 100.0 + t as f64 + if t % 12 == 11 { 60.0 } else { 0.0 }).collect()
    }

    #[test]
    fn finds_a_december_peak() {
        let y = seasonal(48);
        assert!(is_seasonal(&y, 12));
        let d = Decomposition::of(&y, 12).expect("seasonal");
        let peak = d.indices().iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).expect("12");
        assert_eq!(peak.0, 11);
        let adjusted = d.adjust(&y);
        let restored = d.restore(&adjusted, 0);
        assert!(y.iter().zip(restored).all(|(a, b)| (a - b).abs() < 1e-9));
    }

    #[test]
    fn a_trend_is_not_seasonal() {
        let y: Vec<f64> = (0..48).map(|t| 100.0 + 3.0 * t as f64).collect();
        assert!(Decomposition::of(&y, 12).is_none());
        assert!(!is_seasonal(&y[..20], 12), "needs three periods");
    }
}
