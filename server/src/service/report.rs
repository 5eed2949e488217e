//! The pre-arrival report a crew sends to hospitals (DESIGN §4): what it may contain, and the
//! checks that turn a crew's input into a stored, versioned report. Pure: no database, no clock
//! (`now` is a parameter).
//!
//! Units are fixed (and stated in every stored report): blood pressure mmHg, heart and respiratory
//! rate per minute, SpO2 %, temperature °C, glucose mg/dL. Plausible ranges refuse typing errors
//! (HR 900, SpO2 140) without refusing the very sick (HR 0 in arrest, glucose 20).

use crate::service::error::DomainError;
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

/// The crew's input: a new version of the report.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    /// The version this one replaces (0 for the first report). A stale base is refused
    /// (`409 version_conflict`) so two crew devices never overwrite each other silently.
    pub base_version: i32,
    /// 1–200 characters (主訴).
    pub chief_complaint: String,
    /// One of `stroke`, `stemi`, `trauma`, `cardiac_arrest`, `sepsis`, `obstetric`, `paediatric`,
    /// `general`.
    pub activation: String,
    #[serde(default)]
    pub vitals: Vitals,
    /// Japan Coma Scale: `0`, `I-1` … `I-3`, `II-10` … `II-30`, `III-100` … `III-300`.
    pub jcs: Option<String>,
    /// JCS suffixes (`R`, `I`, `A`); only with a level above 0.
    #[serde(default)]
    pub jcs_suffixes: Vec<String>,
    pub gcs: Option<GcsInput>,
    /// Symptom onset (Unix seconds).
    pub onset_at: Option<i64>,
    /// Last known well (Unix seconds).
    pub last_known_well_at: Option<i64>,
    /// Minutes until arrival at the hospital (0–240).
    pub eta_minutes: Option<i64>,
    /// Crew members (names or call signs), at most 6, each 1–40 characters.
    #[serde(default)]
    pub crew: Vec<String>,
    /// When the incident has no scanned card: the crew's estimate of the age in years (0–120).
    pub estimated_age: Option<i64>,
    /// When the incident has no scanned card: `female`, `male`, `other` or `unknown`.
    pub sex: Option<String>,
    /// Free text for the hospital, at most 1,000 characters.
    pub notes: Option<String>,
}

/// Vital signs, each optional. Units: mmHg, /min, /min, %, °C, mg/dL.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Vitals {
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

/// A GCS with its total.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Gcs {
    pub e: i64,
    pub v: i64,
    pub m: i64,
    /// 3–15.
    pub total: i64,
}

/// JCS level with suffixes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Jcs {
    /// `0`, `I-1` … `III-300`.
    pub level: String,
    /// The level's number (0, 1, 2, 3, 10, 20, 30, 100, 200, 300).
    pub score: i64,
    pub suffixes: Vec<String>,
    /// The usual short form, e.g. `II-20R` / `III-100RI`.
    pub display: String,
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

/// A stored report version (also what hospitals read).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Report {
    pub version: i32,
    pub chief_complaint: String,
    pub activation: String,
    /// NEMSIS eDisposition.24 code of the activation.
    pub activation_code: String,
    pub vitals: Vitals,
    /// Always `{"bp": "mm[Hg]", "rate": "/min", "spo2": "%", "temperature": "Cel", "glucose": "mg/dL"}` (UCUM).
    pub units: Units,
    pub jcs: Option<Jcs>,
    pub gcs: Option<Gcs>,
    pub onset_at: Option<i64>,
    pub last_known_well_at: Option<i64>,
    /// Expected arrival (Unix seconds), from `eta_minutes` when the report was sent.
    pub eta_at: Option<i64>,
    pub crew: Vec<String>,
    pub patient: ReportPatient,
    pub notes: Option<String>,
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

/// Validates a crew's input into the next report version. `seeded` is the patient from the scanned
/// card, if the incident has one (then the crew's `estimated_age`/`sex` are ignored in favour of
/// the card's, which the resident registered).
pub fn build(
    input: &ReportInput,
    version: i32,
    seeded: Option<&ReportPatient>,
    now: i64,
) -> Result<Report, DomainError> {
    let chief_complaint = super::text("chief_complaint", &input.chief_complaint, 1, 200)?;
    let activation = input.activation.trim().to_ascii_lowercase();
    let Some(code) = nemsis_code(&activation) else {
        return Err(invalid(
            "invalid_activation",
            format!("activation: one of {}", ACTIVATIONS.map(|a| a.0).join(", ")),
        ));
    };
    check_vitals(&input.vitals)?;
    let jcs = match input.jcs.as_deref() {
        Some(l) => Some(parse_jcs(l, &input.jcs_suffixes)?),
        None if !input.jcs_suffixes.is_empty() => {
            return Err(invalid("invalid_jcs", "jcs_suffixes need a jcs level"));
        }
        None => None,
    };
    let gcs = input.gcs.map(check_gcs).transpose()?;
    let onset_at = time_field("onset_at", input.onset_at, now)?;
    let last_known_well_at = time_field("last_known_well_at", input.last_known_well_at, now)?;
    if let (Some(o), Some(l)) = (onset_at, last_known_well_at)
        && l > o
    {
        return Err(invalid(
            "invalid_time",
            "last_known_well_at: cannot be after onset_at",
        ));
    }
    let eta_at = match input.eta_minutes {
        Some(m) if !(0..=240).contains(&m) => {
            return Err(invalid(
                "invalid_eta",
                "eta_minutes: 0–240 minutes from now",
            ));
        }
        Some(m) => Some(now + m * 60),
        None => None,
    };
    if input.crew.len() > 6 {
        return Err(invalid("invalid_field", "crew: at most 6 members"));
    }
    let crew = input
        .crew
        .iter()
        .map(|c| super::text("crew", c, 1, 40))
        .collect::<Result<Vec<_>, _>>()?;
    let notes = super::opt_text("notes", &input.notes, 1000)?;
    let patient = match seeded {
        Some(p) => p.clone(),
        None => {
            if let Some(a) = input.estimated_age
                && !(0..=120).contains(&a)
            {
                return Err(invalid("invalid_field", "estimated_age: 0–120 years"));
            }
            let sex = match input.sex.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(s @ ("female" | "male" | "other" | "unknown")) => Some(s.to_string()),
                Some(_) => {
                    return Err(invalid(
                        "invalid_field",
                        "sex: female, male, other or unknown",
                    ));
                }
            };
            ReportPatient {
                age: input.estimated_age,
                age_band: age_band(input.estimated_age),
                sex,
                source: "crew".into(),
            }
        }
    };
    Ok(Report {
        version,
        chief_complaint,
        activation,
        activation_code: code.to_string(),
        vitals: input.vitals.clone(),
        units: Units::default(),
        jcs,
        gcs,
        onset_at,
        last_known_well_at,
        eta_at,
        crew,
        patient,
        notes,
        created_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    const NOW: i64 = 1_795_000_000;

    fn input() -> ReportInput {
        serde_json::from_value(serde_json::json!({
            "base_version": 0,
            "chief_complaint": "胸痛",
            "activation": "stemi",
            "vitals": {"systolic_bp": 92, "diastolic_bp": 60, "heart_rate": 112,
                       "respiratory_rate": 24, "spo2": 93, "temperature": 36.9, "glucose": 140},
            "jcs": "II-10", "jcs_suffixes": ["i", "R"],
            "gcs": {"e": 3, "v": 4, "m": 6},
            "onset_at": NOW - 1800, "last_known_well_at": NOW - 2400,
            "eta_minutes": 12, "crew": ["救急隊長 佐藤"], "estimated_age": 84, "sex": "female"
        }))
        .unwrap()
    }

    #[test]
    fn a_full_report() {
        let r = build(&input(), 1, None, NOW).unwrap();
        assert_eq!(r.activation_code, "4224013");
        assert_eq!(r.gcs.unwrap().total, 13);
        let j = r.jcs.unwrap();
        assert_eq!((j.score, j.display.as_str()), (10, "II-10RI"));
        assert_eq!(r.eta_at, Some(NOW + 720));
        assert_eq!(r.patient.age_band, "80s");
    }

    #[test]
    fn impossible_values_are_refused_with_their_field() {
        let cases: Vec<(&str, serde_json::Value, &str)> = vec![
            (
                "implausible_vital",
                serde_json::json!({"vitals": {"heart_rate": 900}}),
                "heart_rate",
            ),
            (
                "implausible_vital",
                serde_json::json!({"vitals": {"spo2": 140}}),
                "spo2",
            ),
            (
                "implausible_vital",
                serde_json::json!({"vitals": {"temperature": 60.0}}),
                "temperature",
            ),
            (
                "implausible_vital",
                serde_json::json!({"vitals": {"systolic_bp": 80, "diastolic_bp": 120}}),
                "diastolic",
            ),
            ("invalid_jcs", serde_json::json!({"jcs": "II-15"}), "II-15"),
            (
                "invalid_jcs",
                serde_json::json!({"jcs": "0", "jcs_suffixes": ["R"]}),
                "JCS 0",
            ),
            (
                "invalid_jcs",
                serde_json::json!({"jcs": "I-1", "jcs_suffixes": ["X"]}),
                "X",
            ),
            (
                "invalid_gcs",
                serde_json::json!({"gcs": {"e": 5, "v": 1, "m": 1}}),
                "gcs.e",
            ),
            (
                "invalid_activation",
                serde_json::json!({"activation": "flu"}),
                "activation",
            ),
            (
                "invalid_eta",
                serde_json::json!({"eta_minutes": 999}),
                "eta_minutes",
            ),
            (
                "invalid_time",
                serde_json::json!({"onset_at": NOW + 3600}),
                "onset_at",
            ),
        ];
        for (code, patch, needle) in cases {
            let mut v = serde_json::to_value(serde_json::json!({
                "base_version": 0, "chief_complaint": "x", "activation": "general"
            }))
            .unwrap();
            for (k, val) in patch.as_object().unwrap() {
                v[k] = val.clone();
            }
            let i: ReportInput = serde_json::from_value(v).unwrap();
            let err = build(&i, 1, None, NOW).unwrap_err();
            assert_eq!(err.code(), code, "{patch}");
            assert!(err.message().contains(needle), "{patch}: {}", err.message());
            assert_eq!(err.kind(), crate::service::error::Kind::Invalid);
        }
    }

    #[test]
    fn the_card_wins_over_the_crews_estimate() {
        let seeded = ReportPatient {
            age: Some(91),
            age_band: age_band(Some(91)),
            sex: Some("male".into()),
            source: "card".into(),
        };
        let r = build(&input(), 2, Some(&seeded), NOW).unwrap();
        assert_eq!(r.patient, seeded);
    }

    #[test]
    fn bands() {
        assert_eq!(age_band(Some(0)), "0-9");
        assert_eq!(age_band(Some(19)), "10s");
        assert_eq!(age_band(Some(100)), "100+");
        assert_eq!(age_band(None), "unknown");
    }

    #[test]
    fn activations_and_age_bands_are_the_domain_code_lists() {
        use crate::domain::{Activation, AgeBand};
        assert_eq!(ACTIVATIONS.map(|a| a.0).as_slice(), Activation::TEXTS);
        let mut bands: Vec<String> = (0..=120).map(|a| age_band(Some(a))).collect();
        bands.push(age_band(None));
        bands.dedup();
        assert_eq!(bands, AgeBand::TEXTS);
    }
}
