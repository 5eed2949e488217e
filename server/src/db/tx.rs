//! The transaction of one write job, as a value.
//!
//! [`super::Db::write`] and [`super::Db::write_async`] hand each job a [`Tx`]: the writer's
//! connection (inside the job's savepoint), the audit events the job appends, and the effects
//! to run once its batch is durable (a live-feed event, a push worker's wake-up). A function
//! that writes takes `&mut Tx`; one that also audits calls [`crate::audit::append`] with it;
//! one that only reads takes `&mut DbConnection`, which a `Tx` derefs to. The writer appends
//! the batch's events to the audit chain just before it commits, then runs the effects; a job
//! that fails leaves neither behind (its savepoint is rolled back, its `Tx` dropped).

use super::DbConnection;
use crate::audit::Pending;

/// Work to do after the batch commits (never if it does not).
pub type Effect = Box<dyn FnOnce() + Send>;

/// One write job's transaction: its connection, its pending audit events and its
/// after-commit effects.
pub struct Tx<'c> {
    conn: &'c mut DbConnection,
    audit: Vec<Pending>,
    after: Vec<Effect>,
}

/// What a job that succeeded leaves for its batch: its audit events and effects, in order.
#[derive(Default)]
pub(crate) struct Committed {
    pub(crate) audit: Vec<Pending>,
    pub(crate) after: Vec<Effect>,
}

impl<'c> Tx<'c> {
    pub(crate) fn new(conn: &'c mut DbConnection) -> Self {
        Tx {
            conn,
            audit: Vec::new(),
            after: Vec::new(),
        }
    }

    /// The connection, for diesel calls that are generic over the connection type (a `&mut Tx`
    /// coerces to `&mut DbConnection` where a function names that type).
    pub fn conn(&mut self) -> &mut DbConnection {
        self.conn
    }

    /// Queues an audit event for the chain (see [`crate::audit::append`]).
    pub(crate) fn push_audit(&mut self, event: Pending) {
        self.audit.push(event);
    }

    /// Runs `effect` once this job's batch has committed (on the writer thread, before the job's
    /// caller is answered); never if the job or its batch fails. Keep it short: it must not
    /// block or write.
    pub fn after_commit(&mut self, effect: impl FnOnce() + Send + 'static) {
        self.after.push(Box::new(effect));
    }

    pub(crate) fn finish(self) -> Committed {
        Committed {
            audit: self.audit,
            after: self.after,
        }
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        self.conn
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut DbConnection {
        self.conn
    }
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("conn", &self.conn)
            .field("audit", &self.audit.len())
            .field("after", &self.after.len())
            .finish()
    }
}
