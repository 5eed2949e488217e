//! `kyukit cards batch`: the cards of a district or of an import as one PDF (fridge sheets or
//! wallet cards), sorted by district and address (docs/operations.md *Batch cards*). The rules are
//! `service::batch`'s; this prints what was issued, reused and skipped, and the time.

use super::serve::ServeArgs;
use crate::clock::{Clock, SystemClock};
use crate::service::batch::{self, Format, Selection};
use crate::service::cards::IssuePolicy;
use crate::service::import;
use crate::startup;
use clap::{Args, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Subcommand)]
pub enum CardsCommand {
    /// Issue (or reuse) and print the cards of a district or an import as one PDF.
    Batch(BatchArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    /// A4 fridge sheets, one a page.
    Fridge,
    /// ID-1 wallet cards, one a page.
    Wallet,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["district", "import_id"])))]
pub struct BatchArgs {
    #[command(flatten)]
    server: ServeArgs,
    /// The residents of this district.
    #[arg(long)]
    district: Option<String>,
    /// The residents an import made (its id, printed by `kyukit residents import`).
    #[arg(long)]
    import_id: Option<String>,
    #[arg(long, value_enum)]
    format: FormatArg,
    /// Where to write the PDF.
    #[arg(long)]
    out: PathBuf,
    /// The login id of the city administrator doing it (recorded and audited).
    #[arg(long = "by")]
    by: String,
    /// Also write the page list as CSV (page, card id, resident id, district, address, reused),
    /// for the envelopes.
    #[arg(long)]
    list: Option<PathBuf>,
}

pub fn run(cmd: CardsCommand) -> Result<(), String> {
    let CardsCommand::Batch(a) = cmd;
    let started = Instant::now();
    let config = a.server.config()?;
    let clock = SystemClock;
    let (db, muni) = startup::open(&config, &clock).map_err(|e| e.to_string())?;
    let actor = import::operator(&db, &muni, &a.by).map_err(|e| e.for_operator())?;
    let selection = match (a.district, a.import_id) {
        (Some(d), _) => Selection::District(d),
        (None, Some(i)) => Selection::Import(i),
        (None, None) => return Err("--district or --import-id".into()),
    };
    let format = match a.format {
        FormatArg::Fridge => Format::Fridge,
        FormatArg::Wallet => Format::Wallet,
    };
    let base = config.card_base_url();
    let policy = IssuePolicy {
        data_dir: &config.data_dir,
        card_base_url: &base,
        validity_secs: config.card_validity_secs,
    };
    let tty = std::io::stderr().is_terminal();
    let mut progress = |done: usize, total: usize| {
        if tty {
            eprint!("\rcards: {done}/{total}");
            if done == total {
                eprintln!();
            }
        } else {
            eprintln!("cards: {done}/{total}");
        }
        let _ = std::io::stderr().flush();
    };
    let result = batch::run(
        &db,
        &actor,
        &selection,
        format,
        &policy,
        clock.now(),
        &mut progress,
    )
    .map_err(|e| e.for_operator())?;
    for s in &result.skipped {
        println!(
            "skipped: resident {} ({} {}): {}",
            s.resident_id,
            s.district.as_deref().unwrap_or("-"),
            s.address,
            s.reason
        );
    }
    if !result.pdf.is_empty() {
        std::fs::write(&a.out, &result.pdf).map_err(|e| format!("{}: {e}", a.out.display()))?;
    }
    if let Some(path) = &a.list {
        write_list(path, &result).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let issued = result.printed.iter().filter(|p| !p.reused).count();
    println!(
        "{} cards printed ({issued} issued, {} reused), {} skipped; {} ({} bytes); {:.2} s",
        result.printed.len(),
        result.printed.len() - issued,
        result.skipped.len(),
        if result.pdf.is_empty() {
            "no PDF written".to_string()
        } else {
            a.out.display().to_string()
        },
        result.pdf.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn write_list(path: &std::path::Path, batch: &batch::Batch) -> Result<(), String> {
    let mut w = csv::Writer::from_path(path).map_err(|e| e.to_string())?;
    w.write_record([
        "page",
        "card_id",
        "resident_id",
        "district",
        "address",
        "reused",
    ])
    .map_err(|e| e.to_string())?;
    for (i, p) in batch.printed.iter().enumerate() {
        w.write_record([
            (i + 1).to_string(),
            p.card_id.clone(),
            p.resident_id.clone(),
            p.district.clone().unwrap_or_default(),
            p.address.clone(),
            p.reused.to_string(),
        ])
        .map_err(|e| e.to_string())?;
    }
    w.flush().map_err(|e| e.to_string())
}
