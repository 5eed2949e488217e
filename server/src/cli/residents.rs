//! `kyukit residents import`: bulk onboarding from a paper-kit register (CSV; docs/operations.md
//! *Importing a paper-kit register*). The rules are `service::import`'s; this prints its report,
//! a progress indicator on standard error and the time taken.

use super::serve::ServeArgs;
use crate::clock::{Clock, SystemClock};
use crate::service::import;
use crate::startup;
use clap::{Args, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Subcommand)]
pub enum ResidentsCommand {
    /// Import residents from a paper-kit register (CSV, UTF-8, documented columns).
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    server: ServeArgs,
    /// The register, as CSV (UTF-8, a header line naming the columns).
    #[arg(long)]
    csv: PathBuf,
    /// Check every row and report, without writing anything.
    #[arg(long)]
    dry_run: bool,
    /// The login id of the city administrator doing the import (recorded and audited).
    #[arg(long = "by")]
    by: String,
    /// Also write the problems as CSV (line,column,reason) to this file.
    #[arg(long)]
    report: Option<PathBuf>,
}

/// Largest register accepted (bytes).
const MAX_FILE: u64 = 64 * 1024 * 1024;

pub fn run(cmd: ResidentsCommand) -> Result<(), String> {
    let ResidentsCommand::Import(a) = cmd;
    let started = Instant::now();
    let size = std::fs::metadata(&a.csv)
        .map_err(|e| format!("{}: {e}", a.csv.display()))?
        .len();
    if size > MAX_FILE {
        return Err(format!(
            "{}: {size} bytes; at most {MAX_FILE}",
            a.csv.display()
        ));
    }
    let bytes = std::fs::read(&a.csv).map_err(|e| format!("{}: {e}", a.csv.display()))?;
    let config = a.server.config()?;
    let clock = SystemClock;
    let (db, muni) = startup::open(&config, &clock).map_err(|e| e.to_string())?;
    let actor = import::operator(&db, &muni, &a.by).map_err(|e| e.for_operator())?;
    let tty = std::io::stderr().is_terminal();
    let mut last_decile = usize::MAX;
    let mut progress = |done: usize, total: usize| {
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        let elapsed = started.elapsed().as_secs_f64();
        if tty {
            let bar = "#".repeat(pct / 4) + &".".repeat(25 - pct / 4);
            eprint!("\rimporting [{bar}] {done}/{total} ({pct} %) {elapsed:.1} s");
            if done == total {
                eprintln!();
            }
        } else if pct / 10 != last_decile {
            last_decile = pct / 10;
            eprintln!("importing: {done}/{total} ({pct} %) {elapsed:.1} s");
        }
        let _ = std::io::stderr().flush();
    };
    let report = import::import_csv(&db, &actor, &bytes, a.dry_run, clock.now(), &mut progress)
        .map_err(|e| format!("{}: {}", a.csv.display(), e.for_operator()))?;
    for e in &report.errors {
        println!("line {}, column {}: {}", e.line, e.column, e.reason);
    }
    for (line, resident) in &report.registered_elsewhere {
        println!(
            "line {line}: already registered through the portal as resident {resident} (not imported)"
        );
    }
    if let Some(path) = &a.report {
        write_report(path, &report).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let secs = started.elapsed().as_secs_f64();
    let verb = if a.dry_run {
        "dry run (nothing written)"
    } else {
        "imported"
    };
    println!(
        "{verb}: {} rows; {} {}, {} already imported or registered, {} rejected; {secs:.2} s",
        report.rows,
        report.imported,
        if a.dry_run {
            "would be imported"
        } else {
            "imported"
        },
        report.already,
        report.rejected_lines.len(),
    );
    if let Some(id) = &report.import_id {
        println!("import id: {id}");
    }
    if report.rejected_lines.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} rows rejected (listed above; fix them and run the import again: rows already imported are skipped)",
            report.rejected_lines.len()
        ))
    }
}

fn write_report(path: &std::path::Path, report: &import::Report) -> Result<(), String> {
    let mut w = csv::Writer::from_path(path).map_err(|e| e.to_string())?;
    w.write_record(["line", "column", "reason"])
        .map_err(|e| e.to_string())?;
    for e in &report.errors {
        w.write_record([e.line.to_string(), e.column.clone(), e.reason.clone()])
            .map_err(|e| e.to_string())?;
    }
    w.flush().map_err(|e| e.to_string())
}
