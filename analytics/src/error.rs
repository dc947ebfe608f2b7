//! The analytics API's errors, mapped to gRPC status codes in one place.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A request field is invalid; the message is safe to show.
    #[error("{field}: {message}")]
    Invalid {
        /// The field, as the REST API names it.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The caller has no such resource (or it is another user's).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller has too much underway; answered at once, as 429 at the gateway.
    #[error("too many {0}")]
    TooMany(&'static str),
    /// Anything else: logged, answered generically.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// An invalid field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Invalid { field, message: message.into() }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> ApiError {
        ApiError::Internal(error.into())
    }
}

impl From<crate::charts::ChartError> for ApiError {
    fn from(error: crate::charts::ChartError) -> ApiError {
        ApiError::Internal(error.into())
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        match error {
            ApiError::Invalid { field, message } => Status::with_error_details(
                Code::InvalidArgument,
                format!("{field} {message}"),
                ErrorDetails::with_bad_request(vec![FieldViolation::new(field, message)]),
            ),
            ApiError::NotFound(what) => Status::not_found(format!("{what} not found")),
            ApiError::TooMany(what) => {
                let mut status = Status::resource_exhausted(format!("too many {what}"));
                // The gateway turns this into the answer's `Retry-After`.
                status.metadata_mut().insert("retry-after", tonic::metadata::MetadataValue::from_static("1"));
                status
            }
            ApiError::Internal(error) => {
                tracing::error!(error = %format!("{error:#}"), "internal error");
                Status::internal("internal error")
            }
        }
    }
}
