//! Bulk onboarding (`service::import`) and batch printing (`service::batch`): import runs, the
//! natural key of each imported resident, paper consents, and the residents of a district or an
//! import. Inserts of many rows are one statement per chunk on PostgreSQL (one round trip) and one
//! cached statement per row on SQLite (in-process), as the audit chain does.

use super::DbConnection;
use super::cards::CardRow;
use super::residents::{ConsentRow, DatasetItemRow, ResidentRow};
use super::schema::*;
use crate::domain::ResidentStatus;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = resident_imports)]
pub struct ImportRow {
    pub id: String,
    pub municipality_id: String,
    pub file_sha256: String,
    pub imported_by: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub rows_total: i32,
    pub rows_imported: i32,
    pub rows_already: i32,
    pub rows_rejected: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = imported_residents)]
pub struct ImportedRow {
    pub resident_id: String,
    pub municipality_id: String,
    pub import_id: String,
    pub import_key: String,
    pub line: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = paper_consents)]
pub struct PaperConsentRow {
    pub consent_id: String,
    pub municipality_id: String,
    pub resident_id: String,
    pub form_number: String,
    pub signed_on: String,
    /// `self` | `family`.
    pub signed_by: String,
    pub import_id: Option<String>,
}

/// Inserts `rows` into `table` (a chunk per statement on PostgreSQL, a row per statement on SQLite).
macro_rules! insert_all {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let rows = $rows;
        match $conn {
            DbConnection::Pg(pg) => {
                for chunk in rows.chunks(200) {
                    diesel::insert_into($table).values(chunk).execute(pg)?;
                }
            }
            DbConnection::Sqlite(sqlite) => {
                for row in rows {
                    diesel::insert_into($table).values(row).execute(sqlite)?;
                }
            }
        }
        QueryResult::Ok(())
    }};
}

pub fn insert_import(conn: &mut DbConnection, row: &ImportRow) -> QueryResult<usize> {
    diesel::insert_into(resident_imports::table)
        .values(row)
        .execute(conn)
}

pub fn finish_import(
    conn: &mut DbConnection,
    id: &str,
    counts: (i32, i32, i32),
    now: i64,
) -> QueryResult<usize> {
    diesel::update(resident_imports::table.filter(resident_imports::id.eq(id)))
        .set((
            resident_imports::rows_imported.eq(counts.0),
            resident_imports::rows_already.eq(counts.1),
            resident_imports::rows_rejected.eq(counts.2),
            resident_imports::finished_at.eq(Some(now)),
        ))
        .execute(conn)
}

pub fn import(conn: &mut DbConnection, muni: &str, id: &str) -> QueryResult<Option<ImportRow>> {
    resident_imports::table
        .filter(resident_imports::municipality_id.eq(muni))
        .filter(resident_imports::id.eq(id))
        .select(ImportRow::as_select())
        .get_result(conn)
        .optional()
}

/// Every natural key already imported in the municipality.
pub fn import_keys(conn: &mut DbConnection, muni: &str) -> QueryResult<Vec<String>> {
    imported_residents::table
        .filter(imported_residents::municipality_id.eq(muni))
        .select(imported_residents::import_key)
        .load(conn)
}

pub fn key_exists(conn: &mut DbConnection, muni: &str, key: &str) -> QueryResult<bool> {
    let n: i64 = imported_residents::table
        .filter(imported_residents::municipality_id.eq(muni))
        .filter(imported_residents::import_key.eq(key))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The residents, their natural keys, consents, paper consents and dataset items of one chunk.
#[derive(Debug, Default)]
pub struct Chunk {
    pub residents: Vec<ResidentRow>,
    pub imported: Vec<ImportedRow>,
    pub consents: Vec<ConsentRow>,
    pub paper: Vec<PaperConsentRow>,
    pub items: Vec<DatasetItemRow>,
}

/// Inserts a chunk, parents first.
pub fn insert_chunk(conn: &mut DbConnection, chunk: &Chunk) -> QueryResult<()> {
    insert_all!(conn, residents::table, &chunk.residents)?;
    insert_all!(conn, imported_residents::table, &chunk.imported)?;
    insert_all!(conn, consents::table, &chunk.consents)?;
    insert_all!(conn, paper_consents::table, &chunk.paper)?;
    insert_all!(conn, dataset_items::table, &chunk.items)
}

/// Forgets a purged resident's natural key.
pub fn delete_key_of(conn: &mut DbConnection, resident_id: &str) -> QueryResult<usize> {
    diesel::delete(
        imported_residents::table.filter(imported_residents::resident_id.eq(resident_id)),
    )
    .execute(conn)
}

/// The paper consent behind a consent version, if it was given on paper.
pub fn paper_consent(
    conn: &mut DbConnection,
    consent_id: &str,
) -> QueryResult<Option<PaperConsentRow>> {
    paper_consents::table
        .filter(paper_consents::consent_id.eq(consent_id))
        .select(PaperConsentRow::as_select())
        .get_result(conn)
        .optional()
}

/// The active residents of a district.
pub fn active_in_district(
    conn: &mut DbConnection,
    muni: &str,
    district: &str,
) -> QueryResult<Vec<ResidentRow>> {
    residents::table
        .filter(residents::municipality_id.eq(muni))
        .filter(residents::district.eq(district))
        .filter(residents::status.eq(ResidentStatus::Active))
        .select(ResidentRow::as_select())
        .load(conn)
}

/// The active residents an import made.
pub fn active_of_import(
    conn: &mut DbConnection,
    muni: &str,
    import_id: &str,
) -> QueryResult<Vec<ResidentRow>> {
    residents::table
        .inner_join(imported_residents::table)
        .filter(residents::municipality_id.eq(muni))
        .filter(imported_residents::import_id.eq(import_id))
        .filter(residents::status.eq(ResidentStatus::Active))
        .select(ResidentRow::as_select())
        .load(conn)
}

/// Inserts cards (a batch's new cards).
pub fn insert_cards(conn: &mut DbConnection, rows: &[CardRow]) -> QueryResult<()> {
    insert_all!(conn, cards::table, rows)
}

/// Every active resident of the municipality (an import's duplicate check, once per run).
pub fn active_residents(conn: &mut DbConnection, muni: &str) -> QueryResult<Vec<ResidentRow>> {
    residents::table
        .filter(residents::municipality_id.eq(muni))
        .filter(residents::status.eq(ResidentStatus::Active))
        .select(ResidentRow::as_select())
        .load(conn)
}
