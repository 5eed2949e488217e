//! Accesses (`service::access`): scans and break-glass accesses, their review, and the lookup of
//! break-glass candidates.
//!
//! Same rules as the other query modules: each query takes a connection and returns `QueryResult`,
//! "not found" is `Ok(None)` only where asked for with `optional()`, lookups by a unique key use
//! `get_result` (not `first`), and every query that reads or writes resident data is scoped by
//! municipality.

use super::DbConnection;
use super::residents::ResidentRow;
use super::schema::*;
use crate::domain::{AccessKind, ResidentStatus, ReviewStatus};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = accesses)]
pub struct AccessRow {
    pub id: String,
    pub municipality_id: String,
    pub kind: AccessKind,
    pub resident_id: String,
    pub card_id: Option<String>,
    pub account_id: String,
    pub device_id: String,
    pub facility_id: String,
    pub incident_ref: String,
    pub reason: Option<String>,
    pub categories: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub review_status: Option<ReviewStatus>,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<i64>,
    pub review_note: Option<String>,
}

pub fn insert_access(conn: &mut DbConnection, row: &AccessRow) -> QueryResult<usize> {
    crate::native!(conn, c => {
        diesel::insert_into(accesses::table)
            .values(row)
            .execute(c)
    })
}

pub fn access(conn: &mut DbConnection, muni: &str, id: &str) -> QueryResult<Option<AccessRow>> {
    accesses::table
        .filter(accesses::municipality_id.eq(muni))
        .filter(accesses::id.eq(id))
        .select(AccessRow::as_select())
        .get_result(conn)
        .optional()
}

/// The municipality of an access, found by its (128-bit random) id alone: a paramedic's scan of
/// a municipality their fire department serves is that municipality's access (issue 22).
pub fn access_municipality(conn: &mut DbConnection, id: &str) -> QueryResult<Option<String>> {
    accesses::table
        .filter(accesses::id.eq(id))
        .select(accesses::municipality_id)
        .get_result(conn)
        .optional()
}

pub fn accesses_for_review(conn: &mut DbConnection, muni: &str) -> QueryResult<Vec<AccessRow>> {
    accesses::table
        .filter(accesses::municipality_id.eq(muni))
        .filter(accesses::review_status.eq(ReviewStatus::Pending))
        .order(accesses::created_at)
        .select(AccessRow::as_select())
        .load(conn)
}

pub fn review_access(
    conn: &mut DbConnection,
    muni: &str,
    id: &str,
    decision: ReviewStatus,
    by: &str,
    note: Option<&str>,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(
        accesses::table
            .filter(accesses::municipality_id.eq(muni))
            .filter(accesses::id.eq(id))
            .filter(accesses::review_status.eq(ReviewStatus::Pending)),
    )
    .set((
        accesses::review_status.eq(decision),
        accesses::reviewed_by.eq(by),
        accesses::reviewed_at.eq(now),
        accesses::review_note.eq(note),
    ))
    .execute(conn)
}

pub fn accesses_of_resident(
    conn: &mut DbConnection,
    muni: &str,
    resident_id: &str,
) -> QueryResult<Vec<AccessRow>> {
    accesses::table
        .filter(accesses::municipality_id.eq(muni))
        .filter(accesses::resident_id.eq(resident_id))
        .order(accesses::created_at.desc())
        .select(AccessRow::as_select())
        .load(conn)
}

/// Active residents born on `date_of_birth` (break-glass candidates; names are compared by the
/// caller after normalisation).
pub fn residents_born_on(
    conn: &mut DbConnection,
    muni: &str,
    date_of_birth: &str,
) -> QueryResult<Vec<ResidentRow>> {
    residents::table
        .filter(residents::municipality_id.eq(muni))
        .filter(residents::date_of_birth.eq(date_of_birth))
        .filter(residents::status.eq(ResidentStatus::Active))
        .limit(500)
        .select(ResidentRow::as_select())
        .load(conn)
}
