//! `kyukit audit head | verify [--head SEQ:HASH]`: the hash-chained audit log.
//! `verify` exits 0 with the number of entries checked, or 1 naming the first bad entry.

use super::serve::ServeArgs;
use crate::clock::SystemClock;
use crate::startup;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the chain head (sequence number and hash) to publish.
    Head(AuditArgs),
    /// Recompute the chain; with --head, also check it still contains a previously published head.
    Verify {
        #[command(flatten)]
        args: AuditArgs,
        /// A published head as SEQ:HASH (from `kyukit audit head`).
        #[arg(long)]
        head: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    server: ServeArgs,
    /// The municipality's code (default: the deployment's default municipality); each
    /// municipality has its own chain.
    #[arg(long)]
    municipality: Option<String>,
}

pub fn run(cmd: AuditCommand) -> Result<(), String> {
    let (args, published) = match &cmd {
        AuditCommand::Head(a) => (a, None),
        AuditCommand::Verify { args, head } => (args, head.as_deref()),
    };
    let published = published
        .map(|h| {
            let (seq, hash) = h.split_once(':').ok_or("--head must be SEQ:HASH")?;
            Ok::<_, String>((
                seq.parse::<i64>()
                    .map_err(|_| "--head: SEQ must be a number")?,
                hash.to_string(),
            ))
        })
        .transpose()?;
    let config = args.server.config()?;
    let (db, default) = startup::open(&config, &SystemClock).map_err(|e| e.to_string())?;
    let muni = super::municipality::resolve(&db, &default, args.municipality.as_deref())?;
    let mut conn = db.conn().map_err(|e| e.to_string())?;
    match cmd {
        AuditCommand::Head(_) => {
            let (seq, hash) = crate::audit::head(&mut conn, &muni).map_err(|e| e.to_string())?;
            println!("{seq}:{hash}");
        }
        AuditCommand::Verify { .. } => {
            let checked = crate::audit::verify(
                &mut conn,
                &muni,
                published.as_ref().map(|(s, h)| (*s, h.as_str())),
            )
            .map_err(|e| format!("audit log does not verify: {e}"))?;
            println!("audit log verifies: {checked} entries");
        }
    }
    Ok(())
}
