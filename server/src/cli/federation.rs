//! `kyukit federation peer add | refresh | list | remove`: the peer deployments this deployment
//! trusts (issue 22; docs/federation.md, docs/operations.md *Federation*). Each prints the peers
//! it touched as JSON.

use super::serve::ServeArgs;
use crate::clock::{Clock, SystemClock};
use crate::service::federation;
use crate::startup;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum FederationCommand {
    /// Peer deployments: add, refresh, list, remove.
    #[command(subcommand)]
    Peer(PeerCommand),
}

#[derive(Debug, Subcommand)]
pub enum PeerCommand {
    /// Add a peer: fetch its trust list, verify it against the peer's trust-list key, store it.
    Add {
        #[command(flatten)]
        args: PeerArgs,
        /// The peer's trust list (`https://…/api/v1/trust-list`); its origin is where this
        /// deployment sends the peer its federation requests.
        #[arg(long)]
        trust_list_url: String,
        /// The peer's trust-list public key, a JWK file (as its `GET /api/v1/trust-list/key`
        /// serves it), obtained out of band and compared with the peer's operator.
        #[arg(long)]
        trust_key: PathBuf,
    },
    /// Fetch the peers' lists again (all peers, or one): rotation and compromise propagate; a
    /// list older than the one kept is refused.
    Refresh {
        #[command(flatten)]
        args: PeerArgs,
        /// Only this peer (its deployment id).
        #[arg(long)]
        deployment: Option<String>,
    },
    /// List the peers with their issuers, keys and server keys.
    List(PeerArgs),
    /// Forget a peer: its cards are no longer trusted, its requests no longer answered.
    Remove {
        #[command(flatten)]
        args: PeerArgs,
        /// The peer's deployment id.
        #[arg(long)]
        deployment: String,
    },
}

#[derive(Debug, Args)]
pub struct PeerArgs {
    #[command(flatten)]
    server: ServeArgs,
}

fn print<T: serde::Serialize>(v: &T) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).map_err(|e| e.to_string())?
    );
    Ok(())
}

pub fn run(cmd: FederationCommand) -> Result<(), String> {
    let FederationCommand::Peer(cmd) = cmd;
    let args = match &cmd {
        PeerCommand::Add { args, .. }
        | PeerCommand::Refresh { args, .. }
        | PeerCommand::Remove { args, .. }
        | PeerCommand::List(args) => args,
    };
    let clock = SystemClock;
    let config = args.server.config()?;
    let (db, muni) = startup::open(&config, &clock).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let op = |e: crate::service::error::DomainError| format!("{}: {}", e.code(), e.for_operator());
    match &cmd {
        PeerCommand::Add {
            trust_list_url,
            trust_key,
            ..
        } => {
            let jwk = std::fs::read_to_string(trust_key)
                .map_err(|e| format!("{}: {e}", trust_key.display()))?;
            let key = federation::parse_trust_key(&jwk).map_err(op)?;
            let bytes = rt
                .block_on(federation::fetch_trust_list(trust_list_url))
                .map_err(op)?;
            let peer = federation::add_peer(
                &db,
                &config,
                &muni,
                trust_list_url,
                &key,
                &bytes,
                clock.now(),
            )
            .map_err(op)?;
            print(&peer)
        }
        PeerCommand::Refresh { deployment, .. } => {
            let targets: Vec<String> = match deployment {
                Some(d) => vec![d.clone()],
                None => federation::list_peers(&db, &muni)
                    .map_err(op)?
                    .into_iter()
                    .map(|p| p.deployment_id)
                    .collect(),
            };
            let mut done = Vec::new();
            for d in targets {
                let row = federation::peer(&db, &muni, &d).map_err(op)?;
                let bytes = rt
                    .block_on(federation::fetch_trust_list(&row.trust_list_url))
                    .map_err(op)?;
                done.push(
                    federation::refresh_peer(&db, &config, &muni, &d, &bytes, clock.now())
                        .map_err(op)?,
                );
            }
            print(&done)
        }
        PeerCommand::List(_) => print(&federation::list_peers(&db, &muni).map_err(op)?),
        PeerCommand::Remove { deployment, .. } => {
            federation::remove_peer(&db, &muni, deployment, clock.now()).map_err(op)?;
            println!("peer {deployment} removed");
            Ok(())
        }
    }
}
