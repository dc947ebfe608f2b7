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
    /// A bug or an infrastructure fault; logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
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
                Some("budget_category_limits_category_fkey") if db.is_foreign_key_violation() => {
                    return AppError::field("category_limits", "refers to a category that does not exist");
                }
                _ => {}
            }
        }
        AppError::Internal(error.into())
    }
}

impl From<redis::RedisError> for AppError {
    fn from(error: redis::RedisError) -> Self {
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
            AppError::Internal(error) => {
                tracing::error!(error = %format!("{error:#}"), "internal error");
                Status::internal("internal error")
            }
        }
    }
}

/// Result of an engine operation.
pub type AppResult<T> = Result<T, AppError>;
