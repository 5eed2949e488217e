//! Governance (RULES R1, R6, R15, R17, `service::governance`): facility applications and change or
//! withdrawal requests, their notifications, facility contacts, the public directory, and notices.
//!
//! Same rules as the other query modules: each query takes a connection and returns `QueryResult`,
//! "not found" is `Ok(None)` only where asked for with `optional()`, lookups by a unique key use
//! `get_result` (not `first`), and every query that reads or writes resident data is scoped by
//! municipality.

use super::DbConnection;
use super::facilities::FacilityRow;
use super::schema::*;
use crate::domain::{
    ApplicationStatus, Decision, FacilityKind, FacilityStatus, NoticeKind, NoticeStatus,
    RequestType,
};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = facility_contacts)]
pub struct FacilityContactRow {
    pub facility_id: String,
    pub municipality_id: String,
    pub contact_email: String,
    pub manager_name: String,
    pub manager_phone: String,
    pub updated_at: i64,
}

/// An application to join, or a facility's change or withdrawal request (`request_type`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = facility_applications)]
pub struct FacilityApplicationRow {
    pub id: String,
    pub municipality_id: String,
    pub request_type: RequestType,
    pub status: ApplicationStatus,
    pub facility_id: Option<String>,
    pub kind: Option<FacilityKind>,
    pub name_ja: Option<String>,
    pub name_en: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub contact_email: Option<String>,
    pub manager_name: Option<String>,
    pub manager_phone: Option<String>,
    pub listed: Option<bool>,
    pub note: Option<String>,
    pub status_token_hash: String,
    pub submitted_by: Option<String>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = application_notifications)]
pub struct ApplicationNotificationRow {
    pub id: String,
    pub municipality_id: String,
    pub application_id: String,
    pub status: Decision,
    pub reason: Option<String>,
    pub facility_id: Option<String>,
    pub recipient_email: Option<String>,
    pub created_at: i64,
    pub email_sent_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = notices)]
pub struct NoticeRow {
    pub id: String,
    pub municipality_id: String,
    pub kind: NoticeKind,
    pub title_ja: String,
    pub title_en: String,
    pub body_ja: String,
    pub body_en: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub termination: bool,
    pub status: NoticeStatus,
    pub created_by: String,
    pub created_at: i64,
    pub withdrawn_by: Option<String>,
    pub withdrawn_at: Option<i64>,
}

/// The fields an approved change request sets on a facility (`None` = unchanged).
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = facilities)]
pub struct FacilityChanges {
    pub kind: Option<FacilityKind>,
    pub name_ja: Option<String>,
    pub name_en: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub listed: Option<bool>,
}

impl FacilityChanges {
    pub fn is_empty(&self) -> bool {
        self.kind.is_none()
            && self.name_ja.is_none()
            && self.name_en.is_none()
            && self.address.is_none()
            && self.phone.is_none()
            && self.listed.is_none()
    }
}

pub fn insert_facility_application(
    conn: &mut DbConnection,
    row: &FacilityApplicationRow,
) -> QueryResult<usize> {
    diesel::insert_into(facility_applications::table)
        .values(row)
        .execute(conn)
}

pub fn facility_application(
    conn: &mut DbConnection,
    muni: &str,
    id: &str,
) -> QueryResult<Option<FacilityApplicationRow>> {
    facility_applications::table
        .filter(facility_applications::municipality_id.eq(muni))
        .filter(facility_applications::id.eq(id))
        .select(FacilityApplicationRow::as_select())
        .get_result(conn)
        .optional()
}

/// Pending requests, oldest first (the city's queue).
pub fn pending_facility_applications(
    conn: &mut DbConnection,
    muni: &str,
    limit: i64,
) -> QueryResult<Vec<FacilityApplicationRow>> {
    facility_applications::table
        .filter(facility_applications::municipality_id.eq(muni))
        .filter(facility_applications::status.eq(ApplicationStatus::Pending))
        .order((
            facility_applications::created_at.asc(),
            facility_applications::id.asc(),
        ))
        .limit(limit)
        .select(FacilityApplicationRow::as_select())
        .load(conn)
}

/// Decided requests, most recently decided first.
pub fn decided_facility_applications(
    conn: &mut DbConnection,
    muni: &str,
    limit: i64,
) -> QueryResult<Vec<FacilityApplicationRow>> {
    facility_applications::table
        .filter(facility_applications::municipality_id.eq(muni))
        .filter(facility_applications::status.ne(ApplicationStatus::Pending))
        .order((
            facility_applications::decided_at.desc(),
            facility_applications::id.asc(),
        ))
        .limit(limit)
        .select(FacilityApplicationRow::as_select())
        .load(conn)
}

pub fn count_pending_facility_applications(
    conn: &mut DbConnection,
    muni: &str,
) -> QueryResult<i64> {
    facility_applications::table
        .filter(facility_applications::municipality_id.eq(muni))
        .filter(facility_applications::status.eq(ApplicationStatus::Pending))
        .count()
        .get_result(conn)
}

/// Pending change or withdrawal requests of one facility.
pub fn count_pending_requests_of_facility(
    conn: &mut DbConnection,
    facility_id: &str,
) -> QueryResult<i64> {
    facility_applications::table
        .filter(facility_applications::facility_id.eq(facility_id))
        .filter(facility_applications::status.eq(ApplicationStatus::Pending))
        .count()
        .get_result(conn)
}

/// Records the decision, only if the request is still pending (a concurrent second decision
/// updates nothing). Returns rows updated.
pub fn decide_facility_application(
    conn: &mut DbConnection,
    id: &str,
    status: Decision,
    by: &str,
    reason: Option<&str>,
    facility_id: Option<&str>,
    now: i64,
) -> QueryResult<usize> {
    let target = facility_applications::table
        .filter(facility_applications::id.eq(id))
        .filter(facility_applications::status.eq(ApplicationStatus::Pending));
    match facility_id {
        Some(f) => diesel::update(target)
            .set((
                facility_applications::status.eq(status),
                facility_applications::decided_by.eq(by),
                facility_applications::decided_at.eq(now),
                facility_applications::reason.eq(reason),
                facility_applications::facility_id.eq(f),
            ))
            .execute(conn),
        None => diesel::update(target)
            .set((
                facility_applications::status.eq(status),
                facility_applications::decided_by.eq(by),
                facility_applications::decided_at.eq(now),
                facility_applications::reason.eq(reason),
            ))
            .execute(conn),
    }
}

pub fn insert_application_notification(
    conn: &mut DbConnection,
    row: &ApplicationNotificationRow,
) -> QueryResult<usize> {
    diesel::insert_into(application_notifications::table)
        .values(row)
        .execute(conn)
}

pub fn application_notification(
    conn: &mut DbConnection,
    application_id: &str,
) -> QueryResult<Option<ApplicationNotificationRow>> {
    application_notifications::table
        .filter(application_notifications::application_id.eq(application_id))
        .select(ApplicationNotificationRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn facility_contact(
    conn: &mut DbConnection,
    facility_id: &str,
) -> QueryResult<Option<FacilityContactRow>> {
    facility_contacts::table
        .filter(facility_contacts::facility_id.eq(facility_id))
        .select(FacilityContactRow::as_select())
        .get_result(conn)
        .optional()
}

/// Inserts or replaces a facility's contacts and system manager.
pub fn put_facility_contact(
    conn: &mut DbConnection,
    row: &FacilityContactRow,
) -> QueryResult<usize> {
    let updated = diesel::update(
        facility_contacts::table.filter(facility_contacts::facility_id.eq(&row.facility_id)),
    )
    .set((
        facility_contacts::contact_email.eq(&row.contact_email),
        facility_contacts::manager_name.eq(&row.manager_name),
        facility_contacts::manager_phone.eq(&row.manager_phone),
        facility_contacts::updated_at.eq(row.updated_at),
    ))
    .execute(conn)?;
    if updated > 0 {
        return Ok(updated);
    }
    diesel::insert_into(facility_contacts::table)
        .values(row)
        .execute(conn)
}

/// Applies an approved change (the caller skips an empty one).
pub fn update_facility(
    conn: &mut DbConnection,
    id: &str,
    changes: &FacilityChanges,
) -> QueryResult<usize> {
    diesel::update(facilities::table.filter(facilities::id.eq(id)))
        .set(changes)
        .execute(conn)
}

/// Withdrawal: the facility leaves the network and the directory.
pub fn withdraw_facility(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::update(facilities::table.filter(facilities::id.eq(id)))
        .set((
            facilities::status.eq(FacilityStatus::Withdrawn),
            facilities::listed.eq(false),
        ))
        .execute(conn)
}

/// Ends the facility's unused enrollment codes now.
pub fn expire_enrollment_codes_of_facility(
    conn: &mut DbConnection,
    facility_id: &str,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(
        enrollment_codes::table
            .filter(enrollment_codes::facility_id.eq(facility_id))
            .filter(enrollment_codes::used_at.is_null())
            .filter(enrollment_codes::expires_at.gt(now)),
    )
    .set(enrollment_codes::expires_at.eq(now))
    .execute(conn)
}

/// The public directory: listed, active facilities, by kind and name.
pub fn directory(conn: &mut DbConnection, muni: &str) -> QueryResult<Vec<FacilityRow>> {
    facilities::table
        .filter(facilities::municipality_id.eq(muni))
        .filter(facilities::listed.eq(true))
        .filter(facilities::status.eq(FacilityStatus::Active))
        .order((facilities::kind, facilities::name_ja, facilities::id))
        .select(FacilityRow::as_select())
        .load(conn)
}

pub fn insert_notice(conn: &mut DbConnection, row: &NoticeRow) -> QueryResult<usize> {
    diesel::insert_into(notices::table)
        .values(row)
        .execute(conn)
}

pub fn notice(conn: &mut DbConnection, muni: &str, id: &str) -> QueryResult<Option<NoticeRow>> {
    notices::table
        .filter(notices::municipality_id.eq(muni))
        .filter(notices::id.eq(id))
        .select(NoticeRow::as_select())
        .get_result(conn)
        .optional()
}

/// Published notices, newest first.
pub fn published_notices(
    conn: &mut DbConnection,
    muni: &str,
    limit: i64,
) -> QueryResult<Vec<NoticeRow>> {
    notices::table
        .filter(notices::municipality_id.eq(muni))
        .filter(notices::status.eq(NoticeStatus::Published))
        .order((notices::created_at.desc(), notices::id.asc()))
        .limit(limit)
        .select(NoticeRow::as_select())
        .load(conn)
}

/// Withdraws a published notice; returns rows updated (0 if it was not published).
pub fn withdraw_notice(
    conn: &mut DbConnection,
    id: &str,
    by: &str,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(
        notices::table
            .filter(notices::id.eq(id))
            .filter(notices::status.eq(NoticeStatus::Published)),
    )
    .set((
        notices::status.eq(NoticeStatus::Withdrawn),
        notices::withdrawn_by.eq(by),
        notices::withdrawn_at.eq(now),
    ))
    .execute(conn)
}

/// Locks a pending application's row for the rest of the transaction (a no-op update; on
/// PostgreSQL it takes the row lock). Returns 0 if it is no longer pending. Deciding takes this lock
/// first, before the audit head, so concurrent decisions queue instead of deadlocking.
pub fn lock_pending_application(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::update(
        facility_applications::table
            .filter(facility_applications::id.eq(id))
            .filter(facility_applications::status.eq(ApplicationStatus::Pending)),
    )
    .set(facility_applications::status.eq(ApplicationStatus::Pending))
    .execute(conn)
}
