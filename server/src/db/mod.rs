//! Storage: one diesel `MultiConnection` over SQLite (default, bundled) and PostgreSQL, an r2d2
//! pool, embedded migrations (one folder per backend), and the write path.
//!
//! The backend is chosen from the URL scheme (`postgres://`/`postgresql://` → PostgreSQL, anything
//! else is a SQLite path), never by trying each backend in turn: SQLite accepts any string as a path.
//! SQLite connections get WAL, `synchronous=FULL`, foreign keys and a busy timeout. Writes go through
//! [`Db::write`], a **group commit** on both backends: concurrent writers share one transaction on a
//! writer connection, each in its own savepoint, and one commit (one fsync, one audit-chain head
//! update); nobody returns before the batch is durable (see `WriteQueue`). SQLite has one writer
//! (it allows no more); PostgreSQL has `--db-writers` of them, whose batches run side by side and
//! meet only at the audit head, for one append and one commit per batch. [`Db::write_async`] is
//! the same for async callers (nobody blocks on the commit), and [`Db::inline`] lets an async
//! worker run SQLite reads itself, refusing anything that would make it wait. Query functions in
//! the submodules return `QueryResult` and never turn an error into "not found".
//!
//! Query modules (`accounts`, `residents`, `cards`, …, one per aggregate, each with its row
//! types): each query takes a connection and returns `QueryResult`; lookups by a unique key use
//! `get_result`, not `first`: `first` binds `LIMIT ?`, which makes SQLite re-prepare the statement
//! on every execution (measured 4.7 µs vs 0.7 µs per lookup; ≈16% of server CPU under scan load).
//! "Not found" is `Ok(None)` only where the caller asked with `optional()`, never a swallowed
//! error. Every query that reads or writes resident data is scoped by municipality.

pub mod access;
pub mod accounts;
pub mod audit;
pub mod board;
pub mod cards;
pub mod confirmations;
pub mod disasters;
pub mod escalation;
pub mod facilities;
pub mod governance;
pub mod households;
pub mod idempotency;
pub mod imports;
pub mod incidents;
pub mod invites;
pub mod keys;
pub mod memberships;
pub mod photos;
mod pool;
pub mod push; // push
pub mod registrations;
pub mod residents;
pub mod schema;
pub mod transient;
mod tx;
pub mod webauthn;
mod writer;

pub use pool::{PoolConn, Stats as DbStats, VALIDATE_AFTER_IDLE};
pub use tx::{Effect, Tx};
pub use writer::MAX_BATCH;
use writer::{Job, JobRun, WriteQueue};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Runs a query on the backend's own connection (`$c` is a `SqliteConnection` or a
/// `PgConnection`) instead of through the `MultiConnection`. Diesel caches a query's prepared
/// statement by its type only on a backend's own connection; through the `MultiConnection` it
/// renders the SQL again on every execution to find it. For the hot path (a scan's reads and
/// writes, the audit append): the same query text, without rendering it each time.
#[macro_export]
macro_rules! native {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Pg($c) => $body,
        }
    };
}

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DbConnection::Pg(_) => "DbConnection::Pg",
            DbConnection::Sqlite(_) => "DbConnection::Sqlite",
        })
    }
}

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    }
}

/// A database URL. `Debug` hides any password.
#[derive(Clone)]
pub struct DatabaseUrl {
    url: String,
    backend: Backend,
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.trim().is_empty() {
            return Err("empty database URL".into());
        }
        let lower = url.to_ascii_lowercase();
        let backend = if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Backend::Postgres
        } else if lower.contains("://")
            && !lower.starts_with("sqlite://")
            && !lower.starts_with("file://")
        {
            return Err(format!(
                "unsupported database URL scheme in {}",
                redact(url)
            ));
        } else {
            Backend::Sqlite
        };
        Ok(DatabaseUrl {
            url: url.to_string(),
            backend,
        })
    }

    pub fn sqlite_file(path: &std::path::Path) -> Self {
        DatabaseUrl {
            url: path.display().to_string(),
            backend: Backend::Sqlite,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite database file, if this is one (not PostgreSQL, not in memory, no URI options).
    pub fn sqlite_file_path(&self) -> Option<std::path::PathBuf> {
        let path = self.sqlite_path();
        (self.backend == Backend::Sqlite && !path.starts_with(':') && !path.contains('?'))
            .then(|| std::path::PathBuf::from(path))
    }

    fn sqlite_path(&self) -> &str {
        self.url
            .strip_prefix("sqlite://")
            .or_else(|| self.url.strip_prefix("file://"))
            .unwrap_or(&self.url)
    }
}

/// `scheme://user:***@host/db`: the URL without its password, for logs and errors.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or_default();
            format!("{}{}:***{}", &url[..s + 3], user, &url[at..])
        }
        _ => url.to_string(),
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", redact(&self.url))
    }
}

/// Builds the right connection variant for the URL (the group-commit writers' connections;
/// the read pool's are [`pool::PoolManager`]'s).
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
    stats: Arc<pool::Stats>,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match self.url.backend {
            Backend::Postgres => {
                let mut c =
                    PgConnection::establish(&self.url.url).map_err(r2d2::Error::ConnectionError)?;
                c.batch_execute("SET synchronous_commit = on; SET TIME ZONE 'UTC';")
                    .map_err(r2d2::Error::QueryError)?;
                let mut c = DbConnection::Pg(c);
                pool::instrument(&mut c, &self.stats, None);
                Ok(c)
            }
            Backend::Sqlite => {
                let mut c = SqliteConnection::establish(self.url.sqlite_path())
                    .map_err(r2d2::Error::ConnectionError)?;
                c.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(c))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

pub type Pool = r2d2::Pool<pool::PoolManager>;
pub type PooledConn = r2d2::PooledConnection<pool::PoolManager>;

/// Why a storage call failed: the pool could not give a connection (→ 503), or the query failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// The database handle shared by the server: a pool for reads, and the group-commit writers
/// (each with its own connection, outside the pool).
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    url: DatabaseUrl,
    backend: Backend,
    writes: Arc<WriteQueue>,
    /// Set on an inline handle (see [`Db::inline`]).
    inline: Option<Arc<Inline>>,
    /// Set on an inline or holding handle: the denials audited on it, held back for the caller
    /// (see [`Db::holding`]).
    held: Option<Arc<Mutex<Vec<crate::audit::Pending>>>>,
    /// Set on a holding handle: the connection its reads share, once the first one took it
    /// (see [`Db::holding`]).
    pinned: Option<Arc<Mutex<Option<PooledConn>>>>,
    stats: Arc<pool::Stats>,
}

/// A running `LISTEN` thread; dropping this stops it (within 50 ms) and closes its connection.
#[derive(Debug)]
pub struct Listener {
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Connects, and runs pending migrations of the URL's backend. `writers` group-commit
    /// writers (PostgreSQL; SQLite always has one), each with its own connection besides the
    /// pool's `max_connections`.
    pub fn connect(
        url: &DatabaseUrl,
        max_connections: u32,
        writers: usize,
    ) -> Result<Self, String> {
        let stats = Arc::new(pool::Stats::default());
        let manager = || Manager {
            url: url.clone(),
            stats: stats.clone(),
        };
        let pool = r2d2::Pool::builder()
            .max_size(max_connections)
            // Opened on demand: an idle server keeps one (less memory), not `max_connections`.
            .min_idle(Some(1))
            // Every checkout passes `PoolManager::is_valid`, which counts it and sends a
            // "SELECT 1" only on a PostgreSQL connection that sat idle (one a restarted
            // PostgreSQL may have left dead); a SQLite file cannot break that way.
            .test_on_check_out(true)
            .connection_timeout(Duration::from_secs(10))
            .build(pool::PoolManager { inner: manager() })
            .map_err(|e| format!("cannot connect to {url:?}: {e}"))?;
        let writers = match url.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => writers.max(1),
        };
        let db = Db {
            pool,
            url: url.clone(),
            backend: url.backend,
            writes: WriteQueue::start(Arc::new(manager()), writers)?,
            inline: None,
            held: None,
            pinned: None,
            stats,
        };
        let mut conn = db.conn().map_err(|e| e.to_string())?;
        run_migrations(&mut conn)?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// PostgreSQL: a thread on a dedicated connection that `LISTEN`s on `channel` and calls `on`
    /// with each notification's payload (notifications sent with `pg_notify` inside a transaction
    /// arrive when it commits, from any server instance). It polls every 50 ms and reconnects
    /// after errors. SQLite (one process): nothing to listen to; returns `None`.
    pub fn listen(
        &self,
        channel: &'static str,
        on: impl Fn(&str) + Send + 'static,
    ) -> Option<Listener> {
        if self.backend != Backend::Postgres {
            return None;
        }
        let url = self.url.url.clone();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("listen-{channel}"))
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    let session = PgConnection::establish(&url).and_then(|mut c| {
                        c.batch_execute(&format!("LISTEN {channel}"))
                            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                        Ok(c)
                    });
                    let mut conn = match session {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::warn!(error = %e, channel, "LISTEN connection failed; retrying");
                            std::thread::sleep(Duration::from_secs(1));
                            continue;
                        }
                    };
                    'poll: while !stopped.load(Ordering::Relaxed) {
                        for n in conn.notifications_iter() {
                            match n {
                                Ok(n) => on(&n.payload),
                                Err(e) => {
                                    tracing::warn!(error = %e, channel, "LISTEN connection lost; reconnecting");
                                    break 'poll;
                                }
                            }
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
        match spawned {
            Ok(_) => Some(Listener { stop }),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the LISTEN thread");
                None
            }
        }
    }

    /// Group commit: (commits, writes carried by them) since start, over all writers.
    pub fn group_commit_stats(&self) -> (u64, u64) {
        (
            self.writes.commits.load(Ordering::Relaxed),
            self.writes.writes.load(Ordering::Relaxed),
        )
    }

    /// Group-commit writers (each with its own connection).
    pub fn writer_count(&self) -> usize {
        self.writes.writers
    }

    /// (open connections, idle connections).
    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }

    /// This instance's database traffic counters (statements, checkouts, validations, lost
    /// connections), for `/metrics`.
    pub fn stats(&self) -> &pool::Stats {
        &self.stats
    }

    pub fn conn(&self) -> Result<PooledConn, DbError> {
        if let Some(here) = &self.inline {
            // On an async worker thread: a connection free now, or give up (never wait).
            return self.pool.try_get().ok_or_else(|| here.refuse());
        }
        self.pool
            .get()
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// SQLite: runs `f` on the calling thread (an async worker's) as long as it only reads, from
    /// a connection the pool has free at once — SQLite reads are in-process and take
    /// microseconds, and a trip to the blocking pool and back costs two thread switches. `f`
    /// gets an **inline handle**: a `Db` whose every [`Db::read`] uses that connection, and
    /// which refuses with an error a write ([`Db::write`], which would wait for a commit) or a
    /// wait for another connection. Then `inline` returns `None`, whatever `f` made of that
    /// error, and nothing was written: run `f`'s work again on the blocking pool. The handle
    /// also holds back the denials `f` audits ([`Db::hold_denial`]); they come back with `f`'s
    /// result, for the caller to record. PostgreSQL (reads are network round trips) and an
    /// inline handle: always `None`, without running `f`.
    ///
    /// The connection is taken before `f` runs (none free: `None` at once), so `f` cannot be
    /// stopped by a busy pool halfway through.
    pub fn inline<T>(&self, f: impl FnOnce(&Db) -> T) -> Option<(T, Vec<crate::audit::Pending>)> {
        if self.backend != Backend::Sqlite || self.inline.is_some() {
            return None;
        }
        let conn = self.pool.try_get()?;
        let inline = Arc::new(Inline {
            conn: Mutex::new(Some(conn)),
            refused: AtomicBool::new(false),
        });
        let held = Arc::new(Mutex::new(Vec::new()));
        let here = Db {
            inline: Some(inline.clone()),
            held: Some(held.clone()),
            ..self.clone()
        };
        let out = f(&here);
        drop(here);
        // Back to the pool, even if `f` kept a clone of the handle.
        drop(lock(&inline.conn).take());
        if inline.refused.load(Ordering::Relaxed) {
            return None;
        }
        let denials = std::mem::take(&mut *lock(&held));
        Some((out, denials))
    }

    /// Runs `f` with a **holding handle**: a `Db` like this one (it reads and writes as usual)
    /// whose denials ([`Db::hold_denial`]) are held back and returned with `f`'s result, for the
    /// caller to write together with what else the request's end must write (a signed request's
    /// nonce). On a handle that already holds (an inline or holding one), `f` runs on it and its
    /// denials stay with the outer caller: none are returned here.
    ///
    /// The handle's reads share one pooled connection, taken by the first and given back when
    /// `f` returns, or before a write on the handle waits for its commit (a request is one
    /// checkout, not one per read: on PostgreSQL each checkout of an idle connection is a round
    /// trip, see `pool`).
    pub fn holding<T>(&self, f: impl FnOnce(&Db) -> T) -> (T, Vec<crate::audit::Pending>) {
        if self.held.is_some() {
            return (f(self), Vec::new());
        }
        let held = Arc::new(Mutex::new(Vec::new()));
        let pinned = Arc::new(Mutex::new(None));
        let here = Db {
            held: Some(held.clone()),
            pinned: Some(pinned.clone()),
            ..self.clone()
        };
        let out = f(&here);
        drop(here);
        // Back to the pool, even if `f` kept a clone of the handle.
        drop(lock(&pinned).take());
        let denials = std::mem::take(&mut *lock(&held));
        (out, denials)
    }

    /// A holding handle's shared connection goes back to the pool (before a write waits).
    fn unpin(&self) {
        if let Some(pinned) = &self.pinned {
            drop(lock(pinned).take());
        }
    }

    /// Whether this is an inline handle (see [`Db::inline`]).
    pub fn is_inline(&self) -> bool {
        self.inline.is_some()
    }

    /// On an inline or holding handle: keeps a denial's audit event for [`Db::inline`]'s or
    /// [`Db::holding`]'s caller to record (returns `None`). Otherwise hands it back, to be
    /// written now.
    pub fn hold_denial(&self, event: crate::audit::Pending) -> Option<crate::audit::Pending> {
        match &self.held {
            Some(held) => {
                lock(held).push(event);
                None
            }
            None => Some(event),
        }
    }

    /// Runs `f` in one transaction (a savepoint of a group-committed batch, on a writer thread);
    /// returns only after its effects, and the audit events it appended to its [`Tx`], are
    /// durable — or an error and no effects.
    pub fn write<T, E>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T, E> + Send) -> Result<T, E>
    where
        T: Send,
        E: From<DbError> + From<diesel::result::Error> + Send,
    {
        if let Some(here) = &self.inline {
            return Err(here.refuse().into());
        }
        self.unpin();
        let mut slot: Option<Result<T, E>> = None;
        let (tell, told) = std::sync::mpsc::sync_channel::<bool>(1);
        {
            let slot = &mut slot;
            let run: JobRun<'_> = Box::new(move |conn: &mut DbConnection| {
                writer::run_job(conn, f, |result| *slot = Some(result))
            });
            // SAFETY: `run` borrows `slot` and whatever `f` borrows, all of which outlive this
            // call: we do not return before `told` yields or fails, which happens only once the
            // job's `done` has run or been dropped — and a job's `run` is always consumed or
            // dropped before its `done` (the writer calls `run` first; dropping a `Job` drops
            // `run` first, by field order; a job refused by `send` is dropped right here).
            #[allow(unsafe_code)]
            let run: JobRun<'static> = unsafe { std::mem::transmute(run) };
            let done = Box::new(move |ok: bool| {
                let _ = tell.send(ok);
            });
            if self.writes.jobs.send(Job { run, done }).is_err() {
                return Err(DbError::Unavailable("no database writer".into()).into());
            }
        }
        // Only once `told` has yielded (or failed) has the job finished with `slot`.
        let committed = told.recv().unwrap_or(false);
        settle(slot, committed)
    }

    /// [`Db::write`] for async callers: the same job on the same queue, but no thread waits for
    /// the batch — the writer's completion wakes the returned future's task directly (one thread
    /// hand-off instead of writer → blocked thread → task). `f` owns what it uses.
    pub fn write_async<T, E>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T, E>> + Send + 'static
    where
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let refused = self.inline.as_ref().map(|here| here.refuse());
        self.unpin();
        let slot = Arc::new(Mutex::new(None::<Result<T, E>>));
        let put = slot.clone();
        let (tell, told) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let run: JobRun<'static> = Box::new(move |conn: &mut DbConnection| {
            writer::run_job(conn, f, |result| *lock(&put) = Some(result))
        });
        // `run` has run (or been dropped) before `done`: the slot holds its result, if any.
        let done = Box::new(move |committed: bool| {
            let result = lock(&slot).take();
            let _ = tell.send(settle(result, committed));
        });
        // A job the queue refuses is dropped here, and with it `tell`: `told` fails below.
        if refused.is_none() {
            let _ = self.writes.jobs.send(Job { run, done });
        }
        async move {
            if let Some(refused) = refused {
                return Err(refused.into());
            }
            told.await
                .unwrap_or_else(|_| Err(DbError::Unavailable("no database writer".into()).into()))
        }
    }

    /// Runs `f` on a pooled connection without a write transaction (on an inline handle: its
    /// connection; on a holding handle: the connection its reads share).
    pub fn read<T, E>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        if let Some(here) = &self.inline {
            // Taken out for the call, so a read inside `f` cannot reach it twice.
            let lent = lock(&here.conn).take();
            if let Some(mut conn) = lent {
                let out = f(&mut conn);
                *lock(&here.conn) = Some(conn);
                return out;
            }
        }
        if let Some(pinned) = &self.pinned {
            // Taken out for the call too (a read inside `f` takes another); kept for the next
            // read unless one inside `f` left its own.
            let lent = lock(pinned).take();
            let mut conn = match lent {
                Some(conn) => conn,
                None => self.conn()?,
            };
            let out = f(&mut conn);
            let mut slot = lock(pinned);
            if slot.is_none() {
                *slot = Some(conn);
            }
            return out;
        }
        let mut conn = self.conn()?;
        f(&mut conn)
    }
}

/// The state of an inline handle (see [`Db::inline`]).
struct Inline {
    /// Its connection, lent to each read.
    conn: Mutex<Option<PooledConn>>,
    /// A write or a wait was refused: the call must run again on the blocking pool.
    refused: AtomicBool,
}

impl Inline {
    /// Marks the inline call as failed; the error its refused call returns.
    fn refuse(&self) -> DbError {
        self.refused.store(true, Ordering::Relaxed);
        DbError::Unavailable(
            "needs the blocking pool (a write or a wait, on an async worker)".into(),
        )
    }
}

/// A mutex's contents, poisoned or not (nothing here is left half-updated by a panic).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A job's answer: its own result if the batch committed (or its error, which rolled back only
/// its savepoint); otherwise 503 — nothing of the batch was kept.
fn settle<T, E: From<DbError>>(result: Option<Result<T, E>>, committed: bool) -> Result<T, E> {
    match result {
        Some(Err(e)) => Err(e),
        Some(Ok(v)) if committed => Ok(v),
        _ => Err(DbError::Unavailable("the write batch could not be committed".into()).into()),
    }
}

/// Applies the pending migrations of the connection's backend; returns their names.
/// How long a background job's statement waits for a row lock before it gives up (PostgreSQL;
/// see [`yield_locks`]). Below `deadlock_timeout` (1 s), so in a lock cycle with a request the
/// background job is always the one that fails.
const BACKGROUND_LOCK_TIMEOUT: &str = "250ms";

/// A background job (the escalation pass) gives way to requests: until [`stop_yielding`], every
/// statement of this job that waits longer than [`BACKGROUND_LOCK_TIMEOUT`] for a lock fails
/// (`SET LOCAL lock_timeout`; undone with the job's savepoint if the job fails), so a request
/// that locked the same rows in another order — an ED accepting while the pass escalates the
/// incident's other hospitals — is never the deadlock victim. The job is tried again on its next
/// tick. On SQLite one writer holds the lock, there is nothing to yield to.
pub fn yield_locks(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => pg.batch_execute(&format!(
            "SET LOCAL lock_timeout = '{BACKGROUND_LOCK_TIMEOUT}'"
        )),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// Ends [`yield_locks`] for the rest of the batch (the next job waits as usual).
pub fn stop_yielding(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => pg.batch_execute("SET LOCAL lock_timeout TO DEFAULT"),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

pub fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>, String> {
    let applied = match conn {
        DbConnection::Pg(c) => c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.iter().map(|m| m.to_string()).collect()),
        DbConnection::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.iter().map(|m| m.to_string()).collect()),
    };
    applied.map_err(|e| format!("migrations failed: {e}"))
}

/// For unit tests: a throwaway SQLite database, and municipality rows to fill it with.
#[cfg(test)]
pub(crate) mod testing {
    use super::{DatabaseUrl, Db};
    use crate::db::keys::MunicipalityRow;

    /// A SQLite database in a fresh temporary directory, removed when this is dropped.
    pub(crate) struct TempDb {
        pub db: Db,
        dir: std::path::PathBuf,
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// `name` tells concurrent tests' directories apart.
    pub(crate) fn temp_db(name: &str, max_connections: u32) -> TempDb {
        let dir = std::env::temp_dir().join(format!("kyukit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = DatabaseUrl::sqlite_file(&dir.join("t.db"));
        let db = Db::connect(&url, max_connections, 1).unwrap();
        TempDb { db, dir }
    }

    /// A municipality whose id, code and names are all `id`.
    pub(crate) fn municipality(id: &str) -> MunicipalityRow {
        MunicipalityRow {
            id: id.into(),
            municipality_id: id.into(),
            code: id.into(),
            name_ja: id.into(),
            name_en: id.into(),
            created_at: 0,
            card_base_url: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{municipality, temp_db};
    use super::*;

    #[test]
    fn backend_comes_from_the_scheme() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u:p@h/db").unwrap().backend(),
            Backend::Postgres
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://h/db").unwrap().backend(),
            Backend::Postgres
        );
        assert_eq!(
            DatabaseUrl::parse("kyukit-data/kyukit.db")
                .unwrap()
                .backend(),
            Backend::Sqlite
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db")
                .unwrap()
                .sqlite_path(),
            "/tmp/x.db"
        );
        assert!(DatabaseUrl::parse("mysql://h/db").is_err());
        assert!(DatabaseUrl::parse("").is_err());
    }

    #[test]
    fn debug_hides_the_password() {
        let dbg = format!(
            "{:?}",
            DatabaseUrl::parse("postgres://kyukit:s3cret@db.example/kyukit").unwrap()
        );
        assert!(
            !dbg.contains("s3cret") && dbg.contains("kyukit:***@db.example"),
            "{dbg}"
        );
    }

    /// Concurrent writers share commits; a failing writer loses only its own work; everything
    /// acknowledged is there afterwards.
    #[test]
    fn group_commit_batches_and_isolates_failures() {
        let temp = temp_db("gc", 8);
        let db = &temp.db;
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let mut acked = 0;
                    for i in 0..50 {
                        let id = format!("{t:02}{i:02}");
                        let fail = i % 10 == 0;
                        let r: Result<(), DbError> = db.write(|c| {
                            keys::insert_municipality(c, &municipality(&id))?;
                            if fail {
                                return Err(DbError::Unavailable("refused".into()));
                            }
                            Ok(())
                        });
                        assert_eq!(r.is_ok(), !fail);
                        acked += usize::from(r.is_ok());
                    }
                    acked
                })
            })
            .collect();
        let acked: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(acked, 16 * 45);
        assert_eq!(
            municipalities(db) as usize,
            acked,
            "exactly the acknowledged writes are stored"
        );
        let (commits, writes) = db.group_commit_stats();
        assert_eq!(writes, 800, "failed writers are members of their batch too");
        assert!(
            commits < writes,
            "{commits} commits for {writes} writes: no batching"
        );
    }

    fn municipalities(db: &Db) -> i64 {
        db.read(|c| {
            schema::municipalities::table
                .count()
                .get_result::<i64>(c)
                .map_err(DbError::from)
        })
        .unwrap()
    }

    /// `inline` runs reads on the calling thread, refuses writes (then says `None`, and nothing
    /// was written), and does not run at all when the pool has no free connection.
    #[test]
    fn inline_runs_reads_and_refuses_writes_and_waits() {
        let temp = temp_db("inline", 2);
        let db = &temp.db;
        db.write(|c| keys::insert_municipality(c, &municipality("a")).map_err(DbError::from))
            .unwrap();

        // Reads only: the answer, from this thread; two reads share one connection.
        let here = std::thread::current().id();
        let read = db.inline(|h| {
            (
                std::thread::current().id(),
                municipalities(h),
                municipalities(h),
            )
        });
        assert_eq!(read.map(|(r, _)| r), Some((here, 1, 1)));

        // A write is refused with an error (even if `f` ignores it): `None`, nothing stored,
        // and the same write outside `inline` still works.
        let write = |db: &Db, id: &str| {
            db.write(|c| keys::insert_municipality(c, &municipality(id)).map_err(DbError::from))
        };
        let refused = db.inline(|h| {
            let r = write(h, "b");
            assert!(matches!(r, Err(DbError::Unavailable(_))), "{r:?}");
            "ignored the error"
        });
        assert!(refused.is_none());
        assert_eq!(municipalities(db), 1, "the refused write left nothing");
        write(db, "b").unwrap();
        assert_eq!(municipalities(db), 2);

        // No free connection: not run at all (it would have to wait).
        let held: Vec<_> = (0..2).map(|_| db.conn().unwrap()).collect();
        let mut ran = false;
        assert!(db.inline(|_| ran = true).is_none());
        assert!(!ran);
        drop(held);
        assert_eq!(db.inline(municipalities).map(|(n, _)| n), Some(2));
        // A handle kept past the call does not keep the connection from the pool.
        let kept = db.inline(|h| h.clone()).unwrap().0;
        let both: Vec<_> = (0..2).map(|_| db.conn().unwrap()).collect();
        assert!(kept.is_inline());
        drop(both);

        // A denial held on the handle comes back with the answer.
        let event = crate::audit::Pending::new(
            "a",
            crate::audit::Event::new(crate::audit::Action::Scan, crate::audit::Outcome::Denied),
            0,
        );
        let (_, held) = db
            .inline(|h| assert!(h.hold_denial(event.clone()).is_none()))
            .unwrap();
        assert_eq!(held.len(), 1);
        // A holding handle holds them too (and still writes); nested, the outer one keeps them.
        let (_, held) = db.holding(|h| {
            assert!(h.hold_denial(event.clone()).is_none());
            let (_, inner) = h.holding(|hh| assert!(hh.hold_denial(event.clone()).is_none()));
            assert!(inner.is_empty(), "kept by the outer holding handle");
        });
        assert_eq!(held.len(), 2);
        assert!(db.hold_denial(event).is_some(), "not held outside inline");

        // `write_async`: the same group commit, awaited.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let r: Result<usize, DbError> = rt.block_on(db.write_async(|c| {
            keys::insert_municipality(c, &municipality("c")).map_err(DbError::from)
        }));
        assert_eq!(r.unwrap(), 1);
        let r: Result<(), DbError> = rt.block_on(db.write_async(|c| {
            keys::insert_municipality(c, &municipality("d"))?;
            Err(DbError::Unavailable("refused".into()))
        }));
        assert!(r.is_err());
        assert_eq!(
            municipalities(db),
            3,
            "the failed job's row was rolled back"
        );
    }

    /// A job's after-commit effects run once its batch commits, before its caller is answered;
    /// a failed job's never do. Its audit events reach the chain the same way.
    #[test]
    fn effects_and_audit_follow_the_commit() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let temp = temp_db("effects", 2);
        let db = &temp.db;
        let ran = Arc::new(AtomicUsize::new(0));
        db.write(|tx| {
            keys::insert_municipality(tx, &municipality("m"))?;
            crate::audit::init_chain(tx, "m").map_err(DbError::from)
        })
        .unwrap();
        let job = |fail: bool| {
            let ran = ran.clone();
            db.write(move |tx| {
                let event =
                    crate::audit::Event::new(crate::audit::Action::Scan, crate::audit::Outcome::Ok);
                crate::audit::append(tx, "m", &event, 1);
                tx.after_commit(move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                });
                if fail {
                    return Err(DbError::Unavailable("refused".into()));
                }
                Ok(())
            })
        };
        job(false).unwrap();
        assert_eq!(
            ran.load(Ordering::SeqCst),
            1,
            "ran before the caller was answered"
        );
        assert!(job(true).is_err());
        assert_eq!(
            ran.load(Ordering::SeqCst),
            1,
            "a failed job's effect never runs"
        );
        let head = db.read(|c| crate::audit::head(c, "m").map_err(DbError::from));
        assert_eq!(
            head.unwrap().0,
            1,
            "only the committed job's event is on the chain"
        );
    }

    /// Same migration names, in the same order, for both backends.
    #[test]
    fn migration_folders_match() {
        let names = |dir: &str| {
            let mut v: Vec<String> = std::fs::read_dir(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../migrations")
                    .join(dir),
            )
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
            v.sort();
            v
        };
        let (sqlite, pg) = (names("sqlite"), names("postgres"));
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, pg);
        for m in &sqlite {
            let name_ok = m.len() > 18 && m.as_bytes()[10] == b'-' && m.as_bytes()[17] == b'_';
            assert!(name_ok, "{m} is not YYYY-MM-DD-HHMMSS_verb_noun");
        }
    }
}
