//! Circuit breakers, one per upstream, as a tower layer under the tonic clients; and retries
//! of idempotent reads within a budget.
//!
//! Closed, the breaker counts outcomes in a tumbling window. It opens when `consecutive`
//! calls fail in a row, or when at least `min_calls` calls in the window failed at
//! `failure_ratio` or more. Open, every call fails at once with `Unavailable` and a
//! `retry-after`, so the gateway answers 503 in microseconds instead of waiting on a dead
//! backend. After `open_for` one probe goes through (half-open): success closes the
//! breaker, failure opens it again.
//!
//! A failure is a transport error, a deadline, or a status that says the backend is unwell
//! (`Unavailable`, `Unknown`, `Internal`, `DataLoss`). Client errors and throttling are the
//! backend working as designed and count as success.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use tonic::Code;
use tower::retry::budget::{Budget, TpsBudget};
use tower::{Layer, Service};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The `BREAKER_*` settings, shared by every upstream's breaker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// `BREAKER_CONSECUTIVE_FAILURES`, default 5.
    pub consecutive: u32,
    /// `BREAKER_FAILURE_RATIO`, default 0.5.
    pub failure_ratio: f64,
    /// `BREAKER_MIN_CALLS`, default 20: fewer calls in a window never open on the ratio.
    pub min_calls: u32,
    /// `BREAKER_WINDOW_MS`, default 10 000.
    pub window: Duration,
    /// `BREAKER_OPEN_MS`, default 5 000: how long it stays open before probing.
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> BreakerConfig {
        BreakerConfig {
            consecutive: 5,
            failure_ratio: 0.5,
            min_calls: 20,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(5),
        }
    }
}

/// What the breaker lets through now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// One probe is out; other calls are refused until it answers.
    HalfOpen,
    /// Calls are refused until the open period ends.
    Open,
}

#[derive(Debug)]
enum Phase {
    Closed { window_start: Instant, calls: u32, failures: u32, consecutive: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// The phase, and which of its turns this is. Every change of phase starts a new generation,
/// and a verdict counts only in the generation its call was admitted in: a slow call let in
/// before the breaker opened must not close it by answering while the probe is out.
#[derive(Debug)]
struct Cycle {
    phase: Phase,
    generation: u64,
}

impl Cycle {
    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.generation += 1;
    }
}

/// One upstream's breaker, shared by every client on its channel.
#[derive(Debug)]
pub struct CircuitBreaker {
    name: &'static str,
    config: BreakerConfig,
    cycle: Mutex<Cycle>,
    budget: TpsBudget,
}

impl CircuitBreaker {
    /// A closed breaker for the upstream called `name`.
    pub fn new(name: &'static str, config: BreakerConfig) -> Arc<CircuitBreaker> {
        let breaker = CircuitBreaker {
            name,
            config,
            cycle: Mutex::new(Cycle {
                phase: Phase::Closed { window_start: Instant::now(), calls: 0, failures: 0, consecutive: 0 },
                generation: 0,
            }),
            // Retries may add 20 % to the calls of the last 10 s, plus 3 a second: enough to
            // ride out one dropped connection, never enough to multiply an overload.
            budget: TpsBudget::new(Duration::from_secs(10), 3, 0.2),
        };
        gauge(name, BreakerState::Closed);
        Arc::new(breaker)
    }

    /// The upstream's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    fn lock(&self) -> MutexGuard<'_, Cycle> {
        // A panic while holding this lock cannot leave the counters inconsistent in a way that
        // matters more than refusing all traffic would, so keep going with the inner value.
        self.cycle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The state now (an expired open period reads as half-open).
    pub fn state(&self) -> BreakerState {
        match self.lock().phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { until } if Instant::now() >= until => BreakerState::HalfOpen,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen => BreakerState::HalfOpen,
        }
    }

    /// Lets a call through (telling the generation it was admitted in), or says how long
    /// until one may try.
    fn admit(&self) -> Result<u64, Duration> {
        let mut cycle = self.lock();
        match cycle.phase {
            Phase::Closed { .. } => Ok(cycle.generation),
            Phase::Open { until } => {
                let now = Instant::now();
                if now < until {
                    return Err(until - now);
                }
                cycle.enter(Phase::HalfOpen);
                gauge(self.name, BreakerState::HalfOpen);
                Ok(cycle.generation)
            }
            // The probe is out; everyone else waits for its verdict.
            Phase::HalfOpen => Err(Duration::from_secs(1)),
        }
    }

    /// A call ended without a verdict (its future was dropped: the client left, or the
    /// request deadline cut it). If it was the half-open probe, nobody else will ever give a
    /// verdict, so count it as failed rather than refuse everything forever.
    fn abandon(&self, generation: u64) {
        let mut cycle = self.lock();
        if matches!(cycle.phase, Phase::HalfOpen) && cycle.generation == generation {
            cycle.enter(Phase::Open { until: Instant::now() + self.config.open_for });
            gauge(self.name, BreakerState::Open);
        }
    }

    fn record(&self, failed: bool, generation: u64) {
        let now = Instant::now();
        let mut cycle = self.lock();
        if cycle.generation != generation {
            return;
        }
        let next = match &mut cycle.phase {
            Phase::HalfOpen if failed => Some(Phase::Open { until: now + self.config.open_for }),
            Phase::HalfOpen => {
                Some(Phase::Closed { window_start: now, calls: 0, failures: 0, consecutive: 0 })
            }
            Phase::Open { .. } => None,
            Phase::Closed { window_start, calls, failures, consecutive } => {
                if now.duration_since(*window_start) >= self.config.window {
                    (*window_start, *calls, *failures) = (now, 0, 0);
                }
                *calls += 1;
                if failed {
                    *failures += 1;
                    *consecutive += 1;
                } else {
                    *consecutive = 0;
                }
                let ratio_tripped = *calls >= self.config.min_calls
                    && f64::from(*failures) >= self.config.failure_ratio * f64::from(*calls);
                (*consecutive >= self.config.consecutive || ratio_tripped)
                    .then(|| Phase::Open { until: now + self.config.open_for })
            }
        };
        if let Some(next) = next {
            let state = match next {
                Phase::Open { .. } => {
                    tracing::warn!(upstream = self.name, "circuit breaker opened");
                    BreakerState::Open
                }
                _ => {
                    tracing::info!(upstream = self.name, "circuit breaker closed");
                    BreakerState::Closed
                }
            };
            gauge(self.name, state);
            cycle.enter(next);
        }
    }
}

fn gauge(name: &'static str, state: BreakerState) {
    let value = match state {
        BreakerState::Closed => 0.0,
        BreakerState::HalfOpen => 1.0,
        BreakerState::Open => 2.0,
    };
    metrics::gauge!("gateway_breaker_state", "upstream" => name).set(value);
}

/// Gives an admitted call's verdict to the breaker even if the call's future is dropped.
struct Admitted {
    breaker: Arc<CircuitBreaker>,
    generation: u64,
    settled: bool,
}

impl Admitted {
    fn record(&mut self, failed: bool) {
        self.settled = true;
        self.breaker.record(failed, self.generation);
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if !self.settled {
            self.breaker.abandon(self.generation);
        }
    }
}

/// The layer that puts `breaker` in front of a channel.
#[derive(Clone)]
pub struct BreakerLayer(pub Arc<CircuitBreaker>);

impl<S> Layer<S> for BreakerLayer {
    type Service = Breaker<S>;

    fn layer(&self, inner: S) -> Breaker<S> {
        Breaker { inner, breaker: self.0.clone() }
    }
}

/// A channel behind a breaker.
#[derive(Clone)]
pub struct Breaker<S> {
    inner: S,
    breaker: Arc<CircuitBreaker>,
}

/// Reads that are safe to send twice: they change nothing.
fn idempotent(path: &str) -> bool {
    let method = path.rsplit('/').next().unwrap_or("");
    ["Get", "List", "Render"].iter().any(|prefix| method.starts_with(prefix)) || method == "Categorize"
}

fn failed<B, E>(outcome: &Result<http::Response<B>, E>) -> bool {
    match outcome {
        Err(_) => true,
        // Unary errors come back trailers-only, so the status is in the headers; a success
        // puts it in trailers, which arrive after the breaker's verdict is needed.
        Ok(response) => response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i32>().ok())
            .map(Code::from_i32)
            .is_some_and(|code| {
                matches!(
                    code,
                    Code::Unavailable
                        | Code::Unknown
                        | Code::Internal
                        | Code::DataLoss
                        | Code::DeadlineExceeded
                )
            }),
    }
}

/// Whether a failed read may go again: only when it never reached a backend that could still
/// be working on it (no connection, a refused or reset connection, `Unavailable`). A call that
/// ran out of time is not retried: the backend is slow, and a second copy would only add load.
fn retryable<B>(outcome: &Result<http::Response<B>, BoxError>) -> bool {
    match outcome {
        Err(error) => !timed_out(error.as_ref()),
        Ok(response) => response.headers().get("grpc-status").is_some_and(|v| v.as_bytes() == b"14"),
    }
}

fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |e| e.source()).any(|e| e.is::<tonic::TimeoutExpired>())
}

/// What a failed call means to the client.
/// - The channel's own deadline surfaces as `Cancelled` ("Timeout expired"), which reads as
///   "the caller gave up"; to the client it is the upstream that was too slow: 504.
/// - Any other transport failure (a connection reset mid-call, an upstream shutting down) would
///   otherwise become `Internal` through tonic's h2 mapping, a 500. It is the upstream being
///   unavailable: 503 with `Retry-After`, which a client retries with its Idempotency-Key.
/// - A status the upstream sent passes unchanged.
fn classify(error: BoxError) -> BoxError {
    if timed_out(error.as_ref()) {
        Box::new(tonic::Status::deadline_exceeded("the upstream did not answer in time"))
    } else if error.is::<tonic::Status>() {
        error
    } else {
        let mut status =
            tonic::Status::unavailable(format!("the connection to the upstream failed: {error}"));
        if let Ok(value) = "1".parse() {
            status.metadata_mut().insert("retry-after", value);
        }
        Box::new(status)
    }
}

fn refusal(name: &str, wait: Duration) -> BoxError {
    let mut status = tonic::Status::unavailable(format!("{name} is unavailable (circuit open)"));
    let seconds = wait.as_millis().div_ceil(1000).max(1) as u64;
    if let Ok(value) = seconds.to_string().parse() {
        status.metadata_mut().insert("retry-after", value);
    }
    Box::new(status)
}

impl<S, B> Service<http::Request<tonic::body::Body>> for Breaker<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError> + Send,
    B: Send + 'static,
{
    type Response = http::Response<B>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let breaker = self.breaker.clone();
        let generation = match breaker.admit() {
            Ok(generation) => generation,
            Err(wait) => return Box::pin(std::future::ready(Err(refusal(breaker.name, wait)))),
        };
        // The service that was made ready serves this call; a clone serves a retry.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let retry_target = self.inner.clone();
        let mut admitted = Admitted { breaker: breaker.clone(), generation, settled: false };
        Box::pin(async move {
            if !idempotent(request.uri().path()) {
                let outcome = inner.call(request).await.map_err(Into::into);
                admitted.record(failed(&outcome));
                return outcome.map_err(classify);
            }
            breaker.budget.deposit();
            // A read body is one small protobuf message; keeping a copy makes it resendable.
            let (parts, body) = request.into_parts();
            let bytes: Bytes = body.collect().await.map_err(Into::<BoxError>::into)?.to_bytes();
            let rebuild =
                || http::Request::from_parts(parts.clone(), tonic::body::Body::new(Full::new(bytes.clone())));
            let outcome = inner.call(rebuild()).await.map_err(Into::into);
            admitted.record(failed(&outcome));
            if !retryable(&outcome) || !breaker.budget.withdraw() {
                return outcome.map_err(classify);
            }
            let Ok(generation) = breaker.admit() else { return outcome.map_err(classify) };
            let mut admitted = Admitted { breaker: breaker.clone(), generation, settled: false };
            metrics::counter!("gateway_upstream_retries_total", "upstream" => breaker.name).increment(1);
            tokio::time::sleep(Duration::from_millis(25)).await;
            let mut target = retry_target;
            let outcome = match std::future::poll_fn(|cx| target.poll_ready(cx)).await {
                Ok(()) => target.call(rebuild()).await.map_err(Into::into),
                Err(error) => Err(error.into()),
            };
            admitted.record(failed(&outcome));
            outcome.map_err(classify)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BreakerConfig {
        BreakerConfig {
            consecutive: 3,
            failure_ratio: 0.5,
            min_calls: 4,
            window: Duration::from_secs(60),
            open_for: Duration::from_millis(50),
        }
    }

    #[test]
    fn opens_on_consecutive_failures_probes_and_closes() {
        let breaker = CircuitBreaker::new("engine", config());
        for _ in 0..3 {
            let generation = breaker.admit().expect("closed admits");
            breaker.record(true, generation);
        }
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(breaker.admit().is_err(), "open refuses at once");
        std::thread::sleep(Duration::from_millis(60));
        let probe = breaker.admit().expect("the probe goes through");
        assert!(breaker.admit().is_err(), "only one probe at a time");
        breaker.record(true, probe);
        assert_eq!(breaker.state(), BreakerState::Open, "a failed probe opens again");
        std::thread::sleep(Duration::from_millis(60));
        let probe = breaker.admit().expect("a new probe");
        breaker.record(false, probe);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn opens_on_the_failure_ratio_but_not_below_min_calls() {
        let breaker = CircuitBreaker::new("analytics", config());
        // Alternating never makes three in a row; the ratio trips at the fourth call.
        breaker.record(true, 0);
        breaker.record(false, 0);
        breaker.record(true, 0);
        assert_eq!(breaker.state(), BreakerState::Closed, "three calls are under min_calls");
        breaker.record(false, 0);
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[test]
    fn a_dropped_probe_reopens_instead_of_blocking_forever() {
        let breaker = CircuitBreaker::new("notification", config());
        for _ in 0..3 {
            breaker.record(true, 0);
        }
        std::thread::sleep(Duration::from_millis(60));
        let generation = breaker.admit().expect("the probe goes through");
        drop(Admitted { breaker: breaker.clone(), generation, settled: false });
        assert_eq!(breaker.state(), BreakerState::Open, "a lost probe counts as failed");
        std::thread::sleep(Duration::from_millis(60));
        assert!(breaker.admit().is_ok(), "and a new probe goes out later");
    }

    #[test]
    fn a_call_admitted_before_opening_cannot_decide_the_probe() {
        let breaker = CircuitBreaker::new("engine", config());
        let slow = breaker.admit().expect("closed admits");
        for _ in 0..3 {
            breaker.record(true, breaker.admit().expect("closed admits"));
        }
        std::thread::sleep(Duration::from_millis(60));
        let probe = breaker.admit().expect("the probe goes through");
        // The slow call from before the opening finally succeeds, or is dropped: neither is
        // the probe's verdict.
        breaker.record(false, slow);
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        drop(Admitted { breaker: breaker.clone(), generation: slow, settled: false });
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        breaker.record(false, probe);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn retries_only_reads() {
        assert!(idempotent("/budgetsmart.engine.v1.Transactions/ListTransactions"));
        assert!(idempotent("/budgetsmart.analytics.v1.Analytics/GetForecast"));
        assert!(idempotent("/budgetsmart.analytics.v1.Analytics/Categorize"));
        assert!(!idempotent("/budgetsmart.engine.v1.Transactions/CreateTransaction"));
        assert!(!idempotent("/budgetsmart.engine.v1.Auth/Login"));
    }

    #[test]
    fn a_timed_out_read_is_not_retried_and_reads_as_a_deadline() {
        let timeout: BoxError = Box::new(tonic::TimeoutExpired(()));
        let refused: BoxError = Box::new(tonic::ConnectError("connection refused".into()));
        assert!(!retryable::<()>(&Err(timeout)));
        assert!(retryable::<()>(&Err(refused)));
        let status = tonic::Status::from_error(classify(Box::new(tonic::TimeoutExpired(()))));
        assert_eq!(status.code(), Code::DeadlineExceeded);
        let status = tonic::Status::from_error(classify(Box::new(tonic::Status::not_found("x"))));
        assert_eq!(status.code(), Code::NotFound, "a status from the upstream passes unchanged");
        // A connection lost mid-call (h2's errors would read as Internal, a 500).
        let reset: BoxError = Box::new(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"));
        let status = tonic::Status::from_error(classify(reset));
        assert_eq!(status.code(), Code::Unavailable);
    }
}
