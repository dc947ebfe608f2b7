//! `/categories`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use budgetsmart_proto::engine::v1 as pb;
use serde::{Deserialize, Serialize};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, QueryMap};
use crate::json::{ListPage, nullable, timestamp};
use crate::state::AppState;

#[derive(Serialize)]
pub struct CategoryJson {
    id: String,
    name: String,
    kind: String,
    description: Option<String>,
    created_at: Option<String>,
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

#[derive(Deserialize)]
pub struct CreateBody {
    name: String,
    kind: String,
    description: Option<String>,
}

#[derive(Deserialize)]
pub struct UpdateBody {
    name: Option<String>,
    kind: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    description: Option<Option<String>>,
}

/// GET /categories (the whole set: it is small).
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<ListPage<CategoryJson>>, ApiError> {
    let listed =
        state.engine.categories.clone().list_categories(pb::ListCategoriesRequest {}).await?.into_inner();
    Ok(Json(ListPage::new(listed.categories.into_iter().map(Into::into).collect(), String::new())))
}

/// POST /categories → 201.
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

/// GET /categories/{id}.
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

/// PATCH /categories/{id}; `"description": null` clears it.
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

/// DELETE /categories/{id}[?reassign_to=ID] → 204; 409 while in use without a target.
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
