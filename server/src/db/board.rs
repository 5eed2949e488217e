//! The ED board's read-only lists beyond the open inquiries (`service::board`): the inquiries
//! another hospital took, and this hospital's arrivals. Same rules as the other query modules.

use super::DbConnection;
use super::incidents::{IncidentRow, TargetRow};
use super::schema::*;
use crate::domain::{IncidentStatus, TargetStatus};
use diesel::prelude::*;

/// This hospital's inquiries that another hospital accepted (its target `superseded`), of
/// incidents opened since `since`, newest first.
pub fn taken_elsewhere(
    c: &mut DbConnection,
    muni: &str,
    hospital: &str,
    since: i64,
) -> QueryResult<Vec<(IncidentRow, TargetRow)>> {
    incidents::table
        .inner_join(inquiry_targets::table)
        .filter(incidents::municipality_id.eq(muni))
        .filter(inquiry_targets::hospital_id.eq(hospital))
        .filter(inquiry_targets::status.eq(TargetStatus::Superseded))
        .filter(incidents::created_at.gt(since))
        .order((incidents::created_at.desc(), incidents::id.asc()))
        .limit(100)
        .select((IncidentRow::as_select(), TargetRow::as_select()))
        .load(c)
}

/// The incidents that arrived at this hospital after `since`, latest arrival first.
pub fn arrivals(
    c: &mut DbConnection,
    muni: &str,
    hospital: &str,
    since: i64,
) -> QueryResult<Vec<IncidentRow>> {
    incidents::table
        .filter(incidents::municipality_id.eq(muni))
        .filter(incidents::destination_id.eq(hospital))
        .filter(incidents::status.eq(IncidentStatus::Arrived))
        .filter(incidents::closed_at.gt(since))
        .order((incidents::closed_at.desc(), incidents::id.asc()))
        .limit(200)
        .select(IncidentRow::as_select())
        .load(c)
}
