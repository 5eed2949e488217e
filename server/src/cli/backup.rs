//! `kyukit backup create | verify` and `kyukit restore` (RULES R16). The work is in
//! `service::backup`; this module parses flags, takes "now" from the system clock and prints.
//!
//! `--data-dir`/`--database-url` read like `kyukit serve`'s (same environment variables), but are
//! declared here: `pg_dump`/`pg_restore` need the URL itself, which `Config` keeps sealed.

use crate::clock::{Clock, SystemClock};
use crate::service::backup::{self, Target};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Take a consistent snapshot (the server may keep running) as a new write-protected generation.
    Create(CreateArgs),
    /// Re-hash a generation against its manifest and check its database copy.
    Verify {
        /// The generation directory (`…/kyukit-backup-<time>-<random>`).
        #[arg(long)]
        from: PathBuf,
    },
}

/// Where the live data is: the same flags and variables as `kyukit serve`.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Data directory (keys, and the SQLite database unless --database-url says otherwise).
    #[arg(long, env = "KYUKIT_DATA_DIR", default_value = "kyukit-data")]
    data_dir: PathBuf,
    /// Database: `postgres://…` for PostgreSQL; default SQLite at <data-dir>/kyukit.db.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

impl DataArgs {
    fn target(&self) -> Result<Target, String> {
        Target::new(&self.data_dir, self.database_url.as_deref()).map_err(|e| e.to_string())
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Directory of generations; each backup is a new `kyukit-backup-<UTC time>-<random>` in it.
    #[arg(long)]
    to: PathBuf,
    /// Generations to keep: older ones beyond this are deleted after a successful backup.
    #[arg(long, default_value_t = backup::DEFAULT_KEEP, value_parser = clap::value_parser!(u32).range(1..))]
    keep: u32,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The generation directory to restore.
    #[arg(long)]
    from: PathBuf,
    /// Replace a database and keys that are already there (stop the server first).
    #[arg(long)]
    force: bool,
}

pub fn run(cmd: BackupCommand) -> Result<(), String> {
    match cmd {
        BackupCommand::Create(args) => {
            let target = args.data.target()?;
            let now = SystemClock.now();
            let made = backup::create(&target, &args.to, args.keep, now)
                .map_err(|e| format!("backup failed: {e}"))?;
            let m = &made.manifest;
            println!(
                "backup {} ({}, {} files)",
                made.dir.display(),
                m.backend,
                m.files.len()
            );
            for h in &m.audit_heads {
                println!("  audit head {}:{}", h.seq, h.hash);
            }
            println!(
                "  manifest SHA-256 {} (note it off this machine)",
                made.manifest_sha256
            );
            for old in &made.removed {
                println!("  removed old generation {}", old.display());
            }
        }
        BackupCommand::Verify { from } => {
            let v = backup::verify(&from).map_err(|e| format!("backup does not verify: {e}"))?;
            let m = &v.manifest;
            let checked = match v.audit_entries {
                Some(n) => format!("; audit log verifies: {n} entries"),
                None => "; dump readable (the audit log is checked on restore)".into(),
            };
            println!(
                "backup verifies: {} files, {} backup of {}{checked}; manifest SHA-256 {}",
                m.files.len(),
                m.backend,
                m.created_at,
                v.manifest_sha256
            );
        }
    }
    Ok(())
}

pub fn restore(args: RestoreArgs) -> Result<(), String> {
    let target = args.data.target()?;
    let r = backup::restore(&args.from, &target, args.force)
        .map_err(|e| format!("restore failed: {e}"))?;
    let heads: Vec<String> = r
        .manifest
        .audit_heads
        .iter()
        .map(|h| format!("{}:{}", h.seq, h.hash))
        .collect();
    println!(
        "restored the {} backup of {} into {} ({} key files, {}, {}); audit log verifies: {} entries, head {}",
        r.manifest.backend,
        r.manifest.created_at,
        target.data_dir.display(),
        r.key_files,
        if r.vapid_key {
            "the Web Push key"
        } else {
            "no Web Push key: browsers must subscribe again"
        },
        if r.server_key {
            "the federation server key"
        } else {
            "no federation server key: peer deployments must refresh this one"
        },
        r.audit_entries,
        heads.join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("kyukit").chain(args.iter().copied()))
            .map(|c| c.command)
    }

    fn run_cli(args: &[&str]) -> Result<(), String> {
        match parse(args).map_err(|e| e.to_string())? {
            Command::Backup(cmd) => run(cmd),
            Command::Restore(args) => restore(args),
            other => panic!("not a backup command: {other:?}"),
        }
    }

    #[test]
    fn flags() {
        assert!(matches!(
            parse(&["backup", "create", "--to", "b"]).unwrap(),
            Command::Backup(BackupCommand::Create(CreateArgs { keep: 7, .. }))
        ));
        assert!(parse(&["backup", "create", "--to", "b", "--keep", "0"]).is_err());
        assert!(parse(&["backup", "create"]).is_err(), "--to is required");
        assert!(
            parse(&["restore", "--data-dir", "d"]).is_err(),
            "--from is required"
        );
        assert!(matches!(
            parse(&["restore", "--from", "g", "--force"]).unwrap(),
            Command::Restore(RestoreArgs { force: true, .. })
        ));
    }

    /// The CLI round trip on SQLite: back up, verify, refuse a restore over data, restore elsewhere.
    #[test]
    fn sqlite_round_trip_through_the_cli() {
        let root = std::env::temp_dir().join(format!("kyukit-cli-backup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let (data, to, other) = (root.join("data"), root.join("backups"), root.join("other"));
        let config = crate::config::Config::new(
            "127.0.0.1:0".parse().unwrap(),
            data.clone(),
            "https://localhost/".into(),
        );
        let (db, muni) = crate::startup::open(&config, &crate::clock::FixedClock(1)).unwrap();
        let head = {
            let mut c = db.conn().unwrap();
            crate::audit::head(&mut c, &muni).unwrap()
        };
        drop(db);
        let (d, t, o) = (
            data.to_str().unwrap(),
            to.to_str().unwrap(),
            other.to_str().unwrap(),
        );
        run_cli(&[
            "backup",
            "create",
            "--data-dir",
            d,
            "--to",
            t,
            "--keep",
            "2",
        ])
        .unwrap();
        run_cli(&[
            "backup",
            "create",
            "--data-dir",
            d,
            "--to",
            t,
            "--keep",
            "2",
        ])
        .unwrap();
        run_cli(&[
            "backup",
            "create",
            "--data-dir",
            d,
            "--to",
            t,
            "--keep",
            "2",
        ])
        .unwrap();
        let gens = backup::generations(&to).unwrap();
        assert_eq!(gens.len(), 2, "{gens:?}");
        let generation = to.join(&gens[1]);
        let g = generation.to_str().unwrap();
        run_cli(&["backup", "verify", "--from", g]).unwrap();
        let err = run_cli(&["restore", "--from", g, "--data-dir", d]).unwrap_err();
        assert!(err.contains("--force"), "{err}");
        run_cli(&["restore", "--from", g, "--data-dir", o]).unwrap();
        let restored = crate::db::Db::connect(
            &crate::db::DatabaseUrl::sqlite_file(&other.join("kyukit.db")),
            1,
            1,
        )
        .unwrap();
        let mut c = restored.conn().unwrap();
        assert_eq!(crate::audit::head(&mut c, &muni).unwrap(), head);
        drop(c);
        for name in gens {
            backup::remove_generation(&to.join(name)).unwrap();
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}
