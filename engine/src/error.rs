//! The engine's one error type, and the single place it becomes a gRPC status.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input broke a rule; one entry per field.
    #[error("invalid input")]
    Validation(Vec<(String, String)>),
    /// The resource does not exist for this caller (another user's counts as missing).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule: the thing already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// The current state forbids the change (e.g. a category still in use).
    #[error("{0}")]
    Conflict(String),
    /// Bad credentials or token.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Too many attempts; try again after this many seconds.
    #[error("too many attempts")]
    Throttled { retry_after: u64 },
    /// A bounded resource is saturated (every password-hashing slot busy): 429 with
    /// `retry-after`, and not an upstream failure, so the gateway's breaker does not trip on a
    /// flood of logins.
    #[error("busy: {0}")]
    Busy(&'static str),
    /// A datastore cannot be reached right now (connection lost, restarting, pool
    /// exhausted): the client may retry. Logged, never shown.
    #[error("unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// A bug or an infrastructure fault; logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Errors that mean "the database is not there right now" rather than a fault in the request:
/// a dropped or refused connection, an exhausted pool, a server shutting down or starting up
/// (SQLSTATE class 08, and 57P01–57P03). `make chaos` found these answered 500 while
/// PostgreSQL restarted.
fn database_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
            true
        }
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

impl AppError {
    /// A validation error on one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> AppError {
        AppError::Validation(vec![(field.into(), message.into())])
    }
}

impl From<budgetsmart_common::pagination::InvalidPage> for AppError {
    fn from(error: budgetsmart_common::pagination::InvalidPage) -> Self {
        AppError::field(error.field, error.message)
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            match db.constraint() {
                Some("users_email_key") => {
                    return AppError::AlreadyExists("an account with this email already exists".into());
                }
                Some("categories_user_name_key") => {
                    return AppError::AlreadyExists("a category with this name already exists".into());
                }
                Some("budgets_user_month_currency_key") => {
                    return AppError::AlreadyExists(
                        "a budget for this month and currency already exists".into(),
                    );
                }
                Some("transactions_category_fkey") if db.is_foreign_key_violation() => {
                    return AppError::field("category_id", "no such category");
                }
                Some("transactions_account_fkey") if db.is_foreign_key_violation() => {
                    return AppError::field("account_id", "no such account");
                }
                Some("budget_category_limits_category_fkey") if db.is_foreign_key_violation() => {
                    return AppError::field("category_limits", "refers to a category that does not exist");
                }
                // A write by a still-valid access token of an account deleted since: every
                // table's owner reference is `<table>_user_id_fkey`. 401, not 500.
                Some(constraint)
                    if db.is_foreign_key_violation() && constraint.ends_with("_user_id_fkey") =>
                {
                    return AppError::Unauthenticated("the account no longer exists");
                }
                _ => {}
            }
        }
        if database_unavailable(&error) {
            return AppError::Unavailable(error.into());
        }
        AppError::Internal(error.into())
    }
}

impl From<redis::RedisError> for AppError {
    fn from(error: redis::RedisError) -> Self {
        // Sessions and the login throttle live in Redis: while it is away, login and refresh
        // are unavailable (503), not broken (500). `make chaos` found a 500 here.
        if error.is_io_error()
            || error.is_connection_dropped()
            || error.is_connection_refusal()
            || error.is_timeout()
        {
            return AppError::Unavailable(error.into());
        }
        AppError::Internal(error.into())
    }
}

impl From<AppError> for Status {
    fn from(error: AppError) -> Status {
        match error {
            AppError::Validation(fields) => {
                let violations = fields
                    .into_iter()
                    .map(|(field, message)| FieldViolation::new(field, message))
                    .collect::<Vec<_>>();
                Status::with_error_details(
                    Code::InvalidArgument,
                    "the request is invalid",
                    ErrorDetails::with_bad_request(violations),
                )
            }
            AppError::NotFound(what) => Status::not_found(format!("{what} not found")),
            AppError::AlreadyExists(message) => Status::already_exists(message),
            AppError::Conflict(message) => Status::failed_precondition(message),
            AppError::Unauthenticated(message) => Status::unauthenticated(message),
            AppError::Throttled { retry_after } => {
                let mut metadata = tonic::metadata::MetadataMap::new();
                metadata.insert("retry-after", tonic::metadata::MetadataValue::from(retry_after));
                Status::with_metadata(Code::ResourceExhausted, "too many attempts; try again later", metadata)
            }
            AppError::Busy(what) => {
                tracing::warn!(what, "refused: busy");
                let mut metadata = tonic::metadata::MetadataMap::new();
                metadata.insert("retry-after", tonic::metadata::MetadataValue::from(1u64));
                Status::with_metadata(
                    Code::ResourceExhausted,
                    "the server is busy; try again shortly",
                    metadata,
                )
            }
            AppError::Unavailable(error) => {
                tracing::warn!(error = %format!("{error:#}"), "a datastore is unavailable");
                let mut metadata = tonic::metadata::MetadataMap::new();
                metadata.insert("retry-after", tonic::metadata::MetadataValue::from(1u64));
                Status::with_metadata(Code::Unavailable, "temporarily unavailable; try again", metadata)
            }
            AppError::Internal(error) => {
                tracing::error!(error = %format!("{error:#}"), "internal error");
                Status::internal("internal error")
            }
        }
    }
}

/// Result of an engine operation.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod unavailable_tests {
    use super::*;

    #[test]
    fn a_lost_database_or_redis_connection_is_unavailable_not_internal() {
        let lost = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(Status::from(AppError::from(lost)).code(), Code::Unavailable);
        assert_eq!(Status::from(AppError::from(sqlx::Error::PoolTimedOut)).code(), Code::Unavailable);
        let redis = redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        let status = Status::from(AppError::from(redis));
        assert_eq!(status.code(), Code::Unavailable);
        assert!(status.metadata().get("retry-after").is_some());
        // A bug stays a bug.
        assert_eq!(Status::from(AppError::from(sqlx::Error::RowNotFound)).code(), Code::Internal);
    }
}
