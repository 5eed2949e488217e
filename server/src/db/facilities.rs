//! Facilities and their field devices (`service::facilities`, `service::devices`,
//! `service::staff`): facilities, enrollment codes, enrolled devices and the spent nonces of
//! signed requests.
//!
//! Same rules as the other query modules: each query takes a connection and returns `QueryResult`,
//! "not found" is `Ok(None)` only where asked for with `optional()`, lookups by a unique key use
//! `get_result` (not `first`), and every query that reads or writes resident data is scoped by
//! municipality.

use super::DbConnection;
use super::schema::*;
use crate::domain::{DeviceStatus, FacilityKind, FacilityStatus};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = facilities)]
pub struct FacilityRow {
    pub id: String,
    pub municipality_id: String,
    pub kind: FacilityKind,
    pub name_ja: String,
    pub name_en: String,
    pub address: String,
    pub phone: String,
    pub status: FacilityStatus,
    pub listed: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = devices)]
pub struct DeviceRow {
    pub id: String,
    pub municipality_id: String,
    pub facility_id: String,
    pub label: String,
    pub public_jwk: String,
    pub status: DeviceStatus,
    pub enrolled_at: i64,
    pub enrolled_by: String,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = enrollment_codes)]
pub struct EnrollmentCodeRow {
    pub code_hash: String,
    pub municipality_id: String,
    pub facility_id: String,
    pub label: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub device_id: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = spent_nonces)]
pub struct SpentNonceRow {
    pub created: i64,
    pub device_id: String,
    pub nonce: String,
    pub municipality_id: String,
}

// ---- facilities ------------------------------------------------------------------------------

pub fn insert_facility(conn: &mut DbConnection, row: &FacilityRow) -> QueryResult<usize> {
    diesel::insert_into(facilities::table)
        .values(row)
        .execute(conn)
}

pub fn facility(conn: &mut DbConnection, muni: &str, id: &str) -> QueryResult<Option<FacilityRow>> {
    facilities::table
        .filter(facilities::municipality_id.eq(muni))
        .filter(facilities::id.eq(id))
        .select(FacilityRow::as_select())
        .get_result(conn)
        .optional()
}

/// A facility by its id, whatever its municipality (ids are random and global): only for a
/// facility already known to serve the caller's municipality (a membership row).
pub fn facility_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<FacilityRow>> {
    facilities::table
        .filter(facilities::id.eq(id))
        .select(FacilityRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn facilities(conn: &mut DbConnection, muni: &str) -> QueryResult<Vec<FacilityRow>> {
    facilities::table
        .filter(facilities::municipality_id.eq(muni))
        .order((facilities::kind, facilities::name_ja))
        .select(FacilityRow::as_select())
        .load(conn)
}

pub fn set_facility_status(
    conn: &mut DbConnection,
    id: &str,
    status: FacilityStatus,
) -> QueryResult<usize> {
    diesel::update(facilities::table.filter(facilities::id.eq(id)))
        .set(facilities::status.eq(status))
        .execute(conn)
}

// ---- enrollment codes, devices, nonces -------------------------------------------------------

pub fn insert_enrollment_code(
    conn: &mut DbConnection,
    row: &EnrollmentCodeRow,
) -> QueryResult<usize> {
    diesel::insert_into(enrollment_codes::table)
        .values(row)
        .execute(conn)
}

/// An enrollment code by its hash, in any municipality (a code is ≈130 random bits; the row
/// says whose it is, and the device enrolled with it is that municipality's).
pub fn enrollment_code(
    conn: &mut DbConnection,
    code_hash: &str,
) -> QueryResult<Option<EnrollmentCodeRow>> {
    enrollment_codes::table
        .filter(enrollment_codes::code_hash.eq(code_hash))
        .select(EnrollmentCodeRow::as_select())
        .get_result(conn)
        .optional()
}

/// Marks a code used, only if it was unused (a concurrent second use updates nothing).
pub fn use_enrollment_code(
    conn: &mut DbConnection,
    code_hash: &str,
    device_id: &str,
    now: i64,
) -> QueryResult<usize> {
    let n = diesel::update(
        enrollment_codes::table
            .filter(enrollment_codes::code_hash.eq(code_hash))
            .filter(enrollment_codes::used_at.is_null()),
    )
    .set((
        enrollment_codes::used_at.eq(now),
        enrollment_codes::device_id.eq(device_id),
    ))
    .execute(conn)?;
    if n == 1 {
        Ok(n)
    } else {
        Err(diesel::result::Error::RollbackTransaction)
    }
}

pub fn insert_device(conn: &mut DbConnection, row: &DeviceRow) -> QueryResult<usize> {
    diesel::insert_into(devices::table)
        .values(row)
        .execute(conn)
}

pub fn device(conn: &mut DbConnection, muni: &str, id: &str) -> QueryResult<Option<DeviceRow>> {
    crate::native!(conn, c => {
        devices::table
            .filter(devices::municipality_id.eq(muni))
            .filter(devices::id.eq(id))
            .select(DeviceRow::as_select())
            .get_result(c)
            .optional()
    })
}

/// A signed request's first read, in one statement: the device by id, and whether a request it
/// signed at `created` with `nonce` was already recorded (a replay).
/// A device by its id, in any municipality (device ids are 128-bit random: a signed request
/// names its device, and the device's row says its municipality), and whether the nonce is spent.
pub fn device_and_nonce(
    conn: &mut DbConnection,
    id: &str,
    created: i64,
    nonce: &str,
) -> QueryResult<Option<(DeviceRow, bool)>> {
    crate::native!(conn, c => {
        let spent = spent_nonces::table
            .filter(spent_nonces::created.eq(created))
            .filter(spent_nonces::device_id.eq(id))
            .filter(spent_nonces::nonce.eq(nonce));
        devices::table
            .filter(devices::id.eq(id))
            .select((DeviceRow::as_select(), diesel::dsl::exists(spent)))
            .get_result(c)
            .optional()
    })
}

pub fn devices_of(
    conn: &mut DbConnection,
    muni: &str,
    facility_id: &str,
) -> QueryResult<Vec<DeviceRow>> {
    devices::table
        .filter(devices::municipality_id.eq(muni))
        .filter(devices::facility_id.eq(facility_id))
        .order(devices::enrolled_at.desc())
        .select(DeviceRow::as_select())
        .load(conn)
}

pub fn revoke_device(
    conn: &mut DbConnection,
    id: &str,
    by: &str,
    reason: &str,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(devices::table.filter(devices::id.eq(id)))
        .set((
            devices::status.eq(DeviceStatus::Revoked),
            devices::revoked_at.eq(now),
            devices::revoked_by.eq(by),
            devices::revoke_reason.eq(reason),
        ))
        .execute(conn)
}

pub fn delete_sessions_of_device(conn: &mut DbConnection, device_id: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::device_id.eq(device_id))).execute(conn)
}

/// Revokes every active device of a facility; returns how many.
pub fn revoke_devices_of_facility(
    conn: &mut DbConnection,
    facility_id: &str,
    by: &str,
    reason: &str,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(
        devices::table
            .filter(devices::facility_id.eq(facility_id))
            .filter(devices::status.eq(DeviceStatus::Active)),
    )
    .set((
        devices::status.eq(DeviceStatus::Revoked),
        devices::revoked_at.eq(now),
        devices::revoked_by.eq(by),
        devices::revoke_reason.eq(reason),
    ))
    .execute(conn)
}

/// Records a spent nonce; 0 rows if it was spent already. A duplicate does not fail the
/// statement (`ON CONFLICT DO NOTHING`), so the transaction stays usable on PostgreSQL and the
/// caller can record the replay in it instead.
pub fn insert_nonce(conn: &mut DbConnection, row: &SpentNonceRow) -> QueryResult<usize> {
    crate::native!(conn, c => {
        diesel::insert_into(spent_nonces::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)
    })
}

/// Deletes the nonces of requests signed before `before`.
pub fn delete_nonces_created_before(conn: &mut DbConnection, before: i64) -> QueryResult<usize> {
    diesel::delete(spent_nonces::table.filter(spent_nonces::created.lt(before))).execute(conn)
}

/// Facilities' names by id, in any municipality: a resident's access history names the fire
/// department of a scan even when it is another municipality's (one serving theirs, or one
/// refused). Names only, nothing else of the other municipality.
pub fn names_by_id(
    conn: &mut DbConnection,
    ids: &[String],
) -> QueryResult<Vec<(String, String, String)>> {
    facilities::table
        .filter(facilities::id.eq_any(ids))
        .select((facilities::id, facilities::name_ja, facilities::name_en))
        .load(conn)
}
