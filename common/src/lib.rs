//! Plumbing shared by every BudgetSmart service. Nothing service-specific lives here.
#![forbid(unsafe_code)]

pub mod config;
pub mod currency;
pub mod database;
pub mod discovery;
pub mod events;
pub mod grpc;
pub mod headers;
pub mod jwt;
pub mod keys;
pub mod metrics;
pub mod money;
pub mod observe;
pub mod pagination;
pub mod redis_client;
pub mod service;
pub mod shutdown;
pub mod telemetry;
