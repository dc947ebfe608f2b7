//! Evaluating a goal, and announcing what changed: `goal_reached` once, `goal_at_risk` once
//! each time the goal goes from on track to at risk (not every night it stays there).

use budgetsmart_common::currency::Currency;
use budgetsmart_common::events::{self, EventContext};
use budgetsmart_common::money;
use budgetsmart_proto::events::v1 as ev;
use chrono::{NaiveDate, Utc};
use prost_types::Timestamp;
use sqlx::PgConnection;

use crate::goals::progress::{self, Inputs, Progress, Status};
use crate::goals::store::{self, GoalRow};

/// Complete months of contributions the projection reads.
const HISTORY_MONTHS: usize = 36;

/// The goal's progress on `today`.
pub async fn evaluate(
    conn: &mut PgConnection,
    goal: &GoalRow,
    today: NaiveDate,
) -> Result<Progress, sqlx::Error> {
    let currency = currency_of(goal);
    let saved = store::saved(conn, goal, today, HISTORY_MONTHS).await?;
    Ok(progress::progress(&Inputs {
        target: goal.target_amount,
        currency,
        saved: saved.total,
        target_date: goal.target_date,
        today,
        created_on: goal.created_at.date_naive(),
        monthly: saved.monthly,
        this_month: saved.this_month,
    }))
}

/// The goal's currency (validated when it was set).
pub fn currency_of(goal: &GoalRow) -> Currency {
    Currency::parse(goal.currency.trim()).unwrap_or(Currency::parse("USD").expect("USD is ISO 4217"))
}

/// Evaluates `goal` (locked by the caller), stores its status and enqueues what there is to
/// announce; returns the progress and how many events were enqueued.
pub async fn review(
    conn: &mut PgConnection,
    goal: &mut GoalRow,
    today: NaiveDate,
) -> Result<(Progress, usize), sqlx::Error> {
    let progress = evaluate(conn, goal, today).await?;
    let ctx = EventContext { user_id: Some(goal.user_id), ..EventContext::default() };
    let now = Some(Timestamp { seconds: Utc::now().timestamp(), nanos: 0 });
    let mut published = 0;
    match progress.status {
        Status::Reached if !goal.reached_announced => {
            events::enqueue(
                conn,
                &ctx,
                &ev::GoalReached { goal: Some(data(goal, &progress)), occurred_at: now },
            )
            .await?;
            goal.reached_announced = true;
            published += 1;
        }
        Status::AtRisk if !goal.at_risk_announced => {
            events::enqueue(
                conn,
                &ctx,
                &ev::GoalAtRisk { goal: Some(data(goal, &progress)), occurred_at: now },
            )
            .await?;
            goal.at_risk_announced = true;
            published += 1;
        }
        // Back on track: a later slip is news again.
        Status::OnTrack => goal.at_risk_announced = false,
        _ => {}
    }
    goal.status = progress.status.as_str().to_owned();
    store::set_status(conn, goal).await?;
    Ok((progress, published))
}

/// Reviews every goal of `user` (the trainer's nightly and after-change pass).
pub async fn review_all(
    conn: &mut PgConnection,
    user: uuid::Uuid,
    today: NaiveDate,
) -> Result<usize, sqlx::Error> {
    let mut published = 0;
    for mut goal in store::all_of(conn, user).await? {
        published += review(conn, &mut goal, today).await?.1;
    }
    Ok(published)
}

/// The goal as its events carry it.
fn data(goal: &GoalRow, progress: &Progress) -> ev::GoalData {
    let code = goal.currency.trim();
    ev::GoalData {
        goal_id: goal.id.to_string(),
        user_id: goal.user_id.to_string(),
        name: goal.name.clone(),
        target_amount: Some(money::to_proto(goal.target_amount, code)),
        saved: Some(money::to_proto(progress.saved, code)),
        remaining: Some(money::to_proto(progress.remaining, code)),
        target_date: goal.target_date.map(|d| d.to_string()).unwrap_or_default(),
        projected_completion: progress.projected.map(|d| d.to_string()).unwrap_or_default(),
        monthly_needed: progress.monthly_needed.map(|m| money::to_proto(m, code)),
    }
}
