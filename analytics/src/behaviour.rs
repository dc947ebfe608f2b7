//! What retraining learns from how a user spends, besides forecasts: recurring payments,
//! anomalies, insights, and the user's categorisation model. Runs in the review's own
//! transaction (see `trainer`), so its events go out with the state that explains them, or not
//! at all, and a failure here never takes a committed forecast with it.

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::anomalies::{self, Context};
use crate::categorizer::{self, Categorizer};
use crate::history::{self, Debit};
use crate::insights::{self, Insight};
use crate::parts::Parts;
use crate::profile::Profile;
use crate::recurring::{self, scan};

/// What one pass found and published.
#[derive(Debug, Default, Clone, Copy)]
pub struct Outcome {
    /// `anomaly_detected` events enqueued.
    pub anomalies: usize,
    /// `insight_generated` events enqueued.
    pub insights: usize,
    /// Recurring payments stored.
    pub recurring: usize,
    /// Whether the user now has a categorisation model of their own.
    pub categorizer: bool,
}

impl Outcome {
    /// Events enqueued.
    pub fn published(&self) -> usize {
        self.anomalies + self.insights
    }
}

/// A usual month in `currency` (the median of the last twelve complete ones) and what was paid
/// per merchant over the last twelve months.
fn insight_context(debits: &[Debit], currency: &str, today: NaiveDate) -> insights::Context {
    let current = history::month_start(today);
    let first = history::shift_months(current, -12);
    let mut context = insights::Context {
        usual_month: history::usual_month(debits, today).remove(currency).unwrap_or_default(),
        ..insights::Context::default()
    };
    for d in debits.iter().filter(|d| d.occurred_on >= first && d.occurred_on < current) {
        *context.paid_12m.entry((d.currency.clone(), d.merchant.clone())).or_default() += d.amount;
    }
    context
}

/// Detects, stores and announces from `inputs` (the history the pass read, see
/// [`scan::inputs`]); `extra` are insights found elsewhere in the same pass (projected
/// overspends from the forecasts).
pub async fn review(
    conn: &mut PgConnection,
    user: Uuid,
    profile: &Profile,
    today: NaiveDate,
    mut inputs: scan::Inputs,
    extra: Vec<Insight>,
) -> anyhow::Result<Outcome> {
    let names = history::category_names(conn, user).await?;
    let samples = categorizer::store::user_samples(conn, user).await?;
    let suppressed = anomalies::store::suppressions(conn, user).await?;
    // The detections and the model are CPU work: off the runtime, and side by side.
    let credits = std::mem::take(&mut inputs.credits);
    let (debits, found, findings, model) = tokio::task::spawn_blocking(move || {
        std::thread::scope(|scope| {
            let model = scope.spawn(|| Categorizer::train(&samples));
            let found = recurring::find(&inputs.debits, &credits, today, &inputs.corrections);
            let debits = inputs.debits;
            let context = Context {
                suppressed,
                // Only fixed prices: a subscription's rise is a price change, while a bill or a
                // weekly shop that merely recurs can still spike.
                recurring: found
                    .iter()
                    .filter(|r| r.fixed_price && !r.credit)
                    .map(|r| (r.currency.clone(), r.merchant.clone()))
                    .collect(),
            };
            let findings = anomalies::detect(&debits, &context);
            let model = model.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (debits, found, findings, model)
        })
    })
    .await?;
    let stored = recurring::store::sync(conn, user, &found, today).await?;
    let anomalies = anomalies::store::sync(conn, user, &findings, &debits).await?;

    let rows = history::daily(conn, user, &profile.currency, history::shift_months(today, -8), today).await?;
    // Savings are judged without one-offs and recurring charges, with this pass's flags.
    let flags = anomalies::store::flags(conn, user).await?;
    let parts = Parts::new(&debits, &found, flags);
    let regular = parts.regular(&rows, &profile.currency);
    let context = insight_context(&debits, &profile.currency, today);
    let mut candidates = extra;
    candidates.extend(insights::from_recurring(&stored, &context, today));
    candidates.extend(insights::from_spending(&rows, &regular, &names, &profile.currency, &context, today));
    candidates
        .extend(insights::foreign_spending(conn, user, &profile.currency, today, context.usual_month).await?);
    let insights = insights::issue(conn, user, &candidates).await?;

    let categorizer = categorizer::store::replace_user_model(conn, user, model.as_ref()).await?;
    Ok(Outcome { anomalies, insights, recurring: stored.len(), categorizer })
}
