//! Pre-arrival end to end: a crew opens an incident from a scan, reports, asks hospitals; EDs
//! see it live (SSE, resumable with Last-Event-ID), acknowledge and answer; the first acceptance
//! wins; unacknowledged alerts escalate on the injected clock; bad input is refused and loses
//! nothing. Run on SQLite and PostgreSQL.

use kyukit_field::{ACCEPT_FHIR, Client, Error as FieldError};
use kyukit_tests::field::{
    FieldWorld, MEDIC_PASSWORD, access_history, add_staff, audit_events, create_facility, json_of,
    medic_client, staff_token, world,
};
use kyukit_tests::push::PushService;
use kyukit_tests::sse::Sse;
use kyukit_tests::{Backend, StatusCode, TestApp, Value, both_backends, json};
use reqwest::Method;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

struct Hospital {
    id: String,
    token: String,
}

async fn hospital(app: &TestApp, w: &FieldWorld, name: &str, login: &str) -> Hospital {
    let id = create_facility(app, &w.admin, "hospital", name).await;
    add_staff(app, &w.admin, &id, login, "ed_staff").await;
    let token = staff_token(app, login, MEDIC_PASSWORD).await;
    Hospital { id, token }
}

fn report(base: i64) -> Value {
    json!({
        "base_version": base,
        "chief_complaint": "突然の胸痛、冷汗",
        "activation": "stemi",
        "vitals": {"systolic_bp": 92, "diastolic_bp": 58, "heart_rate": 118, "respiratory_rate": 26,
                   "spo2": 91, "temperature": 36.4, "glucose": 162},
        "jcs": "I-2", "gcs": {"e": 4, "v": 4, "m": 6},
        "eta_minutes": 12, "crew": ["隊長 佐藤", "救命士 鈴木"]
    })
}

fn save_fhir_sample(name: &str, bundle: &Value) {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fhir-samples/report");
    std::fs::create_dir_all(&dir).expect("samples dir");
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_vec_pretty(bundle).expect("json"),
    )
    .expect("write sample");
}

fn backend_name(app: &TestApp) -> &'static str {
    match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

async fn ed_feed(app: &TestApp, token: &str, last: Option<i64>) -> Sse {
    let mut req = app
        .client
        .get(app.url("/api/v1/hospital/feed"))
        .bearer_auth(token);
    if let Some(id) = last {
        req = req.header("Last-Event-ID", id.to_string());
    }
    Sse::new(req.send().await.expect("feed")).await
}

async fn crew_feed(c: &Client) -> Sse {
    Sse::new(
        c.signed(
            Method::GET,
            "/api/v1/crew/feed",
            None,
            Some("text/event-stream"),
        )
        .await
        .expect("crew feed"),
    )
    .await
}

async fn err_of(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: error body not JSON ({e}): {text:?}"));
    assert_eq!(
        v.as_object().map(|o| o.len()),
        Some(2),
        "exactly error and message: {v}"
    );
    (
        status,
        v["error"].as_str().unwrap_or_default().to_string(),
        v["message"].as_str().unwrap_or_default().to_string(),
    )
}

fn field_err(e: FieldError) -> (u16, String) {
    match e {
        FieldError::Http { status, error, .. } => (status, error),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

/// A crew with an incident opened from a scan of the world's card, and a first report.
async fn crew_with_report(app: &TestApp, w: &FieldWorld) -> (Client, String) {
    let c = medic_client(app, w).await;
    let scan = c.scan(&w.card_url, "INC-2026-0001").await.expect("scan");
    let access = scan["access_id"].as_str().expect("access id");
    let inc = c
        .open_incident("INC-2026-0001", Some(access))
        .await
        .expect("open incident");
    let iid = inc["id"].as_str().expect("incident id").to_string();
    let v = c.send_report(&iid, &report(0)).await.expect("report");
    assert_eq!(v["version"], 1);
    (c, iid)
}

both_backends!(
    report_reaches_the_ed_live_resumes_and_is_acknowledged,
    |app: TestApp| async move {
        let w = world(&app).await;
        let h = hospital(&app, &w, "きぬ医師会病院", "ed1").await;
        // The ED's tablet is subscribed to Web Push (a push service that decrypts with `ece`).
        let key = json_of(app.get("/api/v1/push/vapid-public-key", None).await).await;
        let push = PushService::start(app.clock.clone(), key["public_key"].as_str().unwrap()).await;
        let tablet = push.subscriber("/ed-tablet");
        let r = app
            .post(
                "/api/v1/push/subscriptions",
                Some(&h.token),
                tablet.body(Some("ER desk")),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        // The ED is watching before anything happens.
        let mut ed = ed_feed(&app, &h.token, None).await;
        let c = medic_client(&app, &w).await;
        let mut crew = crew_feed(&c).await;

        let scan = c.scan(&w.card_url, "INC-1").await.expect("scan");
        let inc = c
            .open_incident("INC-1", scan["access_id"].as_str())
            .await
            .expect("open");
        let iid = inc["id"].as_str().unwrap().to_string();
        // Seeded from the scan: the consented dataset, nothing else.
        assert_eq!(inc["patient"]["patient"]["id"], w.rid.as_str());
        assert_eq!(inc["version"], 0);
        let v1 = c.send_report(&iid, &report(0)).await.expect("report v1");
        assert_eq!(v1["report"]["patient"]["source"], "card");
        assert_eq!(v1["report"]["activation_code"], "4224013");
        assert_eq!(v1["report"]["gcs"]["total"], 14);
        let asked = c.inquire(&iid, &[&h.id]).await.expect("inquiry");
        assert_eq!(asked["targets"][0]["status"], "pending");

        let e = ed
            .next_of("inquiry", WAIT)
            .await
            .expect("the ED sees the inquiry live");
        assert_eq!(e.data["incident_id"], iid.as_str());
        assert_eq!(e.data["activation"], "stemi");
        // No names or medical details in the feed.
        let raw = e.data.to_string();
        assert!(!raw.contains("山田") && !raw.contains("胸痛"), "{raw}");
        let seen = e.id.expect("event id");
        // The push: decrypted, exactly the minimal payload, high urgency.
        let got = push.wait_for(1).await;
        assert!(push.problems().is_empty(), "{:?}", push.problems());
        assert_eq!(
            got[0].json(),
            json!({"incident_id": iid, "kind": "inquiry", "activation": "stemi",
                   "age_band": "80s", "eta_at": v1["report"]["eta_at"],
                   "version": v1["version"], "escalation": 0})
        );
        assert_eq!(got[0].headers["urgency"], "high");

        // The incoming list and the full incident with auth.
        let list = json_of(app.get("/api/v1/hospital/incidents", Some(&h.token)).await).await;
        assert_eq!(list[0]["id"], iid.as_str());
        assert_eq!(list[0]["age_band"], "80s");
        assert_eq!(list[0]["target"]["status"], "pending");
        let full = app
            .get(&format!("/api/v1/hospital/incidents/{iid}"), Some(&h.token))
            .await;
        assert_eq!(full.status(), StatusCode::OK);
        let full = json_of(full).await;
        assert_eq!(full["report"]["chief_complaint"], "突然の胸痛、冷汗");
        assert_eq!(full["targets"].as_array().unwrap().len(), 1);
        let fhir = app
            .client
            .get(app.url(&format!("/api/v1/hospital/incidents/{iid}")))
            .bearer_auth(&h.token)
            .header("accept", ACCEPT_FHIR)
            .send()
            .await
            .unwrap();
        assert_eq!(
            fhir.headers()["content-type"].to_str().unwrap(),
            "application/fhir+json"
        );
        // Asked, not yet accepted: the clinical picture without identity (issue 19).
        let fhir = json_of(fhir).await;
        assert!(!fhir.to_string().contains("山田"), "{fhir}");

        // The ED drops off; meanwhile a second version and an ECG photo arrive.
        drop(ed);
        let v2 = c.send_report(&iid, &report(1)).await.expect("report v2");
        assert_eq!(v2["version"], 2);
        let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[0u8; 2000]].concat();
        let r = c
            .signed_bytes(
                Method::POST,
                &format!("/api/v1/incidents/{iid}/attachments"),
                jpeg.clone(),
                "image/jpeg",
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let att = json_of(r).await;
        // Reconnecting with Last-Event-ID replays exactly what was missed, in order.
        let mut ed = ed_feed(&app, &h.token, Some(seen)).await;
        let a = ed.next(WAIT).await.expect("missed event 1");
        let b = ed.next(WAIT).await.expect("missed event 2");
        assert_eq!(
            (a.event.as_str(), b.event.as_str()),
            ("report_updated", "attachment_added")
        );
        assert_eq!(a.id, Some(seen + 1));
        assert_eq!(b.id, Some(seen + 2));
        assert_eq!(a.data["version"], 2);
        // The same works with the query parameter (EventSource cannot set headers on first connect).
        let resp = app
            .client
            .get(app.url(&format!("/api/v1/hospital/feed?last_event_id={seen}")))
            .bearer_auth(&h.token)
            .send()
            .await
            .unwrap();
        let mut q = Sse::new(resp).await;
        assert_eq!(q.next(WAIT).await.unwrap().id, Some(seen + 1));
        let bytes = app
            .client
            .get(app.url(&format!(
                "/api/v1/hospital/incidents/{iid}/attachments/{}",
                att["id"].as_str().unwrap()
            )))
            .bearer_auth(&h.token)
            .send()
            .await
            .unwrap();
        assert_eq!(bytes.headers()["content-type"], "image/jpeg");
        assert_eq!(bytes.bytes().await.unwrap().to_vec(), jpeg);

        // Acknowledge: the crew sees it live; then accept, then arrival.
        let r = app
            .send(
                Method::POST,
                &format!("/api/v1/hospital/incidents/{iid}/acknowledge"),
                Some(&h.token),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let ack = crew
            .next_of("acknowledged", WAIT)
            .await
            .expect("crew sees the ack");
        assert_eq!(ack.data["hospital_id"], h.id.as_str());
        let r = app
            .post(
                &format!("/api/v1/hospital/incidents/{iid}/answer"),
                Some(&h.token),
                json!({"decision": "accept"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let acc = crew
            .next_of("accepted", WAIT)
            .await
            .expect("crew sees the acceptance");
        assert_eq!(acc.data["hospital_id"], h.id.as_str());
        // The destination sees the resident for the hand-over.
        let fhir = app
            .client
            .get(app.url(&format!("/api/v1/hospital/incidents/{iid}")))
            .bearer_auth(&h.token)
            .header("accept", ACCEPT_FHIR)
            .send()
            .await
            .unwrap();
        let fhir = json_of(fhir).await;
        assert!(fhir.to_string().contains("山田"), "{fhir}");
        save_fhir_sample(&format!("report-seeded-{}", backend_name(&app)), &fhir);
        let r = c
            .signed(
                Method::POST,
                &format!("/api/v1/incidents/{iid}/arrival"),
                None,
                None,
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(json_of(r).await["status"], "arrived");
        assert!(ed.next_of("arrived", WAIT).await.is_some());

        // Audited, and the hospital's reads are in the resident's access history.
        let actions: Vec<String> = audit_events(&app).into_iter().map(|e| e.action).collect();
        for a in [
            "incident.open",
            "incident.report",
            "incident.attachment",
            "incident.inquiry",
            "incident.list",
            "incident.read",
            "incident.attachment.read",
            "incident.acknowledge",
            "incident.answer",
            "incident.arrival",
        ] {
            assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
        }
        let history = access_history(&app, &w).await;
        assert!(
            history["entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "incident.read" && e["facility_name"] == "きぬ医師会病院"),
            "{history}"
        );
    }
);

both_backends!(
    twenty_hospitals_accept_at_once_and_exactly_one_wins,
    |app: TestApp| async move {
        let w = world(&app).await;
        let mut hospitals = Vec::new();
        for i in 0..20 {
            hospitals.push(hospital(&app, &w, &format!("病院{i:02}"), &format!("ed{i:02}")).await);
        }
        let (c, iid) = crew_with_report(&app, &w).await;
        let ids: Vec<&str> = hospitals.iter().map(|h| h.id.as_str()).collect();
        c.inquire(&iid, &ids[..10]).await.expect("first ten");
        let v = c.inquire(&iid, &ids[10..]).await.expect("next ten");
        assert_eq!(v["targets"].as_array().unwrap().len(), 20);

        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
        let mut tasks = Vec::new();
        for h in &hospitals {
            let (http, url, token, barrier) = (
                app.client.clone(),
                app.url(&format!("/api/v1/hospital/incidents/{iid}/answer")),
                h.token.clone(),
                barrier.clone(),
            );
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let r = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"decision": "accept"}))
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }));
        }
        let mut winners = Vec::new();
        for (i, t) in tasks.into_iter().enumerate() {
            let (status, body) = t.await.unwrap();
            match status {
                200 => winners.push(i),
                409 => {
                    assert_eq!(body["error"], "already_accepted", "{body}");
                    assert!(
                        body["message"]
                            .as_str()
                            .unwrap()
                            .contains("another hospital")
                    );
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one acceptance wins");
        let winner = &hospitals[winners[0]];
        let inc = c.incident(&iid, "application/json").await.unwrap();
        assert_eq!(inc["status"], "accepted");
        assert_eq!(inc["destination"]["id"], winner.id.as_str());
        let statuses: Vec<&str> = inc["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses.iter().filter(|s| **s == "accepted").count(), 1);
        assert_eq!(statuses.iter().filter(|s| **s == "superseded").count(), 19);
        // A loser is told, and no longer sees the patient.
        let loser = &hospitals[(winners[0] + 1) % 20];
        let mut feed = ed_feed(&app, &loser.token, Some(0)).await;
        assert!(feed.next_of("accepted_elsewhere", WAIT).await.is_some());
        let r = app
            .get(
                &format!("/api/v1/hospital/incidents/{iid}"),
                Some(&loser.token),
            )
            .await;
        assert_eq!(err_of(r).await.1, "not_involved");
        // 19 refusals were audited as denials.
        let denied = audit_events(&app)
            .into_iter()
            .filter(|e| e.action == "incident.answer" && e.outcome == "denied")
            .count();
        assert_eq!(denied, 19);
    }
);

both_backends!(
    unacknowledged_alerts_escalate_on_the_injected_clock,
    |app: TestApp| async move {
        let w = world(&app).await;
        let h1 = hospital(&app, &w, "水海道さくら病院", "ed1").await;
        let h2 = hospital(&app, &w, "守谷第一病院", "ed2").await;
        let (c, iid) = crew_with_report(&app, &w).await;
        let mut crew = crew_feed(&c).await;
        let mut ed1 = ed_feed(&app, &h1.token, None).await;
        c.inquire(&iid, &[&h1.id, &h2.id]).await.expect("inquiry");
        assert!(ed1.next_of("inquiry", WAIT).await.is_some());
        // Hospital 2 acknowledges in time; hospital 1 does not.
        let r = app
            .send(
                Method::POST,
                &format!("/api/v1/hospital/incidents/{iid}/acknowledge"),
                Some(&h2.token),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);

        app.clock.advance(179);
        assert!(
            ed1.next_of("escalated", Duration::from_millis(800))
                .await
                .is_none(),
            "not before 3 minutes"
        );
        app.clock.advance(2);
        let e = ed1
            .next_of("escalated", WAIT)
            .await
            .expect("escalated after 3 minutes");
        assert_eq!(e.data["incident_id"], iid.as_str());
        let ce = crew
            .next_of("escalated", WAIT)
            .await
            .expect("the crew is told");
        assert_eq!(ce.data["hospital_id"], h1.id.as_str());
        assert_eq!(ce.data["phone"], "0297-23-0119");
        let inc = c.incident(&iid, "application/json").await.unwrap();
        let by_id = |id: &str| {
            inc["targets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["hospital"]["id"] == id)
                .cloned()
                .unwrap()
        };
        assert!(by_id(&h1.id)["escalated_at"].is_i64());
        assert!(
            by_id(&h2.id)["escalated_at"].is_null(),
            "acknowledged in time"
        );
        assert_eq!(ce.data["escalation"], 1);
        assert_eq!(by_id(&h1.id)["escalation"], 1);
        // An answer ends the chain (tests/tests/escalation.rs follows it step by step): hospital
        // 1 accepts, hospital 2 is then told the patient went elsewhere; nothing escalates again.
        let r = app
            .post(
                &format!("/api/v1/hospital/incidents/{iid}/answer"),
                Some(&h1.token),
                json!({"decision": "accept"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        app.clock.advance(600);
        assert!(
            ed1.next_of("escalated", Duration::from_millis(800))
                .await
                .is_none()
        );
        let escalations = audit_events(&app)
            .into_iter()
            .filter(|e| e.action == "incident.escalate")
            .count();
        assert_eq!(escalations, 1);
    }
);

both_backends!(
    bad_input_is_refused_clearly_and_loses_nothing,
    |app: TestApp| async move {
        let w = world(&app).await;
        let h = hospital(&app, &w, "常総協同病院", "ed1").await;
        let (c, iid) = crew_with_report(&app, &w).await;
        let path = format!("/api/v1/incidents/{iid}/reports");
        let post = |body: Value| {
            let (c, path) = (&c, &path);
            async move {
                c.signed(Method::POST, path, Some(&body), None)
                    .await
                    .unwrap()
            }
        };
        for (patch, code) in [
            (json!({"vitals": {"heart_rate": 900}}), "implausible_vital"),
            (json!({"vitals": {"spo2": 140}}), "implausible_vital"),
            (json!({"jcs": "II-15"}), "invalid_jcs"),
            (json!({"jcs": "IV-400"}), "invalid_jcs"),
            (json!({"gcs": {"e": 0, "v": 1, "m": 1}}), "invalid_gcs"),
            (json!({"activation": "headache"}), "invalid_activation"),
        ] {
            let mut body = report(1);
            for (k, v) in patch.as_object().unwrap() {
                body[k] = v.clone();
            }
            let (status, error, message) = err_of(post(body).await).await;
            assert_eq!((status, error.as_str()), (422, code), "{patch}: {message}");
        }
        let (status, error, _) = err_of(post(report(0)).await).await;
        assert_eq!((status, error.as_str()), (409, "version_conflict"));
        let (status, error, _) = err_of(post(json!({"base_version": 1, "bogus": 1})).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_body"));

        // Attachments: too big, wrong type, bytes that are not what they claim.
        let att = format!("/api/v1/incidents/{iid}/attachments");
        let big = [&[0xFF, 0xD8, 0xFF][..], &vec![0u8; 2 * 1024 * 1024]].concat();
        let r = c
            .signed_bytes(Method::POST, &att, big, "image/jpeg")
            .await
            .unwrap();
        assert_eq!(err_of(r).await.0, 413);
        let r = c
            .signed_bytes(
                Method::POST,
                &att,
                b"MZ\x90\x00".to_vec(),
                "application/x-msdownload",
            )
            .await
            .unwrap();
        assert_eq!(err_of(r).await.1, "unsupported_media_type");
        let r = c
            .signed_bytes(Method::POST, &att, b"<svg/>".to_vec(), "image/png")
            .await
            .unwrap();
        assert_eq!(err_of(r).await.1, "content_mismatch");

        // Hospitals: unknown, a fire department, outside the municipality (another tenant's
        // facility), suspended.
        let db = app.db();
        let other = {
            use diesel::prelude::*;
            use kyukit_server::db::schema::facilities;
            let mut conn = db.conn().unwrap();
            let conn: &mut kyukit_server::db::DbConnection = &mut conn;
            let muni = kyukit_tests::random_hex(32);
            diesel::sql_query(format!(
                "INSERT INTO municipalities (id, municipality_id, code, name_ja, name_en, created_at) VALUES ('{muni}', '{muni}', '082210', '笠間市', 'Kasama City', 0)"
            ))
            .execute(conn)
            .unwrap();
            let fid = kyukit_tests::random_hex(32);
            diesel::insert_into(facilities::table)
                .values((
                    facilities::id.eq(&fid),
                    facilities::municipality_id.eq(&muni),
                    facilities::kind.eq("hospital"),
                    facilities::name_ja.eq("笠間の病院"),
                    facilities::name_en.eq("Kasama Hospital"),
                    facilities::address.eq("笠間市"),
                    facilities::phone.eq("0296-00-0000"),
                    facilities::status.eq("active"),
                    facilities::listed.eq(true),
                    facilities::created_at.eq(0i64),
                ))
                .execute(conn)
                .unwrap();
            fid
        };
        let suspended = create_facility(&app, &w.admin, "hospital", "休止中病院").await;
        let r = app
            .post(
                &format!("/api/v1/facilities/{suspended}/suspend"),
                Some(&w.admin),
                json!({"reason": "監査のため一時停止"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        for bad in [
            kyukit_tests::random_hex(32),
            w.fire_id.clone(),
            other,
            suspended,
            "../etc".into(),
        ] {
            let e = c.inquire(&iid, &[&h.id, &bad]).await.unwrap_err();
            assert_eq!(field_err(e), (422, "unknown_hospital".into()), "{bad}");
        }

        // Nothing of the refused requests was written.
        let inc = c.incident(&iid, "application/json").await.unwrap();
        assert_eq!(inc["version"], 1);
        assert!(inc["targets"].as_array().unwrap().is_empty());
        assert!(inc["attachments"].as_array().unwrap().is_empty());

        // Others' incidents: another crew device of the same department, an uninvolved ED, a
        // resident.
        let other_crew = medic_client(&app, &w).await;
        let mut other_crew = other_crew;
        other_crew.set_session(None);
        add_staff(&app, &w.admin, &w.fire_id, "medic2", "paramedic").await;
        kyukit_tests::field::medic_login(&app, &mut other_crew, "medic2")
            .await
            .unwrap();
        let e = other_crew
            .incident(&iid, "application/json")
            .await
            .unwrap_err();
        assert_eq!(field_err(e).0, 404);
        let r = app
            .get(&format!("/api/v1/hospital/incidents/{iid}"), Some(&h.token))
            .await;
        assert_eq!(err_of(r).await.0, 404);
        let r = app
            .get("/api/v1/hospital/incidents", Some(&w.resident_token))
            .await;
        assert_eq!(err_of(r).await.0, 403);
        let r = app
            .get("/api/v1/hospital/feed", Some(&w.resident_token))
            .await;
        assert_eq!(err_of(r).await.0, 403);
        let r = app
            .client
            .get(app.url("/api/v1/hospital/feed"))
            .bearer_auth(&h.token)
            .header("Last-Event-ID", "abc")
            .send()
            .await
            .unwrap();
        assert_eq!(err_of(r).await.1, "invalid_last_event_id");
        // A decline needs a reason; a decision must be accept or decline.
        c.inquire(&iid, &[&h.id]).await.unwrap();
        let answer = format!("/api/v1/hospital/incidents/{iid}/answer");
        let r = app
            .post(&answer, Some(&h.token), json!({"decision": "decline"}))
            .await;
        assert_eq!(err_of(r).await.0, 422);
        let r = app
            .post(&answer, Some(&h.token), json!({"decision": "maybe"}))
            .await;
        assert_eq!(err_of(r).await.0, 422);
        let r = app
            .post(
                &answer,
                Some(&h.token),
                json!({"decision": "decline", "reason": "専門医不在"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let e = c.incident(&iid, "application/json").await.unwrap();
        assert_eq!(e["targets"][0]["status"], "declined");
        assert_eq!(e["targets"][0]["reason"], "専門医不在");
    }
);

both_backends!(report_without_a_card_as_fhir, |app: TestApp| async move {
    let w = world(&app).await;
    let c = medic_client(&app, &w).await;
    let inc = c.open_incident("INC-UNKNOWN", None).await.expect("open");
    let iid = inc["id"].as_str().unwrap();
    let mut body = report(0);
    body["estimated_age"] = json!(70);
    body["sex"] = json!("male");
    body["jcs"] = json!("III-100");
    body["jcs_suffixes"] = json!(["R", "I"]);
    body["gcs"] = json!({"e": 1, "v": 2, "m": 5});
    let v = c.send_report(iid, &body).await.expect("report");
    assert_eq!(v["report"]["patient"]["source"], "crew");
    assert_eq!(v["report"]["jcs"]["display"], "III-100RI");
    let fhir = c.incident(iid, ACCEPT_FHIR).await.expect("fhir");
    assert_eq!(fhir["resourceType"], "Bundle");
    save_fhir_sample(
        &format!("report-unidentified-{}", backend_name(&app)),
        &fhir,
    );
});

both_backends!(
    a_destination_change_tells_the_old_and_the_new_hospital,
    |app: TestApp| async move {
        let w = world(&app).await;
        let h1 = hospital(&app, &w, "きぬ医師会病院", "ed1").await;
        let h2 = hospital(&app, &w, "守谷第一病院", "ed2").await;
        let (c, iid) = crew_with_report(&app, &w).await;
        let mut f1 = ed_feed(&app, &h1.token, None).await;
        let mut f2 = ed_feed(&app, &h2.token, None).await;
        c.inquire(&iid, &[&h1.id]).await.unwrap();
        let r = app
            .post(
                &format!("/api/v1/hospital/incidents/{iid}/answer"),
                Some(&h1.token),
                json!({"decision": "accept"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        // On the way, the crew reroutes to hospital 2 (e.g. the patient deteriorated).
        let r = c
            .signed(
                Method::POST,
                &format!("/api/v1/incidents/{iid}/destination"),
                Some(&json!({"hospital_id": h2.id})),
                None,
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let v = json_of(r).await;
        assert_eq!(v["destination"]["id"], h2.id.as_str());
        assert!(
            f1.next_of("destination_released", WAIT).await.is_some(),
            "old hospital told"
        );
        let e = f2
            .next_of("destination_assigned", WAIT)
            .await
            .expect("new hospital told");
        assert_eq!(e.data["target_status"], "assigned");
        let r = app
            .get(
                &format!("/api/v1/hospital/incidents/{iid}"),
                Some(&h1.token),
            )
            .await;
        assert_eq!(err_of(r).await.1, "not_involved");
        let r = app
            .get(
                &format!("/api/v1/hospital/incidents/{iid}"),
                Some(&h2.token),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = c
            .signed(
                Method::POST,
                &format!("/api/v1/incidents/{iid}/arrival"),
                None,
                None,
            )
            .await
            .unwrap();
        assert_eq!(json_of(r).await["status"], "arrived");
        assert!(f2.next_of("arrived", WAIT).await.is_some());
        // Closed: no more reports.
        let r = c
            .signed(
                Method::POST,
                &format!("/api/v1/incidents/{iid}/reports"),
                Some(&report(1)),
                None,
            )
            .await
            .unwrap();
        assert_eq!(err_of(r).await.1, "incident_closed");
    }
);
