//! The `kyukit` binary: parses the command line and hands over to `kyukit_server::cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    kyukit_server::cli::main()
}
