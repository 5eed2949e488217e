//! Residents' identity photos (`service::photo`): one row per resident, the JPEG the server
//! re-encoded. Scoped by municipality like every query of resident data.

use super::DbConnection;
use super::schema::resident_photos;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = resident_photos)]
pub struct PhotoRow {
    pub resident_id: String,
    pub municipality_id: String,
    pub jpeg: Vec<u8>,
    pub width: i32,
    pub height: i32,
    pub sha256: String,
    pub uploaded_by: String,
    pub updated_at: i64,
}

/// Stores the photo, replacing the resident's previous one.
pub fn upsert(c: &mut DbConnection, row: &PhotoRow) -> QueryResult<()> {
    diesel::delete(
        resident_photos::table.filter(resident_photos::resident_id.eq(&row.resident_id)),
    )
    .execute(c)?;
    diesel::insert_into(resident_photos::table)
        .values(row)
        .execute(c)
        .map(drop)
}

pub fn photo(c: &mut DbConnection, muni: &str, resident_id: &str) -> QueryResult<Option<PhotoRow>> {
    resident_photos::table
        .filter(resident_photos::municipality_id.eq(muni))
        .filter(resident_photos::resident_id.eq(resident_id))
        .select(PhotoRow::as_select())
        .get_result(c)
        .optional()
}

/// Whether the resident has a photo on file (without reading it).
pub fn exists(c: &mut DbConnection, muni: &str, resident_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        resident_photos::table
            .filter(resident_photos::municipality_id.eq(muni))
            .filter(resident_photos::resident_id.eq(resident_id)),
    ))
    .get_result(c)
}

/// Deletes the resident's photo; the number of rows deleted (0 or 1).
pub fn delete(c: &mut DbConnection, resident_id: &str) -> QueryResult<usize> {
    diesel::delete(resident_photos::table.filter(resident_photos::resident_id.eq(resident_id)))
        .execute(c)
}
