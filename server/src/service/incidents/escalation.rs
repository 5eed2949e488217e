//! Escalation of alerts a hospital left unacknowledged too long.

use super::{Outbox, age_band_of, facility, feed_data, push_payload, resident_of};
use crate::audit::{self, Action, Event, Outcome};
use crate::db::incidents::{self as q, TargetRow};
use crate::db::{Db, Tx};
use crate::domain::{Purpose, TargetStatus};
use crate::feed::Wakers;
use crate::service::error::DomainError;
use serde_json::json;

// ---- escalation ------------------------------------------------------------------------------------

/// Escalates every alert asked at least `after_secs` ago and still unacknowledged: marks it,
/// pushes again, and tells the hospital's and the crew's feeds (the crew's event carries the
/// hospital's phone number). Safe to run on several instances at once: marking is conditional.
pub fn escalate_due(
    db: &Db,
    muni: &str,
    after_secs: i64,
    now: i64,
    wake: &Wakers,
) -> Result<(), DomainError> {
    db.write(|c| {
        let due = q::unacknowledged_due(c, now - after_secs, 100)?;
        let mut out = Outbox::default();
        for t in due {
            if t.municipality_id == muni {
                escalate_target(c, muni, &t, now, &mut out)?;
            }
        }
        out.finish(c, muni, now, Some(wake))
    })
}

/// Escalates one alert at once, if its hospital has not acknowledged it yet (the push worker calls
/// this when an alert's push expired undelivered).
pub fn escalate_now(
    db: &Db,
    muni: &str,
    incident: &str,
    hospital: &str,
    now: i64,
    wake: &Wakers,
) -> Result<(), DomainError> {
    db.write(|c| {
        let mut out = Outbox::default();
        let target = q::target(c, incident, hospital)?;
        if let Some(t) = target.filter(|t| {
            t.acknowledged_at.is_none()
                && t.escalated_at.is_none()
                && matches!(
                    t.status,
                    TargetStatus::Pending | TargetStatus::Accepted | TargetStatus::Assigned
                )
        }) {
            escalate_target(c, muni, &t, now, &mut out)?;
        }
        out.finish(c, muni, now, Some(wake))
    })
}

/// Marks one target escalated (if nobody did) and queues its feed events, push and audit record.
fn escalate_target(
    c: &mut Tx<'_>,
    muni: &str,
    t: &TargetRow,
    now: i64,
    out: &mut Outbox,
) -> Result<(), DomainError> {
    if !q::mark_escalated(c, &t.incident_id, &t.hospital_id, now)? {
        return Ok(());
    }
    let Some(inc) = q::incident(c, muni, &t.incident_id)? else {
        return Ok(());
    };
    let hospital = facility(c, muni, &t.hospital_id)?;
    let band = age_band_of(c, &inc)?;
    let mut data = feed_data(&inc, Some(&t.hospital_id), Some(t.status));
    data["phone"] = json!(hospital.phone);
    data["escalation"] = json!(1);
    out.feed
        .push(&t.hospital_id, &inc.id, "escalated", data.clone());
    out.feed.push(&inc.facility_id, &inc.id, "escalated", data);
    let mut payload = push_payload(&inc, "escalated", &band);
    payload["escalation"] = json!(1);
    out.push(&t.hospital_id, &inc.id, payload, "high");
    let mut e = Event::new(Action::Escalate, Outcome::Ok)
        .purpose(Purpose::Escalation)
        .detail(format!("incident {} hospital {}", inc.id, t.hospital_id));
    e.facility_id = Some(t.hospital_id.clone());
    e.resident_id = resident_of(&inc);
    audit::append(c, muni, &e, now);
    Ok(())
}
