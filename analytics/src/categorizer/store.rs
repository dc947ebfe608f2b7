//! Training categorisation models from the read model, keeping them in the
//! `categorizer_models` table (so every replica answers alike), and answering suggestions
//! from an in-process copy that is refreshed when a newer model is stored.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Categorizer, Sample, features};

/// The global model's row in `categorizer_models`.
pub const GLOBAL: Uuid = Uuid::nil();
/// Most recent labelled transactions a user model learns from: enough for every merchant a
/// person visits (accuracy is 94 % after 50, docs/analytics.md), few enough to train in
/// milliseconds.
const USER_SAMPLES: i64 = 2_000;
/// Labelled transactions of all users the global model reads ...
const GLOBAL_SAMPLES: i64 = 50_000;
/// ... and distinct examples it keeps (identical ones collapse), so the dense training matrix
/// stays a few megabytes.
const GLOBAL_DISTINCT: usize = 4_000;
/// A word enters the global model only when this many users used it, so that one person's
/// text (a name in a transfer) never reaches another person's suggestions.
const MIN_USERS_PER_FEATURE: usize = 3;
/// Models kept in memory before the copy is dropped and rebuilt on demand.
const MAX_CACHED: usize = 10_000;
/// Common merchants by the engine's default category names: what a new user gets before
/// anyone has labelled anything.
const SEED: &str = include_str!("../../data/merchants.csv");

/// `user`'s latest labelled transactions as training samples: categories the person chose or
/// their file named (or from before the source was recorded), never the model's own guesses.
pub async fn user_samples(conn: &mut PgConnection, user: Uuid) -> Result<Vec<Sample>, sqlx::Error> {
    let rows: Vec<(String, Decimal, String, Uuid)> = sqlx::query_as(
        "SELECT description, amount, kind, category_id FROM transactions \
         WHERE user_id = $1 AND NOT deleted AND category_id IS NOT NULL AND (category_source IS NULL OR category_source IN ('user', 'import')) \
         ORDER BY occurred_on DESC, transaction_id DESC LIMIT $2",
    )
    .bind(user)
    .bind(USER_SAMPLES)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .map(|(text, amount, kind, category)| Sample {
            features: features(text, *amount, kind),
            class: category.to_string(),
        })
        .collect())
}

/// Stores `user`'s newly trained model, or drops the stored one when there is none (too few
/// labels: the user falls back to the global model). Returns whether one is stored.
pub async fn replace_user_model(
    conn: &mut PgConnection,
    user: Uuid,
    model: Option<&Categorizer>,
) -> Result<bool, sqlx::Error> {
    match model {
        Some(model) => {
            save(conn, user, model).await?;
            Ok(true)
        }
        None => {
            sqlx::query("DELETE FROM categorizer_models WHERE user_id = $1").bind(user).execute(conn).await?;
            Ok(false)
        }
    }
}

/// The seed merchants as samples.
pub fn seed_samples() -> Vec<Sample> {
    SEED.lines()
        .skip(1)
        .filter_map(|line| line.rsplit_once(','))
        .map(|(text, category)| Sample {
            features: features(text, Decimal::new(2_500, 2), "debit"),
            class: category.trim().to_lowercase(),
        })
        .collect()
}

/// Trains and stores the global model: the seed, plus every user's labelled transactions by
/// category name, keeping only features that several users share.
pub async fn train_global(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    let rows: Vec<(Uuid, String, Decimal, String, String)> = sqlx::query_as(
        "SELECT user_id, description, amount, kind, category_name FROM transactions \
         WHERE NOT deleted AND category_name IS NOT NULL AND (category_source IS NULL OR category_source IN ('user', 'import')) ORDER BY applied_at DESC LIMIT $1",
    )
    .bind(GLOBAL_SAMPLES)
    .fetch_all(&mut *conn)
    .await?;
    let labelled: Vec<(Uuid, Sample)> = rows
        .iter()
        .map(|(user, text, amount, kind, name)| {
            (*user, Sample { features: features(text, *amount, kind), class: name.trim().to_lowercase() })
        })
        .collect();
    let mut users_of: HashMap<&str, HashSet<Uuid>> = HashMap::new();
    for (user, sample) in &labelled {
        for feature in &sample.features {
            users_of.entry(feature.as_str()).or_default().insert(*user);
        }
    }
    let shared = |f: &String| users_of.get(f.as_str()).is_some_and(|u| u.len() >= MIN_USERS_PER_FEATURE);
    let mut samples = seed_samples();
    let mut seen = HashSet::new();
    for (_, s) in &labelled {
        let kept: Vec<String> = s.features.iter().filter(|f| shared(f)).cloned().collect();
        if samples.len() >= GLOBAL_DISTINCT {
            break;
        }
        if !kept.is_empty() && seen.insert((kept.clone(), s.class.clone())) {
            samples.push(Sample { features: kept, class: s.class.clone() });
        }
    }
    let trained = tokio::task::spawn_blocking(move || Categorizer::train(&samples))
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("training the global model failed: {e}")))?;
    if let Some(model) = trained {
        save(conn, GLOBAL, &model).await?;
    }
    Ok(())
}

async fn save(conn: &mut PgConnection, user: Uuid, model: &Categorizer) -> Result<(), sqlx::Error> {
    let json = model.to_json();
    sqlx::query(
        "INSERT INTO categorizer_models (user_id, model, n_samples, trained_at) VALUES ($1, $2, $3, clock_timestamp()) \
         ON CONFLICT (user_id) DO UPDATE SET model = EXCLUDED.model, n_samples = EXCLUDED.n_samples, \
         trained_at = EXCLUDED.trained_at",
    )
    .bind(user)
    .bind(json)
    .bind(model.samples() as i32)
    .execute(conn)
    .await?;
    Ok(())
}

/// When the global model was last trained, if ever.
pub async fn global_trained_at(conn: &mut PgConnection) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("SELECT trained_at FROM categorizer_models WHERE user_id = $1")
        .bind(GLOBAL)
        .fetch_optional(conn)
        .await
}

/// One of the caller's categories.
#[derive(Debug, Clone)]
pub struct CategoryOption {
    pub id: String,
    pub name: String,
    pub kind: String,
}

/// What to categorise.
#[derive(Debug, Clone)]
pub struct Item {
    pub description: String,
    pub amount: Decimal,
    /// "debit" or "credit".
    pub kind: String,
}

/// A suggestion: the category, its confidence, the model that gave it, and the runners-up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Suggestion {
    pub category_id: Option<String>,
    pub confidence: f64,
    pub model: &'static str,
    pub alternatives: Vec<(String, f64)>,
}

/// Alternatives listed after the best suggestion.
const ALTERNATIVES: usize = 3;

/// A model in memory and the `trained_at` it was loaded at.
type Loaded = (DateTime<Utc>, Arc<Categorizer>);

/// How long the stamps read for a user are trusted before they are read again. Within it a
/// user creating transactions costs no statement here (issue 25: one per create before). A
/// model retrained meanwhile, by this replica's trainer or another's, is used at most this
/// much later; the model it replaces answers until then, over the categories the caller
/// sends, so a suggestion is at worst the previous model's, never one of a stale category.
const STAMPS_FRESH: Duration = Duration::from_secs(5);

/// The stamps of a user's and the global model, when they were read, and [`SAVED`] then.
type Stamps = (Instant, u64, Vec<(Uuid, DateTime<Utc>)>);

/// Commits of models by this process's trainer: each makes every cached stamp stale at once,
/// so on one replica a new model answers the very next suggestion; only one trained by another
/// replica waits up to [`STAMPS_FRESH`].
static SAVED: AtomicU64 = AtomicU64::new(0);

/// Call after committing a transaction that saved a categorisation model.
pub fn models_changed() {
    SAVED.fetch_add(1, Ordering::Release);
}

/// Models in memory, by user.
#[derive(Clone, Default)]
pub struct Models {
    loaded: Arc<Mutex<HashMap<Uuid, Loaded>>>,
    stamps: Arc<Mutex<HashMap<Uuid, Stamps>>>,
}

impl Models {
    /// The stored models of `user` and the global one, from memory when unchanged.
    async fn load(
        &self,
        conn: &mut PgConnection,
        user: Uuid,
    ) -> Result<(Option<Arc<Categorizer>>, Option<Arc<Categorizer>>), sqlx::Error> {
        let saved = SAVED.load(Ordering::Acquire);
        let stamps = match self.fresh_stamps(user, saved) {
            Some(stamps) => stamps,
            None => {
                let stamps: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
                    "SELECT user_id, trained_at FROM categorizer_models WHERE user_id = ANY($1)",
                )
                .bind([user, GLOBAL].as_slice())
                .fetch_all(&mut *conn)
                .await?;
                let mut held = self.stamps.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if held.len() >= MAX_CACHED {
                    held.clear();
                }
                held.insert(user, (Instant::now(), saved, stamps.clone()));
                stamps
            }
        };
        let mut found = (None, None);
        for (owner, trained_at) in stamps {
            let cached = self.cached(owner, trained_at);
            let model = match cached {
                Some(model) => model,
                None => {
                    let json: serde_json::Value =
                        sqlx::query_scalar("SELECT model FROM categorizer_models WHERE user_id = $1")
                            .bind(owner)
                            .fetch_one(&mut *conn)
                            .await?;
                    // Refitting is CPU work: off the runtime.
                    let rebuilt = tokio::task::spawn_blocking(move || Categorizer::from_json(json))
                        .await
                        .ok()
                        .flatten();
                    let Some(model) = rebuilt else {
                        tracing::warn!(%owner, "a stored categorisation model does not load; ignored");
                        continue;
                    };
                    let model = Arc::new(model);
                    self.remember(owner, trained_at, model.clone());
                    model
                }
            };
            if owner == GLOBAL {
                found.1 = Some(model);
            } else {
                found.0 = Some(model);
            }
        }
        Ok(found)
    }

    fn fresh_stamps(&self, user: Uuid, saved: u64) -> Option<Vec<(Uuid, DateTime<Utc>)>> {
        let held = self.stamps.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        held.get(&user)
            .filter(|(at, seen, _)| *seen == saved && at.elapsed() < STAMPS_FRESH)
            .map(|(_, _, stamps)| stamps.clone())
    }

    fn cached(&self, owner: Uuid, trained_at: DateTime<Utc>) -> Option<Arc<Categorizer>> {
        let loaded = self.loaded.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        loaded.get(&owner).filter(|(at, _)| *at == trained_at).map(|(_, m)| m.clone())
    }

    fn remember(&self, owner: Uuid, trained_at: DateTime<Utc>, model: Arc<Categorizer>) {
        let mut loaded = self.loaded.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if loaded.len() >= MAX_CACHED {
            loaded.clear();
        }
        loaded.insert(owner, (trained_at, model));
    }

    /// Suggests a category of `options` for each item: from the user's model when it knows the
    /// text, else from the global model by category name.
    pub async fn suggest(
        &self,
        conn: &mut PgConnection,
        user: Uuid,
        items: &[Item],
        options: &[CategoryOption],
    ) -> Result<Vec<Suggestion>, sqlx::Error> {
        let (own, global) = self.load(conn, user).await?;
        Ok(items.iter().map(|item| suggest_one(own.as_deref(), global.as_deref(), item, options)).collect())
    }
}

/// The most a suggestion for a merchant the model never saw may claim: below any sensible
/// auto-fill threshold (the engine's default is 0.8).
const NEW_MERCHANT_CONFIDENCE: f64 = 0.7;

/// The best of the user's and the global model for one item, limited to the categories of
/// the item's direction (expense for debits, income for credits).
pub fn suggest_one(
    own: Option<&Categorizer>,
    global: Option<&Categorizer>,
    item: &Item,
    options: &[CategoryOption],
) -> Suggestion {
    let wanted = if item.kind == "credit" { "income" } else { "expense" };
    let options: Vec<&CategoryOption> = options.iter().filter(|o| o.kind == wanted).collect();
    let features = features(&item.description, item.amount, &item.kind);
    let by_id = |ranked: Vec<(String, f64)>| -> Vec<(String, f64)> {
        ranked.into_iter().filter(|(id, _)| options.iter().any(|o| &o.id == id)).collect()
    };
    let by_name = |ranked: Vec<(String, f64)>| -> Vec<(String, f64)> {
        ranked
            .into_iter()
            .filter_map(|(name, p)| {
                options.iter().find(|o| o.name.trim().to_lowercase() == name).map(|o| (o.id.clone(), p))
            })
            .collect()
    };
    let user = || own.and_then(|m| m.predict(&features)).map(by_id).filter(|r| !r.is_empty());
    let shared = || global.and_then(|m| m.predict(&features)).map(by_name).filter(|r| !r.is_empty());
    let knows = |m: Option<&Categorizer>| m.is_some_and(|m| m.knows_merchant(&features));
    // The model that knows the merchant answers first: the user's, then the global one. Only
    // then words alone, where a city the user shops in says nothing of what they bought.
    let ranked = if knows(own) {
        user().map(|r| (r, "user", true))
    } else if knows(global) {
        shared().map(|r| (r, "global", true))
    } else {
        user().map(|r| (r, "user", false)).or_else(|| shared().map(|r| (r, "global", false)))
    };
    let Some((ranked, model, known)) = ranked else { return Suggestion::default() };
    // Renormalised over the categories the caller still has. A merchant the model never saw
    // is judged by its words alone ("grill", "market"), right about half the time on
    // merchants held out whole (docs/analytics.md): its confidence is scaled down so the
    // engine suggests it but never fills it in.
    let total: f64 = ranked.iter().map(|r| r.1).sum();
    let scale = if known { 1.0 } else { NEW_MERCHANT_CONFIDENCE };
    let ranked: Vec<(String, f64)> = ranked
        .into_iter()
        .map(|(id, p)| (id, if total > 0.0 { (scale * p / total).clamp(0.0, 1.0) } else { 0.0 }))
        .collect();
    Suggestion {
        category_id: Some(ranked[0].0.clone()),
        confidence: ranked[0].1,
        model,
        alternatives: ranked.into_iter().skip(1).take(ALTERNATIVES).collect(),
    }
}
