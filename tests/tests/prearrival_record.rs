//! The pre-arrival record (issue 25): a report update is a patch (what is not sent is kept),
//! every version is readable, the ETA is an absolute time a resend does not move, vitals are a
//! time-stamped series that reaches FHIR reading by reading, and contradictions are refused
//! naming the conflict. Run on SQLite and PostgreSQL.

use kyukit_field::{ACCEPT_FHIR, Client, Error as FieldError};
use kyukit_tests::field::{
    FieldWorld, MEDIC_PASSWORD, add_staff, create_facility, json_of, medic_client, staff_token,
    world,
};
use kyukit_tests::{Backend, StatusCode, T0, TestApp, Value, both_backends, json};
use reqwest::Method;

async fn hospital(app: &TestApp, w: &FieldWorld) -> (String, String) {
    let id = create_facility(app, &w.admin, "hospital", "きぬ医師会病院").await;
    add_staff(app, &w.admin, &id, "ed1", "ed_staff").await;
    (id, staff_token(app, "ed1", MEDIC_PASSWORD).await)
}

fn first_report() -> Value {
    json!({
        "base_version": 0,
        "chief_complaint": "突然の胸痛、冷汗",
        "activation": "stemi",
        "vitals": {"systolic_bp": 92, "diastolic_bp": 58, "heart_rate": 118, "respiratory_rate": 26,
                   "spo2": 91, "temperature": 36.4, "glucose": 162},
        "jcs": "I-2", "gcs": {"e": 4, "v": 4, "m": 6},
        "onset_at": T0 - 1800,
        "eta_minutes": 12, "crew": ["隊長 佐藤", "救命士 鈴木"]
    })
}

async fn open(app: &TestApp, w: &FieldWorld, c: &Client) -> String {
    let scan = c.scan(&w.card_url, "INC-REC-1").await.expect("scan");
    let inc = c
        .open_incident("INC-REC-1", scan["access_id"].as_str())
        .await
        .expect("open");
    let _ = app;
    inc["id"].as_str().expect("id").to_string()
}

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

both_backends!(
    a_patch_keeps_what_it_does_not_send_and_every_version_is_readable,
    |app: TestApp| async move {
        app.clock.set(T0);
        let w = world(&app).await;
        let (hid, token) = hospital(&app, &w).await;
        let c = medic_client(&app, &w).await;
        let iid = open(&app, &w, &c).await;
        let v1 = c.send_report(&iid, &first_report()).await.expect("v1");
        let r1 = v1["report"].clone();
        assert_eq!(r1["eta_at"], T0 + 720);
        assert_eq!(r1["vitals"]["taken_at"], T0);
        c.inquire(&iid, &[&hid]).await.expect("inquiry");

        // Three seconds later: only the complaint. Every vital, JCS, GCS, activation and ETA stays.
        app.clock.advance(3);
        let v2 = c
            .send_report(
                &iid,
                &json!({"base_version": 1, "chief_complaint": "胸痛、背部へ放散"}),
            )
            .await
            .expect("a patch with only the complaint");
        let r2 = &v2["report"];
        assert_eq!(r2["chief_complaint"], "胸痛、背部へ放散");
        assert_eq!(r2["changed"], json!(["chief_complaint"]));
        for k in [
            "vitals",
            "vitals_series",
            "jcs",
            "gcs",
            "activation",
            "activation_code",
            "eta_at",
            "onset_at",
            "crew",
            "patient",
        ] {
            assert_eq!(r2[k], r1[k], "{k} kept");
        }

        // A resend of the same ETA (12 minutes, 3 s later) does not move the arrival.
        app.clock.advance(3);
        let v3 = c
            .send_report(&iid, &json!({"base_version": 2, "eta_minutes": 12}))
            .await
            .expect("v3");
        assert_eq!(v3["report"]["eta_at"], T0 + 720);
        assert_eq!(v3["version"], 3);

        // All three versions, for the crew and for the hospital asked.
        let r = c
            .signed(
                Method::GET,
                &format!("/api/v1/incidents/{iid}/reports"),
                None,
                None,
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let crew_versions = json_of(r).await;
        let ed_versions = json_of(
            app.get(
                &format!("/api/v1/hospital/incidents/{iid}/reports"),
                Some(&token),
            )
            .await,
        )
        .await;
        for versions in [&crew_versions, &ed_versions] {
            let vs = versions.as_array().expect("a list");
            assert_eq!(
                vs.iter().map(|v| v["version"].clone()).collect::<Vec<_>>(),
                [json!(1), json!(2), json!(3)]
            );
            assert_eq!(vs[0]["chief_complaint"], "突然の胸痛、冷汗");
            assert_eq!(vs[1]["chief_complaint"], "胸痛、背部へ放散");
            assert_eq!(vs[2]["vitals"]["spo2"], 91);
            assert_eq!(vs[2]["eta_at"], vs[0]["eta_at"]);
        }
        // A hospital never asked cannot read them.
        let other = create_facility(&app, &w.admin, "hospital", "守谷第一病院").await;
        add_staff(&app, &w.admin, &other, "ed2", "ed_staff").await;
        let t2 = staff_token(&app, "ed2", MEDIC_PASSWORD).await;
        let r = app
            .get(
                &format!("/api/v1/hospital/incidents/{iid}/reports"),
                Some(&t2),
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        // A changed estimate moves it; null clears it.
        app.clock.advance(120);
        let v4 = c
            .send_report(&iid, &json!({"base_version": 3, "eta_minutes": 5}))
            .await
            .expect("v4");
        assert_eq!(v4["report"]["eta_at"], T0 + 126 + 300);
        assert_eq!(v4["report"]["changed"], json!(["eta_at"]));
    }
);

both_backends!(
    a_vitals_series_reaches_fhir_reading_by_reading,
    |app: TestApp| async move {
        app.clock.set(T0);
        let w = world(&app).await;
        let c = medic_client(&app, &w).await;
        let inc = c.open_incident("INC-SERIES", None).await.expect("open");
        let iid = inc["id"].as_str().unwrap().to_string();
        let mut body = first_report();
        body["estimated_age"] = json!(70);
        body["sex"] = json!("male");
        body["jcs"] = json!("III-100");
        body["jcs_suffixes"] = json!(["R", "I"]);
        body["gcs"] = json!({"e": 1, "v": 2, "m": 5});
        c.send_report(&iid, &body).await.expect("v1");
        // Two more readings, 5 and 10 minutes later: the server stamps them.
        for (i, (hr, spo2)) in [(124, 89), (131, 86)].into_iter().enumerate() {
            app.clock.advance(300);
            let v = c
                .send_report(
                    &iid,
                    &json!({"base_version": i + 1, "vitals": {"heart_rate": hr, "spo2": spo2}}),
                )
                .await
                .expect("reading");
            assert_eq!(v["report"]["vitals"]["heart_rate"], hr);
        }
        // A reading the crew dates itself (entered late) goes where it belongs in time.
        let v = c
            .send_report(
                &iid,
                &json!({"base_version": 3, "gcs": {"e": 1, "v": 1, "m": 4}, "gcs_at": T0 + 400,
                        "jcs": "III-200", "jcs_at": T0 + 400}),
            )
            .await
            .expect("neuro");
        let r = &v["report"];
        let series = r["vitals_series"].as_array().unwrap();
        assert_eq!(series.len(), 3);
        assert_eq!(
            series
                .iter()
                .map(|s| s["taken_at"].clone())
                .collect::<Vec<_>>(),
            [json!(T0), json!(T0 + 300), json!(T0 + 600)]
        );
        assert_eq!(r["gcs_series"].as_array().unwrap().len(), 2);
        assert_eq!(r["jcs"]["display"], "III-200");

        let fhir = c.incident(&iid, ACCEPT_FHIR).await.expect("fhir");
        let obs: Vec<&Value> = fhir["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .filter(|r| r["resourceType"] == "Observation")
            .collect();
        let with_code = |code: &str| -> Vec<&Value> {
            obs.iter()
                .copied()
                .filter(|o| {
                    o["code"]["coding"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|c| c["code"] == code)
                })
                .collect()
        };
        let hr = with_code("8867-4");
        assert_eq!(hr.len(), 3, "three heart-rate Observations");
        let times: Vec<&str> = hr
            .iter()
            .map(|o| o["effectiveDateTime"].as_str().unwrap())
            .collect();
        assert_eq!(
            times,
            [
                "2026-11-21T00:00:00Z",
                "2026-11-21T00:05:00Z",
                "2026-11-21T00:10:00Z"
            ]
        );
        assert_eq!(
            hr.iter()
                .map(|o| o["valueQuantity"]["value"].clone())
                .collect::<Vec<_>>(),
            [json!(118.0), json!(124.0), json!(131.0)]
        );
        // SpO2: the R4 vital-signs profile's 2708-6 with 59408-5, on every reading.
        let spo2 = with_code("2708-6");
        assert_eq!(spo2.len(), 3);
        assert!(
            spo2.iter()
                .all(|o| o["code"]["coding"][1]["code"] == "59408-5")
        );
        // Glucose is a laboratory test, said so.
        let glucose = with_code("41653-7");
        assert_eq!(
            glucose[0]["category"][0]["coding"][0],
            json!({"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                   "code": "laboratory", "display": "Laboratory"})
        );
        assert_eq!(with_code("9269-2").len(), 2, "two GCS assessments");
        save_sample(
            &format!(
                "report-series-{}",
                match app.backend {
                    Backend::Sqlite => "sqlite",
                    Backend::Postgres => "postgres",
                }
            ),
            &fhir,
        );
    }
);

fn save_sample(name: &str, bundle: &Value) {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fhir-samples/report");
    std::fs::create_dir_all(&dir).expect("samples dir");
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_vec_pretty(bundle).expect("json"),
    )
    .expect("write sample");
}

both_backends!(
    contradictions_are_refused_naming_the_conflict,
    |app: TestApp| async move {
        let w = world(&app).await;
        let c = medic_client(&app, &w).await;
        let iid = open(&app, &w, &c).await;
        let cases: Vec<(Value, &[&str])> = vec![
            (
                json!({"jcs": "0", "gcs": {"e": 1, "v": 1, "m": 1}}),
                &["JCS 0", "GCS E1V1M1 (3)"],
            ),
            (
                json!({"jcs": "III-300", "jcs_suffixes": ["A"], "gcs": null}),
                &["III-300A", "suffix A"],
            ),
            (
                json!({"activation": "stroke", "jcs": null, "gcs": null}),
                &["stroke", "last_known_well_at"],
            ),
        ];
        for (patch, needles) in cases {
            let mut body = first_report();
            for (k, v) in patch.as_object().unwrap() {
                if v.is_null() {
                    body.as_object_mut().unwrap().remove(k);
                } else {
                    body[k] = v.clone();
                }
            }
            let (status, code, message) = refusal(c.send_report(&iid, &body).await.unwrap_err());
            assert_eq!((status, code.as_str()), (422, "contradiction"), "{patch}");
            for n in needles {
                assert!(message.contains(n), "{patch}: {message}");
            }
        }
        // Nothing was stored; a consistent stroke report passes, and a later patch cannot
        // remove its last known well without saying it is unknown.
        let mut body = first_report();
        body["activation"] = json!("stroke");
        body["last_known_well_at"] = json!(app.clock.now_for_tests() - 3600);
        let v = c.send_report(&iid, &body).await.expect("stroke with LKW");
        assert_eq!(v["version"], 1);
        let (status, code, _) = refusal(
            c.send_report(
                &iid,
                &json!({"base_version": 1, "last_known_well_at": null}),
            )
            .await
            .unwrap_err(),
        );
        assert_eq!((status, code.as_str()), (422, "contradiction"));
        // A card patient of 80-some years cannot be a paediatric activation.
        let (status, code, message) = refusal(
            c.send_report(
                &iid,
                &json!({"base_version": 1, "activation": "paediatric"}),
            )
            .await
            .unwrap_err(),
        );
        assert_eq!((status, code.as_str()), (422, "contradiction"));
        assert!(message.contains("paediatric"), "{message}");
    }
);
