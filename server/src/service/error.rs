//! The services' error: what went wrong, in domain terms.
//!
//! A service returns [`DomainError`]: a [`Kind`] (not found, forbidden, conflict, invalid input,
//! rate limited, unavailable, internal, …), a stable snake_case code (docs/api.md lists them), a
//! message for people, and, for a server fault, its cause — for the log and the operator's
//! terminal, never for a client. Whether a refusal is a denial to audit is a property of its
//! kind ([`Kind::audited`]). Nothing here knows HTTP: `api/error.rs` maps kinds to statuses and
//! writes the one error body, in one place.

use std::fmt;

/// What kind of failure, independent of any protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request itself cannot be read (a malformed body or parameter).
    BadRequest,
    /// No valid credentials (or a signature, a session, a device that does not hold).
    Unauthenticated,
    /// Authenticated, but this actor may not do this (or not to this object, or not now).
    Forbidden,
    /// No such object — or one the actor may not know exists.
    NotFound,
    /// The object's state does not allow it (already done, a duplicate, a stale version).
    Conflict,
    /// Input that was read but is not acceptable (a field out of range, an unknown code).
    Invalid,
    /// More than the input limits allow (an attachment too large).
    TooLarge,
    /// Input in a type the operation does not take.
    UnsupportedMedia,
    /// Too many attempts; wait and try again.
    RateLimited,
    /// A transient failure (the database unreachable, a lock conflict): try again.
    Unavailable,
    /// A fault of the server; its cause is logged.
    Internal,
}

impl Kind {
    /// Whether a refusal of this kind is a denial recorded in the audit log (who was turned
    /// away, and why): unauthenticated, forbidden, not found and rate-limited requests.
    pub fn audited(self) -> bool {
        matches!(
            self,
            Kind::Unauthenticated | Kind::Forbidden | Kind::NotFound | Kind::RateLimited
        )
    }
}

/// A service's error (see the module documentation).
#[derive(Debug)]
pub struct DomainError {
    kind: Kind,
    code: &'static str,
    message: String,
    cause: Option<String>,
}

impl DomainError {
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> Self {
        DomainError {
            kind,
            code,
            message: message.into(),
            cause: None,
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, "not_found", message)
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, code, message)
    }
    /// A fault of the server: people see a generic message; `cause` goes to the log (and, from
    /// the command line, to the operator).
    pub fn internal(cause: impl fmt::Display) -> Self {
        DomainError {
            kind: Kind::Internal,
            code: "internal",
            message: "internal error; it has been logged".into(),
            cause: Some(cause.to_string()),
        }
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Kind::Forbidden, "forbidden", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(Kind::Unauthenticated, "unauthorized", message)
    }
    pub fn forbidden_code(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Forbidden, code, message)
    }
    pub fn unauthorized_code(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Unauthenticated, code, message)
    }
    pub fn too_many(message: impl Into<String>) -> Self {
        Self::new(Kind::RateLimited, "rate_limited", message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, code, message)
    }
    /// Input that was read but is not acceptable (`code` names what, the message names the field).
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Invalid, code, message)
    }
    pub fn too_large(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::TooLarge, code, message)
    }
    pub fn unsupported_media(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::UnsupportedMedia, code, message)
    }
    /// A transient failure: people are asked to try again; `cause` goes to the log.
    pub fn unavailable(cause: impl fmt::Display) -> Self {
        DomainError {
            kind: Kind::Unavailable,
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
    /// Whether this refusal is a denial to record in the audit log (see [`Kind::audited`]).
    pub fn is_denial(&self) -> bool {
        self.kind.audited()
    }
    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn code(&self) -> &'static str {
        self.code
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The cause of a server fault (never sent to a client).
    pub fn cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }
    /// For an operator at the command line: the message, and the cause if there is one.
    pub fn for_operator(&self) -> String {
        match (&self.cause, self.kind) {
            (Some(cause), Kind::Internal) => format!("internal error: {cause}"),
            (Some(cause), _) => format!("{}: {cause}", self.message),
            (None, _) => self.message.clone(),
        }
    }
}

/// `code: message` — never the cause (see [`DomainError::for_operator`]).
impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for DomainError {}

impl From<crate::db::DbError> for DomainError {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::Unavailable(cause) => DomainError::unavailable(cause),
            crate::db::DbError::Query(q) => q.into(),
        }
    }
}

impl From<diesel::result::Error> for DomainError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => DomainError::not_found("not found"),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                DomainError::conflict("conflict", "that already exists")
            }
            // Transient (`db::transient`): a lost connection or a server that can no longer
            // write (a failover), or PostgreSQL breaking a deadlock between two write batches or
            // a serialization conflict by failing this statement (its savepoint is rolled back,
            // nothing of it kept). Trying again is the right answer.
            ref e if crate::db::transient::is_transient(e) => DomainError::unavailable(e),
            other => DomainError::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    fn kind_of(kind: DatabaseErrorKind, message: &str) -> Kind {
        DomainError::from(Error::DatabaseError(kind, Box::new(message.to_string()))).kind
    }

    #[test]
    fn transient_database_errors_say_try_again() {
        assert_eq!(
            kind_of(
                DatabaseErrorKind::SerializationFailure,
                "could not serialize access"
            ),
            Kind::Unavailable
        );
        assert_eq!(
            kind_of(
                DatabaseErrorKind::ClosedConnection,
                "server closed the connection"
            ),
            Kind::Unavailable
        );
        assert_eq!(
            kind_of(
                DatabaseErrorKind::ReadOnlyTransaction,
                "cannot execute INSERT in a read-only transaction"
            ),
            Kind::Unavailable
        );
        assert_eq!(
            kind_of(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command"
            ),
            Kind::Unavailable
        );
        assert_eq!(
            kind_of(DatabaseErrorKind::Unknown, "deadlock detected"),
            Kind::Unavailable
        );
        assert_eq!(
            kind_of(
                DatabaseErrorKind::Unknown,
                "canceling statement due to lock timeout"
            ),
            Kind::Unavailable
        );
        assert_eq!(
            kind_of(DatabaseErrorKind::UniqueViolation, "duplicate key"),
            Kind::Conflict
        );
        assert_eq!(
            kind_of(DatabaseErrorKind::Unknown, "syntax error"),
            Kind::Internal
        );
    }

    #[test]
    fn denials_are_a_property_of_the_kind() {
        assert!(DomainError::forbidden_code("card_revoked", "x").is_denial());
        assert!(DomainError::not_found("x").is_denial());
        assert!(DomainError::unauthorized("x").is_denial());
        assert!(DomainError::too_many("x").is_denial());
        assert!(!DomainError::conflict("already", "x").is_denial());
        assert!(!DomainError::unprocessable("invalid_field", "x").is_denial());
        assert!(!DomainError::internal("boom").is_denial());
    }

    #[test]
    fn the_cause_is_for_the_operator_only() {
        let e = DomainError::internal("disk full");
        assert!(!e.to_string().contains("disk full"));
        assert!(!e.message().contains("disk full"));
        assert_eq!(e.for_operator(), "internal error: disk full");
    }
}
