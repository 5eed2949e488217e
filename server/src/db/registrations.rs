//! Registrations held because their person matches an active resident (`service::registrations`):
//! the candidates for a match and the hold rows.

use super::DbConnection;
use super::residents::ResidentRow;
use super::schema::*;
use crate::domain::{HoldKind, HoldStatus, ProxyRelation, ResidentStatus};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = registration_holds)]
pub struct HoldRow {
    pub id: String,
    pub municipality_id: String,
    pub account_id: String,
    pub kind: HoldKind,
    pub matched_resident_id: String,
    pub relation: Option<ProxyRelation>,
    pub relation_detail: Option<String>,
    pub consent_statement: Option<String>,
    pub profile: Option<String>,
    pub status: HoldStatus,
    pub created_at: i64,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
}

/// Active residents of the municipality born on `date_of_birth` (the candidates for a match).
pub fn active_born_on(
    conn: &mut DbConnection,
    muni: &str,
    date_of_birth: &str,
) -> QueryResult<Vec<ResidentRow>> {
    residents::table
        .filter(residents::municipality_id.eq(muni))
        .filter(residents::date_of_birth.eq(date_of_birth))
        .filter(residents::status.eq(ResidentStatus::Active))
        .select(ResidentRow::as_select())
        .load(conn)
}

pub fn insert_hold(conn: &mut DbConnection, row: &HoldRow) -> QueryResult<usize> {
    diesel::insert_into(registration_holds::table)
        .values(row)
        .execute(conn)
}

pub fn hold(conn: &mut DbConnection, muni: &str, id: &str) -> QueryResult<Option<HoldRow>> {
    registration_holds::table
        .filter(registration_holds::municipality_id.eq(muni))
        .filter(registration_holds::id.eq(id))
        .select(HoldRow::as_select())
        .get_result(conn)
        .optional()
}

/// Open holds of the municipality, oldest first.
pub fn pending(conn: &mut DbConnection, muni: &str) -> QueryResult<Vec<HoldRow>> {
    registration_holds::table
        .filter(registration_holds::municipality_id.eq(muni))
        .filter(registration_holds::status.eq(HoldStatus::Pending))
        .order((
            registration_holds::created_at.asc(),
            registration_holds::id.asc(),
        ))
        .select(HoldRow::as_select())
        .load(conn)
}

/// The holds an account asked for (its registrant sees that they are being checked).
pub fn of_account(conn: &mut DbConnection, account_id: &str) -> QueryResult<Vec<HoldRow>> {
    registration_holds::table
        .filter(registration_holds::account_id.eq(account_id))
        .order(registration_holds::created_at.asc())
        .select(HoldRow::as_select())
        .load(conn)
}

/// Decides an open hold (conditional: only if still pending); the typed profile is erased.
pub fn decide(
    conn: &mut DbConnection,
    id: &str,
    status: HoldStatus,
    by: &str,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        registration_holds::table
            .filter(registration_holds::id.eq(id))
            .filter(registration_holds::status.eq(HoldStatus::Pending)),
    )
    .set((
        registration_holds::status.eq(status),
        registration_holds::decided_by.eq(by),
        registration_holds::decided_at.eq(now),
        registration_holds::profile.eq(None::<String>),
    ))
    .execute(conn)
    .map(|n| n == 1)
}
