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

pub mod access;
pub mod accounts;
pub mod audit;
pub mod cards;
pub mod disasters;
pub mod facilities;
pub mod governance;
pub mod incidents;
pub mod keys;
pub mod models;
pub mod push; // push
pub mod queries;
pub mod residents;
pub mod schema;

/// The incidents aggregate's former name, kept until its callers use [`incidents`].
pub use incidents as prearrival;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// Builds the right connection variant for the URL.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
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
                Ok(DbConnection::Pg(c))
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

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConn = r2d2::PooledConnection<Manager>;

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

/// Group commit. On SQLite every commit costs an fsync and writers are serialised anyway; on
/// PostgreSQL every audited write must update the audit chain's head row, which would otherwise
/// stay locked from that update to its commit. Writes are **jobs on a queue** served by writer
/// threads, each with its own connection: a writer takes the first job, opens a transaction
/// (`BEGIN IMMEDIATE` on SQLite), runs the job in a savepoint, then every job already queued (up
/// to [`MAX_BATCH`]) in its own savepoint — a failed one rolls back only its savepoint. The audit
/// events the jobs appended are held back ([`crate::audit::deferring`]) and appended by the
/// writer, in order, just before it commits once; only then is each waiting caller woken. A
/// caller's `Ok` means its write and its audit events are durable; if the commit fails, every
/// member gets an error and nothing of the batch is kept. Jobs that arrive during a commit form
/// the next batch (there is no waiting to gather: the queue fills while the previous batch
/// commits). The writer runs the jobs one after another without a thread hand-off between them:
/// a batch's critical path is one thread.
struct WriteQueue {
    jobs: std::sync::mpsc::Sender<Job>,
    /// Commits and the writes they carried (for /metrics and the tests).
    commits: AtomicU64,
    writes: AtomicU64,
    writers: usize,
    /// SQLite: the checkpointer found the WAL past [`WAL_RESTART_FRAMES`]; the writer resets
    /// it between two batches.
    wal_restart: AtomicBool,
}

/// A job's body: (succeeded, the audit events it appended).
type JobRun<'a> =
    Box<dyn FnOnce(&mut DbConnection) -> (bool, Vec<crate::audit::Pending>) + Send + 'a>;

/// One write: `run` executes it in a savepoint of the writer's open batch and returns whether it
/// succeeded and the audit events it appended; `done` is told, after the batch's commit, whether
/// the batch committed. `run` is always consumed or dropped before `done` (field order).
struct Job {
    run: JobRun<'static>,
    done: Box<dyn FnOnce(bool) + Send>,
}

/// Most writes in one batch.
pub const MAX_BATCH: usize = 64;

impl WriteQueue {
    fn start(manager: Arc<Manager>, writers: usize) -> Result<Arc<Self>, String> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(WriteQueue {
            jobs: tx,
            commits: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            writers,
            wal_restart: AtomicBool::new(false),
        });
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..writers {
            let (rx, manager, stats) = (rx.clone(), manager.clone(), Arc::downgrade(&queue));
            std::thread::Builder::new()
                .name(format!("db-writer-{i}"))
                .spawn(move || writer_loop(&rx, &manager, &stats))
                .map_err(|e| format!("cannot start a database writer: {e}"))?;
        }
        if manager.url.backend == Backend::Sqlite {
            let stats = Arc::downgrade(&queue);
            std::thread::Builder::new()
                .name("db-checkpoint".into())
                .spawn(move || checkpoint_loop(&manager, &stats))
                .map_err(|e| format!("cannot start the checkpointer: {e}"))?;
        }
        Ok(queue)
    }
}

/// SQLite: how often the WAL is checkpointed (the writer's connection does not, so that copying
/// pages back into the database file and its fsync stay off the write path).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// SQLite: WAL frames (4 KiB pages) past which the writer resets the WAL. A `PASSIVE`
/// checkpoint copies frames back but cannot reset the WAL while readers hold older snapshots,
/// and under a steady scan load some reader always does: measured, the WAL reached 3.4 GB in
/// 40 s. The reset needs a moment with no writer and no reader on the WAL; only the writer can
/// make one without starving (a checkpointer waiting for the write lock would lose to it every
/// time), so it does, between two batches.
const WAL_RESTART_FRAMES: i32 = 16_384;

#[derive(diesel::QueryableByName)]
struct WalCheckpoint {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    log: i32,
}

/// SQLite: checkpoints the WAL (`PASSIVE`: never waits for readers or the writer) every
/// [`CHECKPOINT_EVERY`] after a commit, and asks the writer for a reset when the WAL is past
/// [`WAL_RESTART_FRAMES`]; until the `Db` is dropped.
fn checkpoint_loop(manager: &Manager, stats: &std::sync::Weak<WriteQueue>) {
    let mut conn: Option<DbConnection> = None;
    let mut seen = 0;
    loop {
        std::thread::sleep(CHECKPOINT_EVERY);
        let Some(queue) = stats.upgrade() else { return };
        let commits = queue.commits.load(Ordering::Relaxed);
        if commits == seen {
            continue;
        }
        seen = commits;
        if conn.is_none() {
            conn = manager.connect().ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        match diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result::<WalCheckpoint>(c) {
            Ok(cp) if cp.log > WAL_RESTART_FRAMES => {
                queue.wal_restart.store(true, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                conn = None;
            }
        }
    }
}

/// SQLite, on the writer's connection between batches: checkpoints the whole WAL and makes the
/// next commit write it from the start (`RESTART` waits, through the busy timeout, for readers
/// still on the WAL: they are short). The file keeps its blocks — overwriting them is cheaper to
/// fsync than growing a truncated file — up to the writer's `journal_size_limit`.
fn restart_wal(conn: &mut DbConnection) {
    if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(RESTART)") {
        tracing::warn!(error = %e, "WAL reset failed; the next checkpoint tries again");
    }
}

fn writer_loop(
    rx: &Mutex<std::sync::mpsc::Receiver<Job>>,
    manager: &Manager,
    stats: &std::sync::Weak<WriteQueue>,
) {
    let mut conn: Option<DbConnection> = None;
    let lock = || rx.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    loop {
        let Ok(first) = lock().recv() else { return };
        if conn.is_none() {
            let connected = manager.connect().and_then(|mut c| {
                // The checkpointer thread checkpoints (SQLite).
                if let DbConnection::Sqlite(s) = &mut c {
                    s.batch_execute(
                        "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 134217728",
                    )
                    .map_err(r2d2::Error::QueryError)?;
                }
                Ok(c)
            });
            match connected {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::error!(error = %e, "database writer cannot connect");
                    (first.done)(false);
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        if let Err(e) = begin_batch(c) {
            tracing::error!(error = %e, "database writer cannot begin a transaction");
            conn = None;
            (first.done)(false);
            continue;
        }
        let mut dones = Vec::new();
        let mut events = Vec::new();
        let mut sound = true;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            let Job { run, done } = job;
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(c))) {
                Ok((true, ev)) => events.extend(ev),
                Ok((false, _)) => {}
                Err(_) => {
                    // The savepoint may be left open: the batch cannot be trusted.
                    tracing::error!("a write panicked; its batch is rolled back");
                    sound = false;
                }
            }
            dones.push(done);
            // One job at a time off the queue: with several writers (PostgreSQL) each takes the
            // next job as it is free, so their batches run side by side. Never wait for the
            // queue's lock here: an idle writer holds it while it blocks in `recv`, and the job
            // it waits for may be one whose caller waits for this batch. (A held lock means that
            // writer takes the next job itself.)
            if sound && dones.len() < MAX_BATCH {
                next = match rx.try_lock() {
                    Ok(q) => q.try_recv().ok(),
                    Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().try_recv().ok(),
                    Err(std::sync::TryLockError::WouldBlock) => None,
                };
            }
        }
        let committed = if sound {
            match crate::audit::append_batch(c, &events) {
                Ok(()) => commit_batch(c),
                Err(e) => {
                    rollback_batch(c);
                    Err(e)
                }
            }
        } else {
            rollback_batch(c);
            Err(diesel::result::Error::BrokenTransactionManager)
        };
        if let Err(e) = &committed {
            tracing::error!(error = %e, members = dones.len(), "a write batch could not be committed");
            // Start the next batch on a fresh connection.
            conn = None;
        } else if let Some(stats) = stats.upgrade() {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats
                .writes
                .fetch_add(dones.len() as u64, Ordering::Relaxed);
        }
        let ok = committed.is_ok();
        for done in dones {
            done(ok);
        }
        if let Some(queue) = stats.upgrade()
            && queue.wal_restart.swap(false, Ordering::Relaxed)
            && let Some(c) = conn.as_mut()
        {
            restart_wal(c);
        }
    }
}

/// Opens the batch's transaction on the writer connection (SQLite: `BEGIN IMMEDIATE`, so the
/// write lock is taken now rather than at the first write).
fn begin_batch(conn: &mut DbConnection) -> QueryResult<()> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
        }
        DbConnection::Pg(c) => AnsiTransactionManager::begin_transaction(c),
    }
}

/// Commits the batch's transaction, or rolls it back if the commit fails.
fn commit_batch(conn: &mut DbConnection) -> QueryResult<()> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::commit_transaction(c).inspect_err(|_| {
                let _ = AnsiTransactionManager::rollback_transaction(c);
            })
        }
        DbConnection::Pg(c) => AnsiTransactionManager::commit_transaction(c).inspect_err(|_| {
            let _ = AnsiTransactionManager::rollback_transaction(c);
        }),
    }
}

/// Rolls the batch's transaction back.
fn rollback_batch(conn: &mut DbConnection) {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let _ = match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c),
        DbConnection::Pg(c) => AnsiTransactionManager::rollback_transaction(c),
    };
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
        let pool = r2d2::Pool::builder()
            .max_size(max_connections)
            // Opened on demand: an idle server keeps one (less memory), not `max_connections`.
            .min_idle(Some(1))
            // A "SELECT 1" before every checkout is for connections that can break (a
            // PostgreSQL server that restarted); a SQLite file cannot.
            .test_on_check_out(url.backend == Backend::Postgres)
            .connection_timeout(Duration::from_secs(10))
            .build(Manager { url: url.clone() })
            .map_err(|e| format!("cannot connect to {url:?}: {e}"))?;
        let writers = match url.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => writers.max(1),
        };
        let db = Db {
            pool,
            url: url.clone(),
            backend: url.backend,
            writes: WriteQueue::start(Arc::new(Manager { url: url.clone() }), writers)?,
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

    pub fn conn(&self) -> Result<PooledConn, DbError> {
        if INLINE.get().is_some() {
            // On an async worker thread: a connection free now, or give up (never wait).
            return self.pool.try_get().ok_or_else(refuse_inline);
        }
        self.pool
            .get()
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// SQLite: runs `f` on the calling thread (an async worker's) as long as it only reads, from
    /// a connection the pool has free at once — SQLite reads are in-process and take
    /// microseconds, and a trip to the blocking pool and back costs two thread switches. A
    /// write ([`Db::write`], which would wait for a commit) or a wait for a connection is refused
    /// with an error; then `inline` returns `None`, whatever `f` made of that error, and
    /// nothing was written: run `f`'s work again on the blocking pool. PostgreSQL (reads are
    /// network round trips) and nested calls: always `None`, without running `f`.
    ///
    /// The connection is taken before `f` runs (none free: `None` at once) and every
    /// [`Db::read`] of `f` uses it, so `f` cannot be stopped by a busy pool halfway through.
    pub fn inline<T>(&self, f: impl FnOnce() -> T) -> Option<T> {
        if self.backend != Backend::Sqlite || INLINE.get().is_some() {
            return None;
        }
        let conn = self.pool.try_get()?;
        struct Leave;
        impl Drop for Leave {
            fn drop(&mut self) {
                INLINE.set(None);
                // Back to the pool.
                drop(INLINE_CONN.take());
            }
        }
        INLINE.set(Some(false));
        INLINE_CONN.set(Some((self.id(), conn)));
        let _leave = Leave;
        let out = f();
        (INLINE.get() == Some(false)).then_some(out)
    }

    /// Tells this `Db` from another one (the address of its write queue).
    fn id(&self) -> usize {
        Arc::as_ptr(&self.writes) as usize
    }

    /// Runs `f` in one transaction (a savepoint of a group-committed batch, on a writer thread);
    /// returns only after its effects, and the audit events it appended, are durable — or an
    /// error and no effects.
    pub fn write<T, E>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send,
    ) -> Result<T, E>
    where
        T: Send,
        E: From<DbError> + From<diesel::result::Error> + Send,
    {
        if INLINE.get().is_some() {
            return Err(refuse_inline().into());
        }
        let mut slot: Option<Result<T, E>> = None;
        let (tell, told) = std::sync::mpsc::sync_channel::<bool>(1);
        {
            let slot = &mut slot;
            let run: JobRun<'_> = Box::new(move |conn: &mut DbConnection| {
                let (result, events) = crate::audit::deferring(|| conn.transaction(f));
                let ok = result.is_ok();
                *slot = Some(result);
                (ok, events)
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
        f: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T, E>> + Send + 'static
    where
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let slot = Arc::new(Mutex::new(None::<Result<T, E>>));
        let put = slot.clone();
        let (tell, told) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let run: JobRun<'static> = Box::new(move |conn: &mut DbConnection| {
            let (result, events) = crate::audit::deferring(|| conn.transaction(f));
            let ok = result.is_ok();
            *put.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
            (ok, events)
        });
        // `run` has run (or been dropped) before `done`: the slot holds its result, if any.
        let done = Box::new(move |committed: bool| {
            let result = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
            let _ = tell.send(settle(result, committed));
        });
        // A job the queue refuses is dropped here, and with it `tell`: `told` fails below.
        let _ = self.writes.jobs.send(Job { run, done });
        async move {
            told.await
                .unwrap_or_else(|_| Err(DbError::Unavailable("no database writer".into()).into()))
        }
    }

    /// Runs `f` on a pooled connection without a write transaction.
    pub fn read<T, E>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        // Inside `inline`: its connection.
        if let Some((id, mut conn)) = INLINE_CONN.take() {
            if id == self.id() {
                let out = f(&mut conn);
                INLINE_CONN.set(Some((id, conn)));
                return out;
            }
            INLINE_CONN.set(Some((id, conn)));
        }
        let mut conn = self.conn()?;
        f(&mut conn)
    }
}

thread_local! {
    /// Inside [`Db::inline`] on this thread: whether a write or a wait was refused.
    static INLINE: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
    /// Inside [`Db::inline`]: its connection (and which `Db` it is from), lent to each read.
    static INLINE_CONN: std::cell::RefCell<Option<(usize, PooledConn)>> =
        const { std::cell::RefCell::new(None) };
}

/// Marks the running [`Db::inline`] call as failed; the error its refused call returns.
fn refuse_inline() -> DbError {
    INLINE.set(Some(true));
    DbError::Unavailable("needs the blocking pool (a write or a wait, on an async worker)".into())
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
    use crate::db::models::MunicipalityRow;

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
                            queries::insert_municipality(c, &municipality(&id))?;
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
        db.write(|c| queries::insert_municipality(c, &municipality("a")).map_err(DbError::from))
            .unwrap();

        // Reads only: the answer, from this thread; two reads share one connection.
        let here = std::thread::current().id();
        let read = db.inline(|| {
            (
                std::thread::current().id(),
                municipalities(db),
                municipalities(db),
            )
        });
        assert_eq!(read, Some((here, 1, 1)));

        // A write is refused with an error (even if `f` ignores it): `None`, nothing stored,
        // and the same write outside `inline` still works.
        let write = |id: &str| {
            db.write(|c| queries::insert_municipality(c, &municipality(id)).map_err(DbError::from))
        };
        let refused = db.inline(|| {
            let r = write("b");
            assert!(matches!(r, Err(DbError::Unavailable(_))), "{r:?}");
            "ignored the error"
        });
        assert_eq!(refused, None);
        assert_eq!(municipalities(db), 1, "the refused write left nothing");
        write("b").unwrap();
        assert_eq!(municipalities(db), 2);

        // No free connection: not run at all (it would have to wait).
        let held: Vec<_> = (0..2).map(|_| db.conn().unwrap()).collect();
        let mut ran = false;
        assert_eq!(db.inline(|| ran = true), None);
        assert!(!ran);
        drop(held);
        assert_eq!(db.inline(|| municipalities(db)), Some(2));

        // `write_async`: the same group commit, awaited.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let r: Result<usize, DbError> = rt.block_on(db.write_async(|c| {
            queries::insert_municipality(c, &municipality("c")).map_err(DbError::from)
        }));
        assert_eq!(r.unwrap(), 1);
        let r: Result<(), DbError> = rt.block_on(db.write_async(|c| {
            queries::insert_municipality(c, &municipality("d"))?;
            Err(DbError::Unavailable("refused".into()))
        }));
        assert!(r.is_err());
        assert_eq!(
            municipalities(db),
            3,
            "the failed job's row was rolled back"
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
