//! Transactions: the stored row, inserting one with its `transaction_created`, and the import
//! fingerprint. The gRPC service over them is `transactions::service`.

use budgetsmart_common::currency::Currency;
use budgetsmart_common::events::{self, EventContext};
use budgetsmart_proto::engine::v1 as pb;
use budgetsmart_proto::events::v1 as ev;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::convert::{self, timestamp};
use crate::error::AppResult;
use crate::rates::conversion::{Conversion, RateSource};
use crate::rates::store::Bank;
use crate::validation::Violations;

/// A transaction row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TransactionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub occurred_on: NaiveDate,
    pub description: String,
    pub amount: Decimal,
    pub currency: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub category_id: Option<Uuid>,
    pub category_name: Option<String>,
    /// Who chose the category: "user", "import", "model" or "rule".
    pub category_source: Option<String>,
    /// The model's confidence when the model chose it.
    pub category_confidence: Option<f64>,
    pub notes: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The owner's home currency, and the amount in it (`None` while the rate is pending).
    pub home_currency: String,
    pub home_amount: Option<Decimal>,
    pub rate: Option<Decimal>,
    pub rate_date: Option<NaiveDate>,
    /// "ecb" or "bank".
    pub rate_source: Option<String>,
    pub account_id: Option<Uuid>,
    /// The import that wrote it; undoing the import removes it.
    pub import_id: Option<Uuid>,
}

/// Columns of [`TransactionRow`]. The category's name rides along for the events: consumers
/// explain what they found in the user's own words ("your usual Groceries spend").
pub const COLUMNS: &str = "id, user_id, occurred_on, description, amount, currency, type, category_id, \
                           category_source, category_confidence, notes, version, created_at, updated_at, \
                           home_currency, home_amount, rate, rate_date, rate_source, account_id, import_id, (SELECT c.name FROM categories c \
                           WHERE c.id = transactions.category_id AND c.user_id = transactions.user_id) \
                           AS category_name";

impl TransactionRow {
    /// The ISO 4217 code, without the padding a `char(3)` column may add.
    pub fn currency(&self) -> &str {
        self.currency.trim()
    }

    /// The home currency, without `char(3)` padding.
    pub fn home_currency(&self) -> &str {
        self.home_currency.trim()
    }

    /// The budget months and currencies this row counts against, if it is spending: a budget
    /// in the home currency counts it converted, one in its own currency as it is.
    pub fn spending_keys(&self) -> Vec<(NaiveDate, String)> {
        if self.kind != "debit" {
            return Vec::new();
        }
        let month = first_of_month(self.occurred_on);
        let mut keys = vec![(month, self.currency().to_owned())];
        if self.home_currency() != self.currency() {
            keys.push((month, self.home_currency().to_owned()));
        }
        keys
    }

    /// Whether the amount in the home currency still waits for its rate.
    pub fn rate_pending(&self) -> bool {
        self.home_amount.is_none()
    }

    /// The row as carried in transaction events.
    pub fn event_data(&self) -> ev::TransactionData {
        ev::TransactionData {
            transaction_id: self.id.to_string(),
            user_id: self.user_id.to_string(),
            occurred_on: self.occurred_on.to_string(),
            description: self.description.clone(),
            amount: Some(convert::money(self.amount, self.currency())),
            r#type: self.kind.clone(),
            category_id: self.category_id.map(|c| c.to_string()),
            version: self.version,
            category_name: self.category_name.clone(),
            category_source: self.category_source.clone().unwrap_or_default(),
            category_confidence: self.category_confidence,
            home_amount: self.home_amount.map(|a| convert::money(a, self.home_currency())),
            rate_pending: self.rate_pending(),
        }
    }
}

impl From<TransactionRow> for pb::Transaction {
    fn from(row: TransactionRow) -> Self {
        let foreign = row.home_currency() != row.currency();
        pb::Transaction {
            home_currency: row.home_currency().to_owned(),
            home_amount: row.home_amount.map(|a| convert::money(a, row.home_currency())),
            rate: row.rate.filter(|_| foreign).map(|r| r.normalize().to_string()).unwrap_or_default(),
            rate_date: row.rate_date.filter(|_| foreign).map(|d| d.to_string()).unwrap_or_default(),
            rate_source: row.rate_source.clone().filter(|_| foreign).unwrap_or_default(),
            rate_pending: row.rate_pending(),
            id: row.id.to_string(),
            occurred_on: row.occurred_on.to_string(),
            amount: Some(convert::money(row.amount, row.currency())),
            description: row.description,
            r#type: row.kind,
            category_id: row.category_id.map(|c| c.to_string()),
            notes: row.notes,
            created_at: Some(timestamp(row.created_at)),
            updated_at: Some(timestamp(row.updated_at)),
            category_source: row.category_source.unwrap_or_default(),
            category_confidence: row.category_confidence,
            account_id: row.account_id.map(|a| a.to_string()),
            import_id: row.import_id.map(|i| i.to_string()),
        }
    }
}

/// The first day of `date`'s month.
pub fn first_of_month(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// The import dedup key: same day, amount, currency, direction and (normalised) description.
pub fn fingerprint(
    date: NaiveDate,
    amount: Decimal,
    currency: &str,
    kind: &str,
    description: &str,
) -> Vec<u8> {
    let description = description.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let key = format!("{date}|{}|{currency}|{kind}|{description}", amount.normalize());
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Checks `debit`/`credit`.
pub fn check_type(violations: &mut Violations, kind: &str) -> String {
    let kind = kind.trim().to_lowercase();
    if kind != "debit" && kind != "credit" {
        violations.add("type", "must be \"debit\" or \"credit\"");
    }
    kind
}

/// A validated new transaction.
pub struct NewTransaction {
    pub occurred_on: NaiveDate,
    pub description: String,
    pub amount: Decimal,
    pub currency: Currency,
    pub kind: String,
    pub category_id: Option<Uuid>,
    /// Who chose `category_id`: "user", "import" or "model" (with its confidence).
    pub category_source: Option<CategorySource>,
    pub notes: Option<String>,
    pub source: &'static str,
    /// The bank's own conversion, when the person gave one.
    pub bank: Option<Bank>,
    pub account_id: Option<Uuid>,
    /// Set by an import, with the bank's own id for the row where its file has one.
    pub import_id: Option<Uuid>,
    pub bank_id: Option<String>,
}

/// Where a transaction's category came from. Only a person's choice ("user") or their
/// bank file's ("import") teaches the categorisation models, so the model never learns from
/// its own guesses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CategorySource {
    /// The person chose it (on create, or by changing it later).
    User,
    /// The imported file named it.
    Import,
    /// The model suggested it with this confidence, above the auto-fill threshold.
    Model(f64),
}

impl CategorySource {
    /// The stored and answered name.
    pub fn as_str(self) -> &'static str {
        match self {
            CategorySource::User => "user",
            CategorySource::Import => "import",
            CategorySource::Model(_) => "model",
        }
    }

    /// The model's confidence, for a model's choice.
    pub fn confidence(self) -> Option<f64> {
        match self {
            CategorySource::Model(c) => Some(c),
            _ => None,
        }
    }
}

/// Inserts one transaction, expressed in the home currency as `conversion` says, and its
/// `transaction_created` event (thresholds are the caller's).
pub async fn insert(
    conn: &mut PgConnection,
    ctx: &EventContext,
    user_id: Uuid,
    new: &NewTransaction,
    conversion: &Conversion,
) -> AppResult<TransactionRow> {
    let sql = format!(
        "INSERT INTO transactions (id, user_id, occurred_on, description, amount, currency, type, \
         category_id, notes, fingerprint, source, category_source, category_confidence, \
         home_currency, home_amount, rate, rate_date, rate_source, account_id, import_id, bank_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) \
         RETURNING {COLUMNS}"
    );
    let row: TransactionRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Uuid::now_v7())
        .bind(user_id)
        .bind(new.occurred_on)
        .bind(&new.description)
        .bind(new.amount)
        .bind(new.currency.code())
        .bind(&new.kind)
        .bind(new.category_id)
        .bind(&new.notes)
        .bind(fingerprint(new.occurred_on, new.amount, new.currency.code(), &new.kind, &new.description))
        .bind(new.source)
        .bind(new.category_id.and(new.category_source).map(CategorySource::as_str))
        .bind(new.category_id.and(new.category_source).and_then(CategorySource::confidence))
        .bind(conversion.home_currency.code())
        .bind(conversion.home_amount)
        .bind(conversion.rate)
        .bind(conversion.rate_date)
        .bind(conversion.source.map(RateSource::as_str))
        .bind(new.account_id)
        .bind(new.import_id)
        .bind(&new.bank_id)
        .fetch_one(&mut *conn)
        .await?;
    let event = ev::TransactionCreated {
        transaction: Some(row.event_data()),
        source: new.source.to_owned(),
        occurred_at: Some(timestamp(Utc::now())),
    };
    events::enqueue(conn, ctx, &event).await?;
    Ok(row)
}
