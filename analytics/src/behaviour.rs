//! What retraining learns from how a user spends, besides forecasts: recurring payments,
//! anomalies, insights, and the user's categorisation model. Runs in the retraining
//! transaction, so its events go out with the state that explains them, or not at all.

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::anomalies::{self, Context};
use crate::categorizer::{self, Categorizer};
use crate::history;
use crate::insights::{self, Insight};
use crate::profile::Profile;
use crate::recurring;

/// History that anomaly and recurring-payment detection look at.
const HISTORY_MONTHS: i32 = 36;

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

/// The latest name of each of the user's categories, as transaction events carried it.
pub async fn category_names(
    conn: &mut PgConnection,
    user: Uuid,
) -> Result<HashMap<Uuid, String>, sqlx::Error> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT DISTINCT ON (category_id) category_id, category_name FROM transactions \
         WHERE user_id = $1 AND category_id IS NOT NULL AND category_name IS NOT NULL \
         ORDER BY category_id, applied_at DESC",
    )
    .bind(user)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Detects, stores and announces; `extra` are insights found elsewhere in the same pass
/// (projected overspends from the forecasts).
pub async fn review(
    conn: &mut PgConnection,
    user: Uuid,
    profile: &Profile,
    today: NaiveDate,
    extra: Vec<Insight>,
) -> anyhow::Result<Outcome> {
    let since = history::shift_months(today, -HISTORY_MONTHS);
    let mut debits = history::debits(conn, user, since).await?;
    // Rows stored before events carried the name take the category's latest known one.
    let names = category_names(conn, user).await?;
    for debit in debits.iter_mut().filter(|d| d.category_name.is_none()) {
        debit.category_name = debit.category_id.and_then(|c| names.get(&c).cloned());
    }
    let samples = categorizer::store::user_samples(conn, user).await?;
    let suppressed = anomalies::store::suppressions(conn, user).await?;
    // The detections and the model are CPU work: off the runtime, and side by side.
    let (debits, found, findings, model) = tokio::task::spawn_blocking(move || {
        std::thread::scope(|scope| {
            let model = scope.spawn(|| Categorizer::train(&samples));
            let found = recurring::detect(&debits, today);
            let context = Context {
                suppressed,
                // Only fixed prices: a subscription's rise is a price change, while a bill or a
                // weekly shop that merely recurs can still spike.
                recurring: found
                    .iter()
                    .filter(|r| r.fixed_price)
                    .map(|r| (r.currency.clone(), r.merchant.clone()))
                    .collect(),
            };
            let findings = anomalies::detect(&debits, &context);
            let model = model.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (debits, found, findings, model)
        })
    })
    .await?;
    let stored = recurring::store::sync(conn, user, &found).await?;
    let anomalies = anomalies::store::sync(conn, user, &findings, &debits).await?;

    let rows = history::daily(conn, user, &profile.currency, history::shift_months(today, -8), today).await?;
    let mut candidates = extra;
    candidates.extend(insights::from_recurring(&stored, today));
    candidates.extend(insights::from_spending(&rows, &names, &profile.currency, today));
    let insights = insights::issue(conn, user, &candidates).await?;

    let categorizer = categorizer::store::replace_user_model(conn, user, model.as_ref()).await?;
    Ok(Outcome { anomalies, insights, recurring: stored.len(), categorizer })
}
