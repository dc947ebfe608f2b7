//! RFC 9457 problem responses, and the one table that maps gRPC codes to HTTP.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tonic::Code;
use tonic_types::StatusExt;
use utoipa::ToSchema;

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct FieldError {
    /// The JSON field, e.g. `amount` or `category_limits[0].limit` (a query parameter or
    /// header by its name).
    #[schema(example = "amount")]
    pub field: String,
    /// What is wrong with it.
    #[schema(example = "must be greater than zero")]
    pub message: String,
}

/// An error answer: status, a short title, detail for the client, and field errors.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: String,
    errors: Vec<FieldError>,
    retry_after: Option<u64>,
}

/// The body of every error answer, RFC 9457: what is sent and what the OpenAPI document
/// says, from this one definition.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    #[schema(example = "https://budgetsmart.dev/problems/unprocessable-entity")]
    kind: String,
    /// The status's reason phrase.
    #[schema(example = "Unprocessable Entity")]
    title: String,
    /// The HTTP status, repeated.
    #[schema(minimum = 400, maximum = 599, example = 422)]
    status: u16,
    /// What went wrong, for the client.
    #[schema(example = "the request is invalid")]
    detail: String,
    /// The invalid fields; absent when the problem is not about fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    errors: Vec<FieldError>,
}

impl ApiError {
    /// An error with a status and a client-safe detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError { status, detail: detail.into(), errors: Vec::new(), retry_after: None }
    }

    /// A 422 naming the invalid fields.
    pub fn validation(errors: Vec<FieldError>) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: "the request is invalid".into(),
            errors,
            retry_after: None,
        }
    }

    /// A 422 on one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::validation(vec![FieldError { field: field.into(), message: message.into() }])
    }

    /// Adds `Retry-After`.
    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What a person is told: the first field's problem, else the detail.
    pub fn message(&self) -> String {
        match self.errors.first() {
            Some(e) => format!("{} {}", e.field.replace('_', " "), e.message),
            None => self.detail.clone(),
        }
    }
}

/// The gRPC → HTTP table. Every upstream error goes through here and nowhere else.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::OutOfRange => StatusCode::UNPROCESSABLE_ENTITY,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted | Code::FailedPrecondition => StatusCode::CONFLICT,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable | Code::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> ApiError {
        let http = http_status(status.code());
        let errors = status
            .get_details_bad_request()
            .map(|br| {
                br.field_violations
                    .into_iter()
                    .map(|v| FieldError { field: v.field, message: v.description })
                    .collect()
            })
            .unwrap_or_default();
        // A backend (or an open circuit breaker) may say when to come back.
        let said =
            status.metadata().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        let retry_after = match http {
            StatusCode::TOO_MANY_REQUESTS => Some(said.unwrap_or(60)),
            StatusCode::SERVICE_UNAVAILABLE => Some(said.unwrap_or(5)),
            _ => None,
        };
        // Server-side failures are logged with their cause and answered generically.
        let detail = if http.is_server_error() {
            tracing::error!(code = ?status.code(), message = status.message(), "upstream call failed");
            match http {
                StatusCode::SERVICE_UNAVAILABLE => {
                    "a backend service is unavailable; try again shortly".to_owned()
                }
                StatusCode::GATEWAY_TIMEOUT => "a backend service took too long to answer".to_owned(),
                _ => "an internal error occurred".to_owned(),
            }
        } else {
            status.message().to_owned()
        };
        ApiError { status: http, detail, errors, retry_after }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let slug = title.to_lowercase().replace(' ', "-");
        let problem = Problem {
            kind: format!("https://budgetsmart.dev/problems/{slug}"),
            title: title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            errors: self.errors,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_grpc_codes_to_http() {
        assert_eq!(http_status(Code::InvalidArgument), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(http_status(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(http_status(Code::AlreadyExists), StatusCode::CONFLICT);
        assert_eq!(http_status(Code::FailedPrecondition), StatusCode::CONFLICT);
        assert_eq!(http_status(Code::Unauthenticated), StatusCode::UNAUTHORIZED);
        assert_eq!(http_status(Code::ResourceExhausted), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(http_status(Code::Unavailable), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(http_status(Code::Internal), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn hides_internal_detail_and_keeps_field_errors() {
        let internal = ApiError::from(tonic::Status::internal("db password is hunter2"));
        assert_eq!(internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!internal.detail.contains("hunter2"));

        let invalid = tonic::Status::with_error_details(
            Code::InvalidArgument,
            "bad",
            tonic_types::ErrorDetails::with_bad_request_violation("amount", "must be greater than zero"),
        );
        let mapped = ApiError::from(invalid);
        assert_eq!(mapped.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(mapped.errors[0].field, "amount");
    }
}
