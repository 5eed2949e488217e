//! Storage: one diesel `MultiConnection` over SQLite (default, bundled) and PostgreSQL, an r2d2
//! pool, embedded migrations (one folder per backend), and the write path.
//!
//! The backend is chosen from the URL scheme (`postgres://`/`postgresql://` → PostgreSQL, anything
//! else is a SQLite path), never by trying each backend in turn: SQLite accepts any string as a path.
//! SQLite connections get WAL, `synchronous=FULL`, foreign keys and a busy timeout. Writes go through
//! [`Db::write`], a **group commit** on both backends: concurrent writers share one transaction on a
//! writer connection, each in its own savepoint, and one commit (one fsync, one audit-chain head
//! update); nobody returns before the batch is durable (see [`GroupWriter`]). SQLite has one writer
//! (it allows no more); PostgreSQL has `--db-writers` of them, whose batches run side by side and
//! meet only at the audit head, for one append and one commit per batch. Query functions in the
//! submodules return `QueryResult` and never turn an error into "not found".

pub mod models;
pub mod prearrival;
pub mod push; // push
pub mod queries;
pub mod schema;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
    manager: Arc<Manager>,
    writers: Arc<[GroupWriter]>,
    /// Round-robin over `writers`.
    next_writer: Arc<AtomicUsize>,
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

/// Group commit. On SQLite every commit costs an fsync (≈3 ms on a slow disk) and writers are
/// serialised anyway; on PostgreSQL every audited write must update the audit chain's head row,
/// which would otherwise stay locked from that update to its commit. The first writer to find no
/// batch open becomes the **leader**: it opens a transaction (`BEGIN IMMEDIATE` on SQLite) on the
/// writer connection and runs its work in a savepoint. While other writers are queued for the
/// lock (and up to [`MAX_BATCH`] of them, for at most [`MAX_GATHER`]), the leader waits; each of
/// those **followers** runs its work in its own savepoint of the same transaction — a failed one
/// rolls back only its savepoint — and waits. The audit events the writers appended are held back
/// ([`crate::audit::deferring`]) and appended by the leader, in order, just before it commits
/// once and wakes them all. A writer's `Ok` is returned only after the commit succeeded; if the
/// commit fails, every member gets an error and nothing of the batch is kept. Writers that arrive
/// during the commit form the next batch.
pub struct GroupWriter {
    state: Mutex<WriterState>,
    /// A batch finished (followers wait for theirs).
    finished: Condvar,
    /// A follower finished its work in the open batch (the leader re-checks the queue).
    joined: Condvar,
    /// Writers waiting for the lock.
    queued: AtomicUsize,
    /// Commits and the writes they carried (for /metrics and the tests).
    commits: AtomicU64,
    writes: AtomicU64,
}

#[derive(Default)]
struct WriterState {
    conn: Option<DbConnection>,
    open: bool,
    /// Audit events of the open batch's successful members, in order.
    events: Vec<crate::audit::Pending>,
    batch: u64,
    members: usize,
    finished: u64,
    finished_ok: bool,
}

/// Most writers in one batch.
pub const MAX_BATCH: usize = 64;
/// Longest a leader waits for queued writers before committing.
pub const MAX_GATHER: Duration = Duration::from_millis(4);

impl fmt::Debug for GroupWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupWriter").finish_non_exhaustive()
    }
}

impl GroupWriter {
    fn new() -> Self {
        GroupWriter {
            state: Mutex::new(WriterState::default()),
            finished: Condvar::new(),
            joined: Condvar::new(),
            queued: AtomicUsize::new(0),
            commits: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, WriterState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
            manager: Arc::new(Manager { url: url.clone() }),
            writers: (0..writers).map(|_| GroupWriter::new()).collect(),
            next_writer: Arc::new(AtomicUsize::new(0)),
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
        self.writers.iter().fold((0, 0), |(c, w), gw| {
            (
                c + gw.commits.load(Ordering::Relaxed),
                w + gw.writes.load(Ordering::Relaxed),
            )
        })
    }

    /// Group-commit writers (each with its own connection).
    pub fn writer_count(&self) -> usize {
        self.writers.len()
    }

    /// (open connections, idle connections).
    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }

    pub fn conn(&self) -> Result<PooledConn, DbError> {
        self.pool
            .get()
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// Runs `f` in one transaction (a savepoint of a group-committed batch); returns only after
    /// its effects, and the audit events it appended, are durable — or an error and no effects.
    pub fn write<T, E>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError> + From<diesel::result::Error>,
    {
        let i = self.next_writer.fetch_add(1, Ordering::Relaxed) % self.writers.len().max(1);
        let gw = self
            .writers
            .get(i)
            .ok_or(DbError::Unavailable("no writer".into()))?;
        self.write_grouped(gw, f)
    }

    fn write_grouped<T, E>(
        &self,
        gw: &GroupWriter,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<DbError> + From<diesel::result::Error>,
    {
        gw.queued.fetch_add(1, Ordering::SeqCst);
        let mut st = gw.lock();
        gw.queued.fetch_sub(1, Ordering::SeqCst);
        if st.conn.is_none() {
            st.conn = Some(
                self.manager
                    .connect()
                    .map_err(|e| DbError::Unavailable(e.to_string()))?,
            );
        }
        let leader = !st.open;
        if leader {
            let conn = st
                .conn
                .as_mut()
                .ok_or(DbError::Unavailable("no writer".into()))?;
            if let Err(e) = begin_batch(conn) {
                st.conn = None;
                return Err(e.into());
            }
            st.open = true;
            st.batch += 1;
            st.members = 0;
            st.events.clear();
        }
        let mine = st.batch;
        st.members += 1;
        let (result, events) = match st.conn.as_mut() {
            Some(conn) => crate::audit::deferring(|| conn.transaction(f)),
            None => (Err(DbError::Unavailable("no writer".into()).into()), vec![]),
        };
        if result.is_ok() {
            st.events.extend(events);
        }
        if !leader {
            gw.joined.notify_one();
            while st.finished < mine {
                st = gw
                    .finished
                    .wait(st)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            return match (result, st.finished_ok) {
                (Ok(_), false) => Err(DbError::Unavailable(
                    "the write batch could not be committed".into(),
                )
                .into()),
                (r, _) => r,
            };
        }
        // The leader gathers the writers queued behind it, then appends the batch's audit events
        // and commits once for all.
        let deadline = Instant::now() + MAX_GATHER;
        while gw.queued.load(Ordering::SeqCst) > 0 && st.members < MAX_BATCH {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = gw
                .joined
                .wait_timeout(st, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        let events = std::mem::take(&mut st.events);
        let committed = match st.conn.as_mut() {
            Some(c) => match crate::audit::append_batch(c, &events) {
                Ok(()) => commit_batch(c),
                Err(e) => {
                    rollback_batch(c);
                    Err(e)
                }
            },
            None => Err(diesel::result::Error::BrokenTransactionManager),
        };
        st.open = false;
        st.finished = mine;
        st.finished_ok = committed.is_ok();
        if committed.is_ok() {
            gw.commits.fetch_add(1, Ordering::Relaxed);
            gw.writes.fetch_add(st.members as u64, Ordering::Relaxed);
        } else {
            // Start the next batch on a fresh connection.
            st.conn = None;
        }
        gw.finished.notify_all();
        drop(st);
        match committed {
            Ok(()) => result,
            Err(e) => Err(e.into()),
        }
    }

    /// Runs `f` on a pooled connection without a write transaction.
    pub fn read<T, E>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        let mut conn = self.conn()?;
        f(&mut conn)
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

#[cfg(test)]
mod tests {
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
        use crate::db::models::MunicipalityRow;
        let dir = std::env::temp_dir().join(format!("kyukit-gc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&DatabaseUrl::sqlite_file(&dir.join("t.db")), 8, 1).unwrap();
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let mut acked = 0;
                    for i in 0..50 {
                        let id = format!("{t:02}{i:02}");
                        let fail = i % 10 == 0;
                        let r: Result<(), DbError> = db.write(|c| {
                            let row = MunicipalityRow {
                                id: id.clone(),
                                municipality_id: id.clone(),
                                code: id.clone(),
                                name_ja: "x".into(),
                                name_en: "x".into(),
                                created_at: 0,
                            };
                            queries::insert_municipality(c, &row)?;
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
        let stored: i64 = db
            .read(|c| {
                schema::municipalities::table
                    .count()
                    .get_result::<i64>(c)
                    .map_err(DbError::from)
            })
            .unwrap();
        assert_eq!(
            stored as usize, acked,
            "exactly the acknowledged writes are stored"
        );
        let (commits, writes) = db.group_commit_stats();
        assert_eq!(writes, 800, "failed writers are members of their batch too");
        assert!(
            commits < writes,
            "{commits} commits for {writes} writes: no batching"
        );
        let _ = std::fs::remove_dir_all(&dir);
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
