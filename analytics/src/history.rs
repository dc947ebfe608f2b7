//! Reading spending history out of the daily totals: per day and category, and the calendar
//! arithmetic over months that reports and forecasts share.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

/// One day's totals in one category (`None`: uncategorised).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DayTotal {
    /// The day.
    pub day: NaiveDate,
    /// The category, if any.
    pub category_id: Option<Uuid>,
    /// Sum of debits.
    pub spent: Decimal,
    /// Sum of credits.
    pub income: Decimal,
    /// Transactions counted.
    pub count: i64,
}

/// The user's daily totals in `currency` between `from` and `to`, inclusive.
pub async fn daily(
    conn: &mut PgConnection,
    user: Uuid,
    currency: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DayTotal>, sqlx::Error> {
    sqlx::query_as(
        "SELECT day, NULLIF(category_id, '00000000-0000-0000-0000-000000000000'::uuid) AS category_id, \
         spent, income, (debit_count + credit_count)::bigint AS count FROM daily_totals \
         WHERE user_id = $1 AND currency = $2 AND day BETWEEN $3 AND $4 \
         AND (debit_count <> 0 OR credit_count <> 0) ORDER BY day",
    )
    .bind(user)
    .bind(currency)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}

/// One debit as anomaly and recurring-payment detection see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Debit {
    /// The transaction.
    pub transaction_id: Uuid,
    /// When it happened.
    pub occurred_on: NaiveDate,
    /// As the bank wrote it.
    pub description: String,
    /// Normalised merchant.
    pub merchant: String,
    /// Exact amount.
    pub amount: Decimal,
    /// Its currency.
    pub currency: String,
    /// Its category, if any.
    pub category_id: Option<Uuid>,
    /// The category's name when the transaction was last changed.
    pub category_name: Option<String>,
    /// What was paid, when that was another currency than the one it is counted in.
    pub original_amount: Option<Decimal>,
    pub original_currency: Option<String>,
}

impl Debit {
    /// A USD debit of `cents` with a fresh id and the merchant normalised from `text`, as
    /// detection sees one (for tests and evaluations).
    pub fn new(occurred_on: NaiveDate, text: &str, cents: i64, category: Option<(Uuid, &str)>) -> Debit {
        Debit {
            transaction_id: Uuid::now_v7(),
            occurred_on,
            description: text.to_owned(),
            merchant: crate::merchant::normalise(text),
            amount: Decimal::new(cents, 2),
            currency: "USD".into(),
            category_id: category.map(|c| c.0),
            category_name: category.map(|c| c.1.to_owned()),
            original_amount: None,
            original_currency: None,
        }
    }
}

/// The user's live debits since `from`, oldest first (ties by id, so the order is total). The
/// merchant is normalised again from the description, so rows stored under an older version
/// of the rules group with new ones.
pub async fn debits(conn: &mut PgConnection, user: Uuid, from: NaiveDate) -> Result<Vec<Debit>, sqlx::Error> {
    flows(conn, user, from, "debit").await
}

/// The user's live credits (salary, refunds, transfers in) since `from`, as [`debits`] reads
/// debits: recurring-payment detection finds income among them.
pub async fn credits(
    conn: &mut PgConnection,
    user: Uuid,
    from: NaiveDate,
) -> Result<Vec<Debit>, sqlx::Error> {
    flows(conn, user, from, "credit").await
}

async fn flows(
    conn: &mut PgConnection,
    user: Uuid,
    from: NaiveDate,
    kind: &str,
) -> Result<Vec<Debit>, sqlx::Error> {
    let mut flows: Vec<Debit> = sqlx::query_as(
        "SELECT transaction_id, occurred_on, description, merchant, amount, currency, category_id, \
         category_name, original_amount, original_currency FROM transactions WHERE user_id = $1 AND NOT deleted AND kind = $3 AND occurred_on >= $2 \
         ORDER BY occurred_on, transaction_id",
    )
    .bind(user)
    .bind(from)
    .bind(kind)
    .fetch_all(conn)
    .await?;
    for flow in &mut flows {
        flow.merchant = crate::merchant::normalise(&flow.description);
    }
    Ok(flows)
}

/// The latest name of each of the user's categories, as transaction events carried it.
pub async fn category_names(
    conn: &mut PgConnection,
    user: Uuid,
) -> Result<HashMap<Uuid, String>, sqlx::Error> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT DISTINCT ON (category_id) category_id, category_name FROM transactions \
         WHERE user_id = $1 AND category_id IS NOT NULL AND category_name IS NOT NULL \
         ORDER BY category_id, applied_at DESC",
    )
    .bind(user)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// The median of the last twelve complete months' spending, per currency.
pub fn usual_month(debits: &[Debit], today: NaiveDate) -> HashMap<String, Decimal> {
    let current = month_start(today);
    let first = shift_months(current, -12);
    let mut months: HashMap<&str, BTreeMap<NaiveDate, Decimal>> = HashMap::new();
    for d in debits.iter().filter(|d| d.occurred_on >= first && d.occurred_on < current) {
        *months.entry(d.currency.as_str()).or_default().entry(month_start(d.occurred_on)).or_default() +=
            d.amount;
    }
    months
        .into_iter()
        .map(|(currency, totals)| {
            let mut values: Vec<Decimal> = totals.into_values().collect();
            values.sort();
            (currency.to_owned(), values[values.len() / 2])
        })
        .collect()
}

/// Spending per day of one series (the total, or one category).
pub type DailySpend = BTreeMap<NaiveDate, Decimal>;

/// Daily spending summed over every category.
pub fn total_spend(rows: &[DayTotal]) -> DailySpend {
    let mut out = DailySpend::new();
    for row in rows.iter().filter(|r| !r.spent.is_zero()) {
        *out.entry(row.day).or_default() += row.spent;
    }
    out
}

/// Daily spending of one category.
pub fn category_spend(rows: &[DayTotal], category: Option<Uuid>) -> DailySpend {
    let mut out = DailySpend::new();
    for row in rows.iter().filter(|r| r.category_id == category && !r.spent.is_zero()) {
        *out.entry(row.day).or_default() += row.spent;
    }
    out
}

/// The first day of `day`'s month.
pub fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The last day of `day`'s month.
pub fn month_end(day: NaiveDate) -> NaiveDate {
    month_start(day).checked_add_months(Months::new(1)).and_then(|d| d.pred_opt()).unwrap_or(day)
}

/// Adds (or with a negative `n` subtracts) whole months to a month's first day.
pub fn shift_months(month: NaiveDate, n: i32) -> NaiveDate {
    let start = month_start(month);
    let shifted = if n >= 0 {
        start.checked_add_months(Months::new(n.unsigned_abs()))
    } else {
        start.checked_sub_months(Months::new(n.unsigned_abs()))
    };
    shifted.unwrap_or(start)
}

/// `YYYY-MM` of a day.
pub fn month_label(day: NaiveDate) -> String {
    day.format("%Y-%m").to_string()
}

/// Parses `YYYY-MM` into the month's first day. Only the years the engine takes (1900 to
/// 2999) are months here: chrono alone reads `0000-01`, or a five-digit year.
pub fn parse_month(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    let first = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").ok()?;
    (text.len() == 7 && (1900..=2999).contains(&first.year())).then_some(first)
}

/// Sums `spend` per month over `[first, last]` (first days of months), zero-filled.
pub fn monthly_totals(spend: &DailySpend, first: NaiveDate, last: NaiveDate) -> Vec<(NaiveDate, Decimal)> {
    let mut months = Vec::new();
    let mut month = month_start(first);
    while month <= last {
        let sum = spend.range(month..=month_end(month)).map(|(_, v)| *v).sum();
        months.push((month, sum));
        month = shift_months(month, 1);
    }
    months
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn month_arithmetic() {
        assert_eq!(month_end(day("2024-02-10")), day("2024-02-29"));
        assert_eq!(shift_months(day("2024-01-31"), -2), day("2023-11-01"));
        assert_eq!(parse_month("2025-13"), None);
        assert_eq!(parse_month("0000-01"), None, "year 0 is no month of a budget");
        assert_eq!(parse_month("0167-12"), None);
        assert_eq!(parse_month("12025-01"), None);
        assert_eq!(parse_month("1900-01"), NaiveDate::from_ymd_opt(1900, 1, 1));
        let mut spend = DailySpend::new();
        spend.insert(day("2024-01-05"), Decimal::new(1000, 2));
        spend.insert(day("2024-03-31"), Decimal::new(250, 2));
        let months = monthly_totals(&spend, day("2024-01-01"), day("2024-03-01"));
        assert_eq!(
            months.iter().map(|m| m.1).collect::<Vec<_>>(),
            vec![Decimal::new(1000, 2), Decimal::ZERO, Decimal::new(250, 2)]
        );
    }
}
