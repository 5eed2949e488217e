//! `kyukit keys list | rotate | compromised`: the municipality's issuer keys.
//! Rotation: new cards use the new key; the old key stays in the JWKS (status `retired`) so its
//! cards verify until they expire. `compromised` removes a key from the JWKS: its cards fail.

use super::serve::ServeArgs;
use crate::clock::{Clock, SystemClock};
use crate::service::keys;
use crate::startup;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List keys with their status.
    List(KeysArgs),
    /// Make a new active key; the current one becomes `retired` (still verifies its cards).
    Rotate(KeysArgs),
    /// Mark a key compromised: it leaves the JWKS and every card it signed fails verification.
    Compromised {
        #[command(flatten)]
        args: KeysArgs,
        /// The key id (as in the JWKS).
        #[arg(long)]
        kid: String,
    },
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(flatten)]
    server: ServeArgs,
    /// The municipality's code (default: the deployment's default municipality).
    #[arg(long)]
    municipality: Option<String>,
}

pub fn run(cmd: KeysCommand) -> Result<(), String> {
    let clock = SystemClock;
    let (args, action) = match &cmd {
        KeysCommand::List(a) => (a, None),
        KeysCommand::Rotate(a) => (a, Some("rotate")),
        KeysCommand::Compromised { args, .. } => (args, Some("compromised")),
    };
    let config = args.server.config()?;
    let (db, default) = startup::open(&config, &clock).map_err(|e| e.to_string())?;
    let muni = super::municipality::resolve(&db, &default, args.municipality.as_deref())?;
    let now = clock.now();
    match (action, &cmd) {
        (Some("rotate"), _) => {
            let kid =
                keys::add_key(&db, &config.data_dir, &muni, now).map_err(|e| e.for_operator())?;
            println!(
                "new active key {kid}; the previous key is retired and still verifies its cards"
            );
        }
        (Some("compromised"), KeysCommand::Compromised { kid, .. }) => {
            keys::mark_compromised(&db, &muni, kid, now).map_err(|e| e.for_operator())?;
            println!(
                "key {kid} marked compromised: removed from the JWKS; its cards no longer verify"
            );
        }
        _ => {}
    }
    let ring = keys::load(&db, &config.data_dir, &muni, false).map_err(|e| e.for_operator())?;
    for row in ring.rows {
        println!("{}\t{}\tcreated {}", row.kid, row.status, row.created_at);
    }
    // The trust-list key (made on first start like the issuer keys): its kid, to compare out of
    // band with what devices pinned.
    let trust = crate::service::trust_list::TrustListSigner::load_or_create(&config.data_dir)
        .map_err(|e| e.to_string())?;
    println!(
        "trust-list key {} (signs GET /api/v1/trust-list; devices pin it at enrollment)",
        trust.public().kid()
    );
    Ok(())
}
