//! Households and their stickers (`service::households`, issue 27): one row per sticker, and
//! its members (a member who left keeps the row with `left_at`).
//!
//! Same rules as the other query modules: each query takes a connection and returns
//! `QueryResult`, every query that touches resident data is scoped by municipality (members
//! through their household's row).

use super::DbConnection;
use super::schema::{household_members, households};
use crate::domain::HouseholdStatus;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = households)]
pub struct HouseholdRow {
    pub id: String,
    pub municipality_id: String,
    pub created_by: String,
    pub created_at: i64,
    pub kid: String,
    pub cose: Vec<u8>,
    pub status: HouseholdStatus,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = household_members)]
pub struct MemberRow {
    pub household_id: String,
    pub resident_id: String,
    pub added_by: String,
    pub consented_at: i64,
    pub left_at: Option<i64>,
    pub left_by: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &HouseholdRow) -> QueryResult<usize> {
    diesel::insert_into(households::table)
        .values(row)
        .execute(conn)
}

pub fn household(
    conn: &mut DbConnection,
    muni: &str,
    id: &str,
) -> QueryResult<Option<HouseholdRow>> {
    households::table
        .filter(households::municipality_id.eq(muni))
        .filter(households::id.eq(id))
        .select(HouseholdRow::as_select())
        .get_result(conn)
        .optional()
}

/// The households a resident is a current member of, newest first.
pub fn of_resident(
    conn: &mut DbConnection,
    muni: &str,
    resident_id: &str,
) -> QueryResult<Vec<HouseholdRow>> {
    households::table
        .inner_join(household_members::table)
        .filter(households::municipality_id.eq(muni))
        .filter(household_members::resident_id.eq(resident_id))
        .filter(household_members::left_at.is_null())
        .order(households::created_at.desc())
        .select(HouseholdRow::as_select())
        .load(conn)
}

/// The current members (not left) of a household, in the order they joined.
pub fn members(conn: &mut DbConnection, household_id: &str) -> QueryResult<Vec<MemberRow>> {
    household_members::table
        .filter(household_members::household_id.eq(household_id))
        .filter(household_members::left_at.is_null())
        .order((
            household_members::consented_at.asc(),
            household_members::resident_id.asc(),
        ))
        .select(MemberRow::as_select())
        .load(conn)
}

/// Lists a resident on a household (again, if they had left): their consent as of `now`.
pub fn join(
    conn: &mut DbConnection,
    household_id: &str,
    resident_id: &str,
    by: &str,
    now: i64,
) -> QueryResult<()> {
    let back = diesel::update(
        household_members::table
            .filter(household_members::household_id.eq(household_id))
            .filter(household_members::resident_id.eq(resident_id)),
    )
    .set((
        household_members::added_by.eq(by),
        household_members::consented_at.eq(now),
        household_members::left_at.eq(None::<i64>),
        household_members::left_by.eq(None::<String>),
    ))
    .execute(conn)?;
    if back == 0 {
        diesel::insert_into(household_members::table)
            .values(MemberRow {
                household_id: household_id.into(),
                resident_id: resident_id.into(),
                added_by: by.into(),
                consented_at: now,
                left_at: None,
                left_by: None,
            })
            .execute(conn)?;
    }
    Ok(())
}

/// A current member leaves; false if they were not one.
pub fn leave(
    conn: &mut DbConnection,
    household_id: &str,
    resident_id: &str,
    by: &str,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        household_members::table
            .filter(household_members::household_id.eq(household_id))
            .filter(household_members::resident_id.eq(resident_id))
            .filter(household_members::left_at.is_null()),
    )
    .set((
        household_members::left_at.eq(Some(now)),
        household_members::left_by.eq(Some(by)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Revokes an active sticker; false if it was not active.
pub fn revoke(
    conn: &mut DbConnection,
    muni: &str,
    id: &str,
    by: &str,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        households::table
            .filter(households::municipality_id.eq(muni))
            .filter(households::id.eq(id))
            .filter(households::status.eq(HouseholdStatus::Active)),
    )
    .set((
        households::status.eq(HouseholdStatus::Revoked),
        households::revoked_at.eq(Some(now)),
        households::revoked_by.eq(Some(by)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}
