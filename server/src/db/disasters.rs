//! Disaster mode (RULES R11, `service::disasters`): declarations, the residents and consent flags a
//! declaration reaches, and the accesses made under it.
//!
//! Same rules as the other query modules: each query takes a connection and returns `QueryResult`,
//! "not found" is `Ok(None)` only where asked for with `optional()`, lookups by a unique key use
//! `get_result` (not `first`), and every query that reads or writes resident data is scoped by
//! municipality.

use super::DbConnection;
use super::residents::ResidentRow;
use super::schema::*;
use crate::domain::{ConsentStatus, ResidentStatus};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = disaster_declarations)]
pub struct DisasterDeclarationRow {
    pub id: String,
    pub municipality_id: String,
    /// JSON array of district names; `[]` = the whole municipality.
    pub districts: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub reason: String,
    pub declared_by: String,
    pub created_at: i64,
    pub renewed_from: Option<String>,
    pub ended_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = disaster_accesses)]
pub struct DisasterAccessRow {
    pub id: String,
    pub municipality_id: String,
    pub declaration_id: String,
    pub resident_id: String,
    pub account_id: String,
    /// JSON array of the disclosed categories.
    pub categories: String,
    pub created_at: i64,
}

pub fn insert_disaster_declaration(
    conn: &mut DbConnection,
    row: &DisasterDeclarationRow,
) -> QueryResult<usize> {
    diesel::insert_into(disaster_declarations::table)
        .values(row)
        .execute(conn)
}

pub fn disaster_declaration(
    conn: &mut DbConnection,
    muni: &str,
    id: &str,
) -> QueryResult<Option<DisasterDeclarationRow>> {
    disaster_declarations::table
        .filter(disaster_declarations::municipality_id.eq(muni))
        .filter(disaster_declarations::id.eq(id))
        .select(DisasterDeclarationRow::as_select())
        .get_result(conn)
        .optional()
}

/// Every declaration of the municipality, newest first (at most `limit`).
pub fn disaster_declarations(
    conn: &mut DbConnection,
    muni: &str,
    limit: i64,
) -> QueryResult<Vec<DisasterDeclarationRow>> {
    disaster_declarations::table
        .filter(disaster_declarations::municipality_id.eq(muni))
        .order((
            disaster_declarations::created_at.desc(),
            disaster_declarations::id.asc(),
        ))
        .limit(limit)
        .select(DisasterDeclarationRow::as_select())
        .load(conn)
}

/// Declarations in force at `now`: started, not past `ends_at`, not ended.
pub fn disaster_declarations_in_force(
    conn: &mut DbConnection,
    muni: &str,
    now: i64,
) -> QueryResult<Vec<DisasterDeclarationRow>> {
    disaster_declarations::table
        .filter(disaster_declarations::municipality_id.eq(muni))
        .filter(disaster_declarations::starts_at.le(now))
        .filter(disaster_declarations::ends_at.gt(now))
        .filter(
            disaster_declarations::ended_at
                .is_null()
                .or(disaster_declarations::ended_at.gt(now)),
        )
        .order(disaster_declarations::starts_at.asc())
        .select(DisasterDeclarationRow::as_select())
        .load(conn)
}

/// Ends a declaration at `at` unless it has already been ended; returns rows changed.
pub fn end_disaster_declaration(
    conn: &mut DbConnection,
    muni: &str,
    id: &str,
    at: i64,
) -> QueryResult<usize> {
    diesel::update(
        disaster_declarations::table
            .filter(disaster_declarations::municipality_id.eq(muni))
            .filter(disaster_declarations::id.eq(id))
            .filter(disaster_declarations::ended_at.is_null()),
    )
    .set(disaster_declarations::ended_at.eq(Some(at)))
    .execute(conn)
}

/// Active residents of the municipality; with `districts`, only those in one of them.
pub fn active_residents_in(
    conn: &mut DbConnection,
    muni: &str,
    districts: Option<&[String]>,
) -> QueryResult<Vec<ResidentRow>> {
    let mut q = residents::table
        .filter(residents::municipality_id.eq(muni))
        .filter(residents::status.eq(ResidentStatus::Active))
        .into_boxed();
    if let Some(d) = districts {
        q = q.filter(residents::district.eq_any(d.to_vec()));
    }
    q.order((residents::district.asc(), residents::id.asc()))
        .select(ResidentRow::as_select())
        .load(conn)
}

/// (resident, version, status, disaster_use) of every consent version in the municipality,
/// by resident and version: the caller keeps the last of each resident.
pub fn consent_disaster_flags(
    conn: &mut DbConnection,
    muni: &str,
) -> QueryResult<Vec<(String, i32, ConsentStatus, bool)>> {
    consents::table
        .filter(consents::municipality_id.eq(muni))
        .order((consents::resident_id.asc(), consents::version.asc()))
        .select((
            consents::resident_id,
            consents::version,
            consents::status,
            consents::disaster_use,
        ))
        .load(conn)
}

pub fn insert_disaster_access(
    conn: &mut DbConnection,
    row: &DisasterAccessRow,
) -> QueryResult<usize> {
    diesel::insert_into(disaster_accesses::table)
        .values(row)
        .execute(conn)
}

pub fn disaster_accesses_of_resident(
    conn: &mut DbConnection,
    muni: &str,
    resident_id: &str,
) -> QueryResult<Vec<DisasterAccessRow>> {
    disaster_accesses::table
        .filter(disaster_accesses::municipality_id.eq(muni))
        .filter(disaster_accesses::resident_id.eq(resident_id))
        .order(disaster_accesses::created_at.desc())
        .select(DisasterAccessRow::as_select())
        .load(conn)
}
