//! Minimal-necessary inquiry (issue 25, RULES R10): a hospital being asked to accept sees the
//! clinical picture (age, sex, complaint, vitals, activation and the medically relevant consented
//! items) but no name, date of birth, care team or emergency contacts — in JSON, in the report
//! versions, in FHIR, and never in feeds; after it declines (or another hospital accepts) it reads
//! nothing; the accepting hospital reads identity and contacts. Every read is in the resident's
//! access history. Run on SQLite and PostgreSQL.

use kyukit_field::ACCEPT_FHIR;
use kyukit_tests::field::{
    FieldWorld, MEDIC_PASSWORD, access_history, add_staff, admin_token, create_facility, json_of,
    medic_client, resident_with_card, staff_token,
};
use kyukit_tests::{Backend, StatusCode, TestApp, Value, both_backends, json};

/// What identifies the resident or reaches their family (the standard test resident).
const IDENTITY: [&str; 8] = [
    "山田",
    "花子",
    "ヤマダ",
    "1941-04-03",
    "水海道諏訪町",
    "0297-23-2111",
    "090-1234-5678",
    "長男",
];

/// The standard world, but the resident consents to every category (care team and emergency
/// contacts too), so withholding them is the server's choice, not the consent's.
async fn world_all(app: &TestApp) -> FieldWorld {
    let admin = admin_token(app).await;
    let fire_id = create_facility(app, &admin, "fire_department", "常総広域消防本部").await;
    add_staff(app, &admin, &fire_id, "medic1", "paramedic").await;
    let all = [
        "medications",
        "conditions",
        "allergies",
        "devices",
        "blood_type",
        "advance_directive",
        "care_team",
        "emergency_contacts",
    ];
    let (rid, resident_token, card) = resident_with_card(app, "hanako", &all).await;
    FieldWorld {
        admin,
        fire_id,
        medic_login: "medic1".into(),
        rid,
        resident_token,
        card_url: card["url"].as_str().expect("url").to_string(),
        card_id: card["id"].as_str().expect("card id").to_string(),
    }
}

async fn ed_get(app: &TestApp, token: &str, path: &str, accept: &str) -> (StatusCode, Value) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn assert_no_identity(what: &str, v: &Value) {
    let raw = v.to_string();
    for secret in IDENTITY {
        assert!(!raw.contains(secret), "{what}: {secret} leaked: {raw}");
    }
}

fn save_fhir_sample(app: &TestApp, bundle: &Value) {
    let backend = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fhir-samples/report");
    std::fs::create_dir_all(&dir).expect("samples dir");
    let path = dir.join(format!("report-inquiry-{backend}.json"));
    std::fs::write(path, serde_json::to_vec_pretty(bundle).expect("json")).expect("sample");
}

/// The resident's access history entries with this action and facility.
async fn history(app: &TestApp, w: &FieldWorld, action: &str, facility: &str) -> usize {
    access_history(app, w).await["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == action && e["facility_id"] == facility)
        .count()
}

/// Every feed row's data (what SSE clients and push receivers get).
fn feed_and_push_texts(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use kyukit_server::db::schema::{feed_events, push_outbox};
    let db = app.db();
    let mut c = db.conn().expect("conn");
    let c: &mut kyukit_server::db::DbConnection = &mut c;
    let mut out: Vec<String> = feed_events::table
        .select(feed_events::data)
        .load(c)
        .expect("feed");
    out.extend(
        push_outbox::table
            .select(push_outbox::payload)
            .load::<String>(c)
            .expect("outbox"),
    );
    out
}

both_backends!(
    an_asked_hospital_sees_the_clinical_picture_the_accepting_one_the_identity,
    |app: TestApp| async move {
        app.clock.set(kyukit_tests::T0);
        let w = world_all(&app).await;
        let mut hospitals = Vec::new();
        for (i, name) in ["きぬ医師会病院", "水海道さくら病院", "守谷第一病院"]
            .iter()
            .enumerate()
        {
            let id = create_facility(&app, &w.admin, "hospital", name).await;
            let login = format!("ed{i}");
            add_staff(&app, &w.admin, &id, &login, "ed_staff").await;
            hospitals.push((id, staff_token(&app, &login, MEDIC_PASSWORD).await));
        }
        let [(a, ta), (b, tb), (cc, tc)] = <[(String, String); 3]>::try_from(hospitals).unwrap();

        let c = medic_client(&app, &w).await;
        let scan = c.scan(&w.card_url, "INC-R10").await.expect("scan");
        let inc = c
            .open_incident("INC-R10", scan["access_id"].as_str())
            .await
            .expect("open");
        let iid = inc["id"].as_str().unwrap().to_string();
        c.send_report(
            &iid,
            &json!({"base_version": 0, "chief_complaint": "右片麻痺、構音障害", "activation": "stroke",
                    "last_known_well_at": kyukit_tests::T0 - 3000,
                    "vitals": {"systolic_bp": 182, "diastolic_bp": 96, "heart_rate": 96,
                               "respiratory_rate": 18, "spo2": 95, "temperature": 36.8,
                               "glucose": 128},
                    "record": {"location": {"text": "水海道諏訪町3222-3 自宅", "latitude": 36.02, "longitude": 139.99}},
                    "jcs": "I-3", "gcs": {"e": 4, "v": 3, "m": 6}, "eta_minutes": 15}),
        )
        .await
        .expect("report");
        c.inquire(&iid, &[&a, &b, &cc]).await.expect("inquiry");
        let path = format!("/api/v1/hospital/incidents/{iid}");
        let versions = format!("{path}/reports");

        // Hospital A, being asked: the clinical picture, no identity.
        let (s, v) = ed_get(&app, &ta, &path, "application/json").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_no_identity("asked hospital JSON", &v);
        assert!(v["patient"].is_null(), "{v}");
        assert_eq!(v["dataset"]["status"], "not_granted");
        let cp = &v["clinical"];
        assert_eq!(cp["sex"], "female", "{v}");
        assert!(cp["age"].as_u64().unwrap() >= 80, "{cp}");
        assert_eq!(cp["age_band"], v["report"]["patient"]["age_band"]);
        assert_eq!(cp["anticoagulant"], true);
        let raw = cp.to_string();
        for needed in ["ワルファリン", "ペニシリン", "pacemaker", "心房細動"] {
            assert!(raw.contains(needed), "{needed} missing: {raw}");
        }
        let cats = cp["categories"].as_array().unwrap();
        assert!(!cats.contains(&json!("emergency_contacts")), "{cp}");
        assert!(!cats.contains(&json!("care_team")), "{cp}");
        assert_eq!(v["report"]["chief_complaint"], "右片麻痺、構音障害");
        assert_eq!(v["report"]["vitals"]["systolic_bp"], 182);
        assert_eq!(v["report"]["activation"], "stroke");
        // The versions and FHIR say no more.
        let (s, vs) = ed_get(&app, &ta, &versions, "application/json").await;
        assert_eq!(s, StatusCode::OK);
        assert_no_identity("asked hospital versions", &vs);
        let (s, f) = ed_get(&app, &ta, &path, ACCEPT_FHIR).await;
        assert_eq!(s, StatusCode::OK);
        assert_no_identity("asked hospital FHIR", &f);
        let raw = f.to_string();
        assert!(
            raw.contains("ワルファリン") && raw.contains("ペニシリン"),
            "{raw}"
        );
        let patient = f["entry"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["resource"]["resourceType"] == "Patient")
            .expect("a Patient")["resource"]
            .clone();
        assert!(patient.get("name").is_none(), "{patient}");
        assert!(patient.get("birthDate").is_none(), "{patient}");
        assert!(patient.get("identifier").is_none(), "{patient}");
        assert!(
            !f.to_string().contains("RelatedPerson"),
            "no emergency contacts: {f}"
        );
        save_fhir_sample(&app, &f);

        // Hospitals B and C read too; B declines and then reads nothing.
        assert_eq!(
            ed_get(&app, &tb, &path, "application/json").await.0,
            StatusCode::OK
        );
        assert_eq!(
            ed_get(&app, &tc, &path, "application/json").await.0,
            StatusCode::OK
        );
        let r = app
            .post(
                &format!("{path}/answer"),
                Some(&tb),
                json!({"decision": "decline", "reason": "ベッド満床"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let declined = json_of(r).await;
        assert_no_identity("the decline's answer", &declined);
        assert!(declined["clinical"].is_null(), "{declined}");
        for (p, accept) in [
            (&path, "application/json"),
            (&path, ACCEPT_FHIR),
            (&versions, "application/json"),
        ] {
            let (s, body) = ed_get(&app, &tb, p, accept).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{p} {accept}: {body}");
            assert_eq!(body["error"], "not_involved");
        }

        // A accepts: identity and contacts for the hand-over.
        let r = app
            .post(
                &format!("{path}/answer"),
                Some(&ta),
                json!({"decision": "accept"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let (s, v) = ed_get(&app, &ta, &path, "application/json").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["dataset"]["status"], "shown", "{v}");
        assert_eq!(v["patient"]["patient"]["family_name"], "山田");
        // … and the scene (the patient's home), which the hospitals asked did not see.
        assert_eq!(v["report"]["record"]["location"]["latitude"], 36.02);
        assert!(v.to_string().contains("090-1234-5678"), "{v}");
        assert!(v["clinical"].is_null());
        let (_, f) = ed_get(&app, &ta, &path, ACCEPT_FHIR).await;
        assert!(f.to_string().contains("山田"), "{f}");

        // C was asked too; the patient goes to A, so C reads nothing.
        let (s, body) = ed_get(&app, &tc, &path, "application/json").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{body}");

        // Feeds and pushes never carried identity or the dataset.
        for text in feed_and_push_texts(&app) {
            for secret in IDENTITY.iter().chain(&["ワルファリン", "ペニシリン"]) {
                assert!(!text.contains(secret), "{secret} in a feed/push: {text}");
            }
        }

        // Each disclosure is in the resident's access history, by facility.
        assert_eq!(history(&app, &w, "incident.clinical", &a).await, 2);
        assert_eq!(history(&app, &w, "incident.clinical", &b).await, 1);
        assert_eq!(history(&app, &w, "incident.clinical", &cc).await, 1);
        assert!(history(&app, &w, "incident.dataset", &a).await >= 2);
        assert_eq!(history(&app, &w, "incident.dataset", &b).await, 0);
        assert_eq!(history(&app, &w, "incident.dataset", &cc).await, 0);
        // The version reads (no dataset, but about the resident) are there too.
        assert!(history(&app, &w, "incident.read", &a).await >= 3);
    }
);

async fn decline(app: &TestApp, token: &str, iid: &str, body: Value) -> (StatusCode, Value) {
    let r = app
        .post(
            &format!("/api/v1/hospital/incidents/{iid}/answer"),
            Some(token),
            body,
        )
        .await;
    let status = r.status();
    (status, json_of(r).await)
}

both_backends!(
    coded_declines_count_towards_a_difficult_transport_and_re_asking_keeps_the_answer,
    |app: TestApp| async move {
        use kyukit_tests::T0;
        app.clock.set(T0);
        let w = kyukit_tests::field::world(&app).await;
        let mut hs = Vec::new();
        for i in 0..5 {
            let id = create_facility(&app, &w.admin, "hospital", &format!("病院{i}")).await;
            let login = format!("ed{i}");
            add_staff(&app, &w.admin, &id, &login, "ed_staff").await;
            hs.push((id, login));
        }
        // ED sessions go idle while the clock runs: log in when about to act.
        let ed = |i: usize| staff_token(&app, &hs[i].1, MEDIC_PASSWORD);
        let c = medic_client(&app, &w).await;
        let inc = c.open_incident("INC-KONNAN", None).await.expect("open");
        let iid = inc["id"].as_str().unwrap().to_string();
        assert_eq!(inc["inquiry"]["count"], 0);
        assert_eq!(inc["inquiry"]["arrived_on_scene_at"], T0);
        c.send_report(
            &iid,
            &json!({"base_version": 0, "chief_complaint": "腹痛", "activation": "general",
                    "estimated_age": 70, "sex": "male"}),
        )
        .await
        .expect("report");

        // Nonsense is refused with its code; a decline needs a reason.
        c.inquire(&iid, &[&hs[0].0]).await.expect("ask 0");
        for (body, code) in [
            (
                json!({"decision": "decline", "reason_code": "lunch"}),
                "invalid_reason_code",
            ),
            (json!({"decision": "decline"}), "invalid_field"),
            (
                json!({"decision": "decline", "reason_code": "other"}),
                "invalid_field",
            ),
            (
                json!({"decision": "accept", "reason_code": "beds_full"}),
                "invalid_reason_code",
            ),
        ] {
            let (s, e) = decline(&app, &ed(0).await, &iid, body.clone()).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
            assert_eq!(e["error"], code, "{body}: {e}");
        }

        // Four hospitals decline, one after the other, with coded reasons (the last in words only:
        // `other`).
        let reasons = [
            json!({"decision": "decline", "reason_code": "beds_full"}),
            json!({"decision": "decline", "reason_code": "busy", "reason": "緊急手術中"}),
            json!({"decision": "decline", "reason_code": "outside_specialty"}),
            json!({"decision": "decline", "reason": "CT故障"}),
        ];
        for (i, body) in reasons.iter().enumerate() {
            if i > 0 {
                c.inquire(&iid, &[&hs[i].0]).await.expect("ask");
            }
            app.clock.advance(5 * 60);
            let (s, v) = decline(&app, &ed(i).await, &iid, body.clone()).await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
        let v = c.incident(&iid, "application/json").await.expect("read");
        let t0 = v["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["hospital"]["id"] == hs[0].0.as_str())
            .unwrap()
            .clone();
        assert_eq!(t0["reason_code"], "beds_full");
        assert_eq!(t0["reason_words"]["ja"], "ベッド満床");
        let t3 = v["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["hospital"]["id"] == hs[3].0.as_str())
            .unwrap()
            .clone();
        assert_eq!(t3["reason_code"], "other");
        assert_eq!(t3["reason_words"]["ja"], "その他");
        assert_eq!(t3["reason"], "CT故障");
        // 4 inquiries, 20 minutes on scene: not yet a difficult transport.
        assert_eq!(v["inquiry"]["count"], 4, "{}", v["inquiry"]);
        assert_eq!(v["inquiry"]["declined"], 4);
        let on_scene = v["inquiry"]["on_scene_secs"].as_i64().unwrap();
        assert!((20 * 60..30 * 60).contains(&on_scene), "{on_scene}");
        assert_eq!(v["inquiry"]["difficult"], false);

        // Thirty minutes on scene: the 搬送困難事案 flag, for the crew and for the next hospital.
        app.clock.set(T0 + 30 * 60);
        let v = c.incident(&iid, "application/json").await.expect("read");
        assert_eq!(v["inquiry"]["on_scene_secs"], 30 * 60);
        assert_eq!(v["inquiry"]["count"], 4);
        assert_eq!(v["inquiry"]["difficult"], true, "{}", v["inquiry"]);
        c.inquire(&iid, &[&hs[4].0]).await.expect("ask 4");
        let list = json_of(
            app.get("/api/v1/hospital/incidents", Some(&ed(4).await))
                .await,
        )
        .await;
        assert_eq!(list[0]["inquiry"]["difficult"], true, "{list}");
        assert_eq!(list[0]["inquiry"]["count"], 5);

        // Re-asking the first hospital keeps its earlier decline.
        c.inquire(&iid, &[&hs[0].0]).await.expect("ask 0 again");
        let v = c.incident(&iid, "application/json").await.expect("read");
        let t0 = v["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["hospital"]["id"] == hs[0].0.as_str())
            .unwrap()
            .clone();
        assert_eq!(t0["status"], "pending");
        assert_eq!(t0["history"][0]["status"], "declined", "{t0}");
        assert_eq!(t0["history"][0]["reason_code"], "beds_full");
        assert_eq!(t0["history"][0]["reason_words"]["en"], "no bed available");
        assert_eq!(v["inquiry"]["count"], 6);
        assert_eq!(v["inquiry"]["declined"], 4);
        // The hospital asked again sees its own earlier answer too.
        let (s, mine) = ed_get(
            &app,
            &ed(0).await,
            &format!("/api/v1/hospital/incidents/{iid}"),
            "application/json",
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(mine["targets"][0]["history"][0]["reason_code"], "beds_full");

        // Leaving the scene stops the clock on scene.
        let v = c
            .send_report(
                &iid,
                &json!({"base_version": 1, "left_scene_at": T0 + 25 * 60}),
            )
            .await
            .expect("left scene");
        assert_eq!(v["inquiry"]["on_scene_secs"], 25 * 60);
        assert_eq!(v["inquiry"]["difficult"], false);
        let e = c
            .send_report(&iid, &json!({"base_version": 2, "left_scene_at": T0 - 60}))
            .await
            .expect_err("left before arriving");
        assert!(e.to_string().contains("invalid_time"), "{e}");

        // The codes and their words, for any client.
        let codes = json_of(app.get("/api/v1/inquiry-codes", None).await).await;
        let reasons: Vec<&str> = codes["decline_reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["ja"].as_str().unwrap())
            .collect();
        assert_eq!(
            reasons,
            [
                "処置困難",
                "手術中・患者対応中",
                "ベッド満床",
                "専門外",
                "医師不在",
                "初診（かかりつけ医なし）",
                "その他"
            ]
        );
    }
);

both_backends!(
    hospital_capacity_set_by_the_ed_shows_in_the_crews_list,
    |app: TestApp| async move {
        let w = kyukit_tests::field::world(&app).await;
        let h = create_facility(&app, &w.admin, "hospital", "きぬ医師会病院").await;
        add_staff(&app, &w.admin, &h, "ed1", "ed_staff").await;
        let ed = staff_token(&app, "ed1", MEDIC_PASSWORD).await;
        let other = create_facility(&app, &w.admin, "hospital", "水海道さくら病院").await;
        let c = medic_client(&app, &w).await;

        // Nothing published yet.
        let list = c.hospitals().await.expect("hospitals");
        for x in list["hospitals"].as_array().unwrap() {
            assert_eq!(x["capacity"], json!([]), "{x}");
        }
        for (body, code) in [
            (
                json!({"categories": [{"category": "dermatology", "status": "available"}]}),
                "invalid_capacity",
            ),
            (
                json!({"categories": [{"category": "stroke", "status": "maybe"}]}),
                "invalid_capacity",
            ),
            (json!({"categories": []}), "invalid_field"),
        ] {
            let r = app
                .client
                .put(app.url("/api/v1/hospital/capacity"))
                .bearer_auth(&ed)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(json_of(r).await["error"], code);
        }
        let r = app
            .client
            .put(app.url("/api/v1/hospital/capacity"))
            .bearer_auth(&ed)
            .json(&json!({"categories": [
                {"category": "stroke", "status": "unavailable", "note": "CT 停止中"},
                {"category": "general", "status": "available"}
            ]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let mine = json_of(r).await;
        assert_eq!(mine.as_array().unwrap().len(), 2);
        // A second change of one category keeps the other.
        let r = app
            .client
            .put(app.url("/api/v1/hospital/capacity"))
            .bearer_auth(&ed)
            .json(&json!({"categories": [{"category": "general", "status": "limited"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);

        let list = c.hospitals().await.expect("hospitals");
        let find = |id: &str| {
            list["hospitals"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["id"] == id)
                .unwrap()
                .clone()
        };
        let cap = find(&h)["capacity"].clone();
        assert_eq!(cap[0]["category"], "stroke", "{cap}");
        assert_eq!(cap[0]["status"], "unavailable");
        assert_eq!(cap[0]["status_words"]["ja"], "受入不可");
        assert_eq!(cap[0]["category_words"]["ja"], "脳卒中");
        assert_eq!(cap[0]["note"], "CT 停止中");
        assert_eq!(cap[1]["category"], "general");
        assert_eq!(cap[1]["status"], "limited");
        assert_eq!(cap[1]["stale"], false);
        assert_eq!(find(&other)["capacity"], json!([]));
        // The ED reads its own.
        let own = json_of(app.get("/api/v1/hospital/capacity", Some(&ed)).await).await;
        assert_eq!(own, cap);
    }
);
