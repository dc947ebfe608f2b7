//! Transactions and the daily totals they add up to, kept exact under updates, deletes,
//! duplicates and reordering.

use budgetsmart_common::currency::Currency;
use budgetsmart_common::events::HandlerError;
use budgetsmart_common::money;
use budgetsmart_proto::events::v1 as ev;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{malformed, uuid};
use crate::merchant;

const EVENT: &str = "transaction event";

/// What an event says happened to the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Created or updated: the event carries the new state.
    Upsert,
    /// Deleted: the event carries the last state.
    Delete,
}

/// A transaction's state as analytics keeps it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Stored {
    user_id: Uuid,
    version: i64,
    deleted: bool,
    occurred_on: NaiveDate,
    amount: Decimal,
    currency: String,
    kind: String,
    category_id: Option<Uuid>,
}

/// A transaction event's parts: id, state, description, category name and source, and the
/// amount as paid when it is counted converted.
type Parsed = (Uuid, Stored, String, Option<String>, Option<String>, Option<(Decimal, String)>);

impl Stored {
    /// The transaction id, its state, and the description, category name and category source
    /// (kept, not compared).
    fn parse(data: ev::TransactionData, deleted: bool) -> Result<Parsed, HandlerError> {
        let id = uuid(EVENT, "transaction_id", &data.transaction_id)?;
        let user_id = uuid(EVENT, "user_id", &data.user_id)?;
        let occurred_on = NaiveDate::parse_from_str(&data.occurred_on, "%Y-%m-%d")
            .map_err(|_| malformed(EVENT, "occurred_on is not a date"))?;
        let (amount, code) = data
            .amount
            .as_ref()
            .ok_or_else(|| malformed(EVENT, "amount is missing"))
            .and_then(|m| money::from_proto(m).map_err(|e| malformed(EVENT, format!("amount {e}"))))?;
        let currency = Currency::parse(&code).ok_or_else(|| malformed(EVENT, "currency is unknown"))?;
        let amount = money::validate_positive(amount, currency)
            .map_err(|e| malformed(EVENT, format!("amount {e}")))?;
        // Counted in the home currency once the rate is known; until then (or for an amount
        // too small to show in the home currency) in its own, which no home total includes.
        let home = match data.home_amount.as_ref().map(money::from_proto) {
            Some(Ok((home_amount, code))) if home_amount > Decimal::ZERO => Currency::parse(&code)
                .filter(|home| *home != currency)
                .and_then(|home| money::validate_positive(home_amount, home).ok().map(|a| (a, home))),
            Some(Err(e)) => return Err(malformed(EVENT, format!("home_amount {e}"))),
            _ => None,
        };
        let (amount, currency, original) = match home {
            Some((home_amount, home)) => (home_amount, home, Some((amount, currency.code().to_owned()))),
            None => (amount, currency, None),
        };
        if data.r#type != "debit" && data.r#type != "credit" {
            return Err(malformed(EVENT, "type is neither debit nor credit"));
        }
        let category_id = match data.category_id.as_deref() {
            None | Some("") => None,
            Some(c) => Some(uuid(EVENT, "category_id", c)?),
        };
        let stored = Stored {
            user_id,
            version: data.version,
            deleted,
            occurred_on,
            amount,
            currency: currency.code().to_owned(),
            kind: data.r#type,
            category_id,
        };
        // Who chose the category: only a person's choice or their file's trains the models.
        let source =
            Some(data.category_source.trim().to_owned()).filter(|s| !s.is_empty() && category_id.is_some());
        Ok((id, stored, data.description, data.category_name, source, original))
    }

    /// Whether `self` (incoming) supersedes `held`. At equal versions a delete wins, so an
    /// update delivered after the delete of the same version cannot resurrect the row.
    fn supersedes(&self, held: &Stored) -> bool {
        self.version > held.version || (self.version == held.version && self.deleted && !held.deleted)
    }
}

/// Applies one transaction event.
pub async fn apply(
    conn: &mut PgConnection,
    data: Option<ev::TransactionData>,
    change: Change,
) -> Result<(), HandlerError> {
    let data = data.ok_or_else(|| malformed(EVENT, "transaction is missing"))?;
    let (id, incoming, description, category_name, category_source, original) =
        Stored::parse(data, change == Change::Delete)?;
    // Serialises concurrent deliveries about one transaction, including its first insert,
    // which a row lock cannot cover; and drops events about users who have left. The read
    // below is a statement of its own, so its snapshot is taken after the lock is held.
    let user_left: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM deleted_users WHERE user_id = $2) \
         FROM (SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))) AS locked",
    )
    .bind(id)
    .bind(incoming.user_id)
    .fetch_one(&mut *conn)
    .await?;
    if user_left {
        return Ok(());
    }
    let held: Option<Stored> = sqlx::query_as(
        "SELECT user_id, version, deleted, occurred_on, amount, currency, kind, category_id \
         FROM transactions WHERE transaction_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(held) = &held {
        if held.user_id != incoming.user_id {
            return Err(malformed(EVENT, "transaction id belongs to another user"));
        }
        if !incoming.supersedes(held) {
            return Ok(());
        }
        if !held.deleted {
            add_to_totals(conn, held, -1).await?;
        }
    }
    // One round trip for the three writes of the common case: the row, its day's total and
    // the retraining request (a bulk import is thousands of these).
    let (spent, income, debits, credits) = contribution(&incoming, 1);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH stored AS (INSERT INTO transactions (transaction_id, user_id, version, deleted, occurred_on, \
         description, merchant, amount, currency, kind, category_id, category_name, category_source, \
         original_amount, original_currency) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $17, $18, $19, $20) \
         ON CONFLICT (transaction_id) DO UPDATE SET version = EXCLUDED.version, deleted = EXCLUDED.deleted, \
         occurred_on = EXCLUDED.occurred_on, description = EXCLUDED.description, merchant = EXCLUDED.merchant, \
         amount = EXCLUDED.amount, currency = EXCLUDED.currency, kind = EXCLUDED.kind, \
         category_id = EXCLUDED.category_id, category_name = EXCLUDED.category_name, \
         category_source = EXCLUDED.category_source, original_amount = EXCLUDED.original_amount, \
         original_currency = EXCLUDED.original_currency, applied_at = now()), \
         requested AS (INSERT INTO training_requests (user_id) VALUES ($2)) \
         INSERT INTO daily_totals (user_id, currency, day, category_id, spent, income, debit_count, credit_count) \
         SELECT $2, $9, $5, $12, $13, $14, $15, $16 WHERE NOT $4 {TOTALS_CONFLICT}"
    )))
    .bind(id)
    .bind(incoming.user_id)
    .bind(incoming.version)
    .bind(incoming.deleted)
    .bind(incoming.occurred_on)
    .bind(&description)
    .bind(merchant::normalise(&description))
    .bind(incoming.amount)
    .bind(&incoming.currency)
    .bind(&incoming.kind)
    .bind(incoming.category_id)
    .bind(incoming.category_id.unwrap_or(Uuid::nil()))
    .bind(spent)
    .bind(income)
    .bind(debits)
    .bind(credits)
    .bind(category_name.filter(|n| !n.trim().is_empty()))
    .bind(category_source)
    .bind(original.as_ref().map(|o| o.0))
    .bind(original.map(|o| o.1))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// How the daily totals absorb a contribution.
const TOTALS_CONFLICT: &str = "ON CONFLICT (user_id, currency, day, category_id) DO UPDATE SET \
     spent = daily_totals.spent + EXCLUDED.spent, income = daily_totals.income + EXCLUDED.income, \
     debit_count = daily_totals.debit_count + EXCLUDED.debit_count, \
     credit_count = daily_totals.credit_count + EXCLUDED.credit_count";

/// A transaction's contribution to its day: spent, income, debit count, credit count, times `sign`.
fn contribution(t: &Stored, sign: i32) -> (Decimal, Decimal, i32, i32) {
    let amount = t.amount * Decimal::from(sign);
    if t.kind == "debit" { (amount, Decimal::ZERO, sign, 0) } else { (Decimal::ZERO, amount, 0, sign) }
}

/// Removes (`sign` -1) a transaction's contribution from its day's totals.
async fn add_to_totals(conn: &mut PgConnection, t: &Stored, sign: i32) -> Result<(), sqlx::Error> {
    let (spent, income, debits, credits) = contribution(t, sign);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO daily_totals (user_id, currency, day, category_id, spent, income, debit_count, credit_count) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) {TOTALS_CONFLICT}"
    )))
    .bind(t.user_id)
    .bind(&t.currency)
    .bind(t.occurred_on)
    .bind(t.category_id.unwrap_or(Uuid::nil()))
    .bind(spent)
    .bind(income)
    .bind(debits)
    .bind(credits)
    .execute(conn)
    .await?;
    Ok(())
}
