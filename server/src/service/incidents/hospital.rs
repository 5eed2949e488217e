//! The hospital's (the ED's) side of an incident: the incoming board, reading, acknowledging,
//! answering the acceptance inquiry and reading attachments.

use super::{
    AnswerInput, Attachment, FacilityRef, IncidentView, IncomingView, Outbox, Reader, age_band_of,
    facility, feed_data, incident_event, inquiry_summary, latest_report, patient_of, push_payload,
    reload, report_versions, require_ed, resident_of, target_view, view,
};
use crate::audit::{self, Action, Outcome};

use crate::db::Db;
use crate::db::incidents::{self as q, IncidentRow, TargetRow};
use crate::domain::{DeclineReason, IncidentStatus, Purpose, TargetStatus};
use crate::feed::Wakers;
use crate::service::access::Refusal;
use crate::service::accounts::Actor;
use crate::service::check_id;
use crate::service::deny;
use crate::service::error::DomainError;
use crate::service::report;
use serde_json::json;

// ---- the hospital's side ---------------------------------------------------------------------------

/// An ED request: the hospital's involvement in the incident, or 404 (never seen) / 403 (no
/// longer involved); refusals audited.
fn ed_tx<T: Send>(
    db: &Db,
    actor: &Actor,
    action: Action,
    incident_id: &str,
    now: i64,
    wake: Option<&Wakers>,
    f: impl FnOnce(&mut crate::db::Tx<'_>, IncidentRow, TargetRow, &mut Outbox) -> Result<T, Refusal>
    + Send,
) -> Result<T, DomainError> {
    let muni = actor.municipality_id.as_str();
    let base = || {
        actor
            .event(action, Outcome::Denied)
            .purpose(Purpose::Incident)
            .detail(format!("incident {incident_id}"))
    };
    let hospital = match require_ed(actor) {
        Ok(h) => h,
        Err(err) => return Err(deny(db, muni, base(), err, now)),
    };
    check_id(incident_id)?;
    let outcome = db.write(|c| {
        let not_found = || DomainError::not_found("no such incident");
        let inc = q::incident(c, muni, incident_id)?.ok_or_else(not_found)?;
        let target = q::target(c, &inc.id, &hospital)?.ok_or_else(not_found)?;
        let mut out = Outbox::default();
        let v = f(c, inc, target, &mut out)?;
        out.finish(c, muni, now, wake)?;
        Ok::<_, Refusal>(v)
    });
    outcome.map_err(|r| r.audited(db, muni, base(), now))
}

/// Who an ED request on `incident_id` acts as. An incident belongs to its crew's municipality;
/// one of another municipality that the hospital has joined (issue 22) is handled as that
/// municipality's: its chain audits the read (the resident's history there names the hospital)
/// and its feed and push carry the answers. A suspended membership still reaches the incidents
/// already addressed to the hospital (in flight until closed): no new ones can be, as crews are
/// offered only hospitals with an active membership. Anything else: the actor as is (the
/// incident is then looked for in its own municipality only: 404).
fn ed_actor(db: &Db, actor: &Actor, incident_id: &str) -> Result<Actor, DomainError> {
    let Some(hospital) = actor.facility_id.as_deref() else {
        return Ok(actor.clone());
    };
    let found = db.read(|c| q::incident_municipality(c, incident_id).map_err(DomainError::from))?;
    let Some(muni) = found.filter(|m| *m != actor.municipality_id) else {
        return Ok(actor.clone());
    };
    let joined = db.read(|c| {
        crate::db::memberships::membership(c, &muni, hospital).map_err(DomainError::from)
    })?;
    Ok(match joined {
        Some(_) => Actor {
            municipality_id: muni,
            ..actor.clone()
        },
        None => actor.clone(),
    })
}

fn still_involved(inc: &IncidentRow, t: &TargetRow) -> Result<(), Refusal> {
    if matches!(
        t.status,
        TargetStatus::Pending | TargetStatus::Accepted | TargetStatus::Assigned
    ) {
        Ok(())
    } else {
        Err(Refusal(
            resident_of(inc),
            DomainError::forbidden_code(
                "not_involved",
                format!(
                    "this hospital is no longer involved in this incident ({})",
                    t.status
                ),
            ),
        ))
    }
}

/// The hospital's incoming list (no names), newest first.
pub fn incoming(db: &Db, actor: &Actor, now: i64) -> Result<Vec<IncomingView>, DomainError> {
    let own = actor.municipality_id.as_str();
    let hospital = require_ed(actor).map_err(|err| {
        deny(
            db,
            own,
            actor.event(Action::ListIncidents, Outcome::Denied),
            err,
            now,
        )
    })?;
    db.write(|c| {
        // Its own municipality's incidents, then those of every municipality it joined (issue
        // 22): only incidents addressed to it; each list read audited on that municipality's chain.
        let mut munis = vec![own.to_string()];
        munis.extend(crate::db::memberships::joined_by(c, &hospital)?);
        let mut out = Vec::new();
        for muni in &munis {
            let muni = muni.as_str();
            let rows = q::hospital_incidents(c, muni, &hospital)?;
            if muni != own && rows.is_empty() {
                continue;
            }
            let before = out.len();
            for (inc, t) in rows {
                let created = inc.created_at;
                out.push((created, incoming_view(c, muni, inc, &t, now)?));
            }
            audit::append(
                c,
                muni,
                &actor
                    .event(Action::ListIncidents, Outcome::Ok)
                    .purpose(Purpose::Incident)
                    .detail(format!("{} incidents", out.len() - before)),
                now,
            );
        }
        // Newest first across municipalities, as one query orders one.
        out.sort_by(|(a, va), (b, vb)| b.cmp(a).then(va.id.cmp(&vb.id)));
        Ok(out.into_iter().map(|(_, v)| v).collect())
    })
}

fn incoming_view(
    c: &mut crate::db::DbConnection,
    muni: &str,
    inc: IncidentRow,
    t: &TargetRow,
    now: i64,
) -> Result<IncomingView, DomainError> {
    let rep = latest_report(c, &inc)?;
    let patient = rep
        .as_ref()
        .map(|r| r.patient.clone())
        .or(patient_of(&inc)?);
    Ok(IncomingView {
        id: inc.id.clone(),
        status: inc.status.to_string(),
        fire_department: FacilityRef::from(&facility(c, muni, &inc.facility_id)?),
        version: inc.version,
        activation_code: inc
            .activation
            .as_deref()
            .and_then(report::nemsis_code)
            .map(str::to_string),
        activation: inc.activation.clone(),
        chief_complaint: rep.as_ref().map(|r| r.chief_complaint.clone()),
        age_band: patient
            .as_ref()
            .map_or_else(|| "unknown".into(), |p| p.age_band.clone()),
        sex: patient.and_then(|p| p.sex),
        eta_at: inc.eta_at,
        target: target_view(c, muni, t)?,
        inquiry: inquiry_summary(c, &inc, rep.as_ref(), now)?,
        updated_at: inc.updated_at,
    })
}

/// An involved hospital reads the incident (report, seeded dataset, attachments list).
pub fn ed_read(
    db: &Db,
    actor: &Actor,
    incident_id: &str,
    now: i64,
) -> Result<IncidentView, DomainError> {
    let actor = &ed_actor(db, actor, incident_id)?;
    ed_tx(
        db,
        actor,
        Action::ReadIncident,
        incident_id,
        now,
        None,
        |c, inc, t, _| {
            still_involved(&inc, &t)?;
            audit::append(
                c,
                &actor.municipality_id,
                &incident_event(actor, Action::ReadIncident, &inc),
                now,
            );
            Ok(view(c, actor, &inc, Reader::Hospital(&t.hospital_id), now)?)
        },
    )
}

/// Every report version, for a hospital still involved, oldest first.
pub fn ed_reports(
    db: &Db,
    actor: &Actor,
    incident_id: &str,
    now: i64,
) -> Result<Vec<report::Report>, DomainError> {
    let actor = &ed_actor(db, actor, incident_id)?;
    ed_tx(
        db,
        actor,
        Action::ReadIncident,
        incident_id,
        now,
        None,
        |c, inc, t, _| {
            still_involved(&inc, &t)?;
            audit::append(
                c,
                &actor.municipality_id,
                &incident_event(actor, Action::ReadIncident, &inc)
                    .detail(format!("incident {} report versions", inc.id)),
                now,
            );
            let mut versions = report_versions(c, &inc)?;
            if !matches!(t.status, TargetStatus::Accepted | TargetStatus::Assigned) {
                versions.iter_mut().for_each(super::redact_for_inquiry);
            }
            Ok(versions)
        },
    )
}

/// The ED has seen the alert (stops the escalation clock); the crew is told.
pub fn acknowledge(
    db: &Db,
    actor: &Actor,
    incident_id: &str,
    now: i64,
    wake: &Wakers,
) -> Result<IncidentView, DomainError> {
    let actor = &ed_actor(db, actor, incident_id)?;
    ed_tx(
        db,
        actor,
        Action::Acknowledge,
        incident_id,
        now,
        Some(wake),
        |c, inc, t, out| {
            still_involved(&inc, &t)?;
            if q::acknowledge_target(c, &inc.id, &t.hospital_id, &actor.account_id, now)? {
                let data = feed_data(&inc, Some(&t.hospital_id), Some(t.status));
                out.feed
                    .push(&inc.facility_id, &inc.id, "acknowledged", data.clone());
                out.feed.push(&t.hospital_id, &inc.id, "acknowledged", data);
                audit::append(
                    c,
                    &actor.municipality_id,
                    &incident_event(actor, Action::Acknowledge, &inc),
                    now,
                );
            }
            Ok(view(c, actor, &inc, Reader::Hospital(&t.hospital_id), now)?)
        },
    )
}

/// Accept or decline. The first acceptance wins (a conditional update of the incident row);
/// later ones get `409 already_accepted`, and the other asked hospitals are told.
pub fn answer(
    db: &Db,
    actor: &Actor,
    incident_id: &str,
    input: &AnswerInput,
    now: i64,
    wake: &Wakers,
) -> Result<IncidentView, DomainError> {
    let actor = &ed_actor(db, actor, incident_id)?;
    let accept = match input.decision.as_str() {
        "accept" => true,
        "decline" => false,
        _ => {
            return Err(DomainError::unprocessable(
                "invalid_field",
                "decision: accept or decline",
            ));
        }
    };
    let reason = super::opt_text("reason", &input.reason, 200)?;
    let code = match input.reason_code.as_deref().map(str::trim) {
        None => None,
        Some(c) => Some(c.parse::<DeclineReason>().map_err(|_| {
            DomainError::unprocessable(
                "invalid_reason_code",
                format!(
                    "reason_code: one of {} / 辞退理由のコードが不正です",
                    DeclineReason::TEXTS.join(", ")
                ),
            )
        })?),
    };
    let code = match (accept, code) {
        (true, Some(_)) => {
            return Err(DomainError::unprocessable(
                "invalid_reason_code",
                "reason_code: only a decline has a reason code",
            ));
        }
        (true, None) => None,
        (false, None) if reason.is_none() => {
            return Err(DomainError::unprocessable(
                "invalid_field",
                format!(
                    "reason_code: say why you decline ({}) / 辞退理由を選んでください",
                    DeclineReason::TEXTS.join(", ")
                ),
            ));
        }
        (false, None | Some(DeclineReason::Other)) => {
            if reason.is_none() {
                return Err(DomainError::unprocessable(
                    "invalid_field",
                    "reason: `other` needs the reason in words (1–200 characters) / その他の理由を入力してください",
                ));
            }
            Some(DeclineReason::Other)
        }
        (false, Some(c)) => Some(c),
    };
    ed_tx(
        db,
        actor,
        Action::AnswerInquiry,
        incident_id,
        now,
        Some(wake),
        |c, inc, t, out| {
            let resident = resident_of(&inc);
            let refuse = |e: DomainError| Refusal(resident.clone(), e);
            let hospital = t.hospital_id.clone();
            if t.status != TargetStatus::Pending {
                let err = match t.status {
                    TargetStatus::Superseded => DomainError::conflict(
                        "already_accepted",
                        "another hospital has already accepted this patient",
                    ),
                    TargetStatus::Accepted | TargetStatus::Declined => DomainError::conflict(
                        "already_answered",
                        format!("this hospital has already answered ({})", t.status),
                    ),
                    _ => DomainError::conflict(
                        "not_pending",
                        format!("this inquiry is no longer open ({})", t.status),
                    ),
                };
                return Err(refuse(err));
            }
            if accept {
                if !q::accept_incident(c, &inc.id, &hospital, now)? {
                    // Someone else moved the incident first; say what it is now.
                    let status = q::incident(c, &inc.municipality_id, &inc.id)?.map(|i| i.status);
                    return Err(refuse(if status == Some(IncidentStatus::Accepted) {
                        DomainError::conflict(
                            "already_accepted",
                            "another hospital has already accepted this patient",
                        )
                    } else {
                        DomainError::conflict("incident_closed", "this incident is closed")
                    }));
                }
                q::set_target_status(
                    c,
                    &inc.id,
                    &hospital,
                    &[TargetStatus::Pending],
                    TargetStatus::Accepted,
                    Some((&actor.account_id, None, reason.as_deref(), now)),
                )?;
                q::acknowledge_target(c, &inc.id, &hospital, &actor.account_id, now)?;
                let inc = reload(c, &inc)?;
                let band = age_band_of(c, &inc)?;
                for other in q::targets(c, &inc.id)? {
                    if other.hospital_id == hospital || other.status != TargetStatus::Pending {
                        continue;
                    }
                    q::set_target_status(
                        c,
                        &inc.id,
                        &other.hospital_id,
                        &[TargetStatus::Pending],
                        TargetStatus::Superseded,
                        None,
                    )?;
                    out.feed.push(
                        &other.hospital_id,
                        &inc.id,
                        "accepted_elsewhere",
                        feed_data(
                            &inc,
                            Some(&other.hospital_id),
                            Some(TargetStatus::Superseded),
                        ),
                    );
                    out.push(
                        &other.hospital_id,
                        &inc.id,
                        push_payload(&inc, "accepted_elsewhere", &band),
                        "normal",
                    );
                }
                out.feed.push(
                    &inc.facility_id,
                    &inc.id,
                    "accepted",
                    feed_data(&inc, Some(&hospital), Some(TargetStatus::Accepted)),
                );
                out.feed.push(
                    &hospital,
                    &inc.id,
                    "answered",
                    feed_data(&inc, Some(&hospital), Some(TargetStatus::Accepted)),
                );
                audit::append(
                    c,
                    &actor.municipality_id,
                    &incident_event(actor, Action::AnswerInquiry, &inc)
                        .detail(format!("incident {} accept", inc.id)),
                    now,
                );
                Ok(view(c, actor, &inc, Reader::Hospital(&hospital), now)?)
            } else {
                q::set_target_status(
                    c,
                    &inc.id,
                    &hospital,
                    &[TargetStatus::Pending],
                    TargetStatus::Declined,
                    Some((&actor.account_id, code, reason.as_deref(), now)),
                )?;
                q::acknowledge_target(c, &inc.id, &hospital, &actor.account_id, now)?;
                let mut data = feed_data(&inc, Some(&hospital), Some(TargetStatus::Declined));
                data["reason"] = json!(reason);
                data["reason_code"] = json!(code);
                out.feed
                    .push(&inc.facility_id, &inc.id, "declined", data.clone());
                out.feed.push(&hospital, &inc.id, "answered", data);
                audit::append(
                    c,
                    &actor.municipality_id,
                    &incident_event(actor, Action::AnswerInquiry, &inc)
                        .detail(format!("incident {} decline", inc.id)),
                    now,
                );
                Ok(view(c, actor, &inc, Reader::Hospital(&hospital), now)?)
            }
        },
    )
}

pub fn ed_attachment(
    db: &Db,
    actor: &Actor,
    incident_id: &str,
    attachment_id: &str,
    now: i64,
) -> Result<Attachment, DomainError> {
    let actor = &ed_actor(db, actor, incident_id)?;
    check_id(attachment_id)?;
    ed_tx(
        db,
        actor,
        Action::ReadAttachment,
        incident_id,
        now,
        None,
        |c, inc, t, _| {
            still_involved(&inc, &t)?;
            let a = q::attachment(c, &inc.id, attachment_id)?
                .ok_or_else(|| DomainError::not_found("no such attachment"))?;
            audit::append(
                c,
                &actor.municipality_id,
                &incident_event(actor, Action::ReadAttachment, &inc)
                    .detail(format!("incident {} attachment {}", inc.id, a.id)),
                now,
            );
            Ok(Attachment {
                content_type: a.content_type,
                sha256: a.sha256,
                data: a.data,
            })
        },
    )
}
