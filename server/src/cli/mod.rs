//! The `kyukit` command line (clap). Each subcommand lives in its own module.

mod admin;
mod audit;
mod backup;
mod card;
mod keys;
pub mod serve;

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
}

/// Exit codes: 0 success, 1 the operation failed (e.g. a card was rejected), 2 usage error.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Card(cmd) => card::run(cmd),
        Command::Keys(cmd) => keys::run(cmd),
        Command::Admin(cmd) => admin::run(cmd),
        Command::Audit(cmd) => audit::run(cmd),
        Command::Backup(cmd) => backup::run(cmd),
        Command::Restore(args) => backup::restore(args),
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
