//! A user's recurring payments found again from their history and corrections, and stored:
//! what retraining does, and what a correction does at once so its answer is what the next
//! rescan will say.

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use super::corrections::{self, Corrections};
use super::store::{self, RecurringRow};
use super::{Recurring, find};
use crate::history::{self, Debit};

/// History that recurring-payment (and anomaly) detection look at.
pub const HISTORY_MONTHS: i32 = 36;

/// What detection reads: the debits and credits of the history window, with category names
/// filled in, and the user's corrections.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Debits, oldest first.
    pub debits: Vec<Debit>,
    /// Credits, oldest first.
    pub credits: Vec<Debit>,
    /// What the user corrected.
    pub corrections: Corrections,
}

/// Reads the inputs of a scan as of `today`.
pub async fn inputs(conn: &mut PgConnection, user: Uuid, today: NaiveDate) -> Result<Inputs, sqlx::Error> {
    let since = history::shift_months(today, -HISTORY_MONTHS);
    let mut debits = history::debits(conn, user, since).await?;
    let mut credits = history::credits(conn, user, since).await?;
    // Rows stored before events carried the name take the category's latest known one.
    let names = history::category_names(conn, user).await?;
    for flow in debits.iter_mut().chain(credits.iter_mut()).filter(|d| d.category_name.is_none()) {
        flow.category_name = flow.category_id.and_then(|c| names.get(&c).cloned());
    }
    let corrections = corrections::load(conn, user).await?;
    Ok(Inputs { debits, credits, corrections })
}

impl Inputs {
    /// The recurring series among the inputs.
    pub fn find(&self, today: NaiveDate) -> Vec<Recurring> {
        find(&self.debits, &self.credits, today, &self.corrections)
    }
}

/// Finds and stores the user's recurring payments now.
pub async fn rescan(
    conn: &mut PgConnection,
    user: Uuid,
    today: NaiveDate,
) -> anyhow::Result<Vec<RecurringRow>> {
    let inputs = inputs(conn, user, today).await?;
    let found = tokio::task::spawn_blocking(move || inputs.find(today)).await?;
    Ok(store::sync(conn, user, &found, today).await?)
}
