//! The `kyukit-field` binary: parses the command line and hands over to `kyukit_field::cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    kyukit_field::cli::main()
}
