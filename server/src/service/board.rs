//! The ED board's summary (issue 25, `GET /api/v1/hospital/board`): what a board card shows
//! without opening the incident — the latest value of each vital with the one before (a trend),
//! JCS/GCS and stroke times — for the open inquiries of
//! `GET /api/v1/hospital/incidents`; the inquiries another hospital took ("他院で決定", no clinical
//! data: this hospital is no longer involved); and the patients who arrived here in the last 24
//! hours, for handover. No names, addresses or contacts: a board is read across the room. One
//! audited read (`incident.list`) per call.

use super::accounts::Actor;
use super::deny;
use super::disclosure::Disclosure;
use super::error::DomainError;
use super::incidents::FacilityRef;
use super::report::{self, Gcs, Jcs, Report, Vitals};
use crate::audit::{self, Action, Outcome};
use crate::db::incidents::{self as q, IncidentRow};
use crate::db::{self, Db, DbConnection, board as b};
use crate::domain::{Purpose, Role, TargetStatus};
use serde::Serialize;

/// How far back the board lists arrivals and inquiries taken elsewhere (seconds).
pub const BOARD_WINDOW: i64 = 24 * 3600;

/// One vital's latest reading and the reading of it before (the same measure), if any.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Latest {
    pub value: f64,
    /// When the latest reading was taken (Unix seconds).
    pub taken_at: Option<i64>,
    /// The measure's previous value, for a trend arrow.
    pub previous: Option<f64>,
}

/// The latest of each vital (none when never measured).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct KeyVitals {
    pub systolic_bp: Option<Latest>,
    pub diastolic_bp: Option<Latest>,
    pub heart_rate: Option<Latest>,
    pub respiratory_rate: Option<Latest>,
    pub spo2: Option<Latest>,
    pub temperature: Option<Latest>,
    pub glucose: Option<Latest>,
}

/// What a board card shows of an incident's clinical picture.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BoardSummary {
    pub incident_id: String,
    /// The report version summarised (0: no report yet).
    pub version: i32,
    pub vitals: KeyVitals,
    /// How many vitals readings the record holds.
    pub readings: usize,
    pub jcs: Option<Jcs>,
    pub gcs: Option<Gcs>,
    pub onset_at: Option<i64>,
    pub last_known_well_at: Option<i64>,
    pub last_known_well_unknown: bool,
}

/// An inquiry another hospital accepted: no clinical data (this hospital is out of it).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ElsewhereView {
    pub incident_id: String,
    pub activation: Option<String>,
    pub age_band: String,
    pub sex: Option<String>,
    pub fire_department: FacilityRef,
    pub asked_at: i64,
    /// When the other hospital accepted (Unix seconds).
    pub decided_at: Option<i64>,
}

/// A patient who arrived at this hospital.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ArrivalView {
    pub incident_id: String,
    /// The fire department's own reference of the incident (for the handover).
    pub incident_ref: String,
    pub activation: Option<String>,
    pub chief_complaint: Option<String>,
    pub age_band: String,
    pub sex: Option<String>,
    pub fire_department: FacilityRef,
    pub arrived_at: Option<i64>,
    pub summary: BoardSummary,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BoardView {
    /// Arrivals and inquiries taken elsewhere are listed from this time (Unix seconds).
    pub since: i64,
    /// One per incident of `GET /api/v1/hospital/incidents`.
    pub summaries: Vec<BoardSummary>,
    pub elsewhere: Vec<ElsewhereView>,
    pub arrivals: Vec<ArrivalView>,
}

fn latest_report(c: &mut DbConnection, inc: &IncidentRow) -> Result<Option<Report>, DomainError> {
    if inc.version == 0 {
        return Ok(None);
    }
    match q::report(c, &inc.id, inc.version)? {
        Some(row) => Ok(Some(
            serde_json::from_str(&row.body).map_err(DomainError::internal)?,
        )),
        None => Err(DomainError::internal(format!(
            "report {} v{} missing",
            inc.id, inc.version
        ))),
    }
}

fn seed(inc: &IncidentRow) -> Result<Option<Disclosure>, DomainError> {
    inc.seed
        .as_deref()
        .map(|s| serde_json::from_str(s).map_err(DomainError::internal))
        .transpose()
}

/// The latest of one measure over the series (oldest first) and the value before it.
fn latest(series: &[Vitals], get: impl Fn(&Vitals) -> Option<f64>) -> Option<Latest> {
    let mut got = series
        .iter()
        .filter_map(|v| get(v).map(|x| (x, v.taken_at)));
    let mut last = got.next()?;
    let mut previous = None;
    for g in got {
        previous = Some(last.0);
        last = g;
    }
    Some(Latest {
        value: last.0,
        taken_at: last.1,
        previous,
    })
}

#[allow(clippy::cast_precision_loss)] // vitals are small integers
fn key_vitals(series: &[Vitals]) -> KeyVitals {
    let f = |x: Option<i64>| x.map(|n| n as f64);
    KeyVitals {
        systolic_bp: latest(series, |v| f(v.systolic_bp)),
        diastolic_bp: latest(series, |v| f(v.diastolic_bp)),
        heart_rate: latest(series, |v| f(v.heart_rate)),
        respiratory_rate: latest(series, |v| f(v.respiratory_rate)),
        spo2: latest(series, |v| f(v.spo2)),
        temperature: latest(series, |v| v.temperature),
        glucose: latest(series, |v| f(v.glucose)),
    }
}

fn summary(inc: &IncidentRow, rep: Option<&Report>) -> BoardSummary {
    let series: &[Vitals] = rep.map_or(&[], |r| r.vitals_series.as_slice());
    BoardSummary {
        incident_id: inc.id.clone(),
        version: inc.version,
        vitals: key_vitals(series),
        readings: series.len(),
        jcs: rep.and_then(|r| r.jcs.clone()),
        gcs: rep.and_then(|r| r.gcs),
        onset_at: rep.and_then(|r| r.onset_at),
        last_known_well_at: rep.and_then(|r| r.last_known_well_at),
        last_known_well_unknown: rep.is_some_and(|r| r.last_known_well_unknown),
    }
}

fn age_sex(
    inc: &IncidentRow,
    rep: Option<&Report>,
) -> Result<(String, Option<String>), DomainError> {
    if let Some(r) = rep {
        return Ok((r.patient.age_band.clone(), r.patient.sex.clone()));
    }
    Ok(match seed(inc)? {
        Some(d) => (
            report::age_band(Some(i64::from(d.patient.age))),
            Some(d.patient.sex),
        ),
        None => ("unknown".into(), None),
    })
}

fn fire_department(c: &mut DbConnection, inc: &IncidentRow) -> Result<FacilityRef, DomainError> {
    // The crew's fire department is of the incident's municipality (a joint one serving it is
    // found through its membership there).
    let f = db::facilities::facility(c, &inc.municipality_id, &inc.facility_id)?
        .ok_or_else(|| DomainError::internal(format!("facility {} missing", inc.facility_id)))?;
    Ok(FacilityRef::from(&f))
}

/// The board's summary for an ED staff member's hospital (see the module's comment).
pub fn board(db: &Db, actor: &Actor, now: i64) -> Result<BoardView, DomainError> {
    let own = actor.municipality_id.as_str();
    let hospital = match (actor.role, &actor.facility_id) {
        (Role::EdStaff, Some(h)) => h.clone(),
        _ => {
            return Err(deny(
                db,
                own,
                actor.event(Action::ListIncidents, Outcome::Denied),
                DomainError::forbidden("only emergency department staff of a hospital may do this"),
                now,
            ));
        }
    };
    let since = now - BOARD_WINDOW;
    db.write(|c| {
        let mut summaries = vec![];
        let mut elsewhere = vec![];
        let mut arrivals = vec![];
        // Its own municipality's incidents, then those of every municipality it joined (issue
        // 22; only incidents that asked it); each municipality's part audited on its chain.
        let mut munis = vec![own.to_string()];
        munis.extend(db::memberships::joined_by(c, &hospital)?);
        for muni in &munis {
            let muni = muni.as_str();
            let counts = (summaries.len(), elsewhere.len(), arrivals.len());
            for (inc, _) in q::hospital_incidents(c, muni, &hospital)? {
                let rep = latest_report(c, &inc)?;
                summaries.push(summary(&inc, rep.as_ref()));
            }
            for (inc, t) in b::taken_elsewhere(c, muni, &hospital, since)? {
                let rep = latest_report(c, &inc)?;
                let (age_band, sex) = age_sex(&inc, rep.as_ref())?;
                let decided_at = q::targets(c, &inc.id)?
                    .iter()
                    .filter(|x| x.status == TargetStatus::Accepted)
                    .find_map(|x| x.answered_at);
                elsewhere.push(ElsewhereView {
                    incident_id: inc.id.clone(),
                    activation: inc.activation.clone(),
                    age_band,
                    sex,
                    fire_department: fire_department(c, &inc)?,
                    asked_at: t.asked_at,
                    decided_at,
                });
            }
            for inc in b::arrivals(c, muni, &hospital, since)? {
                let rep = latest_report(c, &inc)?;
                let (age_band, sex) = age_sex(&inc, rep.as_ref())?;
                arrivals.push(ArrivalView {
                    incident_id: inc.id.clone(),
                    incident_ref: inc.incident_ref.clone(),
                    activation: inc.activation.clone(),
                    chief_complaint: rep.as_ref().map(|r| r.chief_complaint.clone()),
                    age_band,
                    sex,
                    fire_department: fire_department(c, &inc)?,
                    arrived_at: inc.closed_at,
                    summary: summary(&inc, rep.as_ref()),
                });
            }
            let n = (
                summaries.len() - counts.0,
                elsewhere.len() - counts.1,
                arrivals.len() - counts.2,
            );
            if muni != own && n == (0, 0, 0) {
                continue;
            }
            audit::append(
                c,
                muni,
                &actor
                    .event(Action::ListIncidents, Outcome::Ok)
                    .purpose(Purpose::Incident)
                    .detail(format!(
                        "board: {} open, {} elsewhere, {} arrived",
                        n.0, n.1, n.2
                    )),
                now,
            );
        }
        Ok(BoardView {
            since,
            summaries,
            elsewhere,
            arrivals,
        })
    })
}
