//! The one HTTP mapping of errors.
//!
//! Services return [`DomainError`] (in `service/error.rs`, which knows no HTTP); handlers return
//! it too, under the name `ApiError`. Here, and only here, a kind becomes a status and an error
//! becomes the client's body `{"error": code, "message": text}` and nothing else. The cause (an
//! internal error's text) is logged, never sent. Codes are stable snake_case identifiers listed
//! in docs/api.md.

use crate::service::error::{DomainError, Kind};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// What handlers return: the services' error, answered by [`ResponseError`] below.
pub type ApiError = DomainError;

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

/// `Retry-After` on a 503: seconds before trying again. A PostgreSQL failover takes longer
/// (docs/operations.md *High availability*), so clients back off further on repeated 503s.
pub const RETRY_AFTER_SECS: u32 = 1;

/// The status of each kind of error.
pub fn status(kind: Kind) -> StatusCode {
    match kind {
        Kind::BadRequest => StatusCode::BAD_REQUEST,
        Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::UnsupportedMedia => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Kind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<actix_web::error::BlockingError> for DomainError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        DomainError::unavailable(e)
    }
}

impl ResponseError for DomainError {
    fn status_code(&self) -> StatusCode {
        status(self.kind())
    }
    fn error_response(&self) -> HttpResponse {
        // One event per error, at the level an operator needs: a cause (a server fault) is an
        // error; refusals that say something about who is knocking (401, 403, 429) are info;
        // every other client error is ordinary and debug. (tracing-actix-web's own WARN event for
        // every 4xx is switched off in Cargo.toml.)
        let http = status(self.kind());
        let (status, code) = (http.as_u16(), self.code());
        if let Some(cause) = self.cause() {
            tracing::error!(status, code, cause = %cause, "request failed");
        } else if http.is_server_error() {
            tracing::warn!(status, code, "request failed");
        } else if matches!(status, 401 | 403 | 429) {
            tracing::info!(status, code, "request refused");
        } else {
            tracing::debug!(status, code, "request refused");
        }
        let mut response = HttpResponse::build(http);
        if self.kind() == Kind::Unavailable {
            // A transient failure (the database failing over, a lock conflict): when to try
            // again. Idempotent requests are retried by the clients (kyukit-field, the PWA's
            // outbox) with back-off.
            response.insert_header(("Retry-After", RETRY_AFTER_SECS.to_string()));
        }
        response.json(Body {
            error: code,
            message: self.message(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(
            status(ApiError::not_found("x").kind()),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            ApiError::internal("boom").error_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            ApiError::too_many("x").status_code(),
            StatusCode::TOO_MANY_REQUESTS
        );
        let r = ApiError::unavailable("connection lost").error_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers().get("retry-after").unwrap(), "1");
        assert!(
            ApiError::internal("boom")
                .error_response()
                .headers()
                .get("retry-after")
                .is_none()
        );
        assert_eq!(
            ApiError::unprocessable("invalid_field", "x").status_code(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}
