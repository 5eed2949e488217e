//! The municipalities and their issuer keys (`service::keys`; `service::cards` reads both): the
//! municipality row set up at first start, and the public halves of the card-signing keys with
//! their status.
//!
//! Same rules as the other query modules: each query takes a connection and returns `QueryResult`,
//! "not found" is `Ok(None)` only where asked for with `optional()`, lookups by a unique key use
//! `get_result` (not `first`), and every query that reads or writes resident data is scoped by
//! municipality.

use super::DbConnection;
use super::schema::*;
use crate::domain::KeyStatus;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = municipalities)]
pub struct MunicipalityRow {
    pub id: String,
    pub municipality_id: String,
    pub code: String,
    pub name_ja: String,
    pub name_en: String,
    pub created_at: i64,
    /// The https prefix of its cards' URLs; `None`: the deployment's.
    pub card_base_url: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = issuer_keys)]
pub struct IssuerKeyRow {
    pub municipality_id: String,
    pub kid: String,
    pub status: KeyStatus,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

pub fn first_municipality(conn: &mut DbConnection) -> QueryResult<Option<MunicipalityRow>> {
    municipalities::table
        .order(municipalities::created_at.asc())
        .select(MunicipalityRow::as_select())
        .first(conn)
        .optional()
}

/// Every municipality of the deployment, the default (first created) first.
pub fn municipalities(conn: &mut DbConnection) -> QueryResult<Vec<MunicipalityRow>> {
    municipalities::table
        .order((municipalities::created_at.asc(), municipalities::id.asc()))
        .select(MunicipalityRow::as_select())
        .load(conn)
}

pub fn municipality_by_code(
    conn: &mut DbConnection,
    code: &str,
) -> QueryResult<Option<MunicipalityRow>> {
    municipalities::table
        .filter(municipalities::code.eq(code))
        .select(MunicipalityRow::as_select())
        .get_result(conn)
        .optional()
}

/// The municipality whose issuer key `kid` is (whatever its status): a card's issuer.
pub fn key_owner(conn: &mut DbConnection, kid: &str) -> QueryResult<Option<String>> {
    issuer_keys::table
        .filter(issuer_keys::kid.eq(kid))
        .select(issuer_keys::municipality_id)
        .first(conn)
        .optional()
}

pub fn insert_municipality(conn: &mut DbConnection, row: &MunicipalityRow) -> QueryResult<usize> {
    diesel::insert_into(municipalities::table)
        .values(row)
        .execute(conn)
}

pub fn issuer_keys(conn: &mut DbConnection, muni: &str) -> QueryResult<Vec<IssuerKeyRow>> {
    crate::native!(conn, c => {
        issuer_keys::table
            .filter(issuer_keys::municipality_id.eq(muni))
            .order(issuer_keys::created_at.asc())
            .select(IssuerKeyRow::as_select())
            .load(c)
    })
}

pub fn insert_issuer_key(conn: &mut DbConnection, row: &IssuerKeyRow) -> QueryResult<usize> {
    diesel::insert_into(issuer_keys::table)
        .values(row)
        .execute(conn)
}

pub fn set_issuer_key_status(
    conn: &mut DbConnection,
    muni: &str,
    kid: &str,
    status: KeyStatus,
    at: i64,
) -> QueryResult<usize> {
    diesel::update(
        issuer_keys::table
            .filter(issuer_keys::municipality_id.eq(muni))
            .filter(issuer_keys::kid.eq(kid)),
    )
    .set((
        issuer_keys::status.eq(status),
        issuer_keys::retired_at.eq(Some(at)),
    ))
    .execute(conn)
}

pub fn municipality(conn: &mut DbConnection, id: &str) -> QueryResult<Option<MunicipalityRow>> {
    municipalities::table
        .filter(municipalities::id.eq(id))
        .select(MunicipalityRow::as_select())
        .get_result(conn)
        .optional()
}
