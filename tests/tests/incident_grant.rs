//! Issue 19: an incident opened from a scan does not stretch the scan's grant. The resident's
//! dataset is in an incident read (crew and ED, JSON and FHIR) only for the paramedic who scanned
//! on the device that scanned while the grant lasts, and for the destination hospital during the
//! hand-over (until arrival + 2 h); afterwards the clinical report stays and `patient` is `null`
//! with `dataset.status` saying why. Every disclosure is in the resident's access history. Run on
//! SQLite and PostgreSQL.

use kyukit_field::{ACCEPT_FHIR, ACCEPT_JSON, Client};
use kyukit_tests::field::{
    FieldWorld, MEDIC_PASSWORD, access_history, add_staff, create_facility, json_of, medic_client,
    medic_login, staff_token, world,
};
use kyukit_tests::{Backend, StatusCode, TestApp, Value, both_backends, json};

const HANDOVER: i64 = 2 * 3600;

fn report() -> Value {
    json!({
        "base_version": 0,
        "chief_complaint": "突然の胸痛、冷汗",
        "activation": "stemi",
        "vitals": {"systolic_bp": 92, "diastolic_bp": 58, "heart_rate": 118, "respiratory_rate": 26,
                   "spo2": 91, "temperature": 36.4, "glucose": 162},
        "jcs": "I-2", "gcs": {"e": 4, "v": 4, "m": 6},
        "eta_minutes": 12, "crew": ["隊長 佐藤"]
    })
}

/// The dataset is there: the resident, a consented medication, `dataset.status` `shown`.
fn assert_shown(v: &Value, w: &FieldWorld) {
    assert_eq!(v["dataset"]["status"], "shown", "{v}");
    assert_eq!(v["patient"]["patient"]["id"], w.rid.as_str(), "{v}");
    assert!(v.to_string().contains("ワルファリン"), "{v}");
}

/// No trace of the dataset, the clinical report intact, and the reason said.
fn assert_withheld(v: &Value, why: &str) {
    assert_eq!(v["dataset"]["status"], why, "{v}");
    assert!(v["patient"].is_null(), "{v}");
    let raw = v.to_string();
    for secret in ["山田", "花子", "ワルファリン", "ペニシリン", "1941-04-03"] {
        assert!(!raw.contains(secret), "{secret} leaked: {raw}");
    }
    assert_eq!(v["report"]["chief_complaint"], "突然の胸痛、冷汗");
    assert_eq!(v["report"]["vitals"]["heart_rate"], 118);
    assert_eq!(v["report"]["gcs"]["total"], 14);
    assert_eq!(v["report"]["jcs"]["level"], "I-2", "{v}");
    assert_eq!(v["report"]["activation"], "stemi");
    assert!(v["report"]["eta_at"].is_i64());
}

/// The FHIR Bundle: no resident's data, an unidentified Patient, the withheld section, the vitals.
fn assert_fhir_withheld(b: &Value) {
    let raw = b.to_string();
    for secret in ["山田", "花子", "ワルファリン", "ペニシリン", "1941-04-03"] {
        assert!(!raw.contains(secret), "{secret} leaked in FHIR: {raw}");
    }
    let sections = b["entry"][0]["resource"]["section"].as_array().unwrap();
    assert!(
        sections
            .iter()
            .any(|s| s["emptyReason"]["coding"][0]["code"] == "withheld"),
        "{raw}"
    );
    assert!(
        raw.contains("8867-4"),
        "the heart rate is still there: {raw}"
    );
}

/// A hospital being asked: the clinical picture (`clinical`), no identity (`patient` null).
fn assert_asked(v: &Value) {
    assert_eq!(v["dataset"]["status"], "not_granted", "{v}");
    assert!(v["patient"].is_null(), "{v}");
    let raw = v.to_string();
    for secret in ["山田", "花子", "1941-04-03"] {
        assert!(!raw.contains(secret), "{secret} leaked: {raw}");
    }
    assert!(v["clinical"].to_string().contains("ワルファリン"), "{v}");
    assert_eq!(v["report"]["chief_complaint"], "突然の胸痛、冷汗");
}

fn assert_fhir_shown(b: &Value) {
    let raw = b.to_string();
    assert!(
        raw.contains("山田") && raw.contains("ワルファリン"),
        "{raw}"
    );
    assert!(!raw.contains("\"withheld\""), "{raw}");
}

/// For the FHIR oracle (tests/oracle/test_fhir_report.py).
fn save_fhir_sample(app: &TestApp, bundle: &Value) {
    let backend = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fhir-samples/report");
    std::fs::create_dir_all(&dir).expect("samples dir");
    let path = dir.join(format!("report-withheld-{backend}.json"));
    std::fs::write(path, serde_json::to_vec_pretty(bundle).expect("json")).expect("sample");
}

async fn ed(app: &TestApp, token: &str, iid: &str, accept: &str) -> Value {
    let r = app
        .client
        .get(app.url(&format!("/api/v1/hospital/incidents/{iid}")))
        .bearer_auth(token)
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    json_of(r).await
}

async fn crew(c: &Client, iid: &str) -> (Value, Value) {
    (
        c.incident(iid, ACCEPT_JSON).await.expect("crew read"),
        c.incident(iid, ACCEPT_FHIR).await.expect("crew FHIR read"),
    )
}

/// Disclosures of the dataset in incidents, per facility, from the resident's access history
/// (the resident logs in afresh: the test moves the clock past idle sessions).
async fn dataset_reads(app: &TestApp, w: &FieldWorld, facility: &str) -> usize {
    let r = app
        .post(
            "/api/v1/sessions",
            None,
            json!({"login_id": "hanako", "password": "correct horse battery"}),
        )
        .await;
    let token = json_of(r).await["token"].as_str().unwrap().to_string();
    let w = FieldWorld {
        resident_token: token,
        ..w.clone()
    };
    access_history(app, &w).await["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "incident.dataset" && e["facility_id"] == facility)
        .count()
}

both_backends!(
    the_incident_dataset_follows_the_scan_grant_and_the_handover,
    |app: TestApp| async move {
        let w = world(&app).await;
        add_staff(&app, &w.admin, &w.fire_id, "medic2", "paramedic").await;
        let hosp = create_facility(&app, &w.admin, "hospital", "きぬ医師会病院").await;
        add_staff(&app, &w.admin, &hosp, "ed1", "ed_staff").await;
        let other = create_facility(&app, &w.admin, "hospital", "水海道さくら病院").await;
        add_staff(&app, &w.admin, &other, "ed2", "ed_staff").await;

        let mut c = medic_client(&app, &w).await;
        let scan = c.scan(&w.card_url, "INC-19").await.expect("scan");
        let grant_end = scan["expires_at"].as_i64().unwrap();
        let inc = c
            .open_incident("INC-19", scan["access_id"].as_str())
            .await
            .expect("open");
        let iid = inc["id"].as_str().unwrap().to_string();
        assert_shown(&inc, &w);
        assert_eq!(inc["dataset"]["until"], grant_end);
        c.send_report(&iid, &report()).await.expect("report");

        // The scanning paramedic on the scanning device, within the grant: JSON and FHIR.
        let (j, f) = crew(&c, &iid).await;
        assert_shown(&j, &w);
        assert_fhir_shown(&f);

        // Another paramedic logs in on the same device: the report, not the dataset.
        medic_login(&app, &mut c, "medic2").await.expect("medic2");
        let (j, f) = crew(&c, &iid).await;
        assert_withheld(&j, "not_granted");
        assert_fhir_withheld(&f);
        medic_login(&app, &mut c, "medic1")
            .await
            .expect("medic1 again");

        // Hospitals asked see the clinical picture without identity (issue 25: the consented
        // medical items in `clinical`, never the name).
        c.inquire(&iid, &[&hosp, &other]).await.expect("inquiry");
        let ed1 = staff_token(&app, "ed1", MEDIC_PASSWORD).await;
        let ed2 = staff_token(&app, "ed2", MEDIC_PASSWORD).await;
        assert_asked(&ed(&app, &ed2, &iid, "application/json").await);
        assert_asked(&ed(&app, &ed1, &iid, "application/json").await);
        let f = ed(&app, &ed1, &iid, ACCEPT_FHIR).await;
        let raw = f.to_string();
        for secret in ["山田", "花子", "1941-04-03"] {
            assert!(!raw.contains(secret), "{secret} leaked in FHIR: {raw}");
        }
        assert!(
            raw.contains("ワルファリン") && raw.contains("8867-4"),
            "{raw}"
        );
        assert_eq!(dataset_reads(&app, &w, &hosp).await, 0);

        // The hospital accepts: it sees the dataset for the hand-over (JSON and FHIR), audited.
        let r = app
            .post(
                &format!("/api/v1/hospital/incidents/{iid}/answer"),
                Some(&ed1),
                json!({"decision": "accept"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let accepted = json_of(r).await;
        assert_shown(&accepted, &w);
        let j = ed(&app, &ed1, &iid, "application/json").await;
        assert_shown(&j, &w);
        assert_eq!(
            j["dataset"]["until"],
            grant_end + HANDOVER,
            "before arrival"
        );
        assert_fhir_shown(&ed(&app, &ed1, &iid, ACCEPT_FHIR).await);
        assert_eq!(dataset_reads(&app, &w, &hosp).await, 3);

        // Arrival an hour later: the hand-over window is arrival + 2 h.
        app.clock.advance(3600);
        medic_login(&app, &mut c, "medic1").await.expect("login");
        let arrived = c.arrive(&iid).await.expect("arrival");
        let arrived_at = arrived["closed_at"].as_i64().unwrap();
        assert_shown(&arrived, &w);
        app.clock.advance(HANDOVER - 120);
        let ed1 = staff_token(&app, "ed1", MEDIC_PASSWORD).await; // the idle session ended
        let j = ed(&app, &ed1, &iid, "application/json").await;
        assert_shown(&j, &w);
        assert_eq!(j["dataset"]["until"], arrived_at + HANDOVER);
        let within = dataset_reads(&app, &w, &hosp).await;
        assert_eq!(
            within, 4,
            "every disclosure to the hospital is in the access history"
        );

        // After the hand-over: the report stays, the dataset is gone (JSON and FHIR), nothing new
        // in the access history.
        app.clock.advance(121);
        let ed1 = staff_token(&app, "ed1", MEDIC_PASSWORD).await;
        let j = ed(&app, &ed1, &iid, "application/json").await;
        assert_withheld(&j, "expired");
        assert_eq!(j["dataset"]["until"], arrived_at + HANDOVER);
        let f = ed(&app, &ed1, &iid, ACCEPT_FHIR).await;
        assert_fhir_withheld(&f);
        save_fhir_sample(&app, &f);
        assert_eq!(dataset_reads(&app, &w, &hosp).await, within);

        // The crew still within its 4-hour grant; then past it.
        medic_login(&app, &mut c, "medic1").await.expect("login");
        assert!(c.now() < grant_end);
        let (j, _) = crew(&c, &iid).await;
        assert_shown(&j, &w);
        let crew_reads = dataset_reads(&app, &w, &w.fire_id).await;
        app.clock.set(grant_end);
        medic_login(&app, &mut c, "medic1").await.expect("login");
        let (j, f) = crew(&c, &iid).await;
        assert_withheld(&j, "expired");
        assert_fhir_withheld(&f);
        assert_eq!(dataset_reads(&app, &w, &w.fire_id).await, crew_reads);
    }
);
