//! Categories: the default set, CRUD, and deletion with reassignment.

use budgetsmart_common::events::{self, EventContext};
use budgetsmart_common::grpc::{caller, event_context};
use budgetsmart_proto::engine::v1 as pb;
use budgetsmart_proto::events::v1 as ev;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::convert::timestamp;
use crate::error::{AppError, AppResult};
use crate::idempotency::{self, Scope};
use crate::request_metadata;
use crate::state::AppState;
use crate::transactions::{self, TransactionRow};
use crate::validation::{MAX_DESCRIPTION, MAX_NAME, Violations};

/// What a new account starts with; enough to categorise a typical month out of the box.
const DEFAULTS: &[(&str, &str)] = &[
    ("Groceries", "expense"),
    ("Dining", "expense"),
    ("Housing", "expense"),
    ("Utilities", "expense"),
    ("Transportation", "expense"),
    ("Health", "expense"),
    ("Entertainment", "expense"),
    ("Shopping", "expense"),
    ("Travel", "expense"),
    ("Subscriptions", "expense"),
    ("Other", "expense"),
    ("Salary", "income"),
    ("Other income", "income"),
];

/// A category row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CategoryRow {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CategoryRow> for pb::Category {
    fn from(row: CategoryRow) -> Self {
        pb::Category {
            id: row.id.to_string(),
            name: row.name,
            kind: row.kind,
            description: row.description,
            created_at: Some(timestamp(row.created_at)),
            updated_at: Some(timestamp(row.updated_at)),
        }
    }
}

const COLUMNS: &str = "id, name, kind, description, created_at, updated_at";

/// Creates the default set for a new user, inside the registration transaction.
pub async fn create_defaults(conn: &mut PgConnection, user_id: Uuid) -> AppResult<()> {
    let ids: Vec<Uuid> = DEFAULTS.iter().map(|_| Uuid::now_v7()).collect();
    let names: Vec<&str> = DEFAULTS.iter().map(|(name, _)| *name).collect();
    let kinds: Vec<&str> = DEFAULTS.iter().map(|(_, kind)| *kind).collect();
    sqlx::query(
        "INSERT INTO categories (id, user_id, name, kind) \
         SELECT id, $2, name, kind FROM UNNEST($1::uuid[], $3::text[], $4::text[]) AS d(id, name, kind)",
    )
    .bind(&ids)
    .bind(user_id)
    .bind(&names)
    .bind(&kinds)
    .execute(conn)
    .await?;
    Ok(())
}

/// Maps the caller's category names (lower-cased) to ids, for CSV import.
pub async fn ids_by_name(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> AppResult<std::collections::HashMap<String, Uuid>> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as("SELECT id, name FROM categories WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(|(id, name)| (name.to_lowercase(), id)).collect())
}

/// Which of `ids` are not categories of `user_id`.
pub async fn missing(conn: &mut PgConnection, user_id: Uuid, ids: &[Uuid]) -> AppResult<Vec<Uuid>> {
    let found: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM categories WHERE user_id = $1 AND id = ANY($2)")
            .bind(user_id)
            .bind(ids)
            .fetch_all(conn)
            .await?;
    Ok(ids.iter().filter(|id| !found.contains(id)).copied().collect())
}

fn check_kind(violations: &mut Violations, kind: &str) -> String {
    let kind = kind.trim().to_lowercase();
    if kind != "expense" && kind != "income" {
        violations.add("kind", "must be \"expense\" or \"income\"");
    }
    kind
}

async fn find(conn: &mut PgConnection, user_id: Uuid, id: Uuid) -> AppResult<CategoryRow> {
    let sql = format!("SELECT {COLUMNS} FROM categories WHERE user_id = $1 AND id = $2");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("category"))
}

/// Parses a path id; a malformed one is simply not found, like another user's.
pub fn path_id(id: &str, what: &'static str) -> AppResult<Uuid> {
    Uuid::parse_str(id.trim()).map_err(|_| AppError::NotFound(what))
}

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
        let idempotent = request_metadata::idempotent(
            &self.state.idempotency,
            &request,
            Scope::User(user_id),
            "CreateCategory",
        )?;
        let body = request.into_inner();
        let mut violations = Violations::default();
        let name = violations.text("name", &body.name, MAX_NAME);
        let kind = check_kind(&mut violations, &body.kind);
        let description =
            violations.optional_text("description", body.description.as_deref(), MAX_DESCRIPTION);
        violations.finish()?;
        // A transaction only so the Idempotency-Key commits with the category.
        let mut tx = self.state.pool.begin().await.map_err(AppError::from)?;
        if let Some(answer) = idempotency::claim(&mut tx, idempotent.as_ref()).await? {
            return Ok(Response::new(answer));
        }
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
            .fetch_one(&mut *tx)
            .await
            .map_err(AppError::from)?;
        let answer = pb::Category::from(row);
        idempotency::complete(&mut tx, idempotent.as_ref(), &answer).await?;
        tx.commit().await.map_err(AppError::from)?;
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
    Ok(())
}
