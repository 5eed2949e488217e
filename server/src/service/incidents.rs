//! Pre-arrival (DESIGN §4, RULES R20): a crew's incident and its versioned report, the
//! acceptance inquiry (受入照会) to hospitals, acknowledgement, destination and arrival, and the
//! escalation of unacknowledged alerts.
//!
//! Every change is one write transaction that also writes its live-feed events (per facility,
//! `service::feed`), its Web Push deliveries (the outbox, `service::push`) and its audit event —
//! in that order, so the audit head is always the last lock taken. The caller publishes the
//! returned [`Effects`] after the commit. Crew requests are signed by an enrolled device and their
//! nonce is consumed in the same transaction; refusals are audited in a transaction of their own.
//!
//! Who sees what: an incident belongs to the crew's fire department, and only the device that
//! opened it or the paramedic who opened it may act on it. A hospital sees an incident while it
//! is asked (`pending`), has accepted it, or is its assigned destination — never after it
//! declined or the patient went elsewhere. Pushes carry no names or medical details.

use super::access::{self, Refusal};
use super::accounts::Actor;
use super::consent;
use super::deny;
use super::devices::{SignedBy, consume_nonce};
use super::disclosure::Disclosure;
use super::feed::FeedBatch;
use super::report::{self, Report, ReportInput, ReportPatient};
use super::{check_id, new_id, text};
use crate::audit::{self, Action, Event, Outcome};
use crate::db::models::FacilityRow;
use crate::db::prearrival::{self as q, AttachmentRow, IncidentRow, ReportRow, TargetRow};
use crate::db::{Db, DbConnection, queries};
use crate::feed::Note;
use crate::service::error::DomainError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Unacknowledged alerts escalate after this long (configurable: `--escalate-after-secs`).
pub const ESCALATE_AFTER_SECS: i64 = 180;
/// Largest attachment (an ECG photo or a PDF).
pub const MAX_ATTACHMENT_BYTES: usize = 2 * 1024 * 1024;
/// Attachments per incident.
pub const MAX_ATTACHMENTS: i64 = 10;
/// Hospitals asked at once.
pub const MAX_INQUIRY_HOSPITALS: usize = 10;

/// What a committed change asks the server to do next: wake these feeds, and the push worker.
#[derive(Debug, Default)]
pub struct Effects {
    pub notes: Vec<Note>,
    pub pushed: bool,
}

/// Side effects collected during a transaction and written at its end.
#[derive(Debug, Default)]
struct Changes {
    feed: FeedBatch,
    pushes: Vec<(String, String, Value, &'static str)>,
    audit: Vec<Event>,
}

impl Changes {
    fn push(&mut self, hospital: &str, incident: &str, payload: Value, urgency: &'static str) {
        self.pushes
            .push((hospital.into(), incident.into(), payload, urgency));
    }

    /// Feed, then outbox, then audit (the audit head last).
    fn finish(
        self,
        c: &mut crate::db::Tx<'_>,
        muni: &str,
        now: i64,
    ) -> Result<Effects, DomainError> {
        let notes = self.feed.flush(c, muni, now)?;
        let mut pushed = false;
        for (facility, incident, payload, urgency) in &self.pushes {
            let n = super::push::enqueue_for_facility(
                c,
                muni,
                facility,
                Some(incident),
                payload,
                urgency,
                PUSH_TTL_SECS,
                now,
            )?;
            pushed |= n > 0;
        }
        for e in &self.audit {
            audit::append(c, muni, e, now);
        }
        Ok(Effects { notes, pushed })
    }
}

/// How long a push service keeps an undelivered alert (an ambulance is minutes away).
pub const PUSH_TTL_SECS: i32 = 600;

// ---- inputs and views -----------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenInput {
    /// The crew's incident reference (1–64 characters).
    pub incident_ref: String,
    /// A scan or break-glass access of this paramedic on this device, within its grant: its
    /// consented dataset seeds the report.
    pub access_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InquiryInput {
    /// Hospitals to ask at once (1–10 facility ids of this municipality's hospitals).
    pub hospitals: Vec<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    /// `accept` or `decline`.
    pub decision: String,
    /// Why not (required to decline; 1–200 characters), e.g. 「専門医不在」.
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationInput {
    /// The hospital the crew is now taking the patient to.
    pub hospital_id: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FacilityRef {
    pub id: String,
    pub name_ja: String,
    pub name_en: String,
    /// For the crew's and the ED's phone fallback (escalation).
    pub phone: String,
}

impl From<&FacilityRow> for FacilityRef {
    fn from(f: &FacilityRow) -> Self {
        FacilityRef {
            id: f.id.clone(),
            name_ja: f.name_ja.clone(),
            name_en: f.name_en.clone(),
            phone: f.phone.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TargetView {
    pub hospital: FacilityRef,
    /// `pending`, `accepted`, `declined`, `superseded` (another hospital accepted), `released`
    /// (the destination moved away), `withdrawn`, `assigned` (made the destination by the crew).
    pub status: String,
    pub reason: Option<String>,
    pub asked_at: i64,
    pub answered_at: Option<i64>,
    pub acknowledged_at: Option<i64>,
    /// Set when the alert went unacknowledged too long.
    pub escalated_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttachmentView {
    pub id: String,
    pub content_type: String,
    pub size: i64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub created_at: i64,
}

/// An incident as its crew or an involved hospital sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IncidentView {
    pub id: String,
    pub incident_ref: String,
    /// `open`, `accepted`, `arrived`, `cancelled`.
    pub status: String,
    /// The crew's fire department.
    pub fire_department: FacilityRef,
    pub destination: Option<FacilityRef>,
    /// The latest report version (0: none yet).
    pub version: i32,
    pub report: Option<Report>,
    /// The consented dataset of the scan the incident was opened from (filtered by the consent
    /// in force now); `null` without a scan or once consent is withdrawn.
    pub patient: Option<Disclosure>,
    /// The hospitals asked (a hospital sees only its own row).
    pub targets: Vec<TargetView>,
    pub attachments: Vec<AttachmentView>,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
}

/// One line of a hospital's incoming list: no names.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IncomingView {
    pub id: String,
    pub status: String,
    pub fire_department: FacilityRef,
    pub version: i32,
    pub activation: Option<String>,
    pub activation_code: Option<String>,
    pub chief_complaint: Option<String>,
    pub age_band: String,
    pub sex: Option<String>,
    pub eta_at: Option<i64>,
    pub target: TargetView,
    pub updated_at: i64,
}

/// What a push says: enough to ring the ED, nothing identifying.
pub fn push_payload(inc: &IncidentRow, kind: &str, age_band: &str) -> Value {
    json!({
        "incident_id": inc.id,
        "kind": kind,
        "activation": inc.activation,
        "age_band": age_band,
        "eta_at": inc.eta_at,
    })
}

/// What a feed event says (the dashboard fetches the rest with auth).
fn feed_data(inc: &IncidentRow, hospital: Option<&str>, target_status: Option<&str>) -> Value {
    json!({
        "incident_id": inc.id,
        "status": inc.status,
        "version": inc.version,
        "activation": inc.activation,
        "eta_at": inc.eta_at,
        "hospital_id": hospital,
        "target_status": target_status,
    })
}

// ---- helpers --------------------------------------------------------------------------------------

fn require_crew(actor: &Actor, by: &SignedBy) -> Result<(), DomainError> {
    if actor.role == "paramedic" && actor.device_id.as_deref() == Some(by.device.id.as_str()) {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "only paramedics on enrolled devices may open and report incidents",
        ))
    }
}

fn require_ed(actor: &Actor) -> Result<String, DomainError> {
    match (actor.role.as_str(), &actor.facility_id) {
        ("ed_staff", Some(h)) => Ok(h.clone()),
        _ => Err(DomainError::forbidden(
            "only emergency department staff of a hospital may do this",
        )),
    }
}

fn seed_of(inc: &IncidentRow) -> Result<Option<Disclosure>, DomainError> {
    inc.seed
        .as_deref()
        .map(|s| serde_json::from_str(s).map_err(DomainError::internal))
        .transpose()
}

/// The seed as the consent in force allows it now (none if withdrawn or the resident is gone).
fn seed_now(c: &mut DbConnection, inc: &IncidentRow) -> Result<Option<Disclosure>, DomainError> {
    let Some(mut d) = seed_of(inc)? else {
        return Ok(None);
    };
    let resident = queries::resident(c, &inc.municipality_id, &d.patient.id)?;
    if resident.is_none_or(|r| r.status != "active") {
        return Ok(None);
    }
    let Some(now_consent) = consent::current(c, &d.patient.id)? else {
        return Ok(None);
    };
    d.categories
        .retain(|cat| now_consent.categories.contains(cat));
    d.items.retain(|i| d.categories.contains(&i.category));
    d.consent = now_consent;
    Ok(Some(d))
}

fn resident_of(inc: &IncidentRow) -> Option<String> {
    seed_of(inc).ok().flatten().map(|d| d.patient.id)
}

fn patient_of(inc: &IncidentRow) -> Result<Option<ReportPatient>, DomainError> {
    Ok(seed_of(inc)?.map(|d| {
        let age = i64::from(d.patient.age);
        ReportPatient {
            age: Some(age),
            age_band: report::age_band(Some(age)),
            sex: Some(d.patient.sex),
            source: "card".into(),
        }
    }))
}

fn latest_report(c: &mut DbConnection, inc: &IncidentRow) -> Result<Option<Report>, DomainError> {
    if inc.version == 0 {
        return Ok(None);
    }
    let row = q::report(c, &inc.id, inc.version)?.ok_or_else(|| {
        DomainError::internal(format!("report {} v{} missing", inc.id, inc.version))
    })?;
    Ok(Some(
        serde_json::from_str(&row.body).map_err(DomainError::internal)?,
    ))
}

fn age_band_of(c: &mut DbConnection, inc: &IncidentRow) -> Result<String, DomainError> {
    Ok(latest_report(c, inc)?
        .map(|r| r.patient.age_band)
        .or(patient_of(inc)?.map(|p| p.age_band))
        .unwrap_or_else(|| "unknown".into()))
}

fn facility(c: &mut DbConnection, muni: &str, id: &str) -> Result<FacilityRow, DomainError> {
    queries::facility(c, muni, id)?
        .ok_or_else(|| DomainError::internal(format!("facility {id} missing")))
}

/// A hospital of this municipality that is active; else `422 unknown_hospital`.
fn active_hospital(c: &mut DbConnection, muni: &str, id: &str) -> Result<FacilityRow, DomainError> {
    let unknown = || {
        DomainError::unprocessable(
            "unknown_hospital",
            format!("{id} is not an active hospital of this municipality"),
        )
    };
    check_id(id).map_err(|_| unknown())?;
    match queries::facility(c, muni, id)? {
        Some(f) if f.kind == "hospital" && f.status == "active" => Ok(f),
        _ => Err(unknown()),
    }
}

fn target_view(c: &mut DbConnection, muni: &str, t: &TargetRow) -> Result<TargetView, DomainError> {
    Ok(TargetView {
        hospital: FacilityRef::from(&facility(c, muni, &t.hospital_id)?),
        status: t.status.clone(),
        reason: t.reason.clone(),
        asked_at: t.asked_at,
        answered_at: t.answered_at,
        acknowledged_at: t.acknowledged_at,
        escalated_at: t.escalated_at,
    })
}

fn view(
    c: &mut DbConnection,
    inc: &IncidentRow,
    only_hospital: Option<&str>,
) -> Result<IncidentView, DomainError> {
    let muni = inc.municipality_id.as_str();
    let targets = q::targets(c, &inc.id)?
        .iter()
        .filter(|t| only_hospital.is_none_or(|h| h == t.hospital_id))
        .map(|t| target_view(c, muni, t))
        .collect::<Result<Vec<_>, _>>()?;
    let destination = match &inc.destination_id {
        Some(d) => Some(FacilityRef::from(&facility(c, muni, d)?)),
        None => None,
    };
    Ok(IncidentView {
        id: inc.id.clone(),
        incident_ref: inc.incident_ref.clone(),
        status: inc.status.clone(),
        fire_department: FacilityRef::from(&facility(c, muni, &inc.facility_id)?),
        destination,
        version: inc.version,
        report: latest_report(c, inc)?,
        patient: seed_now(c, inc)?,
        targets,
        attachments: q::attachments(c, &inc.id)?
            .into_iter()
            .map(|a| AttachmentView {
                id: a.id,
                content_type: a.content_type,
                size: a.size,
                sha256: a.sha256,
                created_at: a.created_at,
            })
            .collect(),
        created_at: inc.created_at,
        updated_at: inc.updated_at,
        closed_at: inc.closed_at,
    })
}

/// The hospitals currently involved (asked, accepted or assigned).
fn involved(c: &mut DbConnection, inc: &IncidentRow) -> Result<Vec<TargetRow>, DomainError> {
    Ok(q::targets(c, &inc.id)?
        .into_iter()
        .filter(|t| matches!(t.status.as_str(), "pending" | "accepted" | "assigned"))
        .collect())
}

fn reload(c: &mut DbConnection, inc: &IncidentRow) -> Result<IncidentRow, DomainError> {
    q::incident(c, &inc.municipality_id, &inc.id)?
        .ok_or_else(|| DomainError::internal("incident vanished"))
}

// ---- the crew's transactions -----------------------------------------------------------------------

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
    f: impl FnOnce(&mut crate::db::Tx<'_>, Option<IncidentRow>, &mut Changes) -> Result<T, Refusal>
    + Send,
) -> Result<(T, Effects), DomainError> {
    let muni = actor.municipality_id.as_str();
    let base = || {
        let mut e = actor.event(action, Outcome::Denied).purpose("incident");
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
        let mut tx = Changes::default();
        let v = f(c, inc, &mut tx)?;
        let fx = tx.finish(c, muni, now)?;
        Ok::<_, Refusal>((v, fx))
    });
    outcome.map_err(|r| r.audited(db, muni, base(), now))
}

/// A successful incident action by the crew or an ED, about the seeded resident if any.
fn incident_event(actor: &Actor, action: Action, inc: &IncidentRow) -> Event {
    let mut e = actor
        .event(action, Outcome::Ok)
        .purpose("incident")
        .detail(format!("incident {}", inc.id));
    e.resident_id = resident_of(inc);
    e
}

/// Opens an incident, optionally seeded from one of this crew's scans.
pub fn open(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    input: &OpenInput,
    now: i64,
) -> Result<(IncidentView, Effects), DomainError> {
    let incident_ref = text("incident_ref", &input.incident_ref, 1, 64)?;
    if let Some(a) = &input.access_id {
        check_id(a)?;
    }
    crew_tx(
        db,
        actor,
        by,
        Action::OpenIncident,
        None,
        now,
        |c, _, tx| {
            let seed = match &input.access_id {
                Some(aid) => {
                    let (d, read) = access::reread_in(c, actor, by, aid, Some("incident"), now)?;
                    tx.audit.push(read);
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
                status: "open".into(),
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
            tx.audit
                .push(incident_event(actor, Action::OpenIncident, &inc));
            Ok(view(c, &inc, None)?)
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
        |c, inc, tx| {
            let inc = inc.ok_or_else(|| DomainError::internal("no incident"))?;
            tx.audit
                .push(incident_event(actor, Action::ReadIncident, &inc));
            Ok(view(c, &inc, None)?)
        },
    )
    .map(|(v, _)| v)
}

/// A new report version; involved hospitals are told (feed and push).
pub fn submit_report(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    incident_id: &str,
    input: &ReportInput,
    now: i64,
) -> Result<(IncidentView, Effects), DomainError> {
    crew_tx(
        db,
        actor,
        by,
        Action::SubmitReport,
        Some(incident_id),
        now,
        |c, inc, tx| {
            let inc = inc.ok_or_else(|| DomainError::internal("no incident"))?;
            let resident = resident_of(&inc);
            let refuse = |e: DomainError| Refusal(resident.clone(), e);
            if !matches!(inc.status.as_str(), "open" | "accepted") {
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
            let rep = report::build(input, inc.version + 1, seeded.as_ref(), now)?;
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
                tx.feed.push(
                    &t.hospital_id,
                    &inc.id,
                    "report_updated",
                    feed_data(&inc, Some(&t.hospital_id), Some(&t.status)),
                );
                tx.push(
                    &t.hospital_id,
                    &inc.id,
                    push_payload(&inc, "report_updated", &rep.patient.age_band),
                    "normal",
                );
            }
            tx.feed.push(
                &inc.facility_id,
                &inc.id,
                "report_updated",
                feed_data(&inc, None, None),
            );
            tx.audit.push(
                incident_event(actor, Action::SubmitReport, &inc)
                    .detail(format!("incident {} v{}", inc.id, rep.version)),
            );
            Ok(view(c, &inc, None)?)
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

pub fn add_attachment(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    incident_id: &str,
    content_type: &str,
    bytes: &[u8],
    now: i64,
) -> Result<(AttachmentView, Effects), DomainError> {
    let ct = check_attachment(content_type, bytes)?;
    crew_tx(
        db,
        actor,
        by,
        Action::AddAttachment,
        Some(incident_id),
        now,
        |c, inc, tx| {
            let inc = inc.ok_or_else(|| DomainError::internal("no incident"))?;
            if !matches!(inc.status.as_str(), "open" | "accepted") {
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
                tx.feed.push(
                    &t.hospital_id,
                    &inc.id,
                    "attachment_added",
                    feed_data(&inc, Some(&t.hospital_id), Some(&t.status)),
                );
            }
            tx.audit.push(
                incident_event(actor, Action::AddAttachment, &inc)
                    .detail(format!("incident {} attachment {}", inc.id, row.id)),
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
pub fn inquire(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    incident_id: &str,
    input: &InquiryInput,
    now: i64,
) -> Result<(IncidentView, Effects), DomainError> {
    let mut hospitals = input.hospitals.clone();
    hospitals.sort();
    hospitals.dedup();
    if hospitals.is_empty() || hospitals.len() > MAX_INQUIRY_HOSPITALS {
        return Err(DomainError::unprocessable(
            "invalid_field",
            format!("hospitals: 1–{MAX_INQUIRY_HOSPITALS} hospital ids"),
        ));
    }
    crew_tx(
        db,
        actor,
        by,
        Action::SendInquiry,
        Some(incident_id),
        now,
        |c, inc, tx| {
            let inc = inc.ok_or_else(|| DomainError::internal("no incident"))?;
            let resident = resident_of(&inc);
            let refuse = |e: DomainError| Refusal(resident.clone(), e);
            match inc.status.as_str() {
                "open" => {}
                "accepted" => {
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
                if q::target(c, &inc.id, &h.id)?.is_some_and(|t| t.status == "pending") {
                    continue; // already waiting for this hospital's answer
                }
                q::upsert_target(
                    c,
                    &TargetRow {
                        incident_id: inc.id.clone(),
                        hospital_id: h.id.clone(),
                        municipality_id: inc.municipality_id.clone(),
                        status: "pending".into(),
                        reason: None,
                        asked_at: now,
                        answered_by: None,
                        answered_at: None,
                        acknowledged_by: None,
                        acknowledged_at: None,
                        escalated_at: None,
                    },
                )?;
                tx.feed.push(
                    &h.id,
                    &inc.id,
                    "inquiry",
                    feed_data(&inc, Some(&h.id), Some("pending")),
                );
                tx.push(&h.id, &inc.id, push_payload(&inc, "inquiry", &band), "high");
                tx.feed.push(
                    &inc.facility_id,
                    &inc.id,
                    "inquiry_sent",
                    feed_data(&inc, Some(&h.id), Some("pending")),
                );
            }
            tx.audit.push(
                incident_event(actor, Action::SendInquiry, &inc).detail(format!(
                    "incident {} to {}",
                    inc.id,
                    hospitals.join(",")
                )),
            );
            Ok(view(c, &inc, None)?)
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
) -> Result<(IncidentView, Effects), DomainError> {
    crew_tx(
        db,
        actor,
        by,
        Action::ChangeDestination,
        Some(incident_id),
        now,
        |c, inc, tx| {
            let inc = inc.ok_or_else(|| DomainError::internal("no incident"))?;
            if !matches!(inc.status.as_str(), "open" | "accepted") {
                return Err(
                    DomainError::conflict("incident_closed", "this incident is closed").into(),
                );
            }
            let new = active_hospital(c, &inc.municipality_id, &input.hospital_id)?;
            if inc.destination_id.as_deref() == Some(new.id.as_str()) {
                return Ok(view(c, &inc, None)?);
            }
            if !q::move_incident(c, &inc.id, "accepted", Some(&new.id), None, now)? {
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
                let (to, kind) = if t.status == "pending" {
                    ("withdrawn", "withdrawn")
                } else {
                    ("released", "destination_released")
                };
                q::set_target_status(c, &inc.id, &t.hospital_id, &[&t.status], to, None)?;
                tx.feed.push(
                    &t.hospital_id,
                    &inc.id,
                    kind,
                    feed_data(&inc, Some(&t.hospital_id), Some(to)),
                );
                tx.push(
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
                    status: "assigned".into(),
                    reason: None,
                    asked_at: now,
                    answered_by: None,
                    answered_at: None,
                    acknowledged_by: None,
                    acknowledged_at: None,
                    escalated_at: None,
                },
            )?;
            tx.feed.push(
                &new.id,
                &inc.id,
                "destination_assigned",
                feed_data(&inc, Some(&new.id), Some("assigned")),
            );
            tx.push(
                &new.id,
                &inc.id,
                push_payload(&inc, "destination_assigned", &band),
                "high",
            );
            tx.feed.push(
                &inc.facility_id,
                &inc.id,
                "destination_changed",
                feed_data(&inc, Some(&new.id), Some("assigned")),
            );
            tx.audit.push(
                incident_event(actor, Action::ChangeDestination, &inc)
                    .detail(format!("incident {} to {}", inc.id, new.id)),
            );
            Ok(view(c, &inc, None)?)
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
) -> Result<(IncidentView, Effects), DomainError> {
    crew_tx(
        db,
        actor,
        by,
        Action::Arrive,
        Some(incident_id),
        now,
        |c, inc, tx| {
            let inc = inc.ok_or_else(|| DomainError::internal("no incident"))?;
            let Some(dest) = inc.destination_id.clone() else {
                return Err(DomainError::conflict(
                    "no_destination",
                    "no hospital has accepted or been chosen yet",
                )
                .into());
            };
            if !q::move_incident(c, &inc.id, "arrived", Some(&dest), Some(now), now)? {
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
                        &[&t.status],
                        "withdrawn",
                        None,
                    )?;
                    "withdrawn"
                };
                tx.feed.push(
                    &t.hospital_id,
                    &inc.id,
                    kind,
                    feed_data(&inc, Some(&t.hospital_id), None),
                );
            }
            tx.feed.push(
                &inc.facility_id,
                &inc.id,
                "arrived",
                feed_data(&inc, Some(&dest), None),
            );
            tx.audit.push(incident_event(actor, Action::Arrive, &inc));
            Ok(view(c, &inc, None)?)
        },
    )
}

// ---- the hospital's side ---------------------------------------------------------------------------

/// An ED request: the hospital's involvement in the incident, or 404 (never seen) / 403 (no
/// longer involved); refusals audited.
fn ed_tx<T: Send>(
    db: &Db,
    actor: &Actor,
    action: Action,
    incident_id: &str,
    now: i64,
    f: impl FnOnce(&mut crate::db::Tx<'_>, IncidentRow, TargetRow, &mut Changes) -> Result<T, Refusal>
    + Send,
) -> Result<(T, Effects), DomainError> {
    let muni = actor.municipality_id.as_str();
    let base = || {
        actor
            .event(action, Outcome::Denied)
            .purpose("incident")
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
        let mut tx = Changes::default();
        let v = f(c, inc, target, &mut tx)?;
        let fx = tx.finish(c, muni, now)?;
        Ok::<_, Refusal>((v, fx))
    });
    outcome.map_err(|r| r.audited(db, muni, base(), now))
}

fn still_involved(inc: &IncidentRow, t: &TargetRow) -> Result<(), Refusal> {
    if matches!(t.status.as_str(), "pending" | "accepted" | "assigned") {
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
    let muni = actor.municipality_id.as_str();
    let hospital = require_ed(actor).map_err(|err| {
        deny(
            db,
            muni,
            actor.event(Action::ListIncidents, Outcome::Denied),
            err,
            now,
        )
    })?;
    db.write(|c| {
        let rows = q::hospital_incidents(c, muni, &hospital)?;
        let mut out = Vec::with_capacity(rows.len());
        for (inc, t) in rows {
            let rep = latest_report(c, &inc)?;
            let patient = rep
                .as_ref()
                .map(|r| r.patient.clone())
                .or(patient_of(&inc)?);
            out.push(IncomingView {
                id: inc.id.clone(),
                status: inc.status.clone(),
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
                target: target_view(c, muni, &t)?,
                updated_at: inc.updated_at,
            });
        }
        audit::append(
            c,
            muni,
            &actor
                .event(Action::ListIncidents, Outcome::Ok)
                .purpose("incident")
                .detail(format!("{} incidents", out.len())),
            now,
        );
        Ok(out)
    })
}

/// An involved hospital reads the incident (report, seeded dataset, attachments list).
pub fn ed_read(
    db: &Db,
    actor: &Actor,
    incident_id: &str,
    now: i64,
) -> Result<IncidentView, DomainError> {
    ed_tx(
        db,
        actor,
        Action::ReadIncident,
        incident_id,
        now,
        |c, inc, t, tx| {
            still_involved(&inc, &t)?;
            tx.audit
                .push(incident_event(actor, Action::ReadIncident, &inc));
            Ok(view(c, &inc, Some(&t.hospital_id))?)
        },
    )
    .map(|(v, _)| v)
}

/// The ED has seen the alert (stops the escalation clock); the crew is told.
pub fn acknowledge(
    db: &Db,
    actor: &Actor,
    incident_id: &str,
    now: i64,
) -> Result<(IncidentView, Effects), DomainError> {
    ed_tx(
        db,
        actor,
        Action::Acknowledge,
        incident_id,
        now,
        |c, inc, t, tx| {
            still_involved(&inc, &t)?;
            if q::acknowledge_target(c, &inc.id, &t.hospital_id, &actor.account_id, now)? {
                let data = feed_data(&inc, Some(&t.hospital_id), Some(&t.status));
                tx.feed
                    .push(&inc.facility_id, &inc.id, "acknowledged", data.clone());
                tx.feed.push(&t.hospital_id, &inc.id, "acknowledged", data);
                tx.audit
                    .push(incident_event(actor, Action::Acknowledge, &inc));
            }
            Ok(view(c, &inc, Some(&t.hospital_id))?)
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
) -> Result<(IncidentView, Effects), DomainError> {
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
    let reason = match (&input.reason, accept) {
        (None, false) => {
            return Err(DomainError::unprocessable(
                "invalid_field",
                "reason: say why you decline (1–200 characters)",
            ));
        }
        (r, _) => super::opt_text("reason", r, 200)?,
    };
    ed_tx(
        db,
        actor,
        Action::AnswerInquiry,
        incident_id,
        now,
        |c, inc, t, tx| {
            let resident = resident_of(&inc);
            let refuse = |e: DomainError| Refusal(resident.clone(), e);
            let hospital = t.hospital_id.clone();
            if t.status != "pending" {
                let err = match (t.status.as_str(), inc.status.as_str()) {
                    ("superseded", _) => DomainError::conflict(
                        "already_accepted",
                        "another hospital has already accepted this patient",
                    ),
                    ("accepted" | "declined", _) => DomainError::conflict(
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
                    let status = q::incident(c, &inc.municipality_id, &inc.id)?
                        .map(|i| i.status)
                        .unwrap_or_default();
                    return Err(refuse(if status == "accepted" {
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
                    &["pending"],
                    "accepted",
                    Some((&actor.account_id, reason.as_deref(), now)),
                )?;
                q::acknowledge_target(c, &inc.id, &hospital, &actor.account_id, now)?;
                let inc = reload(c, &inc)?;
                let band = age_band_of(c, &inc)?;
                for other in q::targets(c, &inc.id)? {
                    if other.hospital_id == hospital || other.status != "pending" {
                        continue;
                    }
                    q::set_target_status(
                        c,
                        &inc.id,
                        &other.hospital_id,
                        &["pending"],
                        "superseded",
                        None,
                    )?;
                    tx.feed.push(
                        &other.hospital_id,
                        &inc.id,
                        "accepted_elsewhere",
                        feed_data(&inc, Some(&other.hospital_id), Some("superseded")),
                    );
                    tx.push(
                        &other.hospital_id,
                        &inc.id,
                        push_payload(&inc, "accepted_elsewhere", &band),
                        "normal",
                    );
                }
                tx.feed.push(
                    &inc.facility_id,
                    &inc.id,
                    "accepted",
                    feed_data(&inc, Some(&hospital), Some("accepted")),
                );
                tx.feed.push(
                    &hospital,
                    &inc.id,
                    "answered",
                    feed_data(&inc, Some(&hospital), Some("accepted")),
                );
                tx.audit.push(
                    incident_event(actor, Action::AnswerInquiry, &inc)
                        .detail(format!("incident {} accept", inc.id)),
                );
                Ok(view(c, &inc, Some(&hospital))?)
            } else {
                q::set_target_status(
                    c,
                    &inc.id,
                    &hospital,
                    &["pending"],
                    "declined",
                    Some((&actor.account_id, reason.as_deref(), now)),
                )?;
                q::acknowledge_target(c, &inc.id, &hospital, &actor.account_id, now)?;
                let mut data = feed_data(&inc, Some(&hospital), Some("declined"));
                data["reason"] = json!(reason);
                tx.feed
                    .push(&inc.facility_id, &inc.id, "declined", data.clone());
                tx.feed.push(&hospital, &inc.id, "answered", data);
                tx.audit.push(
                    incident_event(actor, Action::AnswerInquiry, &inc)
                        .detail(format!("incident {} decline", inc.id)),
                );
                Ok(view(c, &inc, Some(&hospital))?)
            }
        },
    )
}

/// An attachment's bytes, for the crew or an involved hospital.
#[derive(Debug)]
pub struct Attachment {
    pub content_type: String,
    pub sha256: String,
    pub data: Vec<u8>,
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
        |c, inc, tx| {
            let inc = inc.ok_or_else(|| DomainError::internal("no incident"))?;
            let a = q::attachment(c, &inc.id, attachment_id)?
                .ok_or_else(|| DomainError::not_found("no such attachment"))?;
            tx.audit.push(
                incident_event(actor, Action::ReadAttachment, &inc)
                    .detail(format!("incident {} attachment {}", inc.id, a.id)),
            );
            Ok(Attachment {
                content_type: a.content_type,
                sha256: a.sha256,
                data: a.data,
            })
        },
    )
    .map(|(a, _)| a)
}

pub fn ed_attachment(
    db: &Db,
    actor: &Actor,
    incident_id: &str,
    attachment_id: &str,
    now: i64,
) -> Result<Attachment, DomainError> {
    check_id(attachment_id)?;
    ed_tx(
        db,
        actor,
        Action::ReadAttachment,
        incident_id,
        now,
        |c, inc, t, tx| {
            still_involved(&inc, &t)?;
            let a = q::attachment(c, &inc.id, attachment_id)?
                .ok_or_else(|| DomainError::not_found("no such attachment"))?;
            tx.audit.push(
                incident_event(actor, Action::ReadAttachment, &inc)
                    .detail(format!("incident {} attachment {}", inc.id, a.id)),
            );
            Ok(Attachment {
                content_type: a.content_type,
                sha256: a.sha256,
                data: a.data,
            })
        },
    )
    .map(|(a, _)| a)
}

// ---- escalation ------------------------------------------------------------------------------------

/// Escalates every alert asked at least `after_secs` ago and still unacknowledged: marks it,
/// pushes again, and tells the hospital's and the crew's feeds (the crew's event carries the
/// hospital's phone number). Safe to run on several instances at once: marking is conditional.
pub fn escalate_due(
    db: &Db,
    muni: &str,
    after_secs: i64,
    now: i64,
) -> Result<Effects, DomainError> {
    db.write(|c| {
        let due = q::unacknowledged_due(c, now - after_secs, 100)?;
        let mut tx = Changes::default();
        for t in due {
            if t.municipality_id != muni
                || !q::mark_escalated(c, &t.incident_id, &t.hospital_id, now)?
            {
                continue;
            }
            let Some(inc) = q::incident(c, muni, &t.incident_id)? else {
                continue;
            };
            let hospital = facility(c, muni, &t.hospital_id)?;
            let band = age_band_of(c, &inc)?;
            let mut data = feed_data(&inc, Some(&t.hospital_id), Some(&t.status));
            data["phone"] = json!(hospital.phone);
            tx.feed
                .push(&t.hospital_id, &inc.id, "escalated", data.clone());
            tx.feed.push(&inc.facility_id, &inc.id, "escalated", data);
            tx.push(
                &t.hospital_id,
                &inc.id,
                push_payload(&inc, "escalated", &band),
                "high",
            );
            let mut e = Event::new(Action::Escalate, Outcome::Ok)
                .purpose("escalation")
                .detail(format!("incident {} hospital {}", inc.id, t.hospital_id));
            e.facility_id = Some(t.hospital_id.clone());
            e.resident_id = resident_of(&inc);
            tx.audit.push(e);
        }
        tx.finish(c, muni, now)
    })
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
