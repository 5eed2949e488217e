//! The pre-arrival report as a FHIR R4 (4.0.1) document Bundle.
//!
//! First entry: a Composition (LOINC 67796-3, EMS patient care report) authored by the crew's fire
//! department, with sections for the chief complaint (10154-3), vital signs (8716-3), the
//! neurological assessment (JCS/GCS) and the pre-arrival activation; then the Patient, the fire
//! department (Organization), the destination (Organization, if any), an Encounter (class EMER)
//! and one Observation per measurement — every reading of the vitals, JCS and GCS series, each
//! with its own `effectiveDateTime`:
//!
//! | what | code |
//! |---|---|
//! | blood pressure | LOINC 85354-9 panel, components 8480-6 (systolic), 8462-4 (diastolic), `mm[Hg]` |
//! | heart rate | LOINC 8867-4, /min |
//! | respiratory rate | LOINC 9279-1, /min |
//! | SpO2 | LOINC 2708-6 and 59408-5 (R4 vital-signs profile), % |
//! | body temperature | LOINC 8310-5, Cel |
//! | glucose | LOINC 41653-7 (capillary blood by glucometer), mg/dL, category `laboratory` (a point-of-care blood test) |
//! | GCS | LOINC 9269-2 (total), components 9267-6 (eye), 9270-0 (verbal), 9268-4 (motor) |
//! | JCS | local: code `jcs` of `http://kyukit.jp/fhir/CodeSystem/observation`, value from `http://kyukit.jp/fhir/CodeSystem/jcs` (`0`, `I-1` … `III-300`), suffixes as components (`R`, `I`, `A`) |
//! | activation | local code `pre-arrival-activation`, value from NEMSIS eDisposition.24 (`http://nemsis.org/v3/eDisposition.24`) |
//!
//! JCS has no LOINC code; the two local code systems are documented in docs/api.md. Observations
//! are `preliminary` (a pre-arrival assessment). When the incident was opened from a card scan, the
//! Patient and the consented IPS sections come from that scan's disclosure (`fhir::ips_bundle`)
//! when this reader may see it (`incidents::grant`); otherwise the Patient is the crew's estimate
//! and a section "Resident's emergency dataset" with `emptyReason` `withheld` says why.

use super::disclosure::{Disclosure, Patient};
use super::fhir::{
    LOINC, OBSERVATION_CATEGORY, XHTML, coding, concept, derived_uuid, esc, instant, ips_bundle,
    reference,
};
use super::incidents::{ClinicalPicture, DatasetStatus, FacilityRef, IncidentView};
use super::report::{ACTIVATIONS, Gcs, Jcs, Report, Vitals};
use crate::domain::IncidentStatus;
use serde_json::{Value, json};

mod record;

pub const KYUKIT_OBSERVATION: &str = "http://kyukit.jp/fhir/CodeSystem/observation";
pub const KYUKIT_JCS: &str = "http://kyukit.jp/fhir/CodeSystem/jcs";
pub const NEMSIS_24: &str = "http://nemsis.org/v3/eDisposition.24";
const UCUM: &str = "http://unitsofmeasure.org";

struct Builder {
    key: String,
    entries: Vec<Value>,
    patient: String,
}

impl Builder {
    fn url(&self, part: &str) -> (String, String) {
        let id = derived_uuid(&self.key, part);
        (id.clone(), format!("urn:uuid:{id}"))
    }

    fn add(&mut self, part: &str, mut resource: Value) -> String {
        let (id, url) = self.url(part);
        resource["id"] = json!(id);
        self.entries
            .push(json!({ "fullUrl": url, "resource": resource }));
        url
    }

    fn organization(&mut self, part: &str, f: &FacilityRef, kind: (&str, &str)) -> String {
        self.add(
            part,
            json!({
                "resourceType": "Organization",
                "active": true,
                "type": [concept("http://terminology.hl7.org/CodeSystem/organization-type", kind.0, kind.1)],
                "name": f.name_ja,
                "alias": [f.name_en],
                "telecom": [{ "system": "phone", "value": f.phone, "use": "work" }],
            }),
        )
    }

    fn observation(
        &mut self,
        part: &str,
        category: &str,
        code: Value,
        at: i64,
        rest: Value,
    ) -> String {
        let mut o = json!({
            "resourceType": "Observation",
            "status": "preliminary",
            "category": [concept(OBSERVATION_CATEGORY, category, category_display(category))],
            "code": code,
            "subject": reference(&self.patient),
            "effectiveDateTime": instant(at),
        });
        if let (Value::Object(o), Value::Object(rest)) = (&mut o, rest) {
            o.extend(rest);
        }
        self.add(part, o)
    }
}

fn category_display(c: &str) -> &'static str {
    match c {
        "vital-signs" => "Vital Signs",
        "exam" => "Exam",
        "laboratory" => "Laboratory",
        _ => "Survey",
    }
}

fn quantity(value: f64, unit: &str) -> Value {
    json!({ "value": value, "unit": unit, "system": UCUM, "code": unit })
}

#[allow(clippy::cast_precision_loss)]
fn q(v: i64, unit: &str) -> Value {
    quantity(v as f64, unit)
}

fn section(title: &str, code: Option<(&str, &str)>, text: &str, refs: &[String]) -> Value {
    let mut s = json!({
        "title": title,
        "text": {
            "status": "generated",
            "div": format!("<div xmlns=\"{XHTML}\"><p>{}</p></div>", esc(text)),
        },
    });
    if let Some((c, d)) = code {
        s["code"] = concept(LOINC, c, d);
    }
    if refs.is_empty() {
        s["emptyReason"] = concept(
            "http://terminology.hl7.org/CodeSystem/list-empty-reason",
            "unavailable",
            "Unavailable",
        );
    } else {
        s["entry"] = Value::Array(refs.iter().map(|r| reference(r)).collect());
    }
    s
}

/// The incident's latest report as a FHIR R4 document Bundle.
pub fn report_bundle(v: &IncidentView, server_base: &str) -> Value {
    let key = format!("incident:{}:v{}", v.id, v.version);
    let mut b = Builder {
        key: key.clone(),
        entries: Vec::new(),
        patient: String::new(),
    };
    // The Patient (and the consented IPS sections) from the scan, or a Patient with what the
    // crew estimated.
    let mut ips_sections: Vec<Value> = Vec::new();
    let redacted = match (&v.patient, &v.clinical) {
        (None, Some(cp)) => Some(clinical_disclosure(v, cp)),
        _ => None,
    };
    if let Some(d) = v.patient.as_ref().or(redacted.as_ref()) {
        let ips = ips_bundle(d, server_base);
        if let Some(entries) = ips["entry"].as_array() {
            for (i, e) in entries.iter().enumerate() {
                if i == 0 {
                    if let Some(s) = e["resource"]["section"].as_array() {
                        ips_sections = s.clone();
                    }
                    continue;
                }
                let mut e = e.clone();
                if e["resource"]["resourceType"] == "Patient" {
                    b.patient = e["fullUrl"].as_str().unwrap_or_default().to_string();
                    if redacted.is_some() {
                        // A hospital still deciding: no name, no identifier, no date of birth.
                        if let Some(p) = e["resource"].as_object_mut() {
                            for k in ["name", "identifier", "birthDate", "communication"] {
                                p.remove(k);
                            }
                        }
                        let band = v
                            .clinical
                            .as_ref()
                            .map_or("unknown", |c| c.age_band.as_str());
                        e["resource"]["text"] = json!({
                            "status": "generated",
                            "div": format!("<div xmlns=\"{XHTML}\"><p>Identity withheld until this hospital accepts; age {} / 受入決定まで氏名等は非表示、年齢 {}</p></div>", esc(band), esc(band)),
                        });
                    }
                }
                b.entries.push(e);
            }
        }
    }
    let report = v.report.as_ref();
    if b.patient.is_empty() {
        let mut p = json!({ "resourceType": "Patient", "active": true });
        if let Some(sex) = report.and_then(|r| r.patient.sex.as_deref()) {
            p["gender"] = json!(sex);
        }
        let band = report.map_or("unknown", |r| r.patient.age_band.as_str());
        p["text"] = json!({
            "status": "generated",
            "div": format!("<div xmlns=\"{XHTML}\"><p>Unidentified patient; estimated age {} / 身元不明、推定年齢 {}</p></div>", esc(band), esc(band)),
        });
        b.patient = b.add("patient", p);
    }
    let fire = b.organization(
        "fire-department",
        &v.fire_department,
        ("prov", "Healthcare Provider"),
    );
    let destination = v
        .destination
        .as_ref()
        .map(|d| b.organization("destination", d, ("prov", "Healthcare Provider")));
    let mut encounter = json!({
        "resourceType": "Encounter",
        "status": if v.status == IncidentStatus::Arrived { "finished" } else { "in-progress" },
        "class": coding(super::fhir::ACT_CODE, "EMER", "emergency"),
        "subject": reference(&b.patient),
        "serviceProvider": reference(&fire),
        "identifier": [{ "system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{}", derived_uuid(&key, "incident")) }],
        "period": { "start": instant(v.created_at) },
    });
    if let Some(d) = &destination {
        encounter["hospitalization"] = json!({ "destination": reference(d) });
    }
    if let Some(end) = v.closed_at {
        encounter["period"]["end"] = json!(instant(end));
    }
    let encounter = b.add("encounter", encounter);

    let mut sections = Vec::new();
    if let Some(r) = report {
        let complaint = b.observation(
            "chief-complaint",
            "survey",
            concept(LOINC, "10154-3", "Chief complaint Narrative - Reported"),
            r.created_at,
            json!({ "valueString": r.chief_complaint, "encounter": reference(&encounter) }),
        );
        let mut narrative = format!("主訴 / Chief complaint: {}", r.chief_complaint);
        if let Some(t) = r.onset_at {
            narrative.push_str(&format!("; 発症 / onset {}", instant(t)));
        }
        if let Some(t) = r.last_known_well_at {
            narrative.push_str(&format!("; 最終健常 / last known well {}", instant(t)));
        }
        if let Some(t) = r.eta_at {
            narrative.push_str(&format!("; 到着予定 / ETA {}", instant(t)));
        }
        sections.push(section(
            "Chief complaint / 主訴",
            Some(("10154-3", "Chief complaint Narrative - Reported")),
            &narrative,
            &[complaint],
        ));

        let mut vitals = Vec::new();
        for (i, vs) in readings(r).iter().enumerate() {
            let at = vs.taken_at.unwrap_or(r.created_at);
            vital_observations(&mut b, &format!("v{i}"), vs, at, &mut vitals);
        }
        sections.push(section(
            "Vital signs / バイタルサイン",
            Some(("8716-3", "Vital signs")),
            &vitals_text(r),
            &vitals,
        ));

        let mut neuro = Vec::new();
        let mut neuro_text = Vec::new();
        for (i, g) in gcs_series(r).iter().enumerate() {
            let at = g.assessed_at.unwrap_or(r.created_at);
            neuro_text.push(format!(
                "{} GCS E{}V{}M{} = {}",
                instant(at),
                g.e,
                g.v,
                g.m,
                g.total
            ));
            neuro.push(b.observation(
                &format!("gcs-{i}"),
                "exam",
                concept(LOINC, "9269-2", "Glasgow coma score total"),
                at,
                json!({
                    "valueInteger": g.total,
                    "component": [
                        { "code": concept(LOINC, "9267-6", "Glasgow coma score eye opening"), "valueInteger": g.e },
                        { "code": concept(LOINC, "9270-0", "Glasgow coma score verbal"), "valueInteger": g.v },
                        { "code": concept(LOINC, "9268-4", "Glasgow coma score motor"), "valueInteger": g.m },
                    ],
                }),
            ));
        }
        for (i, j) in jcs_series(r).iter().enumerate() {
            let at = j.assessed_at.unwrap_or(r.created_at);
            neuro_text.push(format!("{} JCS {}", instant(at), j.display));
            let comps: Vec<Value> = j
                .suffixes
                .iter()
                .map(|s| {
                    json!({
                        "code": concept(KYUKIT_OBSERVATION, "jcs-suffix", "Japan Coma Scale suffix"),
                        "valueCodeableConcept": concept(KYUKIT_JCS, s, jcs_suffix_display(s)),
                    })
                })
                .collect();
            let mut rest = json!({
                "valueCodeableConcept": {
                    "coding": [coding(KYUKIT_JCS, &j.level, &format!("JCS {}", j.level))],
                    "text": format!("JCS {}", j.display),
                },
            });
            if !comps.is_empty() {
                rest["component"] = Value::Array(comps);
            }
            neuro.push(b.observation(
                &format!("jcs-{i}"),
                "exam",
                concept(KYUKIT_OBSERVATION, "jcs", "Japan Coma Scale"),
                at,
                rest,
            ));
        }
        sections.push(section(
            "Level of consciousness / 意識レベル",
            None,
            &if neuro_text.is_empty() {
                "Not assessed / 未評価".to_string()
            } else {
                neuro_text.join("; ")
            },
            &neuro,
        ));

        let display = ACTIVATIONS
            .iter()
            .find(|a| a.0 == r.activation)
            .map_or("Other", |a| a.3);
        let activation = b.observation(
            "activation",
            "survey",
            concept(
                KYUKIT_OBSERVATION,
                "pre-arrival-activation",
                "Pre-arrival alert or activation",
            ),
            r.created_at,
            json!({ "valueCodeableConcept": concept(NEMSIS_24, &r.activation_code, display) }),
        );
        sections.push(section(
            "Pre-arrival activation / 事前連絡",
            None,
            &format!("{display} ({})", r.activation_code),
            &[activation],
        ));
    }
    if let Some(r) = report {
        record::sections(&mut b, r, &encounter, &mut sections);
    }
    sections.extend(ips_sections);
    let why = if v.clinical.is_some() {
        Some(
            "Identity, care team and emergency contacts are withheld while this hospital is being asked; they are shown once it accepts / 受入照会中は氏名・かかりつけ・緊急連絡先を表示しません（受入決定後に表示）",
        )
    } else {
        withheld_text(v.dataset.status)
    };
    if let Some(why) = why {
        // Said, not silently left out: the reader knows a dataset exists and why it is not here.
        let mut s = section(
            "Resident's emergency dataset / 本人登録情報",
            None,
            why,
            &[],
        );
        s["emptyReason"] = concept(
            "http://terminology.hl7.org/CodeSystem/list-empty-reason",
            "withheld",
            "Information Withheld",
        );
        sections.push(s);
    }

    let (comp_id, comp_url) = b.url("composition");
    let title = "Pre-arrival report / 救急隊事前連絡";
    let mut composition = json!({
        "resourceType": "Composition",
        "id": comp_id,
        "status": "preliminary",
        "type": concept(LOINC, "67796-3", "EMS patient care report - version 3 Document NEMSIS"),
        "subject": reference(&b.patient),
        "encounter": reference(&encounter),
        "date": instant(report.map_or(v.updated_at, |r| r.created_at)),
        "author": [reference(&fire)],
        "title": title,
        "confidentiality": "R",
    });
    if !sections.is_empty() {
        composition["section"] = Value::Array(sections);
    }
    let mut entries = vec![json!({ "fullUrl": comp_url, "resource": composition })];
    entries.append(&mut b.entries);
    json!({
        "resourceType": "Bundle",
        "id": derived_uuid(&key, "bundle"),
        "identifier": { "system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{}", derived_uuid(&key, "bundle")) },
        "type": "document",
        "timestamp": instant(v.updated_at),
        "entry": entries,
    })
}

/// The clinical picture as a disclosure for `ips_bundle`: no name, kana, date of birth or
/// resident id (the Patient built from it is stripped of its name as well).
fn clinical_disclosure(v: &IncidentView, cp: &ClinicalPicture) -> Disclosure {
    Disclosure {
        access_id: format!("incident:{}:clinical", v.id),
        kind: cp.kind,
        incident_ref: v.incident_ref.clone(),
        accessed_at: v.created_at,
        expires_at: cp.until,
        card_id: None,
        facility_id: v.fire_department.id.clone(),
        patient: Patient {
            id: String::new(),
            family_name: String::new(),
            given_name: String::new(),
            family_name_kana: None,
            given_name_kana: None,
            date_of_birth: String::new(),
            sex: cp.sex.clone(),
            age: cp.age,
            preferred_language: "ja".into(),
        },
        consent: cp.consent.clone(),
        categories: cp.categories.clone(),
        items: cp.items.clone(),
        card_current: None,
        triage: None,
        // The identity photo is for the scanning paramedic only.
        photo: false,
    }
}

/// Why the resident's dataset is not in this Bundle (`None`: it is, or there never was one).
fn withheld_text(status: DatasetStatus) -> Option<&'static str> {
    match status {
        DatasetStatus::Shown | DatasetStatus::None => None,
        DatasetStatus::NotGranted => Some(
            "Not available to this reader: only the scanning paramedic on the scanning device and the destination hospital see it / この閲覧者には表示できません（読み取った隊員・端末と搬送先病院のみ）",
        ),
        DatasetStatus::Expired => Some(
            "No longer available: the scan's grant or the hand-over period has ended / 閲覧期限（読み取りの許可または引き継ぎ期間）が終了しました",
        ),
        DatasetStatus::Withdrawn => Some(
            "No longer available: consent withdrawn or card revoked / 同意の撤回またはカードの無効化により表示できません",
        ),
    }
}

/// The vitals readings, oldest first (a report stored before series existed: its one set, at the
/// report's time).
fn readings(r: &Report) -> Vec<Vitals> {
    if r.vitals_series.is_empty() && r.vitals != Vitals::default() {
        vec![r.vitals.clone()]
    } else {
        r.vitals_series.clone()
    }
}

fn gcs_series(r: &Report) -> Vec<Gcs> {
    if r.gcs_series.is_empty() {
        r.gcs.into_iter().collect()
    } else {
        r.gcs_series.clone()
    }
}

fn jcs_series(r: &Report) -> Vec<Jcs> {
    if r.jcs_series.is_empty() {
        r.jcs.clone().into_iter().collect()
    } else {
        r.jcs_series.clone()
    }
}

fn vitals_text(r: &Report) -> String {
    let n = readings(r).len();
    if n == 0 {
        "Pre-arrival vital signs: none recorded / 病院前バイタルサイン: 記録なし".into()
    } else {
        format!(
            "Pre-arrival vital signs: {n} reading(s), each with its time / 病院前バイタルサイン: {n}回（各測定時刻つき）"
        )
    }
}

/// One reading's Observations (R4 vital-signs profile codes), appended to `out`.
fn vital_observations(b: &mut Builder, part: &str, vs: &Vitals, at: i64, out: &mut Vec<String>) {
    if vs.systolic_bp.is_some() || vs.diastolic_bp.is_some() {
        let mut comps = Vec::new();
        if let Some(x) = vs.systolic_bp {
            comps.push(json!({ "code": concept(LOINC, "8480-6", "Systolic blood pressure"), "valueQuantity": q(x, "mm[Hg]") }));
        }
        if let Some(x) = vs.diastolic_bp {
            comps.push(json!({ "code": concept(LOINC, "8462-4", "Diastolic blood pressure"), "valueQuantity": q(x, "mm[Hg]") }));
        }
        out.push(b.observation(
            &format!("{part}-bp"),
            "vital-signs",
            concept(
                LOINC,
                "85354-9",
                "Blood pressure panel with all children optional",
            ),
            at,
            json!({ "component": comps }),
        ));
    }
    #[allow(clippy::cast_precision_loss)]
    let simple: [(&str, Option<f64>, &str, Value, &str); 5] = [
        (
            "hr",
            vs.heart_rate.map(|x| x as f64),
            "vital-signs",
            concept(LOINC, "8867-4", "Heart rate"),
            "/min",
        ),
        (
            "rr",
            vs.respiratory_rate.map(|x| x as f64),
            "vital-signs",
            concept(LOINC, "9279-1", "Respiratory rate"),
            "/min",
        ),
        (
            "spo2",
            vs.spo2.map(|x| x as f64),
            "vital-signs",
            // The R4 vital-signs profile (oxygen saturation) requires 2708-6; 59408-5 says
            // "by pulse oximetry".
            json!({
                "coding": [
                    coding(LOINC, "2708-6", "Oxygen saturation in Arterial blood"),
                    coding(LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
                ],
                "text": "SpO2",
            }),
            "%",
        ),
        (
            "temp",
            vs.temperature,
            "vital-signs",
            concept(LOINC, "8310-5", "Body temperature"),
            "Cel",
        ),
        (
            // A point-of-care blood test, not a vital sign.
            "glucose",
            vs.glucose.map(|x| x as f64),
            "laboratory",
            concept(
                LOINC,
                "41653-7",
                "Glucose [Mass/volume] in Capillary blood by Glucometer",
            ),
            "mg/dL",
        ),
    ];
    for (name, value, category, code, unit) in simple {
        if let Some(x) = value {
            out.push(b.observation(
                &format!("{part}-{name}"),
                category,
                code,
                at,
                json!({ "valueQuantity": quantity(x, unit) }),
            ));
        }
    }
}

fn jcs_suffix_display(s: &str) -> &'static str {
    match s {
        "R" => "Restlessness / 不穏",
        "I" => "Incontinence / 失禁",
        _ => "Apallic state or akinetic mutism / 無動性無言・失外套症候群",
    }
}
