//! The Goals gRPC service: savings goals and their contributions, each answer with the
//! goal's progress as of the caller's today.

use budgetsmart_common::currency::Currency;
use budgetsmart_common::events::OutboxWaker;
use budgetsmart_common::grpc::caller;
use budgetsmart_common::money;
use budgetsmart_common::pagination::{self, Page};
use budgetsmart_proto::analytics::v1 as pb;
use budgetsmart_proto::common::v1::Money;
use chrono::{DateTime, NaiveDate, Utc};
use prost_types::Timestamp;
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::error::ApiError;
use crate::goals::progress::Progress;
use crate::goals::review;
use crate::goals::store::{self, GoalRow, NewGoal};
use crate::profile;

/// Longest goal name.
const MAX_NAME: usize = 100;

/// Implements `budgetsmart.analytics.v1.Goals`.
pub struct GoalsService {
    pool: PgPool,
    outbox: OutboxWaker,
}

impl GoalsService {
    /// A service over `pool`, waking `outbox` after a change that announced something.
    pub fn new(pool: PgPool, outbox: OutboxWaker) -> Self {
        GoalsService { pool, outbox }
    }

    /// Reviews `goal` in `tx`, commits, wakes the relay when something was announced, and
    /// answers the goal with its progress.
    async fn finish(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
        mut goal: GoalRow,
        today: NaiveDate,
    ) -> Result<pb::Goal, ApiError> {
        let (progress, published) = review::review(&mut tx, &mut goal, today).await?;
        tx.commit().await?;
        if published > 0 {
            self.outbox.wake();
        }
        Ok(to_proto(&goal, &progress))
    }
}

fn timestamp(at: DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp { seconds: at.timestamp(), nanos: at.timestamp_subsec_nanos() as i32 })
}

fn to_proto(goal: &GoalRow, progress: &Progress) -> pb::Goal {
    let code = goal.currency.trim();
    let day = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    let interval = progress.interval_80;
    pb::Goal {
        id: goal.id.to_string(),
        name: goal.name.clone(),
        target_amount: Some(money::to_proto(goal.target_amount, code)),
        target_date: day(goal.target_date),
        category_id: goal.category_id.map(|c| c.to_string()),
        saved: Some(money::to_proto(progress.saved, code)),
        remaining: Some(money::to_proto(progress.remaining, code)),
        monthly_needed: progress.monthly_needed.map(|m| money::to_proto(m, code)),
        projected_completion: day(progress.projected),
        projected_completion_lower_80: day(interval.map(|i| i.0)),
        projected_completion_upper_80: day(interval.and_then(|i| i.1)),
        status: progress.status.as_str().to_owned(),
        created_at: timestamp(goal.created_at),
        updated_at: timestamp(goal.updated_at),
    }
}

/// Field checks, every violation named; the first is answered.
#[derive(Default)]
struct Checks(Vec<(&'static str, String)>);

impl Checks {
    fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }

    fn finish(self) -> Result<(), ApiError> {
        match self.0.into_iter().next() {
            Some((field, message)) => Err(ApiError::invalid(field, message)),
            None => Ok(()),
        }
    }

    fn name(&mut self, raw: &str) -> String {
        let name = raw.trim().to_owned();
        if name.is_empty() {
            self.add("name", "must not be blank");
        } else if name.chars().count() > MAX_NAME {
            self.add("name", format!("must be at most {MAX_NAME} characters"));
        } else if name.contains('\0') {
            self.add("name", "must not contain NUL characters");
        }
        name
    }

    /// A positive amount; its currency (when given) must be `expected`'s, or, with no
    /// expectation, any ISO 4217 code (named `currency`).
    fn amount(
        &mut self,
        field: &'static str,
        raw: Option<&Money>,
        expected: Option<Currency>,
    ) -> Option<(Decimal, Currency)> {
        let Some(raw) = raw else {
            self.add(field, "is required");
            return None;
        };
        let code = raw.currency_code.trim();
        let currency = match (expected, code) {
            (Some(expected), "") => expected,
            (Some(expected), code) if code == expected.code() => expected,
            (Some(expected), _) => {
                self.add("currency", format!("must be the goal's currency, {}", expected.code()));
                return None;
            }
            (None, code) => match Currency::parse(code) {
                Some(currency) => currency,
                None => {
                    self.add("currency", "must be an ISO 4217 currency code such as USD");
                    return None;
                }
            },
        };
        let parsed =
            money::from_proto(raw).and_then(|(amount, _)| money::validate_positive(amount, currency));
        match parsed {
            Ok(amount) => Some((amount, currency)),
            Err(error) => {
                self.add(field, error.to_string());
                None
            }
        }
    }

    fn day(&mut self, field: &'static str, raw: &str) -> Option<NaiveDate> {
        match NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d") {
            Ok(day) if (1900..=2999).contains(&chrono::Datelike::year(&day)) => Some(day),
            _ => {
                self.add(field, "must be a date such as 2027-06-30");
                None
            }
        }
    }

    fn target_date(&mut self, raw: &str, today: NaiveDate) -> Option<NaiveDate> {
        let day = self.day("target_date", raw)?;
        if day < today {
            self.add("target_date", "must not be in the past");
        }
        Some(day)
    }

    fn uuid(&mut self, field: &'static str, raw: &str) -> Option<Uuid> {
        let parsed = Uuid::parse_str(raw.trim()).ok();
        if parsed.is_none() {
            self.add(field, "must be a UUID");
        }
        parsed
    }
}

/// The caller's goal `id`; another user's, or none, is "goal not found".
async fn owned(conn: &mut PgConnection, user: Uuid, id: &str, lock: bool) -> Result<GoalRow, ApiError> {
    let id = Uuid::parse_str(id.trim()).map_err(|_| ApiError::NotFound("goal"))?;
    store::find(conn, user, id, lock).await?.ok_or(ApiError::NotFound("goal"))
}

fn page(request: Option<&budgetsmart_proto::common::v1::PageRequest>) -> Result<Page, ApiError> {
    Page::from_request(request).map_err(|e| ApiError::invalid(e.field, e.message))
}

#[tonic::async_trait]
impl pb::goals_server::Goals for GoalsService {
    #[tracing::instrument(skip_all)]
    async fn create_goal(
        &self,
        request: Request<pb::CreateGoalRequest>,
    ) -> Result<Response<pb::Goal>, Status> {
        let user = caller(&request)?.user_id;
        let body = request.into_inner();
        let mut tx = self.pool.begin().await.map_err(ApiError::from)?;
        let today = profile::load(&mut tx, user).await.map_err(ApiError::from)?.today();
        let mut checks = Checks::default();
        let name = checks.name(&body.name);
        let target = checks.amount("target_amount", body.target_amount.as_ref(), None);
        let target_date = body.target_date.as_deref().and_then(|d| checks.target_date(d, today));
        let category_id = body.category_id.as_deref().and_then(|c| checks.uuid("category_id", c));
        checks.finish()?;
        let Some((target_amount, currency)) = target else {
            return Err(ApiError::invalid("target_amount", "is required").into());
        };
        let new =
            NewGoal { name, target_amount, currency: currency.code().to_owned(), target_date, category_id };
        let goal = store::insert(&mut tx, user, &new).await.map_err(ApiError::from)?;
        Ok(Response::new(self.finish(tx, goal, today).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn list_goals(
        &self,
        request: Request<pb::ListGoalsRequest>,
    ) -> Result<Response<pb::ListGoalsResponse>, Status> {
        let user = caller(&request)?.user_id;
        let page = page(request.get_ref().page.as_ref())?;
        let after = match page.after.as_deref() {
            None => None,
            Some([id]) => Some(
                Uuid::parse_str(id)
                    .map_err(|_| ApiError::invalid("cursor", "is not a cursor this API returned"))?,
            ),
            Some(_) => return Err(ApiError::invalid("cursor", "is not a cursor this API returned").into()),
        };
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let today = profile::load(&mut conn, user).await.map_err(ApiError::from)?.today();
        let rows = store::list(&mut conn, user, after, page.limit + 1).await.map_err(ApiError::from)?;
        let (rows, next_cursor) = pagination::finish(rows, page.limit, |g| vec![g.id.to_string()]);
        let mut data = Vec::with_capacity(rows.len());
        for goal in &rows {
            let progress = review::evaluate(&mut conn, goal, today).await.map_err(ApiError::from)?;
            data.push(to_proto(goal, &progress));
        }
        Ok(Response::new(pb::ListGoalsResponse { data, next_cursor }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_goal(&self, request: Request<pb::GetGoalRequest>) -> Result<Response<pb::Goal>, Status> {
        let user = caller(&request)?.user_id;
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let today = profile::load(&mut conn, user).await.map_err(ApiError::from)?.today();
        let goal = owned(&mut conn, user, &request.get_ref().id, false).await?;
        let progress = review::evaluate(&mut conn, &goal, today).await.map_err(ApiError::from)?;
        Ok(Response::new(to_proto(&goal, &progress)))
    }

    #[tracing::instrument(skip_all)]
    async fn update_goal(
        &self,
        request: Request<pb::UpdateGoalRequest>,
    ) -> Result<Response<pb::Goal>, Status> {
        let user = caller(&request)?.user_id;
        let body = request.into_inner();
        let mut tx = self.pool.begin().await.map_err(ApiError::from)?;
        let today = profile::load(&mut tx, user).await.map_err(ApiError::from)?.today();
        let mut goal = owned(&mut tx, user, &body.id, true).await?;
        let mut checks = Checks::default();
        if let Some(name) = body.name.as_deref() {
            goal.name = checks.name(name);
        }
        if body.target_amount.is_some() {
            let currency = review::currency_of(&goal);
            if let Some((amount, _)) =
                checks.amount("target_amount", body.target_amount.as_ref(), Some(currency))
            {
                goal.target_amount = amount;
            }
        }
        if body.clear_target_date {
            goal.target_date = None;
        } else if let Some(day) = body.target_date.as_deref().and_then(|d| checks.target_date(d, today)) {
            goal.target_date = Some(day);
        }
        if body.clear_category {
            goal.category_id = None;
        } else if let Some(category) = body.category_id.as_deref().and_then(|c| checks.uuid("category_id", c))
        {
            goal.category_id = Some(category);
        }
        checks.finish()?;
        let goal = store::update(&mut tx, &goal).await.map_err(ApiError::from)?;
        Ok(Response::new(self.finish(tx, goal, today).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_goal(
        &self,
        request: Request<pb::DeleteGoalRequest>,
    ) -> Result<Response<pb::DeleteGoalResponse>, Status> {
        let user = caller(&request)?.user_id;
        let id = Uuid::parse_str(request.get_ref().id.trim()).map_err(|_| ApiError::NotFound("goal"))?;
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        if !store::delete(&mut conn, user, id).await.map_err(ApiError::from)? {
            return Err(ApiError::NotFound("goal").into());
        }
        Ok(Response::new(pb::DeleteGoalResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn add_contribution(
        &self,
        request: Request<pb::AddContributionRequest>,
    ) -> Result<Response<pb::Contribution>, Status> {
        let user = caller(&request)?.user_id;
        let body = request.into_inner();
        let mut tx = self.pool.begin().await.map_err(ApiError::from)?;
        let today = profile::load(&mut tx, user).await.map_err(ApiError::from)?.today();
        let goal = owned(&mut tx, user, &body.goal_id, true).await?;
        let currency = review::currency_of(&goal);
        let mut checks = Checks::default();
        let amount = checks.amount("amount", body.amount.as_ref(), Some(currency));
        let occurred_on = checks.day("occurred_on", &body.occurred_on);
        if occurred_on.is_some_and(|d| d > today) {
            checks.add("occurred_on", "must not be in the future");
        }
        checks.finish()?;
        let (Some((amount, _)), Some(occurred_on)) = (amount, occurred_on) else {
            return Err(ApiError::invalid("amount", "is required").into());
        };
        let added =
            store::add_contribution(&mut tx, &goal, amount, occurred_on).await.map_err(ApiError::from)?;
        self.finish(tx, goal, today).await?;
        Ok(Response::new(pb::Contribution {
            id: added.id.to_string(),
            amount: Some(money::to_proto(added.amount, currency.code())),
            occurred_on: added.occurred_on.to_string(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_contributions(
        &self,
        request: Request<pb::ListContributionsRequest>,
    ) -> Result<Response<pb::ListContributionsResponse>, Status> {
        let user = caller(&request)?.user_id;
        let body = request.into_inner();
        let page = page(body.page.as_ref())?;
        let invalid = || ApiError::invalid("cursor", "is not a cursor this API returned");
        let after = match page.after.as_deref() {
            None => None,
            Some([day, id]) => Some((
                NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| invalid())?,
                Uuid::parse_str(id).map_err(|_| invalid())?,
            )),
            Some(_) => return Err(invalid().into()),
        };
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let goal = owned(&mut conn, user, &body.goal_id, false).await?;
        let rows =
            store::contributions(&mut conn, &goal, after, page.limit + 1).await.map_err(ApiError::from)?;
        let (rows, next_cursor) =
            pagination::finish(rows, page.limit, |c| vec![c.occurred_on.to_string(), c.id.to_string()]);
        let code = goal.currency.trim();
        let data = rows
            .into_iter()
            .map(|c| pb::Contribution {
                id: c.id.to_string(),
                amount: Some(money::to_proto(c.amount, code)),
                occurred_on: c.occurred_on.to_string(),
            })
            .collect();
        Ok(Response::new(pb::ListContributionsResponse { data, next_cursor }))
    }
}
