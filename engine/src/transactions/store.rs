//! Transactions: the stored row, inserting one with its `transaction_created`, and the import
//! fingerprint. The gRPC service over them is `transactions::service`.

use budgetsmart_common::currency::Currency;
use budgetsmart_common::events::{self, EventContext, OUTBOX_COLUMNS, OutboxRow};
use budgetsmart_proto::engine::v1 as pb;
use budgetsmart_proto::events::v1 as ev;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::budgets::store::{Budget, BudgetRow};
use crate::convert::{self, timestamp};
use crate::error::AppResult;
use crate::rates::conversion::{Conversion, RateSource};
use crate::rates::store::Bank;
use crate::transactions::owner::Owner;
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
#[derive(Clone)]
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

/// A create in the owner's home currency, written in one statement from what `owner` (a
/// cached read) says: the row, its `transaction_created` in the outbox, and the lock on the
/// budget it counts against (for a debit), whose limits come back with it.
///
/// The statement first checks that the owner still has that home currency and, when the row
/// has a category, that the category still exists with the name the event will carry. When
/// either changed, it writes and locks nothing and this answers `None`: the caller drops the
/// cached owner and writes on fresh reads. The spending sum is left to the next statement
/// (`thresholds::evaluate`): a statement that waited on the budget's lock keeps the snapshot
/// it started with, so only a statement begun after the lock sees the debit that held it.
pub async fn insert_checked(
    conn: &mut PgConnection,
    ctx: &EventContext,
    user_id: Uuid,
    new: &NewTransaction,
    owner: &Owner,
) -> AppResult<Option<(TransactionRow, Option<Budget>)>> {
    #[derive(sqlx::FromRow)]
    struct Written {
        version: i64,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
        budget_id: Option<Uuid>,
        budget_month: Option<NaiveDate>,
        budget_currency: Option<String>,
        budget_total_limit: Option<Decimal>,
        budget_alert_thresholds: Option<Vec<i32>>,
        budget_version: Option<i64>,
        budget_created_at: Option<DateTime<Utc>>,
        budget_updated_at: Option<DateTime<Utc>>,
        limit_ids: Option<Vec<Uuid>>,
        limit_amounts: Option<Vec<Decimal>>,
    }
    let category = new.category_id.and_then(|id| owner.category(id));
    let source = new.category_id.and(new.category_source);
    let now = Utc::now();
    let mut row = TransactionRow {
        id: Uuid::now_v7(),
        user_id,
        occurred_on: new.occurred_on,
        description: new.description.clone(),
        amount: new.amount,
        currency: new.currency.code().to_owned(),
        kind: new.kind.clone(),
        category_id: new.category_id,
        category_name: category.map(|c| c.name.clone()),
        category_source: source.map(|s| s.as_str().to_owned()),
        category_confidence: source.and_then(CategorySource::confidence),
        notes: new.notes.clone(),
        version: 1,
        created_at: now,
        updated_at: now,
        home_currency: owner.home.code().to_owned(),
        home_amount: Some(new.amount),
        rate: None,
        rate_date: None,
        rate_source: None,
        account_id: new.account_id,
        import_id: new.import_id,
    };
    let event = OutboxRow::new(
        ctx,
        &ev::TransactionCreated {
            transaction: Some(row.event_data()),
            source: new.source.to_owned(),
            occurred_at: Some(timestamp(now)),
        },
    );
    let sql = format!(
        "WITH owner AS (SELECT u.id FROM users u WHERE u.id = $2 AND u.default_currency = $14 \
           AND ($8::uuid IS NULL OR EXISTS (SELECT 1 FROM categories c \
             WHERE c.user_id = u.id AND c.id = $8 AND c.name = $20 AND c.kind = $21))), \
         stored AS (INSERT INTO transactions (id, user_id, occurred_on, description, amount, currency, type, \
           category_id, notes, fingerprint, source, category_source, category_confidence, \
           home_currency, home_amount, rate, rate_date, rate_source, account_id, import_id, bank_id) \
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $5, NULL, NULL, NULL, $15, $16, $17 \
           FROM owner RETURNING version, created_at, updated_at), \
         event AS (INSERT INTO outbox ({OUTBOX_COLUMNS}) \
           SELECT $22, $23, $24, $25, $26, $27, $28, $29, $30 FROM stored), \
         locked AS MATERIALIZED (SELECT b.id AS budget_id, b.month AS budget_month, \
           b.currency AS budget_currency, b.total_limit AS budget_total_limit, \
           b.alert_thresholds AS budget_alert_thresholds, b.version AS budget_version, \
           b.created_at AS budget_created_at, b.updated_at AS budget_updated_at, \
           ARRAY(SELECT category_id FROM budget_category_limits l WHERE l.budget_id = b.id ORDER BY category_id) \
             AS limit_ids, \
           ARRAY(SELECT limit_amount FROM budget_category_limits l WHERE l.budget_id = b.id ORDER BY category_id) \
             AS limit_amounts \
           FROM budgets b WHERE $18 AND b.user_id = $2 AND b.month = $19 AND b.currency = $6 \
             AND EXISTS (SELECT 1 FROM owner) FOR UPDATE OF b) \
         SELECT s.version, s.created_at, s.updated_at, l.* FROM stored s LEFT JOIN locked l ON true",
    );
    let written: Option<Written> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(row.id)
        .bind(user_id)
        .bind(row.occurred_on)
        .bind(&row.description)
        .bind(row.amount)
        .bind(&row.currency)
        .bind(&row.kind)
        .bind(row.category_id)
        .bind(&row.notes)
        .bind(fingerprint(new.occurred_on, new.amount, &row.currency, &new.kind, &new.description))
        .bind(new.source)
        .bind(&row.category_source)
        .bind(row.category_confidence)
        .bind(&row.home_currency)
        .bind(new.account_id)
        .bind(new.import_id)
        .bind(&new.bank_id)
        .bind(row.kind == "debit")
        .bind(first_of_month(row.occurred_on))
        .bind(category.map(|c| c.name.as_str()))
        .bind(category.map(|c| c.kind.as_str()))
        .bind(event.id)
        .bind(event.event_type)
        .bind(event.event_version)
        .bind(&event.routing_key)
        .bind(event.user_id)
        .bind(&event.payload)
        .bind(&event.correlation_id)
        .bind(&event.traceparent)
        .bind(&event.tracestate)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(written) = written else { return Ok(None) };
    row.version = written.version;
    row.created_at = written.created_at;
    row.updated_at = written.updated_at;
    let budget = match (
        written.budget_id,
        written.budget_month,
        written.budget_currency,
        written.budget_total_limit,
        written.budget_alert_thresholds,
        written.budget_version,
        written.budget_created_at,
        written.budget_updated_at,
    ) {
        (
            Some(id),
            Some(month),
            Some(currency),
            Some(total_limit),
            Some(alert_thresholds),
            Some(version),
            Some(created_at),
            Some(updated_at),
        ) => Some(Budget {
            row: BudgetRow {
                id,
                user_id,
                month,
                currency,
                total_limit,
                alert_thresholds,
                version,
                created_at,
                updated_at,
            },
            limits: written
                .limit_ids
                .unwrap_or_default()
                .into_iter()
                .zip(written.limit_amounts.unwrap_or_default())
                .collect(),
        }),
        _ => None,
    };
    Ok(Some((row, budget)))
}
