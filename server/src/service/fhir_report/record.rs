//! The clinical record of a report as FHIR R4 resources (issue 25):
//!
//! | what | resource, code |
//! |---|---|
//! | a medication given (O₂, adrenaline, glucose, fluids, …) | MedicationAdministration (`completed`), medication from `http://kyukit.jp/fhir/CodeSystem/intervention`, `dosage.route` from `…/route`, `dosage.dose` in UCUM, `effectiveDateTime`, performer by name |
//! | a procedure (IV access, airway, CPR, defibrillation, …) | Procedure (`completed`), code from `…/intervention`, `performedDateTime` |
//! | ECG rhythm | Observation LOINC 8884-9 *Heart rate rhythm* (`exam`), value from `…/ecg-rhythm` |
//! | pain | Observation LOINC 72514-3 *Pain severity - 0-10 verbal numeric rating [Score] - Reported* (`survey`), `valueInteger` |
//! | weight | Observation LOINC 29463-7 *Body weight* (`vital-signs`), kg |
//! | pregnancy | Observation LOINC 82810-3 *Pregnancy status* (`survey`), LOINC answers LA15173-0 / LA26683-5 / LA4489-6 |
//! | pupils, CPSS, KPSS, cardiac arrest (Utstein), trauma mechanism and injuries, acuity, infection risk, the anticoagulant's last dose | Observations with local codes of `http://kyukit.jp/fhir/CodeSystem/observation` (no LOINC code fits a prehospital scale or the Utstein set; NEMSIS element names in the displays) |
//! | location | a Location (position, name) in the section |

use super::{Builder, KYUKIT_OBSERVATION, quantity, section};
use crate::service::fhir::{LOINC, concept, instant, reference};
use crate::service::report::Report;
use crate::service::report::record::INTERVENTIONS;
use serde_json::{Value, json};

pub const KYUKIT_INTERVENTION: &str = "http://kyukit.jp/fhir/CodeSystem/intervention";
pub const KYUKIT_ROUTE: &str = "http://kyukit.jp/fhir/CodeSystem/route";
pub const KYUKIT_RHYTHM: &str = "http://kyukit.jp/fhir/CodeSystem/ecg-rhythm";
pub const KYUKIT_CODE: &str = "http://kyukit.jp/fhir/CodeSystem/code";

fn local(code: &str, display: &str) -> Value {
    concept(KYUKIT_OBSERVATION, code, display)
}

fn value_code(code: &str) -> Value {
    json!({ "valueCodeableConcept": concept(KYUKIT_CODE, code, &code.replace('_', " ")) })
}

/// Appends the record's sections (and resources) for report `r`.
pub(super) fn sections(b: &mut Builder, r: &Report, encounter: &str, out: &mut Vec<Value>) {
    let rec = &r.record;
    // Treatment en route.
    let mut refs = Vec::new();
    let mut lines = Vec::new();
    for (i, iv) in rec.interventions.iter().enumerate() {
        let display = INTERVENTIONS
            .iter()
            .find(|x| x.0 == iv.code)
            .map_or(iv.code.as_str(), |x| x.2);
        let mut code = concept(KYUKIT_INTERVENTION, &iv.code, display);
        if let Some(d) = &iv.detail {
            code["text"] = json!(format!("{display}: {d}"));
        }
        let performer = iv
            .by
            .as_ref()
            .map(|by| json!([{ "actor": { "display": by } }]));
        let mut res = if iv.kind == "medication" {
            let mut m = json!({
                "resourceType": "MedicationAdministration",
                "status": "completed",
                "medicationCodeableConcept": code,
                "subject": reference(&b.patient),
                "context": reference(encounter),
                "effectiveDateTime": instant(iv.at),
            });
            let mut dosage = serde_json::Map::new();
            if let Some(route) = &iv.route {
                dosage.insert("route".into(), concept(KYUKIT_ROUTE, route, route));
            }
            if let (Some(d), Some(u)) = (iv.dose, &iv.dose_unit) {
                dosage.insert("dose".into(), quantity(d, u));
            }
            if !dosage.is_empty() {
                m["dosage"] = Value::Object(dosage);
            }
            m
        } else {
            json!({
                "resourceType": "Procedure",
                "status": "completed",
                "code": code,
                "subject": reference(&b.patient),
                "encounter": reference(encounter),
                "performedDateTime": instant(iv.at),
            })
        };
        if let Some(p) = performer {
            res["performer"] = p;
        }
        let dose = match (iv.dose, &iv.dose_unit) {
            (Some(d), Some(u)) => format!(" {d} {u}"),
            _ => String::new(),
        };
        lines.push(format!(
            "{} {display}{dose}{}",
            instant(iv.at),
            iv.route
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ));
        refs.push(b.add(&format!("intervention-{i}"), res));
    }
    if !refs.is_empty() {
        out.push(section(
            "Treatment en route / 処置",
            None,
            &lines.join("; "),
            &refs,
        ));
    }

    // Findings: ECG, pupils, pain, weight, pregnancy, stroke scale.
    let mut refs = Vec::new();
    for (i, e) in rec.ecg.iter().enumerate() {
        let mut rest = json!({
            "valueCodeableConcept": concept(KYUKIT_RHYTHM, &e.rhythm, &e.rhythm.replace('_', " ")),
        });
        if let Some(st) = e.st_elevation {
            rest["component"] =
                json!([{ "code": local("st-elevation", "ST elevation"), "valueBoolean": st }]);
        }
        refs.push(b.observation(
            &format!("ecg-{i}"),
            "exam",
            concept(LOINC, "8884-9", "Heart rate rhythm"),
            e.at.unwrap_or(r.created_at),
            rest,
        ));
    }
    for (i, p) in rec.pupils.iter().enumerate() {
        let mut comps = Vec::new();
        for (side, mm, reactive) in [
            ("left", p.left_mm, p.left_reactive),
            ("right", p.right_mm, p.right_reactive),
        ] {
            if let Some(mm) = mm {
                comps.push(json!({ "code": local(&format!("pupil-{side}-size"), &format!("Pupil size, {side}")), "valueQuantity": quantity(mm, "mm") }));
            }
            if let Some(x) = reactive {
                comps.push(json!({ "code": local(&format!("pupil-{side}-reactive"), &format!("Pupil reactive to light, {side}")), "valueBoolean": x }));
            }
        }
        refs.push(b.observation(
            &format!("pupils-{i}"),
            "exam",
            local("pupils", "Pupils (eExam.18)"),
            p.at.unwrap_or(r.created_at),
            json!({ "component": comps }),
        ));
    }
    for (i, p) in rec.pain.iter().enumerate() {
        refs.push(b.observation(
            &format!("pain-{i}"),
            "survey",
            concept(
                LOINC,
                "72514-3",
                "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
            ),
            p.at.unwrap_or(r.created_at),
            json!({ "valueInteger": p.score }),
        ));
    }
    if let Some(w) = rec.weight_kg {
        refs.push(b.observation(
            "weight",
            "vital-signs",
            concept(LOINC, "29463-7", "Body weight"),
            r.created_at,
            json!({ "valueQuantity": quantity(w, "kg") }),
        ));
    }
    if let Some(p) = &rec.pregnancy
        && let Some(status) = &p.status
    {
        let (code, display) = match status.as_str() {
            "pregnant" => ("LA15173-0", "Pregnant"),
            "not_pregnant" => ("LA26683-5", "Not pregnant"),
            _ => ("LA4489-6", "Unknown"),
        };
        let mut rest = json!({ "valueCodeableConcept": concept(LOINC, code, display) });
        if let Some(wk) = p.weeks {
            rest["note"] = json!([{ "text": format!("{wk} weeks of gestation / 妊娠{wk}週") }]);
        }
        refs.push(b.observation(
            "pregnancy",
            "survey",
            concept(LOINC, "82810-3", "Pregnancy status"),
            r.created_at,
            rest,
        ));
    }
    if let Some(s) = &rec.stroke_scale {
        let at = s.at.unwrap_or(r.created_at);
        if let (Some(c), Some(pos)) = (&s.cpss, s.cpss_positive) {
            refs.push(b.observation(
                "cpss",
                "exam",
                local("cpss", "Cincinnati Prehospital Stroke Scale"),
                at,
                json!({
                    "valueBoolean": pos,
                    "component": [
                        { "code": local("cpss-facial-droop", "Facial droop"), "valueBoolean": c.facial_droop },
                        { "code": local("cpss-arm-drift", "Arm drift"), "valueBoolean": c.arm_drift },
                        { "code": local("cpss-speech", "Abnormal speech"), "valueBoolean": c.abnormal_speech },
                    ],
                }),
            ));
        }
        if let Some(total) = s.kpss_total {
            refs.push(b.observation(
                "kpss",
                "exam",
                local("kpss", "Kurashiki Prehospital Stroke Scale total"),
                at,
                json!({ "valueInteger": total }),
            ));
        }
    }
    if !refs.is_empty() {
        out.push(section(
            "Findings / 所見",
            None,
            &format!(
                "{} finding(s), each with its time / 所見{}件（各時刻つき）",
                refs.len(),
                refs.len()
            ),
            &refs,
        ));
    }

    // Cardiac arrest, trauma, acuity, infection risk, anticoagulant, scene.
    let mut refs = Vec::new();
    if let Some(a) = &rec.cardiac_arrest {
        let mut comps = Vec::new();
        let mut push = |code: &str, display: &str, v: Value| {
            let mut c = json!({ "code": local(code, display) });
            if let (Value::Object(c), Value::Object(v)) = (&mut c, v) {
                c.extend(v);
            }
            comps.push(c);
        };
        if let Some(w) = &a.witnessed {
            push(
                "arrest-witnessed",
                "Arrest witnessed by (eArrest.04)",
                value_code(w),
            );
        }
        if let Some(x) = a.bystander_cpr {
            push(
                "bystander-cpr",
                "Bystander CPR (eArrest.03)",
                json!({ "valueBoolean": x }),
            );
        }
        if let Some(x) = a.bystander_aed {
            push(
                "bystander-aed",
                "Bystander AED use (eArrest.07)",
                json!({ "valueBoolean": x }),
            );
        }
        if let Some(x) = &a.first_rhythm {
            push(
                "first-monitored-rhythm",
                "First monitored rhythm (eArrest.11)",
                value_code(x),
            );
        }
        for (code, display, t) in [
            (
                "collapse-time",
                "Time of collapse (eArrest.14)",
                a.collapse_at,
            ),
            ("cpr-start-time", "First CPR (eArrest.19)", a.cpr_started_at),
            ("first-shock-time", "First shock", a.first_shock_at),
            ("rosc-time", "ROSC (eArrest.12)", a.rosc_at),
        ] {
            if let Some(t) = t {
                push(code, display, json!({ "valueDateTime": instant(t) }));
            }
        }
        if let Some(x) = a.rosc_sustained {
            push(
                "rosc-sustained",
                "ROSC sustained",
                json!({ "valueBoolean": x }),
            );
        }
        if let Some(x) = &a.presumed_cause {
            push(
                "arrest-etiology",
                "Presumed cause (eArrest.02)",
                value_code(x),
            );
        }
        let mut rest = json!({ "valueBoolean": true });
        if !comps.is_empty() {
            rest["component"] = Value::Array(comps);
        }
        refs.push(b.observation(
            "cardiac-arrest",
            "survey",
            local("cardiac-arrest", "Cardiac arrest, Utstein core (eArrest)"),
            a.collapse_at.unwrap_or(r.created_at),
            rest,
        ));
    }
    if let Some(t) = &rec.trauma {
        if let Some(m) = &t.mechanism {
            let mut v = value_code(m);
            if let Some(d) = &t.mechanism_detail {
                v["valueCodeableConcept"]["text"] = json!(d);
            }
            refs.push(b.observation(
                "trauma-mechanism",
                "survey",
                local(
                    "trauma-mechanism",
                    "Mechanism of injury (MIST M, eInjury.01)",
                ),
                r.created_at,
                v,
            ));
        }
        if let Some(inj) = &t.injuries {
            refs.push(b.observation(
                "trauma-injuries",
                "exam",
                local("trauma-injuries", "Injuries found (MIST I)"),
                r.created_at,
                json!({ "valueString": inj }),
            ));
        }
    }
    if let Some(a) = &rec.acuity {
        refs.push(b.observation(
            "acuity",
            "survey",
            local("acuity", "Acuity (FDMA urgency colour, eSituation.13)"),
            r.created_at,
            value_code(a),
        ));
    }
    for (i, x) in rec.infection_risk.iter().enumerate() {
        refs.push(b.observation(
            &format!("infection-{i}"),
            "survey",
            local("infection-risk", "Infection or isolation risk"),
            r.created_at,
            value_code(x),
        ));
    }
    if let Some(t) = rec.anticoagulant_last_dose_at {
        refs.push(b.observation(
            "anticoagulant-last-dose",
            "survey",
            local("anticoagulant-last-dose", "Anticoagulant last dose taken"),
            r.created_at,
            json!({ "valueDateTime": instant(t) }),
        ));
    }
    if let Some(l) = &rec.location {
        let mut loc = json!({ "resourceType": "Location", "status": "active", "mode": "instance" });
        if let Some(t) = &l.text {
            loc["name"] = json!(t);
        }
        if let (Some(lat), Some(lon)) = (l.latitude, l.longitude) {
            loc["position"] = json!({ "latitude": lat, "longitude": lon });
        }
        refs.push(b.add("location", loc));
    }
    let mut scene = Vec::new();
    if let Some(c) = &rec.unit_call_sign {
        scene.push(format!("隊 / unit {c}"));
    }
    if let Some(p) = &rec.crew_phone {
        scene.push(format!("直通 / direct phone {p}"));
    }
    if !refs.is_empty() || !scene.is_empty() {
        let text = if scene.is_empty() {
            "Situation / 状況".to_string()
        } else {
            scene.join("; ")
        };
        out.push(section(
            "Situation and crew / 状況・救急隊",
            None,
            &text,
            &refs,
        ));
    }
}
