//! Proxy invites (`service::proxies`): one row per one-time code a resident handed out, keyed by
//! the code's SHA-256 (the code itself is never stored).

use super::DbConnection;
use super::schema::proxy_invites;
use crate::domain::ProxyRelation;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = proxy_invites)]
pub struct InviteRow {
    pub code_hash: String,
    pub id: String,
    pub municipality_id: String,
    pub resident_id: String,
    pub created_by: String,
    pub relation: ProxyRelation,
    pub relation_detail: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub used_by: Option<String>,
    pub cancelled_at: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, row: &InviteRow) -> QueryResult<usize> {
    diesel::insert_into(proxy_invites::table)
        .values(row)
        .execute(conn)
}

pub fn by_hash(
    conn: &mut DbConnection,
    muni: &str,
    code_hash: &str,
) -> QueryResult<Option<InviteRow>> {
    proxy_invites::table
        .filter(proxy_invites::code_hash.eq(code_hash))
        .filter(proxy_invites::municipality_id.eq(muni))
        .select(InviteRow::as_select())
        .get_result(conn)
        .optional()
}

/// Marks an invite used by `account_id`, only if it is still unused, not cancelled and not
/// expired at `now` (so two accepts of one code cannot both succeed); returns whether it did.
pub fn spend(
    conn: &mut DbConnection,
    code_hash: &str,
    account_id: &str,
    now: i64,
) -> QueryResult<bool> {
    let n = diesel::update(
        proxy_invites::table
            .filter(proxy_invites::code_hash.eq(code_hash))
            .filter(proxy_invites::used_at.is_null())
            .filter(proxy_invites::cancelled_at.is_null())
            .filter(proxy_invites::expires_at.gt(now)),
    )
    .set((
        proxy_invites::used_at.eq(now),
        proxy_invites::used_by.eq(account_id),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// A resident's invites, newest first.
pub fn of_resident(conn: &mut DbConnection, resident_id: &str) -> QueryResult<Vec<InviteRow>> {
    proxy_invites::table
        .filter(proxy_invites::resident_id.eq(resident_id))
        .order((proxy_invites::created_at.desc(), proxy_invites::id.asc()))
        .select(InviteRow::as_select())
        .load(conn)
}

/// Cancels an unused invite of the resident; returns whether one was cancelled.
pub fn cancel(conn: &mut DbConnection, resident_id: &str, id: &str, now: i64) -> QueryResult<bool> {
    let n = diesel::update(
        proxy_invites::table
            .filter(proxy_invites::resident_id.eq(resident_id))
            .filter(proxy_invites::id.eq(id))
            .filter(proxy_invites::used_at.is_null())
            .filter(proxy_invites::cancelled_at.is_null()),
    )
    .set(proxy_invites::cancelled_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

/// Deletes a resident's invites (the purge).
pub fn delete_of(conn: &mut DbConnection, resident_id: &str) -> QueryResult<usize> {
    diesel::delete(proxy_invites::table.filter(proxy_invites::resident_id.eq(resident_id)))
        .execute(conn)
}
