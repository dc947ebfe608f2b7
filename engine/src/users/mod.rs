//! Users and auth: accounts, sign-in and what guards them.
//!
//! - `account`: the stored user row, finding it, address shape, password check.
//! - `service`: registration with default categories, and the Users gRPC service (profile,
//!   password, email, two-factor sign-in, sessions, deletion, audit log), above `mfa` and
//!   `verification`.
//! - `auth`: the Auth gRPC service (register, login, refresh, logout), over `service`,
//!   `sessions` and `throttle`.
//! - `sessions`: rotating refresh-token families in Redis.
//! - `throttle`: password-guess limits in Redis.
//! - `passwords`: argon2id hashing and the password policy.
//! - `audit`: the security log a user reads at `GET /me/audit`.
//! - `email_tokens`: single-use tokens sent by email (password reset, verification).
//! - `reset`: the password reset, from the request to the new password.
//! - `verification`: verified email, from the registration's link to a change of address.
//! - `totp`: TOTP and recovery-code arithmetic, with no storage.
//! - `mfa`: two-factor sign-in: enrolment, the login's second step, turning it off.

pub mod account;
pub mod audit;
pub mod auth;
pub mod email_tokens;
pub mod mfa;
pub mod passwords;
pub mod reset;
pub mod service;
pub mod sessions;
pub mod throttle;
pub mod totp;
pub mod verification;
