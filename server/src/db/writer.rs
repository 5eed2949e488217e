//! The group-commit writers: the queue of write jobs, the writer threads that run them in one
//! transaction per batch and append the batch's audit events before committing, and SQLite's
//! WAL checkpointer. [`super::Db::write`] and [`super::Db::write_async`] put jobs on the queue.

use super::tx::Committed;
use super::{Backend, DbConnection, Manager, Tx};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Group commit. On SQLite every commit costs an fsync and writers are serialised anyway; on
/// PostgreSQL every audited write must update the audit chain's head row, which would otherwise
/// stay locked from that update to its commit. Writes are **jobs on a queue** served by writer
/// threads, each with its own connection: a writer takes the first job, opens a transaction
/// (`BEGIN IMMEDIATE` on SQLite), runs the job in a savepoint, then every job already queued (up
/// to [`MAX_BATCH`]) in its own savepoint — a failed one rolls back only its savepoint. The audit
/// events the jobs appended are held in each job's [`Tx`] and appended by the
/// writer, in order, just before it commits once; only then is each waiting caller woken. A
/// caller's `Ok` means its write and its audit events are durable; if the commit fails, every
/// member gets an error and nothing of the batch is kept. Jobs that arrive during a commit form
/// the next batch (there is no waiting to gather: the queue fills while the previous batch
/// commits). The writer runs the jobs one after another without a thread hand-off between them:
/// a batch's critical path is one thread.
pub(super) struct WriteQueue {
    pub(super) jobs: std::sync::mpsc::Sender<Job>,
    /// Commits and the writes they carried (for /metrics and the tests).
    pub(super) commits: AtomicU64,
    pub(super) writes: AtomicU64,
    pub(super) writers: usize,
    /// SQLite: the checkpointer found the WAL past [`WAL_RESTART_FRAMES`]; the writer resets
    /// it between two batches.
    wal_restart: AtomicBool,
}

/// A job's body: what its [`Tx`] left if it succeeded (audit events, after-commit effects),
/// `None` if it failed.
pub(super) type JobRun<'a> = Box<dyn FnOnce(&mut DbConnection) -> Option<Committed> + Send + 'a>;

/// One write: `run` executes it in a savepoint of the writer's open batch and returns what it
/// left for the batch; `done` is told, after the batch's commit, whether the batch committed.
/// `run` is always consumed or dropped before `done` (field order).
pub(super) struct Job {
    pub(super) run: JobRun<'static>,
    pub(super) done: Box<dyn FnOnce(bool) + Send>,
}

/// Runs `f` in a savepoint on `conn` with a fresh [`Tx`]; stores its result in `slot` and returns
/// what it left for the batch (nothing if it failed: the savepoint is rolled back).
pub(super) fn run_job<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut Tx<'_>) -> Result<T, E>,
    slot: impl FnOnce(Result<T, E>),
) -> Option<Committed>
where
    E: From<diesel::result::Error>,
{
    let mut left = None;
    let result = conn.transaction(|c| {
        let mut tx = Tx::new(c);
        let out = f(&mut tx);
        if out.is_ok() {
            left = Some(tx.finish());
        }
        out
    });
    if result.is_err() {
        left = None;
    }
    slot(result);
    left
}

/// Most writes in one batch.
pub const MAX_BATCH: usize = 64;

impl WriteQueue {
    pub(super) fn start(manager: Arc<Manager>, writers: usize) -> Result<Arc<Self>, String> {
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
            match connect_writer(manager) {
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
            // Nothing of the job has run: if the connection died while idle (a PostgreSQL
            // failover or restart, `pg_terminate_backend`), a fresh one — through the
            // multi-host URL, to the new primary — takes the job instead of answering 503.
            // (Not for SQLite's busy lock: waiting its timeout again would not help.)
            if super::transient::is_transient(&e) {
                tracing::warn!(error = %e, "database writer lost its connection; reconnecting");
            } else {
                tracing::error!(error = %e, "database writer cannot begin a transaction");
                conn = None;
                (first.done)(false);
                continue;
            }
            conn = connect_writer(manager)
                .map_err(|e| tracing::error!(error = %e, "database writer cannot reconnect"))
                .ok()
                .and_then(|mut c| begin_batch(&mut c).is_ok().then_some(c));
            if conn.is_none() {
                (first.done)(false);
                continue;
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let mut dones = Vec::new();
        let mut events = Vec::new();
        let mut effects = Vec::new();
        let mut sound = true;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            let Job { run, done } = job;
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(c))) {
                Ok(Some(left)) => {
                    events.extend(left.audit);
                    effects.extend(left.after);
                }
                Ok(None) => {}
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
        if ok {
            for effect in effects {
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(effect)).is_err() {
                    tracing::error!("an after-commit effect panicked");
                }
            }
        } else {
            drop(effects);
        }
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

/// A writer's own connection (SQLite: the checkpointer thread checkpoints, not the writer).
fn connect_writer(manager: &Manager) -> Result<DbConnection, r2d2::Error> {
    manager.connect().and_then(|mut c| {
        if let DbConnection::Sqlite(s) = &mut c {
            s.batch_execute("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 134217728")
                .map_err(r2d2::Error::QueryError)?;
        }
        Ok(c)
    })
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
