//! Who sees the resident's dataset in an incident, and until when (DESIGN "staged disclosure",
//! issue 19). An incident opened from a scan keeps a copy of the consented dataset (its seed);
//! opening an incident must not stretch the scan's grant, so every read decides again:
//!
//! - **The crew**: only the paramedic who scanned, on the device that scanned, while the scan's
//!   grant lasts (4 h, [`SCAN_GRANT_SECS`]; 1 h for break-glass) — the same rule as re-reading
//!   the scan. Another paramedic on the same device, or the same paramedic on another device,
//!   sees the clinical report but not the dataset.
//! - **Hospitals asked** (pending, while the incident is open) see the clinical picture without
//!   identity ([`ClinicalPicture`], RULES R10 minimal necessary): age, sex and the medically
//!   relevant consented items ([`CLINICAL_CATEGORIES`]) — never the name, kana, date of birth,
//!   resident id, care team or emergency contacts, and not where the directive is kept. A
//!   hospital that declined, or whose inquiry ended because the patient goes elsewhere, sees
//!   nothing (`403 not_involved`).
//! - **The destination** (the hospital that accepted, or that the crew assigned) sees it for the
//!   hand-over: until [`HANDOVER_SECS`] after arrival, and never later than that long after the
//!   scan's grant ends (whichever is first).
//! - For everyone: never once consent is withdrawn, the resident is no longer active or the card
//!   scanned was revoked; never more than the consent in force now.
//!
//! Otherwise the view carries `patient: null` and `dataset.status` says why. Every disclosure is
//! an audit event about the resident (in their access history): `incident.dataset` (the whole
//! consented dataset), `incident.clinical` (the clinical picture for an inquiry).

use super::seed_now;
use crate::audit::{self, Action, Outcome};
use crate::db::access::AccessRow;
use crate::db::incidents::{self as q, IncidentRow};
use crate::db::{self, Tx};
use crate::domain::Purpose;
use crate::domain::{CardStatus, Category, IncidentStatus, TargetStatus};
use crate::service::accounts::Actor;
use crate::service::consent::Consent;
use crate::service::dataset::Item;
use crate::service::disclosure::Disclosure;
use crate::service::error::DomainError;
use serde::Serialize;

#[cfg(doc)]
use crate::service::access::SCAN_GRANT_SECS;

/// After arrival the destination hospital keeps the dataset this long: the hand-over of the
/// patient and of what the resident registered (allergies, anticoagulants, devices, contacts for
/// the family) into the hospital's own record happens in the first hours in the emergency
/// department; after that the hospital's chart, not this copy, is the record. Two hours is also
/// shorter than the scan's grant, so the hospital never holds it longer than the crew could.
pub const HANDOVER_SECS: i64 = 2 * 3600;

/// Who reads the incident.
#[derive(Debug, Clone, Copy)]
pub enum Reader<'a> {
    /// A paramedic's signed request from a device.
    Crew { account: &'a str, device: &'a str },
    /// ED staff of this hospital.
    Hospital(&'a str),
}

/// Why `patient` is (or is not) in the view, for this reader, now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatasetStatus {
    /// `patient` holds the consented dataset.
    Shown,
    /// The incident was not opened from a scan or break-glass access.
    None,
    /// This reader is not the scanning paramedic on the scanning device, nor the destination
    /// hospital (hospitals still deciding see the report without identity).
    NotGranted,
    /// The scan's grant (crew) or the hand-over window (hospital) is over.
    Expired,
    /// Consent was withdrawn, the resident is no longer active, or the card scanned was revoked.
    Withdrawn,
}

/// Whether this reader sees the resident's dataset (`patient`), and until when.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DatasetAccess {
    /// `shown`, `none`, `not_granted`, `expired` or `withdrawn`.
    pub status: DatasetStatus,
    /// When this reader's access ends (Unix seconds), when known: the scan's grant for the crew,
    /// the hand-over window for the destination hospital. Set also once it has passed.
    pub until: Option<i64>,
}

impl DatasetAccess {
    fn withheld(status: DatasetStatus, until: Option<i64>) -> (Option<Disclosure>, Self) {
        (None, DatasetAccess { status, until })
    }
}

/// The dataset this reader may see now (or why not); a disclosure is audited on `c`.
pub(super) fn disclose(
    c: &mut Tx<'_>,
    actor: &Actor,
    inc: &IncidentRow,
    reader: Reader<'_>,
    now: i64,
) -> Result<(Option<Disclosure>, DatasetAccess), DomainError> {
    use DatasetStatus as S;
    if inc.seed.is_none() {
        return Ok(DatasetAccess::withheld(S::None, None));
    }
    let access = match &inc.access_id {
        Some(a) => db::access::access(c, &inc.municipality_id, a)?,
        None => None,
    };
    let Some(access) = access else {
        return Ok(DatasetAccess::withheld(S::Expired, None));
    };
    let (until, purpose) = match reader {
        Reader::Crew { account, device } => {
            if access.account_id != account || access.device_id != device {
                return Ok(DatasetAccess::withheld(S::NotGranted, None));
            }
            (access.expires_at, Purpose::Incident)
        }
        Reader::Hospital(h) => {
            let destination = inc.destination_id.as_deref() == Some(h)
                && q::target(c, &inc.id, h)?.is_some_and(|t| {
                    matches!(t.status, TargetStatus::Accepted | TargetStatus::Assigned)
                });
            if !destination || inc.status == IncidentStatus::Cancelled {
                return Ok(DatasetAccess::withheld(S::NotGranted, None));
            }
            let end = match (inc.status, inc.closed_at) {
                (IncidentStatus::Arrived, Some(at)) => at.min(access.expires_at),
                _ => access.expires_at,
            };
            (end + HANDOVER_SECS, Purpose::Handover)
        }
    };
    let d = match consented_now(c, inc, &access, until, now)? {
        Ok(d) => d,
        Err(status) => return Ok(DatasetAccess::withheld(status, Some(until))),
    };
    let event = actor
        .event(Action::ReadIncidentDataset, Outcome::Ok)
        .about(&d.patient.id)
        .purpose(purpose)
        .detail(format!("incident {} access {}", inc.id, access.id));
    audit::append(c, &inc.municipality_id, &event, now);
    Ok((
        Some(d),
        DatasetAccess {
            status: S::Shown,
            until: Some(until),
        },
    ))
}

/// The scan's dataset as the consent in force allows it now, if its access is still within
/// `until`, the card scanned is still valid and the resident active; else why not.
fn consented_now(
    c: &mut Tx<'_>,
    inc: &IncidentRow,
    access: &AccessRow,
    until: i64,
    now: i64,
) -> Result<Result<Disclosure, DatasetStatus>, DomainError> {
    if now >= until {
        return Ok(Err(DatasetStatus::Expired));
    }
    if let Some(card_id) = &access.card_id {
        let active = db::cards::card(c, &inc.municipality_id, card_id)?
            .is_some_and(|r| r.status == CardStatus::Active);
        if !active {
            return Ok(Err(DatasetStatus::Withdrawn));
        }
    }
    Ok(seed_now(c, inc)?.ok_or(DatasetStatus::Withdrawn))
}

/// The consented categories a hospital being asked sees: what bears on whether it can take the
/// patient (anticoagulants, allergies, devices, the directive, conditions, blood type). Never the
/// care team or emergency contacts (names and phone numbers of people).
pub const CLINICAL_CATEGORIES: [Category; 6] = [
    Category::Medications,
    Category::Conditions,
    Category::Allergies,
    Category::Devices,
    Category::BloodType,
    Category::AdvanceDirective,
];

/// What a hospital being asked to accept (受入照会, `pending`) sees of the resident: the clinical
/// picture needed to decide, without identity (RULES R10). The hospital that accepts gets the
/// whole consented dataset (`patient`) instead.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClinicalPicture {
    /// Whole years (from the registered date of birth).
    pub age: u32,
    /// `0-9`, `10s`, … `100+`.
    pub age_band: String,
    /// `female` | `male` | `other` | `unknown`.
    pub sex: String,
    /// The consented categories shown (a subset of `medications`, `conditions`, `allergies`,
    /// `devices`, `blood_type`, `advance_directive`).
    #[schema(value_type = Vec<String>)]
    pub categories: Vec<Category>,
    /// A consented medication is an anticoagulant (bleeding risk; the ED prepares reversal).
    pub anticoagulant: bool,
    /// The items of those categories (an advance directive without `document_location`).
    pub items: Vec<Item>,
    /// The consent in force (its version and date; no proxy id).
    pub consent: Consent,
    /// The scan's kind: `scan` or `break_glass`.
    #[schema(value_type = String)]
    pub kind: crate::domain::DisclosureKind,
    /// When this hospital's view of it ends at the latest (the scan's grant).
    pub until: i64,
}

impl ClinicalPicture {
    fn of(d: Disclosure, until: i64) -> Self {
        let categories: Vec<Category> = d
            .categories
            .iter()
            .copied()
            .filter(|c| CLINICAL_CATEGORIES.contains(c))
            .collect();
        let items: Vec<Item> = d
            .items
            .into_iter()
            .filter(|i| categories.contains(&i.category))
            .map(|mut i| {
                if i.category == Category::AdvanceDirective
                    && let Some(o) = i.body.as_object_mut()
                {
                    o.remove("document_location");
                }
                i
            })
            .collect();
        let anticoagulant = items.iter().any(|i| {
            i.category == Category::Medications
                && i.body["anticoagulant"] == serde_json::json!(true)
        });
        let mut consent = d.consent;
        consent.proxy_id = None;
        ClinicalPicture {
            age: d.patient.age,
            age_band: crate::service::report::age_band(Some(i64::from(d.patient.age))),
            sex: d.patient.sex,
            categories,
            anticoagulant,
            items,
            consent,
            kind: d.kind,
            until,
        }
    }
}

/// The clinical picture for hospital `h` while it is being asked (its inquiry `pending` and the
/// incident open), within the scan's grant and the consent in force; `None` otherwise. Each
/// disclosure is an `incident.clinical` audit event about the resident, on `c`.
pub(super) fn clinical(
    c: &mut Tx<'_>,
    actor: &Actor,
    inc: &IncidentRow,
    h: &str,
    now: i64,
) -> Result<Option<ClinicalPicture>, DomainError> {
    if inc.seed.is_none() || inc.status != IncidentStatus::Open {
        return Ok(None);
    }
    if !q::target(c, &inc.id, h)?.is_some_and(|t| t.status == TargetStatus::Pending) {
        return Ok(None);
    }
    let access = match &inc.access_id {
        Some(a) => db::access::access(c, &inc.municipality_id, a)?,
        None => None,
    };
    let Some(access) = access else {
        return Ok(None);
    };
    let Ok(d) = consented_now(c, inc, &access, access.expires_at, now)? else {
        return Ok(None);
    };
    let event = actor
        .event(Action::ReadIncidentClinical, Outcome::Ok)
        .about(&d.patient.id)
        .purpose(Purpose::Incident)
        .detail(format!("incident {} access {}", inc.id, access.id));
    audit::append(c, &inc.municipality_id, &event, now);
    Ok(Some(ClinicalPicture::of(d, access.expires_at)))
}
