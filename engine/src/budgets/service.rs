//! The Budgets gRPC service: validates requests, writes through `budgets::store`, re-evaluates alerts.

use budgetsmart_common::currency::Currency;
use budgetsmart_common::events;
use budgetsmart_common::grpc::{caller, event_context};
use budgetsmart_proto::engine::v1 as pb;
use budgetsmart_proto::events::v1 as ev;
use chrono::{NaiveDate, Utc};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::budgets::store::{
    Budget, BudgetRow, COLUMNS, Spending, check_limits, check_thresholds, find, load_limits, spending,
    store_limits,
};
use crate::budgets::thresholds;
use crate::categories::store::path_id;
use crate::convert::{money, percent, timestamp};
use crate::error::AppError;
use crate::idempotency::{Claim, Scope};
use crate::state::AppState;
use crate::validation::{Violations, format_month};
use budgetsmart_common::pagination::{self, Page};

/// Implements `budgetsmart.engine.v1.Budgets`.
pub struct BudgetsService {
    state: AppState,
}

impl BudgetsService {
    /// A service over `state`.
    pub fn new(state: AppState) -> Self {
        BudgetsService { state }
    }
}

#[tonic::async_trait]
impl pb::budgets_server::Budgets for BudgetsService {
    #[tracing::instrument(skip_all)]
    async fn list_budgets(
        &self,
        request: Request<pb::ListBudgetsRequest>,
    ) -> Result<Response<pb::ListBudgetsResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let page = Page::from_request(request.get_ref().page.as_ref()).map_err(AppError::from)?;
        let (after_month, after_id) = match page.after.as_deref() {
            Some([month, id]) => (
                Some(
                    NaiveDate::parse_from_str(month, "%Y-%m-%d")
                        .map_err(|_| AppError::field("cursor", "is invalid"))?,
                ),
                Some(Uuid::parse_str(id).map_err(|_| AppError::field("cursor", "is invalid"))?),
            ),
            Some(_) => return Err(AppError::field("cursor", "is invalid").into()),
            None => (None, None),
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM budgets WHERE user_id = $1 \
             AND ($2::date IS NULL OR (month, id) < ($2, $3)) ORDER BY month DESC, id DESC LIMIT $4"
        );
        let mut conn = self.state.pool.acquire().await.map_err(AppError::from)?;
        let rows: Vec<BudgetRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(after_month)
            .bind(after_id)
            .bind(page.limit + 1)
            .fetch_all(&mut *conn)
            .await
            .map_err(AppError::from)?;
        let (rows, next_cursor) =
            pagination::finish(rows, page.limit, |r| vec![r.month.to_string(), r.id.to_string()]);
        let mut budgets = Vec::with_capacity(rows.len());
        for row in rows {
            let limits = load_limits(&mut conn, row.id).await?;
            budgets.push(Budget { row, limits }.to_proto());
        }
        Ok(Response::new(pb::ListBudgetsResponse { budgets, next_cursor }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_budget(
        &self,
        request: Request<pb::CreateBudgetRequest>,
    ) -> Result<Response<pb::Budget>, Status> {
        let user_id = caller(&request)?.user_id;
        let ctx = event_context(&request, Some(user_id));
        let idempotent = self.state.idempotent_request(&request, Scope::User(user_id), "CreateBudget")?;
        let body = request.into_inner();
        let mut violations = Violations::default();
        let month = violations.month("month", &body.month);
        let currency = violations.currency("currency", &body.currency);
        if let (Some(total), Some(currency)) = (&body.total_limit, currency)
            && total.currency_code.trim() != currency.code()
        {
            violations.add("total_limit", "must be in the budget's currency");
        }
        let total = violations.positive_amount("total_limit", body.total_limit.as_ref(), currency);
        let thresholds = check_thresholds(&mut violations, &body.alert_thresholds);
        let mut write = match self.state.idempotent_write(idempotent.as_ref()).await? {
            Claim::Replay(answer) => return Ok(Response::new(answer)),
            Claim::Write(write) => write,
        };
        let tx = write.tx();
        let limits = check_limits(tx, &mut violations, user_id, &body.category_limits, currency).await?;
        violations.finish()?;
        let (Some(month), Some(currency), Some(total)) = (month, currency, total) else {
            return Err(AppError::Internal(anyhow::anyhow!("validated fields missing")).into());
        };

        let sql = format!(
            "INSERT INTO budgets (id, user_id, month, currency, total_limit, alert_thresholds) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
        );
        let row: BudgetRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(Uuid::now_v7())
            .bind(user_id)
            .bind(month)
            .bind(currency.code())
            .bind(total)
            .bind(&thresholds)
            .fetch_one(&mut **tx)
            .await
            .map_err(AppError::from)?;
        store_limits(tx, &row, &limits).await?;
        let budget = Budget { row, limits };
        events::enqueue(tx, &ctx, &budget.updated_event(true)).await.map_err(AppError::from)?;
        // Spending may already be past a threshold when the budget is created.
        thresholds::evaluate(tx, &ctx, &budget, None).await?;
        let answer = budget.to_proto();
        write.commit(&answer).await?;
        Ok(Response::new(answer))
    }

    #[tracing::instrument(skip_all)]
    async fn get_budget(
        &self,
        request: Request<pb::GetBudgetRequest>,
    ) -> Result<Response<pb::Budget>, Status> {
        let user_id = caller(&request)?.user_id;
        let id = path_id(&request.get_ref().id, "budget")?;
        let mut conn = self.state.pool.acquire().await.map_err(AppError::from)?;
        Ok(Response::new(find(&mut conn, user_id, id, false).await?.to_proto()))
    }

    #[tracing::instrument(skip_all)]
    async fn update_budget(
        &self,
        request: Request<pb::UpdateBudgetRequest>,
    ) -> Result<Response<pb::Budget>, Status> {
        let user_id = caller(&request)?.user_id;
        let ctx = event_context(&request, Some(user_id));
        let body = request.into_inner();
        let id = path_id(&body.id, "budget")?;
        let mut tx = self.state.pool.begin().await.map_err(AppError::from)?;
        let mut budget = find(&mut tx, user_id, id, true).await?;
        let currency = Currency::parse(budget.currency());
        let mut violations = Violations::default();
        // An empty currency code means "the budget's own", so a PATCH need not repeat it.
        if let (Some(total), Some(currency)) = (&body.total_limit, currency)
            && !total.currency_code.trim().is_empty()
            && total.currency_code.trim() != currency.code()
        {
            violations.add("total_limit", "must be in the budget's currency");
        }
        let total = match &body.total_limit {
            Some(total) => violations.positive_amount("total_limit", Some(total), currency),
            None => None,
        };
        let thresholds =
            body.replace_alert_thresholds.then(|| check_thresholds(&mut violations, &body.alert_thresholds));
        let limits = if body.replace_category_limits {
            Some(check_limits(&mut tx, &mut violations, user_id, &body.category_limits, currency).await?)
        } else {
            None
        };
        violations.finish()?;

        let sql = format!(
            "UPDATE budgets SET total_limit = COALESCE($3, total_limit), \
             alert_thresholds = COALESCE($4, alert_thresholds), version = version + 1, updated_at = now() \
             WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"
        );
        budget.row = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(id)
            .bind(total)
            .bind(thresholds)
            .fetch_one(&mut *tx)
            .await
            .map_err(AppError::from)?;
        if let Some(limits) = limits {
            store_limits(&mut tx, &budget.row, &limits).await?;
            budget.limits = limits;
        }
        events::enqueue(&mut tx, &ctx, &budget.updated_event(false)).await.map_err(AppError::from)?;
        thresholds::evaluate(&mut tx, &ctx, &budget, None).await?;
        self.state.commit(tx).await?;
        Ok(Response::new(budget.to_proto()))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_budget(
        &self,
        request: Request<pb::DeleteBudgetRequest>,
    ) -> Result<Response<pb::DeleteBudgetResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let ctx = event_context(&request, Some(user_id));
        let id = path_id(&request.get_ref().id, "budget")?;
        let mut tx = self.state.pool.begin().await.map_err(AppError::from)?;
        let sql = format!("DELETE FROM budgets WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}");
        let row: BudgetRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(AppError::from)?
            .ok_or(AppError::NotFound("budget"))?;
        let event = ev::BudgetDeleted {
            budget_id: row.id.to_string(),
            user_id: user_id.to_string(),
            month: format_month(row.month),
            currency: row.currency.trim().to_owned(),
            occurred_at: Some(timestamp(Utc::now())),
        };
        events::enqueue(&mut tx, &ctx, &event).await.map_err(AppError::from)?;
        self.state.commit(tx).await?;
        Ok(Response::new(pb::DeleteBudgetResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn get_budget_status(
        &self,
        request: Request<pb::GetBudgetStatusRequest>,
    ) -> Result<Response<pb::BudgetStatus>, Status> {
        let user_id = caller(&request)?.user_id;
        let id = path_id(&request.get_ref().id, "budget")?;
        let mut conn = self.state.pool.acquire().await.map_err(AppError::from)?;
        let budget = find(&mut conn, user_id, id, false).await?;
        let spent = spending(&mut conn, user_id, budget.row.month, budget.currency()).await?;
        let forecast = crate::budgets::forecasts::latest(&mut conn, budget.row.id, budget.currency()).await?;
        Ok(Response::new(status(&budget, &spent, forecast)))
    }
}

fn status(budget: &Budget, spent: &Spending, forecast: Option<pb::Forecast>) -> pb::BudgetStatus {
    let currency = budget.currency();
    let limit = budget.row.total_limit;
    let categories = budget
        .limits
        .iter()
        .map(|(category, category_limit)| {
            let used =
                spent.by_category.iter().find(|(c, _)| c == category).map(|(_, s)| *s).unwrap_or_default();
            pb::CategoryStatus {
                category_id: category.to_string(),
                limit: Some(money(*category_limit, currency)),
                spent: Some(money(used, currency)),
                percent_used: percent(used, *category_limit),
            }
        })
        .collect();
    pb::BudgetStatus {
        budget_id: budget.row.id.to_string(),
        month: format_month(budget.row.month),
        currency: currency.to_owned(),
        total_limit: Some(money(limit, currency)),
        spent: Some(money(spent.total, currency)),
        // Negative when overspent: clients show "12.00 over" rather than a clamped zero.
        remaining: Some(money(limit - spent.total, currency)),
        percent_used: percent(spent.total, limit),
        categories,
        forecast,
    }
}
