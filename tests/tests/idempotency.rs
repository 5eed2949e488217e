//! `Idempotency-Key` on the crew's changes (issue 21: the paramedic app's offline queue sends again
//! what it is not sure arrived). A repeat of opening an incident, a report version or an inquiry
//! with the same key — a new signature and nonce each time, as a real resend is — gets the first
//! answer and writes nothing new: one incident, one version, one inquiry, each audited once. The
//! same key for another request is refused; a malformed key is refused; after 24 h the key is
//! forgotten. Run on SQLite and PostgreSQL.

use kyukit_field::{ACCEPT_JSON, Client};
use kyukit_tests::field::{
    MEDIC_PASSWORD, add_staff, audit_events, create_facility, medic_client, medic_login,
    staff_token, world,
};
use kyukit_tests::{TestApp, Value, both_backends, json};
use reqwest::Method;

/// Sends a signed POST (a fresh signature and nonce) with `Idempotency-Key: key`.
async fn post(c: &Client, path: &str, body: &Value, key: &str) -> (u16, bool, Value) {
    let mut req = c
        .prepare_signed(Method::POST, path, Some(body), Some(ACCEPT_JSON))
        .expect("prepare");
    req.set_header("idempotency-key", key);
    let r = c.send_prepared(&req).await.expect("send");
    let status = r.status().as_u16();
    let replayed = r
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let v = r.json().await.unwrap_or(Value::Null);
    (status, replayed, v)
}

fn count(app: &TestApp, action: &str) -> usize {
    audit_events(app)
        .into_iter()
        .filter(|e| e.action == action && e.outcome == "ok")
        .count()
}

fn report(base: i64) -> Value {
    json!({
        "base_version": base,
        "chief_complaint": "呼吸苦",
        "activation": "general",
        "vitals": {"systolic_bp": 132, "heart_rate": 104, "spo2": 92},
    })
}

both_backends!(
    a_repeated_key_gets_the_first_answer_and_writes_nothing,
    |app: TestApp| async move {
        let w = world(&app).await;
        let hid = create_facility(&app, &w.admin, "hospital", "きぬ医師会病院").await;
        add_staff(&app, &w.admin, &hid, "ed1", "ed_staff").await;
        let ed = staff_token(&app, "ed1", MEDIC_PASSWORD).await;
        let c = medic_client(&app, &w).await;

        // Opening: twice with one key → one incident.
        let open = json!({"incident_ref": "INC-IDEM-1", "access_id": null});
        let (s1, r1, first) = post(&c, "/api/v1/incidents", &open, "open-6f1c").await;
        assert_eq!((s1, r1), (201, false), "{first}");
        let (s2, r2, again) = post(&c, "/api/v1/incidents", &open, "open-6f1c").await;
        assert_eq!((s2, r2), (201, true), "{again}");
        assert_eq!(again, first, "the repeat gets the first answer");
        assert_eq!(count(&app, "incident.open"), 1, "opened (and audited) once");
        let iid = first["id"].as_str().expect("id").to_string();

        // A report version: twice with one key → version 1 once.
        let path = format!("/api/v1/incidents/{iid}/reports");
        let (s1, _, v1) = post(&c, &path, &report(0), "rep-1").await;
        assert_eq!((s1, v1["version"].as_i64()), (201, Some(1)), "{v1}");
        let (s2, r2, v1b) = post(&c, &path, &report(0), "rep-1").await;
        assert_eq!((s2, r2), (201, true), "a resend after a lost answer: {v1b}");
        assert_eq!(v1b, v1);
        let versions = c
            .signed(Method::GET, &path, None, Some(ACCEPT_JSON))
            .await
            .expect("versions")
            .json::<Value>()
            .await
            .expect("json");
        assert_eq!(versions.as_array().map(Vec::len), Some(1), "{versions}");
        assert_eq!(count(&app, "incident.report"), 1);

        // The same key for another body is refused and changes nothing.
        let (s, _, e) = post(&c, &path, &report(1), "rep-1").await;
        assert_eq!(
            (s, e["error"].as_str()),
            (422, Some("idempotency_key_reused")),
            "{e}"
        );
        // Without a key, or with a new one, a change is a change (version 2).
        let (s, r, v2) = post(&c, &path, &report(1), "rep-2").await;
        assert_eq!(
            (s, r, v2["version"].as_i64()),
            (201, false, Some(2)),
            "{v2}"
        );

        // An inquiry: twice with one key → one target, one alert.
        let ipath = format!("/api/v1/incidents/{iid}/inquiries");
        let ask = json!({"hospitals": [hid]});
        let (s1, _, a1) = post(&c, &ipath, &ask, "ask-1").await;
        assert_eq!(s1, 201, "{a1}");
        let (s2, r2, a2) = post(&c, &ipath, &ask, "ask-1").await;
        assert_eq!((s2, r2), (201, true), "{a2}");
        assert_eq!(a2, a1);
        assert_eq!(
            count(&app, "incident.inquiry"),
            1,
            "asked (and audited) once"
        );
        let board = app
            .client
            .get(app.url("/api/v1/hospital/incidents"))
            .bearer_auth(&ed)
            .send()
            .await
            .expect("ed list");
        let board: Value = board.json().await.expect("json");
        let n = board
            .as_array()
            .or_else(|| board["incidents"].as_array())
            .map(|a| a.iter().filter(|i| i["id"] == iid.as_str()).count());
        assert_eq!(n, Some(1), "the ED sees the incident once: {board}");
    }
);

both_backends!(
    keys_are_checked_scoped_and_expire,
    |app: TestApp| async move {
        let w = world(&app).await;
        let mut c = medic_client(&app, &w).await;
        let open = json!({"incident_ref": "INC-IDEM-2", "access_id": null});

        // A malformed key is refused before anything is written.
        let (s, _, e) = post(&c, "/api/v1/incidents", &open, "bad key/with spaces").await;
        assert_eq!(
            (s, e["error"].as_str()),
            (400, Some("invalid_idempotency_key")),
            "{e}"
        );
        assert_eq!(count(&app, "incident.open"), 0);

        let (_, _, first) = post(&c, "/api/v1/incidents", &open, "k-42").await;
        // Another device may use the same key: keys belong to a device.
        let other = medic_client(&app, &w).await;
        let (s, r, theirs) = post(&other, "/api/v1/incidents", &open, "k-42").await;
        assert_eq!((s, r), (201, false), "{theirs}");
        assert_ne!(theirs["id"], first["id"]);
        assert_eq!(count(&app, "incident.open"), 2);

        // After 24 h the key is forgotten: the same request is a new incident.
        app.clock.advance(24 * 3600 + 1);
        medic_login(&app, &mut c, &w.medic_login)
            .await
            .expect("login again");
        let (s, r, later) = post(&c, "/api/v1/incidents", &open, "k-42").await;
        assert_eq!((s, r), (201, false), "{later}");
        assert_ne!(later["id"], first["id"]);
        assert_eq!(count(&app, "incident.open"), 3);
    }
);
