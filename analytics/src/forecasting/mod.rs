//! Forecasting: candidate models, seasonality, accuracy measures, and selection by backtest.
//! Pure computation on `f64` series; money becomes `f64` only inside here.

pub mod metrics;
pub mod models;
pub mod seasonality;
pub mod selection;

pub use models::ModelKind;
pub use selection::{CandidateReport, Prediction, Selection, Settings, select};
