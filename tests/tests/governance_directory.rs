//! Governance on SQLite and PostgreSQL (RULES R1, R6, R15, R17): a facility applies without a
//! login, the city approves or rejects, the applicant reads the decision with the status token;
//! facility managers ask for changes and withdrawal; the public directory (JSON and page) shows
//! exactly the listed, active facilities; the city's notices, with the 30-day rule for a
//! termination; and bad input writes nothing.

use kyukit_server::audit::AuditRow;
use kyukit_tests::field::*;
use kyukit_tests::*;
use reqwest::Method;

const DAY: i64 = 86_400;

fn application(kind: &str, name: &str, listed: bool) -> Value {
    json!({
        "kind": kind,
        "name_ja": name,
        "name_en": format!("{name} (en)"),
        "address": "茨城県常総市水海道諏訪町3222-3",
        "phone": "0297-23-2111",
        "contact_email": "jimu@example.jp",
        "system_manager": {"name": "管理 太郎", "phone": "0297-23-2112"},
        "listed": listed
    })
}

async fn body_of(r: reqwest::Response, status: StatusCode, what: &str) -> Value {
    let got = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "{what}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: not JSON: {text}"))
}

/// A refusal: the status, exactly `{error, message}`, and the code.
async fn refused(r: reqwest::Response, status: StatusCode, code: &str, what: &str) {
    let v = body_of(r, status, what).await;
    let obj = v.as_object().unwrap();
    assert_eq!(obj.len(), 2, "{what}: only error and message: {v}");
    assert!(obj["message"].is_string(), "{what}: {v}");
    assert_eq!(v["error"], code, "{what}: {v}");
}

/// Applies; returns (application id, status token).
async fn apply(app: &TestApp, body: Value) -> (String, String) {
    let r = app.post("/api/v1/facility-applications", None, body).await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v = body_of(r, StatusCode::CREATED, "apply").await;
    assert_eq!(v["status"], "pending");
    assert_eq!(v["type"], "application");
    let token = v["status_token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 22, "128 bits, base64url: {token}");
    (v["application_id"].as_str().unwrap().to_string(), token)
}

async fn status_of(app: &TestApp, id: &str, token: &str) -> reqwest::Response {
    app.get(
        &format!("/api/v1/facility-applications/{id}?token={token}"),
        None,
    )
    .await
}

async fn decide(app: &TestApp, admin: &str, id: &str, body: Value) -> reqwest::Response {
    app.post(
        &format!("/api/v1/facility-applications/{id}/decision"),
        Some(admin),
        body,
    )
    .await
}

async fn approve(app: &TestApp, admin: &str, id: &str) -> Value {
    let r = decide(app, admin, id, json!({"decision": "approve"})).await;
    body_of(r, StatusCode::OK, "approve").await
}

async fn directory(app: &TestApp) -> Value {
    body_of(
        app.get("/api/v1/directory", None).await,
        StatusCode::OK,
        "directory",
    )
    .await
}

fn directory_names(d: &Value) -> Vec<String> {
    d["facilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name_ja"].as_str().unwrap().to_string())
        .collect()
}

async fn page(app: &TestApp) -> String {
    let r = app.get("/pages/directory", None).await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(
        !csp.contains("script-src"),
        "the page runs no script: {csp}"
    );
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    r.text().await.unwrap()
}

fn audit_actions(app: &TestApp) -> Vec<AuditRow> {
    audit_events(app)
}

fn count_action(rows: &[AuditRow], action: &str) -> usize {
    rows.iter().filter(|r| r.action == action).count()
}

/// Rows of the governance tables, of facilities and of the audit log.
fn counts(app: &TestApp) -> [i64; 6] {
    use diesel::prelude::*;
    use kyukit_server::db::schema::*;
    let db = app.db();
    let mut c = db.conn().expect("conn");
    let c: &mut kyukit_server::db::DbConnection = &mut c;
    [
        facility_applications::table.count().get_result(c).unwrap(),
        application_notifications::table
            .count()
            .get_result(c)
            .unwrap(),
        facility_contacts::table.count().get_result(c).unwrap(),
        notices::table.count().get_result(c).unwrap(),
        facilities::table.count().get_result(c).unwrap(),
        audit_events::table.count().get_result(c).unwrap(),
    ]
}

both_backends!(
    application_approved_appears_in_directory_only_if_listed,
    |app: TestApp| async move {
        let admin = admin_token(&app).await;
        let (listed_id, listed_token) =
            apply(&app, application("clinic", "水海道クリニック", true)).await;
        app.clock.advance(60);
        let (hidden_id, hidden_token) =
            apply(&app, application("pharmacy", "非掲載薬局", false)).await;

        // Pending: the applicant sees it, nothing is in the directory yet.
        let s = body_of(
            status_of(&app, &listed_id, &listed_token).await,
            StatusCode::OK,
            "status",
        )
        .await;
        assert_eq!(s["status"], "pending");
        assert_eq!(s["kind"], "clinic");
        assert!(s["notification"].is_null() && s["decided_at"].is_null());
        assert!(directory_names(&directory(&app).await).is_empty());

        // The city's queue: pending first, oldest first, with the system manager (R6).
        let list = body_of(
            app.get("/api/v1/facility-applications", Some(&admin)).await,
            StatusCode::OK,
            "list",
        )
        .await;
        let apps = list["applications"].as_array().unwrap();
        assert_eq!(apps.len(), 2);
        assert_eq!(apps[0]["id"], listed_id.as_str());
        assert_eq!(apps[1]["id"], hidden_id.as_str());
        assert_eq!(apps[0]["system_manager"]["name"], "管理 太郎");
        assert_eq!(apps[0]["contact_email"], "jimu@example.jp");
        assert!(
            !list.to_string().contains(&listed_token),
            "the token is never shown again"
        );

        // Approve both: the facilities exist (created through service::facilities).
        let d = approve(&app, &admin, &listed_id).await;
        assert_eq!(d["application"]["status"], "approved");
        let fid = d["facility"]["id"].as_str().unwrap().to_string();
        assert_eq!(d["application"]["facility_id"], fid.as_str());
        assert_eq!(d["facility"]["kind"], "clinic");
        assert_eq!(d["facility"]["status"], "active");
        assert_eq!(d["facility"]["listed"], true);
        let d2 = approve(&app, &admin, &hidden_id).await;
        assert_eq!(d2["facility"]["listed"], false);
        let all = body_of(
            app.get("/api/v1/facilities", Some(&admin)).await,
            StatusCode::OK,
            "facilities",
        )
        .await;
        assert_eq!(all["facilities"].as_array().unwrap().len(), 2);

        // Only the listed one is public, with exactly the public fields.
        let dir = directory(&app).await;
        assert_eq!(directory_names(&dir), ["水海道クリニック"]);
        let entry = dir["facilities"][0].as_object().unwrap();
        let mut keys: Vec<&str> = entry.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["address", "kind", "name_en", "name_ja", "phone"]);
        assert_eq!(dir["municipality_ja"], "常総市");
        let html = page(&app).await;
        assert!(html.contains("水海道クリニック") && html.contains("水海道クリニック (en)"));
        assert!(
            !html.contains("非掲載薬局"),
            "unlisted facility on the page"
        );
        assert!(html.contains("救急キットとは") && html.contains("What Kyukit is"));
        assert!(!html.contains("jimu@example.jp") && !html.contains("管理 太郎"));

        // The applicant reads the decision with the token; e-mail is not sent.
        let s = body_of(
            status_of(&app, &listed_id, &listed_token).await,
            StatusCode::OK,
            "status",
        )
        .await;
        assert_eq!(s["status"], "approved");
        assert_eq!(s["facility_id"], fid.as_str());
        assert_eq!(s["notification"]["status"], "approved");
        assert_eq!(s["notification"]["facility_id"], fid.as_str());
        assert_eq!(s["notification"]["email_sent"], false);
        assert!(s["notification"]["decided_at"].is_i64());
        let s = body_of(
            status_of(&app, &hidden_id, &hidden_token).await,
            StatusCode::OK,
            "status",
        )
        .await;
        assert_eq!(s["status"], "approved");

        // Decided once.
        refused(
            decide(
                &app,
                &admin,
                &listed_id,
                json!({"decision": "reject", "reason": "x"}),
            )
            .await,
            StatusCode::CONFLICT,
            "already_decided",
            "second decision",
        )
        .await;

        let rows = audit_actions(&app);
        assert_eq!(count_action(&rows, "facility.apply"), 2);
        assert_eq!(count_action(&rows, "facility.create"), 2);
        assert_eq!(count_action(&rows, "facility.decide"), 2);
        let apply_event = rows.iter().find(|r| r.action == "facility.apply").unwrap();
        assert!(apply_event.actor_account_id.is_none(), "public: no actor");
        let decide_event = rows.iter().find(|r| r.action == "facility.decide").unwrap();
        assert_eq!(decide_event.actor_role.as_deref(), Some("city_admin"));
        assert_eq!(decide_event.facility_id.as_deref(), Some(fid.as_str()));
    }
);

both_backends!(
    rejection_reason_is_visible_with_the_token_and_only_with_it,
    |app: TestApp| async move {
        let admin = admin_token(&app).await;
        let (id, token) = apply(&app, application("care_provider", "ケア常総", true)).await;
        let (other_id, other_token) = apply(
            &app,
            application("support_center", "地域包括支援センター水海道", true),
        )
        .await;

        // Wrong token, another application's token, unknown or malformed id: the same 404.
        for (aid, tok) in [
            (id.as_str(), "AAAAAAAAAAAAAAAAAAAAAA"),
            (id.as_str(), other_token.as_str()),
            (other_id.as_str(), token.as_str()),
            ("0123456789abcdef0123456789abcdef", token.as_str()),
            ("nope", token.as_str()),
        ] {
            refused(
                status_of(&app, aid, tok).await,
                StatusCode::NOT_FOUND,
                "not_found",
                "wrong token",
            )
            .await;
        }
        refused(
            app.get(&format!("/api/v1/facility-applications/{id}"), None)
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "no token",
        )
        .await;

        // Only the city decides and lists.
        let (_, resident) = register_resident(&app, "hanako").await;
        refused(
            decide(&app, &resident, &id, json!({"decision": "approve"})).await,
            StatusCode::FORBIDDEN,
            "forbidden",
            "resident decides",
        )
        .await;
        refused(
            app.get("/api/v1/facility-applications", Some(&resident))
                .await,
            StatusCode::FORBIDDEN,
            "forbidden",
            "resident lists",
        )
        .await;
        refused(
            app.get("/api/v1/facility-applications", None).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "anonymous list",
        )
        .await;
        refused(
            decide(
                &app,
                &admin,
                "0123456789abcdef0123456789abcdef",
                json!({"decision": "approve"}),
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
            "unknown application",
        )
        .await;

        // A rejection needs a reason, which the applicant then reads.
        refused(
            decide(&app, &admin, &id, json!({"decision": "reject"})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "reject without reason",
        )
        .await;
        let before = counts(&app);
        let d = body_of(
            decide(
                &app,
                &admin,
                &id,
                json!({"decision": "reject", "reason": "管理者の連絡先が確認できません"}),
            )
            .await,
            StatusCode::OK,
            "reject",
        )
        .await;
        assert_eq!(d["application"]["status"], "rejected");
        assert!(d["facility"].is_null());
        let after = counts(&app);
        assert_eq!(after[1], before[1] + 1, "one notification stored");
        assert_eq!(after[4], before[4], "no facility created");
        let s = body_of(status_of(&app, &id, &token).await, StatusCode::OK, "status").await;
        assert_eq!(s["status"], "rejected");
        assert_eq!(s["reason"], "管理者の連絡先が確認できません");
        assert_eq!(s["notification"]["status"], "rejected");
        assert_eq!(
            s["notification"]["reason"],
            "管理者の連絡先が確認できません"
        );
        assert!(s["notification"]["facility_id"].is_null());
        assert!(directory_names(&directory(&app).await).is_empty());

        // The queue: the pending one first, then the decided one.
        let list = body_of(
            app.get("/api/v1/facility-applications", Some(&admin)).await,
            StatusCode::OK,
            "list",
        )
        .await;
        let apps = list["applications"].as_array().unwrap();
        assert_eq!(apps[0]["id"], other_id.as_str());
        assert_eq!(apps[0]["status"], "pending");
        assert_eq!(apps[1]["id"], id.as_str());
        assert_eq!(apps[1]["status"], "rejected");
    }
);

both_backends!(
    manager_changes_then_withdraws_and_the_facility_leaves,
    |app: TestApp| async move {
        let admin = admin_token(&app).await;
        let (id, _) = apply(&app, application("hospital", "常総総合病院", true)).await;
        let fid = approve(&app, &admin, &id).await["facility"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        add_staff(&app, &admin, &fid, "manager1", "facility_manager").await;
        add_staff(&app, &admin, &fid, "ed1", "ed_staff").await;
        let manager = staff_token(&app, "manager1", MEDIC_PASSWORD).await;
        let ed = staff_token(&app, "ed1", MEDIC_PASSWORD).await;
        let other = create_facility(&app, &admin, "fire_department", "常総消防").await;
        add_staff(&app, &admin, &other, "manager2", "facility_manager").await;
        let other_manager = staff_token(&app, "manager2", MEDIC_PASSWORD).await;
        let path = format!("/api/v1/facilities/{fid}/change-requests");
        let change = json!({"type": "change", "changes": {
            "name_en": "Joso General Hospital",
            "phone": "0297-11-2222",
            "system_manager": {"name": "新任 花子", "phone": "0297-11-2223"}
        }, "note": "名称（英語）と代表電話の変更"});

        // Only this facility's manager asks.
        for (token, what) in [
            (&admin, "city admin"),
            (&ed, "ED staff"),
            (&other_manager, "another facility's manager"),
        ] {
            refused(
                app.post(&path, Some(token), change.clone()).await,
                StatusCode::FORBIDDEN,
                "forbidden",
                what,
            )
            .await;
        }
        // Malformed requests.
        for (body, status, code) in [
            (
                json!({"type": "withdrawal", "changes": {"phone": "0297-00-0000"}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            (
                json!({"type": "change"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            (
                json!({"type": "change", "changes": {}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            (
                json!({"type": "merge", "changes": {"phone": "0297-00-0000"}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            (
                json!({"type": "change", "changes": {"kind": "pharmacy"}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            (
                json!({"type": "change", "changes": {"fax": "0297-00-0000"}}),
                StatusCode::BAD_REQUEST,
                "invalid_body",
            ),
        ] {
            refused(
                app.post(&path, Some(&manager), body.clone()).await,
                status,
                code,
                &body.to_string(),
            )
            .await;
        }

        // A change: one pending request at a time; the city approves; the directory follows.
        let r = app.post(&path, Some(&manager), change.clone()).await;
        let sub = body_of(r, StatusCode::CREATED, "change request").await;
        assert_eq!(sub["type"], "change");
        let change_id = sub["application_id"].as_str().unwrap().to_string();
        let change_token = sub["status_token"].as_str().unwrap().to_string();
        refused(
            app.post(&path, Some(&manager), json!({"type": "withdrawal"}))
                .await,
            StatusCode::CONFLICT,
            "request_pending",
            "second pending request",
        )
        .await;
        let list = body_of(
            app.get("/api/v1/facility-applications", Some(&admin)).await,
            StatusCode::OK,
            "list",
        )
        .await;
        assert_eq!(list["applications"][0]["id"], change_id.as_str());
        assert_eq!(list["applications"][0]["type"], "change");
        assert_eq!(list["applications"][0]["facility_id"], fid.as_str());
        let d = approve(&app, &admin, &change_id).await;
        assert_eq!(d["facility"]["name_en"], "Joso General Hospital");
        assert_eq!(d["facility"]["name_ja"], "常総総合病院", "unchanged");
        assert_eq!(d["facility"]["phone"], "0297-11-2222");
        let dir = directory(&app).await;
        assert_eq!(dir["facilities"][0]["name_en"], "Joso General Hospital");
        let s = body_of(
            status_of(&app, &change_id, &change_token).await,
            StatusCode::OK,
            "change status",
        )
        .await;
        assert_eq!(s["status"], "approved");
        assert_eq!(s["type"], "change");

        // Withdrawal: out of the directory; its staff's sessions end; the IDs stop.
        let r = app
            .post(
                &path,
                Some(&manager),
                json!({"type": "withdrawal", "note": "閉院のため"}),
            )
            .await;
        let sub = body_of(r, StatusCode::CREATED, "withdrawal request").await;
        let wid = sub["application_id"].as_str().unwrap().to_string();
        let wtoken = sub["status_token"].as_str().unwrap().to_string();
        assert!(directory_names(&directory(&app).await).contains(&"常総総合病院".to_string()));
        let d = approve(&app, &admin, &wid).await;
        assert_eq!(d["facility"]["status"], "withdrawn");
        assert_eq!(d["facility"]["listed"], false);
        assert!(directory_names(&directory(&app).await).is_empty());
        assert!(!page(&app).await.contains("常総総合病院"));
        refused(
            app.get("/api/v1/facilities", Some(&ed)).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "withdrawn facility's staff session",
        )
        .await;
        let code = app.totp_code("ed1");
        let r = app
            .post(
                "/api/v1/sessions",
                None,
                json!({"login_id": "ed1", "password": MEDIC_PASSWORD, "totp": code}),
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "withdrawn facility's staff login"
        );
        // The manager, logged out by the withdrawal, still reads the result with the token.
        let s = body_of(
            status_of(&app, &wid, &wtoken).await,
            StatusCode::OK,
            "withdrawal status",
        )
        .await;
        assert_eq!(s["status"], "approved");
        assert_eq!(s["type"], "withdrawal");
        assert_eq!(s["notification"]["facility_id"], fid.as_str());
        // A withdrawn facility takes no more requests (the other facility is untouched).
        let all = body_of(
            app.get("/api/v1/facilities", Some(&admin)).await,
            StatusCode::OK,
            "facilities",
        )
        .await;
        let statuses: Vec<(&str, &str)> = all["facilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["id"].as_str().unwrap(), f["status"].as_str().unwrap()))
            .collect();
        assert!(statuses.contains(&(fid.as_str(), "withdrawn")));
        assert!(statuses.contains(&(other.as_str(), "active")));

        let rows = audit_actions(&app);
        assert_eq!(count_action(&rows, "facility.change_request"), 2);
        assert_eq!(count_action(&rows, "facility.update"), 1);
        let w = rows
            .iter()
            .find(|r| r.action == "facility.withdraw")
            .expect("withdrawal audited");
        assert_eq!(w.facility_id.as_deref(), Some(fid.as_str()));
        assert!(
            w.detail
                .as_deref()
                .unwrap()
                .contains("2 accounts suspended"),
            "{:?}",
            w.detail
        );
        let req = rows
            .iter()
            .find(|r| r.action == "facility.change_request")
            .unwrap();
        assert_eq!(req.actor_role.as_deref(), Some("facility_manager"));
        assert_eq!(req.facility_id.as_deref(), Some(fid.as_str()));
    }
);

both_backends!(
    facility_without_contacts_must_give_them_whole,
    |app: TestApp| async move {
        // A facility the city created directly has no contacts or system manager on file.
        let admin = admin_token(&app).await;
        let fid = create_facility(&app, &admin, "hospital", "直接登録病院").await;
        add_staff(&app, &admin, &fid, "manager3", "facility_manager").await;
        let manager = staff_token(&app, "manager3", MEDIC_PASSWORD).await;
        let path = format!("/api/v1/facilities/{fid}/change-requests");
        refused(
            app.post(
                &path,
                Some(&manager),
                json!({"type": "change", "changes": {"contact_email": "a@b.jp"}}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "half the contacts",
        )
        .await;
        let r = app
            .post(
                &path,
                Some(&manager),
                json!({"type": "change", "changes": {"contact_email": "a@b.jp",
                       "system_manager": {"name": "管理 次郎", "phone": "0297-00-1111"}, "listed": true}}),
            )
            .await;
        let sub = body_of(r, StatusCode::CREATED, "change").await;
        let d = approve(&app, &admin, sub["application_id"].as_str().unwrap()).await;
        assert_eq!(d["facility"]["listed"], true);
        assert_eq!(directory_names(&directory(&app).await), ["直接登録病院"]);
    }
);

both_backends!(
    notices_are_public_newest_first_and_terminations_need_30_days,
    |app: TestApp| async move {
        let admin = admin_token(&app).await;
        let (_, resident) = register_resident(&app, "hanako").await;
        let now = app.clock.now_for_tests();
        let notice = |kind: &str, title: &str| {
            json!({"kind": kind, "title_ja": title, "title_en": format!("{title} (en)"),
                   "body_ja": "一行目\n二行目", "body_en": "Line one\nline two"})
        };

        // Only the city publishes.
        refused(
            app.post(
                "/api/v1/notices",
                Some(&resident),
                notice("service_change", "x"),
            )
            .await,
            StatusCode::FORBIDDEN,
            "forbidden",
            "resident publishes",
        )
        .await;
        refused(
            app.post("/api/v1/notices", None, notice("service_change", "x"))
                .await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "anonymous publishes",
        )
        .await;

        // A termination less than 30 days ahead is refused; other rule breaks too.
        let mut short = notice("planned_suspension", "サービス終了");
        short["termination"] = json!(true);
        short["starts_at"] = json!(now + 29 * DAY);
        let before = counts(&app);
        refused(
            app.post("/api/v1/notices", Some(&admin), short.clone())
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "insufficient_notice",
            "termination in 29 days",
        )
        .await;
        let mut no_start = notice("planned_suspension", "x");
        no_start["termination"] = json!(true);
        let mut incident_termination = notice("incident", "x");
        incident_termination["termination"] = json!(true);
        let mut past = notice("planned_suspension", "x");
        past["starts_at"] = json!(now - DAY);
        let mut backwards = notice("incident", "x");
        backwards["starts_at"] = json!(now);
        backwards["ends_at"] = json!(now - 60);
        for (body, code) in [
            (no_start, "invalid_field"),
            (incident_termination, "invalid_field"),
            (past, "invalid_field"),
            (backwards, "invalid_field"),
            (notice("maintenance", "x"), "invalid_field"),
        ] {
            refused(
                app.post("/api/v1/notices", Some(&admin), body.clone())
                    .await,
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                &body.to_string(),
            )
            .await;
        }
        assert_eq!(counts(&app), before, "refusals write nothing");

        // Published: a service change, an incident, a termination 31 days ahead.
        let r = app
            .post(
                "/api/v1/notices",
                Some(&admin),
                notice("service_change", "<b>機能追加</b>"),
            )
            .await;
        let first = body_of(r, StatusCode::CREATED, "publish").await;
        assert_eq!(first["status"], "published");
        assert_eq!(first["body_ja"], "一行目\n二行目");
        app.clock.advance(60);
        let mut incident = notice("incident", "障害のお知らせ");
        incident["starts_at"] = json!(now - 3600);
        let incident = body_of(
            app.post("/api/v1/notices", Some(&admin), incident).await,
            StatusCode::CREATED,
            "incident",
        )
        .await;
        app.clock.advance(60);
        let mut term = notice("planned_suspension", "サービス終了のお知らせ");
        term["termination"] = json!(true);
        term["starts_at"] = json!(now + 31 * DAY);
        let term = body_of(
            app.post("/api/v1/notices", Some(&admin), term).await,
            StatusCode::CREATED,
            "termination",
        )
        .await;
        assert_eq!(term["termination"], true);

        // Public, newest first.
        let list = body_of(
            app.get("/api/v1/notices", None).await,
            StatusCode::OK,
            "notices",
        )
        .await;
        let ids: Vec<&str> = list["notices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                term["id"].as_str().unwrap(),
                incident["id"].as_str().unwrap(),
                first["id"].as_str().unwrap()
            ]
        );
        let html = page(&app).await;
        assert!(html.contains("障害のお知らせ") && html.contains("サービス終了のお知らせ"));
        assert!(
            html.contains("&lt;b&gt;機能追加&lt;/b&gt;") && !html.contains("<b>機能追加"),
            "titles are escaped"
        );
        assert!(html.contains("一行目<br>二行目"));

        // Withdrawn: no longer public; once.
        let nid = incident["id"].as_str().unwrap();
        refused(
            app.send(
                Method::DELETE,
                &format!("/api/v1/notices/{nid}"),
                Some(&resident),
                None,
            )
            .await,
            StatusCode::FORBIDDEN,
            "forbidden",
            "resident withdraws",
        )
        .await;
        let w = body_of(
            app.send(
                Method::DELETE,
                &format!("/api/v1/notices/{nid}"),
                Some(&admin),
                None,
            )
            .await,
            StatusCode::OK,
            "withdraw",
        )
        .await;
        assert_eq!(w["status"], "withdrawn");
        refused(
            app.send(
                Method::DELETE,
                &format!("/api/v1/notices/{nid}"),
                Some(&admin),
                None,
            )
            .await,
            StatusCode::CONFLICT,
            "already_withdrawn",
            "withdraw twice",
        )
        .await;
        refused(
            app.send(
                Method::DELETE,
                "/api/v1/notices/0123456789abcdef0123456789abcdef",
                Some(&admin),
                None,
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
            "unknown notice",
        )
        .await;
        let list = body_of(
            app.get("/api/v1/notices", None).await,
            StatusCode::OK,
            "notices",
        )
        .await;
        assert_eq!(list["notices"].as_array().unwrap().len(), 2);
        assert!(!page(&app).await.contains("障害のお知らせ"));

        let rows = audit_actions(&app);
        assert_eq!(count_action(&rows, "notice.publish"), 3);
        assert_eq!(count_action(&rows, "notice.withdraw"), 1);
    }
);

both_backends!(
    bad_input_gets_4xx_and_writes_nothing,
    |app: TestApp| async move {
        let admin = admin_token(&app).await;
        let (id, _) = apply(&app, application("clinic", "正しい申請", true)).await;
        let before = counts(&app);

        let with = |field: &str, value: Value| {
            let mut b = application("clinic", "テスト診療所", true);
            b[field] = value;
            b
        };
        let mut unknown = application("clinic", "x", true);
        unknown["fax"] = json!("0297-00-0000");
        let mut unknown_manager = application("clinic", "x", true);
        unknown_manager["system_manager"]["email"] = json!("a@b.jp");
        let mut no_manager = application("clinic", "x", true);
        no_manager.as_object_mut().unwrap().remove("system_manager");
        let cases: Vec<(Value, StatusCode, &str)> = vec![
            (unknown, StatusCode::BAD_REQUEST, "invalid_body"),
            (unknown_manager, StatusCode::BAD_REQUEST, "invalid_body"),
            (no_manager, StatusCode::BAD_REQUEST, "invalid_body"),
            (
                with("listed", json!("yes")),
                StatusCode::BAD_REQUEST,
                "invalid_body",
            ),
            (
                with("name_ja", json!("長".repeat(101))),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            (
                with("name_en", json!("")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            (
                with("address", json!("a\u{0}b")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            (
                with("kind", json!("bank")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            (
                with("phone", json!("'; DROP TABLE facilities")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_phone",
            ),
            (
                with("contact_email", json!("not an address")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_email",
            ),
            (
                with(
                    "system_manager",
                    json!({"name": "", "phone": "0297-00-0000"}),
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
        ];
        for (body, status, code) in cases {
            refused(
                app.post("/api/v1/facility-applications", None, body.clone())
                    .await,
                status,
                code,
                &body.to_string(),
            )
            .await;
        }
        let r = app
            .client
            .post(app.url("/api/v1/facility-applications"))
            .header("content-type", "application/json")
            .body("{\"kind\": ")
            .send()
            .await
            .unwrap();
        refused(r, StatusCode::BAD_REQUEST, "invalid_json", "malformed JSON").await;

        // Decisions and notices.
        for (body, status, code) in [
            (
                json!({"decision": "approve", "extra": 1}),
                StatusCode::BAD_REQUEST,
                "invalid_body",
            ),
            (
                json!({"decision": "maybe"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            (
                json!({"decision": "reject", "reason": "r".repeat(501)}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
        ] {
            refused(
                decide(&app, &admin, &id, body).await,
                status,
                code,
                "decision",
            )
            .await;
        }
        let notice = json!({"kind": "incident", "title_ja": "t", "title_en": "t",
                            "body_ja": "b", "body_en": "b"});
        let mut unknown = notice.clone();
        unknown["publish"] = json!(true);
        let mut long_title = notice.clone();
        long_title["title_ja"] = json!("題".repeat(201));
        let mut escape = notice.clone();
        escape["body_en"] = json!("red \u{1b}[31m text");
        let mut far = notice.clone();
        far["starts_at"] = json!(99_999_999_999i64);
        for (body, status, code) in [
            (unknown, StatusCode::BAD_REQUEST, "invalid_body"),
            (
                long_title,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            (escape, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            (far, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        ] {
            refused(
                app.post("/api/v1/notices", Some(&admin), body.clone())
                    .await,
                status,
                code,
                &body.to_string(),
            )
            .await;
        }

        assert_eq!(counts(&app), before, "no rows written by any refusal");
        let s = body_of(
            app.get("/api/v1/facility-applications", Some(&admin)).await,
            StatusCode::OK,
            "list",
        )
        .await;
        assert_eq!(s["applications"][0]["status"], "pending", "still undecided");
    }
);

both_backends!(
    concurrent_decisions_create_one_facility,
    |app: TestApp| async move {
        let admin = admin_token(&app).await;
        let (id, _) = apply(&app, application("clinic", "同時承認クリニック", true)).await;
        let before = counts(&app);
        let (a, b, c) = tokio::join!(
            decide(&app, &admin, &id, json!({"decision": "approve"})),
            decide(&app, &admin, &id, json!({"decision": "approve"})),
            decide(
                &app,
                &admin,
                &id,
                json!({"decision": "reject", "reason": "重複"})
            ),
        );
        let rejected = c.status() == StatusCode::OK;
        let mut statuses = vec![a.status(), b.status(), c.status()];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT, StatusCode::CONFLICT],
            "exactly one decision wins"
        );
        let after = counts(&app);
        assert_eq!(after[1], before[1] + 1, "one notification");
        let created = if rejected { 0 } else { 1 };
        assert_eq!(after[4], before[4] + created, "one facility, if approved");
    }
);
