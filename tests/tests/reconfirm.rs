//! Yearly re-confirmation (issue 26): a record is confirmed at registration, on every edit and by
//! "nothing has changed"; once the period (12 months by default, Japan's calendar) has passed it
//! is stale — the resident's portal state says so, the city's list has it by district, the
//! reminder PDF has its letter (read back with poppler's `pdftotext`), and the browsers of the
//! resident and proxies get one Web Push reminder (decrypted by the test push service) without a
//! name or anything medical. Re-confirming clears it. Moves the injected clock. Both backends.

use kyukit_tests::field::{admin_token, audit_events, json_of, world};
use kyukit_tests::push::PushService;
use kyukit_tests::*;

const DAY: i64 = 86_400;

/// The text of a PDF by poppler's `pdftotext` (required: the letter's text is what is checked).
fn pdftotext(pdf: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("kyukit-reconfirm-{}", random_hex(8)));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("letters.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is needed to read the letters");
    assert!(out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(out.stdout).unwrap()
}

async fn login(app: &TestApp, login_id: &str) -> String {
    let v = json_of(
        app.post(
            "/api/v1/sessions",
            None,
            json!({"login_id": login_id, "password": "correct horse battery"}),
        )
        .await,
    )
    .await;
    v["token"].as_str().expect("token").to_string()
}

async fn ok(r: reqwest::Response, what: &str) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn stale_ids(list: &Value) -> Vec<String> {
    list["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["resident_id"].as_str().unwrap().to_string())
        .collect()
}

fn events(app: &TestApp, action: &str, rid: &str) -> usize {
    audit_events(app)
        .iter()
        .filter(|e| e.action == action && e.resident_id.as_deref() == Some(rid))
        .count()
}

both_backends!(
    a_record_past_its_period_is_stale_listed_lettered_reminded_until_reconfirmed,
    |app: TestApp| async move {
        let w = world(&app).await; // 山田 花子 (水海道), registered at T0
        let rid = w.rid.clone();
        let confirmation = format!("/api/v1/residents/{rid}/confirmation");
        // A second person in another district.
        let mut jiro = resident_body("jiro");
        jiro["profile"]["family_name"] = json!("鈴木");
        jiro["profile"]["given_name"] = json!("次郎");
        jiro["profile"]["district"] = json!("石下");
        let j = ok(app.post("/api/v1/residents", None, jiro).await, "jiro").await;
        let jid = j["resident_id"].as_str().unwrap().to_string();

        let c = ok(app.get(&confirmation, Some(&w.resident_token)).await, "get").await;
        assert_eq!(c["stale"], false, "{c}");
        assert_eq!(c["period_months"], 12);
        // Registered 2026-11-21 (Japan): due a year later.
        assert_eq!(c["due_on"], "2027-11-21", "{c}");
        let list = ok(
            app.get("/api/v1/reconfirmations", Some(&w.admin)).await,
            "list",
        )
        .await;
        assert!(stale_ids(&list).is_empty(), "nothing stale yet: {list}");
        // Only the city lists.
        let r = app
            .get("/api/v1/reconfirmations", Some(&w.resident_token))
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);

        // Hanako's phone is registered for notices.
        let key = json_of(app.get("/api/v1/push/vapid-public-key", None).await).await;
        let push = PushService::start(app.clock.clone(), key["public_key"].as_str().unwrap()).await;
        let phone = push.subscriber("/hanako-phone");
        ok(
            app.post(
                "/api/v1/me/push-subscriptions",
                Some(&w.resident_token),
                phone.body(None),
            )
            .await,
            "subscribe",
        )
        .await;

        // The last second of the day before the due day, Japan time (2027-11-20 23:59:59 JST):
        // not yet. One second later, the due day: stale.
        app.clock.set(T0 + 364 * DAY + 15 * 3600 - 1);
        let me = login(&app, "hanako").await;
        let c = ok(app.get(&confirmation, Some(&me)).await, "get").await;
        assert_eq!(c["stale"], false, "the day before: {c}");
        app.clock.advance(1);
        let me = login(&app, "hanako").await;
        let c = ok(app.get(&confirmation, Some(&me)).await, "get").await;
        assert_eq!(c["stale"], true, "past the period: {c}");
        // Jiro edits his profile: an edit confirms too.
        let jt = login(&app, "jiro").await;
        let mut profile = resident_body("jiro")["profile"].clone();
        profile["family_name"] = json!("鈴木");
        profile["given_name"] = json!("次郎");
        profile["district"] = json!("石下");
        profile["phone"] = json!("0297-23-9999");
        ok(
            app.send(
                reqwest::Method::PUT,
                &format!("/api/v1/residents/{jid}"),
                Some(&jt),
                Some(profile),
            )
            .await,
            "edit",
        )
        .await;
        let cj = ok(
            app.get(&format!("/api/v1/residents/{jid}/confirmation"), Some(&jt))
                .await,
            "jiro",
        )
        .await;
        assert_eq!(
            (cj["stale"].as_bool(), cj["how"].as_str()),
            (Some(false), Some("edit"))
        );

        // The city's list: hanako, by district.
        let admin = admin_token(&app).await;
        let list = ok(
            app.get("/api/v1/reconfirmations", Some(&admin)).await,
            "list",
        )
        .await;
        assert_eq!(stale_ids(&list), vec![rid.clone()], "{list}");
        assert_eq!(list["records"][0]["district"], "水海道");
        assert_eq!(list["records"][0]["family_name"], "山田");
        assert_eq!(
            list["districts"],
            json!([{"district": "水海道", "stale": 1}])
        );
        let other = ok(
            app.get(
                "/api/v1/reconfirmations?district=%E7%9F%B3%E4%B8%8B",
                Some(&admin),
            )
            .await,
            "石下",
        )
        .await;
        assert!(stale_ids(&other).is_empty(), "{other}");

        // The reminder letters: one page, addressed to her, no medical detail.
        let r = app
            .get("/api/v1/reconfirmations/letters.pdf", Some(&admin))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/pdf");
        assert_eq!(r.headers()["x-kyukit-letters"], "1");
        let pdf = r.bytes().await.unwrap();
        let text = pdftotext(&pdf);
        assert!(text.contains("山田 花子"), "{text}");
        assert!(text.contains("様"), "{text}");
        assert!(text.contains("茨城県常総市水海道諏訪町3222-3"), "{text}");
        assert!(text.contains("登録内容のご確認のお願い"), "{text}");
        assert!(
            text.contains("2026-11-21") && text.contains("2027-11-21"),
            "dates: {text}"
        );
        assert!(!text.contains("鈴木"), "only the stale record: {text}");
        for word in ["ワルファリン", "ペニシリン", "心房細動"] {
            assert!(!text.contains(word), "{word} in the letter");
        }
        assert_eq!(text.matches('\u{c}').count(), 1, "one page");
        assert_eq!(events(&app, "reconfirm.letter", &rid), 1);

        // The push reminder: once per period, no name, no medical detail.
        let sent = ok(
            app.post("/api/v1/reconfirmations/reminders", Some(&admin), json!({}))
                .await,
            "remind",
        )
        .await;
        assert_eq!(
            (sent["residents"].as_u64(), sent["pushes"].as_u64()),
            (Some(1), Some(1)),
            "{sent}"
        );
        let got = push.wait_for(1).await;
        assert!(push.problems().is_empty(), "{:?}", push.problems());
        assert_eq!(got[0].path, "/hanako-phone");
        assert_eq!(
            got[0].json(),
            json!({"kind": "reconfirm", "title": "登録内容のご確認をお願いします / Please check your information"})
        );
        let again = ok(
            app.post("/api/v1/reconfirmations/reminders", Some(&admin), json!({}))
                .await,
            "remind again",
        )
        .await;
        assert_eq!(
            (again["residents"].as_u64(), again["skipped"].as_u64()),
            (Some(0), Some(1))
        );
        assert_eq!(events(&app, "reconfirm.remind", &rid), 1);

        // "Nothing has changed": cleared, audited, in her access history.
        let c = ok(
            app.post(&confirmation, Some(&me), json!({})).await,
            "reconfirm",
        )
        .await;
        assert_eq!(
            (c["stale"].as_bool(), c["how"].as_str()),
            (Some(false), Some("reconfirm"))
        );
        assert_eq!(c["due_on"], "2028-11-21", "{c}");
        assert_eq!(events(&app, "resident.reconfirm", &rid), 1);
        let list = ok(
            app.get("/api/v1/reconfirmations", Some(&admin)).await,
            "list",
        )
        .await;
        assert!(stale_ids(&list).is_empty(), "{list}");
        let r = app
            .get("/api/v1/reconfirmations/letters.pdf", Some(&admin))
            .await;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        let history = ok(
            app.get(
                &format!("/api/v1/residents/{rid}/access-history"),
                Some(&me),
            )
            .await,
            "history",
        )
        .await;
        let actions: Vec<&str> = history["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        for a in ["resident.reconfirm", "reconfirm.letter", "reconfirm.remind"] {
            assert!(actions.contains(&a), "{a} in {actions:?}");
        }
        // Another resident cannot confirm hers.
        let r = app.post(&confirmation, Some(&jt), json!({})).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
);

both_backends!(
    the_period_is_configurable,
    config = |c: &mut kyukit_server::config::Config| c.reconfirm_after_months = 1,
    |app: TestApp| async move {
        let (rid, _) = register_resident(&app, "hanako").await;
        app.clock.set(T0 + 30 * DAY); // 2026-12-21 09:00 JST
        let me = login(&app, "hanako").await;
        let c = ok(
            app.get(&format!("/api/v1/residents/{rid}/confirmation"), Some(&me))
                .await,
            "get",
        )
        .await;
        assert_eq!(
            (c["stale"].as_bool(), c["period_months"].as_u64()),
            (Some(true), Some(1)),
            "{c}"
        );
        assert_eq!(c["due_on"], "2026-12-21");
    }
);
