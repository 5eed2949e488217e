//! `kyukit municipality create | list`: the deployment operator's municipalities (tenants). Each
//! has its own issuer keys, audit chain, admins, residents and facilities; the first one (made on
//! first start from `--municipality-*` settings) is the default that every command and every
//! anonymous request without `?municipality=CODE` uses.

use super::serve::ServeArgs;
use crate::clock::{Clock, SystemClock};
use crate::db;
use crate::service::error::DomainError;
use crate::service::keys::{self, NewMunicipality};
use crate::startup;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum MunicipalityCommand {
    /// Create a municipality and its first ES256 issuer key; prints `{"id":…,"code":…}`.
    Create(CreateArgs),
    /// List the municipalities, one JSON object a line (the default first).
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    server: ServeArgs,
    /// The 6-digit 全国地方公共団体コード, e.g. 082171.
    #[arg(long)]
    code: String,
    /// The name in Japanese, e.g. 笠間市.
    #[arg(long)]
    name_ja: String,
    /// The name in English, e.g. "Kasama City".
    #[arg(long)]
    name_en: String,
    /// The https prefix of its cards' URLs (default: the deployment's, from --public-url).
    #[arg(long)]
    card_base_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    server: ServeArgs,
}

pub fn run(cmd: MunicipalityCommand) -> Result<(), String> {
    let clock = SystemClock;
    match cmd {
        MunicipalityCommand::Create(a) => {
            let config = a.server.config()?;
            let (db, _) = startup::open(&config, &clock).map_err(|e| e.to_string())?;
            let new = NewMunicipality {
                code: a.code,
                name_ja: a.name_ja,
                name_en: a.name_en,
                card_base_url: a.card_base_url,
            };
            let row = keys::create_municipality(&db, &config.data_dir, &new, clock.now())
                .map_err(|e| e.for_operator())?;
            println!("{}", serde_json::json!({ "id": row.id, "code": row.code }));
        }
        MunicipalityCommand::List(a) => {
            let config = a.server.config()?;
            let (db, default) = startup::open(&config, &clock).map_err(|e| e.to_string())?;
            let rows = db
                .read(|c| db::keys::municipalities(c).map_err(DomainError::from))
                .map_err(|e| e.for_operator())?;
            for m in rows {
                let line = serde_json::json!({
                    "id": m.id,
                    "code": m.code,
                    "name_ja": m.name_ja,
                    "name_en": m.name_en,
                    "card_base_url": m.card_base_url,
                    "default": m.id == default,
                    "created_at": m.created_at,
                });
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// `--municipality CODE` of the operator's commands: that municipality's id, else the default's.
pub(crate) fn resolve(db: &db::Db, default: &str, code: Option<&str>) -> Result<String, String> {
    keys::municipality_by_code(db, default, code).map_err(|e| e.for_operator())
}
