//! The data directory holds the medical database and the private keys: it is the owner's only.
//! The directory is 0700 and every file in it 0600 (the database and SQLite's `-wal`/`-shm`,
//! keys, the Web Push key), whatever the umask the operator's shell had:
//! - [`owner_only_umask`] at the start of every `kyukit` command, so whatever the process (and
//!   SQLite, and `pg_dump` it runs) creates is owner-only from its first byte;
//! - [`create`] and [`secure_sqlite`] set the modes explicitly as well (for the library used in
//!   a process with another umask, e.g. the tests, and for files an older version left 0644);
//! - `kyukit serve` refuses a directory group or others may enter ([`check_private`]).

use std::io;
use std::path::Path;

/// Sets the process umask to 0o077: files and directories created from now on are the owner's
/// only. Called by `cli::main` before anything opens a file.
pub fn owner_only_umask() {
    #[cfg(unix)]
    {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    }
}

/// Creates the data directory (and missing parents) with mode 0700; an existing one is left as
/// it is (`serve` checks it with [`check_private`]).
pub fn create(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Refuses a data directory that group or others may read, write or enter, naming the fix. A
/// directory that does not exist yet passes (it is created 0700).
pub fn check_private(dir: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::metadata(dir) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("data directory {}: {e}", dir.display())),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            let shown = crate::cli::shell_quote(&dir.display().to_string());
            return Err(format!(
                "the data directory {} is open to group or others (mode {mode:03o}); it holds the \
                 medical database and the private keys, so Kyukit will not start on it. Make it \
                 the owner's only and start again: chmod 700 {shown}",
                dir.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Makes the SQLite database file 0600 before SQLite opens it: created empty with that mode if
/// missing (SQLite takes an empty file as a new database), tightened if an older version left it
/// wider; the same for existing `-wal` and `-shm` files. SQLite creates new `-wal`/`-shm` files
/// with the database file's mode.
pub fn secure_sqlite(db_file: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(db_file)?;
        let mut names = vec![db_file.to_path_buf()];
        for suffix in ["-wal", "-shm"] {
            let mut name = db_file.as_os_str().to_owned();
            name.push(suffix);
            names.push(name.into());
        }
        for name in names {
            match std::fs::metadata(&name) {
                Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                    std::fs::set_permissions(&name, std::fs::Permissions::from_mode(0o600))?;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = db_file;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn directories_are_made_private_and_open_ones_refused() {
        let base = std::env::temp_dir().join(format!(
            "kyukit-datadir-{}",
            crate::service::new_id().unwrap()
        ));
        let dir = base.join("a/data");
        create(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        check_private(&dir).unwrap();
        check_private(&base.join("not yet")).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        let err = check_private(&dir).unwrap_err();
        assert!(
            err.contains("mode 750") && err.ends_with(&format!("chmod 700 {}", dir.display())),
            "{err}"
        );

        // An older version's 0644 database and WAL are tightened; a missing one is made 0600.
        let db = dir.join("kyukit.db");
        for f in [&db, &dir.join("kyukit.db-wal")] {
            std::fs::write(f, b"").unwrap();
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        secure_sqlite(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&dir.join("kyukit.db-wal")), 0o600);
        let fresh = dir.join("fresh.db");
        secure_sqlite(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o600);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
