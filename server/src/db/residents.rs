//! Residents and what hangs off them (`service::residents`, `service::dataset`, `service::consent`,
//! `service::purge`): the resident row, proxies, the dataset items and the consent versions.
//!
//! Same rules as the other query modules: each query takes a connection and returns `QueryResult`,
//! "not found" is `Ok(None)` only where asked for with `optional()`, lookups by a unique key use
//! `get_result` (not `first`), and every query that reads or writes resident data is scoped by
//! municipality.

use super::DbConnection;
use super::schema::*;
use crate::domain::{Category, ConsentStatus, GivenBy, Provenance, ProxyRelation, ResidentStatus};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = residents, treat_none_as_null = true)]
pub struct ResidentRow {
    pub id: String,
    pub municipality_id: String,
    pub account_id: Option<String>,
    pub family_name: String,
    pub given_name: String,
    pub family_name_kana: Option<String>,
    pub given_name_kana: Option<String>,
    pub date_of_birth: String,
    pub sex: String,
    pub address: String,
    pub district: Option<String>,
    pub phone: Option<String>,
    pub preferred_language: String,
    pub status: ResidentStatus,
    pub withdrawn_at: Option<i64>,
    pub purge_after: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = proxies)]
pub struct ProxyRow {
    pub id: String,
    pub municipality_id: String,
    pub resident_id: String,
    pub account_id: String,
    pub relation: ProxyRelation,
    pub relation_detail: Option<String>,
    pub consent_statement: String,
    pub consented_at: i64,
    /// When the resident removed this proxy (or the proxy stepped down): from then on it acts for
    /// nobody; the row stays because a consent version may name it.
    pub removed_at: Option<i64>,
    pub removed_by: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = dataset_items)]
pub struct DatasetItemRow {
    pub id: String,
    pub municipality_id: String,
    pub resident_id: String,
    pub category: Category,
    pub body: String,
    pub provenance: Provenance,
    pub last_verified: Option<String>,
    pub updated_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = consents)]
pub struct ConsentRow {
    pub id: String,
    pub municipality_id: String,
    pub resident_id: String,
    pub version: i32,
    pub status: ConsentStatus,
    pub categories: String,
    pub disaster_use: bool,
    pub triage_on_card: bool,
    pub name_on_print: bool,
    pub given_by: GivenBy,
    pub proxy_id: Option<String>,
    pub recorded_by: String,
    pub created_at: i64,
    /// The resident's proxies get a Web Push when the card is scanned or a hospital accepts.
    pub notify_family: bool,
    /// That push names the accepting hospital.
    pub family_hospital_name: bool,
}

// ---- residents and proxies -------------------------------------------------------------------

pub fn insert_resident(conn: &mut DbConnection, row: &ResidentRow) -> QueryResult<usize> {
    diesel::insert_into(residents::table)
        .values(row)
        .execute(conn)
}

pub fn resident(conn: &mut DbConnection, muni: &str, id: &str) -> QueryResult<Option<ResidentRow>> {
    crate::native!(conn, c => {
        residents::table
            .filter(residents::municipality_id.eq(muni))
            .filter(residents::id.eq(id))
            .select(ResidentRow::as_select())
            .get_result(c)
            .optional()
    })
}

pub fn resident_of_account(
    conn: &mut DbConnection,
    account_id: &str,
) -> QueryResult<Option<ResidentRow>> {
    residents::table
        .filter(residents::account_id.eq(account_id))
        .select(ResidentRow::as_select())
        .get_result(conn)
        .optional()
}

/// Holds the resident's row until the transaction ends (PostgreSQL `FOR UPDATE`; on SQLite the
/// writer runs one transaction at a time anyway), so that the writes which must see each other's
/// cards and consent versions — a consent version (which revokes cards), 支援中止, a card's issue —
/// run one after the other for one resident, each reading what the other committed.
pub fn lock_resident(conn: &mut DbConnection, muni: &str, id: &str) -> QueryResult<()> {
    let row = residents::table
        .filter(residents::municipality_id.eq(muni))
        .filter(residents::id.eq(id))
        .select(residents::id);
    match conn {
        DbConnection::Pg(pg) => row.for_update().load::<String>(pg).map(drop),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

pub fn update_resident(conn: &mut DbConnection, row: &ResidentRow) -> QueryResult<usize> {
    diesel::update(
        residents::table
            .filter(residents::id.eq(&row.id))
            .filter(residents::municipality_id.eq(&row.municipality_id)),
    )
    .set(row)
    .execute(conn)
}

pub fn insert_proxy(conn: &mut DbConnection, row: &ProxyRow) -> QueryResult<usize> {
    diesel::insert_into(proxies::table)
        .values(row)
        .execute(conn)
}

/// The account's **current** proxy link to the resident (a removed one acts for nobody).
pub fn proxy_for(
    conn: &mut DbConnection,
    resident_id: &str,
    account_id: &str,
) -> QueryResult<Option<ProxyRow>> {
    proxies::table
        .filter(proxies::resident_id.eq(resident_id))
        .filter(proxies::account_id.eq(account_id))
        .filter(proxies::removed_at.is_null())
        .select(ProxyRow::as_select())
        .get_result(conn)
        .optional()
}

/// The account's proxy link to the resident, current or removed (there is at most one row per
/// pair).
pub fn proxy_link(
    conn: &mut DbConnection,
    resident_id: &str,
    account_id: &str,
) -> QueryResult<Option<ProxyRow>> {
    proxies::table
        .filter(proxies::resident_id.eq(resident_id))
        .filter(proxies::account_id.eq(account_id))
        .select(ProxyRow::as_select())
        .get_result(conn)
        .optional()
}

/// Makes the account a proxy of the resident again, or for the first time: a removed link (the
/// same pair) gets the new relation and statement and is current again under its old id, else
/// `row` is inserted. Returns the link's id.
pub fn link_proxy(conn: &mut DbConnection, row: &ProxyRow) -> QueryResult<String> {
    match proxy_link(conn, &row.resident_id, &row.account_id)? {
        Some(old) => {
            diesel::update(proxies::table.filter(proxies::id.eq(&old.id)))
                .set((
                    proxies::relation.eq(row.relation),
                    proxies::relation_detail.eq(&row.relation_detail),
                    proxies::consent_statement.eq(&row.consent_statement),
                    proxies::consented_at.eq(row.consented_at),
                    proxies::removed_at.eq(None::<i64>),
                    proxies::removed_by.eq(None::<String>),
                ))
                .execute(conn)?;
            Ok(old.id)
        }
        None => {
            insert_proxy(conn, row)?;
            Ok(row.id.clone())
        }
    }
}

/// Ends a current proxy link (`removed_at` set); 0 if it is not current.
pub fn remove_proxy(
    conn: &mut DbConnection,
    resident_id: &str,
    proxy_id: &str,
    by: &str,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(
        proxies::table
            .filter(proxies::id.eq(proxy_id))
            .filter(proxies::resident_id.eq(resident_id))
            .filter(proxies::removed_at.is_null()),
    )
    .set((proxies::removed_at.eq(now), proxies::removed_by.eq(by)))
    .execute(conn)
}

/// The residents the account is currently a proxy of.
pub fn residents_of_proxy(
    conn: &mut DbConnection,
    account_id: &str,
) -> QueryResult<Vec<ResidentRow>> {
    proxies::table
        .inner_join(residents::table)
        .filter(proxies::account_id.eq(account_id))
        .filter(proxies::removed_at.is_null())
        .order((residents::family_name.asc(), residents::id.asc()))
        .select(ResidentRow::as_select())
        .load(conn)
}

/// A resident's current proxies with their accounts' display names.
pub fn current_proxies_with_names(
    conn: &mut DbConnection,
    resident_id: &str,
) -> QueryResult<Vec<(ProxyRow, String)>> {
    proxies::table
        .inner_join(accounts::table.on(accounts::id.eq(proxies::account_id)))
        .filter(proxies::resident_id.eq(resident_id))
        .filter(proxies::removed_at.is_null())
        .order(proxies::consented_at.asc())
        .select((ProxyRow::as_select(), accounts::display_name))
        .load(conn)
}

/// A resident's proxies, current and removed, with their accounts' display names.
pub fn proxies_with_names(
    conn: &mut DbConnection,
    resident_id: &str,
) -> QueryResult<Vec<(ProxyRow, String)>> {
    proxies::table
        .inner_join(accounts::table.on(accounts::id.eq(proxies::account_id)))
        .filter(proxies::resident_id.eq(resident_id))
        .order(proxies::consented_at.asc())
        .select((ProxyRow::as_select(), accounts::display_name))
        .load(conn)
}

/// Withdrawn residents whose retention has run out.
pub fn residents_due_for_purge(conn: &mut DbConnection, now: i64) -> QueryResult<Vec<ResidentRow>> {
    residents::table
        .filter(residents::status.eq(ResidentStatus::Withdrawn))
        .filter(residents::purge_after.le(now))
        .select(ResidentRow::as_select())
        .load(conn)
}

pub fn any_resident(conn: &mut DbConnection, muni: &str) -> QueryResult<bool> {
    let n: i64 = residents::table
        .filter(residents::municipality_id.eq(muni))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

// ---- dataset ---------------------------------------------------------------------------------

pub fn insert_item(conn: &mut DbConnection, row: &DatasetItemRow) -> QueryResult<usize> {
    diesel::insert_into(dataset_items::table)
        .values(row)
        .execute(conn)
}

pub fn items(conn: &mut DbConnection, resident_id: &str) -> QueryResult<Vec<DatasetItemRow>> {
    crate::native!(conn, c => {
        dataset_items::table
            .filter(dataset_items::resident_id.eq(resident_id))
            .order((
                dataset_items::category.asc(),
                dataset_items::created_at.asc(),
                dataset_items::id.asc(),
            ))
            .select(DatasetItemRow::as_select())
            .load(c)
    })
}

pub fn item(
    conn: &mut DbConnection,
    resident_id: &str,
    id: &str,
) -> QueryResult<Option<DatasetItemRow>> {
    dataset_items::table
        .filter(dataset_items::resident_id.eq(resident_id))
        .filter(dataset_items::id.eq(id))
        .select(DatasetItemRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn update_item(conn: &mut DbConnection, row: &DatasetItemRow) -> QueryResult<usize> {
    diesel::update(
        dataset_items::table
            .filter(dataset_items::id.eq(&row.id))
            .filter(dataset_items::resident_id.eq(&row.resident_id)),
    )
    .set((
        dataset_items::body.eq(&row.body),
        dataset_items::provenance.eq(&row.provenance),
        dataset_items::last_verified.eq(&row.last_verified),
        dataset_items::updated_by.eq(&row.updated_by),
        dataset_items::updated_at.eq(row.updated_at),
    ))
    .execute(conn)
}

pub fn delete_item(conn: &mut DbConnection, resident_id: &str, id: &str) -> QueryResult<usize> {
    diesel::delete(
        dataset_items::table
            .filter(dataset_items::resident_id.eq(resident_id))
            .filter(dataset_items::id.eq(id)),
    )
    .execute(conn)
}

pub fn delete_items_of(conn: &mut DbConnection, resident_id: &str) -> QueryResult<usize> {
    diesel::delete(dataset_items::table.filter(dataset_items::resident_id.eq(resident_id)))
        .execute(conn)
}

// ---- consent ---------------------------------------------------------------------------------

pub fn consents(conn: &mut DbConnection, resident_id: &str) -> QueryResult<Vec<ConsentRow>> {
    consents::table
        .filter(consents::resident_id.eq(resident_id))
        .order(consents::version.asc())
        .select(ConsentRow::as_select())
        .load(conn)
}

/// The resident's newest consent version. Two unique-key lookups rather than `ORDER BY … LIMIT ?`:
/// SQLite re-prepares a statement whose bound `LIMIT` may change its plan, on every execution
/// (this is on every scan's path).
pub fn latest_consent(
    conn: &mut DbConnection,
    resident_id: &str,
) -> QueryResult<Option<ConsentRow>> {
    // One statement: the version no other version of the resident's is newer than.
    let newer = diesel::alias!(consents as newer_consents);
    crate::native!(conn, c => {
        consents::table
            .filter(consents::resident_id.eq(resident_id))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                newer
                    .filter(newer.field(consents::resident_id).eq(consents::resident_id))
                    .filter(newer.field(consents::version).gt(consents::version)),
            )))
            .select(ConsentRow::as_select())
            .get_result(c)
            .optional()
    })
}

pub fn insert_consent(conn: &mut DbConnection, row: &ConsentRow) -> QueryResult<usize> {
    diesel::insert_into(consents::table)
        .values(row)
        .execute(conn)
}
