//! People's corrections of recurring payments: a merchant's kind, or "this does not recur".
//! Rescans rewrite `recurring_payments`; these rows are what they must respect.

use std::collections::HashSet;

use sqlx::PgConnection;
use uuid::Uuid;

use super::kind::{Kind, Taught};

/// Everything a user has corrected.
#[derive(Debug, Clone, Default)]
pub struct Corrections {
    /// Kinds the user gave, per merchant and from them per category.
    pub taught: Taught,
    /// `(currency, merchant, credit)` series the user said are not recurring.
    pub not_recurring: HashSet<(String, String, bool)>,
}

impl Corrections {
    /// Whether the user said this series does not recur.
    pub fn refuses(&self, currency: &str, merchant: &str, credit: bool) -> bool {
        self.not_recurring.contains(&(currency.to_owned(), merchant.to_owned(), credit))
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    currency: String,
    merchant: String,
    direction: String,
    category_id: Option<Uuid>,
    kind: Option<String>,
    not_recurring: bool,
}

/// The user's corrections; the latest kind given in a category stands for the category.
pub async fn load(conn: &mut PgConnection, user: Uuid) -> Result<Corrections, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT currency, merchant, direction, category_id, kind, not_recurring FROM recurring_corrections \
         WHERE user_id = $1 ORDER BY corrected_at",
    )
    .bind(user)
    .fetch_all(conn)
    .await?;
    let mut out = Corrections::default();
    for row in rows {
        if row.not_recurring {
            out.not_recurring.insert((row.currency, row.merchant, row.direction == "credit"));
            continue;
        }
        let Some(kind) = row.kind.as_deref().and_then(Kind::parse) else { continue };
        if let Some(category) = row.category_id {
            out.taught.categories.insert(category, kind);
        }
        out.taught.merchants.insert((row.currency, row.merchant, row.direction == "credit"), kind);
    }
    Ok(out)
}

/// A correction of one series.
#[derive(Debug, Clone, Copy)]
pub enum Correction {
    /// It is this kind.
    Kind(Kind),
    /// It does not recur.
    NotRecurring,
}

/// Records a correction of the series `(currency, merchant, direction)`.
pub async fn record(
    conn: &mut PgConnection,
    user: Uuid,
    series: (&str, &str, &str),
    category_id: Option<Uuid>,
    correction: Correction,
) -> Result<(), sqlx::Error> {
    let (kind, not_recurring) = match correction {
        Correction::Kind(kind) => (Some(kind.as_str()), false),
        Correction::NotRecurring => (None, true),
    };
    sqlx::query(
        "INSERT INTO recurring_corrections (user_id, currency, merchant, direction, category_id, kind, not_recurring) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id, currency, merchant, direction) DO UPDATE SET \
         category_id = EXCLUDED.category_id, kind = EXCLUDED.kind, not_recurring = EXCLUDED.not_recurring, \
         corrected_at = now()",
    )
    .bind(user)
    .bind(series.0)
    .bind(series.1)
    .bind(series.2)
    .bind(category_id)
    .bind(kind)
    .bind(not_recurring)
    .execute(conn)
    .await?;
    Ok(())
}
