//! `facility_municipalities`: a facility serving a municipality other than its own (issue 22),
//! approved or suspended by that municipality's admin (`service::memberships`). Each row is the
//! serving municipality's: every query is scoped by it.

use super::DbConnection;
use super::schema::*;
use crate::domain::MembershipStatus;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = facility_municipalities)]
pub struct MembershipRow {
    pub facility_id: String,
    pub municipality_id: String,
    pub status: MembershipStatus,
    pub application_id: Option<String>,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    pub suspended_by: Option<String>,
    pub suspended_at: Option<i64>,
}

pub fn membership(
    conn: &mut DbConnection,
    muni: &str,
    facility_id: &str,
) -> QueryResult<Option<MembershipRow>> {
    facility_municipalities::table
        .filter(facility_municipalities::municipality_id.eq(muni))
        .filter(facility_municipalities::facility_id.eq(facility_id))
        .select(MembershipRow::as_select())
        .get_result(conn)
        .optional()
}

/// The memberships of a municipality (the facilities of others serving it).
pub fn memberships_of(conn: &mut DbConnection, muni: &str) -> QueryResult<Vec<MembershipRow>> {
    facility_municipalities::table
        .filter(facility_municipalities::municipality_id.eq(muni))
        .order(facility_municipalities::approved_at.asc())
        .select(MembershipRow::as_select())
        .load(conn)
}

/// The municipalities a facility actively serves besides its own.
pub fn served_by(conn: &mut DbConnection, facility_id: &str) -> QueryResult<Vec<String>> {
    facility_municipalities::table
        .filter(facility_municipalities::facility_id.eq(facility_id))
        .filter(facility_municipalities::status.eq(MembershipStatus::Active))
        .select(facility_municipalities::municipality_id)
        .load(conn)
}

/// The municipalities a facility has joined, active or suspended (an ED board keeps the
/// in-flight incidents of a suspended membership until they close).
pub fn joined_by(conn: &mut DbConnection, facility_id: &str) -> QueryResult<Vec<String>> {
    facility_municipalities::table
        .filter(facility_municipalities::facility_id.eq(facility_id))
        .order(facility_municipalities::municipality_id.asc())
        .select(facility_municipalities::municipality_id)
        .load(conn)
}

/// Inserts or re-activates a membership.
pub fn upsert(conn: &mut DbConnection, row: &MembershipRow) -> QueryResult<usize> {
    let n = diesel::update(
        facility_municipalities::table
            .filter(facility_municipalities::municipality_id.eq(&row.municipality_id))
            .filter(facility_municipalities::facility_id.eq(&row.facility_id)),
    )
    .set((
        facility_municipalities::status.eq(row.status),
        facility_municipalities::application_id.eq(&row.application_id),
        facility_municipalities::approved_by.eq(&row.approved_by),
        facility_municipalities::approved_at.eq(row.approved_at),
        facility_municipalities::suspended_by.eq(None::<String>),
        facility_municipalities::suspended_at.eq(None::<i64>),
    ))
    .execute(conn)?;
    if n > 0 {
        return Ok(n);
    }
    diesel::insert_into(facility_municipalities::table)
        .values(row)
        .execute(conn)
}

pub fn suspend(
    conn: &mut DbConnection,
    muni: &str,
    facility_id: &str,
    by: &str,
    at: i64,
) -> QueryResult<usize> {
    diesel::update(
        facility_municipalities::table
            .filter(facility_municipalities::municipality_id.eq(muni))
            .filter(facility_municipalities::facility_id.eq(facility_id))
            .filter(facility_municipalities::status.eq(MembershipStatus::Active)),
    )
    .set((
        facility_municipalities::status.eq(MembershipStatus::Suspended),
        facility_municipalities::suspended_by.eq(Some(by)),
        facility_municipalities::suspended_at.eq(Some(at)),
    ))
    .execute(conn)
}
