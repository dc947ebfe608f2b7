//! Reports over the read model: summaries by category or month, trends, top merchants.
//! All sums are exact decimals straight from the daily totals.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::history;

/// How a summary groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// One group per category (uncategorised money under `uncategorized`).
    Category,
    /// One group per `YYYY-MM`.
    Month,
}

/// One group of a summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Category id, `uncategorized`, or `YYYY-MM`.
    pub key: String,
    /// Sum of debits.
    pub spent: Decimal,
    /// Sum of credits.
    pub income: Decimal,
    /// Transactions.
    pub count: i64,
}

/// Spending and income over a range.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Groups, largest spending first (months in order).
    pub groups: Vec<Group>,
    /// Sum of debits.
    pub total_spent: Decimal,
    /// Sum of credits.
    pub total_income: Decimal,
    /// Merchants by spending.
    pub top_merchants: Vec<(String, Decimal, i64)>,
}

/// Key of uncategorised money in summaries.
pub const UNCATEGORIZED: &str = "uncategorized";
/// Merchants listed in a summary.
const TOP_MERCHANTS: i64 = 10;

/// The caller's summary of `currency` between `from` and `to`, inclusive.
pub async fn summary(
    conn: &mut PgConnection,
    user: Uuid,
    currency: &str,
    from: NaiveDate,
    to: NaiveDate,
    group_by: GroupBy,
) -> Result<Summary, sqlx::Error> {
    let rows = history::daily(conn, user, currency, from, to).await?;
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for row in &rows {
        let key = match group_by {
            GroupBy::Category => row.category_id.map_or_else(|| UNCATEGORIZED.to_owned(), |c| c.to_string()),
            GroupBy::Month => history::month_label(row.day),
        };
        let group = groups.entry(key.clone()).or_insert_with(|| Group {
            key,
            spent: Decimal::ZERO,
            income: Decimal::ZERO,
            count: 0,
        });
        group.spent += row.spent;
        group.income += row.income;
        group.count += row.count;
    }
    let mut groups: Vec<Group> = groups.into_values().filter(|g| g.count > 0).collect();
    if group_by == GroupBy::Category {
        groups.sort_by(|a, b| b.spent.cmp(&a.spent).then_with(|| a.key.cmp(&b.key)));
    }
    let top_merchants: Vec<(String, Decimal, i64)> = sqlx::query_as(
        "SELECT merchant, sum(amount), count(*) FROM transactions \
         WHERE user_id = $1 AND currency = $2 AND NOT deleted AND kind = 'debit' \
         AND occurred_on BETWEEN $3 AND $4 GROUP BY merchant ORDER BY 2 DESC, 1 LIMIT $5",
    )
    .bind(user)
    .bind(currency)
    .bind(from)
    .bind(to)
    .bind(TOP_MERCHANTS)
    .fetch_all(conn)
    .await?;
    Ok(Summary {
        total_spent: groups.iter().map(|g| g.spent).sum(),
        total_income: groups.iter().map(|g| g.income).sum(),
        groups,
        top_merchants,
    })
}

/// One category's months.
#[derive(Debug, Clone)]
pub struct CategoryTrend {
    /// `None` for uncategorised spending.
    pub category_id: Option<Uuid>,
    /// Spending per month, oldest first.
    pub monthly: Vec<(NaiveDate, Decimal)>,
    /// Mean of the last three months.
    pub average_3m: Decimal,
    /// Change of the last month against the one before, in percent; `None` from zero.
    pub change_pct: Option<f64>,
}

/// Spending per category over the `months` complete months before `today`'s month.
pub async fn trends(
    conn: &mut PgConnection,
    user: Uuid,
    currency: &str,
    months: u32,
    today: NaiveDate,
) -> Result<Vec<CategoryTrend>, sqlx::Error> {
    let last = history::shift_months(today, -1);
    let first = history::shift_months(today, -i32::try_from(months).unwrap_or(6));
    let rows = history::daily(conn, user, currency, first, history::month_end(last)).await?;
    let mut categories: Vec<Option<Uuid>> =
        rows.iter().filter(|r| !r.spent.is_zero()).map(|r| r.category_id).collect();
    categories.sort();
    categories.dedup();
    let mut trends: Vec<CategoryTrend> = categories
        .into_iter()
        .map(|category| {
            let monthly = history::monthly_totals(&history::category_spend(&rows, category), first, last);
            let recent: Vec<Decimal> = monthly.iter().rev().take(3).map(|(_, v)| *v).collect();
            let average_3m =
                (recent.iter().copied().sum::<Decimal>() / Decimal::from(recent.len().max(1))).round_dp(4);
            let change_pct = match monthly.as_slice() {
                [.., (_, before), (_, after)] if !before.is_zero() => {
                    let change = (*after - *before) / *before * Decimal::from(100);
                    rust_decimal::prelude::ToPrimitive::to_f64(&change.round_dp(1))
                }
                _ => None,
            };
            CategoryTrend { category_id: category, monthly, average_3m, change_pct }
        })
        .collect();
    trends.sort_by_key(|t| std::cmp::Reverse(t.average_3m));
    Ok(trends)
}
