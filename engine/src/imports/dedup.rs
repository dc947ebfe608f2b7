//! Whether a row is already stored. Three rules, in order:
//!
//! 1. **The bank's id.** A row whose file gives the bank's own id (OFX FITID, CAMT
//!    AcctSvcrRef, MT940 bank reference) is a duplicate of a stored row of the same account
//!    with that id, or of an earlier row of the same file with it.
//! 2. **The fingerprint**: same day, amount, currency, direction and description as a
//!    stored row (what CSV imports always used). Two rows of one format that both carry bank
//!    ids, and different ones, are different transactions even when they look alike; so are
//!    two rows of two different accounts (a transfer's two sides may read alike).
//! 3. **The same statement in another format**: same account, day, amount, currency and
//!    direction as a row an import of a *different* format wrote. Descriptions differ between
//!    a bank's OFX and its CSV, and their ids are not comparable, so only the account and the
//!    money are.
//!
//! Rules 2 and 3 match one stored row to one incoming row: a file with two identical coffees,
//! where one is stored, adds exactly one. Rows this import wrote itself never count (rule 1
//! keeps the file's own ids in memory instead, so a preview answers as the import will).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::AppResult;
use crate::imports::rows::Row;
use crate::transactions::store::fingerprint;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    day: NaiveDate,
    amount: Decimal,
    currency: String,
    kind: String,
}

impl Key {
    fn of(row: &Row) -> Key {
        Key {
            day: row.new.occurred_on,
            amount: row.new.amount.normalize(),
            currency: row.new.currency.code().to_owned(),
            kind: row.new.kind.clone(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Stored {
    occurred_on: NaiveDate,
    amount: Decimal,
    currency: String,
    #[sqlx(rename = "type")]
    kind: String,
    fingerprint: Vec<u8>,
    account_id: Option<Uuid>,
    bank_id: Option<String>,
    format: Option<String>,
}

/// Dedup state across one import's batches.
pub struct Dedup {
    user_id: Uuid,
    import_id: Uuid,
    format: &'static str,
    loaded: HashSet<Key>,
    pool: HashMap<Key, Vec<Stored>>,
    seen: HashSet<(Option<Uuid>, String)>,
    stored_ids: HashSet<(Option<Uuid>, String)>,
}

impl Dedup {
    pub fn new(user_id: Uuid, import_id: Uuid, format: &'static str) -> Dedup {
        Dedup {
            user_id,
            import_id,
            format,
            loaded: HashSet::new(),
            pool: HashMap::new(),
            seen: HashSet::new(),
            stored_ids: HashSet::new(),
        }
    }

    /// Loads what the stored rows could match in `rows`; call before [`Dedup::is_duplicate`].
    pub async fn load(&mut self, conn: &mut PgConnection, rows: &[Row]) -> AppResult<()> {
        let ids: Vec<&str> = rows.iter().filter_map(|r| r.new.bank_id.as_deref()).collect();
        self.stored_ids.clear();
        if !ids.is_empty() {
            let found: Vec<(Option<Uuid>, String)> = sqlx::query_as(
                "SELECT account_id, bank_id FROM transactions WHERE user_id = $1 AND bank_id = ANY($2) \
                 AND import_id IS DISTINCT FROM $3",
            )
            .bind(self.user_id)
            .bind(&ids)
            .bind(self.import_id)
            .fetch_all(&mut *conn)
            .await?;
            self.stored_ids.extend(found);
        }
        let mut fresh: Vec<Key> = Vec::new();
        for row in rows {
            let key = Key::of(row);
            if self.loaded.insert(key.clone()) {
                fresh.push(key);
            }
        }
        if fresh.is_empty() {
            return Ok(());
        }
        let days: Vec<NaiveDate> = fresh.iter().map(|k| k.day).collect();
        let amounts: Vec<Decimal> = fresh.iter().map(|k| k.amount).collect();
        let currencies: Vec<&str> = fresh.iter().map(|k| k.currency.as_str()).collect();
        let kinds: Vec<&str> = fresh.iter().map(|k| k.kind.as_str()).collect();
        let stored: Vec<Stored> = sqlx::query_as(
            "SELECT t.occurred_on, t.amount, t.currency::text AS currency, t.type, t.fingerprint, t.account_id, \
             t.bank_id, i.format FROM transactions t \
             LEFT JOIN imports i ON i.user_id = t.user_id AND i.id = t.import_id \
             WHERE t.user_id = $1 AND t.import_id IS DISTINCT FROM $2 \
             AND (t.occurred_on, t.amount, t.currency::text, t.type) IN \
             (SELECT * FROM UNNEST($3::date[], $4::numeric[], $5::text[], $6::text[]))",
        )
        .bind(self.user_id)
        .bind(self.import_id)
        .bind(&days)
        .bind(&amounts)
        .bind(&currencies)
        .bind(&kinds)
        .fetch_all(&mut *conn)
        .await?;
        for row in stored {
            let key = Key {
                day: row.occurred_on,
                amount: row.amount.normalize(),
                currency: row.currency.trim().to_owned(),
                kind: row.kind.clone(),
            };
            self.pool.entry(key).or_default().push(row);
        }
        Ok(())
    }

    /// Whether `row` is stored already; a match is used up.
    pub fn is_duplicate(&mut self, row: &Row) -> bool {
        let account = row.new.account_id;
        if let Some(id) = &row.new.bank_id {
            let key = (account, id.clone());
            if self.stored_ids.contains(&key) || !self.seen.insert(key) {
                return true;
            }
        }
        let Some(candidates) = self.pool.get_mut(&Key::of(row)) else { return false };
        let print = fingerprint(
            row.new.occurred_on,
            row.new.amount,
            row.new.currency.code(),
            &row.new.kind,
            &row.new.description,
        );
        let format = self.format;
        let incoming_id = row.new.bank_id.is_some();
        let same = candidates.iter().position(|c| {
            let ids_disagree = incoming_id && c.bank_id.is_some() && c.format.as_deref() == Some(format);
            let accounts_disagree = account.is_some() && c.account_id.is_some() && c.account_id != account;
            c.fingerprint == print && !ids_disagree && !accounts_disagree
        });
        let other_format = || {
            candidates.iter().position(|c| {
                account.is_some()
                    && c.account_id == account
                    && c.format.as_deref().is_some_and(|f| f != format)
            })
        };
        match same.or_else(other_format) {
            Some(index) => {
                candidates.swap_remove(index);
                true
            }
            None => false,
        }
    }
}
