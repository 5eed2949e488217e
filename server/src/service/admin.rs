//! City-administrator views that are not about one resident: today, the audit chain's head.

use super::accounts::Actor;
use super::facilities::require_city_admin;
use crate::audit;
use crate::db::Db;
use crate::service::error::DomainError;
use serde::Serialize;

/// The audit chain's last entry: publish it (e.g. print it in the monthly report) so that a later
/// `kyukit audit verify --head SEQ:HASH` detects a truncated or rewritten log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditHead {
    pub seq: i64,
    /// SHA-256, hex.
    pub hash: String,
    /// When this head was read (Unix seconds).
    pub read_at: i64,
}

pub fn audit_head(db: &Db, actor: &Actor, now: i64) -> Result<AuditHead, DomainError> {
    require_city_admin(actor)?;
    let (seq, hash) =
        db.read(|c| audit::head(c, &actor.municipality_id).map_err(DomainError::from))?;
    Ok(AuditHead {
        seq,
        hash,
        read_at: now,
    })
}
