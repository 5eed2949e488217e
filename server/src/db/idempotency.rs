//! Idempotency keys of the crew's changes (`service::idempotency`): one row per (device, key),
//! claimed inside the change's transaction and completed with its answer.

use super::DbConnection;
use super::schema::idempotency_keys;
use diesel::prelude::*;

/// A key as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
pub struct KeyRow {
    pub device_id: String,
    pub idem_key: String,
    pub account_id: String,
    pub request_hash: String,
    pub response: Option<String>,
    pub created_at: i64,
}

/// Deletes the keys created before `cutoff` (expired).
pub fn prune(c: &mut DbConnection, cutoff: i64) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff)))
        .execute(c)
}

/// Claims `(device, key)` with no answer yet; false if a row is already there. On PostgreSQL a
/// concurrent claim of the same key waits for the first transaction, then finds its row.
pub fn claim(
    c: &mut DbConnection,
    device_id: &str,
    key: &str,
    account_id: &str,
    request_hash: &str,
    now: i64,
) -> QueryResult<bool> {
    let insert = diesel::insert_into(idempotency_keys::table).values((
        idempotency_keys::device_id.eq(device_id),
        idempotency_keys::idem_key.eq(key),
        idempotency_keys::account_id.eq(account_id),
        idempotency_keys::request_hash.eq(request_hash),
        idempotency_keys::created_at.eq(now),
    ));
    // `ON CONFLICT DO NOTHING` is spelled per backend (the multi-backend connection has no upsert).
    let n = match c {
        DbConnection::Pg(pg) => insert.on_conflict_do_nothing().execute(pg)?,
        DbConnection::Sqlite(lite) => insert.on_conflict_do_nothing().execute(lite)?,
    };
    Ok(n == 1)
}

/// The row of `(device, key)`, if any.
pub fn find(c: &mut DbConnection, device_id: &str, key: &str) -> QueryResult<Option<KeyRow>> {
    idempotency_keys::table
        .filter(idempotency_keys::device_id.eq(device_id))
        .filter(idempotency_keys::idem_key.eq(key))
        .select(KeyRow::as_select())
        .first(c)
        .optional()
}

/// Records the answer of a claimed key.
pub fn complete(
    c: &mut DbConnection,
    device_id: &str,
    key: &str,
    response: &str,
) -> QueryResult<()> {
    diesel::update(
        idempotency_keys::table
            .filter(idempotency_keys::device_id.eq(device_id))
            .filter(idempotency_keys::idem_key.eq(key)),
    )
    .set(idempotency_keys::response.eq(response))
    .execute(c)
    .map(drop)
}
