//! The read pool's connections, validated only after idle (issue 23).
//!
//! r2d2's `test_on_check_out` sends a `SELECT 1` before every checkout: on PostgreSQL a network
//! round trip, five a scan before a scan's reads shared one checkout. Here a connection is
//! checked only when it has sat in the pool for longer than [`VALIDATE_AFTER_IDLE`]: what
//! checkout validation is for — the connections a restarted or failed-over PostgreSQL left
//! dead while nobody used them — and under load connections never sit that long. A connection
//! that a statement finds lost (the server closed it: a restart, a failover,
//! `pg_terminate_backend`) is marked as the statement fails, by the connection's diesel
//! instrumentation, and closed instead of going back to the pool (`has_broken`); so is one
//! whose transaction state diesel reports broken. The request that met the lost connection
//! fails; the next ones get a live connection (`tests/tests/lean.rs`).
//!
//! [`Stats`] counts, for `/metrics`: statements sent to PostgreSQL (by the pool and the
//! group-commit writers), checkouts, validations and connections found lost.

use super::{DbConnection, Manager};
use diesel::connection::{Connection, InstrumentationEvent, SimpleConnection};
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A pooled connection idle longer than this is checked with a `SELECT 1` before it is handed
/// out (PostgreSQL). Shorter than any restart or failover takes, longer than the gaps between
/// requests under load.
pub const VALIDATE_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Counters of this instance's database traffic (since start).
#[derive(Debug, Default)]
pub struct Stats {
    /// Statements sent to PostgreSQL by the pool's and the writers' connections (each a round
    /// trip; `BEGIN`, `SAVEPOINT`, … included). Not counted on SQLite.
    pub statements: AtomicU64,
    /// Connections taken from the read pool.
    pub checkouts: AtomicU64,
    /// Checkouts that sent a `SELECT 1` first (the connection had been idle).
    pub validations: AtomicU64,
    /// Connections closed because a statement found them lost, or a validation failed.
    pub lost: AtomicU64,
    /// Bumped whenever a connection is found lost: a connection checked before the latest bump
    /// is checked again at its next checkout, however briefly it was idle — when PostgreSQL
    /// restarted or failed over, its siblings in the pool are dead too.
    lost_epoch: AtomicU64,
}

impl Stats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// A connection found lost: counted, and every pooled connection is checked at its next
    /// checkout.
    fn found_lost(&self) {
        Self::bump(&self.lost);
        self.lost_epoch.fetch_add(1, Ordering::AcqRel);
    }

    fn epoch(&self) -> u64 {
        self.lost_epoch.load(Ordering::Acquire)
    }
}

/// Whether a statement's error says the connection itself is gone (not the statement refused).
fn connection_lost(e: &Error) -> bool {
    matches!(
        e,
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _
        ) | Error::BrokenTransactionManager
    )
}

/// PostgreSQL: counts the connection's statements, and sets `lost` (if given) when one fails
/// because the connection is gone. SQLite: nothing (a file does not go away; no round trips).
pub(super) fn instrument(
    conn: &mut DbConnection,
    stats: &Arc<Stats>,
    lost: Option<Arc<AtomicBool>>,
) {
    let DbConnection::Pg(pg) = conn else { return };
    let stats = stats.clone();
    pg.set_instrumentation(move |event: InstrumentationEvent<'_>| match event {
        InstrumentationEvent::StartQuery { .. } => Stats::bump(&stats.statements),
        InstrumentationEvent::FinishQuery { error: Some(e), .. } if connection_lost(e) => {
            if let Some(lost) = &lost {
                lost.store(true, Ordering::Relaxed);
            }
        }
        _ => {}
    });
}

/// A read pool connection: the connection, when it last went back to the pool, and whether a
/// statement found it lost. Derefs to the [`DbConnection`].
pub struct PoolConn {
    conn: DbConnection,
    returned: Instant,
    lost: Arc<AtomicBool>,
    /// [`Stats`]' lost epoch when this connection was opened or last checked.
    epoch: u64,
}

impl std::fmt::Debug for PoolConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolConn")
            .field("conn", &self.conn)
            .field("returned", &self.returned)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for PoolConn {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PoolConn {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// The read pool's manager: [`Manager`]'s connections, validated after idle, closed when lost.
#[derive(Debug)]
pub struct PoolManager {
    pub(super) inner: Manager,
}

impl ManageConnection for PoolManager {
    type Connection = PoolConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<PoolConn, r2d2::Error> {
        let mut conn = self.inner.connect()?;
        let lost = Arc::new(AtomicBool::new(false));
        instrument(&mut conn, &self.inner.stats, Some(lost.clone()));
        Ok(PoolConn {
            conn,
            returned: Instant::now(),
            lost,
            epoch: self.inner.stats.epoch(),
        })
    }

    /// Called on every checkout (the pool is built with `test_on_check_out`): a `SELECT 1` only
    /// for a PostgreSQL connection idle longer than [`VALIDATE_AFTER_IDLE`], or checked before
    /// another connection was last found lost. A failed check closes the connection and r2d2
    /// tries the next one (or opens a new one), so after one request met a dead connection the
    /// next request gets a live one.
    fn is_valid(&self, conn: &mut PoolConn) -> Result<(), r2d2::Error> {
        let stats = &self.inner.stats;
        Stats::bump(&stats.checkouts);
        let epoch = stats.epoch();
        if matches!(conn.conn, DbConnection::Sqlite(_))
            || (conn.returned.elapsed() < VALIDATE_AFTER_IDLE && conn.epoch == epoch)
        {
            return Ok(());
        }
        Stats::bump(&stats.validations);
        conn.conn
            .batch_execute("SELECT 1")
            .map(|()| conn.epoch = epoch)
            .map_err(|e| {
                stats.found_lost();
                r2d2::Error::QueryError(e)
            })
    }

    /// Called as a connection goes back to the pool: stamps the time; a lost or broken one (or
    /// one returned by a panicking thread) is closed instead.
    fn has_broken(&self, conn: &mut PoolConn) -> bool {
        conn.returned = Instant::now();
        let broken = std::thread::panicking()
            || conn.lost.load(Ordering::Relaxed)
            || R2D2Connection::is_broken(&mut conn.conn);
        if broken {
            self.inner.stats.found_lost();
        }
        broken
    }
}
