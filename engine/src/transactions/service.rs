//! The Transactions gRPC service: create, read, update, delete, filtered lists and CSV
//! import, each with the events and threshold checks it causes.

use budgetsmart_common::currency::Currency;
use budgetsmart_common::events;
use budgetsmart_common::grpc::{caller, event_context};
use budgetsmart_common::money;
use budgetsmart_proto::engine::v1 as pb;
use budgetsmart_proto::events::v1 as ev;
use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::budgets::thresholds;
use crate::categories::store::path_id;
use crate::convert::timestamp;
use crate::error::{AppError, AppResult};
use crate::idempotency::{Claim, IdempotentRequest, Scope};
use crate::rates::conversion::RateSource;
use crate::rates::store::{self as rates, Bank};
use crate::state::AppState;
use crate::transactions::store::{
    COLUMNS, CategorySource, NewTransaction, TransactionRow, check_type, fingerprint, insert, insert_checked,
};
use crate::validation::{MAX_DESCRIPTION, MAX_NOTES, Violations};
use budgetsmart_common::pagination::{self, Page};

/// Longest free-text search.
const MAX_QUERY: usize = 200;

async fn find(conn: &mut PgConnection, user_id: Uuid, id: Uuid, lock: bool) -> AppResult<TransactionRow> {
    let sql = format!(
        "SELECT {COLUMNS} FROM transactions WHERE user_id = $1 AND id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("transaction"))
}

/// An id that may be absent; given, it must be one (`""` is not "none": that is `null`).
fn optional_uuid(violations: &mut Violations, field: &str, value: Option<&str>) -> Option<Uuid> {
    value.and_then(|v| violations.uuid(field, v))
}

fn validate_new(body: &pb::CreateTransactionRequest) -> AppResult<NewTransaction> {
    let mut violations = Violations::default();
    let occurred_on = violations.date("occurred_on", &body.occurred_on);
    let description = violations.text("description", &body.description, MAX_DESCRIPTION);
    let currency = match &body.amount {
        Some(amount) => violations.currency("currency", &amount.currency_code),
        None => None,
    };
    let amount = violations.positive_amount("amount", body.amount.as_ref(), currency);
    let kind = check_type(&mut violations, &body.r#type);
    let category_id = optional_uuid(&mut violations, "category_id", body.category_id.as_deref());
    let notes = violations.optional_text("notes", body.notes.as_deref(), MAX_NOTES);
    let bank = Bank::from_proto(&mut violations, body.bank_conversion.as_ref());
    let account_id = optional_uuid(&mut violations, "account_id", body.account_id.as_deref());
    violations.finish()?;
    match (occurred_on, amount, currency) {
        (Some(occurred_on), Some(amount), Some(currency)) => Ok(NewTransaction {
            occurred_on,
            description,
            amount,
            currency,
            kind,
            category_id,
            category_source: category_id.map(|_| CategorySource::User),
            notes,
            source: "api",
            bank,
            account_id,
            import_id: None,
            bank_id: None,
        }),
        _ => Err(AppError::Internal(anyhow::anyhow!("validated fields missing"))),
    }
}

/// Escapes `%`, `_` and `\` so user text matches literally inside ILIKE.
fn like_pattern(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 2);
    escaped.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

/// Implements `budgetsmart.engine.v1.Transactions`.
pub struct TransactionsService {
    state: AppState,
}

impl TransactionsService {
    /// A service over `state`.
    pub fn new(state: AppState) -> Self {
        TransactionsService { state }
    }

    /// The common create, a transaction in the owner's home currency, in four statements:
    /// BEGIN, the checked insert (row, event, budget lock), the threshold check, COMMIT. The
    /// categories offered to the model and the home currency come from the owner cache;
    /// `None` means this create must take the general path (see `owner`).
    async fn create_from_cached_owner(
        &self,
        request: &Request<pb::CreateTransactionRequest>,
        user_id: Uuid,
        ctx: &events::EventContext,
        idempotent: Option<&IdempotentRequest>,
        new: &NewTransaction,
    ) -> AppResult<Option<pb::Transaction>> {
        let Some(owner) = self.state.owners.get(&self.state.pool, user_id).await? else { return Ok(None) };
        let known_category = new.category_id.is_none_or(|id| owner.category(id).is_some());
        if new.currency != owner.home || !known_category {
            return Ok(None);
        }
        let mut new = new.clone();
        // Before the transaction opens: the remote call must not hold a connection and locks.
        self.state.categorizer.fill(&owner.categories, request.metadata(), &mut [&mut new]).await;
        let mut write = match self.state.idempotent_write(idempotent).await? {
            Claim::Replay(answer) => return Ok(Some(answer)),
            Claim::Write(write) => write,
        };
        let Some((row, budget)) = insert_checked(write.tx(), ctx, user_id, &new, &owner).await? else {
            // Dropping the write rolls back the claim; the caller writes on fresh reads.
            tracing::debug!(%user_id, "cached owner was stale");
            self.state.owners.forget(user_id);
            return Ok(None);
        };
        if let Some(budget) = budget {
            thresholds::evaluate(write.tx(), ctx, &budget, Some(&row.event_data())).await?;
        }
        let answer = pb::Transaction::from(row);
        write.commit(&answer).await?;
        Ok(Some(answer))
    }
}

#[tonic::async_trait]
impl pb::transactions_server::Transactions for TransactionsService {
    #[tracing::instrument(skip_all)]
    async fn list_transactions(
        &self,
        request: Request<pb::ListTransactionsRequest>,
    ) -> Result<Response<pb::ListTransactionsResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let body = request.into_inner();
        let page = Page::from_request(body.page.as_ref()).map_err(AppError::from)?;
        let mut violations = Violations::default();
        let from = body.from.as_deref().map(|d| violations.date("from", d)).unwrap_or(None);
        let to = body.to.as_deref().map(|d| violations.date("to", d)).unwrap_or(None);
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            violations.add("to", "must not be before from");
        }
        let category_id = optional_uuid(&mut violations, "category_id", body.category_id.as_deref());
        let kind = body.r#type.as_deref().map(|t| check_type(&mut violations, t));
        let q = violations.optional_text("q", body.q.as_deref(), MAX_QUERY).map(|q| like_pattern(&q));
        let mut amount_bound = |field: &str, value: Option<&str>| {
            let value = value?;
            match money::parse_decimal(value.trim()) {
                Ok(v) if v >= Decimal::ZERO => Some(v),
                _ => {
                    violations.add(field, "must be a non-negative decimal such as \"10.00\"");
                    None
                }
            }
        };
        let min_amount = amount_bound("min_amount", body.min_amount.as_deref());
        let max_amount = amount_bound("max_amount", body.max_amount.as_deref());
        if let (Some(min), Some(max)) = (min_amount, max_amount)
            && min > max
        {
            violations.add("max_amount", "must not be below min_amount");
        }
        let (after_date, after_id) = match page.after.as_deref() {
            Some([date, id]) => {
                let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok();
                let id = Uuid::parse_str(id).ok();
                if date.is_none() || id.is_none() {
                    violations.add("cursor", "is not a cursor this API returned");
                }
                (date, id)
            }
            Some(_) => {
                violations.add("cursor", "is not a cursor this API returned");
                (None, None)
            }
            None => (None, None),
        };
        violations.finish()?;

        let sql = format!(
            "SELECT {COLUMNS} FROM transactions WHERE user_id = $1 \
             AND ($2::date IS NULL OR occurred_on >= $2) AND ($3::date IS NULL OR occurred_on <= $3) \
             AND ($4::uuid IS NULL OR category_id = $4) AND ($5::text IS NULL OR type = $5) \
             AND ($6::text IS NULL OR description ILIKE $6) \
             AND ($7::numeric IS NULL OR amount >= $7) AND ($8::numeric IS NULL OR amount <= $8) \
             AND ($9::date IS NULL OR (occurred_on, id) < ($9, $10)) \
             ORDER BY occurred_on DESC, id DESC LIMIT $11"
        );
        let rows: Vec<TransactionRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(from)
            .bind(to)
            .bind(category_id)
            .bind(kind)
            .bind(q)
            .bind(min_amount)
            .bind(max_amount)
            .bind(after_date)
            .bind(after_id)
            .bind(page.limit + 1)
            .fetch_all(&self.state.pool)
            .await
            .map_err(AppError::from)?;
        let (rows, next_cursor) =
            pagination::finish(rows, page.limit, |r| vec![r.occurred_on.to_string(), r.id.to_string()]);
        Ok(Response::new(pb::ListTransactionsResponse {
            transactions: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_transaction(
        &self,
        request: Request<pb::CreateTransactionRequest>,
    ) -> Result<Response<pb::Transaction>, Status> {
        let user_id = caller(&request)?.user_id;
        let ctx = event_context(&request, Some(user_id));
        let idempotent =
            self.state.idempotent_request(&request, Scope::User(user_id), "CreateTransaction")?;
        let new = validate_new(request.get_ref())?;
        if let Some(answer) =
            self.create_from_cached_owner(&request, user_id, &ctx, idempotent.as_ref(), &new).await?
        {
            return Ok(Response::new(answer));
        }
        // The owner was not cached in a form the checked write takes (another currency, a
        // category this replica has not seen), or the write found the entry stale: read
        // everything fresh.
        let mut new = new;
        self.state
            .categorizer
            .fill_fresh(&self.state.pool, user_id, request.metadata(), &mut [&mut new])
            .await;
        let mut write = match self.state.idempotent_write(idempotent.as_ref()).await? {
            Claim::Replay(answer) => return Ok(Response::new(answer)),
            Claim::Write(write) => write,
        };
        let conversion = rates::express_for_user(
            write.tx(),
            user_id,
            new.amount,
            new.currency,
            new.occurred_on,
            new.bank.as_ref(),
        )
        .await?;
        let row = insert(write.tx(), &ctx, user_id, &new, &conversion).await?;
        let touched = row.spending_keys();
        thresholds::after_change(write.tx(), &ctx, user_id, touched, Some(&row.event_data())).await?;
        let answer = pb::Transaction::from(row);
        write.commit(&answer).await?;
        Ok(Response::new(answer))
    }

    #[tracing::instrument(skip_all)]
    async fn get_transaction(
        &self,
        request: Request<pb::GetTransactionRequest>,
    ) -> Result<Response<pb::Transaction>, Status> {
        let user_id = caller(&request)?.user_id;
        let id = path_id(&request.get_ref().id, "transaction")?;
        let mut conn = self.state.pool.acquire().await.map_err(AppError::from)?;
        Ok(Response::new(find(&mut conn, user_id, id, false).await?.into()))
    }

    #[tracing::instrument(skip_all)]
    async fn update_transaction(
        &self,
        request: Request<pb::UpdateTransactionRequest>,
    ) -> Result<Response<pb::Transaction>, Status> {
        let user_id = caller(&request)?.user_id;
        let ctx = event_context(&request, Some(user_id));
        let body = request.into_inner();
        let id = path_id(&body.id, "transaction")?;
        let mut tx = self.state.pool.begin().await.map_err(AppError::from)?;
        let before = find(&mut tx, user_id, id, true).await?;

        let mut violations = Violations::default();
        let occurred_on = body.occurred_on.as_deref().and_then(|d| violations.date("occurred_on", d));
        let description =
            body.description.as_deref().map(|d| violations.text("description", d, MAX_DESCRIPTION));
        let kind = body.r#type.as_deref().map(|t| check_type(&mut violations, t));
        // An amount with no currency code keeps the transaction's currency.
        let currency = match &body.amount {
            Some(amount) if !amount.currency_code.trim().is_empty() => {
                violations.currency("currency", &amount.currency_code)
            }
            _ => Currency::parse(before.currency()),
        };
        let amount = match &body.amount {
            Some(amount) => violations.positive_amount("amount", Some(amount), currency),
            None => None,
        };
        let category_id = optional_uuid(&mut violations, "category_id", body.category_id.as_deref());
        let notes = violations.optional_text("notes", body.notes.as_deref(), MAX_NOTES);
        let bank = Bank::from_proto(&mut violations, body.bank_conversion.as_ref());
        if bank.is_some() && body.clear_bank_conversion {
            violations.add("rate", "cannot be set and cleared at once");
        }
        let account_id = optional_uuid(&mut violations, "account_id", body.account_id.as_deref());
        if account_id.is_some() && body.clear_account {
            violations.add("account_id", "cannot be set and cleared at once");
        }
        violations.finish()?;

        let occurred_on = occurred_on.unwrap_or(before.occurred_on);
        let description = description.unwrap_or_else(|| before.description.clone());
        let kind = kind.unwrap_or_else(|| before.kind.clone());
        let amount = amount.unwrap_or(before.amount);
        let currency = currency
            .or_else(|| Currency::parse(before.currency()))
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("stored currency is unknown")))?;
        // The amount in the home currency follows the change: a bank's conversion given now
        // wins; one given before stays while the currency does, scaled to a new amount; else
        // the reference rate of the (new) day.
        let home = rates::home_currency(&mut tx, user_id).await?;
        let same_pair = currency.code() == before.currency() && home.code() == before.home_currency();
        let kept_bank = match (before.rate_source.as_deref(), before.rate) {
            (Some("bank"), Some(rate)) if same_pair && !body.clear_bank_conversion => Some(Bank::Rate(rate)),
            _ => None,
        };
        let conversion =
            rates::express(&mut tx, amount, currency, occurred_on, home, bank.or(kept_bank).as_ref()).await?;
        let currency = currency.code().to_owned();
        // A category the person sets, or clears, is theirs from now on; a model's guess they
        // change is feedback, counted by whether they kept it.
        let chosen = body.clear_category || category_id.is_some();
        let category_id = if body.clear_category { None } else { category_id.or(before.category_id) };
        let notes = if body.clear_notes { None } else { notes.or_else(|| before.notes.clone()) };
        let account_id = if body.clear_account { None } else { account_id.or(before.account_id) };
        let (source, confidence) = match (chosen, category_id) {
            (_, None) => (None, None),
            (true, Some(_)) => (Some("user"), None),
            (false, Some(_)) => (before.category_source.as_deref(), before.category_confidence),
        };
        if chosen && before.category_source.as_deref() == Some("model") {
            let outcome = if category_id == before.category_id { "confirmed" } else { "changed" };
            metrics::counter!("engine_autofilled_category_feedback_total", "outcome" => outcome).increment(1);
        }

        let sql = format!(
            "UPDATE transactions SET occurred_on = $3, description = $4, amount = $5, currency = $6, type = $7, \
             category_id = $8, notes = $9, fingerprint = $10, category_source = $11, category_confidence = $12, \
             home_currency = $13, home_amount = $14, rate = $15, rate_date = $16, rate_source = $17, \
             account_id = $18, version = version + 1, updated_at = now() \
             WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"
        );
        let after: TransactionRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(id)
            .bind(occurred_on)
            .bind(&description)
            .bind(amount)
            .bind(&currency)
            .bind(&kind)
            .bind(category_id)
            .bind(&notes)
            .bind(fingerprint(occurred_on, amount, &currency, &kind, &description))
            .bind(source)
            .bind(confidence)
            .bind(conversion.home_currency.code())
            .bind(conversion.home_amount)
            .bind(conversion.rate)
            .bind(conversion.rate_date)
            .bind(conversion.source.map(RateSource::as_str))
            .bind(account_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(AppError::from)?;
        let event = ev::TransactionUpdated {
            transaction: Some(after.event_data()),
            previous: Some(before.event_data()),
            occurred_at: Some(timestamp(Utc::now())),
        };
        events::enqueue(&mut tx, &ctx, &event).await.map_err(AppError::from)?;
        let touched = before.spending_keys().into_iter().chain(after.spending_keys()).collect();
        thresholds::after_change(&mut tx, &ctx, user_id, touched, Some(&after.event_data())).await?;
        self.state.commit(tx).await?;
        Ok(Response::new(after.into()))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_transaction(
        &self,
        request: Request<pb::DeleteTransactionRequest>,
    ) -> Result<Response<pb::DeleteTransactionResponse>, Status> {
        let user_id = caller(&request)?.user_id;
        let ctx = event_context(&request, Some(user_id));
        let id = path_id(&request.get_ref().id, "transaction")?;
        let mut tx = self.state.pool.begin().await.map_err(AppError::from)?;
        let sql = format!("DELETE FROM transactions WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}");
        let row: TransactionRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(AppError::from)?
            .ok_or(AppError::NotFound("transaction"))?;
        let event = ev::TransactionDeleted {
            transaction: Some(row.event_data()),
            occurred_at: Some(timestamp(Utc::now())),
        };
        events::enqueue(&mut tx, &ctx, &event).await.map_err(AppError::from)?;
        let touched = row.spending_keys();
        thresholds::after_change(&mut tx, &ctx, user_id, touched, None).await?;
        self.state.commit(tx).await?;
        Ok(Response::new(pb::DeleteTransactionResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn import_transactions(
        &self,
        request: Request<pb::ImportTransactionsRequest>,
    ) -> Result<Response<pb::ImportTransactionsResponse>, Status> {
        crate::imports::service::import(&self.state, request).await
    }
}
