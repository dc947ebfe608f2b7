//! A bound on the CPU work answers cause: projections and chart rendering.
//!
//! Both are CPU-bound (model selection, rasterising a PNG). Run on the async workers, a burst
//! of them stalled every other call of the service; run without bound on the blocking pool,
//! one user's burst still took every core, the other users' calls timed out, and the gateway's
//! circuit breaker then opened for everyone. So the work runs on the blocking pool behind a
//! semaphore of one permit per core, and one user may have at most [`PER_USER`] such calls in
//! flight: past that the call is refused at once with `ResourceExhausted` (429 at the gateway,
//! which its breaker does not count as a failure).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::error::ApiError;

/// Projections and renders one user may have in flight at once.
pub(super) const PER_USER: usize = 2;

/// The semaphore and each user's count of calls in flight.
#[derive(Clone)]
pub(super) struct Renders {
    cores: Arc<Semaphore>,
    in_flight: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Default for Renders {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Renders { cores: Arc::new(Semaphore::new(cores)), in_flight: Arc::default() }
    }
}

/// A user's place among the calls in flight; leaving it frees the place.
pub(super) struct Turn {
    user: Uuid,
    in_flight: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = in_flight.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(&self.user);
            }
        }
    }
}

impl Renders {
    /// A place for one more of `user`'s calls, or 429 when they already have [`PER_USER`].
    pub(super) fn turn(&self, user: Uuid) -> Result<Turn, ApiError> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = in_flight.entry(user).or_default();
        if *count >= PER_USER {
            return Err(ApiError::TooMany("charts and forecasts at once; wait for the ones underway"));
        }
        *count += 1;
        Ok(Turn { user, in_flight: self.in_flight.clone() })
    }

    /// Awaits `work` (which runs its CPU part on the blocking pool itself) once a core is free.
    pub(super) async fn limit<T>(&self, work: impl std::future::Future<Output = T>) -> Result<T, ApiError> {
        let _core = self.cores.acquire().await.map_err(|e| ApiError::Internal(e.into()))?;
        Ok(work.await)
    }

    /// Runs `work` on the blocking pool once a core is free. The core is held by the blocking
    /// task itself, so a caller that gives up (a cancelled call) does not free it while the
    /// work still runs: cancelling and retrying cannot get around the bound.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let core = self.cores.clone().acquire_owned().await.map_err(|e| ApiError::Internal(e.into()))?;
        tokio::task::spawn_blocking(move || {
            let _core = core;
            work()
        })
        .await
        .map_err(|e| ApiError::Internal(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_holds_at_most_two_turns_and_a_finished_one_frees_its_place() {
        let renders = Renders::default();
        let (ana, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let first = renders.turn(ana).expect("a first");
        let _second = renders.turn(ana).expect("a second");
        assert!(matches!(renders.turn(ana), Err(ApiError::TooMany(_))), "a third is refused");
        assert!(renders.turn(bob).is_ok(), "another user is not affected");
        drop(first);
        assert!(renders.turn(ana).is_ok(), "a finished call frees its place");
    }
}
