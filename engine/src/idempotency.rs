//! `Idempotency-Key` recorded in the creating transaction.
//!
//! The gateway's Redis record stays the fast path (it replays without a call and answers a
//! concurrent duplicate with 409), but it is written after the engine commits: a gateway that
//! died in between let a retry create a second resource. Here the key is claimed by the very
//! transaction that creates, and the answer is stored in it, so the resource and the record
//! commit together or not at all.
//!
//! Claiming inserts `(scope, method, key)` with `ON CONFLICT DO NOTHING`, as the transaction's
//! first statement. A concurrent holder of the same key makes that insert wait on the primary
//! key until it ends: if it commits, the insert conflicts and its answer is replayed; if it
//! rolls back, the insert goes through and this call does the work. A call that fails rolls its
//! claim back with everything else, so only successful answers are ever replayed and a retry
//! after a failure simply runs again.
//!
//! Every create goes through [`IdempotentWrite`] (`AppState::idempotent_write`): it opens the
//! transaction and claims the key first, hands back either the replayed answer or the
//! transaction, and `commit` records the answer with the effect. A create cannot forget a step
//! or take them out of order, because the transaction is only reachable after the claim.

use std::time::Duration;

use budgetsmart_common::events::OutboxWaker;
use hmac::{Hmac, Mac};
use prost::Message;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Longest key accepted, the same limit as the gateway's.
pub const MAX_KEY: usize = 255;
/// Rows one sweep statement deletes at most, so a sweep never holds many locks or writes a
/// burst of WAL at once; the sweeper repeats while batches come back full.
pub const SWEEP_BATCH: u64 = 1_000;
/// The field errors name: the header the client sent.
const FIELD: &str = "Idempotency-Key";

/// Whose key it is. Keys are per caller, so one user's key never replays another's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The authenticated caller.
    User(Uuid),
    /// Registration, which has no caller yet.
    Anonymous,
}

impl Scope {
    fn as_text(self) -> String {
        match self {
            Scope::User(id) => id.to_string(),
            Scope::Anonymous => "anonymous".to_owned(),
        }
    }
}

/// Fingerprints request bodies with HMAC-SHA256 under the service credential, so a stored
/// fingerprint of a body holding a password reveals nothing (a plain hash could be checked
/// against guesses).
#[derive(Clone)]
pub struct Fingerprinter {
    keyed: Hmac<Sha256>,
}

impl Fingerprinter {
    /// A fingerprinter keyed with `secret` (`SERVICE_TOKEN`).
    pub fn new(secret: &SecretString) -> anyhow::Result<Fingerprinter> {
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
            .map_err(|e| anyhow::anyhow!("SERVICE_TOKEN cannot key HMAC-SHA256: {e}"))?;
        Ok(Fingerprinter { keyed })
    }

    fn fingerprint(&self, bytes: &[u8]) -> Vec<u8> {
        let mut mac = self.keyed.clone();
        mac.update(bytes);
        mac.finalize().into_bytes().to_vec()
    }

    /// The idempotent request `body` makes under `key` for `method`, or `None` when the
    /// client sent no key. A key outside 1–255 characters is a field error.
    pub fn request<M: Message>(
        &self,
        key: Option<String>,
        scope: Scope,
        method: &'static str,
        body: &M,
    ) -> AppResult<Option<IdempotentRequest>> {
        let Some(key) = key else { return Ok(None) };
        if !(1..=MAX_KEY).contains(&key.chars().count()) {
            return Err(AppError::field(FIELD, format!("must be 1 to {MAX_KEY} characters")));
        }
        Ok(Some(IdempotentRequest {
            scope: scope.as_text(),
            method,
            key,
            fingerprint: self.fingerprint(&body.encode_to_vec()),
        }))
    }
}

/// A create made with a key: where its answer is recorded.
#[derive(Debug, Clone)]
pub struct IdempotentRequest {
    scope: String,
    method: &'static str,
    key: String,
    fingerprint: Vec<u8>,
}

/// Claims the key in `conn`'s transaction; call it before anything else the transaction does,
/// so a call waiting on a concurrent holder holds no other lock. `Some(answer)` means the key
/// was used before with the same body: return that answer and do nothing else. The same key
/// with another body is a field error on `Idempotency-Key` (422 at the gateway).
async fn claim<R: Message + Default>(
    conn: &mut PgConnection,
    request: Option<&IdempotentRequest>,
) -> AppResult<Option<R>> {
    let Some(request) = request else { return Ok(None) };
    // Twice at most: the row can vanish between the conflict and the read only when the
    // retention sweep takes an expired one, and then the key is free to claim again.
    for _ in 0..2 {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (scope, method, key, fingerprint) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&request.scope)
        .bind(request.method)
        .bind(&request.key)
        .bind(&request.fingerprint)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(None);
        }
        let stored: Option<(Vec<u8>, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT fingerprint, response FROM idempotency_keys \
             WHERE scope = $1 AND method = $2 AND key = $3",
        )
        .bind(&request.scope)
        .bind(request.method)
        .bind(&request.key)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((fingerprint, response)) = stored else { continue };
        if fingerprint != request.fingerprint {
            return Err(AppError::field(FIELD, "was already used with a different request"));
        }
        let method = request.method;
        // The answer is written in the claiming transaction, so a committed row always has one.
        let response = response.ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("an idempotency key of {method} committed without its answer"))
        })?;
        let answer = R::decode(response.as_slice()).map_err(|e| {
            AppError::Internal(anyhow::anyhow!("the stored answer of {method} does not decode: {e}"))
        })?;
        tracing::info!(method, "idempotent replay");
        return Ok(Some(answer));
    }
    Err(AppError::Internal(anyhow::anyhow!("could not claim an idempotency key of {}", request.method)))
}

/// Stores `answer` as the key's result, in the transaction that claimed it and made the effect.
async fn complete<R: Message>(
    conn: &mut PgConnection,
    request: Option<&IdempotentRequest>,
    answer: &R,
) -> AppResult<()> {
    let Some(request) = request else { return Ok(()) };
    sqlx::query("UPDATE idempotency_keys SET response = $4 WHERE scope = $1 AND method = $2 AND key = $3")
        .bind(&request.scope)
        .bind(request.method)
        .bind(&request.key)
        .bind(answer.encode_to_vec())
        .execute(conn)
        .await?;
    Ok(())
}

/// What opening an idempotent create gives.
pub enum Claim<'r, R> {
    /// The key was used before with the same body: this is that call's answer, and nothing
    /// else may be done.
    Replay(R),
    /// The key is claimed (or there was none): make the effect in this transaction.
    Write(IdempotentWrite<'r>),
}

/// A create's transaction, its key already claimed as the transaction's first statement.
pub struct IdempotentWrite<'r> {
    tx: Transaction<'static, Postgres>,
    request: Option<&'r IdempotentRequest>,
    outbox: OutboxWaker,
}

impl<'r> IdempotentWrite<'r> {
    /// Opens the transaction and claims `request`'s key in it.
    pub async fn begin<R: Message + Default>(
        pool: &PgPool,
        outbox: &OutboxWaker,
        request: Option<&'r IdempotentRequest>,
    ) -> AppResult<Claim<'r, R>> {
        let mut tx = pool.begin().await?;
        if let Some(answer) = claim(&mut tx, request).await? {
            return Ok(Claim::Replay(answer));
        }
        Ok(Claim::Write(IdempotentWrite { tx, request, outbox: outbox.clone() }))
    }

    /// The transaction to write the effect in.
    pub fn tx(&mut self) -> &mut Transaction<'static, Postgres> {
        &mut self.tx
    }

    /// Records `answer` under the key, commits, and wakes the outbox relay for the events the
    /// effect queued. Dropping the write instead rolls back the effect and the claim.
    pub async fn commit<R: Message>(mut self, answer: &R) -> AppResult<()> {
        complete(&mut self.tx, self.request, answer).await?;
        self.tx.commit().await?;
        self.outbox.wake();
        Ok(())
    }
}

/// Forgets every key of `scope`, with the account's other data when it is deleted: the stored
/// answers are that user's data too.
pub async fn forget(conn: &mut PgConnection, scope: Scope) -> AppResult<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1").bind(scope.as_text()).execute(conn).await?;
    Ok(())
}

/// Deletes at most [`SWEEP_BATCH`] keys older than `ttl` and returns how many went. Rows a
/// concurrent sweep (another replica) holds are skipped rather than waited for.
pub async fn sweep(pool: &PgPool, ttl: Duration) -> AppResult<u64> {
    let deleted = sqlx::query(
        "DELETE FROM idempotency_keys WHERE (scope, method, key) IN ( \
           SELECT scope, method, key FROM idempotency_keys \
           WHERE created_at < now() - make_interval(secs => $1) \
           ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind(ttl.as_secs_f64())
    .bind(SWEEP_BATCH as i64)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprinter(secret: &str) -> Fingerprinter {
        Fingerprinter::new(&SecretString::from(secret.to_owned())).expect("any key length works")
    }

    #[test]
    fn fingerprints_depend_on_body_and_secret() {
        let body = budgetsmart_proto::engine::v1::RegisterRequest {
            email: "ana@example.com".into(),
            password: "correct horse battery staple".into(),
            name: "Ana".into(),
        };
        let other = budgetsmart_proto::engine::v1::RegisterRequest { name: "Bob".into(), ..body.clone() };
        let one = fingerprinter("one");
        let request = |f: &Fingerprinter, b: &budgetsmart_proto::engine::v1::RegisterRequest| {
            f.request(Some("k".into()), Scope::Anonymous, "Register", b).expect("valid").expect("a key")
        };
        assert_eq!(request(&one, &body).fingerprint, request(&one, &body).fingerprint);
        assert_ne!(request(&one, &body).fingerprint, request(&one, &other).fingerprint);
        assert_ne!(request(&one, &body).fingerprint, request(&fingerprinter("two"), &body).fingerprint);
    }

    #[test]
    fn keys_must_be_1_to_255_characters() {
        let f = fingerprinter("s");
        let body = budgetsmart_proto::engine::v1::GetMeRequest {};
        let user = Scope::User(Uuid::now_v7());
        assert!(f.request(None, user, "CreateCategory", &body).expect("no key is fine").is_none());
        assert!(f.request(Some(String::new()), user, "CreateCategory", &body).is_err());
        assert!(f.request(Some("k".repeat(MAX_KEY + 1)), user, "CreateCategory", &body).is_err());
        assert!(f.request(Some("k".repeat(MAX_KEY)), user, "CreateCategory", &body).expect("fits").is_some());
    }
}
