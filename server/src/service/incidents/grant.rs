//! Who sees the resident's dataset in an incident, and until when (DESIGN "staged disclosure",
//! issue 19). An incident opened from a scan keeps a copy of the consented dataset (its seed);
//! opening an incident must not stretch the scan's grant, so every read decides again:
//!
//! - **The crew**: only the paramedic who scanned, on the device that scanned, while the scan's
//!   grant lasts (4 h, [`SCAN_GRANT_SECS`]; 1 h for break-glass) — the same rule as re-reading
//!   the scan. Another paramedic on the same device, or the same paramedic on another device,
//!   sees the clinical report but not the dataset.
//! - **Hospitals asked** (pending) see the clinical picture without identity.
//! - **The destination** (the hospital that accepted, or that the crew assigned) sees it for the
//!   hand-over: until [`HANDOVER_SECS`] after arrival, and never later than that long after the
//!   scan's grant ends (whichever is first).
//! - For everyone: never once consent is withdrawn, the resident is no longer active or the card
//!   scanned was revoked; never more than the consent in force now.
//!
//! Otherwise the view carries `patient: null` and `dataset.status` says why. Every disclosure is
//! an `incident.dataset` audit event about the resident (in their access history).

use super::seed_now;
use crate::audit::{self, Action, Outcome};
use crate::db::incidents::{self as q, IncidentRow};
use crate::db::{self, Tx};
use crate::domain::Purpose;
use crate::domain::{CardStatus, IncidentStatus, TargetStatus};
use crate::service::accounts::Actor;
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
    if now >= until {
        return Ok(DatasetAccess::withheld(S::Expired, Some(until)));
    }
    if let Some(card_id) = &access.card_id {
        let active = db::cards::card(c, &inc.municipality_id, card_id)?
            .is_some_and(|r| r.status == CardStatus::Active);
        if !active {
            return Ok(DatasetAccess::withheld(S::Withdrawn, Some(until)));
        }
    }
    let Some(d) = seed_now(c, inc)? else {
        return Ok(DatasetAccess::withheld(S::Withdrawn, Some(until)));
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
