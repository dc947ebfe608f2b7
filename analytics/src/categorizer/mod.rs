//! Categorisation: a Bernoulli naive Bayes model (linfa-bayes) over the words of a
//! normalised description, the merchant as a whole, and the size of the amount. (Bernoulli,
//! not multinomial: a bank line rarely repeats a word, and linfa-bayes 0.8's multinomial fit
//! prints every class to stderr with a leftover `dbg!`.)
//!
//! Bank text varies from one charge to the next ("POS WHOLE FOODS #10234 AUSTIN TX",
//! "WHOLEFDS MKT 10234"), so features drop what varies: numbers, store codes, card-processor
//! prefixes and `*12345` suffixes. Cities stay as words; a city the model never saw simply
//! carries no weight. Each user has their own model over their category ids; a global model
//! over category *names* answers for users without one.

pub mod store;

use std::collections::HashMap;

use linfa::prelude::*;
use linfa_bayes::{BernoulliNb, NaiveBayes};
use ndarray::{Array1, Array2};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::merchant;

/// Laplace smoothing: small, so one strong word is not drowned by many unseen ones.
const ALPHA: f64 = 0.1;
/// Labelled transactions a model needs before it answers.
pub const MIN_SAMPLES: usize = 10;

/// The features of one transaction.
pub fn features(description: &str, amount: Decimal, kind: &str) -> Vec<String> {
    let mut out: Vec<String> = merchant::words(description).into_iter().map(|w| format!("w:{w}")).collect();
    out.push(format!("m:{}", merchant::normalise(description)));
    // Amounts by factor-of-two bands: a 4.50 coffee and a 450 rent differ, 40 and 45 do not.
    let band = amount.to_f64().filter(|a| *a > 0.0).map_or(0, |a| a.log2().floor() as i64);
    out.push(format!("a:{band}"));
    out.push(format!("k:{kind}"));
    out
}

/// Whether a feature says something about the text (amount and direction alone do not).
fn is_textual(feature: &str) -> bool {
    feature.starts_with("w:") || feature.starts_with("m:")
}

/// A trained model and the vocabulary it was trained on.
#[derive(Debug, Clone)]
pub struct Categorizer {
    training: Training,
    model: BernoulliNb<f64, usize>,
    index: HashMap<String, usize>,
}

/// What a model is rebuilt from: linfa-bayes 0.8 cannot serialise a Bernoulli model, and a
/// refit from the encoded samples takes milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Training {
    vocabulary: Vec<String>,
    /// Category ids (user model) or lower-case names (global model), by class index.
    classes: Vec<String>,
    /// Each sample as its feature indices and class index.
    samples: Vec<(Vec<u32>, u32)>,
}

/// One labelled example.
#[derive(Debug, Clone)]
pub struct Sample {
    pub features: Vec<String>,
    pub class: String,
}

impl Training {
    fn fit(self) -> Option<Categorizer> {
        let mut records = Array2::<f64>::zeros((self.samples.len(), self.vocabulary.len()));
        let mut targets = Array1::<usize>::zeros(self.samples.len());
        for (row, (features, class)) in self.samples.iter().enumerate() {
            for &column in features {
                if let Some(cell) = records.get_mut([row, column as usize]) {
                    *cell = 1.0;
                }
            }
            targets[row] = *class as usize;
        }
        let model = BernoulliNb::params()
            .alpha(ALPHA)
            .binarize(Some(0.5))
            .fit(&Dataset::new(records, targets))
            .ok()?;
        let index = self.vocabulary.iter().enumerate().map(|(i, f)| (f.clone(), i)).collect();
        Some(Categorizer { training: self, model, index })
    }
}

impl Categorizer {
    /// Trains on `samples`; `None` with too few of them or fewer than two classes.
    pub fn train(samples: &[Sample]) -> Option<Categorizer> {
        let mut classes: Vec<String> = samples.iter().map(|s| s.class.clone()).collect();
        classes.sort();
        classes.dedup();
        if samples.len() < MIN_SAMPLES || classes.len() < 2 {
            return None;
        }
        let mut vocabulary: Vec<String> = samples.iter().flat_map(|s| s.features.iter().cloned()).collect();
        vocabulary.sort();
        vocabulary.dedup();
        let index: HashMap<&str, u32> = vocabulary.iter().zip(0u32..).map(|(f, i)| (f.as_str(), i)).collect();
        let class_index: HashMap<&str, u32> =
            classes.iter().zip(0u32..).map(|(c, i)| (c.as_str(), i)).collect();
        let encoded = samples
            .iter()
            .map(|s| {
                (
                    s.features.iter().filter_map(|f| index.get(f.as_str()).copied()).collect(),
                    class_index[s.class.as_str()],
                )
            })
            .collect();
        Training { vocabulary, classes, samples: encoded }.fit()
    }

    /// The model in storable form.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.training).unwrap_or(serde_json::Value::Null)
    }

    /// Rebuilds a stored model; `None` if it does not parse.
    pub fn from_json(value: serde_json::Value) -> Option<Categorizer> {
        serde_json::from_value::<Training>(value).ok()?.fit()
    }

    /// Whether the model has seen the merchant of `features` itself (not only words like it).
    pub fn knows_merchant(&self, features: &[String]) -> bool {
        features.iter().any(|f| f.starts_with("m:") && self.index.contains_key(f))
    }

    /// Labelled transactions it learnt from.
    pub fn samples(&self) -> usize {
        self.training.samples.len()
    }

    /// Every class with its probability, most likely first; `None` when no textual feature
    /// is known to the model (it would only repeat its prior).
    pub fn predict(&self, features: &[String]) -> Option<Vec<(String, f64)>> {
        let mut x = Array2::<f64>::zeros((1, self.training.vocabulary.len()));
        let mut known_text = 0usize;
        for feature in features {
            if let Some(&column) = self.index.get(feature) {
                x[[0, column]] = 1.0;
                known_text += usize::from(is_textual(feature));
            }
        }
        if known_text == 0 {
            return None;
        }
        let jll = self.model.joint_log_likelihood(x.view());
        // Naive Bayes multiplies correlated evidence (the words of a merchant, and the merchant
        // itself) as if independent, which makes it over-confident. Tempering by the square root
        // of the evidence count brings confidence close to accuracy (docs/analytics.md).
        let temperature = (known_text as f64).sqrt().max(1.0);
        let scores: Vec<(usize, f64)> =
            jll.iter().map(|(class, values)| (**class, values[0] / temperature)).collect();
        let top = scores.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max);
        if !top.is_finite() {
            return None;
        }
        let total: f64 = scores.iter().map(|s| (s.1 - top).exp()).sum();
        let mut out: Vec<(String, f64)> = scores
            .iter()
            .filter_map(|(class, s)| {
                self.training.classes.get(*class).map(|c| (c.clone(), (s - top).exp() / total))
            })
            .filter(|(_, p)| p.is_finite())
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, cents: i64, class: &str) -> Sample {
        Sample { features: features(text, Decimal::new(cents, 2), "debit"), class: class.into() }
    }

    #[test]
    fn generalises_across_bank_spellings() {
        let mut samples = Vec::new();
        for i in 0..6 {
            samples.push(sample(
                &format!("WHOLE FOODS MARKET #{} AUSTIN TX", 100 + i),
                8_000 + i * 300,
                "groceries",
            ));
            samples.push(sample(&format!("SHELL OIL {}", 5_000 + i), 4_500 + i * 100, "transport"));
            samples.push(sample(&format!("STARBUCKS STORE {}", 20 + i), 550, "dining"));
        }
        let model = Categorizer::train(&samples).expect("trains");
        for (text, cents, want) in [
            ("POS WHOLE FOODS #99123 DALLAS", 9_100, "groceries"),
            ("SQ *STARBUCKS 0042 SEATTLE WA", 610, "dining"),
            ("Shell Oil 57442 *8812", 3_900, "transport"),
        ] {
            let ranked =
                model.predict(&features(text, Decimal::new(cents, 2), "debit")).expect("knows a word");
            assert_eq!(ranked[0].0, want, "{text}: {ranked:?}");
            assert!(ranked[0].1 > 0.5 && ranked[0].1 <= 1.0);
            let total: f64 = ranked.iter().map(|r| r.1).sum();
            assert!((total - 1.0).abs() < 1e-9);
        }
        assert!(model.predict(&features("ZZQX VENDOR", Decimal::ONE, "debit")).is_none());
        let back = Categorizer::from_json(model.to_json()).expect("rebuilds");
        assert_eq!(
            back.predict(&features("WHOLE FOODS", Decimal::new(5_000, 2), "debit")).expect("known")[0].0,
            "groceries"
        );
    }

    #[test]
    fn needs_enough_examples_of_two_classes() {
        let one_class: Vec<Sample> = (0..20).map(|i| sample("NETFLIX", 1_549 + i, "subscriptions")).collect();
        assert!(Categorizer::train(&one_class).is_none());
        let few: Vec<Sample> =
            (0..4).map(|i| sample("NETFLIX", 1_549, if i % 2 == 0 { "a" } else { "b" })).collect();
        assert!(Categorizer::train(&few).is_none());
    }
}
