//! Which database errors are transient: the connection was lost, or the server it reached can no
//! longer take writes (a failover or switchover of PostgreSQL). Such a failure answers 503 with
//! `Retry-After` (`DomainError::unavailable`), never 500: nothing of the failed transaction was
//! kept, and the next attempt reaches the new primary — the pool and the writers reconnect
//! through the multi-host URL (`target_session_attrs=read-write`). docs/operations.md *High
//! availability*.

use diesel::result::{DatabaseErrorKind, Error};

/// Whether `e` is a transient failure worth trying again.
///
/// - the connection is gone: diesel's `ClosedConnection` (SQLSTATE class 08, or libpq's
///   `CONNECTION_BAD` after any error — "server closed the connection unexpectedly", "no
///   connection to the server", "could not receive data from server");
/// - the server went away under the statement: `57P01` admin shutdown ("terminating connection due
///   to administrator command": a `pg_terminate_backend`, a fast shutdown), `57P02` crash shutdown,
///   `57P03` cannot connect now ("the database system is starting up / shutting down / in recovery
///   mode");
/// - the server is a standby now: `25006` read-only transaction ("cannot execute INSERT in a
///   read-only transaction", a demoted primary still reached by a pooled connection);
/// - PostgreSQL broke a deadlock or a serialization conflict, or a lock wait timed out (the
///   statement failed alone; its savepoint is rolled back);
/// - the connection's transaction state was lost with it (`BrokenTransactionManager`, a rollback
///   that failed because the connection had died).
pub fn is_transient(e: &Error) -> bool {
    match e {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::SerializationFailure
            | DatabaseErrorKind::ReadOnlyTransaction,
            _,
        ) => true,
        Error::DatabaseError(_, info) => transient_message(info.message()),
        Error::BrokenTransactionManager => true,
        Error::RollbackErrorOnCommit {
            commit_error,
            rollback_error,
        } => is_transient(commit_error) || is_transient(rollback_error),
        _ => false,
    }
}

/// The texts of transient failures that diesel reports as `Unknown` (it maps only some SQLSTATEs
/// to kinds). PostgreSQL's messages are in English unless `lc_messages` says otherwise; the
/// servers Kyukit runs on keep the default.
fn transient_message(m: &str) -> bool {
    const TRANSIENT: [&str; 12] = [
        "deadlock detected",
        "due to lock timeout",
        "terminating connection due to administrator command",
        "terminating connection due to unexpected postmaster exit",
        "terminating connection because of crash of another server process",
        "the database system is shutting down",
        "the database system is starting up",
        "the database system is in recovery mode",
        "server closed the connection",
        "no connection to the server",
        "could not receive data from server",
        "read-only transaction",
    ];
    TRANSIENT.iter().any(|t| m.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(kind: DatabaseErrorKind, message: &str) -> Error {
        Error::DatabaseError(kind, Box::new(message.to_string()))
    }

    #[test]
    fn failover_errors_are_transient() {
        use DatabaseErrorKind::*;
        for e in [
            db(ClosedConnection, "anything"),
            db(
                ReadOnlyTransaction,
                "cannot execute INSERT in a read-only transaction",
            ),
            db(
                Unknown,
                "terminating connection due to administrator command",
            ),
            db(
                Unknown,
                "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally",
            ),
            db(Unknown, "no connection to the server\n"),
            db(Unknown, "FATAL:  the database system is shutting down"),
            db(Unknown, "the database system is in recovery mode"),
            db(Unknown, "deadlock detected"),
            db(SerializationFailure, "could not serialize access"),
            Error::BrokenTransactionManager,
            Error::RollbackErrorOnCommit {
                commit_error: Box::new(db(Unknown, "server closed the connection unexpectedly")),
                rollback_error: Box::new(db(Unknown, "no connection to the server")),
            },
        ] {
            assert!(is_transient(&e), "{e:?}");
        }
    }

    #[test]
    fn other_errors_are_not() {
        use DatabaseErrorKind::*;
        for e in [
            db(UniqueViolation, "duplicate key"),
            db(Unknown, "syntax error at or near"),
            db(ForeignKeyViolation, "violates foreign key constraint"),
            Error::NotFound,
            Error::AlreadyInTransaction,
        ] {
            assert!(!is_transient(&e), "{e:?}");
        }
    }
}
