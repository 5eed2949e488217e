//! The incidents aggregate (`service::incidents`, `service::feed`): rows
//! and queries of pre-arrival: incidents, report versions, attachments, inquiry targets and the
//! per-facility live feed. Same rules as the other query modules: `QueryResult`, scoped by
//! municipality, `get_result` for unique keys.

use super::DbConnection;
use super::schema::*;
use crate::domain::{
    CapacityCategory, CapacityStatus, DeclineReason, IncidentStatus, TargetStatus,
};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = incidents)]
pub struct IncidentRow {
    pub id: String,
    pub municipality_id: String,
    pub facility_id: String,
    pub device_id: String,
    pub opened_by: String,
    pub access_id: Option<String>,
    pub incident_ref: String,
    pub status: IncidentStatus,
    pub destination_id: Option<String>,
    pub version: i32,
    pub activation: Option<String>,
    pub eta_at: Option<i64>,
    pub seed: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = incident_reports)]
pub struct ReportRow {
    pub incident_id: String,
    pub version: i32,
    pub municipality_id: String,
    pub body: String,
    pub created_by: String,
    pub device_id: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = incident_attachments)]
pub struct AttachmentRow {
    pub id: String,
    pub municipality_id: String,
    pub incident_id: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub data: Vec<u8>,
    pub created_by: String,
    pub created_at: i64,
}

/// An attachment without its bytes.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = incident_attachments)]
pub struct AttachmentMeta {
    pub id: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = inquiry_targets)]
pub struct TargetRow {
    pub incident_id: String,
    pub hospital_id: String,
    pub municipality_id: String,
    pub status: TargetStatus,
    pub reason: Option<String>,
    pub asked_at: i64,
    pub answered_by: Option<String>,
    pub answered_at: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<i64>,
    pub escalated_at: Option<i64>,
    /// A decline's coded reason.
    pub reason_code: Option<DeclineReason>,
}

/// A hospital's earlier answer, kept when it was asked (or assigned) again.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = inquiry_history)]
pub struct HistoryRow {
    pub id: String,
    pub incident_id: String,
    pub hospital_id: String,
    pub municipality_id: String,
    pub status: TargetStatus,
    pub reason_code: Option<DeclineReason>,
    pub reason: Option<String>,
    pub asked_at: i64,
    pub answered_by: Option<String>,
    pub answered_at: Option<i64>,
    pub archived_at: i64,
}

/// What an ED publishes for one category (応需情報).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = hospital_capacity)]
pub struct CapacityRow {
    pub facility_id: String,
    pub category: CapacityCategory,
    pub municipality_id: String,
    pub status: CapacityStatus,
    pub note: Option<String>,
    pub updated_by: String,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = feed_events)]
pub struct FeedRow {
    pub facility_id: String,
    pub seq: i64,
    pub municipality_id: String,
    pub incident_id: String,
    pub kind: String,
    pub data: String,
    pub created_at: i64,
}

// ---- incidents ------------------------------------------------------------------------------------

pub fn insert_incident(c: &mut DbConnection, row: &IncidentRow) -> QueryResult<()> {
    diesel::insert_into(incidents::table)
        .values(row)
        .execute(c)
        .map(drop)
}

pub fn incident(c: &mut DbConnection, muni: &str, id: &str) -> QueryResult<Option<IncidentRow>> {
    incidents::table
        .filter(incidents::municipality_id.eq(muni))
        .filter(incidents::id.eq(id))
        .select(IncidentRow::as_select())
        .get_result(c)
        .optional()
}

/// The municipality an incident belongs to (its crew's), whatever it is.
pub fn incident_municipality(c: &mut DbConnection, id: &str) -> QueryResult<Option<String>> {
    incidents::table
        .filter(incidents::id.eq(id))
        .select(incidents::municipality_id)
        .get_result(c)
        .optional()
}

/// Moves the report version from `base` to `base + 1` (with the new activation and ETA); false if
/// someone else moved it first (or the incident is closed).
pub fn bump_version(
    c: &mut DbConnection,
    id: &str,
    base: i32,
    activation: &str,
    eta_at: Option<i64>,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        incidents::table
            .filter(incidents::id.eq(id))
            .filter(incidents::version.eq(base))
            .filter(incidents::status.eq_any([IncidentStatus::Open, IncidentStatus::Accepted])),
    )
    .set((
        incidents::version.eq(base + 1),
        incidents::activation.eq(activation),
        incidents::eta_at.eq(eta_at),
        incidents::updated_at.eq(now),
    ))
    .execute(c)
    .map(|n| n == 1)
}

/// The first acceptance: `open` → `accepted` with this destination; false if not open any more.
pub fn accept_incident(
    c: &mut DbConnection,
    id: &str,
    hospital: &str,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        incidents::table
            .filter(incidents::id.eq(id))
            .filter(incidents::status.eq(IncidentStatus::Open)),
    )
    .set((
        incidents::status.eq(IncidentStatus::Accepted),
        incidents::destination_id.eq(hospital),
        incidents::updated_at.eq(now),
    ))
    .execute(c)
    .map(|n| n == 1)
}

/// Sets status/destination of an incident that is still open or accepted; false otherwise.
pub fn move_incident(
    c: &mut DbConnection,
    id: &str,
    status: IncidentStatus,
    destination: Option<&str>,
    closed_at: Option<i64>,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        incidents::table
            .filter(incidents::id.eq(id))
            .filter(incidents::status.eq_any([IncidentStatus::Open, IncidentStatus::Accepted])),
    )
    .set((
        incidents::status.eq(status),
        incidents::destination_id.eq(destination),
        incidents::closed_at.eq(closed_at),
        incidents::updated_at.eq(now),
    ))
    .execute(c)
    .map(|n| n == 1)
}

// ---- reports and attachments ---------------------------------------------------------------------

pub fn insert_report(c: &mut DbConnection, row: &ReportRow) -> QueryResult<()> {
    diesel::insert_into(incident_reports::table)
        .values(row)
        .execute(c)
        .map(drop)
}

pub fn report(
    c: &mut DbConnection,
    incident: &str,
    version: i32,
) -> QueryResult<Option<ReportRow>> {
    incident_reports::table
        .filter(incident_reports::incident_id.eq(incident))
        .filter(incident_reports::version.eq(version))
        .select(ReportRow::as_select())
        .get_result(c)
        .optional()
}

/// Every version of an incident's report, oldest first.
pub fn reports(c: &mut DbConnection, incident: &str) -> QueryResult<Vec<ReportRow>> {
    incident_reports::table
        .filter(incident_reports::incident_id.eq(incident))
        .order(incident_reports::version.asc())
        .select(ReportRow::as_select())
        .load(c)
}

pub fn insert_attachment(c: &mut DbConnection, row: &AttachmentRow) -> QueryResult<()> {
    diesel::insert_into(incident_attachments::table)
        .values(row)
        .execute(c)
        .map(drop)
}

pub fn attachments(c: &mut DbConnection, incident: &str) -> QueryResult<Vec<AttachmentMeta>> {
    incident_attachments::table
        .filter(incident_attachments::incident_id.eq(incident))
        .order((
            incident_attachments::created_at.asc(),
            incident_attachments::id.asc(),
        ))
        .select(AttachmentMeta::as_select())
        .load(c)
}

pub fn count_attachments(c: &mut DbConnection, incident: &str) -> QueryResult<i64> {
    incident_attachments::table
        .filter(incident_attachments::incident_id.eq(incident))
        .count()
        .get_result(c)
}

pub fn attachment(
    c: &mut DbConnection,
    incident: &str,
    id: &str,
) -> QueryResult<Option<AttachmentRow>> {
    incident_attachments::table
        .filter(incident_attachments::incident_id.eq(incident))
        .filter(incident_attachments::id.eq(id))
        .select(AttachmentRow::as_select())
        .get_result(c)
        .optional()
}

// ---- inquiry targets -----------------------------------------------------------------------------

pub fn targets(c: &mut DbConnection, incident: &str) -> QueryResult<Vec<TargetRow>> {
    inquiry_targets::table
        .filter(inquiry_targets::incident_id.eq(incident))
        .order((
            inquiry_targets::asked_at.asc(),
            inquiry_targets::hospital_id.asc(),
        ))
        .select(TargetRow::as_select())
        .load(c)
}

pub fn target(
    c: &mut DbConnection,
    incident: &str,
    hospital: &str,
) -> QueryResult<Option<TargetRow>> {
    inquiry_targets::table
        .filter(inquiry_targets::incident_id.eq(incident))
        .filter(inquiry_targets::hospital_id.eq(hospital))
        .select(TargetRow::as_select())
        .get_result(c)
        .optional()
}

/// Inserts a target, or re-asks (or assigns) a hospital that was asked before: its earlier row
/// is kept in `inquiry_history` under `history_id`, then the row starts over.
pub fn upsert_target(c: &mut DbConnection, row: &TargetRow, history_id: &str) -> QueryResult<()> {
    if let Some(old) = target(c, &row.incident_id, &row.hospital_id)? {
        diesel::insert_into(inquiry_history::table)
            .values(&HistoryRow {
                id: history_id.to_string(),
                incident_id: old.incident_id,
                hospital_id: old.hospital_id,
                municipality_id: old.municipality_id,
                status: old.status,
                reason_code: old.reason_code,
                reason: old.reason,
                asked_at: old.asked_at,
                answered_by: old.answered_by,
                answered_at: old.answered_at,
                archived_at: row.asked_at,
            })
            .execute(c)?;
        diesel::update(
            inquiry_targets::table
                .filter(inquiry_targets::incident_id.eq(&row.incident_id))
                .filter(inquiry_targets::hospital_id.eq(&row.hospital_id)),
        )
        .set((
            inquiry_targets::status.eq(&row.status),
            inquiry_targets::reason.eq(&row.reason),
            inquiry_targets::reason_code.eq(&row.reason_code),
            inquiry_targets::asked_at.eq(row.asked_at),
            inquiry_targets::answered_by.eq(&row.answered_by),
            inquiry_targets::answered_at.eq(row.answered_at),
            inquiry_targets::acknowledged_by.eq(&row.acknowledged_by),
            inquiry_targets::acknowledged_at.eq(row.acknowledged_at),
            inquiry_targets::escalated_at.eq(row.escalated_at),
        ))
        .execute(c)?;
    } else {
        diesel::insert_into(inquiry_targets::table)
            .values(row)
            .execute(c)?;
    }
    Ok(())
}

/// An incident's earlier answers (of hospitals asked again), oldest first.
pub fn history(c: &mut DbConnection, incident: &str) -> QueryResult<Vec<HistoryRow>> {
    inquiry_history::table
        .filter(inquiry_history::incident_id.eq(incident))
        .order((inquiry_history::asked_at.asc(), inquiry_history::id.asc()))
        .select(HistoryRow::as_select())
        .load(c)
}

/// Publishes one category's capacity of a hospital (replacing what it said before).
pub fn set_capacity(c: &mut DbConnection, row: &CapacityRow) -> QueryResult<()> {
    let n = diesel::update(
        hospital_capacity::table
            .filter(hospital_capacity::facility_id.eq(&row.facility_id))
            .filter(hospital_capacity::category.eq(row.category)),
    )
    .set((
        hospital_capacity::status.eq(row.status),
        hospital_capacity::note.eq(&row.note),
        hospital_capacity::updated_by.eq(&row.updated_by),
        hospital_capacity::updated_at.eq(row.updated_at),
    ))
    .execute(c)?;
    if n == 0 {
        diesel::insert_into(hospital_capacity::table)
            .values(row)
            .execute(c)?;
    }
    Ok(())
}

/// The capacity every hospital of the municipality published, by hospital and category.
pub fn capacities(c: &mut DbConnection, muni: &str) -> QueryResult<Vec<CapacityRow>> {
    hospital_capacity::table
        .filter(hospital_capacity::municipality_id.eq(muni))
        .order((
            hospital_capacity::facility_id.asc(),
            hospital_capacity::category.asc(),
        ))
        .select(CapacityRow::as_select())
        .load(c)
}

/// Sets a target's status (and answer) if its status is one of `from`; false otherwise.
pub fn set_target_status(
    c: &mut DbConnection,
    incident: &str,
    hospital: &str,
    from: &[TargetStatus],
    to: TargetStatus,
    answer: Option<(&str, Option<DeclineReason>, Option<&str>, i64)>,
) -> QueryResult<bool> {
    let q = inquiry_targets::table
        .filter(inquiry_targets::incident_id.eq(incident))
        .filter(inquiry_targets::hospital_id.eq(hospital))
        .filter(inquiry_targets::status.eq_any(from));
    let n = match answer {
        Some((by, code, reason, at)) => diesel::update(q)
            .set((
                inquiry_targets::status.eq(to),
                inquiry_targets::answered_by.eq(by),
                inquiry_targets::reason_code.eq(code),
                inquiry_targets::reason.eq(reason),
                inquiry_targets::answered_at.eq(at),
            ))
            .execute(c)?,
        None => diesel::update(q)
            .set(inquiry_targets::status.eq(to))
            .execute(c)?,
    };
    Ok(n == 1)
}

/// Records the first acknowledgement of a target (later ones change nothing); true if recorded.
pub fn acknowledge_target(
    c: &mut DbConnection,
    incident: &str,
    hospital: &str,
    by: &str,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        inquiry_targets::table
            .filter(inquiry_targets::incident_id.eq(incident))
            .filter(inquiry_targets::hospital_id.eq(hospital))
            .filter(inquiry_targets::acknowledged_at.is_null()),
    )
    .set((
        inquiry_targets::acknowledged_by.eq(by),
        inquiry_targets::acknowledged_at.eq(now),
    ))
    .execute(c)
    .map(|n| n == 1)
}

/// Marks a target escalated (once); true if this call did it.
pub fn mark_escalated(
    c: &mut DbConnection,
    incident: &str,
    hospital: &str,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        inquiry_targets::table
            .filter(inquiry_targets::incident_id.eq(incident))
            .filter(inquiry_targets::hospital_id.eq(hospital))
            .filter(inquiry_targets::acknowledged_at.is_null())
            .filter(inquiry_targets::escalated_at.is_null()),
    )
    .set(inquiry_targets::escalated_at.eq(now))
    .execute(c)
    .map(|n| n == 1)
}

/// A hospital's incidents that concern it now (target pending, accepted or assigned; incident
/// not closed), newest first.
pub fn hospital_incidents(
    c: &mut DbConnection,
    muni: &str,
    hospital: &str,
) -> QueryResult<Vec<(IncidentRow, TargetRow)>> {
    incidents::table
        .inner_join(inquiry_targets::table)
        .filter(incidents::municipality_id.eq(muni))
        .filter(inquiry_targets::hospital_id.eq(hospital))
        .filter(inquiry_targets::status.eq_any([
            TargetStatus::Pending,
            TargetStatus::Accepted,
            TargetStatus::Assigned,
        ]))
        .filter(incidents::status.eq_any([IncidentStatus::Open, IncidentStatus::Accepted]))
        .order((incidents::created_at.desc(), incidents::id.asc()))
        .limit(200)
        .select((IncidentRow::as_select(), TargetRow::as_select()))
        .load(c)
}

// ---- feed ----------------------------------------------------------------------------------------

/// The next sequence number of a facility's feed. The head row's lock (held to commit) orders
/// concurrent writers, so events become visible in sequence order.
pub fn next_feed_seq(c: &mut DbConnection, muni: &str, facility: &str) -> QueryResult<i64> {
    // The head row exists from the facility's first event on; two first events at once must not
    // collide, hence ON CONFLICT DO NOTHING (typed per backend: the multi-backend has no upsert).
    let head = (
        feed_heads::facility_id.eq(facility),
        feed_heads::municipality_id.eq(muni),
        feed_heads::seq.eq(0i64),
    );
    match c {
        DbConnection::Pg(pg) => diesel::insert_into(feed_heads::table)
            .values(head)
            .on_conflict_do_nothing()
            .execute(pg)?,
        DbConnection::Sqlite(lite) => diesel::insert_into(feed_heads::table)
            .values(head)
            .on_conflict_do_nothing()
            .execute(lite)?,
    };
    diesel::update(feed_heads::table.filter(feed_heads::facility_id.eq(facility)))
        .set(feed_heads::seq.eq(feed_heads::seq + 1))
        .returning(feed_heads::seq)
        .get_result(c)
}

pub fn insert_feed(c: &mut DbConnection, row: &FeedRow) -> QueryResult<()> {
    diesel::insert_into(feed_events::table)
        .values(row)
        .execute(c)
        .map(drop)
}

/// A facility's events after `after`, oldest first.
pub fn feed_since(
    c: &mut DbConnection,
    facility: &str,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<FeedRow>> {
    feed_events::table
        .filter(feed_events::facility_id.eq(facility))
        .filter(feed_events::seq.gt(after))
        .order(feed_events::seq.asc())
        .limit(limit)
        .select(FeedRow::as_select())
        .load(c)
}

/// The facility's current head (0 if it has no events).
pub fn feed_head(c: &mut DbConnection, facility: &str) -> QueryResult<i64> {
    feed_heads::table
        .filter(feed_heads::facility_id.eq(facility))
        .select(feed_heads::seq)
        .get_result(c)
        .optional()
        .map(|s| s.unwrap_or(0))
}

/// PostgreSQL: `pg_notify(channel, payload)` in the current transaction (delivered to every
/// listener when it commits). SQLite: nothing (one process; the caller wakes its own streams).
pub fn notify(c: &mut DbConnection, channel: &str, payload: &str) -> QueryResult<()> {
    if let DbConnection::Pg(pg) = c {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(channel)
            .bind::<diesel::sql_types::Text, _>(payload)
            .execute(pg)?;
    }
    Ok(())
}
