//! Storage: one diesel `MultiConnection` over SQLite (default, bundled) and PostgreSQL, an r2d2
//! pool, embedded migrations (one folder per backend), and the write path.
//!
//! The backend is chosen from the URL scheme (`postgres://`/`postgresql://` → PostgreSQL, anything
//! else is a SQLite path), never by trying each backend in turn: SQLite accepts any string as a path.
//! SQLite connections get WAL, `synchronous=FULL`, foreign keys and a busy timeout. Writes go through
//! [`Db::write`]: one transaction, and on SQLite one writer at a time in this process, so write
//! transactions never fail on a lock upgrade. Query functions in the submodules return
//! `QueryResult` and never turn an error into "not found".

pub mod models;
pub mod queries;
pub mod schema;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// The database handle shared by the server: a pool plus, for SQLite, the in-process writer lock.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    backend: Backend,
    writer: Arc<Mutex<()>>,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Connects, and runs pending migrations of the URL's backend.
    pub fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Self, String> {
        let pool = r2d2::Pool::builder()
            .max_size(max_connections)
            .connection_timeout(Duration::from_secs(10))
            .build(Manager { url: url.clone() })
            .map_err(|e| format!("cannot connect to {url:?}: {e}"))?;
        let db = Db {
            pool,
            backend: url.backend,
            writer: Arc::new(Mutex::new(())),
        };
        let mut conn = db.conn().map_err(|e| e.to_string())?;
        run_migrations(&mut conn)?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
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

    /// Runs `f` in one transaction; commits only if it returns `Ok`. On SQLite, write transactions
    /// are serialised in this process.
    pub fn write<T, E>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError> + From<diesel::result::Error>,
    {
        let _guard = match self.backend {
            Backend::Sqlite => Some(
                self.writer
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            ),
            Backend::Postgres => None,
        };
        let mut conn = self.conn()?;
        let conn: &mut DbConnection = &mut conn;
        conn.transaction(f)
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
