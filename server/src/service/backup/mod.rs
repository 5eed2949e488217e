//! Backups of everything Kyukit stores (RULES R16): the database and the issuer key files, as
//! self-describing, write-protected **generations**.
//!
//! A generation is a directory `kyukit-backup-<UTC timestamp>-<random>` holding
//! - the database: SQLite `kyukit.db` made by `VACUUM INTO` (a consistent snapshot taken while the
//!   server keeps writing), or PostgreSQL `kyukit.pgdump` made by `pg_dump --format=custom` under an
//!   exported snapshot, in which the audit head and the key list are read too;
//! - `keys/<kid>.pem`, copied after the database snapshot (a key file is written before its database
//!   row, so every key the snapshot names is on disk by then);
//! - `vapid.pem`, the Web Push (VAPID) signing key, when the data directory has one: browsers'
//!   push subscriptions are bound to its public key, so a restore without it would silently stop
//!   every ED's alerts until each browser subscribed again;
//! - `trust-list.pem`, the trust-list signing key, when the data directory has one: field devices
//!   pin its public key at enrollment, so a restore without it would make every device refuse the
//!   new lists until re-enrolled;
//! - `server-key.pem`, the federation server key (`service::federation`), when the data directory
//!   has one: peer deployments pin its public key from this deployment's trust list, so a restore
//!   without it would make a new key that every peer refuses until its operator refreshes;
//! - `manifest.json`: when, which backend and version, the audit chain heads in the snapshot, the
//!   keys, and every file with its size and SHA-256.
//!
//! It is written under a temporary name, verified, made read-only (files 0400, directories 0500)
//! and renamed into place, so a generation that exists is complete. `verify` re-hashes a generation
//! and checks the database copy; `restore` verifies, puts the database and keys back, and checks
//! the restored audit chain against the manifest. Time is passed in (`now`), never read here.

// `restore::restore` calls `super::keys::load`, which resolves through this import.
use super::keys;
use crate::audit;
use crate::db::schema::{audit_heads, issuer_keys};
use crate::db::{Backend, DatabaseUrl, DbConnection};
use crate::domain::KeyStatus;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

mod restore;

pub use restore::restore;

/// `format` of the manifests this version writes and reads.
pub const FORMAT: &str = "kyukit-backup/1";
pub const MANIFEST: &str = "manifest.json";
/// The database file inside a generation.
pub const SQLITE_FILE: &str = "kyukit.db";
pub const PG_FILE: &str = "kyukit.pgdump";
/// The Web Push (VAPID) private key, in the data directory and in a generation.
pub const VAPID_FILE: &str = "vapid.pem";
/// The trust-list private key (`service::trust_list`), in the data directory and in a generation.
pub const TRUST_LIST_FILE: &str = "trust-list.pem";
/// The federation server key (`service::federation`), in the data directory and in a generation.
pub const SERVER_KEY_FILE: &str = "server-key.pem";
/// The data directory's private keys (besides the issuer keys and the VAPID key) a generation
/// carries when present: P-256 PKCS#8, each verified as a private key and restored 0600.
pub const DATA_DIR_KEY_FILES: [&str; 2] = [TRUST_LIST_FILE, SERVER_KEY_FILE];
/// Generations kept by `backup create` unless `--keep` says otherwise.
pub const DEFAULT_KEEP: u32 = 7;
const PREFIX: &str = "kyukit-backup-";

/// Why a backup, verification or restore failed: one line naming the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BackupError(pub String);

impl From<diesel::result::Error> for BackupError {
    fn from(e: diesel::result::Error) -> Self {
        BackupError(format!("database: {e}"))
    }
}

impl From<diesel::ConnectionError> for BackupError {
    fn from(e: diesel::ConnectionError) -> Self {
        BackupError(format!("cannot connect to the database: {e}"))
    }
}

fn fail(msg: impl Into<String>) -> BackupError {
    BackupError(msg.into())
}

/// An I/O error with the path it happened on.
fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |e| BackupError(format!("{}: {e}", path.display()))
}

/// What is backed up or restored: a data directory (keys) and its database.
#[derive(Clone)]
pub struct Target {
    pub data_dir: PathBuf,
    database: Database,
    url: DatabaseUrl,
}

#[derive(Clone)]
enum Database {
    Sqlite(PathBuf),
    /// The URL as given (it may hold a password: never printed).
    Postgres(String),
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("data_dir", &self.data_dir)
            .field("database", &self.url)
            .finish()
    }
}

impl Target {
    /// The data directory and database as `kyukit serve` would use them (`--data-dir`,
    /// `--database-url`; SQLite at `<data-dir>/kyukit.db` by default).
    pub fn new(data_dir: &Path, database_url: Option<&str>) -> Result<Self, BackupError> {
        let (database, url) = match database_url {
            None => {
                let path = data_dir.join(SQLITE_FILE);
                (
                    Database::Sqlite(path.clone()),
                    DatabaseUrl::sqlite_file(&path),
                )
            }
            Some(raw) => {
                let url = DatabaseUrl::parse(raw).map_err(BackupError)?;
                let db = match url.backend() {
                    Backend::Postgres => Database::Postgres(raw.to_string()),
                    Backend::Sqlite => Database::Sqlite(PathBuf::from(
                        raw.strip_prefix("sqlite://")
                            .or_else(|| raw.strip_prefix("file://"))
                            .unwrap_or(raw),
                    )),
                };
                (db, url)
            }
        };
        Ok(Target {
            data_dir: data_dir.to_path_buf(),
            database,
            url,
        })
    }

    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    fn keys_dir(&self) -> PathBuf {
        self.data_dir.join("keys")
    }
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub created_at_unix: i64,
    /// `sqlite` or `postgresql`.
    pub backend: String,
    pub kyukit_version: String,
    /// The database file in the generation (`kyukit.db` or `kyukit.pgdump`).
    pub database_file: String,
    /// The audit chain head of each municipality, read in the same snapshot as the database copy.
    /// A restored database must verify to exactly this head.
    pub audit_heads: Vec<HeadRecord>,
    /// Issuer keys in the snapshot; every key not `compromised` has its file in `keys/`.
    pub issuer_keys: Vec<KeyRecord>,
    pub files: Vec<FileRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadRecord {
    pub municipality_id: String,
    pub seq: i64,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub kid: String,
    pub status: KeyStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Relative, `/`-separated: the database file or `keys/<kid>.pem`.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// A finished generation.
#[derive(Debug, Clone)]
pub struct Created {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// SHA-256 of `manifest.json`: note it outside the machine to detect a rewritten manifest.
    pub manifest_sha256: String,
    /// Older generations deleted by `keep`.
    pub removed: Vec<PathBuf>,
}

/// A generation that verified.
#[derive(Debug, Clone)]
pub struct Verified {
    pub manifest: Manifest,
    pub manifest_sha256: String,
    /// Audit entries checked in the database copy (SQLite; `None` for a PostgreSQL dump, whose
    /// chain is checked by `restore`).
    pub audit_entries: Option<i64>,
}

/// A finished restore.
#[derive(Debug, Clone)]
pub struct Restored {
    pub manifest: Manifest,
    pub key_files: usize,
    /// Whether the generation's VAPID key was put back (generations made before it was backed up
    /// have none; the server then makes a new one and browsers must subscribe again).
    pub vapid_key: bool,
    /// Whether the generation's federation server key was put back (older generations have none:
    /// the server then makes a new one and every peer must `kyukit federation peer refresh`).
    pub server_key: bool,
    /// Audit entries that verified in the restored database, over all municipalities.
    pub audit_entries: i64,
}

#[derive(QueryableByName)]
struct SnapshotRow {
    #[diesel(sql_type = Text)]
    snapshot: String,
}

#[derive(QueryableByName)]
struct IntegrityRow {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The audit heads and issuer keys, read in the caller's snapshot.
fn read_facts(c: &mut DbConnection) -> QueryResult<(Vec<HeadRecord>, Vec<KeyRecord>)> {
    let heads = audit_heads::table
        .order(audit_heads::municipality_id.asc())
        .select((
            audit_heads::municipality_id,
            audit_heads::seq,
            audit_heads::hash,
        ))
        .load::<(String, i64, String)>(c)?
        .into_iter()
        .map(|(municipality_id, seq, hash)| HeadRecord {
            municipality_id,
            seq,
            hash,
        })
        .collect();
    let keys = issuer_keys::table
        .order((issuer_keys::municipality_id.asc(), issuer_keys::kid.asc()))
        .select((issuer_keys::kid, issuer_keys::status))
        .load::<(String, KeyStatus)>(c)?
        .into_iter()
        .map(|(kid, status)| KeyRecord { kid, status })
        .collect();
    Ok((heads, keys))
}

// ---------------------------------------------------------------------------------------------
// create

/// Takes a consistent snapshot of the target (while its server runs), writes it as a new
/// generation under `to`, verifies it, write-protects it, and deletes the oldest generations
/// beyond `keep` (at least 1; the new one always stays).
pub fn create(target: &Target, to: &Path, keep: u32, now: i64) -> Result<Created, BackupError> {
    if keep == 0 {
        return Err(fail("keep must be at least 1"));
    }
    if !to.exists() {
        std::fs::create_dir_all(to).map_err(io_at(to))?;
        set_mode(to, 0o700)?;
    }
    let name = format!("{PREFIX}{}-{}", stamp(now)?, random_hex(4)?);
    let tmp = to.join(format!(".{name}.partial"));
    let dir = to.join(&name);
    std::fs::create_dir(&tmp).map_err(io_at(&tmp))?;
    set_mode(&tmp, 0o700)?;
    let written = write_generation(target, &tmp, now).and_then(|manifest| {
        verify(&tmp)
            .map_err(|e| fail(format!("the new backup does not verify: {e}")))
            .map(|v| (manifest, v.manifest_sha256))
    });
    let (manifest, manifest_sha256) = match written {
        Ok(m) => m,
        Err(e) => {
            let _ = remove_generation(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, &dir).map_err(io_at(&dir))?;
    set_mode(&dir, 0o500)?;
    sync_dir(to)?;
    let removed = prune(to, keep, &name)?;
    Ok(Created {
        dir,
        manifest,
        manifest_sha256,
        removed,
    })
}

fn write_generation(target: &Target, out: &Path, now: i64) -> Result<Manifest, BackupError> {
    let (database_file, (heads, keys)) = match &target.database {
        Database::Sqlite(path) => (SQLITE_FILE, snapshot_sqlite(path, &out.join(SQLITE_FILE))?),
        Database::Postgres(url) => (PG_FILE, snapshot_postgres(url, &out.join(PG_FILE))?),
    };
    // Keys after the snapshot: every key the snapshot names was on disk before its row existed.
    let keys_out = out.join("keys");
    std::fs::create_dir(&keys_out).map_err(io_at(&keys_out))?;
    set_mode(&keys_out, 0o700)?;
    let src_keys = target.keys_dir();
    let key_files = list_pem(&src_keys)?;
    for name in &key_files {
        copy_with_mode(&src_keys.join(name), &keys_out.join(name), 0o600)?;
    }
    for k in keys.iter().filter(|k| k.status != KeyStatus::Compromised) {
        if !key_files.contains(&format!("{}.pem", k.kid)) {
            return Err(fail(format!(
                "key {} ({}) is in the database but {} is missing",
                k.kid,
                k.status,
                src_keys.join(format!("{}.pem", k.kid)).display()
            )));
        }
    }
    let mut files = vec![file_record(out, database_file)?];
    for name in &key_files {
        files.push(file_record(out, &format!("keys/{name}"))?);
    }
    let vapid = target.data_dir.join(VAPID_FILE);
    if vapid.is_file() {
        copy_with_mode(&vapid, &out.join(VAPID_FILE), 0o600)?;
        files.push(file_record(out, VAPID_FILE)?);
    }
    for name in DATA_DIR_KEY_FILES {
        let src = target.data_dir.join(name);
        if src.is_file() {
            copy_with_mode(&src, &out.join(name), 0o600)?;
            files.push(file_record(out, name)?);
        }
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        created_at: rfc3339(now)?,
        created_at_unix: now,
        backend: target.backend().name().into(),
        kyukit_version: env!("CARGO_PKG_VERSION").into(),
        database_file: database_file.into(),
        audit_heads: heads,
        issuer_keys: keys,
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| fail(format!("cannot write the manifest: {e}")))?;
    let manifest_path = out.join(MANIFEST);
    write_new(&manifest_path, &json, 0o600)?;
    // Durable, then write-protected.
    for f in &manifest.files {
        let p = out.join(&f.path);
        sync_file(&p)?;
        set_mode(&p, 0o400)?;
    }
    set_mode(&manifest_path, 0o400)?;
    sync_dir(&keys_out)?;
    set_mode(&keys_out, 0o500)?;
    sync_dir(out)?;
    Ok(manifest)
}

/// `VACUUM INTO`: a consistent copy while writers continue (WAL). The copy is switched to a
/// rollback journal so it is one self-contained file, then read for the heads and keys.
fn snapshot_sqlite(
    src: &Path,
    out: &Path,
) -> Result<(Vec<HeadRecord>, Vec<KeyRecord>), BackupError> {
    if !src.is_file() {
        return Err(fail(format!("no SQLite database at {}", src.display())));
    }
    let mut live = SqliteConnection::establish(utf8(src)?)?;
    live.batch_execute("PRAGMA busy_timeout = 10000;")?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(utf8(out)?)
        .execute(&mut live)
        .map_err(|e| fail(format!("VACUUM INTO {}: {e}", out.display())))?;
    drop(live);
    let mut copy = SqliteConnection::establish(utf8(out)?)?;
    copy.batch_execute("PRAGMA journal_mode = DELETE;")?;
    let mut copy = DbConnection::Sqlite(copy);
    let facts = read_facts(&mut copy)?;
    drop(copy);
    Ok(facts)
}

/// `pg_dump --format=custom` under a snapshot exported by a repeatable-read transaction in which
/// the heads and keys are read: the dump and the manifest describe the same instant.
fn snapshot_postgres(
    url: &str,
    out: &Path,
) -> Result<(Vec<HeadRecord>, Vec<KeyRecord>), BackupError> {
    let mut pg = PgConnection::establish(url)?;
    pg.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
    let snapshot = diesel::sql_query("SELECT pg_export_snapshot() AS snapshot")
        .get_result::<SnapshotRow>(&mut pg)?
        .snapshot;
    let mut conn = DbConnection::Pg(pg);
    let result = read_facts(&mut conn)
        .map_err(BackupError::from)
        .and_then(|facts| {
            run_pg_tool(
                "pg_dump",
                Some(url),
                &[
                    "--format=custom".into(),
                    "--no-password".into(),
                    format!("--snapshot={snapshot}"),
                    format!("--file={}", utf8(out)?),
                ],
            )?;
            Ok(facts)
        });
    // Read-only: ending it either way changes nothing.
    let _ = conn.batch_execute("COMMIT");
    result
}

/// Deletes the oldest generations beyond `keep`, never `newest`.
fn prune(to: &Path, keep: u32, newest: &str) -> Result<Vec<PathBuf>, BackupError> {
    let mut older: Vec<String> = generations(to)?
        .into_iter()
        .filter(|n| n != newest)
        .collect();
    older.sort();
    let keep_older = usize::try_from(keep)
        .unwrap_or(usize::MAX)
        .saturating_sub(1);
    let excess = older.len().saturating_sub(keep_older);
    let mut removed = Vec::new();
    for name in older.into_iter().take(excess) {
        let p = to.join(name);
        remove_generation(&p)?;
        removed.push(p);
    }
    Ok(removed)
}

/// Names of the generation directories in `to`, oldest first.
pub fn generations(to: &Path) -> Result<Vec<String>, BackupError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(to).map_err(io_at(to))? {
        let entry = entry.map_err(io_at(to))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_generation_name(&name) && entry.path().is_dir() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// `kyukit-backup-YYYYMMDDTHHMMSSZ-xxxxxxxx`.
fn is_generation_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return false;
    };
    let b = rest.as_bytes();
    b.len() == 25
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && b[16] == b'-'
        && b[17..]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

/// Removes a (write-protected) generation directory.
pub fn remove_generation(dir: &Path) -> Result<(), BackupError> {
    fn writable(dir: &Path) -> Result<(), BackupError> {
        set_mode(dir, 0o700)?;
        for entry in std::fs::read_dir(dir).map_err(io_at(dir))? {
            let entry = entry.map_err(io_at(dir))?;
            if entry.file_type().map_err(io_at(dir))?.is_dir() {
                writable(&entry.path())?;
            }
        }
        Ok(())
    }
    writable(dir)?;
    std::fs::remove_dir_all(dir).map_err(io_at(dir))
}

// ---------------------------------------------------------------------------------------------
// verify

/// Re-hashes every file of a generation against its manifest, checks the key files, and for
/// SQLite opens the database copy read-only: `PRAGMA integrity_check` and the audit chain up to
/// exactly the manifest's heads. For PostgreSQL the dump's table of contents must read.
pub fn verify(generation: &Path) -> Result<Verified, BackupError> {
    let manifest_path = generation.join(MANIFEST);
    let bytes = std::fs::read(&manifest_path)
        .map_err(|e| fail(format!("{MANIFEST}: cannot read it: {e}")))?;
    let manifest_sha256 = hex::encode(Sha256::digest(&bytes));
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| fail(format!("{MANIFEST}: not a Kyukit backup manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(fail(format!(
            "{MANIFEST}: format {:?}, this kyukit reads {FORMAT:?}",
            manifest.format
        )));
    }
    let expected_db = match manifest.backend.as_str() {
        "sqlite" => SQLITE_FILE,
        "postgresql" => PG_FILE,
        other => return Err(fail(format!("{MANIFEST}: unknown backend {other:?}"))),
    };
    if manifest.database_file != expected_db {
        return Err(fail(format!(
            "{MANIFEST}: database file {:?}, expected {expected_db:?}",
            manifest.database_file
        )));
    }
    let mut listed = std::collections::BTreeSet::new();
    for f in &manifest.files {
        if f.path != expected_db
            && f.path != VAPID_FILE
            && !DATA_DIR_KEY_FILES.contains(&f.path.as_str())
            && key_file_kid(&f.path).is_none()
        {
            return Err(fail(format!("{MANIFEST}: unexpected path {:?}", f.path)));
        }
        if !listed.insert(f.path.as_str()) {
            return Err(fail(format!("{MANIFEST}: {} listed twice", f.path)));
        }
    }
    if !listed.contains(expected_db) {
        return Err(fail(format!("{MANIFEST}: does not list {expected_db}")));
    }
    check_no_extra_files(generation, &listed)?;
    for f in &manifest.files {
        let p = generation.join(&f.path);
        let (size, sha256) = hash_file(&p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => fail(format!("file {}: missing", f.path)),
            _ => fail(format!("file {}: {e}", f.path)),
        })?;
        if size != f.size {
            return Err(fail(format!(
                "file {}: {size} bytes, the manifest says {} (altered or truncated)",
                f.path, f.size
            )));
        }
        if sha256 != f.sha256 {
            return Err(fail(format!(
                "file {}: SHA-256 does not match the manifest (altered)",
                f.path
            )));
        }
    }
    if listed.contains(VAPID_FILE) {
        let pem = std::fs::read_to_string(generation.join(VAPID_FILE))
            .map_err(|e| fail(format!("file {VAPID_FILE}: {e}")))?;
        crate::push::check_vapid_pem(&pem).map_err(|e| fail(format!("file {VAPID_FILE}: {e}")))?;
    }
    for name in DATA_DIR_KEY_FILES {
        if listed.contains(name) {
            crate::secrets::read_private_key(&generation.join(name))
                .map_err(|e| fail(format!("file {name}: not a private key: {e}")))?;
        }
    }
    for f in &manifest.files {
        if let Some(kid) = key_file_kid(&f.path) {
            let key = crate::secrets::read_private_key(&generation.join(&f.path))
                .map_err(|e| fail(format!("file {}: not a private key: {e}", f.path)))?;
            if key.kid().to_b64() != kid {
                return Err(fail(format!(
                    "file {}: holds the key {}, not {kid}",
                    f.path,
                    key.kid()
                )));
            }
        }
    }
    for k in manifest
        .issuer_keys
        .iter()
        .filter(|k| k.status != KeyStatus::Compromised)
    {
        if !listed.contains(format!("keys/{}.pem", k.kid).as_str()) {
            return Err(fail(format!(
                "key {} ({}): its file is not in the backup",
                k.kid, k.status
            )));
        }
    }
    let db_path = generation.join(expected_db);
    let audit_entries = match manifest.backend.as_str() {
        "sqlite" => Some(check_sqlite_copy(&db_path, &manifest)?),
        _ => {
            run_pg_tool(
                "pg_restore",
                None,
                &["--list".into(), utf8(&db_path)?.into()],
            )
            .map_err(|e| fail(format!("file {PG_FILE}: {e}")))?;
            None
        }
    };
    Ok(Verified {
        manifest,
        manifest_sha256,
        audit_entries,
    })
}

fn check_no_extra_files(
    generation: &Path,
    listed: &std::collections::BTreeSet<&str>,
) -> Result<(), BackupError> {
    for entry in std::fs::read_dir(generation).map_err(io_at(generation))? {
        let entry = entry.map_err(io_at(generation))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "keys" && entry.path().is_dir() {
            let keys = entry.path();
            for k in std::fs::read_dir(&keys).map_err(io_at(&keys))? {
                let k = k.map_err(io_at(&keys))?;
                let rel = format!("keys/{}", k.file_name().to_string_lossy());
                if !listed.contains(rel.as_str()) {
                    return Err(fail(format!("file {rel}: not in the manifest")));
                }
            }
        } else if name != MANIFEST && !listed.contains(name.as_str()) {
            return Err(fail(format!("file {name}: not in the manifest")));
        }
    }
    Ok(())
}

/// Opens the SQLite copy read-only (immutable: the generation is write-protected) and checks it.
fn check_sqlite_copy(path: &Path, manifest: &Manifest) -> Result<i64, BackupError> {
    let bad = |what: String| fail(format!("file {SQLITE_FILE}: {what}"));
    let mut c = SqliteConnection::establish(&readonly_uri(path)?)
        .map_err(|e| bad(format!("cannot open: {e}")))?;
    let rows: Vec<IntegrityRow> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut c)
        .map_err(|e| bad(format!("integrity_check: {e}")))?;
    if rows.len() != 1 || rows.first().is_none_or(|r| r.integrity_check != "ok") {
        let first = rows
            .first()
            .map(|r| r.integrity_check.clone())
            .unwrap_or_default();
        return Err(bad(format!("integrity_check: {first}")));
    }
    let mut conn = DbConnection::Sqlite(c);
    let (heads, keys) = read_facts(&mut conn).map_err(|e| bad(e.to_string()))?;
    if heads != manifest.audit_heads {
        return Err(bad("its audit heads differ from the manifest".into()));
    }
    if keys != manifest.issuer_keys {
        return Err(bad("its issuer keys differ from the manifest".into()));
    }
    let mut total = 0;
    for h in &heads {
        let n = audit::verify(&mut conn, &h.municipality_id, Some((h.seq, &h.hash)))
            .map_err(|e| bad(format!("audit log does not verify: {e}")))?;
        if n != h.seq {
            return Err(bad(format!(
                "audit log has {n} entries, the manifest's head is entry {}",
                h.seq
            )));
        }
        total += n;
    }
    Ok(total)
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL client tools

/// Runs `pg_dump`/`pg_restore` (from PATH, else the newest /usr/lib/postgresql/*/bin). A password
/// in the URL goes through `PGPASSWORD`, not the command line.
fn run_pg_tool(tool: &str, url: Option<&str>, args: &[String]) -> Result<(), BackupError> {
    let mut candidates = vec![PathBuf::from(tool)];
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| {
                    let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                    Some((v, e.path().join("bin").join(tool)))
                })
                .collect()
        })
        .unwrap_or_default();
    versioned.sort();
    candidates.extend(versioned.into_iter().rev().map(|(_, p)| p));
    for program in candidates {
        let mut cmd = Command::new(&program);
        cmd.args(args);
        if let Some(url) = url {
            let (bare, password) = split_password(url);
            cmd.arg(format!("--dbname={bare}"));
            if let Some(pw) = password {
                cmd.env("PGPASSWORD", pw);
            }
        }
        let out = match cmd.output() {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(fail(format!("{}: {e}", program.display()))),
        };
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut msg: String = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        if msg.chars().count() > 400 {
            msg = msg.chars().take(400).collect::<String>() + "…";
        }
        return Err(fail(format!("{tool} failed ({}): {msg}", out.status)));
    }
    Err(fail(format!(
        "{tool} not found (install the PostgreSQL client tools, matching the server's major version or newer)"
    )))
}

/// (the URL without its password, the percent-decoded password).
fn split_password(url: &str) -> (String, Option<String>) {
    let Some(s) = url.find("://") else {
        return (url.to_string(), None);
    };
    let rest = &url[s + 3..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return (url.to_string(), None);
    };
    let Some(colon) = authority[..at].find(':') else {
        return (url.to_string(), None);
    };
    let bare = format!("{}{}{}", &url[..s + 3], &authority[..colon], &rest[at..]);
    (bare, Some(percent_decode(&authority[colon + 1..at])))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hexpair = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hexpair) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------
// files

/// `keys/<kid>.pem` → kid (base64url characters only: no path tricks from a manifest).
fn key_file_kid(path: &str) -> Option<&str> {
    let kid = path.strip_prefix("keys/")?.strip_suffix(".pem")?;
    let ok = !kid.is_empty()
        && kid.len() <= 64
        && kid
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    ok.then_some(kid)
}

/// The `<kid>.pem` files of a keys directory (none if it does not exist), sorted.
fn list_pem(dir: &Path) -> Result<Vec<String>, BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_at(dir)(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_at(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if key_file_kid(&format!("keys/{name}")).is_some() && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn file_record(base: &Path, rel: &str) -> Result<FileRecord, BackupError> {
    let p = base.join(rel);
    let (size, sha256) = hash_file(&p).map_err(io_at(&p))?;
    Ok(FileRecord {
        path: rel.into(),
        size,
        sha256,
    })
}

fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(h.finalize())))
}

fn open_new(path: &Path, mode: u32) -> Result<std::fs::File, BackupError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    opts.open(path).map_err(io_at(path))
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), BackupError> {
    let mut f = open_new(path, mode)?;
    f.write_all(bytes).map_err(io_at(path))?;
    f.sync_all().map_err(io_at(path))
}

/// Copies a file into a new file created with `mode` (never more open, not even briefly).
fn copy_with_mode(src: &Path, dst: &Path, mode: u32) -> Result<(), BackupError> {
    let mut from = std::fs::File::open(src).map_err(io_at(src))?;
    let mut to = open_new(dst, mode)?;
    std::io::copy(&mut from, &mut to).map_err(io_at(dst))?;
    to.sync_all().map_err(io_at(dst))
}

fn remove_if_exists(path: &Path) -> Result<(), BackupError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_at(path)(e)),
        _ => Ok(()),
    }
}

fn sync_file(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_at(path))
}

fn sync_dir(path: &Path) -> Result<(), BackupError> {
    #[cfg(unix)]
    {
        sync_file(path)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), BackupError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_at(path))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

fn utf8(path: &Path) -> Result<&str, BackupError> {
    path.to_str()
        .ok_or_else(|| fail(format!("{}: path is not UTF-8", path.display())))
}

/// `file:<absolute path>?mode=ro&immutable=1`, percent-encoded.
fn readonly_uri(path: &Path) -> Result<String, BackupError> {
    let abs = std::path::absolute(path).map_err(io_at(path))?;
    let mut uri = String::from("file:");
    for &b in utf8(&abs)?.as_bytes() {
        if b.is_ascii_alphanumeric() || b"/._~-".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    Ok(uri)
}

fn random_hex(n: usize) -> Result<String, BackupError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| fail(format!("no randomness: {e}")))?;
    Ok(hex::encode(b))
}

fn utc(now: i64) -> Result<time::OffsetDateTime, BackupError> {
    time::OffsetDateTime::from_unix_timestamp(now).map_err(|e| fail(format!("time {now}: {e}")))
}

/// `20261121T000000Z`: sorts like the time.
fn stamp(now: i64) -> Result<String, BackupError> {
    utc(now)?
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .map_err(|e| fail(format!("time {now}: {e}")))
}

fn rfc3339(now: i64) -> Result<String, BackupError> {
    utc(now)?
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| fail(format!("time {now}: {e}")))
}

#[cfg(test)]
mod tests;
