//! The `kyukit` command line (clap). Each subcommand lives in its own module.

mod card;
mod serve;

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
    /// Run the server (SQLite-free for now: keys are generated in the data directory on first start).
    Serve(serve::ServeArgs),
    /// Make, verify and inspect signed emergency cards.
    #[command(subcommand)]
    Card(card::CardCommand),
}

/// Exit codes: 0 success, 1 the operation failed (e.g. a card was rejected), 2 usage error.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Card(cmd) => card::run(cmd),
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
