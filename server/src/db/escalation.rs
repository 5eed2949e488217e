//! The escalation chain's state (`target_escalations`): how far each asked hospital's alert has
//! escalated, one row per (incident, hospital, asked_at). Bumps are conditional on the level read,
//! so instances checking at the same time escalate each step once.

use super::DbConnection;
use super::incidents::TargetRow;
use super::schema::{incidents, inquiry_targets, target_escalations};
use crate::domain::{IncidentStatus, TargetStatus};
use diesel::prelude::*;

/// Targets the chain may act on, oldest first: the hospital still concerned (pending, accepted or
/// assigned) by an open or accepted incident of `muni`, and either not acknowledged yet or
/// acknowledged but still pending an answer.
pub fn open_targets(c: &mut DbConnection, muni: &str, limit: i64) -> QueryResult<Vec<TargetRow>> {
    inquiry_targets::table
        .inner_join(incidents::table)
        .filter(inquiry_targets::municipality_id.eq(muni))
        .filter(inquiry_targets::status.eq_any([
            TargetStatus::Pending,
            TargetStatus::Accepted,
            TargetStatus::Assigned,
        ]))
        .filter(
            inquiry_targets::acknowledged_at
                .is_null()
                .or(inquiry_targets::status
                    .eq(TargetStatus::Pending)
                    .and(inquiry_targets::answered_at.is_null())),
        )
        .filter(incidents::status.eq_any([IncidentStatus::Open, IncidentStatus::Accepted]))
        .order(inquiry_targets::asked_at.asc())
        .limit(limit)
        .select(TargetRow::as_select())
        .load(c)
}

/// `(level, realerts)` of a target as asked at `asked_at` (`(0, 0)`: never escalated).
pub fn steps(c: &mut DbConnection, t: &TargetRow) -> QueryResult<(i32, i32)> {
    Ok(target_escalations::table
        .filter(target_escalations::incident_id.eq(&t.incident_id))
        .filter(target_escalations::hospital_id.eq(&t.hospital_id))
        .filter(target_escalations::asked_at.eq(t.asked_at))
        .select((target_escalations::level, target_escalations::realerts))
        .get_result::<(i32, i32)>(c)
        .optional()?
        .unwrap_or((0, 0)))
}

/// Moves a target from `from` to `to` (`(level, realerts)`); false if another instance moved it
/// first.
pub fn advance(
    c: &mut DbConnection,
    t: &TargetRow,
    from: (i32, i32),
    to: (i32, i32),
    now: i64,
) -> QueryResult<bool> {
    if from == (0, 0) {
        let insert = diesel::insert_into(target_escalations::table).values((
            target_escalations::incident_id.eq(&t.incident_id),
            target_escalations::hospital_id.eq(&t.hospital_id),
            target_escalations::asked_at.eq(t.asked_at),
            target_escalations::level.eq(to.0),
            target_escalations::realerts.eq(to.1),
            target_escalations::updated_at.eq(now),
        ));
        // `ON CONFLICT DO NOTHING` is spelled per backend (the multi-backend connection has no
        // upsert).
        let n = match c {
            DbConnection::Pg(pg) => insert.on_conflict_do_nothing().execute(pg)?,
            DbConnection::Sqlite(lite) => insert.on_conflict_do_nothing().execute(lite)?,
        };
        return Ok(n == 1);
    }
    diesel::update(
        target_escalations::table
            .filter(target_escalations::incident_id.eq(&t.incident_id))
            .filter(target_escalations::hospital_id.eq(&t.hospital_id))
            .filter(target_escalations::asked_at.eq(t.asked_at))
            .filter(target_escalations::level.eq(from.0))
            .filter(target_escalations::realerts.eq(from.1)),
    )
    .set((
        target_escalations::level.eq(to.0),
        target_escalations::realerts.eq(to.1),
        target_escalations::updated_at.eq(now),
    ))
    .execute(c)
    .map(|n| n == 1)
}
