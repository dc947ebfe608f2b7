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
         {ROW_CONFLICT}), \
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

/// How a stored row takes a newer state.
const ROW_CONFLICT: &str = "ON CONFLICT (transaction_id) DO UPDATE SET version = EXCLUDED.version, \
     deleted = EXCLUDED.deleted, occurred_on = EXCLUDED.occurred_on, description = EXCLUDED.description, \
     merchant = EXCLUDED.merchant, amount = EXCLUDED.amount, currency = EXCLUDED.currency, kind = EXCLUDED.kind, \
     category_id = EXCLUDED.category_id, category_name = EXCLUDED.category_name, \
     category_source = EXCLUDED.category_source, original_amount = EXCLUDED.original_amount, \
     original_currency = EXCLUDED.original_currency, applied_at = now()";

/// How the daily totals absorb a contribution.
const TOTALS_CONFLICT: &str = "ON CONFLICT (user_id, currency, day, category_id) DO UPDATE SET \
     spent = daily_totals.spent + EXCLUDED.spent, income = daily_totals.income + EXCLUDED.income, \
     debit_count = daily_totals.debit_count + EXCLUDED.debit_count, \
     credit_count = daily_totals.credit_count + EXCLUDED.credit_count";

/// A transaction's contribution to its day: spent, income, debit count, credit count, times `sign`.
fn contribution(t: &Stored, sign: i32) -> Contribution {
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

/// Applies a run of transaction events in three statements whatever its length (issue 25):
/// the per-transaction locks with the tombstone check, one read of what is held, and one
/// write of every row, the daily totals' net change and the retraining requests. The same
/// rules as [`apply`], event by event in the given order, decided in memory between the read
/// and the write; a malformed event fails the run, which the consumer then applies one event
/// at a time (dead-lettering that one).
pub async fn apply_many(
    conn: &mut PgConnection,
    items: Vec<(Option<ev::TransactionData>, Change)>,
) -> Result<(), HandlerError> {
    struct Row {
        stored: Stored,
        description: String,
        category_name: Option<String>,
        category_source: Option<String>,
        original: Option<(Decimal, String)>,
    }
    let mut parsed = Vec::with_capacity(items.len());
    for (data, change) in items {
        let data = data.ok_or_else(|| malformed(EVENT, "transaction is missing"))?;
        parsed.push(Stored::parse(data, change == Change::Delete)?);
    }
    let ids: Vec<Uuid> = parsed.iter().map(|p| p.0).collect();
    let users: Vec<Uuid> = parsed.iter().map(|p| p.1.user_id).collect();
    // Locks in id order, so two runs over the same transactions cannot deadlock each other.
    let left: Vec<Uuid> = sqlx::query_scalar(
        "SELECT ARRAY(SELECT user_id FROM deleted_users WHERE user_id = ANY($2)) \
         FROM (SELECT count(pg_advisory_xact_lock(hashtextextended(id::text, 0))) \
               FROM (SELECT DISTINCT id FROM unnest($1::uuid[]) AS t (id) ORDER BY id) ordered) AS locked",
    )
    .bind(&ids)
    .bind(&users)
    .fetch_one(&mut *conn)
    .await?;
    // A statement of its own, so its snapshot is taken after the locks are held.
    let held: Vec<(Uuid, Stored)> = sqlx::query_as::<_, HeldRow>(
        "SELECT transaction_id, user_id, version, deleted, occurred_on, amount, currency, kind, category_id \
         FROM transactions WHERE transaction_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.transaction_id, r.stored))
    .collect();
    let mut current: std::collections::HashMap<Uuid, Stored> = held.into_iter().collect();
    let mut rows: std::collections::HashMap<Uuid, Row> = std::collections::HashMap::new();
    let mut totals: std::collections::BTreeMap<TotalsKey, Contribution> = std::collections::BTreeMap::new();
    let mut add = |t: &Stored, sign: i32| {
        let (spent, income, debits, credits) = contribution(t, sign);
        let key = (t.user_id, t.currency.clone(), t.occurred_on, t.category_id.unwrap_or(Uuid::nil()));
        let entry = totals.entry(key).or_default();
        entry.0 += spent;
        entry.1 += income;
        entry.2 += debits;
        entry.3 += credits;
    };
    let mut requested: Vec<Uuid> = Vec::new();
    for (id, incoming, description, category_name, category_source, original) in parsed {
        if left.contains(&incoming.user_id) {
            continue;
        }
        if let Some(held) = current.get(&id) {
            if held.user_id != incoming.user_id {
                return Err(malformed(EVENT, "transaction id belongs to another user"));
            }
            if !incoming.supersedes(held) {
                continue;
            }
            if !held.deleted {
                add(held, -1);
            }
        }
        if !incoming.deleted {
            add(&incoming, 1);
        }
        if !requested.contains(&incoming.user_id) {
            requested.push(incoming.user_id);
        }
        current.insert(id, incoming.clone());
        rows.insert(id, Row { stored: incoming, description, category_name, category_source, original });
    }
    if rows.is_empty() {
        return Ok(());
    }
    // The net change per day and category; a key whose changes cancel out is left alone.
    totals.retain(|_, (spent, income, debits, credits)| {
        !spent.is_zero() || !income.is_zero() || *debits != 0 || *credits != 0
    });
    let rows: Vec<(Uuid, Row)> = rows.into_iter().collect();
    let column = |f: &dyn Fn(&Row) -> String| rows.iter().map(|(_, r)| f(r)).collect::<Vec<String>>();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH stored AS (INSERT INTO transactions (transaction_id, user_id, version, deleted, occurred_on, \
         description, merchant, amount, currency, kind, category_id, category_name, category_source, \
         original_amount, original_currency) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::bool[], $5::date[], $6::text[], $7::text[], \
           $8::numeric[], $9::text[], $10::text[], $11::uuid[], $12::text[], $13::text[], $14::numeric[], $15::text[]) \
         {ROW_CONFLICT}), \
         requested AS (INSERT INTO training_requests (user_id) SELECT unnest($16::uuid[])) \
         INSERT INTO daily_totals (user_id, currency, day, category_id, spent, income, debit_count, credit_count) \
         SELECT * FROM unnest($17::uuid[], $18::text[], $19::date[], $20::uuid[], $21::numeric[], $22::numeric[], \
           $23::int4[], $24::int4[]) {TOTALS_CONFLICT}"
    )))
    .bind(rows.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.stored.user_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.stored.version).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.stored.deleted).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.stored.occurred_on).collect::<Vec<_>>())
    .bind(column(&|r| r.description.clone()))
    .bind(column(&|r| merchant::normalise(&r.description)))
    .bind(rows.iter().map(|(_, r)| r.stored.amount).collect::<Vec<_>>())
    .bind(column(&|r| r.stored.currency.clone()))
    .bind(column(&|r| r.stored.kind.clone()))
    .bind(rows.iter().map(|(_, r)| r.stored.category_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.category_name.clone().filter(|n| !n.trim().is_empty())).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.category_source.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.original.as_ref().map(|o| o.0)).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.original.as_ref().map(|o| o.1.clone())).collect::<Vec<_>>())
    .bind(&requested)
    .bind(totals.keys().map(|k| k.0).collect::<Vec<_>>())
    .bind(totals.keys().map(|k| k.1.clone()).collect::<Vec<_>>())
    .bind(totals.keys().map(|k| k.2).collect::<Vec<_>>())
    .bind(totals.keys().map(|k| k.3).collect::<Vec<_>>())
    .bind(totals.values().map(|v| v.0).collect::<Vec<_>>())
    .bind(totals.values().map(|v| v.1).collect::<Vec<_>>())
    .bind(totals.values().map(|v| v.2).collect::<Vec<_>>())
    .bind(totals.values().map(|v| v.3).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A daily total's key: user, currency, day, category (the nil UUID for none).
type TotalsKey = (Uuid, String, NaiveDate, Uuid);
/// A change to a daily total: spent, income, debit count, credit count.
type Contribution = (Decimal, Decimal, i32, i32);

/// A held row with its id, for [`apply_many`]'s read.
#[derive(sqlx::FromRow)]
struct HeldRow {
    transaction_id: Uuid,
    #[sqlx(flatten)]
    stored: Stored,
}
