//! The notification API's errors, mapped to gRPC status codes in one place.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Request fields are invalid; the messages are safe to show.
    #[error("invalid request")]
    Invalid(Vec<(String, String)>),
    /// The caller has no such resource, or a token names nothing.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller asked too often; `retry_after` seconds from now it may ask again.
    #[error("too many requests: {what}")]
    TooMany {
        /// What was refused, for the client.
        what: &'static str,
        /// Seconds until the next request is accepted.
        retry_after: u64,
    },
    /// The account's address is not verified, and the call would email it.
    #[error("the email address is not verified")]
    Unverified,
    /// Something this service depends on is down; worth retrying.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Anything else: logged, answered generically.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Invalid(vec![(field.into(), message.into())])
    }
}

impl From<budgetsmart_common::events::HandlerError> for ApiError {
    fn from(error: budgetsmart_common::events::HandlerError) -> ApiError {
        match error {
            budgetsmart_common::events::HandlerError::Transient(e) => ApiError::Unavailable(format!("{e:#}")),
            budgetsmart_common::events::HandlerError::Permanent(e) => ApiError::Internal(e),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> ApiError {
        ApiError::Internal(error.into())
    }
}

impl From<budgetsmart_common::pagination::InvalidPage> for ApiError {
    fn from(error: budgetsmart_common::pagination::InvalidPage) -> ApiError {
        ApiError::invalid(error.field, error.message)
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        match error {
            ApiError::Invalid(violations) => {
                let message =
                    violations.iter().map(|(f, m)| format!("{f} {m}")).collect::<Vec<_>>().join("; ");
                let details: Vec<FieldViolation> =
                    violations.into_iter().map(|(f, m)| FieldViolation::new(f, m)).collect();
                Status::with_error_details(
                    Code::InvalidArgument,
                    message,
                    ErrorDetails::with_bad_request(details),
                )
            }
            ApiError::NotFound(what) => Status::not_found(format!("{what} not found")),
            ApiError::TooMany { what, retry_after } => {
                let mut status = Status::resource_exhausted(what);
                // The gateway turns this into the answer's `Retry-After`.
                if let Ok(value) = retry_after.to_string().parse() {
                    status.metadata_mut().insert("retry-after", value);
                }
                status
            }
            ApiError::Unverified => Status::failed_precondition(
                "verify your email address first: use the link we sent, or ask for a new one at \
                 POST /api/v1/auth/verify-email/resend",
            ),
            ApiError::Unavailable(why) => {
                tracing::warn!(%why, "a dependency is unavailable");
                Status::unavailable("a service this call needs is unavailable; try again shortly")
            }
            ApiError::Internal(error) => {
                tracing::error!(error = %format!("{error:#}"), "internal error");
                Status::internal("internal error")
            }
        }
    }
}
