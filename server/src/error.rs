//! The one API error type.
//!
//! Policy: a handler returns `ApiError`; the client gets `{"error": code, "message": text}` with
//! the matching status and nothing else. The cause (an internal error's text) is logged, never
//! sent. Codes are stable snake_case identifiers listed in docs/api.md.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    cause: Option<String>,
}

// Schema only, for the OpenAPI document: the body itself is written by
// `ResponseError::error_response` below, with exactly these two fields.
/// The body of every error response.
#[derive(Debug, utoipa::ToSchema)]
#[schema(example = json!({"error": "not_found", "message": "no such resident"}))]
pub struct ErrorBody {
    /// Stable snake_case code (docs/api.md lists them).
    pub error: String,
    /// For people; names the offending field where there is one. Never server internals.
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            cause: None,
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// An internal failure: the client sees a generic message; `cause` goes to the log only.
    pub fn internal(cause: impl fmt::Display) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error; it has been logged".into(),
            cause: Some(cause.to_string()),
        }
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn forbidden_code(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    pub fn unauthorized_code(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    pub fn too_many(message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
    }
    /// Whether this refusal is a denial to record in the audit log (401, 403, 404, 429).
    pub fn is_denial(&self) -> bool {
        matches!(self.status.as_u16(), 401 | 403 | 404 | 429)
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    pub fn unavailable(cause: impl fmt::Display) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: "the service is temporarily unavailable; try again".into(),
            cause: Some(cause.to_string()),
        }
    }
    /// The same refusal under a more specific code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }
    pub fn code(&self) -> &'static str {
        self.code
    }
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::Unavailable(cause) => ApiError::unavailable(cause),
            crate::db::DbError::Query(q) => q.into(),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => ApiError::not_found("not found"),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                ApiError::conflict("conflict", "that already exists")
            }
            // Transient: a lost connection, or PostgreSQL breaking a deadlock between two write
            // batches or a serialization conflict by failing this statement (its savepoint is
            // rolled back, nothing of it kept). Trying again is the right answer.
            Error::DatabaseError(
                DatabaseErrorKind::SerializationFailure | DatabaseErrorKind::ClosedConnection,
                _,
            ) => ApiError::unavailable(&e),
            Error::DatabaseError(_, ref info)
                if info.message().starts_with("deadlock detected") =>
            {
                ApiError::unavailable(&e)
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::unavailable(e)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        // One event per error, at the level an operator needs: a cause (a server fault) is an
        // error; refusals that say something about who is knocking (401, 403, 429) are info;
        // every other client error is ordinary and debug. (tracing-actix-web's own WARN event for
        // every 4xx is switched off in Cargo.toml.)
        let status = self.status.as_u16();
        if let Some(cause) = &self.cause {
            tracing::error!(status, code = self.code, cause = %cause, "request failed");
        } else if self.status.is_server_error() {
            tracing::warn!(status, code = self.code, "request failed");
        } else if matches!(status, 401 | 403 | 429) {
            tracing::info!(status, code = self.code, "request refused");
        } else {
            tracing::debug!(status, code = self.code, "request refused");
        }
        HttpResponse::build(self.status).json(Body {
            error: self.code,
            message: &self.message,
        })
    }
}

#[cfg(test)]
mod diesel_error_tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    fn status_of(kind: DatabaseErrorKind, message: &str) -> StatusCode {
        ApiError::from(Error::DatabaseError(kind, Box::new(message.to_string()))).status
    }

    #[test]
    fn transient_database_errors_say_try_again() {
        assert_eq!(
            status_of(
                DatabaseErrorKind::SerializationFailure,
                "could not serialize access"
            ),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status_of(
                DatabaseErrorKind::ClosedConnection,
                "server closed the connection"
            ),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status_of(DatabaseErrorKind::Unknown, "deadlock detected"),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status_of(DatabaseErrorKind::UniqueViolation, "duplicate key"),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status_of(DatabaseErrorKind::Unknown, "syntax error"),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
