//! The pre-arrival report a crew sends to hospitals (DESIGN §4): what it may contain, and the
//! checks that turn a crew's input into a stored, versioned report. Pure: no database, no clock
//! (`now` is a parameter).
//!
//! Units are fixed (and stated in every stored report): blood pressure mmHg, heart and respiratory
//! rate per minute, SpO2 %, temperature °C, glucose mg/dL. Plausible ranges refuse typing errors
//! (HR 900, SpO2 140) without refusing the very sick (HR 0 in arrest, glucose 20).

use crate::service::error::DomainError;

pub mod record;
pub mod rules;
pub use record::{Record, RecordInput};
use serde::{Deserialize, Serialize};

/// Activation types and their NEMSIS v3 eDisposition.24 codes ("Destination Team Pre-Arrival
/// Alert or Activation"). NEMSIS has no plain paediatric code: `paediatric` maps to 4224011
/// (Pediatric Trauma); `general` is 4224009 (Other).
pub const ACTIVATIONS: [(&str, &str, &str, &str); 8] = [
    ("stroke", "4224015", "脳卒中", "Stroke"),
    ("stemi", "4224013", "STEMI（急性心筋梗塞）", "STEMI"),
    ("trauma", "4224017", "外傷", "Trauma (General)"),
    ("cardiac_arrest", "4224005", "心肺停止", "Cardiac Arrest"),
    ("sepsis", "4224019", "敗血症", "Sepsis"),
    ("obstetric", "4224007", "産科", "Obstetrics"),
    ("paediatric", "4224011", "小児", "Pediatric Trauma"),
    ("general", "4224009", "一般", "Other"),
];

/// The NEMSIS code of an activation type.
pub fn nemsis_code(activation: &str) -> Option<&'static str> {
    ACTIVATIONS.iter().find(|a| a.0 == activation).map(|a| a.1)
}

/// Japan Coma Scale levels, in order. Suffixes: R (restlessness, 不穏), I (incontinence, 失禁),
/// A (apallic state / akinetic mutism, 無動性無言・失外套症候群).
pub const JCS_LEVELS: [&str; 10] = [
    "0", "I-1", "I-2", "I-3", "II-10", "II-20", "II-30", "III-100", "III-200", "III-300",
];
pub const JCS_SUFFIXES: [&str; 3] = ["R", "I", "A"];

/// `Some(x)` for a field that is present (`x` may be `None` for an explicit `null`), so a patch
/// tells "not sent" (kept) from "sent as null" (cleared).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The crew's input: a **patch** on the latest version. What is not sent is kept; `null` clears
/// a clearable field (`onset_at`, `last_known_well_at`, `eta_at`, `notes`). Observations
/// (`vitals`, `jcs`, `gcs`) are added to their series, never replaced.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    /// The version this patch applies to (0 for the first report). A stale base is refused
    /// (`409 version_conflict`) so two crew devices never overwrite each other silently.
    pub base_version: i32,
    /// 1–200 characters (主訴). Required in the first version.
    pub chief_complaint: Option<String>,
    /// One of `stroke`, `stemi`, `trauma`, `cardiac_arrest`, `sepsis`, `obstetric`, `paediatric`,
    /// `general`. Required in the first version. `stroke` needs `last_known_well_at` (or
    /// `last_known_well_unknown: true`); `paediatric` is refused for a patient known to be 18 or
    /// older.
    pub activation: Option<String>,
    /// A new vitals reading, added to the series. `taken_at` (Unix seconds) is optional: the
    /// server's time when the crew does not send it.
    pub vitals: Option<Vitals>,
    /// A new Japan Coma Scale assessment: `0`, `I-1` … `I-3`, `II-10` … `II-30`, `III-100` … `III-300`.
    pub jcs: Option<String>,
    /// Suffixes of this `jcs` (`R`, `I`, `A`); only with a level above 0, `A` only with level I.
    pub jcs_suffixes: Option<Vec<String>>,
    /// When this `jcs` was assessed (Unix seconds; default: the server's time).
    pub jcs_at: Option<i64>,
    /// A new Glasgow Coma Scale assessment.
    pub gcs: Option<GcsInput>,
    /// When this `gcs` was assessed (Unix seconds; default: the server's time).
    pub gcs_at: Option<i64>,
    /// Symptom onset (Unix seconds); `null` clears.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub onset_at: Option<Option<i64>>,
    /// Last known well (Unix seconds); `null` clears.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub last_known_well_at: Option<Option<i64>>,
    /// `true`: the crew could not establish the last-known-well time (an explicit "unknown", which
    /// satisfies a stroke activation). Cleared by sending `last_known_well_at`.
    pub last_known_well_unknown: Option<bool>,
    /// Minutes until arrival (0–240). Sets `eta_at` to now + minutes, **unless** that is less
    /// than 60 s away from the current `eta_at` (a resend of the same estimate keeps the time).
    pub eta_minutes: Option<i64>,
    /// Expected arrival as an absolute time (Unix seconds, within the next 4 hours); `null`
    /// clears. Not together with `eta_minutes`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub eta_at: Option<Option<i64>>,
    /// Crew members (names or call signs), at most 6, each 1–40 characters; replaces the list.
    pub crew: Option<Vec<String>>,
    /// When the incident has no scanned card: the crew's estimate of the age in years (0–120).
    pub estimated_age: Option<i64>,
    /// When the incident has no scanned card: `female`, `male`, `other` or `unknown`.
    pub sex: Option<String>,
    /// Free text for the hospital, at most 1,000 characters; `null` clears.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    /// When the unit arrived on scene (NEMSIS eTimes.06; Unix seconds; default: when the incident
    /// was opened); `null` clears.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub arrived_on_scene_at: Option<Option<i64>>,
    /// When the unit left the scene (NEMSIS eTimes.09; Unix seconds); `null` clears.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub left_scene_at: Option<Option<i64>>,
    /// The clinical record: interventions, pupils, ECG, pain, cardiac arrest, stroke scale,
    /// trauma, pregnancy, weight, infection risk, acuity, … (`record::RecordInput`).
    pub record: Option<RecordInput>,
}

/// One vitals reading, each value optional. Units: mmHg, /min, /min, %, °C, mg/dL.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Vitals {
    /// When the reading was taken (Unix seconds). Optional in input (the server's time); always
    /// set in a stored reading.
    #[serde(default)]
    pub taken_at: Option<i64>,
    /// mmHg, 0–300.
    pub systolic_bp: Option<i64>,
    /// mmHg, 0–200, below the systolic.
    pub diastolic_bp: Option<i64>,
    /// beats/min, 0–300.
    pub heart_rate: Option<i64>,
    /// breaths/min, 0–80.
    pub respiratory_rate: Option<i64>,
    /// %, 0–100.
    pub spo2: Option<i64>,
    /// °C, 25.0–45.0.
    pub temperature: Option<f64>,
    /// mg/dL, 10–2000.
    pub glucose: Option<i64>,
}

impl Vitals {
    fn is_empty(&self) -> bool {
        self.systolic_bp.is_none()
            && self.diastolic_bp.is_none()
            && self.heart_rate.is_none()
            && self.respiratory_rate.is_none()
            && self.spo2.is_none()
            && self.temperature.is_none()
            && self.glucose.is_none()
    }
}

/// Glasgow Coma Scale components.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GcsInput {
    /// Eye opening 1–4.
    pub e: i64,
    /// Verbal 1–5.
    pub v: i64,
    /// Motor 1–6.
    pub m: i64,
}

/// A GCS with its total and time.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Gcs {
    pub e: i64,
    pub v: i64,
    pub m: i64,
    /// 3–15.
    pub total: i64,
    /// When assessed (Unix seconds).
    #[serde(default)]
    pub assessed_at: Option<i64>,
}

/// JCS level with suffixes and time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Jcs {
    /// `0`, `I-1` … `III-300`.
    pub level: String,
    /// The level's number (0, 1, 2, 3, 10, 20, 30, 100, 200, 300).
    pub score: i64,
    pub suffixes: Vec<String>,
    /// The usual short form, e.g. `II-20R` / `III-100RI`.
    pub display: String,
    /// When assessed (Unix seconds).
    #[serde(default)]
    pub assessed_at: Option<i64>,
}

/// The patient as the report describes them: seeded from the scanned card's consented dataset,
/// or the crew's estimate. Never the name (hospitals fetch the scan's dataset with auth).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ReportPatient {
    /// Whole years (from the card's date of birth, or the crew's estimate).
    pub age: Option<i64>,
    /// `0-9`, `10s`, … `90s`, `100+`; `unknown` when no age is known.
    pub age_band: String,
    pub sex: Option<String>,
    /// `card` (seeded from a scan) or `crew` (estimated).
    pub source: String,
}

/// A stored report version: the whole record as of that version (also what hospitals read).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Report {
    pub version: i32,
    /// The fields this version's patch changed (`chief_complaint`, `vitals`, `jcs`, `eta_at` …).
    #[serde(default)]
    pub changed: Vec<String>,
    pub chief_complaint: String,
    pub activation: String,
    /// NEMSIS eDisposition.24 code of the activation.
    pub activation_code: String,
    /// The latest vitals reading (`{}` when none).
    pub vitals: Vitals,
    /// Every vitals reading, oldest first, each with `taken_at`.
    #[serde(default)]
    pub vitals_series: Vec<Vitals>,
    /// Always `{"bp": "mm[Hg]", "rate": "/min", "spo2": "%", "temperature": "Cel", "glucose": "mg/dL"}` (UCUM).
    pub units: Units,
    /// The latest JCS assessment.
    pub jcs: Option<Jcs>,
    /// Every JCS assessment, oldest first.
    #[serde(default)]
    pub jcs_series: Vec<Jcs>,
    /// The latest GCS assessment.
    pub gcs: Option<Gcs>,
    /// Every GCS assessment, oldest first.
    #[serde(default)]
    pub gcs_series: Vec<Gcs>,
    pub onset_at: Option<i64>,
    pub last_known_well_at: Option<i64>,
    /// The crew stated that the last-known-well time is unknown.
    #[serde(default)]
    pub last_known_well_unknown: bool,
    /// Expected arrival (Unix seconds). Changes only when the crew changes it (see
    /// `ReportInput::eta_minutes`).
    pub eta_at: Option<i64>,
    pub crew: Vec<String>,
    pub patient: ReportPatient,
    pub notes: Option<String>,
    /// The unit arrived on scene (NEMSIS eTimes.06), if the crew said so.
    #[serde(default)]
    pub arrived_on_scene_at: Option<i64>,
    /// The unit left the scene (NEMSIS eTimes.09).
    #[serde(default)]
    pub left_scene_at: Option<i64>,
    /// The clinical record (series and objects; `record::Record`).
    #[serde(default)]
    pub record: Record,
    /// Unix seconds.
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Units {
    pub bp: String,
    pub rate: String,
    pub spo2: String,
    pub temperature: String,
    pub glucose: String,
}

impl Default for Units {
    fn default() -> Self {
        Units {
            bp: "mm[Hg]".into(),
            rate: "/min".into(),
            spo2: "%".into(),
            temperature: "Cel".into(),
            glucose: "mg/dL".into(),
        }
    }
}

fn invalid(code: &'static str, message: impl Into<String>) -> DomainError {
    DomainError::unprocessable(code, message)
}

fn range(field: &str, v: Option<i64>, lo: i64, hi: i64, unit: &str) -> Result<(), DomainError> {
    match v {
        Some(x) if x < lo || x > hi => Err(invalid(
            "implausible_vital",
            format!("{field}: {x} {unit} is not plausible (allowed {lo}–{hi} {unit})"),
        )),
        _ => Ok(()),
    }
}

/// Checks the vitals' plausible ranges.
pub fn check_vitals(v: &Vitals) -> Result<(), DomainError> {
    range("vitals.systolic_bp", v.systolic_bp, 0, 300, "mmHg")?;
    range("vitals.diastolic_bp", v.diastolic_bp, 0, 200, "mmHg")?;
    if let (Some(s), Some(d)) = (v.systolic_bp, v.diastolic_bp)
        && d > s
    {
        return Err(invalid(
            "implausible_vital",
            format!("vitals: diastolic {d} mmHg is above systolic {s} mmHg"),
        ));
    }
    range("vitals.heart_rate", v.heart_rate, 0, 300, "/min")?;
    range("vitals.respiratory_rate", v.respiratory_rate, 0, 80, "/min")?;
    range("vitals.spo2", v.spo2, 0, 100, "%")?;
    range("vitals.glucose", v.glucose, 10, 2000, "mg/dL")?;
    if let Some(t) = v.temperature
        && !(25.0..=45.0).contains(&t)
    {
        return Err(invalid(
            "implausible_vital",
            format!("vitals.temperature: {t} °C is not plausible (allowed 25.0–45.0 °C)"),
        ));
    }
    Ok(())
}

/// Parses a JCS level and suffixes.
pub fn parse_jcs(level: &str, suffixes: &[String]) -> Result<Jcs, DomainError> {
    let level = level.trim();
    if !JCS_LEVELS.contains(&level) {
        return Err(invalid(
            "invalid_jcs",
            format!(
                "jcs: {level:?} is not a Japan Coma Scale level; use one of {}",
                JCS_LEVELS.join(", ")
            ),
        ));
    }
    let score: i64 = level
        .rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut out: Vec<String> = Vec::new();
    for s in suffixes {
        let s = s.trim().to_ascii_uppercase();
        if !JCS_SUFFIXES.contains(&s.as_str()) {
            return Err(invalid(
                "invalid_jcs",
                format!("jcs_suffixes: {s:?} is not R, I or A"),
            ));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    if score == 0 && !out.is_empty() {
        return Err(invalid(
            "invalid_jcs",
            "jcs_suffixes: an alert patient (JCS 0) has no suffixes",
        ));
    }
    // Canonical order R, I, A.
    out.sort_by_key(|s| JCS_SUFFIXES.iter().position(|x| x == s));
    let display = format!("{level}{}", out.concat());
    Ok(Jcs {
        level: level.to_string(),
        score,
        suffixes: out,
        display,
        assessed_at: None,
    })
}

/// Checks GCS components and adds the total.
pub fn check_gcs(g: GcsInput) -> Result<Gcs, DomainError> {
    for (name, v, hi) in [("e", g.e, 4), ("v", g.v, 5), ("m", g.m, 6)] {
        if !(1..=hi).contains(&v) {
            return Err(invalid(
                "invalid_gcs",
                format!("gcs.{name}: {v} is outside 1–{hi}"),
            ));
        }
    }
    Ok(Gcs {
        e: g.e,
        v: g.v,
        m: g.m,
        total: g.e + g.v + g.m,
        assessed_at: None,
    })
}

/// Age band for pushes and lists: never the exact age.
pub fn age_band(age: Option<i64>) -> String {
    match age {
        None => "unknown".into(),
        Some(a) if a < 10 => "0-9".into(),
        Some(a) if a >= 100 => "100+".into(),
        Some(a) => format!("{}s", a / 10 * 10),
    }
}

fn time_field(field: &str, t: Option<i64>, now: i64) -> Result<Option<i64>, DomainError> {
    match t {
        Some(t) if t > now + 300 || t < now - 14 * 24 * 3600 => Err(invalid(
            "invalid_time",
            format!("{field}: must be within the last 14 days and not in the future"),
        )),
        other => Ok(other),
    }
}

/// How close (seconds) a new `eta_minutes` must land to the current `eta_at` to be taken as a
/// resend of the same estimate (kept) rather than a change.
pub const ETA_SAME_WITHIN: i64 = 60;

/// An observation's time: the crew's (within the last 14 days, not in the future), else `now`.
fn observed_at(field: &str, t: Option<i64>, now: i64) -> Result<i64, DomainError> {
    Ok(time_field(field, t, now)?.unwrap_or(now))
}

/// Appends `x` to a series kept in time order (a late-entered reading goes where it belongs).
fn insert_by_time<T>(series: &mut Vec<T>, x: T, at: impl Fn(&T) -> i64) {
    let t = at(&x);
    let pos = series.partition_point(|y| at(y) <= t);
    series.insert(pos, x);
}

fn mark(changed: &mut Vec<String>, field: &str) {
    if !changed.iter().any(|c| c == field) {
        changed.push(field.to_string());
    }
}

/// Applies a crew's patch to the latest version (`prev`, `None` for the first report) into the
/// next version. `seeded` is the patient from the scanned card, if the incident has one (then the
/// crew's `estimated_age`/`sex` are ignored in favour of the card's, which the resident
/// registered). Then the whole record is checked for contradictions ([`rules::check`]).
pub fn build(
    input: &ReportInput,
    prev: Option<&Report>,
    version: i32,
    seeded: Option<&ReportPatient>,
    now: i64,
) -> Result<Report, DomainError> {
    let mut changed: Vec<String> = Vec::new();
    let chief_complaint = match (&input.chief_complaint, prev) {
        (Some(c), _) => {
            let c = super::text("chief_complaint", c, 1, 200)?;
            if prev.is_none_or(|p| p.chief_complaint != c) {
                mark(&mut changed, "chief_complaint");
            }
            c
        }
        (None, Some(p)) => p.chief_complaint.clone(),
        (None, None) => {
            return Err(invalid(
                "invalid_field",
                "chief_complaint: required in the first report",
            ));
        }
    };
    let activation = match (&input.activation, prev) {
        (Some(a), _) => {
            let a = a.trim().to_ascii_lowercase();
            if nemsis_code(&a).is_none() {
                return Err(invalid(
                    "invalid_activation",
                    format!("activation: one of {}", ACTIVATIONS.map(|a| a.0).join(", ")),
                ));
            }
            if prev.is_none_or(|p| p.activation != a) {
                mark(&mut changed, "activation");
            }
            a
        }
        (None, Some(p)) => p.activation.clone(),
        (None, None) => {
            return Err(invalid(
                "invalid_field",
                "activation: required in the first report",
            ));
        }
    };
    let code = nemsis_code(&activation).unwrap_or("4224009");

    let mut vitals_series = prev.map(|p| p.vitals_series.clone()).unwrap_or_default();
    if let Some(v) = &input.vitals {
        check_vitals(v)?;
        if v.is_empty() {
            return Err(invalid(
                "invalid_field",
                "vitals: a reading needs at least one value",
            ));
        }
        let mut v = v.clone();
        v.taken_at = Some(observed_at("vitals.taken_at", v.taken_at, now)?);
        insert_by_time(&mut vitals_series, v, |x| x.taken_at.unwrap_or(0));
        mark(&mut changed, "vitals");
    }
    let mut jcs_series = prev.map(|p| p.jcs_series.clone()).unwrap_or_default();
    match input.jcs.as_deref() {
        Some(l) => {
            let mut j = parse_jcs(l, input.jcs_suffixes.as_deref().unwrap_or_default())?;
            j.assessed_at = Some(observed_at("jcs_at", input.jcs_at, now)?);
            insert_by_time(&mut jcs_series, j, |x| x.assessed_at.unwrap_or(0));
            mark(&mut changed, "jcs");
        }
        None if input.jcs_suffixes.is_some() || input.jcs_at.is_some() => {
            return Err(invalid(
                "invalid_jcs",
                "jcs_suffixes and jcs_at need a jcs level",
            ));
        }
        None => {}
    }
    let mut gcs_series = prev.map(|p| p.gcs_series.clone()).unwrap_or_default();
    match input.gcs {
        Some(g) => {
            let mut g = check_gcs(g)?;
            g.assessed_at = Some(observed_at("gcs_at", input.gcs_at, now)?);
            insert_by_time(&mut gcs_series, g, |x| x.assessed_at.unwrap_or(0));
            mark(&mut changed, "gcs");
        }
        None if input.gcs_at.is_some() => {
            return Err(invalid("invalid_gcs", "gcs_at needs a gcs"));
        }
        None => {}
    }

    let mut onset_at = prev.and_then(|p| p.onset_at);
    if let Some(o) = input.onset_at {
        onset_at = time_field("onset_at", o, now)?;
        mark(&mut changed, "onset_at");
    }
    let mut last_known_well_at = prev.and_then(|p| p.last_known_well_at);
    let mut lkw_unknown = prev.is_some_and(|p| p.last_known_well_unknown);
    if let Some(l) = input.last_known_well_at {
        last_known_well_at = time_field("last_known_well_at", l, now)?;
        lkw_unknown = false;
        mark(&mut changed, "last_known_well_at");
    }
    if let Some(u) = input.last_known_well_unknown {
        if u && input.last_known_well_at.flatten().is_some() {
            return Err(invalid(
                "contradiction",
                "last_known_well_unknown: true contradicts the last_known_well_at sent with it",
            ));
        }
        if u {
            last_known_well_at = None;
        }
        lkw_unknown = u;
        mark(&mut changed, "last_known_well_at");
    }
    if let (Some(o), Some(l)) = (onset_at, last_known_well_at)
        && l > o
    {
        return Err(invalid(
            "invalid_time",
            "last_known_well_at: cannot be after onset_at",
        ));
    }

    let prev_eta = prev.and_then(|p| p.eta_at);
    let eta_at = match (input.eta_minutes, input.eta_at) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "invalid_eta",
                "eta_minutes and eta_at: send one of them",
            ));
        }
        (Some(m), None) if !(0..=240).contains(&m) => {
            return Err(invalid(
                "invalid_eta",
                "eta_minutes: 0–240 minutes from now",
            ));
        }
        (Some(m), None) => {
            let at = now + m * 60;
            match prev_eta {
                Some(p) if (at - p).abs() < ETA_SAME_WITHIN => Some(p),
                _ => Some(at),
            }
        }
        (None, Some(Some(at))) if at < now - ETA_SAME_WITHIN || at > now + 240 * 60 => {
            return Err(invalid(
                "invalid_eta",
                "eta_at: within the next 240 minutes",
            ));
        }
        (None, Some(at)) => at,
        (None, None) => prev_eta,
    };
    if eta_at != prev_eta {
        mark(&mut changed, "eta_at");
    }

    let crew = match &input.crew {
        Some(list) => {
            if list.len() > 6 {
                return Err(invalid("invalid_field", "crew: at most 6 members"));
            }
            let crew = list
                .iter()
                .map(|c| super::text("crew", c, 1, 40))
                .collect::<Result<Vec<_>, _>>()?;
            if prev.is_none_or(|p| p.crew != crew) {
                mark(&mut changed, "crew");
            }
            crew
        }
        None => prev.map(|p| p.crew.clone()).unwrap_or_default(),
    };
    let notes = match &input.notes {
        Some(n) => {
            let n = super::opt_text("notes", n, 1000)?;
            if prev.is_none_or(|p| p.notes != n) {
                mark(&mut changed, "notes");
            }
            n
        }
        None => prev.and_then(|p| p.notes.clone()),
    };
    let record = record::apply(
        input.record.as_ref(),
        &prev.map(|p| p.record.clone()).unwrap_or_default(),
        now,
        &mut changed,
    )?;
    let mut arrived_on_scene_at = prev.and_then(|p| p.arrived_on_scene_at);
    if let Some(t) = input.arrived_on_scene_at {
        arrived_on_scene_at = time_field("arrived_on_scene_at", t, now)?;
        mark(&mut changed, "arrived_on_scene_at");
    }
    let mut left_scene_at = prev.and_then(|p| p.left_scene_at);
    if let Some(t) = input.left_scene_at {
        left_scene_at = time_field("left_scene_at", t, now)?;
        mark(&mut changed, "left_scene_at");
    }
    if let (Some(a), Some(l)) = (arrived_on_scene_at, left_scene_at)
        && l < a
    {
        return Err(invalid(
            "invalid_time",
            "left_scene_at: cannot be before arrived_on_scene_at",
        ));
    }
    let patient = match seeded {
        Some(p) => p.clone(),
        None => {
            let mut p = prev.map(|p| p.patient.clone()).unwrap_or(ReportPatient {
                age: None,
                age_band: age_band(None),
                sex: None,
                source: "crew".into(),
            });
            if let Some(a) = input.estimated_age {
                if !(0..=120).contains(&a) {
                    return Err(invalid("invalid_field", "estimated_age: 0–120 years"));
                }
                p.age = Some(a);
                p.age_band = age_band(Some(a));
                mark(&mut changed, "patient");
            }
            match input.sex.as_deref().map(str::trim) {
                None => {}
                Some("") => p.sex = None,
                Some(s @ ("female" | "male" | "other" | "unknown")) => {
                    p.sex = Some(s.to_string());
                    mark(&mut changed, "patient");
                }
                Some(_) => {
                    return Err(invalid(
                        "invalid_field",
                        "sex: female, male, other or unknown",
                    ));
                }
            }
            p
        }
    };
    let report = Report {
        version,
        changed,
        chief_complaint,
        activation,
        activation_code: code.to_string(),
        vitals: vitals_series.last().cloned().unwrap_or_default(),
        vitals_series,
        units: Units::default(),
        jcs: jcs_series.last().cloned(),
        jcs_series,
        gcs: gcs_series.last().copied(),
        gcs_series,
        onset_at,
        last_known_well_at,
        last_known_well_unknown: lkw_unknown,
        eta_at,
        crew,
        patient,
        notes,
        arrived_on_scene_at,
        left_scene_at,
        record,
        created_at: now,
    };
    rules::check(&report)?;
    Ok(report)
}

#[cfg(test)]
mod tests;
