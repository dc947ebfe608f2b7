//! `budgetsmart.engine.v1.Categories`: CRUD over `categories`, and deletion with
//! reassignment of the category's transactions and budget limits.

use budgetsmart_common::events::{self, EventContext};
use budgetsmart_common::grpc::{caller, event_context};
use budgetsmart_proto::engine::v1 as pb;
use budgetsmart_proto::events::v1 as ev;
use sqlx::PgConnection;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::budgets::store as budgets;
use crate::categories::store::{COLUMNS, CategoryRow, check_kind, find, missing, path_id};
use crate::convert::timestamp;
use crate::error::{AppError, AppResult};
use crate::idempotency::{Claim, Scope};
use crate::state::AppState;
use crate::transactions::store::{self as transactions, TransactionRow};
use crate::validation::{MAX_DESCRIPTION, MAX_NAME, Violations};

/// Implements `budgetsmart.engine.v1.Categories`.
pub struct CategoriesService {
    state: AppState,
}

impl CategoriesService {
    /// A service over `state`.
    pub fn new(state: AppState) -> Self {
        CategoriesService { state }
    }
}

#[tonic::async_trait]
impl pb::categories_server::Categories for CategoriesService {
    #[tracing::instrument(skip_all)]
    async fn list_categories(
        &self,
        request: Request<pb::ListCategoriesRequest>,
    ) -> Result<Response<pb::ListCategoriesResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let sql = format!("SELECT {COLUMNS} FROM categories WHERE user_id = $1 ORDER BY kind, lower(name)");
        let rows: Vec<CategoryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.state.pool)
            .await
            .map_err(AppError::from)?;
        Ok(Response::new(pb::ListCategoriesResponse {
            categories: rows.into_iter().map(Into::into).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_category(
        &self,
        request: Request<pb::CreateCategoryRequest>,
    ) -> Result<Response<pb::Category>, Status> {
        let user_id = caller(&request)?.user_id;
        let idempotent = self.state.idempotent_request(&request, Scope::User(user_id), "CreateCategory")?;
        let body = request.into_inner();
        let mut violations = Violations::default();
        let name = violations.text("name", &body.name, MAX_NAME);
        let kind = check_kind(&mut violations, &body.kind);
        let description =
            violations.optional_text("description", body.description.as_deref(), MAX_DESCRIPTION);
        violations.finish()?;
        // A transaction only so the Idempotency-Key commits with the category.
        let mut write = match self.state.idempotent_write(idempotent.as_ref()).await? {
            Claim::Replay(answer) => return Ok(Response::new(answer)),
            Claim::Write(write) => write,
        };
        let sql = format!(
            "INSERT INTO categories (id, user_id, name, kind, description) VALUES ($1, $2, $3, $4, $5) \
             RETURNING {COLUMNS}"
        );
        let row: CategoryRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(Uuid::now_v7())
            .bind(user_id)
            .bind(name)
            .bind(kind)
            .bind(description)
            .fetch_one(&mut **write.tx())
            .await
            .map_err(AppError::from)?;
        let answer = pb::Category::from(row);
        write.commit(&answer).await?;
        self.state.owners.forget(user_id);
        Ok(Response::new(answer))
    }

    #[tracing::instrument(skip_all)]
    async fn get_category(
        &self,
        request: Request<pb::GetCategoryRequest>,
    ) -> Result<Response<pb::Category>, Status> {
        let user_id = caller(&request)?.user_id;
        let id = path_id(&request.get_ref().id, "category")?;
        let mut conn = self.state.pool.acquire().await.map_err(AppError::from)?;
        Ok(Response::new(find(&mut conn, user_id, id).await?.into()))
    }

    #[tracing::instrument(skip_all)]
    async fn update_category(
        &self,
        request: Request<pb::UpdateCategoryRequest>,
    ) -> Result<Response<pb::Category>, Status> {
        let user_id = caller(&request)?.user_id;
        let body = request.into_inner();
        let id = path_id(&body.id, "category")?;
        let mut violations = Violations::default();
        let name = body.name.as_deref().map(|n| violations.text("name", n, MAX_NAME));
        let kind = body.kind.as_deref().map(|k| check_kind(&mut violations, k));
        let description =
            violations.optional_text("description", body.description.as_deref(), MAX_DESCRIPTION);
        violations.finish()?;
        let sql = format!(
            "UPDATE categories SET name = COALESCE($3, name), kind = COALESCE($4, kind), \
             description = CASE WHEN $6 THEN NULL ELSE COALESCE($5, description) END, updated_at = now() \
             WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"
        );
        let row: Option<CategoryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(id)
            .bind(name)
            .bind(kind)
            .bind(description)
            .bind(body.clear_description)
            .fetch_optional(&self.state.pool)
            .await
            .map_err(AppError::from)?;
        self.state.owners.forget(user_id);
        Ok(Response::new(row.ok_or(AppError::NotFound("category"))?.into()))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_category(
        &self,
        request: Request<pb::DeleteCategoryRequest>,
    ) -> Result<Response<pb::DeleteCategoryResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let ctx = event_context(&request, Some(user_id));
        let body = request.into_inner();
        let id = path_id(&body.id, "category")?;
        let mut tx = self.state.pool.begin().await.map_err(AppError::from)?;
        find(&mut tx, user_id, id).await?;
        match body.reassign_to.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(target) => {
                let target =
                    Uuid::parse_str(target).map_err(|_| AppError::field("reassign_to", "must be a UUID"))?;
                if target == id {
                    return Err(AppError::field("reassign_to", "must be a different category").into());
                }
                if !missing(&mut tx, user_id, &[target]).await?.is_empty() {
                    return Err(AppError::field("reassign_to", "no such category").into());
                }
                reassign(&mut tx, &ctx, user_id, id, target).await?;
            }
            None => {
                let in_use: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM transactions WHERE user_id = $1 AND category_id = $2) \
                     OR EXISTS (SELECT 1 FROM budget_category_limits WHERE user_id = $1 AND category_id = $2)",
                )
                .bind(user_id)
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(AppError::from)?;
                if in_use {
                    return Err(AppError::Conflict(
                        "the category is in use by transactions or budgets; pass reassign_to to move them"
                            .into(),
                    )
                    .into());
                }
            }
        }
        sqlx::query("DELETE FROM categories WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(AppError::from)?;
        self.state.commit(tx).await?;
        self.state.owners.forget(user_id);
        Ok(Response::new(pb::DeleteCategoryResponse {}))
    }
}

/// Moves transactions and budget limits from `from` to `to`. Where a budget limits both, the
/// limits are added, so the budget's total allowance for the merged category is unchanged.
async fn reassign(
    conn: &mut PgConnection,
    ctx: &EventContext,
    user_id: Uuid,
    from: Uuid,
    to: Uuid,
) -> AppResult<()> {
    let sql = format!(
        "UPDATE transactions SET category_id = $3, version = version + 1, updated_at = now() \
         WHERE user_id = $1 AND category_id = $2 RETURNING {}",
        transactions::COLUMNS
    );
    let moved: Vec<TransactionRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await?;
    // Consumers keep their own copies of transactions: tell them each one moved.
    for row in &moved {
        let previous = TransactionRow {
            category_id: Some(from),
            category_name: None,
            version: row.version - 1,
            ..row.clone()
        };
        let event = ev::TransactionUpdated {
            transaction: Some(row.event_data()),
            previous: Some(previous.event_data()),
            occurred_at: Some(timestamp(chrono::Utc::now())),
        };
        events::enqueue(conn, ctx, &event).await?;
    }
    // Budgets limiting the old category change: their limits are moved or merged below.
    let touched: Vec<Uuid> = sqlx::query_scalar(
        "SELECT b.id FROM budgets b WHERE b.user_id = $1 AND EXISTS \
         (SELECT 1 FROM budget_category_limits l WHERE l.budget_id = b.id AND l.category_id = $2) \
         ORDER BY b.id FOR UPDATE",
    )
    .bind(user_id)
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    // Two limits merged must still fit a budget amount (NUMERIC(19,4)); the sum used to
    // overflow the column and answer 500.
    let too_large: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM budget_category_limits t JOIN budget_category_limits f \
         ON t.budget_id = f.budget_id WHERE f.user_id = $1 AND f.category_id = $2 AND t.category_id = $3 \
         AND t.limit_amount + f.limit_amount > $4)",
    )
    .bind(user_id)
    .bind(from)
    .bind(to)
    .bind(budgetsmart_common::money::MAX_AMOUNT)
    .fetch_one(&mut *conn)
    .await?;
    if too_large {
        return Err(AppError::field(
            "reassign_to",
            "a budget limits both categories, and the merged limit would exceed the largest amount",
        ));
    }
    sqlx::query(
        "UPDATE budget_category_limits t SET limit_amount = t.limit_amount + f.limit_amount \
         FROM budget_category_limits f \
         WHERE f.user_id = $1 AND f.category_id = $2 AND t.budget_id = f.budget_id AND t.category_id = $3",
    )
    .bind(user_id)
    .bind(from)
    .bind(to)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE budget_category_limits f SET category_id = $3 WHERE f.user_id = $1 AND f.category_id = $2 \
         AND NOT EXISTS (SELECT 1 FROM budget_category_limits t WHERE t.budget_id = f.budget_id AND t.category_id = $3)",
    )
    .bind(user_id)
    .bind(from)
    .bind(to)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM budget_category_limits WHERE user_id = $1 AND category_id = $2")
        .bind(user_id)
        .bind(from)
        .execute(&mut *conn)
        .await?;
    // Alerts keyed by the old category no longer describe any limit.
    sqlx::query(
        "DELETE FROM budget_alerts a USING budgets b WHERE a.budget_id = b.id AND b.user_id = $1 AND a.scope = $2",
    )
    .bind(user_id)
    .bind(from.to_string())
    .execute(&mut *conn)
    .await?;
    // Consumers keep budgets' limits too: each changed budget is a new version, announced.
    for id in touched {
        sqlx::query("UPDATE budgets SET version = version + 1, updated_at = now() WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        let budget = budgets::find(conn, user_id, id, false).await?;
        events::enqueue(conn, ctx, &budget.updated_event(false)).await?;
    }
    Ok(())
}
