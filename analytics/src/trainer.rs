//! Retraining: once a user's changes have gone quiet, select models for their series again,
//! record them in the registry, store each open budget's forecast and publish
//! `prediction_completed`; then review the user's behaviour (recurring payments, anomalies,
//! insights, their categorisation model).
//!
//! The two stages commit apart, each with its events in its own transaction, and are retried
//! apart: a review that fails keeps the forecasts committed before it, and a forecast that
//! fails does not hold back the review. A request row remembers which stages have served it
//! (`retraining::Stage`), so a retry runs only the stage that failed.

use std::time::Duration;

use budgetsmart_common::events::{self, EventContext, OutboxWaker};
use budgetsmart_common::money;
use budgetsmart_proto::events::v1 as ev;
use chrono::Utc;
use prost::Message;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::cache::Cache;
use crate::monthend::{self, Target};
use crate::readmodel::budgets;
use crate::recurring::scan;
use crate::retraining::Stage;
use crate::{behaviour, categorizer, goals, history, insights, parts, profile, registry, retraining};

/// How often the trainer looks for due users.
const POLL: Duration = Duration::from_millis(250);
/// Users trained per poll, so one busy poll cannot starve shutdown.
const BATCH: i64 = 16;
/// How long a failed retraining waits before the next attempt.
const RETRY_AFTER: Duration = Duration::from_secs(60);
/// Forecasts move with the calendar too: a user whose latest forecast is older than this is
/// retrained even without new events.
const REFRESH_AFTER_HOURS: i32 = 12;
/// How often the global categorisation model is retrained from everyone's labels.
const GLOBAL_MODEL_EVERY: Duration = Duration::from_secs(900);

/// One retraining's time into `analytics_retraining_duration_seconds`, by scope (a user's
/// models or the global categoriser) and outcome.
fn record_training(scope: &'static str, ok: bool, started: std::time::Instant) {
    metrics::histogram!("analytics_retraining_duration_seconds", "scope" => scope, "outcome" => if ok { "ok" } else { "failed" })
        .record(started.elapsed().as_secs_f64());
}

/// The retraining loop.
pub struct Trainer {
    pool: PgPool,
    cache: Cache,
    outbox: OutboxWaker,
    quiet: Duration,
    max_wait: Duration,
}

impl Trainer {
    /// A trainer debouncing by `quiet`, never postponing more than `max_wait`.
    pub fn new(
        pool: PgPool,
        cache: Cache,
        outbox: OutboxWaker,
        quiet: Duration,
        max_wait: Duration,
    ) -> Trainer {
        Trainer { pool, cache, outbox, quiet, max_wait }
    }

    /// Trains due users until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut last_refresh = tokio::time::Instant::now() - Duration::from_secs(3600);
        let mut last_global: Option<tokio::time::Instant> = None;
        while !shutdown.is_cancelled() {
            if last_global.is_none_or(|at| at.elapsed() > GLOBAL_MODEL_EVERY) {
                last_global = Some(tokio::time::Instant::now());
                if let Err(error) = self.train_global().await {
                    tracing::warn!(%error, "could not retrain the global categorisation model");
                }
            }
            if last_refresh.elapsed() > Duration::from_secs(600) {
                last_refresh = tokio::time::Instant::now();
                if let Err(error) = self.request_stale_refreshes().await {
                    tracing::warn!(%error, "could not queue forecast refreshes");
                }
            }
            match retraining::due(&self.pool, self.quiet, self.max_wait, BATCH).await {
                Ok(users) => {
                    for user in users {
                        if shutdown.is_cancelled() {
                            break;
                        }
                        if let Err(error) = self.train(user).await {
                            tracing::warn!(%error, %user, "retraining failed; retrying in a minute");
                            if let Err(error) = retraining::postpone(&self.pool, user, RETRY_AFTER).await {
                                tracing::warn!(%error, %user, "could not postpone the retraining");
                            }
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot read the retraining queue"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Retrains the global categorisation model, unless another replica did so recently.
    async fn train_global(&self) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let fresh = categorizer::store::global_trained_at(&mut conn).await?.is_some_and(|at| {
            chrono::Utc::now() - at < chrono::Duration::from_std(GLOBAL_MODEL_EVERY).unwrap_or_default()
        });
        if !fresh {
            let started = std::time::Instant::now();
            let trained = categorizer::store::train_global(&mut conn).await;
            record_training("global", trained.is_ok(), started);
            trained?;
            categorizer::store::models_changed();
        }
        Ok(())
    }

    async fn request_stale_refreshes(&self) -> Result<(), sqlx::Error> {
        // Stale forecasts, and goals not reviewed for as long (their pace moves with the
        // calendar even when no transaction arrives).
        sqlx::query(
            "INSERT INTO training_requests (user_id, requested_at) SELECT DISTINCT user_id, \
             clock_timestamp() - interval '1 hour' FROM ( \
               SELECT user_id FROM forecasts WHERE generated_at < now() - make_interval(hours => $1) \
               UNION SELECT user_id FROM goals WHERE reviewed_at < now() - make_interval(hours => $1)) stale \
             WHERE NOT EXISTS (SELECT 1 FROM training_requests r WHERE r.user_id = stale.user_id)",
        )
        .bind(REFRESH_AFTER_HOURS)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Retrains one user, if no other replica is doing it: the forecasts, then the review,
    /// each in its own transaction. Either failing is an error, retried after
    /// [`RETRY_AFTER`]; what the other committed stays.
    #[tracing::instrument(skip(self))]
    pub async fn train(&self, user: Uuid) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let forecasts = self.forecast_stage(user).await;
        let read = match &forecasts {
            Ok(read) => read.clone(),
            Err(error) => {
                tracing::warn!(%error, %user, "forecasting failed; the review goes on");
                None
            }
        };
        let review = self.review_stage(user, read).await;
        self.cache.invalidate(user).await;
        tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "retrained");
        let result = forecasts.and(review);
        record_training("user", result.is_ok(), started);
        result
    }

    /// The forecast stage: returns what it read, for the review to reuse, or `None` when
    /// another replica holds the user.
    async fn forecast_stage(&self, user: Uuid) -> anyhow::Result<Option<Read>> {
        let mut tx = self.pool.begin().await?;
        let Some(up_to) = retraining::claim(&mut tx, user).await? else { return Ok(None) };
        if !retraining::pending(&mut tx, user, up_to, Stage::Forecasts).await? {
            return Ok(Some(Read { up_to, inputs: None }));
        }
        let (published, inputs) = forecast_user(&mut tx, user).await?;
        retraining::served(&mut tx, user, up_to, Stage::Forecasts).await?;
        tx.commit().await?;
        if published > 0 {
            self.outbox.wake();
        }
        Ok(Some(Read { up_to, inputs: Some(inputs) }))
    }

    /// The review stage, over the requests the forecast stage covered (or, when it failed,
    /// every request there is), with the history it read when it has it.
    async fn review_stage(&self, user: Uuid, read: Option<Read>) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let Some(latest) = retraining::claim(&mut tx, user).await? else { return Ok(()) };
        let (up_to, inputs) = match read {
            Some(read) => (read.up_to, read.inputs),
            None => (latest, None),
        };
        if !retraining::pending(&mut tx, user, up_to, Stage::Review).await? {
            return Ok(());
        }
        let reviewed = review_user(&mut tx, user, inputs).await?;
        let today = profile::load(&mut tx, user).await?.today();
        let announced = goals::review::review_all(&mut tx, user, today).await?;
        retraining::served(&mut tx, user, up_to, Stage::Review).await?;
        tx.commit().await?;
        // The review retrained the user's categoriser: suggestions here load it at once.
        categorizer::store::models_changed();
        if reviewed.published() + announced > 0 {
            self.outbox.wake();
        }
        Ok(())
    }
}

/// What the forecast stage read: the newest request it covered and the user's history.
#[derive(Clone)]
struct Read {
    up_to: i64,
    inputs: Option<scan::Inputs>,
}

/// Selects models for every series of `user`, records them, stores the forecasts of open
/// budgets and enqueues `prediction_completed` for each. Returns the events enqueued and the
/// history it read, which the review can reuse.
pub async fn forecast_user(conn: &mut PgConnection, user: Uuid) -> anyhow::Result<(usize, scan::Inputs)> {
    let profile = profile::load(conn, user).await?;
    let today = profile.today();
    let current = history::month_start(today);
    let horizon = history::shift_months(current, monthend::MAX_MONTHS_AHEAD);
    let open = budgets::from_month(conn, user, current).await?;
    let mut targets: Vec<Target> = open
        .iter()
        .filter(|b| b.month <= horizon)
        .map(|b| Target { month: b.month, currency: b.currency.clone(), budget: Some(b.clone()) })
        .collect();
    // The default currency's current month is always modelled, budget or not, so the
    // registry shows every user's comparison.
    if !targets.iter().any(|t| t.month == current && t.currency == profile.currency) {
        targets.push(Target { month: current, currency: profile.currency.clone(), budget: None });
    }
    let mut published = 0;
    let mut saved = std::collections::HashSet::new();
    // One read of the history serves the forecasts' parts and the review.
    let inputs = scan::inputs(conn, user, today).await?;
    let parts = parts::from_inputs(conn, user, today, inputs.clone()).await?;
    for target in targets {
        let computed = monthend::compute_with(conn, user, &target, today, parts.clone()).await?;
        for (series, trained) in &computed.trained {
            // A future month's budget reuses the same series; the current month's selection wins.
            if saved.insert(series.clone()) {
                registry::save(conn, user, series, trained).await?;
            }
        }
        let Some(budget) = &target.budget else { continue };
        if computed.forecast.status != "ok" {
            continue;
        }
        publish(conn, user, budget.id, &computed.forecast).await?;
        published += 1;
    }
    Ok((published, inputs))
}

/// Reviews `user`'s spending for recurring payments, anomalies and insights (projected
/// overspends among them, from the stored forecasts of this month's budgets), and retrains
/// their categorisation model. `inputs` is the history the forecast stage read, if it did.
pub async fn review_user(
    conn: &mut PgConnection,
    user: Uuid,
    inputs: Option<scan::Inputs>,
) -> anyhow::Result<behaviour::Outcome> {
    let profile = profile::load(conn, user).await?;
    let today = profile.today();
    let inputs = match inputs {
        Some(inputs) => inputs,
        None => scan::inputs(conn, user, today).await?,
    };
    let overspends = stored_forecasts(conn, user, history::month_start(today))
        .await?
        .iter()
        .filter_map(|(budget, forecast)| insights::from_forecast(forecast, *budget))
        .collect();
    let reviewed = behaviour::review(conn, user, &profile, today, inputs, overspends).await?;
    tracing::debug!(
        anomalies = reviewed.anomalies,
        insights = reviewed.insights,
        recurring = reviewed.recurring,
        categorizer = reviewed.categorizer,
        "reviewed"
    );
    Ok(reviewed)
}

/// The stored forecast of each of `user`'s budgets for `month`.
async fn stored_forecasts(
    conn: &mut PgConnection,
    user: Uuid,
    month: chrono::NaiveDate,
) -> anyhow::Result<Vec<(Uuid, budgetsmart_proto::common::v1::MonthEndForecast)>> {
    let rows: Vec<(Uuid, Vec<u8>)> =
        sqlx::query_as("SELECT budget_id, forecast FROM forecasts WHERE user_id = $1 AND month = $2")
            .bind(user)
            .bind(month)
            .fetch_all(&mut *conn)
            .await?;
    let mut forecasts = Vec::with_capacity(rows.len());
    for (budget, bytes) in rows {
        forecasts.push((budget, Message::decode(bytes.as_slice())?));
    }
    Ok(forecasts)
}

async fn publish(
    conn: &mut PgConnection,
    user: Uuid,
    budget: Uuid,
    forecast: &budgetsmart_proto::common::v1::MonthEndForecast,
) -> anyhow::Result<()> {
    let zero = || money::to_proto(rust_decimal::Decimal::ZERO, &forecast.currency);
    let bound = |i: &Option<budgetsmart_proto::common::v1::MoneyInterval>, upper: bool| {
        i.as_ref()
            .and_then(|i| if upper { i.upper.clone() } else { i.lower.clone() })
            .or_else(|| Some(zero()))
    };
    let prediction_id = Uuid::now_v7();
    let event = ev::PredictionCompleted {
        prediction_id: prediction_id.to_string(),
        user_id: user.to_string(),
        budget_id: budget.to_string(),
        month: forecast.month.clone(),
        projected_total: forecast.projected_total.clone().or_else(|| Some(zero())),
        lower_80: bound(&forecast.interval_80, false),
        upper_80: bound(&forecast.interval_80, true),
        lower_95: bound(&forecast.interval_95, false),
        upper_95: bound(&forecast.interval_95, true),
        probability_over_budget: format!("{:.4}", forecast.probability_over_budget.unwrap_or(0.0)),
        model: forecast.model.clone(),
        generated_at: forecast.generated_at,
        forecast: Some(forecast.clone()),
    };
    let month = history::parse_month(&forecast.month).unwrap_or_else(|| Utc::now().date_naive());
    sqlx::query(
        "INSERT INTO forecasts (budget_id, user_id, month, forecast, generated_at) VALUES ($1, $2, $3, $4, now()) \
         ON CONFLICT (budget_id) DO UPDATE SET forecast = EXCLUDED.forecast, generated_at = EXCLUDED.generated_at",
    )
    .bind(budget)
    .bind(user)
    .bind(month)
    .bind(forecast.encode_to_vec())
    .execute(&mut *conn)
    .await?;
    let ctx = EventContext { user_id: Some(user), ..EventContext::default() };
    events::enqueue(conn, &ctx, &event).await?;
    Ok(())
}
