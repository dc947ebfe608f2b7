//! `/goals`: savings goals, their contributions, and where they are heading.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use budgetsmart_proto::analytics::v1 as pb;
use budgetsmart_proto::engine::v1 as engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, QueryMap};
use crate::json::{
    Amount, CurrencyCode, Day, FieldErrors, ListPage, PageParams, PositiveAmount, amount, nullable, timestamp,
};
use crate::openapi::problems;
use crate::state::AppState;

/// `on_track`, `at_risk` (there is a date and the projected pace misses it, or a month has
/// passed with no pace to project from) or `reached`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum GoalStatus {
    OnTrack,
    AtRisk,
    Reached,
}

/// An 80 % interval of dates: the completion at the optimistic and at the pessimistic pace.
/// `upper` is null when the pessimistic pace does not get there within ten years.
#[derive(Serialize, ToSchema)]
#[schema(as = DateInterval)]
pub struct DateIntervalJson {
    #[schema(format = Date)]
    lower: String,
    #[schema(format = Date, required = true)]
    upper: Option<String>,
}

/// A savings goal with its progress as of today.
#[derive(Serialize, ToSchema)]
#[schema(as = Goal)]
pub struct GoalJson {
    #[schema(format = Uuid)]
    id: String,
    #[schema(example = "Emergency fund")]
    name: String,
    #[schema(value_type = Amount)]
    target_amount: String,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    #[schema(format = Date, required = true)]
    target_date: Option<String>,
    /// The savings category whose transactions count as contributions (debits add, credits
    /// take out).
    #[schema(format = Uuid, required = true)]
    category_id: Option<String>,
    /// Contributions plus the linked category's net flow.
    #[schema(value_type = Amount)]
    saved: String,
    /// What is left to save; zero once reached.
    #[schema(value_type = Amount)]
    remaining: String,
    /// What to put aside each month, from this one to the target date's, to meet it; null
    /// without a date or once reached.
    #[schema(value_type = Option<Amount>, required = true)]
    monthly_needed: Option<String>,
    /// When the goal is reached at the pace forecast from the monthly contributions so far;
    /// null with no contributions yet, or a pace that never gets there.
    #[schema(format = Date, required = true)]
    projected_completion: Option<String>,
    #[schema(required = true)]
    projected_completion_80: Option<DateIntervalJson>,
    #[schema(value_type = GoalStatus)]
    status: String,
    #[schema(format = DateTime, required = true)]
    created_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    updated_at: Option<String>,
}

fn day(text: String) -> Option<String> {
    Some(text).filter(|t| !t.is_empty())
}

impl From<pb::Goal> for GoalJson {
    fn from(g: pb::Goal) -> Self {
        let interval = day(g.projected_completion_lower_80)
            .map(|lower| DateIntervalJson { lower, upper: day(g.projected_completion_upper_80) });
        GoalJson {
            currency: g.target_amount.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default(),
            target_amount: amount(&g.target_amount),
            saved: amount(&g.saved),
            remaining: amount(&g.remaining),
            monthly_needed: g.monthly_needed.as_ref().map(|m| amount(&Some(m.clone()))),
            id: g.id,
            name: g.name,
            target_date: day(g.target_date),
            category_id: g.category_id,
            projected_completion: day(g.projected_completion),
            projected_completion_80: interval,
            status: g.status,
            created_at: timestamp(g.created_at),
            updated_at: timestamp(g.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[schema(as = NewGoal)]
pub struct CreateBody {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S", example = "Emergency fund")]
    name: String,
    #[schema(value_type = PositiveAmount, example = "5000.00")]
    target_amount: String,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    /// Today or later.
    #[schema(value_type = Option<Day>)]
    target_date: Option<String>,
    /// One of your categories whose transactions count as contributions.
    #[schema(format = Uuid)]
    category_id: Option<String>,
}

/// The fields to change; `null` removes `target_date` or `category_id`. The currency is the
/// goal's for good: contributions were made in it.
#[derive(Deserialize, ToSchema)]
#[schema(as = GoalPatch)]
pub struct UpdateBody {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: Option<String>,
    #[schema(value_type = Option<PositiveAmount>)]
    target_amount: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Day>)]
    target_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Uuid)]
    category_id: Option<Option<String>>,
}

/// Money put towards a goal, in the goal's currency.
#[derive(Serialize, ToSchema)]
#[schema(as = Contribution)]
pub struct ContributionJson {
    #[schema(format = Uuid)]
    id: String,
    #[schema(value_type = Amount)]
    amount: String,
    #[schema(value_type = CurrencyCode)]
    currency: String,
    #[schema(format = Date)]
    occurred_on: String,
}

impl From<pb::Contribution> for ContributionJson {
    fn from(c: pb::Contribution) -> Self {
        ContributionJson {
            currency: c.amount.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default(),
            amount: amount(&c.amount),
            id: c.id,
            occurred_on: c.occurred_on,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[schema(as = NewContribution)]
pub struct ContributionBody {
    /// In the goal's currency.
    #[schema(value_type = PositiveAmount, example = "150.00")]
    amount: String,
    /// Today or earlier.
    #[schema(value_type = Day)]
    occurred_on: String,
}

/// A linked category must be the caller's own: the engine owns categories, analytics only
/// keeps their ids.
async fn check_category(state: &AppState, category_id: Option<&str>) -> Result<(), ApiError> {
    let Some(id) = category_id else { return Ok(()) };
    let found =
        state.engine.categories.clone().get_category(engine::GetCategoryRequest { id: id.to_owned() }).await;
    match found {
        Ok(_) => Ok(()),
        Err(status) if status.code() == tonic::Code::NotFound => {
            Err(ApiError::field("category_id", "is not one of your categories"))
        }
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            Err(ApiError::field("category_id", "must be a UUID"))
        }
        Err(status) => Err(status.into()),
    }
}

/// The caller's goals, newest first.
#[utoipa::path(
    get,
    path = "/goals",
    tag = "goals",
    operation_id = "list_goals",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of goals", body = ListPage<GoalJson>),
        problems::BadQuery,
        problems::Unprocessable,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    query: QueryMap,
) -> Result<Json<ListPage<GoalJson>>, ApiError> {
    let listed = state
        .goals
        .clone()
        .list_goals(pb::ListGoalsRequest { page: Some(query.page()?) })
        .await?
        .into_inner();
    Ok(Json(ListPage::new(listed.data.into_iter().map(Into::into).collect(), listed.next_cursor)))
}

/// Set a savings goal.
#[utoipa::path(
    post,
    path = "/goals",
    tag = "goals",
    operation_id = "create_goal",
    security(("bearer" = [])),
    request_body(content = CreateBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The goal, with its progress", body = GoalJson),
        problems::JsonBody,
    )
)]
pub async fn create(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<GoalJson>), ApiError> {
    let mut errors = FieldErrors::default();
    let target_amount = errors.money("target_amount", &body.target_amount, &body.currency);
    errors.finish()?;
    check_category(&state, body.category_id.as_deref()).await?;
    let request = pb::CreateGoalRequest {
        name: body.name,
        target_amount,
        target_date: body.target_date,
        category_id: body.category_id,
    };
    let created = state.goals.clone().create_goal(request).await?.into_inner();
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// One goal, with its progress.
#[utoipa::path(
    get,
    path = "/goals/{id}",
    tag = "goals",
    operation_id = "get_goal",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The goal's id")),
    responses((status = 200, description = "The goal", body = GoalJson), problems::NotFound)
)]
pub async fn get(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<GoalJson>, ApiError> {
    Ok(Json(state.goals.clone().get_goal(pb::GetGoalRequest { id }).await?.into_inner().into()))
}

/// Change a goal.
#[utoipa::path(
    patch,
    path = "/goals/{id}",
    tag = "goals",
    operation_id = "update_goal",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The goal's id")),
    request_body(content = UpdateBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed goal", body = GoalJson),
        problems::JsonBody,
        problems::NotFound,
    )
)]
pub async fn update(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<GoalJson>, ApiError> {
    let mut errors = FieldErrors::default();
    // The goal's own currency: analytics fills it in from an empty code.
    let target_amount = body.target_amount.as_deref().and_then(|a| errors.money("target_amount", a, ""));
    errors.finish()?;
    check_category(&state, body.category_id.clone().flatten().as_deref()).await?;
    let request = pb::UpdateGoalRequest {
        id,
        name: body.name,
        target_amount,
        clear_target_date: matches!(body.target_date, Some(None)),
        target_date: body.target_date.flatten(),
        clear_category: matches!(body.category_id, Some(None)),
        category_id: body.category_id.flatten(),
    };
    Ok(Json(state.goals.clone().update_goal(request).await?.into_inner().into()))
}

/// Delete a goal and its contributions.
#[utoipa::path(
    delete,
    path = "/goals/{id}",
    tag = "goals",
    operation_id = "delete_goal",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The goal's id")),
    responses((status = 204, description = "The goal is gone"), problems::NotFound)
)]
pub async fn delete(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.goals.clone().delete_goal(pb::DeleteGoalRequest { id }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A goal's contributions, newest first.
#[utoipa::path(
    get,
    path = "/goals/{id}/contributions",
    tag = "goals",
    operation_id = "list_contributions",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The goal's id"), PageParams),
    responses(
        (status = 200, description = "A page of contributions", body = ListPage<ContributionJson>),
        problems::BadQuery,
        problems::NotFound,
        problems::Unprocessable,
    )
)]
pub async fn contributions(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
    query: QueryMap,
) -> Result<Json<ListPage<ContributionJson>>, ApiError> {
    let request = pb::ListContributionsRequest { goal_id: id, page: Some(query.page()?) };
    let listed = state.goals.clone().list_contributions(request).await?.into_inner();
    Ok(Json(ListPage::new(listed.data.into_iter().map(Into::into).collect(), listed.next_cursor)))
}

/// Put money towards a goal.
#[utoipa::path(
    post,
    path = "/goals/{id}/contributions",
    tag = "goals",
    operation_id = "add_contribution",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The goal's id")),
    request_body(content = ContributionBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The contribution", body = ContributionJson),
        problems::JsonBody,
        problems::NotFound,
    )
)]
pub async fn contribute(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ContributionBody>,
) -> Result<(StatusCode, Json<ContributionJson>), ApiError> {
    let mut errors = FieldErrors::default();
    let amount = errors.money("amount", &body.amount, "");
    errors.finish()?;
    let request = pb::AddContributionRequest { goal_id: id, amount, occurred_on: body.occurred_on };
    let added = state.goals.clone().add_contribution(request).await?.into_inner();
    Ok((StatusCode::CREATED, Json(added.into())))
}
