//! Restoring a generation: verify it, put its database and keys back, check the restored audit
//! chain against the manifest.

use super::{
    BackupError, CountRow, DATA_DIR_KEY_FILES, Database, PG_FILE, Restored, SQLITE_FILE, Target,
    VAPID_FILE, copy_with_mode, fail, io_at, key_file_kid, list_pem, remove_if_exists, run_pg_tool,
    set_mode, sync_dir, utf8, verify,
};
use crate::audit;
use crate::db::Db;
use diesel::prelude::*;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// restore

/// Verifies the generation, then puts its database and keys in place: SQLite by copying the file
/// (stale `-wal`/`-shm` removed), PostgreSQL by `pg_restore --clean --if-exists --no-owner` in one
/// transaction. Refuses a target that already holds a database or keys unless `force`. Finally
/// opens the restored database and verifies the audit chain up to the manifest's heads and that
/// the active keys load. The server must be stopped (SQLite) or not writing (PostgreSQL).
pub fn restore(generation: &Path, target: &Target, force: bool) -> Result<Restored, BackupError> {
    let manifest = verify(generation)
        .map_err(|e| fail(format!("the backup does not verify: {e}")))?
        .manifest;
    if manifest.backend != target.backend().name() {
        return Err(fail(format!(
            "this is a {} backup but the target database is {}",
            manifest.backend,
            target.backend().name()
        )));
    }
    let mut occupied = Vec::new();
    if !list_pem(&target.keys_dir())?.is_empty() {
        occupied.push(target.keys_dir().display().to_string());
    }
    let vapid_dst = target.data_dir.join(VAPID_FILE);
    let has_vapid = manifest.files.iter().any(|f| f.path == VAPID_FILE);
    if has_vapid && vapid_dst.exists() {
        occupied.push(vapid_dst.display().to_string());
    }
    let data_dir_keys: Vec<&str> = DATA_DIR_KEY_FILES
        .into_iter()
        .filter(|name| manifest.files.iter().any(|f| f.path == *name))
        .collect();
    for name in &data_dir_keys {
        let dst = target.data_dir.join(name);
        if dst.exists() {
            occupied.push(dst.display().to_string());
        }
    }
    match &target.database {
        Database::Sqlite(p) => {
            if std::fs::metadata(p).is_ok_and(|m| m.len() > 0) {
                occupied.push(p.display().to_string());
            }
        }
        Database::Postgres(url) => {
            if pg_has_tables(url)? {
                occupied.push("the PostgreSQL database".into());
            }
        }
    }
    if !occupied.is_empty() && !force {
        return Err(fail(format!(
            "refusing to restore: {} already hold data; stop the server and pass --force to replace it",
            occupied.join(" and ")
        )));
    }
    crate::datadir::create(&target.data_dir).map_err(io_at(&target.data_dir))?;
    match &target.database {
        Database::Sqlite(p) => restore_sqlite_file(&generation.join(SQLITE_FILE), p)?,
        Database::Postgres(url) => {
            run_pg_tool(
                "pg_restore",
                Some(url),
                &[
                    "--clean".into(),
                    "--if-exists".into(),
                    "--no-owner".into(),
                    "--single-transaction".into(),
                    "--exit-on-error".into(),
                    "--no-password".into(),
                    utf8(&generation.join(PG_FILE))?.into(),
                ],
            )?;
        }
    }
    let keys_dir = target.keys_dir();
    std::fs::create_dir_all(&keys_dir).map_err(io_at(&keys_dir))?;
    set_mode(&keys_dir, 0o700)?;
    let mut key_files = 0;
    for f in &manifest.files {
        let Some(kid) = key_file_kid(&f.path) else {
            continue;
        };
        let dst = keys_dir.join(format!("{kid}.pem"));
        let tmp = keys_dir.join(format!(".{kid}.pem.restoring"));
        remove_if_exists(&tmp)?;
        copy_with_mode(&generation.join(&f.path), &tmp, 0o600)?;
        std::fs::rename(&tmp, &dst).map_err(io_at(&dst))?;
        set_mode(&dst, 0o600)?;
        key_files += 1;
    }
    sync_dir(&keys_dir)?;
    if has_vapid {
        let tmp = target.data_dir.join(format!(".{VAPID_FILE}.restoring"));
        remove_if_exists(&tmp)?;
        copy_with_mode(&generation.join(VAPID_FILE), &tmp, 0o600)?;
        std::fs::rename(&tmp, &vapid_dst).map_err(io_at(&vapid_dst))?;
        set_mode(&vapid_dst, 0o600)?;
        sync_dir(&target.data_dir)?;
    }
    for name in &data_dir_keys {
        let dst = target.data_dir.join(name);
        let tmp = target.data_dir.join(format!(".{name}.restoring"));
        remove_if_exists(&tmp)?;
        copy_with_mode(&generation.join(name), &tmp, 0o600)?;
        std::fs::rename(&tmp, &dst).map_err(io_at(&dst))?;
        set_mode(&dst, 0o600)?;
        sync_dir(&target.data_dir)?;
    }
    // The restored state must be the backed-up state.
    let db = Db::connect(&target.url, 2, 1).map_err(|e| fail(format!("restored database: {e}")))?;
    let mut conn = db
        .conn()
        .map_err(|e| fail(format!("restored database: {e}")))?;
    let mut audit_entries = 0;
    for h in &manifest.audit_heads {
        let n = audit::verify(&mut conn, &h.municipality_id, Some((h.seq, &h.hash)))
            .map_err(|e| fail(format!("restored database: audit log does not verify: {e}")))?;
        audit_entries += n;
    }
    drop(conn);
    for h in &manifest.audit_heads {
        super::keys::load(&db, &target.data_dir, &h.municipality_id, true)
            .map_err(|e| fail(format!("restored keys: {e}")))?;
    }
    Ok(Restored {
        manifest,
        key_files,
        vapid_key: has_vapid,
        server_key: data_dir_keys.contains(&super::SERVER_KEY_FILE),
        audit_entries,
    })
}

fn restore_sqlite_file(src: &Path, dst: &Path) -> Result<(), BackupError> {
    let parent = match dst.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io_at(&parent))?;
    let file_name = dst
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| fail(format!("{}: not a file path", dst.display())))?;
    let tmp = parent.join(format!(".{file_name}.restoring"));
    remove_if_exists(&tmp)?;
    copy_with_mode(src, &tmp, 0o600)?;
    // A stale WAL next to the new file would be replayed into it: remove first, then rename.
    for suffix in ["-wal", "-shm", "-journal"] {
        remove_if_exists(&parent.join(format!("{file_name}{suffix}")))?;
    }
    std::fs::rename(&tmp, dst).map_err(io_at(dst))?;
    sync_dir(&parent)
}

fn pg_has_tables(url: &str) -> Result<bool, BackupError> {
    let mut pg = PgConnection::establish(url)?;
    let row: CountRow = diesel::sql_query(
        "SELECT count(*) AS n FROM information_schema.tables \
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    .get_result(&mut pg)?;
    Ok(row.n > 0)
}
