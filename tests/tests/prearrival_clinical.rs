//! The clinical record of a pre-arrival report (issue 25; NEMSIS v3.5 as the reference):
//! interventions, ECG, pupils and pain as time-stamped series; cardiac arrest (Utstein core),
//! stroke scale, trauma (MIST), pregnancy, weight, infection risk, acuity, the anticoagulant's
//! last dose, the unit's call sign, a direct crew phone, the location — patched (what is not sent
//! is kept, objects merged), nonsense refused with `422 invalid_record` / `contradiction`, and in
//! FHIR as MedicationAdministration, Procedure and Observations. Run on SQLite and PostgreSQL.

use kyukit_field::{ACCEPT_FHIR, Client, Error as FieldError};
use kyukit_tests::field::{medic_client, world};
use kyukit_tests::{Backend, T0, TestApp, Value, both_backends, json};

fn refusal(e: FieldError) -> (u16, String, String) {
    match e {
        FieldError::Http {
            status,
            error,
            message,
        } => (status, error, message),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

async fn patch(c: &Client, iid: &str, body: Value) -> Value {
    c.send_report(iid, &body).await.expect("patch")
}

fn save_sample(app: &TestApp, bundle: &Value) {
    let backend = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fhir-samples/report");
    std::fs::create_dir_all(&dir).expect("samples dir");
    let path = dir.join(format!("report-record-{backend}.json"));
    std::fs::write(path, serde_json::to_vec_pretty(bundle).expect("json")).expect("sample");
}

both_backends!(
    the_clinical_record_is_patched_validated_and_in_fhir,
    |app: TestApp| async move {
        app.clock.set(T0);
        let w = world(&app).await;
        let c = medic_client(&app, &w).await;
        let inc = c.open_incident("INC-CPA", None).await.expect("open");
        let iid = inc["id"].as_str().unwrap().to_string();
        let v1 = patch(
            &c,
            &iid,
            json!({"base_version": 0, "chief_complaint": "心肺停止", "activation": "cardiac_arrest",
            "estimated_age": 67, "sex": "male",
            "vitals": {"systolic_bp": 0, "diastolic_bp": 0, "heart_rate": 0, "respiratory_rate": 0,
                       "spo2": 70, "temperature": 35.8, "glucose": 110},
            "jcs": "III-300", "gcs": {"e": 1, "v": 1, "m": 1},
            "record": {
                "unit_call_sign": "常総救急1", "crew_phone": "090-9999-0119",
                "location": {"latitude": 36.0236, "longitude": 139.9939, "text": "水海道駅前"},
                "acuity": "red",
                "cardiac_arrest": {"witnessed": "bystander", "bystander_cpr": true,
                                   "first_rhythm": "vf", "collapse_at": T0 - 600,
                                   "cpr_started_at": T0 - 480, "presumed_cause": "cardiac"},
                "interventions": [
                    {"code": "cpr", "at": T0 - 120, "by": "隊長 佐藤"},
                    {"code": "defibrillation", "at": T0 - 60, "by": "救命士 鈴木"}
                ],
                "ecg": {"rhythm": "vf", "at": T0 - 90}
            }}),
        )
        .await;
        let rec = &v1["report"]["record"];
        assert_eq!(rec["interventions"].as_array().unwrap().len(), 2);
        assert_eq!(rec["interventions"][0]["kind"], "procedure");
        assert_eq!(rec["ecg"][0]["at"], T0 - 90);

        // Later: adrenaline (no time typed: the server's), ROSC merged into the arrest, a new
        // rhythm; everything else kept.
        app.clock.advance(120);
        let v2 = patch(
            &c,
            &iid,
            json!({"base_version": 1, "record": {
                "interventions": [{"code": "adrenaline", "dose": 1, "dose_unit": "mg", "route": "iv",
                                   "by": "救命士 鈴木"}],
                "ecg": {"rhythm": "sinus_tachycardia"},
                "cardiac_arrest": {"rosc_at": T0 + 100, "rosc_sustained": true}
            }}),
        )
        .await;
        let rec = &v2["report"]["record"];
        assert_eq!(rec["interventions"].as_array().unwrap().len(), 3);
        assert_eq!(rec["interventions"][2]["code"], "adrenaline");
        assert_eq!(rec["interventions"][2]["at"], T0 + 120);
        assert_eq!(rec["interventions"][2]["kind"], "medication");
        assert_eq!(rec["ecg"].as_array().unwrap().len(), 2);
        assert_eq!(
            rec["cardiac_arrest"]["witnessed"], "bystander",
            "merged, not replaced"
        );
        assert_eq!(rec["cardiac_arrest"]["first_rhythm"], "vf");
        assert_eq!(rec["cardiac_arrest"]["rosc_at"], T0 + 100);
        assert_eq!(rec["unit_call_sign"], "常総救急1");
        assert_eq!(rec["location"]["text"], "水海道駅前");
        let changed = v2["report"]["changed"].as_array().unwrap();
        assert!(
            changed.contains(&json!("record.interventions")),
            "{changed:?}"
        );
        assert!(
            !changed.contains(&json!("record.unit_call_sign")),
            "{changed:?}"
        );

        // The rest of the record.
        let v3 = patch(
            &c,
            &iid,
            json!({"base_version": 2, "record": {
                "pupils": {"left_mm": 3, "right_mm": 3, "left_reactive": true, "right_reactive": true},
                "pain": {"score": 0},
                "weight_kg": 62.5,
                "infection_risk": ["fever_respiratory"],
                "anticoagulant_last_dose_at": T0 - 36_000,
                "stroke_scale": {"kpss": {"consciousness": 2, "disturbance": 1, "left_arm": 2,
                                          "right_arm": 0, "left_leg": 2, "right_leg": 0, "language": 0},
                                 "cpss": {"facial_droop": true, "arm_drift": false, "abnormal_speech": false}},
                "trauma": {"mechanism": "fall", "mechanism_detail": "倒れた際に頭部打撲", "injuries": "前額部挫創"},
                "pregnancy": {"status": "not_pregnant"}
            }}),
        )
        .await;
        let rec = &v3["report"]["record"];
        assert_eq!(rec["stroke_scale"]["kpss_total"], 7);
        assert_eq!(rec["stroke_scale"]["cpss_positive"], true);
        assert_eq!(rec["pupils"][0]["at"], T0 + 120);
        // A patch without the record keeps all of it.
        let v4 = patch(&c, &iid, json!({"base_version": 3, "notes": "家族同乗"})).await;
        assert_eq!(v4["report"]["record"], v3["report"]["record"]);
        // null clears an object; the series stay.
        let v5 = patch(
            &c,
            &iid,
            json!({"base_version": 4, "record": {"trauma": null, "acuity": null}}),
        )
        .await;
        assert!(v5["report"]["record"]["trauma"].is_null());
        assert!(v5["report"]["record"]["acuity"].is_null());
        assert_eq!(
            v5["report"]["record"]["interventions"]
                .as_array()
                .unwrap()
                .len(),
            3
        );

        // Nonsense and contradictions: 422 naming the field, nothing stored.
        for (rec, code, needle) in [
            (
                json!({"interventions": [{"code": "magic"}]}),
                "invalid_record",
                "magic",
            ),
            (
                json!({"interventions": [{"code": "cpr", "dose": 1, "dose_unit": "mg"}]}),
                "invalid_record",
                "procedure",
            ),
            (
                json!({"interventions": [{"code": "adrenaline", "dose": 1}]}),
                "invalid_record",
                "dose_unit",
            ),
            (
                json!({"interventions": [{"code": "adrenaline", "route": "ear"}]}),
                "invalid_record",
                "route",
            ),
            (json!({"pain": {"score": 11}}), "invalid_record", "pain"),
            (
                json!({"pupils": {"left_mm": 14}}),
                "invalid_record",
                "left_mm",
            ),
            (
                json!({"ecg": {"rhythm": "jazz"}}),
                "invalid_record",
                "rhythm",
            ),
            (
                json!({"stroke_scale": {"kpss": {"consciousness": 3, "disturbance": 0, "left_arm": 0,
                        "right_arm": 0, "left_leg": 0, "right_leg": 0, "language": 0}}}),
                "invalid_record",
                "kpss.consciousness",
            ),
            (
                json!({"cardiac_arrest": {"witnessed": "ems"}}),
                "contradiction",
                "bystander CPR",
            ),
            (
                json!({"cardiac_arrest": {"rosc_at": T0 - 3600}}),
                "contradiction",
                "collapse",
            ),
            (
                json!({"pregnancy": {"status": "pregnant"}}),
                "contradiction",
                "male",
            ),
            (
                json!({"pregnancy": {"weeks": 20}}),
                "contradiction",
                "weeks",
            ),
            (
                json!({"crew_phone": "call me"}),
                "invalid_record",
                "crew_phone",
            ),
            (json!({"weight_kg": 900}), "invalid_record", "weight_kg"),
            (json!({"acuity": "purple"}), "invalid_record", "acuity"),
            (
                json!({"location": {"latitude": 123, "longitude": 0}}),
                "invalid_record",
                "latitude",
            ),
            (
                json!({"cardiac_arrest": {"colour": "blue"}}),
                "invalid_record",
                "colour",
            ),
        ] {
            let e = c
                .send_report(&iid, &json!({"base_version": 5, "record": rec.clone()}))
                .await
                .expect_err("refused");
            let (status, error, message) = refusal(e);
            assert_eq!((status, error.as_str()), (422, code), "{rec}: {message}");
            assert!(message.contains(needle), "{rec}: {message}");
        }
        assert_eq!(
            c.incident(&iid, "application/json").await.unwrap()["version"],
            5
        );

        // FHIR: the treatments as MedicationAdministration and Procedure, the findings with LOINC.
        let b = c.incident(&iid, ACCEPT_FHIR).await.expect("FHIR");
        let entries: Vec<&Value> = b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .collect();
        let of = |t: &str| -> Vec<&Value> {
            entries
                .iter()
                .copied()
                .filter(|r| r["resourceType"] == t)
                .collect()
        };
        let meds = of("MedicationAdministration");
        assert_eq!(meds.len(), 1, "{b}");
        assert_eq!(meds[0]["dosage"]["dose"]["value"], 1.0);
        assert_eq!(meds[0]["dosage"]["dose"]["code"], "mg");
        assert_eq!(meds[0]["dosage"]["route"]["coding"][0]["code"], "iv");
        assert_eq!(meds[0]["performer"][0]["actor"]["display"], "救命士 鈴木");
        let procs = of("Procedure");
        assert_eq!(procs.len(), 2);
        assert!(procs.iter().all(|p| p["performedDateTime"].is_string()));
        let loinc = |code: &str| -> Vec<&Value> {
            of("Observation")
                .into_iter()
                .filter(|o| {
                    o["code"]["coding"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|c| c["code"] == code)
                })
                .collect()
        };
        assert_eq!(loinc("8884-9").len(), 2, "two ECG rhythms");
        assert_eq!(loinc("72514-3")[0]["valueInteger"], 0);
        assert_eq!(loinc("29463-7")[0]["valueQuantity"]["code"], "kg");
        assert_eq!(
            loinc("82810-3")[0]["valueCodeableConcept"]["coding"][0]["code"],
            "LA26683-5"
        );
        assert_eq!(loinc("kpss")[0]["valueInteger"], 7);
        assert_eq!(loinc("cardiac-arrest").len(), 1);
        assert_eq!(of("Location").len(), 1);
        save_sample(&app, &b);
    }
);
