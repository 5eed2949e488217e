//! Yearly re-confirmation (`service::reconfirm`): when each resident's record was last confirmed
//! as still true, and when its people were last reminded.

use super::DbConnection;
use super::residents::ResidentRow;
use super::schema::*;
use crate::domain::ResidentStatus;
use diesel::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = resident_confirmations)]
pub struct ConfirmationRow {
    pub resident_id: String,
    pub municipality_id: String,
    pub confirmed_at: i64,
    /// `registration`, `import`, `edit`, `reconfirm`, `backfill`.
    pub how: String,
    pub reminded_at: Option<i64>,
}

/// Records that the resident's data was confirmed at `now` (`how`): inserted, or updated in place
/// (the reminder mark is cleared, so the next period reminds again).
pub fn confirm(
    c: &mut DbConnection,
    muni: &str,
    resident_id: &str,
    how: &str,
    now: i64,
) -> QueryResult<()> {
    let n = diesel::update(
        resident_confirmations::table
            .filter(resident_confirmations::resident_id.eq(resident_id))
            .filter(resident_confirmations::municipality_id.eq(muni)),
    )
    .set((
        resident_confirmations::confirmed_at.eq(now),
        resident_confirmations::how.eq(how),
        resident_confirmations::reminded_at.eq(None::<i64>),
    ))
    .execute(c)?;
    if n == 0 {
        insert_all(
            c,
            &[ConfirmationRow {
                resident_id: resident_id.into(),
                municipality_id: muni.into(),
                confirmed_at: now,
                how: how.into(),
                reminded_at: None,
            }],
        )?;
    }
    Ok(())
}

/// Inserts new rows (residents just created: one statement per 200 on PostgreSQL, per row on
/// SQLite).
pub fn insert_all(c: &mut DbConnection, rows: &[ConfirmationRow]) -> QueryResult<()> {
    match c {
        DbConnection::Pg(pg) => {
            for chunk in rows.chunks(200) {
                diesel::insert_into(resident_confirmations::table)
                    .values(chunk)
                    .execute(pg)?;
            }
        }
        DbConnection::Sqlite(lite) => {
            for row in rows {
                diesel::insert_into(resident_confirmations::table)
                    .values(row)
                    .execute(lite)?;
            }
        }
    }
    Ok(())
}

/// The resident's confirmation row, if any.
pub fn of(
    c: &mut DbConnection,
    muni: &str,
    resident_id: &str,
) -> QueryResult<Option<ConfirmationRow>> {
    resident_confirmations::table
        .filter(resident_confirmations::municipality_id.eq(muni))
        .filter(resident_confirmations::resident_id.eq(resident_id))
        .select(ConfirmationRow::as_select())
        .get_result(c)
        .optional()
}

/// Every active resident of the municipality (of `district`, when given) with its confirmation
/// (`None`: never recorded — the service then counts the record's creation), so that a resident
/// without a row (made by code that forgot to record one) is still seen.
pub fn active_with_confirmations(
    c: &mut DbConnection,
    muni: &str,
    district: Option<&str>,
) -> QueryResult<Vec<(ResidentRow, Option<ConfirmationRow>)>> {
    let mut q = residents::table
        .filter(residents::municipality_id.eq(muni))
        .filter(residents::status.eq(ResidentStatus::Active))
        .select(ResidentRow::as_select())
        .into_boxed();
    if let Some(d) = district {
        q = q.filter(residents::district.eq(d.to_string()));
    }
    let people: Vec<ResidentRow> = q.load(c)?;
    let mut rows: HashMap<String, ConfirmationRow> = resident_confirmations::table
        .filter(resident_confirmations::municipality_id.eq(muni))
        .select(ConfirmationRow::as_select())
        .load(c)?
        .into_iter()
        .map(|r| (r.resident_id.clone(), r))
        .collect();
    Ok(people
        .into_iter()
        .map(|r| {
            let k = rows.remove(&r.id);
            (r, k)
        })
        .collect())
}

/// Marks the residents' people as reminded at `now`.
pub fn mark_reminded(
    c: &mut DbConnection,
    muni: &str,
    resident_id: &str,
    confirmed_at: i64,
    now: i64,
) -> QueryResult<usize> {
    let n = diesel::update(
        resident_confirmations::table
            .filter(resident_confirmations::municipality_id.eq(muni))
            .filter(resident_confirmations::resident_id.eq(resident_id)),
    )
    .set(resident_confirmations::reminded_at.eq(Some(now)))
    .execute(c)?;
    if n == 0 {
        // A resident without a row (see `stale`): one is made with what counted.
        insert_all(
            c,
            &[ConfirmationRow {
                resident_id: resident_id.into(),
                municipality_id: muni.into(),
                confirmed_at,
                how: "backfill".into(),
                reminded_at: Some(now),
            }],
        )?;
        return Ok(1);
    }
    Ok(n)
}
