//! Reads of the audit chain (`service::residents`, `service::data_disclosure`): the events about one
//! resident. The chain itself (its rows, batched appends and head) is `crate::audit`.
//!
//! Same rules as the other query modules: each query takes a connection and returns `QueryResult`,
//! "not found" is `Ok(None)` only where asked for with `optional()`, lookups by a unique key use
//! `get_result` (not `first`), and every query that reads or writes resident data is scoped by
//! municipality.

use super::DbConnection;
use diesel::prelude::*;

/// Audit events about one resident, newest first.
pub fn audit_events_about(
    conn: &mut DbConnection,
    muni: &str,
    resident_id: &str,
    limit: i64,
) -> QueryResult<Vec<crate::audit::AuditRow>> {
    use crate::db::schema::audit_events;
    audit_events::table
        .filter(audit_events::municipality_id.eq(muni))
        .filter(audit_events::resident_id.eq(resident_id))
        .order(audit_events::seq.desc())
        .limit(limit)
        .select(crate::audit::AuditRow::as_select())
        .load(conn)
}
