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

use super::accounts::Actor;
use super::check_id;
use super::consent;
use super::devices::SignedBy;
use super::disclosure::Disclosure;
use super::feed::FeedBatch;
use super::report::{self, Report, ReportPatient};
// `hospital::answer` calls `super::opt_text`, which resolves through this import.
use super::opt_text;
use crate::audit::{Action, Event, Outcome};
use crate::db::facilities::FacilityRow;
use crate::db::incidents::{self as q, IncidentRow, TargetRow};
use crate::db::{self, DbConnection};
use crate::domain::{
    DeclineReason, FacilityKind, FacilityStatus, IncidentStatus, Purpose, ResidentStatus, Role,
    TargetStatus,
};
use crate::feed::Wakers;
use crate::service::error::DomainError;
use crate::service::words::{self, Label};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod capacity;
mod crew;
mod escalation;
mod grant;
mod hospital;

pub use capacity::{
    CAPACITY_STALE_SECS, CapacityInput, CapacityItemInput, CapacityView, InquiryCodes,
    by_hospital as capacity_by_hospital, capacity, codes as inquiry_codes, set_capacity,
};
pub use crew::{
    add_attachment, arrive, change_destination, check_attachment, crew_attachment, crew_owns,
    crew_read, crew_reports, inquire, open, submit_report,
};
pub use escalation::{
    ESCALATION_REPEAT_SECS, EscalationPolicy, REALERT_AFTER_SECS, Step, StepKind, due_steps,
    escalate_due, escalate_now, tier_of,
};
pub use grant::{
    CLINICAL_CATEGORIES, ClinicalPicture, DatasetAccess, DatasetStatus, HANDOVER_SECS, Reader,
};
pub use hospital::{acknowledge, answer, ed_attachment, ed_read, ed_reports, incoming};

/// Unacknowledged alerts escalate after this long (configurable: `--escalate-after-secs`).
pub const ESCALATE_AFTER_SECS: i64 = 180;
/// Largest attachment (an ECG photo or a PDF).
pub const MAX_ATTACHMENT_BYTES: usize = 2 * 1024 * 1024;
/// Attachments per incident.
pub const MAX_ATTACHMENTS: i64 = 10;
/// Hospitals asked at once.
pub const MAX_INQUIRY_HOSPITALS: usize = 10;

/// The feed events and push outbox rows a change writes, collected while it runs and written at
/// its end in one lock order (feed heads, then the outbox; the writer appends the audit events,
/// and so takes the audit head, last); once the transaction commits, its [`Tx`] wakes this
/// instance's feeds and push worker.
///
/// [`Tx`]: crate::db::Tx
#[derive(Debug, Default)]
struct Outbox {
    feed: FeedBatch,
    /// `(hospital, incident, payload, urgency, max_tier)`.
    pushes: Vec<(String, String, Value, &'static str, i32)>,
}

impl Outbox {
    /// Pushes to the hospital's tier-1 devices (every alert).
    fn push(&mut self, hospital: &str, incident: &str, payload: Value, urgency: &'static str) {
        self.push_tiers(hospital, incident, payload, urgency, 1);
    }

    /// Pushes to the hospital's devices of tiers 1 to `max_tier` (the escalation chain).
    fn push_tiers(
        &mut self,
        hospital: &str,
        incident: &str,
        payload: Value,
        urgency: &'static str,
        max_tier: i32,
    ) {
        self.pushes
            .push((hospital.into(), incident.into(), payload, urgency, max_tier));
    }

    /// Writes the feed events, then the outbox rows, and hands `tx` the wake-up for after its
    /// commit (reads write nothing and wake nothing: `None`).
    fn finish(
        self,
        tx: &mut crate::db::Tx<'_>,
        muni: &str,
        now: i64,
        wake: Option<&Wakers>,
    ) -> Result<(), DomainError> {
        let notes = self.feed.flush(tx, muni, now)?;
        let mut pushed = false;
        for (facility, incident, payload, urgency, max_tier) in &self.pushes {
            let n = super::push::enqueue_for_tiers(
                tx,
                muni,
                facility,
                Some(incident),
                payload,
                urgency,
                PUSH_TTL_SECS,
                now,
                *max_tier,
            )?;
            pushed |= n > 0;
        }
        if let Some(wake) = wake.filter(|_| !notes.is_empty() || pushed) {
            let wake = wake.clone();
            tx.after_commit(move || wake.wake(&notes, pushed));
        }
        Ok(())
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
    /// A decline's coded reason: `treatment_difficult` (処置困難), `busy` (手術中・患者対応中),
    /// `beds_full` (ベッド満床), `outside_specialty` (専門外), `no_physician` (医師不在),
    /// `first_visit` (初診（かかりつけ医なし）), `other`
    /// (その他: `reason` required). A decline needs a code or a `reason` (then `other`); an
    /// acceptance takes neither code.
    pub reason_code: Option<String>,
    /// Free text (1–200 characters), e.g. 「専門医不在」; required with `other`.
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
    /// A decline's coded reason (see `AnswerInput::reason_code`), with its words.
    #[schema(value_type = Option<String>)]
    pub reason_code: Option<DeclineReason>,
    pub reason_words: Option<Label>,
    pub reason: Option<String>,
    pub asked_at: i64,
    pub answered_at: Option<i64>,
    pub acknowledged_at: Option<i64>,
    /// Set when the alert went unacknowledged too long.
    pub escalated_at: Option<i64>,
    /// The escalation chain's last step for this hospital (0: none): the `escalation` of its
    /// last re-alert (unacknowledged steps, then re-alerts of an acknowledged but unanswered
    /// inquiry, counted on).
    pub escalation: i32,
    /// Re-alerts of this acknowledged but unanswered inquiry.
    pub unanswered_realerts: i32,
    /// This hospital's earlier answers in this incident (it was asked again), oldest first.
    pub history: Vec<PastAnswer>,
}

/// An earlier answer of a hospital asked again: never erased by the new inquiry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PastAnswer {
    pub status: String,
    #[schema(value_type = Option<String>)]
    pub reason_code: Option<DeclineReason>,
    pub reason_words: Option<Label>,
    pub reason: Option<String>,
    pub asked_at: i64,
    pub answered_at: Option<i64>,
}

/// The inquiry as 搬送困難事案 reporting counts it (FDMA: 4 or more inquiries and 30 minutes or
/// more on scene).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InquirySummary {
    /// Inquiries made (every hospital asked, each time it was asked; an assignment without an
    /// inquiry does not count).
    pub count: i64,
    /// Of them, declined.
    pub declined: i64,
    /// When the crew reached the scene: the report's `arrived_on_scene_at`, else when the
    /// incident was opened.
    pub arrived_on_scene_at: i64,
    /// When it left the scene (the report's `left_scene_at`), if it has.
    pub left_scene_at: Option<i64>,
    /// Seconds on scene: until `left_scene_at`, else until now (an open incident) or its close.
    pub on_scene_secs: i64,
    /// 搬送困難事案: `count` ≥ 4 and `on_scene_secs` ≥ 1,800.
    pub difficult: bool,
}

/// 搬送困難事案 (FDMA): at least this many inquiries …
pub const DIFFICULT_INQUIRIES: i64 = 4;
/// … and at least this long on scene.
pub const DIFFICULT_ON_SCENE_SECS: i64 = 30 * 60;

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
    #[schema(value_type = String)]
    pub status: IncidentStatus,
    /// The crew's fire department.
    pub fire_department: FacilityRef,
    pub destination: Option<FacilityRef>,
    /// The latest report version (0: none yet).
    pub version: i32,
    pub report: Option<Report>,
    /// The consented dataset of the scan the incident was opened from (filtered by the consent
    /// in force now), for the scanning paramedic on the scanning device while the scan's grant
    /// lasts and for the destination hospital during the hand-over; else `null`, and `dataset`
    /// says why.
    pub patient: Option<Disclosure>,
    /// Whether this reader sees `patient`, and until when.
    pub dataset: DatasetAccess,
    /// For a hospital being asked (its inquiry `pending`): the clinical picture of the consented
    /// dataset without identity — age, sex, medications (anticoagulant), conditions, allergies,
    /// devices, blood type, directive; never name, date of birth, care team or emergency
    /// contacts. `null` for everyone else (the crew and the destination read `patient`).
    pub clinical: Option<ClinicalPicture>,
    /// The hospitals asked (a hospital sees only its own row).
    pub targets: Vec<TargetView>,
    /// Inquiry count, time on scene and the 搬送困難事案 flag.
    pub inquiry: InquirySummary,
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
    /// Inquiry count, time on scene and the 搬送困難事案 flag.
    pub inquiry: InquirySummary,
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
        // A service worker keeps the highest (version, escalation) per incident and drops the
        // rest: 30 report updates on two devices need not ring 60 times.
        "version": inc.version,
        "escalation": 0,
    })
}

/// What a feed event says (the dashboard fetches the rest with auth).
fn feed_data(
    inc: &IncidentRow,
    hospital: Option<&str>,
    target_status: Option<TargetStatus>,
) -> Value {
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
    if actor.role == Role::Paramedic && actor.device_id.as_deref() == Some(by.device.id.as_str()) {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "only paramedics on enrolled devices may open and report incidents",
        ))
    }
}

fn require_ed(actor: &Actor) -> Result<String, DomainError> {
    match (actor.role, &actor.facility_id) {
        (Role::EdStaff, Some(h)) => Ok(h.clone()),
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
    let resident = db::residents::resident(c, &inc.municipality_id, &d.patient.id)?;
    if resident.is_none_or(|r| r.status != ResidentStatus::Active) {
        return Ok(None);
    }
    let Some(now_consent) = consent::current(c, &d.patient.id)? else {
        return Ok(None);
    };
    d.categories
        .retain(|cat| now_consent.categories.contains(cat));
    d.items.retain(|i| d.categories.contains(&i.category));
    d.consent = now_consent;
    // Whether the scanned card was current, and the triage core then, were true of the scan's
    // moment only (and may rest on categories no longer consented): not shown later.
    (d.card_current, d.triage) = (None, None);
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

/// Every report version, oldest first (each the whole record as of that version).
fn report_versions(c: &mut DbConnection, inc: &IncidentRow) -> Result<Vec<Report>, DomainError> {
    q::reports(c, &inc.id)?
        .iter()
        .map(|row| serde_json::from_str(&row.body).map_err(DomainError::internal))
        .collect()
}

fn age_band_of(c: &mut DbConnection, inc: &IncidentRow) -> Result<String, DomainError> {
    Ok(latest_report(c, inc)?
        .map(|r| r.patient.age_band)
        .or(patient_of(inc)?.map(|p| p.age_band))
        .unwrap_or_else(|| "unknown".into()))
}

/// A facility of `muni`, or of another municipality that joined `muni` (a hospital serving it,
/// even if that membership is suspended since: its in-flight incidents keep their names).
fn facility(c: &mut DbConnection, muni: &str, id: &str) -> Result<FacilityRow, DomainError> {
    let found = match db::facilities::facility(c, muni, id)? {
        Some(f) => Some(f),
        None if db::memberships::membership(c, muni, id)?.is_some() => {
            db::facilities::facility_by_id(c, id)?
        }
        None => None,
    };
    found.ok_or_else(|| DomainError::internal(format!("facility {id} missing")))
}

/// A hospital a crew of `muni` may ask: `muni`'s own, or another municipality's hospital with an
/// active membership in `muni` (issue 22); active in both cases.
pub(crate) fn askable_hospital(
    c: &mut DbConnection,
    muni: &str,
    id: &str,
) -> Result<Option<FacilityRow>, DomainError> {
    let f = match db::facilities::facility(c, muni, id)? {
        Some(f) => Some(f),
        None => match db::memberships::membership(c, muni, id)? {
            Some(m) if m.status == crate::domain::MembershipStatus::Active => {
                db::facilities::facility_by_id(c, id)?
            }
            _ => None,
        },
    };
    Ok(f.filter(|f| f.kind == FacilityKind::Hospital && f.status == FacilityStatus::Active))
}

/// A hospital the crew may ask ([`askable_hospital`]); else `422 unknown_hospital`.
fn active_hospital(c: &mut DbConnection, muni: &str, id: &str) -> Result<FacilityRow, DomainError> {
    let unknown = || {
        DomainError::unprocessable(
            "unknown_hospital",
            format!("{id} is not an active hospital serving this municipality"),
        )
    };
    check_id(id).map_err(|_| unknown())?;
    askable_hospital(c, muni, id)?.ok_or_else(unknown)
}

fn target_view(c: &mut DbConnection, muni: &str, t: &TargetRow) -> Result<TargetView, DomainError> {
    let (level, realerts) = db::escalation::steps(c, t)?;
    let history = q::history(c, &t.incident_id)?
        .into_iter()
        .filter(|h| h.hospital_id == t.hospital_id)
        .map(|h| PastAnswer {
            status: h.status.to_string(),
            reason_code: h.reason_code,
            reason_words: h.reason_code.map(|r| words::decline_reason(r).into()),
            reason: h.reason,
            asked_at: h.asked_at,
            answered_at: h.answered_at,
        })
        .collect();
    Ok(TargetView {
        escalation: level + realerts,
        unanswered_realerts: realerts,
        hospital: FacilityRef::from(&facility(c, muni, &t.hospital_id)?),
        status: t.status.to_string(),
        reason_code: t.reason_code,
        reason_words: t.reason_code.map(|r| words::decline_reason(r).into()),
        reason: t.reason.clone(),
        asked_at: t.asked_at,
        answered_at: t.answered_at,
        acknowledged_at: t.acknowledged_at,
        escalated_at: t.escalated_at,
        history,
    })
}

/// The incident's inquiry count and time on scene (every ask, including earlier ones).
fn inquiry_summary(
    c: &mut DbConnection,
    inc: &IncidentRow,
    rep: Option<&Report>,
    now: i64,
) -> Result<InquirySummary, DomainError> {
    let asked = |s: TargetStatus| s != TargetStatus::Assigned;
    let mut statuses: Vec<TargetStatus> =
        q::targets(c, &inc.id)?.iter().map(|t| t.status).collect();
    statuses.extend(q::history(c, &inc.id)?.iter().map(|h| h.status));
    let count = statuses.iter().filter(|s| asked(**s)).count();
    let declined = statuses
        .iter()
        .filter(|s| **s == TargetStatus::Declined)
        .count();
    let arrived = rep
        .and_then(|r| r.arrived_on_scene_at)
        .unwrap_or(inc.created_at);
    let left = rep.and_then(|r| r.left_scene_at);
    let end = match (left, inc.status) {
        (Some(l), _) => l,
        (None, IncidentStatus::Open | IncidentStatus::Accepted) => now,
        (None, _) => inc.closed_at.unwrap_or(now),
    };
    let on_scene_secs = (end - arrived).max(0);
    let count = i64::try_from(count).map_err(DomainError::internal)?;
    Ok(InquirySummary {
        count,
        declined: i64::try_from(declined).map_err(DomainError::internal)?,
        arrived_on_scene_at: arrived,
        left_scene_at: left,
        on_scene_secs,
        difficult: count >= DIFFICULT_INQUIRIES && on_scene_secs >= DIFFICULT_ON_SCENE_SECS,
    })
}

/// The incident as `reader` may see it now (a hospital sees only its own target row; the
/// dataset per `grant`, its disclosure audited on `c`).
fn view(
    c: &mut crate::db::Tx<'_>,
    actor: &Actor,
    inc: &IncidentRow,
    reader: Reader<'_>,
    now: i64,
) -> Result<IncidentView, DomainError> {
    let muni = inc.municipality_id.as_str();
    let only_hospital = match reader {
        Reader::Hospital(h) => Some(h),
        Reader::Crew { .. } => None,
    };
    let (patient, dataset) = grant::disclose(c, actor, inc, reader, now)?;
    let clinical = match (reader, &patient) {
        (Reader::Hospital(h), None) => grant::clinical(c, actor, inc, h, now)?,
        _ => None,
    };
    let targets = q::targets(c, &inc.id)?
        .iter()
        .filter(|t| only_hospital.is_none_or(|h| h == t.hospital_id))
        .map(|t| target_view(c, muni, t))
        .collect::<Result<Vec<_>, _>>()?;
    let destination = match &inc.destination_id {
        Some(d) => Some(FacilityRef::from(&facility(c, muni, d)?)),
        None => None,
    };
    let mut report = latest_report(c, inc)?;
    let inquiry = inquiry_summary(c, inc, report.as_ref(), now)?;
    if let Reader::Hospital(h) = reader
        && !receiving(c, inc, h)?
    {
        report.iter_mut().for_each(redact_for_inquiry);
    }
    Ok(IncidentView {
        id: inc.id.clone(),
        incident_ref: inc.incident_ref.clone(),
        status: inc.status,
        fire_department: FacilityRef::from(&facility(c, muni, &inc.facility_id)?),
        destination,
        version: inc.version,
        report,
        patient,
        inquiry,
        dataset,
        clinical,
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

/// Whether hospital `h` receives the patient (it accepted or was assigned); any other hospital
/// reads the report without what could identify the patient (RULES R10).
fn receiving(c: &mut DbConnection, inc: &IncidentRow, h: &str) -> Result<bool, DomainError> {
    Ok(q::target(c, &inc.id, h)?
        .is_some_and(|t| matches!(t.status, TargetStatus::Accepted | TargetStatus::Assigned)))
}

/// The report as a hospital being asked reads it: without the scene's location (often the
/// patient's home address).
fn redact_for_inquiry(r: &mut Report) {
    r.record.location = None;
}

/// The hospitals currently involved (asked, accepted or assigned).
fn involved(c: &mut DbConnection, inc: &IncidentRow) -> Result<Vec<TargetRow>, DomainError> {
    Ok(q::targets(c, &inc.id)?
        .into_iter()
        .filter(|t| {
            matches!(
                t.status,
                TargetStatus::Pending | TargetStatus::Accepted | TargetStatus::Assigned
            )
        })
        .collect())
}

fn reload(c: &mut DbConnection, inc: &IncidentRow) -> Result<IncidentRow, DomainError> {
    q::incident(c, &inc.municipality_id, &inc.id)?
        .ok_or_else(|| DomainError::internal("incident vanished"))
}

/// A successful incident action by the crew or an ED, about the seeded resident if any.
fn incident_event(actor: &Actor, action: Action, inc: &IncidentRow) -> Event {
    let mut e = actor
        .event(action, Outcome::Ok)
        .purpose(Purpose::Incident)
        .detail(format!("incident {}", inc.id));
    e.resident_id = resident_of(inc);
    e
}

/// An attachment's bytes, for the crew or an involved hospital.
#[derive(Debug)]
pub struct Attachment {
    pub content_type: String,
    pub sha256: String,
    pub data: Vec<u8>,
}
