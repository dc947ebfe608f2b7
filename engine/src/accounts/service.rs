//! `budgetsmart.engine.v1.Accounts`: CRUD over `accounts`. Deleting an account keeps its
//! transactions (they lose the link): money that moved stays counted.

use budgetsmart_common::grpc::caller;
use budgetsmart_proto::engine::v1 as pb;
use tonic::{Request, Response, Status};

use crate::accounts::store::{self as accounts, AccountRow, COLUMNS, NewAccount, check_type};
use crate::categories::store::path_id;
use crate::error::AppError;
use crate::idempotency::{Claim, Scope};
use crate::state::AppState;
use crate::validation::{MAX_NAME, Violations};

/// Implements `budgetsmart.engine.v1.Accounts`.
pub struct AccountsService {
    state: AppState,
}

impl AccountsService {
    pub fn new(state: AppState) -> Self {
        AccountsService { state }
    }
}

#[tonic::async_trait]
impl pb::accounts_server::Accounts for AccountsService {
    #[tracing::instrument(skip_all)]
    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let sql = format!("SELECT {COLUMNS} FROM accounts WHERE user_id = $1 ORDER BY lower(name), id");
        let rows: Vec<AccountRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.state.pool)
            .await
            .map_err(AppError::from)?;
        Ok(Response::new(pb::ListAccountsResponse { accounts: rows.into_iter().map(Into::into).collect() }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_account(
        &self,
        request: Request<pb::CreateAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let user_id = caller(&request)?.user_id;
        let idempotent = self.state.idempotent_request(&request, Scope::User(user_id), "CreateAccount")?;
        let body = request.into_inner();
        let mut violations = Violations::default();
        let name = violations.text("name", &body.name, MAX_NAME);
        let currency = violations.currency("currency", &body.currency);
        let kind = check_type(&mut violations, &body.r#type);
        let institution = violations.optional_text("institution", body.institution.as_deref(), MAX_NAME);
        violations.finish()?;
        let currency = currency.ok_or_else(|| AppError::field("currency", "is required"))?;
        let mut write = match self.state.idempotent_write(idempotent.as_ref()).await? {
            Claim::Replay(answer) => return Ok(Response::new(answer)),
            Claim::Write(write) => write,
        };
        let new = NewAccount {
            name: &name,
            institution: institution.as_deref(),
            currency: currency.code(),
            kind: &kind,
            number: None,
        };
        let row = accounts::insert(write.tx(), user_id, &new).await?;
        let answer = pb::Account::from(row);
        write.commit(&answer).await?;
        Ok(Response::new(answer))
    }

    #[tracing::instrument(skip_all)]
    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let user_id = caller(&request)?.user_id;
        let id = path_id(&request.get_ref().id, "account")?;
        let mut conn = self.state.pool.acquire().await.map_err(AppError::from)?;
        Ok(Response::new(accounts::find(&mut conn, user_id, id).await?.into()))
    }

    #[tracing::instrument(skip_all)]
    async fn update_account(
        &self,
        request: Request<pb::UpdateAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let user_id = caller(&request)?.user_id;
        let body = request.into_inner();
        let id = path_id(&body.id, "account")?;
        let mut violations = Violations::default();
        let name = body.name.as_deref().map(|n| violations.text("name", n, MAX_NAME));
        let currency = body.currency.as_deref().and_then(|c| violations.currency("currency", c));
        let kind = body.r#type.as_deref().map(|t| check_type(&mut violations, t));
        let institution = body.institution.as_deref().map(|i| {
            if i.trim().is_empty() {
                None
            } else {
                violations.optional_text("institution", Some(i), MAX_NAME)
            }
        });
        violations.finish()?;
        let mut tx = self.state.pool.begin().await.map_err(AppError::from)?;
        let before = accounts::find(&mut tx, user_id, id).await?;
        let sql = format!(
            "UPDATE accounts SET name = $3, currency = $4, type = $5, institution = $6, version = version + 1, \
             updated_at = now() WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"
        );
        let row: AccountRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(id)
            .bind(name.unwrap_or_else(|| before.name.clone()))
            .bind(currency.map(|c| c.code().to_owned()).unwrap_or_else(|| before.currency().to_owned()))
            .bind(kind.unwrap_or_else(|| before.kind.clone()))
            .bind(institution.unwrap_or_else(|| before.institution.clone()))
            .fetch_one(&mut *tx)
            .await
            .map_err(AppError::from)?;
        self.state.commit(tx).await?;
        Ok(Response::new(row.into()))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_account(
        &self,
        request: Request<pb::DeleteAccountRequest>,
    ) -> Result<Response<pb::DeleteAccountResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let id = path_id(&request.get_ref().id, "account")?;
        let deleted = sqlx::query("DELETE FROM accounts WHERE user_id = $1 AND id = $2")
            .bind(user_id)
            .bind(id)
            .execute(&self.state.pool)
            .await
            .map_err(AppError::from)?;
        if deleted.rows_affected() == 0 {
            return Err(AppError::NotFound("account").into());
        }
        Ok(Response::new(pb::DeleteAccountResponse {}))
    }
}
