//! The escalation chain (DESIGN §4, issue 24): alerts a hospital left unacknowledged too long are
//! repeated, reaching more people at each level; acknowledged but unanswered inquiries are
//! re-alerted.

use super::{Outbox, age_band_of, facility, feed_data, push_payload, resident_of};
use crate::audit::{self, Action, Event, Outcome};
use crate::db::escalation as qe;
use crate::db::incidents::{self as q, TargetRow};
use crate::db::{Db, Tx};
use crate::domain::{Purpose, TargetStatus};
use crate::feed::Wakers;
use crate::service::error::DomainError;
use serde_json::json;

// ---- escalation ------------------------------------------------------------------------------------

/// Default interval of repeated escalations and re-alerts (`--escalation-repeat-secs`).
pub const ESCALATION_REPEAT_SECS: i64 = 180;
/// Default wait before an acknowledged, unanswered inquiry is re-alerted (`--realert-after-secs`).
pub const REALERT_AFTER_SECS: i64 = 300;

/// When the chain acts (seconds on the injected clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscalationPolicy {
    /// An alert not acknowledged this long after it was asked escalates (level 1).
    pub after_secs: i64,
    /// … and escalates again every this many seconds until acknowledged (level 2, 3, …); an
    /// acknowledged but unanswered inquiry is re-alerted at the same interval.
    pub repeat_secs: i64,
    /// An acknowledged inquiry still unanswered this long after the acknowledgement is re-alerted.
    pub realert_after_secs: i64,
}

/// The steps due for a target at `now`: `(level, realerts)` — the unacknowledged level (`-1`:
/// acknowledged, no more levels) and the number of re-alerts of an acknowledged, unanswered
/// inquiry.
pub fn due_steps(t: &TargetRow, p: &EscalationPolicy, now: i64) -> (i32, i32) {
    let count = |since: i64| -> i32 {
        if now < since {
            0
        } else {
            i32::try_from(1 + (now - since) / p.repeat_secs.max(1)).unwrap_or(i32::MAX)
        }
    };
    match t.acknowledged_at {
        None => (count(t.asked_at + p.after_secs), 0),
        Some(ack) if t.status == TargetStatus::Pending && t.answered_at.is_none() => {
            (-1, count(ack + p.realert_after_secs))
        }
        Some(_) => (-1, 0),
    }
}

/// Who an unacknowledged alert at `level` reaches: tier 1 (the hospital's first-call ED devices)
/// from level 1, tier 2 (its backup ED staff) from level 2, tier 3 (its facility manager) from
/// level 3.
pub fn tier_of(level: i32) -> i32 {
    level.clamp(1, 3)
}

/// What a step of the chain is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// The alert is still unacknowledged.
    Unacknowledged,
    /// The inquiry was acknowledged but is still unanswered.
    Unanswered,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Unacknowledged => "unacknowledged",
            StepKind::Unanswered => "unanswered",
        }
    }
}

/// One step the chain took (for the metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub kind: StepKind,
    /// The `escalation` the step's re-alert carries.
    pub level: i32,
    /// The highest tier of devices it went to.
    pub tier: i32,
}

/// Runs the escalation chain: every alert not acknowledged `after_secs` after it was asked
/// escalates — its ED devices are pushed again (`escalation` = the level, tiers 1 to
/// [`tier_of`] the level), the hospital's and the crew's feeds get `escalated` (with the level,
/// the tier and the hospital's phone) — and again every `repeat_secs` until acknowledged; an
/// acknowledged inquiry still unanswered `realert_after_secs` later is re-alerted (step
/// `unanswered`, tier 1), again every `repeat_secs` until answered. Each step is taken once,
/// however many passes run at once (the bump is conditional on the state read). A pass that
/// finds several steps due (the server was down) takes the last one only. Returns the steps
/// taken.
pub fn escalate_due(
    db: &Db,
    muni: &str,
    policy: &EscalationPolicy,
    now: i64,
    wake: &Wakers,
) -> Result<Vec<Step>, DomainError> {
    db.write(|c| {
        crate::db::yield_locks(c)?;
        let mut out = Outbox::default();
        let mut taken = Vec::new();
        for t in qe::open_targets(c, muni, 500)? {
            let (due_level, due_realerts) = due_steps(&t, policy, now);
            let was = qe::steps(c, &t)?;
            let to = (was.0.max(due_level), was.1.max(due_realerts));
            if to == was || !qe::advance(c, &t, was, to, now)? {
                continue;
            }
            let step = if to.1 > was.1 {
                Step {
                    kind: StepKind::Unanswered,
                    level: to.0 + to.1,
                    tier: 1,
                }
            } else {
                Step {
                    kind: StepKind::Unacknowledged,
                    level: to.0,
                    tier: tier_of(to.0),
                }
            };
            if step.kind == StepKind::Unacknowledged {
                q::mark_escalated(c, &t.incident_id, &t.hospital_id, now)?;
            }
            escalate_target(c, muni, &t, step, now, &mut out)?;
            taken.push(step);
        }
        out.finish(c, muni, now, Some(wake))?;
        crate::db::stop_yielding(c)?;
        Ok(taken)
    })
}

/// Escalates one alert one level at once, if its hospital has not acknowledged it yet (the push
/// worker calls this when an alert's push expired undelivered). Returns the step taken.
pub fn escalate_now(
    db: &Db,
    muni: &str,
    incident: &str,
    hospital: &str,
    now: i64,
    wake: &Wakers,
) -> Result<Option<Step>, DomainError> {
    db.write(|c| {
        crate::db::yield_locks(c)?;
        let mut out = Outbox::default();
        let mut taken = None;
        let target = q::target(c, incident, hospital)?;
        if let Some(t) = target.filter(|t| {
            t.acknowledged_at.is_none()
                && matches!(
                    t.status,
                    TargetStatus::Pending | TargetStatus::Accepted | TargetStatus::Assigned
                )
        }) {
            let was = qe::steps(c, &t)?;
            let to = (was.0 + 1, was.1);
            if qe::advance(c, &t, was, to, now)? {
                q::mark_escalated(c, &t.incident_id, &t.hospital_id, now)?;
                let step = Step {
                    kind: StepKind::Unacknowledged,
                    level: to.0,
                    tier: tier_of(to.0),
                };
                escalate_target(c, muni, &t, step, now, &mut out)?;
                taken = Some(step);
            }
        }
        out.finish(c, muni, now, Some(wake))?;
        crate::db::stop_yielding(c)?;
        Ok(taken)
    })
}

/// Queues one step's feed events (`escalated`, to the hospital and the crew, with the step, the
/// level, the tier and the hospital's phone), the re-alert push (`escalation` = the level, to the
/// step's tiers) and the audit record.
fn escalate_target(
    c: &mut Tx<'_>,
    muni: &str,
    t: &TargetRow,
    step: Step,
    now: i64,
    out: &mut Outbox,
) -> Result<(), DomainError> {
    let Some(inc) = q::incident(c, muni, &t.incident_id)? else {
        return Ok(());
    };
    let hospital = facility(c, muni, &t.hospital_id)?;
    let band = age_band_of(c, &inc)?;
    let mut data = feed_data(&inc, Some(&t.hospital_id), Some(t.status));
    data["phone"] = json!(hospital.phone);
    data["escalation"] = json!(step.level);
    data["tier"] = json!(step.tier);
    data["step"] = json!(step.kind.as_str());
    out.feed
        .push(&t.hospital_id, &inc.id, "escalated", data.clone());
    out.feed.push(&inc.facility_id, &inc.id, "escalated", data);
    let mut payload = push_payload(&inc, "escalated", &band);
    payload["escalation"] = json!(step.level);
    out.push_tiers(&t.hospital_id, &inc.id, payload, "high", step.tier);
    let mut e = Event::new(Action::Escalate, Outcome::Ok)
        .purpose(Purpose::Escalation)
        .detail(format!(
            "incident {} hospital {} {} level {} tier {}",
            inc.id,
            t.hospital_id,
            step.kind.as_str(),
            step.level,
            step.tier
        ));
    e.facility_id = Some(t.hospital_id.clone());
    e.resident_id = resident_of(&inc);
    audit::append(c, muni, &e, now);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: EscalationPolicy = EscalationPolicy {
        after_secs: 180,
        repeat_secs: 120,
        realert_after_secs: 240,
    };

    fn target(ack: Option<i64>, status: TargetStatus, answered: Option<i64>) -> TargetRow {
        TargetRow {
            incident_id: "i".into(),
            hospital_id: "h".into(),
            municipality_id: "m".into(),
            status,
            reason: None,
            reason_code: None,
            asked_at: 1000,
            answered_by: None,
            answered_at: answered,
            acknowledged_by: None,
            acknowledged_at: ack,
            escalated_at: None,
        }
    }

    #[test]
    fn unacknowledged_levels_climb_every_repeat() {
        let t = target(None, TargetStatus::Pending, None);
        let at = |s: i64| due_steps(&t, &P, 1000 + s).0;
        assert_eq!(
            [at(0), at(179), at(180), at(299), at(300), at(420), at(3000)],
            [0, 0, 1, 1, 2, 3, 24]
        );
        assert_eq!(
            [tier_of(1), tier_of(2), tier_of(3), tier_of(24)],
            [1, 2, 3, 3]
        );
    }

    #[test]
    fn acknowledged_unanswered_inquiries_are_realerted_answered_ones_not() {
        let t = target(Some(1100), TargetStatus::Pending, None);
        let at = |s: i64| due_steps(&t, &P, s);
        assert_eq!([at(1339), at(1340), at(1460)], [(-1, 0), (-1, 1), (-1, 2)]);
        let answered = target(Some(1100), TargetStatus::Accepted, Some(1100));
        assert_eq!(due_steps(&answered, &P, 9999), (-1, 0));
    }
}
