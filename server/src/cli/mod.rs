//! The `kyukit` command line (clap). Each subcommand lives in its own module.

mod admin;
mod audit;
mod backup;
mod card;
mod cards;
mod keys;
mod municipality;
mod residents;
pub mod serve;
mod totp;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "kyukit",
    version,
    about = "Kyukit (救急キット): signed emergency cards for residents, paramedics and EDs"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (SQLite in the data directory unless DATABASE_URL says postgres://…).
    Serve(serve::RunArgs),
    /// Staff accounts: create the first city administrator.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// The hash-chained audit log: print the head, verify the chain.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Municipalities (tenants) of this deployment: create one with its issuer key, list them.
    #[command(subcommand)]
    Municipality(municipality::MunicipalityCommand),
    /// Issuer keys: list, rotate, mark compromised.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Make, verify and inspect signed emergency cards.
    #[command(subcommand)]
    Card(card::CardCommand),
    /// Backups: take a consistent snapshot as a write-protected generation, or verify one.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Restore a backup generation into a data directory and database (verifies it first).
    Restore(backup::RestoreArgs),
    /// Cards in bulk: issue and print the cards of a district or an import as one PDF.
    #[command(subcommand)]
    Cards(cards::CardsCommand),
    /// Residents: import a city's paper-kit register (CSV).
    #[command(subcommand)]
    Residents(residents::ResidentsCommand),
    /// Print the current one-time code for a staff TOTP secret (for testing and scripts).
    Totp(totp::TotpArgs),
}

/// How a person runs this program again from the same directory, for the next steps printed on
/// start: `cargo run [--release] --` when cargo started it (cargo sets `CARGO` and
/// `CARGO_PKG_NAME` for the programs it runs), `kyukit` when that name on `PATH` is this binary, and
/// otherwise the binary's own path.
pub(crate) fn invocation() -> String {
    let exe = std::env::current_exe().ok();
    invocation_for(
        exe.as_deref(),
        std::env::var_os("CARGO").is_some() && std::env::var_os("CARGO_PKG_NAME").is_some(),
        std::env::var_os("PATH").as_deref(),
    )
}

fn invocation_for(
    exe: Option<&std::path::Path>,
    via_cargo: bool,
    path_var: Option<&std::ffi::OsStr>,
) -> String {
    let Some(exe) = exe else {
        return "kyukit".into();
    };
    if via_cargo {
        let profile = exe
            .parent()
            .and_then(|d| d.file_name())
            .and_then(|n| n.to_str());
        return match profile {
            Some("release") => "cargo run --release --".into(),
            _ => "cargo run --".into(),
        };
    }
    let same = |candidate: &std::path::Path| matches!((candidate.canonicalize(), exe.canonicalize()), (Ok(a), Ok(b)) if a == b);
    let name = exe.file_name().and_then(|n| n.to_str()).unwrap_or("kyukit");
    if let Some(paths) = path_var
        && std::env::split_paths(paths).any(|dir| same(&dir.join(name)))
    {
        return name.to_string();
    }
    shell_quote(&exe.display().to_string())
}

/// Quotes a word for a POSIX shell when it needs it.
pub(crate) fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Exit codes: 0 success, 1 the operation failed (e.g. a card was rejected), 2 usage error.
pub fn main() -> ExitCode {
    // Before anything opens a file: the database, its WAL, keys and backups are owner-only.
    crate::datadir::owner_only_umask();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Card(cmd) => card::run(cmd),
        Command::Keys(cmd) => keys::run(cmd),
        Command::Municipality(cmd) => municipality::run(cmd),
        Command::Admin(cmd) => admin::run(cmd),
        Command::Audit(cmd) => audit::run(cmd),
        Command::Backup(cmd) => backup::run(cmd),
        Command::Restore(args) => backup::restore(args),
        Command::Residents(cmd) => residents::run(cmd),
        Command::Cards(cmd) => cards::run(cmd),
        Command::Totp(args) => {
            use crate::clock::{Clock, SystemClock};
            totp::run(args, SystemClock.now())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // One line, always.
            eprintln!("kyukit: {}", message.replace('\n', " "));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn invocation_names_what_runs_from_here() {
        let release = Path::new("/src/kyukit/target/release/kyukit");
        let debug = Path::new("/src/kyukit/target/debug/kyukit");
        assert_eq!(
            invocation_for(Some(release), true, None),
            "cargo run --release --"
        );
        assert_eq!(invocation_for(Some(debug), true, None), "cargo run --");
        // Not on PATH: the binary's own path (quoted when it must be).
        assert_eq!(
            invocation_for(Some(release), false, None),
            "/src/kyukit/target/release/kyukit"
        );
        assert_eq!(
            invocation_for(Some(Path::new("/opt/my kyukit/kyukit")), false, None),
            "'/opt/my kyukit/kyukit'"
        );
        // On PATH: its name. This test's own binary stands in for it.
        let me = std::env::current_exe().unwrap();
        let dir = me.parent().unwrap().as_os_str().to_owned();
        let name = me.file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(invocation_for(Some(&me), false, Some(&dir)), name);
    }

    #[test]
    fn shell_quote_quotes_only_when_needed() {
        assert_eq!(shell_quote("kyukit-data"), "kyukit-data");
        assert_eq!(shell_quote("my data"), "'my data'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
