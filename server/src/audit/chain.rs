//! The audit chain's storage: stored rows, their hash, the chain head, the batch append and
//! verification (see the module above for the design).

use super::{GENESIS, Pending};
use crate::db::DbConnection;
use crate::db::schema::{audit_events, audit_heads};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A stored event.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = audit_events)]
pub struct AuditRow {
    pub municipality_id: String,
    pub seq: i64,
    pub at: i64,
    pub actor_account_id: Option<String>,
    pub actor_role: Option<String>,
    pub device_id: Option<String>,
    pub facility_id: Option<String>,
    pub resident_id: Option<String>,
    pub action: String,
    pub purpose: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of an event: SHA-256 over the JSON array of every field but `hash`, in column order.
pub fn event_hash(r: &AuditRow) -> String {
    let canonical = serde_json::json!([
        r.municipality_id,
        r.seq,
        r.at,
        r.actor_account_id,
        r.actor_role,
        r.device_id,
        r.facility_id,
        r.resident_id,
        r.action,
        r.purpose,
        r.outcome,
        r.detail,
        r.prev_hash
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Creates the chain head for a municipality (at bootstrap).
pub fn init_chain(conn: &mut DbConnection, muni: &str) -> QueryResult<()> {
    let exists = audit_heads::table
        .filter(audit_heads::municipality_id.eq(muni))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !exists {
        diesel::insert_into(audit_heads::table)
            .values((
                audit_heads::municipality_id.eq(muni),
                audit_heads::seq.eq(0i64),
                audit_heads::hash.eq(GENESIS),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Appends events in the caller's transaction, in order: per municipality, one head update
/// (which locks the head row on PostgreSQL until commit), the rows, and the new head hash.
pub fn append_batch(conn: &mut DbConnection, events: &[Pending]) -> QueryResult<()> {
    let mut munis: Vec<&str> = Vec::new();
    for p in events {
        if !munis.contains(&p.muni.as_str()) {
            munis.push(&p.muni);
        }
    }
    // One lock order for every batch: PostgreSQL writers commit batches side by side, and two
    // batches locking two municipalities' heads in opposite orders would deadlock.
    munis.sort_unstable();
    for muni in munis {
        let mine: Vec<&Pending> = events.iter().filter(|p| p.muni == muni).collect();
        let n = i64::try_from(mine.len()).unwrap_or(i64::MAX);
        let (last_seq, mut prev_hash): (i64, String) = crate::native!(conn, c => {
            diesel::update(audit_heads::table.filter(audit_heads::municipality_id.eq(muni)))
                .set(audit_heads::seq.eq(audit_heads::seq + n))
                .returning((audit_heads::seq, audit_heads::hash))
                .get_result(c)?
        });
        let mut rows = Vec::with_capacity(mine.len());
        for (seq, p) in (last_seq - n + 1..).zip(mine) {
            let e = &p.event;
            let mut row = AuditRow {
                municipality_id: muni.into(),
                seq,
                at: p.at,
                actor_account_id: e.actor_account_id.clone(),
                actor_role: e.actor_role.clone(),
                device_id: e.device_id.clone(),
                facility_id: e.facility_id.clone(),
                resident_id: e.resident_id.clone(),
                action: e.action.as_str().into(),
                purpose: e.purpose.clone(),
                outcome: e.outcome.as_str().into(),
                detail: e.detail.clone(),
                prev_hash,
                hash: String::new(),
            };
            row.hash = event_hash(&row);
            prev_hash = row.hash.clone();
            rows.push(row);
        }
        match conn {
            // One round trip for the batch.
            DbConnection::Pg(pg) => {
                for chunk in rows.chunks(256) {
                    diesel::insert_into(audit_events::table)
                        .values(chunk)
                        .execute(pg)?;
                }
            }
            // In-process: one cached statement per row.
            DbConnection::Sqlite(sqlite) => {
                for row in &rows {
                    diesel::insert_into(audit_events::table)
                        .values(row)
                        .execute(sqlite)?;
                }
            }
        }
        crate::native!(conn, c => {
            diesel::update(audit_heads::table.filter(audit_heads::municipality_id.eq(muni)))
                .set(audit_heads::hash.eq(&prev_hash))
                .execute(c)?
        });
    }
    Ok(())
}

/// The current chain head (what an administrator publishes).
pub fn head(conn: &mut DbConnection, muni: &str) -> QueryResult<(i64, String)> {
    audit_heads::table
        .filter(audit_heads::municipality_id.eq(muni))
        .select((audit_heads::seq, audit_heads::hash))
        .get_result(conn)
}

/// Why the chain does not verify, naming the first bad entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("entry {seq}: missing (deleted, or the log was reordered)")]
    Missing { seq: i64 },
    #[error("entry {seq}: content does not match its hash (edited)")]
    Edited { seq: i64 },
    #[error("entry {seq}: does not follow the entry before it (reordered or replaced)")]
    Broken { seq: i64 },
    #[error("the log ends at entry {last} but the published head is entry {published}: truncated")]
    Truncated { last: i64, published: i64 },
    #[error("entry {seq}: hash differs from the published head")]
    HeadMismatch { seq: i64 },
}

/// Verifies a municipality's chain; with `published`, also that it still contains that head.
/// Returns the number of entries checked.
pub fn verify(
    conn: &mut DbConnection,
    muni: &str,
    published: Option<(i64, &str)>,
) -> Result<i64, VerifyError> {
    let rows: Vec<AuditRow> = audit_events::table
        .filter(audit_events::municipality_id.eq(muni))
        .order(audit_events::seq.asc())
        .select(AuditRow::as_select())
        .load(conn)?;
    let mut prev = GENESIS.to_string();
    for (i, r) in rows.iter().enumerate() {
        let expected_seq = i64::try_from(i).unwrap_or(i64::MAX) + 1;
        if r.seq != expected_seq {
            return Err(ChainError::Missing { seq: expected_seq }.into());
        }
        if event_hash(r) != r.hash {
            return Err(ChainError::Edited { seq: r.seq }.into());
        }
        if r.prev_hash != prev {
            return Err(ChainError::Broken { seq: r.seq }.into());
        }
        prev = r.hash.clone();
    }
    let last = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let (head_seq, head_hash) = head(conn, muni)?;
    if head_seq != last {
        return Err(ChainError::Truncated {
            last,
            published: head_seq,
        }
        .into());
    }
    if head_hash != prev {
        return Err(ChainError::HeadMismatch { seq: head_seq }.into());
    }
    if let Some((seq, hash)) = published {
        if seq > last {
            return Err(ChainError::Truncated {
                last,
                published: seq,
            }
            .into());
        }
        let at = usize::try_from(seq)
            .ok()
            .and_then(|s| s.checked_sub(1))
            .and_then(|i| rows.get(i));
        if seq > 0 && at.is_none_or(|r| r.hash != hash) {
            return Err(ChainError::HeadMismatch { seq }.into());
        }
    }
    Ok(last)
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("cannot read the audit log: {0}")]
    Db(#[from] diesel::result::Error),
}
