//! What every gRPC handler shares.

use std::sync::Arc;

use budgetsmart_common::events::OutboxWaker;
use budgetsmart_common::jwt::TokenSigner;
use sqlx::{PgPool, Postgres, Transaction};

use crate::error::AppResult;
use crate::idempotency::{Claim, Fingerprinter, IdempotentRequest, IdempotentWrite, Scope};
use crate::transactions::autocategorize::AutoCategorizer;
use crate::transactions::owner::OwnerCache;
use crate::users::passwords::Passwords;
use crate::users::sessions::Sessions;
use crate::users::throttle::LoginThrottle;

/// Shared handles, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The engine's database (search_path = engine).
    pub pool: PgPool,
    /// Refresh-token sessions in Redis.
    pub sessions: Sessions,
    /// Failed-login counters in Redis.
    pub throttle: LoginThrottle,
    /// Access-token issuer.
    pub signer: Arc<TokenSigner>,
    /// Wakes the outbox relay after commits that queued events.
    pub outbox: OutboxWaker,
    /// Fills in categories from analytics' suggestions.
    pub categorizer: AutoCategorizer,
    /// The home currency and categories of recent creators (a hint the write checks).
    pub owners: OwnerCache,
    /// Fingerprints the bodies of creates made with an Idempotency-Key.
    pub idempotency: Fingerprinter,
    /// Argon2id with bounded concurrency and memory.
    pub passwords: Passwords,
    /// Recognises calls from the gateway, whose forwarded client address is believed.
    pub gateway: crate::request_metadata::Gateway,
    /// Cancelled when the engine stops: background imports finish their batch and leave the
    /// rest to the next engine's sweep.
    pub stopping: tokio_util::sync::CancellationToken,
}

impl AppState {
    /// Commits a transaction that may have queued events, then wakes the relay.
    pub async fn commit(&self, tx: Transaction<'static, Postgres>) -> AppResult<()> {
        tx.commit().await?;
        self.outbox.wake();
        Ok(())
    }

    /// The idempotent request a create call makes under `method`, read from its metadata:
    /// `None` without an `Idempotency-Key`, a field error for a key of the wrong length.
    pub fn idempotent_request<T: prost::Message>(
        &self,
        request: &tonic::Request<T>,
        scope: Scope,
        method: &'static str,
    ) -> AppResult<Option<IdempotentRequest>> {
        crate::request_metadata::idempotent(&self.idempotency, request, scope, method)
    }

    /// Opens a create's transaction with its `Idempotency-Key` claimed first: the one way
    /// every create starts (see `idempotency`).
    pub async fn idempotent_write<'r, R: prost::Message + Default>(
        &self,
        request: Option<&'r IdempotentRequest>,
    ) -> AppResult<Claim<'r, R>> {
        IdempotentWrite::begin(&self.pool, &self.outbox, request).await
    }
}
