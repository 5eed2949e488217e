//! The ED board's summary (issue 25, `GET /api/v1/hospital/board`): the latest of each vital with
//! the one before, JCS and GCS on the card; an inquiry another hospital accepted listed as taken
//! elsewhere without clinical data; the arrivals of the last 24 hours for the handover. Run on
//! SQLite and PostgreSQL.

use kyukit_tests::field::{
    MEDIC_PASSWORD, add_staff, create_facility, json_of, medic_client, staff_token, world,
};
use kyukit_tests::{StatusCode, T0, TestApp, both_backends, json};

both_backends!(
    the_board_summarises_the_series_says_taken_elsewhere_and_lists_arrivals,
    |app: TestApp| async move {
        app.clock.set(T0);
        let w = world(&app).await;
        let a = create_facility(&app, &w.admin, "hospital", "きぬ医師会病院").await;
        let b = create_facility(&app, &w.admin, "hospital", "守谷第一病院").await;
        add_staff(&app, &w.admin, &a, "eda", "ed_staff").await;
        add_staff(&app, &w.admin, &b, "edb", "ed_staff").await;
        let ta = staff_token(&app, "eda", MEDIC_PASSWORD).await;
        let tb = staff_token(&app, "edb", MEDIC_PASSWORD).await;
        let c = medic_client(&app, &w).await;
        let scan = c.scan(&w.card_url, "INC-BOARD-1").await.expect("scan");
        let inc = c
            .open_incident("INC-BOARD-1", scan["access_id"].as_str())
            .await
            .expect("open");
        let iid = inc["id"].as_str().expect("id").to_string();
        let board = |token: String| {
            let app = &app;
            async move { json_of(app.get("/api/v1/hospital/board", Some(&token)).await).await }
        };

        // Three readings: a full set, then SpO2 and heart rate twice (the rest not re-measured).
        c.send_report(
            &iid,
            &json!({"base_version": 0, "chief_complaint": "呼吸苦", "activation": "general",
                    "vitals": {"systolic_bp": 145, "diastolic_bp": 88, "heart_rate": 112,
                               "respiratory_rate": 28, "spo2": 93, "temperature": 37.8},
                    "jcs": "I-1", "gcs": {"e": 4, "v": 4, "m": 6}, "eta_minutes": 15}),
        )
        .await
        .expect("v1");
        c.inquire(&iid, &[&a, &b]).await.expect("inquiry");
        app.clock.advance(120);
        c.send_report(
            &iid,
            &json!({"base_version": 1, "vitals": {"spo2": 90, "heart_rate": 118}}),
        )
        .await
        .expect("v2");
        app.clock.advance(120);
        c.send_report(
            &iid,
            &json!({"base_version": 2, "vitals": {"spo2": 88, "heart_rate": 120}}),
        )
        .await
        .expect("v3");

        let seen = board(ta.clone()).await;
        let s = &seen["summaries"][0];
        assert_eq!(s["incident_id"], iid.as_str());
        assert_eq!(s["version"], 3);
        assert_eq!(s["readings"], 3);
        assert_eq!(
            s["vitals"]["spo2"],
            json!({"value": 88.0, "taken_at": T0 + 240, "previous": 90.0})
        );
        assert_eq!(s["vitals"]["heart_rate"]["previous"], 118.0);
        // Not re-measured: the first reading's value and time, no trend.
        assert_eq!(
            s["vitals"]["systolic_bp"],
            json!({"value": 145.0, "taken_at": T0, "previous": null})
        );
        assert_eq!(s["vitals"]["temperature"]["value"], 37.8);
        assert_eq!(s["vitals"]["glucose"], json!(null));
        assert_eq!(s["jcs"]["display"], "I-1");
        assert_eq!(s["gcs"]["total"], 14);
        assert_eq!(seen["elsewhere"], json!([]));
        assert_eq!(seen["arrivals"], json!([]));
        // No names or contacts anywhere on the board.
        let text = seen.to_string();
        for secret in ["family_name", "given_name", "emergency_contacts", "address"] {
            assert!(!text.contains(secret), "{secret} on the board");
        }

        // Only ED staff: a resident's session is refused, no session is 401.
        let r = app
            .get("/api/v1/hospital/board", Some(&w.resident_token))
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = app.get("/api/v1/hospital/board", None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

        // B accepts: A's board has it as taken elsewhere (when, by no clinical data), no summary.
        app.clock.advance(60);
        let r = app
            .post(
                &format!("/api/v1/hospital/incidents/{iid}/answer"),
                Some(&tb),
                json!({"decision": "accept"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let seen = board(ta.clone()).await;
        assert_eq!(seen["summaries"], json!([]));
        let e = &seen["elsewhere"][0];
        assert_eq!(e["incident_id"], iid.as_str());
        assert_eq!(e["decided_at"], T0 + 300);
        assert_eq!(e["activation"], "general");
        assert!(e.get("vitals").is_none() && e.get("chief_complaint").is_none());
        assert!(board(tb.clone()).await["summaries"][0]["vitals"]["spo2"]["value"] == 88.0);

        // Arrival: off B's open list, onto its arrivals with the last vitals for the handover.
        app.clock.advance(600);
        c.arrive(&iid).await.expect("arrival");
        let seen = board(tb.clone()).await;
        assert_eq!(seen["summaries"], json!([]));
        let arr = &seen["arrivals"][0];
        assert_eq!(arr["incident_id"], iid.as_str());
        assert_eq!(arr["incident_ref"], "INC-BOARD-1");
        assert_eq!(arr["arrived_at"], T0 + 900);
        assert_eq!(arr["chief_complaint"], "呼吸苦");
        assert_eq!(arr["summary"]["vitals"]["spo2"]["value"], 88.0);
        // A never lists B's arrival.
        assert_eq!(board(ta.clone()).await["arrivals"], json!([]));

        // 24 hours on (new sessions: the old ones have expired), both lists are empty again.
        app.clock.advance(24 * 3600);
        let (ta, tb) = (
            staff_token(&app, "eda", MEDIC_PASSWORD).await,
            staff_token(&app, "edb", MEDIC_PASSWORD).await,
        );
        let seen = board(tb.clone()).await;
        assert_eq!(seen["arrivals"], json!([]));
        assert_eq!(board(ta.clone()).await["elsewhere"], json!([]));
    }
);
