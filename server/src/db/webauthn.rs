//! WebAuthn credentials of field devices and the challenges of their ceremonies
//! (`service::webauthn`).

use super::DbConnection;
use super::schema::{webauthn_challenges, webauthn_credentials};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webauthn_credentials)]
pub struct CredentialRow {
    pub credential_id: String,
    pub municipality_id: String,
    pub account_id: String,
    pub device_id: String,
    pub public_key: String,
    pub sign_count: i64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webauthn_challenges)]
pub struct ChallengeRow {
    pub id: String,
    pub municipality_id: String,
    pub device_id: String,
    pub account_id: Option<String>,
    pub purpose: String,
    pub challenge: String,
    pub expires_at: i64,
}

pub fn insert_challenge(conn: &mut DbConnection, row: &ChallengeRow) -> QueryResult<usize> {
    diesel::insert_into(webauthn_challenges::table)
        .values(row)
        .execute(conn)
}

pub fn webauthn_challenge(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ChallengeRow>> {
    webauthn_challenges::table
        .filter(webauthn_challenges::id.eq(id))
        .select(ChallengeRow::as_select())
        .get_result(conn)
        .optional()
}

/// Takes a challenge (deletes it and returns it): each is spent once, whatever the outcome.
pub fn take_challenge(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ChallengeRow>> {
    let row = webauthn_challenges::table
        .filter(webauthn_challenges::id.eq(id))
        .select(ChallengeRow::as_select())
        .get_result(conn)
        .optional()?;
    if row.is_some() {
        let n = diesel::delete(webauthn_challenges::table.filter(webauthn_challenges::id.eq(id)))
            .execute(conn)?;
        if n == 0 {
            return Ok(None); // taken by a concurrent finish
        }
    }
    Ok(row)
}

/// Drops challenges past their expiry.
pub fn purge_challenges(conn: &mut DbConnection, now: i64) -> QueryResult<usize> {
    diesel::delete(webauthn_challenges::table.filter(webauthn_challenges::expires_at.le(now)))
        .execute(conn)
}

pub fn insert_credential(conn: &mut DbConnection, row: &CredentialRow) -> QueryResult<usize> {
    diesel::insert_into(webauthn_credentials::table)
        .values(row)
        .execute(conn)
}

pub fn credential(conn: &mut DbConnection, id: &str) -> QueryResult<Option<CredentialRow>> {
    webauthn_credentials::table
        .filter(webauthn_credentials::credential_id.eq(id))
        .select(CredentialRow::as_select())
        .get_result(conn)
        .optional()
}

/// The credentials registered on a device (every account).
pub fn of_device(conn: &mut DbConnection, device_id: &str) -> QueryResult<Vec<CredentialRow>> {
    webauthn_credentials::table
        .filter(webauthn_credentials::device_id.eq(device_id))
        .order(webauthn_credentials::created_at.asc())
        .select(CredentialRow::as_select())
        .load(conn)
}

/// Records a use: the new counter, only if the row's counter is still `old` (two assertions
/// with the same counter cannot both pass); returns whether it did.
pub fn record_use(
    conn: &mut DbConnection,
    id: &str,
    old: i64,
    new: i64,
    now: i64,
) -> QueryResult<bool> {
    let n = diesel::update(
        webauthn_credentials::table
            .filter(webauthn_credentials::credential_id.eq(id))
            .filter(webauthn_credentials::sign_count.eq(old)),
    )
    .set((
        webauthn_credentials::sign_count.eq(new),
        webauthn_credentials::last_used_at.eq(Some(now)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn delete_of_device(conn: &mut DbConnection, device_id: &str) -> QueryResult<usize> {
    diesel::delete(
        webauthn_credentials::table.filter(webauthn_credentials::device_id.eq(device_id)),
    )
    .execute(conn)
}

pub fn delete_of_account(conn: &mut DbConnection, account_id: &str) -> QueryResult<usize> {
    diesel::delete(
        webauthn_credentials::table.filter(webauthn_credentials::account_id.eq(account_id)),
    )
    .execute(conn)
}

/// Deletes the credentials of a facility's devices (its devices revoked with it).
pub fn delete_of_facility(conn: &mut DbConnection, facility_id: &str) -> QueryResult<usize> {
    use super::schema::devices;
    let ids: Vec<String> = devices::table
        .filter(devices::facility_id.eq(facility_id))
        .select(devices::id)
        .load(conn)?;
    diesel::delete(webauthn_credentials::table.filter(webauthn_credentials::device_id.eq_any(ids)))
        .execute(conn)
}
