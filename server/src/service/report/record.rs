//! The clinical record of a pre-arrival report beyond vitals and consciousness (issue 25; NEMSIS
//! v3.5 as the reference for fields and value lists): interventions, pupils, ECG rhythm and pain
//! as time-stamped series; cardiac arrest (Utstein core), the prehospital stroke scale, trauma
//! (MIST), pregnancy, weight, infection risk, acuity, the anticoagulant's last dose, the unit's
//! call sign, a direct crew phone and the location. Pure.
//!
//! Patch semantics: series entries are **added** (never replaced); the objects
//! (`cardiac_arrest`, `stroke_scale`, `trauma`, `pregnancy`, `location`) are merged field by field
//! (JSON Merge Patch, RFC 7396: a field sent replaces, `null` removes it; the object `null`
//! clears it); scalars are replaced when sent, `null` clears. What is not sent is kept.

use super::{invalid, mark, observed_at, present, time_field};
use crate::service::error::DomainError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Interventions and their kind: `procedure` (FHIR Procedure) or `medication` (FHIR
/// MedicationAdministration). Codes of `http://kyukit.jp/fhir/CodeSystem/intervention`.
pub const INTERVENTIONS: [(&str, &str, &str); 22] = [
    ("oxygen", "medication", "Oxygen"),
    ("adrenaline", "medication", "Adrenaline (epinephrine)"),
    ("glucose", "medication", "Glucose"),
    ("fluids", "medication", "IV fluids (lactated Ringer's)"),
    ("nitroglycerin", "medication", "Nitroglycerin"),
    ("salbutamol", "medication", "Salbutamol"),
    ("other_medication", "medication", "Other medication"),
    ("iv_access", "procedure", "Intravenous access"),
    ("io_access", "procedure", "Intraosseous access"),
    ("airway_adjunct", "procedure", "Airway adjunct (OPA/NPA)"),
    ("bag_valve_mask", "procedure", "Bag-valve-mask ventilation"),
    ("supraglottic_airway", "procedure", "Supraglottic airway"),
    ("intubation", "procedure", "Endotracheal intubation"),
    ("suction", "procedure", "Airway suction"),
    ("cpr", "procedure", "Cardiopulmonary resuscitation"),
    ("defibrillation", "procedure", "Defibrillation"),
    ("ecg_12_lead", "procedure", "12-lead ECG"),
    (
        "spinal_motion_restriction",
        "procedure",
        "Spinal motion restriction",
    ),
    ("splint", "procedure", "Splinting"),
    ("haemorrhage_control", "procedure", "Haemorrhage control"),
    ("cooling", "procedure", "Cooling"),
    ("other_procedure", "procedure", "Other procedure"),
];
/// Routes of administration (NEMSIS eMedications.04, a subset).
pub const ADMIN_ROUTES: [&str; 9] = [
    "iv",
    "io",
    "im",
    "sc",
    "inhalation",
    "oral",
    "intranasal",
    "sublingual",
    "other",
];
/// Dose units (UCUM).
pub const DOSE_UNITS: [&str; 7] = ["mg", "ug", "g", "mL", "L/min", "[iU]", "J"];
/// ECG rhythms (NEMSIS eVitals.03, a subset).
pub const RHYTHMS: [&str; 14] = [
    "sinus",
    "sinus_tachycardia",
    "sinus_bradycardia",
    "atrial_fibrillation",
    "atrial_flutter",
    "svt",
    "av_block",
    "paced",
    "vt",
    "pulseless_vt",
    "vf",
    "pea",
    "asystole",
    "other",
];
/// Arrest rhythms (Utstein first monitored rhythm).
pub const ARREST_RHYTHMS: [&str; 5] = ["vf", "pulseless_vt", "pea", "asystole", "unknown"];
pub const WITNESSED: [&str; 3] = ["bystander", "ems", "unwitnessed"];
pub const ARREST_CAUSES: [&str; 7] = [
    "cardiac",
    "respiratory",
    "trauma",
    "drowning",
    "overdose",
    "other",
    "unknown",
];
/// Mechanisms of injury (NEMSIS eInjury.01 as groups).
pub const MECHANISMS: [&str; 11] = [
    "fall",
    "traffic_vehicle",
    "traffic_motorcycle",
    "traffic_bicycle",
    "traffic_pedestrian",
    "assault",
    "stab",
    "burn",
    "crush",
    "drowning",
    "other",
];
pub const INFECTION_RISKS: [&str; 8] = [
    "fever_respiratory",
    "covid19",
    "influenza",
    "tuberculosis",
    "measles",
    "mrsa",
    "bloodborne",
    "other",
];
/// 消防庁 緊急度判定 colours: 赤 (緊急), 黄 (準緊急), 緑 (低緊急), 白 (非緊急).
pub const ACUITY: [&str; 4] = ["red", "yellow", "green", "white"];
pub const PREGNANCY: [&str; 3] = ["pregnant", "not_pregnant", "unknown"];

/// One intervention as the crew sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InterventionInput {
    /// One of the intervention codes (docs/api.md), e.g. `oxygen`, `adrenaline`, `iv_access`, `cpr`.
    pub code: String,
    /// Free text (1–100 characters), e.g. the drug for `other_medication`.
    pub detail: Option<String>,
    /// A medication's dose (> 0), with `dose_unit`.
    pub dose: Option<f64>,
    /// `mg`, `ug`, `g`, `mL`, `L/min`, `[iU]`, `J` (UCUM).
    pub dose_unit: Option<String>,
    /// A medication's route: `iv`, `io`, `im`, `sc`, `inhalation`, `oral`, `intranasal`, `sublingual`, `other`.
    pub route: Option<String>,
    /// When (Unix seconds; default: the server's time).
    pub at: Option<i64>,
    /// Who (a crew member's name or role, 1–40 characters).
    pub by: Option<String>,
}

/// One intervention, stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Intervention {
    pub code: String,
    /// `procedure` or `medication`.
    pub kind: String,
    pub detail: Option<String>,
    pub dose: Option<f64>,
    pub dose_unit: Option<String>,
    pub route: Option<String>,
    pub at: i64,
    pub by: Option<String>,
}

/// Pupils: diameter (mm, 1–9) and reaction to light, each side.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pupils {
    pub left_mm: Option<f64>,
    pub right_mm: Option<f64>,
    pub left_reactive: Option<bool>,
    pub right_reactive: Option<bool>,
    /// When assessed (Unix seconds; default: the server's time).
    #[serde(default)]
    pub at: Option<i64>,
}

/// An ECG rhythm reading.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ecg {
    /// One of the rhythm codes (docs/api.md).
    pub rhythm: String,
    /// ST elevation seen on a 12-lead ECG.
    #[serde(default)]
    pub st_elevation: Option<bool>,
    #[serde(default)]
    pub at: Option<i64>,
}

/// A pain score (0–10 numeric rating).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pain {
    pub score: i64,
    #[serde(default)]
    pub at: Option<i64>,
}

/// Cardiac arrest, Utstein core.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardiacArrest {
    /// `bystander`, `ems`, `unwitnessed`.
    pub witnessed: Option<String>,
    pub bystander_cpr: Option<bool>,
    pub bystander_aed: Option<bool>,
    /// First monitored rhythm: `vf`, `pulseless_vt`, `pea`, `asystole`, `unknown`.
    pub first_rhythm: Option<String>,
    pub collapse_at: Option<i64>,
    pub cpr_started_at: Option<i64>,
    pub first_shock_at: Option<i64>,
    pub rosc_at: Option<i64>,
    pub rosc_sustained: Option<bool>,
    /// `cardiac`, `respiratory`, `trauma`, `drowning`, `overdose`, `other`, `unknown`.
    pub presumed_cause: Option<String>,
}

/// Cincinnati Prehospital Stroke Scale: any one abnormal = positive.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cpss {
    pub facial_droop: bool,
    pub arm_drift: bool,
    pub abnormal_speech: bool,
}

/// Kurashiki Prehospital Stroke Scale (2008), total 0–13.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Kpss {
    /// Level of consciousness 0–2.
    pub consciousness: i64,
    /// Disturbance of consciousness (questions) 0–1.
    pub disturbance: i64,
    /// Motor weakness 0–2 per limb.
    pub left_arm: i64,
    pub right_arm: i64,
    pub left_leg: i64,
    pub right_leg: i64,
    /// Language 0–2.
    pub language: i64,
}

/// The prehospital stroke scale(s) assessed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StrokeScale {
    pub cpss: Option<Cpss>,
    /// Computed: any CPSS item abnormal.
    #[serde(default)]
    pub cpss_positive: Option<bool>,
    pub kpss: Option<Kpss>,
    /// Computed: the KPSS total 0–13.
    #[serde(default)]
    pub kpss_total: Option<i64>,
    #[serde(default)]
    pub at: Option<i64>,
}

/// Trauma hand-over, MIST (Signs are the vitals series, Treatment the interventions).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Trauma {
    /// Mechanism code (docs/api.md), e.g. `fall`, `traffic_pedestrian`.
    pub mechanism: Option<String>,
    /// The mechanism in words (1–200), e.g. 「3 m の脚立から転落」.
    pub mechanism_detail: Option<String>,
    /// Injuries found (1–500 characters).
    pub injuries: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pregnancy {
    /// `pregnant`, `not_pregnant`, `unknown`.
    pub status: Option<String>,
    /// Gestational weeks 1–45 (with `pregnant`).
    pub weeks: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// The place in words (1–200 characters), e.g. 「常総市水海道諏訪町 コンビニ駐車場」.
    pub text: Option<String>,
}

/// The crew's input for the record: part of the report patch (`ReportInput::record`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    /// New interventions, added to the series (at most 20 per patch).
    pub interventions: Option<Vec<InterventionInput>>,
    /// A new pupils assessment.
    pub pupils: Option<Pupils>,
    /// A new ECG rhythm reading.
    pub ecg: Option<Ecg>,
    /// A new pain score.
    pub pain: Option<Pain>,
    /// Merged field by field; `null` clears.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<CardiacArrest>)]
    pub cardiac_arrest: Option<Option<Value>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<StrokeScale>)]
    pub stroke_scale: Option<Option<Value>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Trauma>)]
    pub trauma: Option<Option<Value>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Pregnancy>)]
    pub pregnancy: Option<Option<Value>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Location>)]
    pub location: Option<Option<Value>>,
    /// kg, 0.3–300 (children: the dose depends on it).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>)]
    pub weight_kg: Option<Option<f64>>,
    /// Infection or isolation risks (codes); replaces the list.
    pub infection_risk: Option<Vec<String>>,
    /// `red`, `yellow`, `green`, `white` (消防庁 緊急度).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub acuity: Option<Option<String>>,
    /// When the anticoagulant was last taken (Unix seconds).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub anticoagulant_last_dose_at: Option<Option<i64>>,
    /// The unit's call sign (1–32 characters), e.g. 「常総救急1」.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub unit_call_sign: Option<Option<String>>,
    /// A direct phone for the crew (digits, `+`, `-`, 6–20 characters).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub crew_phone: Option<Option<String>>,
}

/// The record as stored in each report version.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Record {
    #[serde(default)]
    pub interventions: Vec<Intervention>,
    #[serde(default)]
    pub pupils: Vec<Pupils>,
    #[serde(default)]
    pub ecg: Vec<Ecg>,
    #[serde(default)]
    pub pain: Vec<Pain>,
    #[serde(default)]
    pub cardiac_arrest: Option<CardiacArrest>,
    #[serde(default)]
    pub stroke_scale: Option<StrokeScale>,
    #[serde(default)]
    pub trauma: Option<Trauma>,
    #[serde(default)]
    pub pregnancy: Option<Pregnancy>,
    #[serde(default)]
    pub location: Option<Location>,
    #[serde(default)]
    pub weight_kg: Option<f64>,
    #[serde(default)]
    pub infection_risk: Vec<String>,
    #[serde(default)]
    pub acuity: Option<String>,
    #[serde(default)]
    pub anticoagulant_last_dose_at: Option<i64>,
    #[serde(default)]
    pub unit_call_sign: Option<String>,
    #[serde(default)]
    pub crew_phone: Option<String>,
}

fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<(), DomainError> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(invalid(
            "invalid_record",
            format!("{field}: {v:?} is not one of {}", allowed.join(", ")),
        ))
    }
}

fn within(field: &str, v: f64, lo: f64, hi: f64) -> Result<(), DomainError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(invalid(
            "invalid_record",
            format!("{field}: {v} is outside {lo}–{hi}"),
        ))
    }
}

/// RFC 7396 merge of `patch` into `target`.
fn merge(target: &mut Value, patch: &Value) {
    if let Value::Object(p) = patch {
        if !target.is_object() {
            *target = Value::Object(serde_json::Map::new());
        }
        if let Value::Object(t) = target {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
    } else {
        *target = patch.clone();
    }
}

/// Merges a patch into an object field; `Some(None)` (sent as `null`) clears it.
fn merged<T: Serialize + DeserializeOwned + Clone>(
    field: &str,
    prev: Option<&T>,
    patch: Option<&Option<Value>>,
    changed: &mut Vec<String>,
) -> Result<Option<T>, DomainError> {
    let Some(patch) = patch else {
        return Ok(prev.cloned());
    };
    mark(changed, &format!("record.{field}"));
    let Some(patch) = patch else {
        return Ok(None);
    };
    if !patch.is_object() {
        return Err(invalid(
            "invalid_record",
            format!("record.{field}: an object (or null to clear)"),
        ));
    }
    let mut v = prev
        .map(serde_json::to_value)
        .transpose()
        .map_err(DomainError::internal)?
        .unwrap_or(Value::Object(serde_json::Map::new()));
    merge(&mut v, patch);
    serde_json::from_value(v)
        .map(Some)
        .map_err(|e| invalid("invalid_record", format!("record.{field}: {e}")))
}

fn short_text(field: &str, v: Option<&str>, max: usize) -> Result<Option<String>, DomainError> {
    v.map(|s| crate::service::text(field, s, 1, max))
        .transpose()
}

fn check_time(field: &str, t: Option<i64>, now: i64) -> Result<(), DomainError> {
    time_field(field, t, now).map(drop)
}

/// Applies the record part of a patch to the previous record.
pub fn apply(
    input: Option<&RecordInput>,
    prev: &Record,
    now: i64,
    changed: &mut Vec<String>,
) -> Result<Record, DomainError> {
    let mut r = prev.clone();
    let Some(input) = input else {
        return Ok(r);
    };
    if let Some(list) = &input.interventions {
        if list.is_empty() || list.len() > 20 {
            return Err(invalid(
                "invalid_record",
                "record.interventions: 1–20 per patch",
            ));
        }
        for i in list {
            let iv = intervention(i, now)?;
            super::insert_by_time(&mut r.interventions, iv, |x| x.at);
        }
        mark(changed, "record.interventions");
    }
    if let Some(p) = &input.pupils {
        for (f, v) in [("left_mm", p.left_mm), ("right_mm", p.right_mm)] {
            if let Some(v) = v {
                within(&format!("record.pupils.{f}"), v, 1.0, 9.0)?;
            }
        }
        if p.left_mm.is_none()
            && p.right_mm.is_none()
            && p.left_reactive.is_none()
            && p.right_reactive.is_none()
        {
            return Err(invalid(
                "invalid_record",
                "record.pupils: at least one value",
            ));
        }
        let mut p = p.clone();
        p.at = Some(observed_at("record.pupils.at", p.at, now)?);
        super::insert_by_time(&mut r.pupils, p, |x| x.at.unwrap_or(0));
        mark(changed, "record.pupils");
    }
    if let Some(e) = &input.ecg {
        one_of("record.ecg.rhythm", &e.rhythm, &RHYTHMS)?;
        let mut e = e.clone();
        e.at = Some(observed_at("record.ecg.at", e.at, now)?);
        super::insert_by_time(&mut r.ecg, e, |x| x.at.unwrap_or(0));
        mark(changed, "record.ecg");
    }
    if let Some(p) = &input.pain {
        if !(0..=10).contains(&p.score) {
            return Err(invalid(
                "invalid_record",
                format!("record.pain.score: {} is outside 0–10", p.score),
            ));
        }
        let mut p = p.clone();
        p.at = Some(observed_at("record.pain.at", p.at, now)?);
        super::insert_by_time(&mut r.pain, p, |x| x.at.unwrap_or(0));
        mark(changed, "record.pain");
    }
    r.cardiac_arrest = merged(
        "cardiac_arrest",
        prev.cardiac_arrest.as_ref(),
        input.cardiac_arrest.as_ref(),
        changed,
    )?;
    if let Some(a) = &r.cardiac_arrest {
        check_arrest(a, now)?;
    }
    r.stroke_scale = merged(
        "stroke_scale",
        prev.stroke_scale.as_ref(),
        input.stroke_scale.as_ref(),
        changed,
    )?;
    if let Some(s) = &mut r.stroke_scale {
        s.cpss_positive = s
            .cpss
            .as_ref()
            .map(|c| c.facial_droop || c.arm_drift || c.abnormal_speech);
        s.kpss_total = s.kpss.as_ref().map(kpss_total).transpose()?;
        if input.stroke_scale.is_some() {
            s.at = Some(observed_at("record.stroke_scale.at", s.at, now)?);
        }
    }
    r.trauma = merged(
        "trauma",
        prev.trauma.as_ref(),
        input.trauma.as_ref(),
        changed,
    )?;
    if let Some(t) = &r.trauma {
        if let Some(m) = &t.mechanism {
            one_of("record.trauma.mechanism", m, &MECHANISMS)?;
        }
        short_text(
            "record.trauma.mechanism_detail",
            t.mechanism_detail.as_deref(),
            200,
        )?;
        short_text("record.trauma.injuries", t.injuries.as_deref(), 500)?;
    }
    r.pregnancy = merged(
        "pregnancy",
        prev.pregnancy.as_ref(),
        input.pregnancy.as_ref(),
        changed,
    )?;
    if let Some(p) = &r.pregnancy {
        if let Some(s) = &p.status {
            one_of("record.pregnancy.status", s, &PREGNANCY)?;
        }
        if let Some(w) = p.weeks {
            if !(1..=45).contains(&w) {
                return Err(invalid(
                    "invalid_record",
                    format!("record.pregnancy.weeks: {w} is outside 1–45"),
                ));
            }
            if p.status.as_deref() != Some("pregnant") {
                return Err(invalid(
                    "contradiction",
                    "record.pregnancy: weeks of gestation with a status other than pregnant / 妊娠週数と妊娠の有無が矛盾しています",
                ));
            }
        }
    }
    r.location = merged(
        "location",
        prev.location.as_ref(),
        input.location.as_ref(),
        changed,
    )?;
    if let Some(l) = &r.location {
        if let Some(v) = l.latitude {
            within("record.location.latitude", v, -90.0, 90.0)?;
        }
        if let Some(v) = l.longitude {
            within("record.location.longitude", v, -180.0, 180.0)?;
        }
        if l.latitude.is_some() != l.longitude.is_some() {
            return Err(invalid(
                "invalid_record",
                "record.location: latitude and longitude go together",
            ));
        }
        short_text("record.location.text", l.text.as_deref(), 200)?;
    }
    if let Some(w) = input.weight_kg {
        if let Some(w) = w {
            within("record.weight_kg", w, 0.3, 300.0)?;
        }
        r.weight_kg = w;
        mark(changed, "record.weight_kg");
    }
    if let Some(list) = &input.infection_risk {
        let mut out: Vec<String> = Vec::new();
        for x in list {
            one_of("record.infection_risk", x, &INFECTION_RISKS)?;
            if !out.contains(x) {
                out.push(x.clone());
            }
        }
        r.infection_risk = out;
        mark(changed, "record.infection_risk");
    }
    if let Some(a) = &input.acuity {
        if let Some(a) = a {
            one_of("record.acuity", a, &ACUITY)?;
        }
        r.acuity.clone_from(a);
        mark(changed, "record.acuity");
    }
    if let Some(t) = input.anticoagulant_last_dose_at {
        check_time("record.anticoagulant_last_dose_at", t, now)?;
        r.anticoagulant_last_dose_at = t;
        mark(changed, "record.anticoagulant_last_dose_at");
    }
    if let Some(s) = &input.unit_call_sign {
        r.unit_call_sign = short_text("record.unit_call_sign", s.as_deref(), 32)?;
        mark(changed, "record.unit_call_sign");
    }
    if let Some(p) = &input.crew_phone {
        if let Some(p) = p {
            let ok = (6..=20).contains(&p.len())
                && p.chars()
                    .all(|c| c.is_ascii_digit() || c == '+' || c == '-')
                && p.chars().filter(char::is_ascii_digit).count() >= 6;
            if !ok {
                return Err(invalid(
                    "invalid_record",
                    "record.crew_phone: digits, + and -, 6–20 characters",
                ));
            }
        }
        r.crew_phone.clone_from(p);
        mark(changed, "record.crew_phone");
    }
    Ok(r)
}

fn intervention(i: &InterventionInput, now: i64) -> Result<Intervention, DomainError> {
    let Some((code, kind, _)) = INTERVENTIONS.iter().find(|x| x.0 == i.code.trim()) else {
        return Err(invalid(
            "invalid_record",
            format!(
                "record.interventions.code: {:?} is not one of {}",
                i.code,
                INTERVENTIONS.map(|x| x.0).join(", ")
            ),
        ));
    };
    let medication = *kind == "medication";
    if !medication && (i.dose.is_some() || i.dose_unit.is_some() || i.route.is_some()) {
        return Err(invalid(
            "invalid_record",
            format!("record.interventions: {code} is a procedure: no dose, unit or route"),
        ));
    }
    match (i.dose, &i.dose_unit) {
        (Some(d), Some(u)) => {
            one_of("record.interventions.dose_unit", u, &DOSE_UNITS)?;
            if !(d > 0.0 && d <= 10_000.0) {
                return Err(invalid(
                    "invalid_record",
                    format!("record.interventions.dose: {d} {u} is not plausible"),
                ));
            }
        }
        (None, None) => {}
        _ => {
            return Err(invalid(
                "invalid_record",
                "record.interventions: dose and dose_unit go together",
            ));
        }
    }
    if let Some(r) = &i.route {
        one_of("record.interventions.route", r, &ADMIN_ROUTES)?;
    }
    if matches!(*code, "other_medication" | "other_procedure") && i.detail.is_none() {
        return Err(invalid(
            "invalid_record",
            format!("record.interventions: {code} needs its detail"),
        ));
    }
    Ok(Intervention {
        code: (*code).to_string(),
        kind: (*kind).to_string(),
        detail: short_text("record.interventions.detail", i.detail.as_deref(), 100)?,
        dose: i.dose,
        dose_unit: i.dose_unit.clone(),
        route: i.route.clone(),
        at: observed_at("record.interventions.at", i.at, now)?,
        by: short_text("record.interventions.by", i.by.as_deref(), 40)?,
    })
}

fn kpss_total(k: &Kpss) -> Result<i64, DomainError> {
    for (name, v, hi) in [
        ("consciousness", k.consciousness, 2),
        ("disturbance", k.disturbance, 1),
        ("left_arm", k.left_arm, 2),
        ("right_arm", k.right_arm, 2),
        ("left_leg", k.left_leg, 2),
        ("right_leg", k.right_leg, 2),
        ("language", k.language, 2),
    ] {
        if !(0..=hi).contains(&v) {
            return Err(invalid(
                "invalid_record",
                format!("record.stroke_scale.kpss.{name}: {v} is outside 0–{hi}"),
            ));
        }
    }
    Ok(k.consciousness
        + k.disturbance
        + k.left_arm
        + k.right_arm
        + k.left_leg
        + k.right_leg
        + k.language)
}

fn check_arrest(a: &CardiacArrest, now: i64) -> Result<(), DomainError> {
    if let Some(w) = &a.witnessed {
        one_of("record.cardiac_arrest.witnessed", w, &WITNESSED)?;
    }
    if let Some(r) = &a.first_rhythm {
        one_of("record.cardiac_arrest.first_rhythm", r, &ARREST_RHYTHMS)?;
    }
    if let Some(c) = &a.presumed_cause {
        one_of("record.cardiac_arrest.presumed_cause", c, &ARREST_CAUSES)?;
    }
    for (f, t) in [
        ("collapse_at", a.collapse_at),
        ("cpr_started_at", a.cpr_started_at),
        ("first_shock_at", a.first_shock_at),
        ("rosc_at", a.rosc_at),
    ] {
        check_time(&format!("record.cardiac_arrest.{f}"), t, now)?;
    }
    if a.witnessed.as_deref() == Some("ems") && a.bystander_cpr == Some(true) {
        return Err(invalid(
            "contradiction",
            "record.cardiac_arrest: witnessed by EMS and bystander CPR contradict each other (an arrest in front of the crew has no bystander phase) / 救急隊目撃とバイスタンダーCPRが矛盾しています",
        ));
    }
    if let (Some(c), Some(later)) = (
        a.collapse_at,
        [a.cpr_started_at, a.first_shock_at, a.rosc_at]
            .into_iter()
            .flatten()
            .min(),
    ) && later < c
    {
        return Err(invalid(
            "contradiction",
            "record.cardiac_arrest: CPR, a shock or ROSC before the collapse / 心停止時刻より前の処置・心拍再開",
        ));
    }
    if a.rosc_sustained.is_some() && a.rosc_at.is_none() {
        return Err(invalid(
            "invalid_record",
            "record.cardiac_arrest.rosc_sustained needs rosc_at",
        ));
    }
    Ok(())
}
