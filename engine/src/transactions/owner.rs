//! What a create needs to know about its owner, cached per user: the home currency and the
//! categories (for auto-categorisation and for the name an event carries).
//!
//! Reading both on every create cost a statement each (issue 25). The cache is a hint, never
//! the truth: the write that uses it checks, inside its own statement, that the home currency
//! and the chosen category (id, name and kind) are still what the cache said
//! (`store::insert_checked`). When they are not, nothing is written, the entry is dropped and
//! the create runs again on fresh reads. So a stale entry, on this replica or after a change
//! made on another one, costs a retry and never a wrong row. This replica drops an entry as
//! soon as it changes the user's categories or home currency; the TTL only bounds memory and
//! how long a new category goes unoffered to the model after another replica made it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use budgetsmart_common::currency::Currency;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::AppResult;
use crate::rates::store::currency_of;

/// How long an entry is used before it is read again.
const TTL: Duration = Duration::from_secs(600);
/// Users held at most; the cache starts over when it is full (a re-read is one statement).
const MAX_USERS: usize = 50_000;

/// One of the owner's categories.
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    pub id: Uuid,
    pub name: String,
    /// "expense" or "income".
    pub kind: String,
}

/// The owner of a create as last read.
#[derive(Debug, Clone)]
pub struct Owner {
    pub home: Currency,
    pub categories: Vec<Category>,
}

impl Owner {
    /// The category with `id`, if the owner had it when read.
    pub fn category(&self, id: Uuid) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }
}

/// An owner and when it was read.
type Entry = (Instant, Arc<Owner>);

/// Owners by user, shared by every handler of this process.
#[derive(Clone, Default)]
pub struct OwnerCache {
    entries: Arc<Mutex<HashMap<Uuid, Entry>>>,
}

impl OwnerCache {
    /// The owner of `user_id` from memory, else read (one statement). `None` when there is
    /// no such user.
    pub async fn get(&self, pool: &PgPool, user_id: Uuid) -> AppResult<Option<Arc<Owner>>> {
        if let Some(owner) = self.cached(user_id) {
            return Ok(Some(owner));
        }
        let Some(owner) = read(pool, user_id).await? else { return Ok(None) };
        let owner = Arc::new(owner);
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= MAX_USERS {
            entries.clear();
        }
        entries.insert(user_id, (Instant::now(), owner.clone()));
        Ok(Some(owner))
    }

    fn cached(&self, user_id: Uuid) -> Option<Arc<Owner>> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.get(&user_id).filter(|(at, _)| at.elapsed() < TTL).map(|(_, owner)| owner.clone())
    }

    /// Drops `user_id`'s entry: call after changing their categories or home currency, and
    /// when a write found the entry stale.
    pub fn forget(&self, user_id: Uuid) {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&user_id);
    }
}

/// The home currency and the categories of `user_id`, in one statement.
async fn read(pool: &PgPool, user_id: Uuid) -> AppResult<Option<Owner>> {
    /// The home currency, then one category (id, name, kind) per row; none for no categories.
    type Row = (String, Option<Uuid>, Option<String>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT u.default_currency, c.id, c.name, c.kind FROM users u \
         LEFT JOIN categories c ON c.user_id = u.id WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    let Some((home, ..)) = rows.first() else { return Ok(None) };
    let home = currency_of(home)?;
    let categories = rows
        .into_iter()
        .filter_map(|(_, id, name, kind)| Some(Category { id: id?, name: name?, kind: kind? }))
        .collect();
    Ok(Some(Owner { home, categories }))
}
