//! The crew's side of an incident: opening it, its pre-arrival reports and attachments, the
//! acceptance inquiry, the destination and the arrival. Every request is signed by the crew's
//! enrolled device.

use super::{
    Attachment, AttachmentView, DestinationInput, IncidentView, InquiryInput, MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS, MAX_INQUIRY_HOSPITALS, OpenInput, Outbox, Reader, active_hospital,
    age_band_of, feed_data, incident_event, involved, latest_report, patient_of, push_payload,
    reload, report_versions, require_crew, resident_of, view,
};
use crate::audit;
use crate::audit::{Action, Outcome};
use crate::db::Db;
use crate::db::incidents::{self as q, AttachmentRow, IncidentRow, ReportRow, TargetRow};
use crate::domain::{IncidentStatus, Purpose, TargetStatus};
use crate::feed::Wakers;
use crate::service::access::{self, Refusal};
use crate::service::accounts::Actor;
use crate::service::deny;
use crate::service::devices::{SignedBy, consume_nonce};
use crate::service::error::DomainError;
use crate::service::idempotency::{self, Answer, IdemKey};
use crate::service::report::{self, ReportInput};
use crate::service::{check_id, new_id, text};
use sha2::{Digest, Sha256};

// ---- the crew's transactions -----------------------------------------------------------------------

/// This paramedic on this device (the dataset is theirs only if they scanned on it).
fn crew_reader<'a>(actor: &'a Actor, by: &'a SignedBy) -> Reader<'a> {
    Reader::Crew {
        account: &actor.account_id,
        device: &by.device.id,
    }
}

/// A crew request: consume the nonce, find the crew's incident (when `incident_id` is given), run
/// `f`, write its effects; refusals audited under `action`.
#[allow(clippy::too_many_arguments)]
fn crew_tx<T: Send>(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    action: Action,
    incident_id: Option<&str>,
    now: i64,
    wake: Option<&Wakers>,
    f: impl FnOnce(&mut crate::db::Tx<'_>, Option<IncidentRow>, &mut Outbox) -> Result<T, Refusal>
    + Send,
) -> Result<T, DomainError> {
    let muni = actor.municipality_id.as_str();
    let base = || {
        let mut e = actor
            .event(action, Outcome::Denied)
            .purpose(Purpose::Incident);
        if let Some(i) = incident_id {
            e = e.detail(format!("incident {i}"));
        }
        e
    };
    if let Err(err) = require_crew(actor, by) {
        return Err(deny(db, muni, base(), err, now));
    }
    if let Some(i) = incident_id {
        check_id(i)?;
    }
    let outcome = db.write(|c| {
        consume_nonce(c, by)?;
        let inc = match incident_id {
            Some(id) => Some(
                q::incident(c, muni, id)?
                    .filter(|i| {
                        i.facility_id == by.device.facility_id
                            && (i.device_id == by.device.id || i.opened_by == actor.account_id)
                    })
                    .ok_or_else(|| DomainError::not_found("no such incident"))?,
            ),
            None => None,
        };
        let mut out = Outbox::default();
        let v = f(c, inc, &mut out)?;
        out.finish(c, muni, now, wake)?;
        Ok::<_, Refusal>(v)
    });
    outcome.map_err(|r| r.audited(db, muni, base(), now))
}

/// A crew change that may carry an `Idempotency-Key` ([`idempotency`]): the key is claimed in the
/// change's transaction and completed with its answer; a repeat gets the first answer and `f` is
/// not run (nothing written, nothing audited but its nonce).
#[allow(clippy::too_many_arguments)]
fn crew_change<T: Send + serde::Serialize>(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    action: Action,
    incident_id: Option<&str>,
    now: i64,
    wake: &Wakers,
    idem: Option<&IdemKey>,
    f: impl FnOnce(&mut crate::db::Tx<'_>, Option<IncidentRow>, &mut Outbox) -> Result<T, Refusal>
    + Send,
) -> Result<Answer<T>, DomainError> {
    crew_tx(
        db,
        actor,
        by,
        action,
        incident_id,
        now,
        Some(wake),
        |c, inc, out| {
            if let Some(k) = idem
                && let Some(first) = idempotency::begin(c, actor, by, k, now)?
            {
                return Ok(Answer::Replay(first));
            }
            let v = f(c, inc, out)?;
            if let Some(k) = idem {
                idempotency::finish(c, by, k, &v)?;
            }
            Ok(Answer::Fresh(v))
        },
    )
}

/// Opens an incident, optionally seeded from one of this crew's scans.
pub fn open(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    input: &OpenInput,
    now: i64,
    wake: &Wakers,
    idem: Option<&IdemKey>,
) -> Result<Answer<IncidentView>, DomainError> {
    let incident_ref = text("incident_ref", &input.incident_ref, 1, 64)?;
    if let Some(a) = &input.access_id {
        check_id(a)?;
    }
    crew_change(
        db,
        actor,
        by,
        Action::OpenIncident,
        None,
        now,
        wake,
        idem,
        |c, _, _| {
            let seed = match &input.access_id {
                Some(aid) => {
                    let (d, read) =
                        access::reread_in(c, actor, by, aid, Some(Purpose::Incident), now)?;
                    audit::append(c, &actor.municipality_id, &read, now);
                    Some(serde_json::to_string(&d).map_err(DomainError::internal)?)
                }
                None => None,
            };
            let inc = IncidentRow {
                id: new_id()?,
                municipality_id: actor.municipality_id.clone(),
                facility_id: by.device.facility_id.clone(),
                device_id: by.device.id.clone(),
                opened_by: actor.account_id.clone(),
                access_id: input.access_id.clone(),
                incident_ref: incident_ref.clone(),
                status: IncidentStatus::Open,
                destination_id: None,
                version: 0,
                activation: None,
                eta_at: None,
                seed,
                created_at: now,
                updated_at: now,
                closed_at: None,
            };
            q::insert_incident(c, &inc)?;
            audit::append(
                c,
                &actor.municipality_id,
                &incident_event(actor, Action::OpenIncident, &inc),
                now,
            );
            Ok(view(c, actor, &inc, crew_reader(actor, by), now)?)
        },
    )
}

/// The crew reads its incident.
pub fn crew_read(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    incident_id: &str,
    now: i64,
) -> Result<IncidentView, DomainError> {
    crew_tx(
        db,
        actor,
        by,
        Action::ReadIncident,
        Some(incident_id),
        now,
        None,
        |c, inc, _| {
            let inc = inc.ok_or_else(|| DomainError::internal("no incident"))?;
            audit::append(
                c,
                &actor.municipality_id,
                &incident_event(actor, Action::ReadIncident, &inc),
                now,
            );
            Ok(view(c, actor, &inc, crew_reader(actor, by), now)?)
        },
    )
}

/// A new report version; involved hospitals are told (feed and push).
#[allow(clippy::too_many_arguments)]
pub fn submit_report(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    incident_id: &str,
    input: &ReportInput,
    now: i64,
    wake: &Wakers,
    idem: Option<&IdemKey>,
) -> Result<Answer<IncidentView>, DomainError> {
    crew_change(
        db,
        actor,
        by,
        Action::SubmitReport,
        Some(incident_id),
        now,
        wake,
        idem,
        |c, inc, out| {
            let inc = inc.ok_or_else(|| DomainError::internal("no incident"))?;
            let resident = resident_of(&inc);
            let refuse = |e: DomainError| Refusal(resident.clone(), e);
            if !matches!(inc.status, IncidentStatus::Open | IncidentStatus::Accepted) {
                return Err(refuse(DomainError::conflict(
                    "incident_closed",
                    "this incident is closed",
                )));
            }
            if input.base_version != inc.version {
                return Err(refuse(DomainError::conflict(
                    "version_conflict",
                    format!(
                        "the report is at version {}; reload it and send your changes on top",
                        inc.version
                    ),
                )));
            }
            let seeded = patient_of(&inc)?;
            let prev = latest_report(c, &inc)?;
            let rep = report::build(input, prev.as_ref(), inc.version + 1, seeded.as_ref(), now)?;
            let arrived = rep.arrived_on_scene_at.unwrap_or(inc.created_at);
            if rep.left_scene_at.is_some_and(|l| l < arrived) {
                return Err(refuse(DomainError::unprocessable(
                    "invalid_time",
                    "left_scene_at: cannot be before the arrival on scene (arrived_on_scene_at, else when the incident was opened) / 現場出発が現場到着より前です",
                )));
            }
            if !q::bump_version(c, &inc.id, inc.version, &rep.activation, rep.eta_at, now)? {
                return Err(refuse(DomainError::conflict(
                    "version_conflict",
                    "the report changed meanwhile; reload it and send your changes on top",
                )));
            }
            q::insert_report(
                c,
                &ReportRow {
                    incident_id: inc.id.clone(),
                    version: rep.version,
                    municipality_id: inc.municipality_id.clone(),
                    body: serde_json::to_string(&rep).map_err(DomainError::internal)?,
                    created_by: actor.account_id.clone(),
                    device_id: by.device.id.clone(),
                    created_at: now,
                },
            )?;
            let inc = reload(c, &inc)?;
            for t in involved(c, &inc)? {
                out.feed.push(
                    &t.hospital_id,
                    &inc.id,
                    "report_updated",
                    feed_data(&inc, Some(&t.hospital_id), Some(t.status)),
                );
                out.push(
                    &t.hospital_id,
                    &inc.id,
                    push_payload(&inc, "report_updated", &rep.patient.age_band),
                    "normal",
                );
            }
            out.feed.push(
                &inc.facility_id,
                &inc.id,
                "report_updated",
                feed_data(&inc, None, None),
            );
            audit::append(
                c,
                &actor.municipality_id,
                &incident_event(actor, Action::SubmitReport, &inc)
                    .detail(format!("incident {} v{}", inc.id, rep.version)),
                now,
            );
            Ok(view(c, actor, &inc, crew_reader(actor, by), now)?)
        },
    )
}

/// Every report version of the crew's incident, oldest first.
pub fn crew_reports(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    incident_id: &str,
    now: i64,
) -> Result<Vec<report::Report>, DomainError> {
    crew_tx(
        db,
        actor,
        by,
        Action::ReadIncident,
        Some(incident_id),
        now,
        None,
        |c, inc, _| {
            let inc = inc.ok_or_else(|| DomainError::internal("no incident"))?;
            audit::append(
                c,
                &actor.municipality_id,
                &incident_event(actor, Action::ReadIncident, &inc)
                    .detail(format!("incident {} report versions", inc.id)),
                now,
            );
            Ok(report_versions(c, &inc)?)
        },
    )
}

/// Checks an attachment's declared type against its first bytes.
pub fn check_attachment(content_type: &str, bytes: &[u8]) -> Result<&'static str, DomainError> {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let (name, magic): (&'static str, &[u8]) = match ct.as_str() {
        "image/jpeg" => ("image/jpeg", &[0xFF, 0xD8, 0xFF]),
        "image/png" => ("image/png", b"\x89PNG\r\n\x1a\n"),
        "application/pdf" => ("application/pdf", b"%PDF-"),
        _ => {
            return Err(DomainError::unsupported_media(
                "unsupported_media_type",
                "attachments are image/jpeg, image/png or application/pdf",
            ));
        }
    };
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(DomainError::too_large(
            "payload_too_large",
            format!("an attachment is at most {MAX_ATTACHMENT_BYTES} bytes"),
        ));
    }
    if bytes.is_empty() || !bytes.starts_with(magic) {
        return Err(DomainError::unprocessable(
            "content_mismatch",
            format!("the body is not a {name} file"),
        ));
    }
    Ok(name)
}

#[allow(clippy::too_many_arguments)]
pub fn add_attachment(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    incident_id: &str,
    content_type: &str,
    bytes: &[u8],
    now: i64,
    wake: &Wakers,
) -> Result<AttachmentView, DomainError> {
    let ct = check_attachment(content_type, bytes)?;
    crew_tx(
        db,
        actor,
        by,
        Action::AddAttachment,
        Some(incident_id),
        now,
        Some(wake),
        |c, inc, out| {
            let inc = inc.ok_or_else(|| DomainError::internal("no incident"))?;
            if !matches!(inc.status, IncidentStatus::Open | IncidentStatus::Accepted) {
                return Err(
                    DomainError::conflict("incident_closed", "this incident is closed").into(),
                );
            }
            if q::count_attachments(c, &inc.id)? >= MAX_ATTACHMENTS {
                return Err(DomainError::conflict(
                    "too_many_attachments",
                    format!("an incident has at most {MAX_ATTACHMENTS} attachments"),
                )
                .into());
            }
            let row = AttachmentRow {
                id: new_id()?,
                municipality_id: inc.municipality_id.clone(),
                incident_id: inc.id.clone(),
                content_type: ct.into(),
                size: i64::try_from(bytes.len()).map_err(DomainError::internal)?,
                sha256: hex::encode(Sha256::digest(bytes)),
                data: bytes.to_vec(),
                created_by: actor.account_id.clone(),
                created_at: now,
            };
            q::insert_attachment(c, &row)?;
            for t in involved(c, &inc)? {
                out.feed.push(
                    &t.hospital_id,
                    &inc.id,
                    "attachment_added",
                    feed_data(&inc, Some(&t.hospital_id), Some(t.status)),
                );
            }
            audit::append(
                c,
                &actor.municipality_id,
                &incident_event(actor, Action::AddAttachment, &inc)
                    .detail(format!("incident {} attachment {}", inc.id, row.id)),
                now,
            );
            Ok(AttachmentView {
                id: row.id,
                content_type: row.content_type,
                size: row.size,
                sha256: row.sha256,
                created_at: now,
            })
        },
    )
}

/// Asks one or several hospitals at once.
#[allow(clippy::too_many_arguments)]
pub fn inquire(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    incident_id: &str,
    input: &InquiryInput,
    now: i64,
    wake: &Wakers,
    idem: Option<&IdemKey>,
) -> Result<Answer<IncidentView>, DomainError> {
    let mut hospitals = input.hospitals.clone();
    hospitals.sort();
    hospitals.dedup();
    if hospitals.is_empty() || hospitals.len() > MAX_INQUIRY_HOSPITALS {
        return Err(DomainError::unprocessable(
            "invalid_field",
            format!("hospitals: 1–{MAX_INQUIRY_HOSPITALS} hospital ids"),
        ));
    }
    crew_change(
        db,
        actor,
        by,
        Action::SendInquiry,
        Some(incident_id),
        now,
        wake,
        idem,
        |c, inc, out| {
            let inc = inc.ok_or_else(|| DomainError::internal("no incident"))?;
            let resident = resident_of(&inc);
            let refuse = |e: DomainError| Refusal(resident.clone(), e);
            match inc.status {
                IncidentStatus::Open => {}
                IncidentStatus::Accepted => {
                    return Err(refuse(DomainError::conflict(
                        "already_accepted",
                        "a hospital has already accepted this patient",
                    )));
                }
                _ => {
                    return Err(refuse(DomainError::conflict(
                        "incident_closed",
                        "this incident is closed",
                    )));
                }
            }
            if inc.version == 0 {
                return Err(refuse(DomainError::conflict(
                    "report_required",
                    "send a report first: hospitals decide on it",
                )));
            }
            let rows = hospitals
                .iter()
                .map(|h| active_hospital(c, &inc.municipality_id, h))
                .collect::<Result<Vec<_>, _>>()?;
            let band = age_band_of(c, &inc)?;
            for h in &rows {
                if q::target(c, &inc.id, &h.id)?.is_some_and(|t| t.status == TargetStatus::Pending)
                {
                    continue; // already waiting for this hospital's answer
                }
                q::upsert_target(
                    c,
                    &TargetRow {
                        incident_id: inc.id.clone(),
                        hospital_id: h.id.clone(),
                        municipality_id: inc.municipality_id.clone(),
                        status: TargetStatus::Pending,
                        reason: None,
                        asked_at: now,
                        answered_by: None,
                        answered_at: None,
                        acknowledged_by: None,
                        acknowledged_at: None,
                        escalated_at: None,
                        reason_code: None,
                    },
                    &new_id()?,
                )?;
                out.feed.push(
                    &h.id,
                    &inc.id,
                    "inquiry",
                    feed_data(&inc, Some(&h.id), Some(TargetStatus::Pending)),
                );
                out.push(&h.id, &inc.id, push_payload(&inc, "inquiry", &band), "high");
                out.feed.push(
                    &inc.facility_id,
                    &inc.id,
                    "inquiry_sent",
                    feed_data(&inc, Some(&h.id), Some(TargetStatus::Pending)),
                );
            }
            audit::append(
                c,
                &actor.municipality_id,
                &incident_event(actor, Action::SendInquiry, &inc).detail(format!(
                    "incident {} to {}",
                    inc.id,
                    hospitals.join(",")
                )),
                now,
            );
            Ok(view(c, actor, &inc, crew_reader(actor, by), now)?)
        },
    )
}

/// The crew takes the patient to another hospital: the old destination and the other asked
/// hospitals are released, the new one is assigned (and alerted).
pub fn change_destination(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    incident_id: &str,
    input: &DestinationInput,
    now: i64,
    wake: &Wakers,
) -> Result<IncidentView, DomainError> {
    crew_tx(
        db,
        actor,
        by,
        Action::ChangeDestination,
        Some(incident_id),
        now,
        Some(wake),
        |c, inc, out| {
            let inc = inc.ok_or_else(|| DomainError::internal("no incident"))?;
            if !matches!(inc.status, IncidentStatus::Open | IncidentStatus::Accepted) {
                return Err(
                    DomainError::conflict("incident_closed", "this incident is closed").into(),
                );
            }
            let new = active_hospital(c, &inc.municipality_id, &input.hospital_id)?;
            if inc.destination_id.as_deref() == Some(new.id.as_str()) {
                return Ok(view(c, actor, &inc, crew_reader(actor, by), now)?);
            }
            if !q::move_incident(
                c,
                &inc.id,
                IncidentStatus::Accepted,
                Some(&new.id),
                None,
                now,
            )? {
                return Err(
                    DomainError::conflict("incident_closed", "this incident is closed").into(),
                );
            }
            let inc = reload(c, &inc)?;
            let band = age_band_of(c, &inc)?;
            for t in involved(c, &inc)? {
                if t.hospital_id == new.id {
                    continue;
                }
                // The old destination (accepted or assigned) is released; hospitals still
                // deciding are no longer asked.
                let (to, kind) = if t.status == TargetStatus::Pending {
                    (TargetStatus::Withdrawn, "withdrawn")
                } else {
                    (TargetStatus::Released, "destination_released")
                };
                q::set_target_status(c, &inc.id, &t.hospital_id, &[t.status], to, None)?;
                out.feed.push(
                    &t.hospital_id,
                    &inc.id,
                    kind,
                    feed_data(&inc, Some(&t.hospital_id), Some(to)),
                );
                out.push(
                    &t.hospital_id,
                    &inc.id,
                    push_payload(&inc, kind, &band),
                    "normal",
                );
            }
            q::upsert_target(
                c,
                &TargetRow {
                    incident_id: inc.id.clone(),
                    hospital_id: new.id.clone(),
                    municipality_id: inc.municipality_id.clone(),
                    status: TargetStatus::Assigned,
                    reason: None,
                    asked_at: now,
                    answered_by: None,
                    answered_at: None,
                    acknowledged_by: None,
                    acknowledged_at: None,
                    escalated_at: None,
                    reason_code: None,
                },
                &new_id()?,
            )?;
            out.feed.push(
                &new.id,
                &inc.id,
                "destination_assigned",
                feed_data(&inc, Some(&new.id), Some(TargetStatus::Assigned)),
            );
            out.push(
                &new.id,
                &inc.id,
                push_payload(&inc, "destination_assigned", &band),
                "high",
            );
            out.feed.push(
                &inc.facility_id,
                &inc.id,
                "destination_changed",
                feed_data(&inc, Some(&new.id), Some(TargetStatus::Assigned)),
            );
            audit::append(
                c,
                &actor.municipality_id,
                &incident_event(actor, Action::ChangeDestination, &inc)
                    .detail(format!("incident {} to {}", inc.id, new.id)),
                now,
            );
            Ok(view(c, actor, &inc, crew_reader(actor, by), now)?)
        },
    )
}

/// Arrival at the destination closes the incident.
pub fn arrive(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    incident_id: &str,
    now: i64,
    wake: &Wakers,
) -> Result<IncidentView, DomainError> {
    crew_tx(
        db,
        actor,
        by,
        Action::Arrive,
        Some(incident_id),
        now,
        Some(wake),
        |c, inc, out| {
            let inc = inc.ok_or_else(|| DomainError::internal("no incident"))?;
            let Some(dest) = inc.destination_id.clone() else {
                return Err(DomainError::conflict(
                    "no_destination",
                    "no hospital has accepted or been chosen yet",
                )
                .into());
            };
            if !q::move_incident(
                c,
                &inc.id,
                IncidentStatus::Arrived,
                Some(&dest),
                Some(now),
                now,
            )? {
                return Err(
                    DomainError::conflict("incident_closed", "this incident is closed").into(),
                );
            }
            let inc = reload(c, &inc)?;
            for t in involved(c, &inc)? {
                let kind = if t.hospital_id == dest {
                    "arrived"
                } else {
                    q::set_target_status(
                        c,
                        &inc.id,
                        &t.hospital_id,
                        &[t.status],
                        TargetStatus::Withdrawn,
                        None,
                    )?;
                    "withdrawn"
                };
                out.feed.push(
                    &t.hospital_id,
                    &inc.id,
                    kind,
                    feed_data(&inc, Some(&t.hospital_id), None),
                );
            }
            out.feed.push(
                &inc.facility_id,
                &inc.id,
                "arrived",
                feed_data(&inc, Some(&dest), None),
            );
            audit::append(
                c,
                &actor.municipality_id,
                &incident_event(actor, Action::Arrive, &inc),
                now,
            );
            Ok(view(c, actor, &inc, crew_reader(actor, by), now)?)
        },
    )
}

pub fn crew_attachment(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    incident_id: &str,
    attachment_id: &str,
    now: i64,
) -> Result<Attachment, DomainError> {
    check_id(attachment_id)?;
    crew_tx(
        db,
        actor,
        by,
        Action::ReadAttachment,
        Some(incident_id),
        now,
        None,
        |c, inc, _| {
            let inc = inc.ok_or_else(|| DomainError::internal("no incident"))?;
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

/// Whether an incident id in a feed event belongs to this crew member's incidents (their device
/// or their account), for filtering the fire department's feed per crew.
pub fn crew_owns(
    db: &Db,
    actor: &Actor,
    device_id: &str,
    incident_id: &str,
) -> Result<bool, DomainError> {
    db.read(|c| {
        Ok(q::incident(c, &actor.municipality_id, incident_id)?
            .is_some_and(|i| i.device_id == device_id || i.opened_by == actor.account_id))
    })
}
