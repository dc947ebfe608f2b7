//! The end-to-end harness: all four services on random ports against the real PostgreSQL,
//! RabbitMQ and Redis, isolated per test by a fresh database, a unique exchange and queue
//! prefix, and a unique Redis key prefix, so tests run in parallel.
//!
//! The parts, from the bottom up:
//! - `env`: where the shared servers are (environment variables, local defaults);
//! - `system`: [`TestSystem`], the four services started in this process, and its stop;
//! - `http`, `bus`, `database`: what a test does with a running system, through the gateway,
//!   the broker and the databases;
//! - `wait`: polling until something holds;
//! - `proxy`, `tls`, `servers`, `mail_sink`: test-owned fault injectors and server processes;
//! - `chaos`: the fault-under-load harness behind `make chaos`.

pub mod chaos;
pub mod mail_sink;
pub mod proxy;
pub mod servers;
pub mod tls;

mod bus;
mod database;
mod env;
mod http;
mod system;
mod wait;

pub use bus::TestQueue;
pub use env::{admin_database_url, amqp_url, mail_sink_api, mail_sink_smtp, redis_url, url_addr};
pub use http::{Reply, Session, bench_user, reply, this_month};
pub use system::{Options, TEST_GATEWAY_TOKEN, TestSystem, engine_config};
pub use wait::eventually;
