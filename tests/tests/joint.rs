//! A joint fire department (広域消防) serving two municipalities (issue 22). Municipality A (the
//! server's default) has the fire department, its paramedic and a resident with a card; B has its
//! own admin and a resident with a card. The fire department's manager asks to serve B through
//! the application flow; B's admin approves; its paramedic then scans a card of each: each
//! answers that municipality's consented dataset, the scan of B's card is on B's chain, and each
//! resident's access history names the fire department. B suspends the membership: B's card is
//! refused (audited, in B's resident's history), A's still reads.

use kyukit_tests::field::*;
use kyukit_tests::tenancy::*;
use kyukit_tests::*;

const B_CODE: &str = "082287";

fn scans(h: &Value, outcome: &str) -> Vec<Value> {
    h["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "record.scan" && e["outcome"] == outcome)
        .cloned()
        .collect()
}

async fn http_error(r: Result<Value, kyukit_field::Error>) -> (u16, String) {
    match r {
        Err(kyukit_field::Error::Http { status, error, .. }) => (status, error),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

both_backends!(
    a_joint_fire_department_scans_the_cards_of_both_municipalities,
    |app: TestApp| async move {
        let w = world(&app).await;
        let db = app.db();
        let a = app.municipality_id(&db);
        let b = create_municipality(&app, B_CODE, "坂東市", "Bando City");
        let b_admin = admin_of(&app, &b, B_CODE, "admin-bando").await;
        let (b_rid, b_token, b_card) =
            resident_in(&app, B_CODE, "jiro", "アスピリン", &["medications"]).await;
        let b_url = b_card["url"].as_str().unwrap().to_string();
        let b_history = || {
            let (path, token) = (
                format!("/api/v1/residents/{b_rid}/access-history"),
                b_token.clone(),
            );
            let app = &app;
            async move { json_of(app.get(&path, Some(&token)).await).await }
        };
        let medic = medic_client(&app, &w).await;

        // Before B approves: B's card is not the fire department's to read.
        let (status, code) = http_error(medic.scan(&b_url, "J-0").await).await;
        assert_eq!((status, code.as_str()), (403, "untrusted_issuer"));
        assert_eq!(scans(&b_history().await, "denied").len(), 1);

        // The manager asks to serve B; the request is in B's queue, not A's.
        add_staff(&app, &w.admin, &w.fire_id, "mgr1", "facility_manager").await;
        let mgr = staff_token(&app, "mgr1", MEDIC_PASSWORD).await;
        let r = app
            .post(
                &format!("/api/v1/facilities/{}/change-requests", w.fire_id),
                Some(&mgr),
                json!({"type": "join", "municipality": B_CODE, "note": "坂東市との消防事務委託"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let apid = json_of(r).await["application_id"]
            .as_str()
            .unwrap()
            .to_string();
        let queue = |token: String| {
            let app = &app;
            async move {
                json_of(app.get("/api/v1/facility-applications", Some(&token)).await)
                    .await
                    .to_string()
            }
        };
        assert!(queue(b_admin.clone()).await.contains(&apid));
        assert!(!queue(w.admin.clone()).await.contains(&apid));
        // A's admin cannot decide it; B's admin approves.
        let decide = |token: String| {
            let (app, path) = (
                &app,
                format!("/api/v1/facility-applications/{apid}/decision"),
            );
            async move {
                app.post(&path, Some(&token), json!({"decision": "approve"}))
                    .await
                    .status()
            }
        };
        assert_eq!(decide(w.admin.clone()).await, StatusCode::NOT_FOUND);
        assert_eq!(decide(b_admin.clone()).await, StatusCode::OK);

        // A card of each municipality: each one's consented dataset.
        let da = medic.scan(&w.card_url, "J-1").await.expect("A's card");
        assert_eq!(da["patient"]["id"], w.rid.as_str());
        let d = medic.scan(&b_url, "J-2").await.expect("B's card");
        assert_eq!(d["patient"]["id"], b_rid.as_str());
        let names: Vec<&str> = d["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["body"]["name"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(names, ["アスピリン"], "only B's consented category: {d}");
        // Each resident's history names the fire department.
        for h in [access_history(&app, &w).await, b_history().await] {
            let ok = scans(&h, "ok");
            assert_eq!(ok.len(), 1, "{h}");
            assert_eq!(ok[0]["facility_name"], "常総広域消防本部");
            assert_eq!(ok[0]["role"], "paramedic");
        }
        // The scan of B's card is on B's chain, naming B's resident; A's chain does not name them.
        let events = audit_events(&app);
        let on = |muni: &str| {
            events
                .iter()
                .filter(|e| {
                    e.municipality_id == muni && e.action == "record.scan" && e.outcome == "ok"
                })
                .map(|e| e.resident_id.clone().unwrap_or_default())
                .collect::<Vec<_>>()
        };
        assert_eq!(on(&b), vec![b_rid.clone()]);
        assert_eq!(on(&a), vec![w.rid.clone()]);
        assert!(!events.iter().any(|e| e.municipality_id == a && e.resident_id.as_deref() == Some(b_rid.as_str())));

        // A hospital of A that also serves B (approved by B): the crew's incidents for both
        // patients are on its board. (An incident is its crew's municipality's; one is seeded
        // only from a scan of that municipality — B's patient's incident is opened unseeded.)
        let hosp = create_facility(&app, &w.admin, "hospital", "きぬ医師会病院").await;
        add_staff(&app, &w.admin, &hosp, "ed1", "ed_staff").await;
        add_staff(&app, &w.admin, &hosp, "hmgr", "facility_manager").await;
        let hmgr = staff_token(&app, "hmgr", MEDIC_PASSWORD).await;
        let r = app
            .post(
                &format!("/api/v1/facilities/{hosp}/change-requests"),
                Some(&hmgr),
                json!({"type": "join", "municipality": B_CODE}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let hosp_apid = json_of(r).await["application_id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = app
            .post(
                &format!("/api/v1/facility-applications/{hosp_apid}/decision"),
                Some(&b_admin),
                json!({"decision": "approve"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let mut incidents = Vec::new();
        for (r#ref, seed) in [("J-1", da["access_id"].as_str()), ("J-2", None)] {
            let inc = medic.open_incident(r#ref, seed).await.expect("an incident");
            let iid = inc["id"].as_str().unwrap().to_string();
            medic
                .send_report(
                    &iid,
                    &json!({"base_version": 0, "chief_complaint": "胸痛", "activation": "stemi"}),
                )
                .await
                .expect("report");
            medic.inquire(&iid, &[&hosp]).await.expect("inquiry");
            incidents.push(iid);
        }
        let ed = staff_token(&app, "ed1", MEDIC_PASSWORD).await;
        let board = json_of(app.get("/api/v1/hospital/board", Some(&ed)).await).await;
        assert_eq!(board["summaries"].as_array().unwrap().len(), 2, "{board}");
        for iid in &incidents {
            assert!(
                board.to_string().contains(iid.as_str()),
                "{iid} missing: {board}"
            );
        }
        // The paramedic re-reads B's scan within its grant: read as B's (B's chain and history).
        let reread = medic
            .signed(
                reqwest::Method::GET,
                &format!("/api/v1/accesses/{}", d["access_id"].as_str().unwrap()),
                None,
                None,
            )
            .await
            .unwrap();
        assert_eq!(reread.status(), StatusCode::OK);
        let reads: Vec<Value> = b_history().await["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "record.read")
            .cloned()
            .collect();
        assert_eq!(reads.len(), 1, "the re-read of B's scan is in B's history");
        assert_eq!(reads[0]["facility_name"], "常総広域消防本部");

        // B suspends the membership: B's card is refused and audited; A's still reads.
        let r = app
            .post(
                &format!("/api/v1/facilities/{}/suspend", w.fire_id),
                Some(&b_admin),
                json!({"reason": "委託契約の終了"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let (status, code) = http_error(medic.scan(&b_url, "J-3").await).await;
        assert_eq!((status, code.as_str()), (403, "untrusted_issuer"));
        let h = b_history().await;
        let denied = scans(&h, "denied");
        assert_eq!(denied.len(), 2, "{h}");
        assert_eq!(denied[0]["facility_name"], "常総広域消防本部");
        medic
            .scan(&w.card_url, "J-4")
            .await
            .expect("the fire department stays A's");

        // Throughout (incidents included), B's resident is never named on A's chain.
        let named_on_a = audit_events(&app)
            .into_iter()
            .filter(|e| e.municipality_id == a && e.resident_id.as_deref() == Some(b_rid.as_str()))
            .map(|e| e.action)
            .collect::<Vec<_>>();
        assert!(named_on_a.is_empty(), "{named_on_a:?}");
        assert!(verify_chain(&app, &a) > 10);
        assert!(verify_chain(&app, &b) > 5);
    }
);

async fn ed_feed(app: &TestApp, token: &str) -> kyukit_tests::sse::Sse {
    let req = app
        .client
        .get(app.url("/api/v1/hospital/feed"))
        .bearer_auth(token);
    kyukit_tests::sse::Sse::new(req.send().await.expect("feed")).await
}

fn hospital_ids(list: &Value) -> Vec<String> {
    list["hospitals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}

// B's own fire department's crew asks H, a hospital of A serving B: H's board and live feed get
// the incident, H accepts; B's resident's history names H; A's hospital that does not serve B
// never sees it; after B suspends H, B's crews are no longer offered H (the accepted one stays
// on H's board until it closes).
both_backends!(
    a_hospital_serving_another_municipality_receives_its_own_crews_incidents,
    |app: TestApp| async move {
        const WAIT: std::time::Duration = std::time::Duration::from_secs(5);
        let w = world(&app).await;
        let db = app.db();
        let a = app.municipality_id(&db);
        let b = create_municipality(&app, B_CODE, "坂東市", "Bando City");
        let b_admin = admin_of(&app, &b, B_CODE, "admin-bando").await;
        let (b_rid, b_token, b_card) =
            resident_in(&app, B_CODE, "jiro", "アスピリン", &["medications"]).await;
        let b_url = b_card["url"].as_str().unwrap().to_string();

        // H: a hospital of A that joins B (approved by B); A2: A's hospital not serving B.
        let hosp = create_facility(&app, &w.admin, "hospital", "きぬ医師会病院").await;
        add_staff(&app, &w.admin, &hosp, "ed1", "ed_staff").await;
        add_staff(&app, &w.admin, &hosp, "hmgr", "facility_manager").await;
        let other = create_facility(&app, &w.admin, "hospital", "水海道病院").await;
        add_staff(&app, &w.admin, &other, "ed2", "ed_staff").await;
        let hmgr = staff_token(&app, "hmgr", MEDIC_PASSWORD).await;
        let r = app
            .post(
                &format!("/api/v1/facilities/{hosp}/change-requests"),
                Some(&hmgr),
                json!({"type": "join", "municipality": B_CODE}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let apid = json_of(r).await["application_id"]
            .as_str()
            .unwrap()
            .to_string();

        // B's own fire department and its paramedic on an enrolled device.
        let b_fire = create_facility(&app, &b_admin, "fire_department", "坂東消防本部").await;
        add_staff(&app, &b_admin, &b_fire, "bmedic", "paramedic").await;
        let b_world = FieldWorld {
            admin: b_admin.clone(),
            fire_id: b_fire.clone(),
            medic_login: "bmedic".into(),
            ..w.clone()
        };
        let crew = medic_client(&app, &b_world).await;
        // Before B approves H, B's crew is not offered it (nor asks it).
        let before = hospital_ids(&crew.hospitals().await.expect("hospitals"));
        assert!(
            !before.contains(&hosp) && !before.contains(&other),
            "{before:?}"
        );
        let r = app
            .post(
                &format!("/api/v1/facility-applications/{apid}/decision"),
                Some(&b_admin),
                json!({"decision": "approve"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let list = crew.hospitals().await.expect("hospitals");
        let offered = hospital_ids(&list);
        assert!(offered.contains(&hosp), "{list}");
        assert!(!offered.contains(&other), "{list}");

        let ed = staff_token(&app, "ed1", MEDIC_PASSWORD).await;
        let ed2 = staff_token(&app, "ed2", MEDIC_PASSWORD).await;
        let mut feed = ed_feed(&app, &ed).await;

        // B's crew scans B's resident, opens the incident from the scan, reports and asks H.
        let d = crew.scan(&b_url, "B-1").await.expect("B's card");
        let inc = crew
            .open_incident("B-1", d["access_id"].as_str())
            .await
            .expect("an incident");
        let iid = inc["id"].as_str().unwrap().to_string();
        crew.send_report(
            &iid,
            &json!({"base_version": 0, "chief_complaint": "胸痛", "activation": "stemi"}),
        )
        .await
        .expect("report");
        crew.inquire(&iid, &[&hosp]).await.expect("H may be asked");
        let e = feed
            .next_of("inquiry", WAIT)
            .await
            .expect("H's feed gets the inquiry live");
        assert_eq!(e.data["incident_id"], iid.as_str());
        assert!(!e.data.to_string().contains("jiro"), "{}", e.data);

        // H's board and incoming list have it (naming B's fire department); H reads and accepts.
        let board = json_of(app.get("/api/v1/hospital/board", Some(&ed)).await).await;
        assert!(board.to_string().contains(iid.as_str()), "{board}");
        let incoming = json_of(app.get("/api/v1/hospital/incidents", Some(&ed)).await).await;
        assert!(incoming.to_string().contains(iid.as_str()), "{incoming}");
        assert!(incoming.to_string().contains("坂東消防本部"), "{incoming}");
        let r = app
            .get(&format!("/api/v1/hospital/incidents/{iid}"), Some(&ed))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = app
            .post(
                &format!("/api/v1/hospital/incidents/{iid}/answer"),
                Some(&ed),
                json!({"decision": "accept"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let seen = crew.incident(&iid, "application/json").await.expect("read");
        assert_eq!(seen["status"], "accepted", "{seen}");

        // A's hospital that does not serve B never sees it.
        let board2 = json_of(app.get("/api/v1/hospital/board", Some(&ed2)).await).await;
        assert!(!board2.to_string().contains(iid.as_str()), "{board2}");
        let r = app
            .get(&format!("/api/v1/hospital/incidents/{iid}"), Some(&ed2))
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        // B's resident's history names H; B's resident is never named on A's chain.
        let h = json_of(
            app.get(
                &format!("/api/v1/residents/{b_rid}/access-history"),
                Some(&b_token),
            )
            .await,
        )
        .await;
        assert!(
            h["entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "incident.read" && e["facility_name"] == "きぬ医師会病院"),
            "{h}"
        );
        assert!(!audit_events(&app).iter().any(|e| e.municipality_id == a
            && e.resident_id.as_deref() == Some(b_rid.as_str())));

        // B suspends H's membership: B's crew no longer sees or asks H; the accepted patient
        // stays on H's board until the incident closes.
        let r = app
            .post(
                &format!("/api/v1/facilities/{hosp}/suspend"),
                Some(&b_admin),
                json!({"reason": "協定の終了"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let after = hospital_ids(&crew.hospitals().await.expect("hospitals"));
        assert!(!after.contains(&hosp), "{after:?}");
        let inc2 = crew.open_incident("B-2", None).await.expect("incident");
        let iid2 = inc2["id"].as_str().unwrap().to_string();
        crew.send_report(
            &iid2,
            &json!({"base_version": 0, "chief_complaint": "腹痛", "activation": "stemi"}),
        )
        .await
        .expect("report");
        let (status, code) = http_error(crew.inquire(&iid2, &[&hosp]).await).await;
        assert_eq!((status, code.as_str()), (422, "unknown_hospital"));
        let board = json_of(app.get("/api/v1/hospital/board", Some(&ed)).await).await;
        assert!(board.to_string().contains(iid.as_str()), "{board}");
        assert!(verify_chain(&app, &a) > 5);
        assert!(verify_chain(&app, &b) > 5);
    }
);
