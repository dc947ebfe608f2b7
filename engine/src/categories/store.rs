//! Categories: the stored row, the default set and lookups. The gRPC service over them, with
//! deletion and reassignment, is `categories::service`.

use budgetsmart_proto::engine::v1 as pb;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::convert::timestamp;
use crate::error::{AppError, AppResult};
use crate::validation::Violations;

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

pub(crate) const COLUMNS: &str = "id, name, kind, description, created_at, updated_at";

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

pub(crate) fn check_kind(violations: &mut Violations, kind: &str) -> String {
    let kind = kind.trim().to_lowercase();
    if kind != "expense" && kind != "income" {
        violations.add("kind", "must be \"expense\" or \"income\"");
    }
    kind
}

pub(crate) async fn find(conn: &mut PgConnection, user_id: Uuid, id: Uuid) -> AppResult<CategoryRow> {
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
