//! Every end-to-end test, as one test binary: one link instead of 32 (a warm rebuild of the e2e
//! tests took 52 s with 32 binaries, 20 s with one). nextest still runs each test in its own
//! process, so a test sees no other test's globals.

mod analytics;
mod audit;
mod bad_input;
mod bank_files;
mod batched_apply;
mod behaviour;
mod consumer_faults;
mod currencies;
mod datastore_tls;
mod edge;
mod email_verification;
mod end_to_end;
mod export;
mod features;
mod goals;
mod household;
mod idempotency;
mod isolation;
mod live;
mod mail_abuse;
mod migrations;
mod no_loss;
mod notifications;
mod openapi;
mod owner_cache;
mod password_reset;
mod replicas;
mod retraining;
mod shutdown;
mod tokens;
mod trace_propagation;
mod two_factor;
