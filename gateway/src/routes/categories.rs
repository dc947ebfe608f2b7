//! `/categories`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use budgetsmart_proto::engine::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, QueryMap};
use crate::json::{CategoryKind, ListPage, nullable, timestamp};
use crate::openapi::problems;
use crate::state::AppState;

/// A category transactions and budget limits refer to.
#[derive(Serialize, ToSchema)]
#[schema(as = Category)]
pub struct CategoryJson {
    #[schema(format = Uuid)]
    id: String,
    #[schema(example = "Groceries")]
    name: String,
    #[schema(value_type = CategoryKind)]
    kind: String,
    #[schema(required = true)]
    description: Option<String>,
    #[schema(format = DateTime, required = true)]
    created_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    updated_at: Option<String>,
}

impl From<pb::Category> for CategoryJson {
    fn from(c: pb::Category) -> Self {
        CategoryJson {
            id: c.id,
            name: c.name,
            kind: c.kind,
            description: c.description,
            created_at: timestamp(c.created_at),
            updated_at: timestamp(c.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[schema(as = NewCategory)]
pub struct CreateBody {
    /// Unique among the user's categories.
    /// Blank names are refused: at least one character other than white space.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S", example = "Groceries")]
    name: String,
    #[schema(value_type = CategoryKind)]
    kind: String,
    #[schema(max_length = 500)]
    description: Option<String>,
}

/// The fields to change; an absent field keeps its value.
#[derive(Deserialize, ToSchema)]
#[schema(as = CategoryPatch)]
pub struct UpdateBody {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: Option<String>,
    #[schema(value_type = Option<CategoryKind>)]
    kind: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 500)]
    description: Option<Option<String>>,
}

/// The caller's categories.
///
/// The whole set in one page: it is small.
#[utoipa::path(
    get,
    path = "/categories",
    tag = "categories",
    operation_id = "list_categories",
    security(("bearer" = [])),
    responses((status = 200, description = "Every category of the caller", body = ListPage<CategoryJson>))
)]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<ListPage<CategoryJson>>, ApiError> {
    let listed =
        state.engine.categories.clone().list_categories(pb::ListCategoriesRequest {}).await?.into_inner();
    Ok(Json(ListPage::new(listed.categories.into_iter().map(Into::into).collect(), String::new())))
}

/// Create a category.
#[utoipa::path(
    post,
    path = "/categories",
    tag = "categories",
    operation_id = "create_category",
    security(("bearer" = [])),
    request_body(content = CreateBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The category was created", body = CategoryJson),
        problems::JsonBody,
        problems::Conflict,
    )
)]
pub async fn create(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<CategoryJson>), ApiError> {
    let request =
        pb::CreateCategoryRequest { name: body.name, kind: body.kind, description: body.description };
    let created = state.engine.categories.clone().create_category(request).await?.into_inner();
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// One category.
#[utoipa::path(
    get,
    path = "/categories/{id}",
    tag = "categories",
    operation_id = "get_category",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The category's id")),
    responses(
        (status = 200, description = "The category", body = CategoryJson),
        problems::NotFound,
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<CategoryJson>, ApiError> {
    Ok(Json(
        state
            .engine
            .categories
            .clone()
            .get_category(pb::GetCategoryRequest { id })
            .await?
            .into_inner()
            .into(),
    ))
}

/// Change a category; `"description": null` clears it.
#[utoipa::path(
    patch,
    path = "/categories/{id}",
    tag = "categories",
    operation_id = "update_category",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The category's id")),
    request_body(content = UpdateBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated category", body = CategoryJson),
        problems::JsonBody,
        problems::NotFound,
        problems::Conflict,
    )
)]
pub async fn update(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<CategoryJson>, ApiError> {
    let request = pb::UpdateCategoryRequest {
        id,
        name: body.name,
        kind: body.kind,
        clear_description: matches!(body.description, Some(None)),
        description: body.description.flatten(),
    };
    Ok(Json(state.engine.categories.clone().update_category(request).await?.into_inner().into()))
}

/// Delete a category.
///
/// A category still used by transactions or budget limits is refused with 409 unless
/// `reassign_to` names the category to move them to.
#[utoipa::path(
    delete,
    path = "/categories/{id}",
    tag = "categories",
    operation_id = "delete_category",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The category's id"),
        (
            "reassign_to" = Option<String>,
            Query,
            format = Uuid,
            description = "Move the category's transactions and limits to this category first"
        ),
    ),
    responses(
        (status = 204, description = "The category is gone"),
        problems::BadQuery,
        problems::NotFound,
        problems::Conflict,
        problems::Unprocessable,
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
    query: QueryMap,
) -> Result<StatusCode, ApiError> {
    let request = pb::DeleteCategoryRequest { id, reassign_to: query.get("reassign_to") };
    state.engine.categories.clone().delete_category(request).await?;
    Ok(StatusCode::NO_CONTENT)
}
