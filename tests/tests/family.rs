//! Family and home (issue 27): proxies invited after registration (invite → accept → act →
//! removed → 404; expired and reused codes refused), and a care manager's list (search and
//! filters) — end to end on SQLite and PostgreSQL.

use kyukit_server::audit;
use kyukit_server::service::residents::PROXY_STATEMENT_JA;
use kyukit_tests::*;
use reqwest::Method;

async fn json(r: reqwest::Response) -> Value {
    let status = r.status();
    let text = r.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"))
}

async fn expect(r: reqwest::Response, status: StatusCode, what: &str) -> Value {
    let got = r.status();
    let body = r.text().await.unwrap_or_default();
    assert_eq!(got, status, "{what}: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

async fn login(app: &TestApp, login_id: &str, password: &str) -> String {
    let r = app
        .post(
            "/api/v1/sessions",
            None,
            json!({"login_id": login_id, "password": password}),
        )
        .await;
    expect(r, StatusCode::CREATED, "login").await["token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn list(app: &TestApp, token: &str, q: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/me/residents{q}"), Some(token))
        .await;
    expect(r, StatusCode::OK, q).await
}

async fn invite(app: &TestApp, rid: &str, token: &str, body: Value) -> Value {
    let r = app
        .post(
            &format!("/api/v1/residents/{rid}/proxy-invites"),
            Some(token),
            body,
        )
        .await;
    expect(r, StatusCode::CREATED, "invite").await
}

/// A care manager who registered one resident (トメ) themself; returns (token, that resident).
async fn care_manager(app: &TestApp) -> (String, String) {
    let mut body = json!({
        "login_id": "care.manager@joso", "password": "another long secret", "display_name": "佐藤 ケアマネ",
        "relation": "care_manager", "accept_proxy_statement": true,
        "resident": resident_body("tome")["profile"].clone()
    });
    body["resident"]["family_name"] = json!("石川");
    body["resident"]["given_name"] = json!("トメ");
    body["resident"]["family_name_kana"] = json!("イシカワ");
    body["resident"]["given_name_kana"] = json!("トメ");
    body["resident"]["district"] = json!("石下");
    let reg = expect(
        app.post("/api/v1/proxies", None, body).await,
        StatusCode::CREATED,
        "care manager registers",
    )
    .await;
    (
        reg["token"].as_str().unwrap().into(),
        reg["resident_id"].as_str().unwrap().into(),
    )
}

fn actions_of(history: &Value) -> Vec<(String, String)> {
    history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

both_backends!(
    a_resident_invites_a_proxy_who_acts_until_removed,
    |app: TestApp| async move {
        let (rid, me) = register_resident(&app, "hanako").await;

        // The invite: a one-time code of at least 128 random bits, in the answer only.
        let inv = invite(
            &app,
            &rid,
            &me,
            json!({"relation": "family", "relation_detail": "長女"}),
        )
        .await;
        let code = inv["code"].as_str().unwrap().to_string();
        let raw: String = code.chars().filter(|c| *c != '-').collect();
        // 26 base32 characters (5 bits each) carry the 16 random bytes.
        assert!(
            raw.len() == 26
                && raw
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)),
            "{code}"
        );
        assert!(inv["link"].as_str().unwrap().ends_with(&code));
        assert_eq!(inv["expires_at"].as_i64(), Some(T0 + 72 * 3600));
        // The link in full as a QR code (the browser suite decodes it from the page).
        let svg = inv["qr_svg"].as_str().unwrap_or_default();
        assert!(
            svg.starts_with("<svg") && svg.contains("<path"),
            "the invite link as a QR code: {svg:.60}"
        );
        let listed = json(
            app.get(&format!("/api/v1/residents/{rid}/proxy-invites"), Some(&me))
                .await,
        )
        .await;
        assert_eq!(listed["invites"][0]["status"], "open");
        assert!(
            !listed.to_string().contains(&raw) && !listed.to_string().contains(&code),
            "the code is shown once"
        );

        // The daughter has no login: she registers one with the code (lower case, no dashes:
        // typed by hand) and accepts the statement.
        let reg = expect(
            app.post(
                "/api/v1/proxy-invites/register",
                None,
                json!({"code": raw.to_lowercase(), "login_id": "daughter", "password": "a long family secret",
                    "display_name": "山田 恵子", "accept_proxy_statement": true}),
            )
            .await,
            StatusCode::CREATED,
            "the daughter registers with the code",
        )
        .await;
        assert_eq!(reg["resident_id"], rid);
        let daughter = reg["token"].as_str().unwrap().to_string();

        // She acts for her mother: reads the profile, adds an item (provenance proxy).
        let p = json(
            app.get(&format!("/api/v1/residents/{rid}"), Some(&daughter))
                .await,
        )
        .await;
        assert_eq!(p["given_name"], "花子");
        let item = expect(
            app.post(
                &format!("/api/v1/residents/{rid}/dataset"),
                Some(&daughter),
                json!({"category": "blood_type", "body": {"abo": "A", "rh": "+"}}),
            )
            .await,
            StatusCode::CREATED,
            "the proxy adds an item",
        )
        .await;
        assert_eq!(item["provenance"], "proxy");
        let mine = json(app.get("/api/v1/me/residents", Some(&daughter)).await).await;
        assert_eq!(mine["residents"][0]["id"], rid);

        // The code is spent: a second use is refused, also for another proxy account.
        let (cm, tome) = care_manager(&app).await;
        let r = app
            .post(
                "/api/v1/proxy-invites/accept",
                Some(&cm),
                json!({"code": code, "accept_proxy_statement": true}),
            )
            .await;
        assert_eq!(
            expect(r, StatusCode::CONFLICT, "reused").await["error"],
            "invite_used"
        );
        let r = app
            .post(
                "/api/v1/proxy-invites/register",
                None,
                json!({"code": code, "login_id": "someone", "password": "a long family secret",
                    "display_name": "誰か", "accept_proxy_statement": true}),
            )
            .await;
        assert_eq!(
            expect(r, StatusCode::CONFLICT, "reused on registration").await["error"],
            "invite_used"
        );
        // No account was made for the refused registration.
        let r = app
            .post(
                "/api/v1/sessions",
                None,
                json!({"login_id": "someone", "password": "a long family secret"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

        // An expired code is refused (the clock moves past its hour).
        let short = invite(
            &app,
            &rid,
            &me,
            json!({"relation": "care_manager", "ttl_hours": 1}),
        )
        .await;
        app.clock.advance(3600);
        // Sessions end after 30 idle minutes: everyone logs in again.
        let me = login(&app, "hanako", "correct horse battery").await;
        let cm = login(&app, "care.manager@joso", "another long secret").await;
        let daughter = login(&app, "daughter", "a long family secret").await;
        let r = app
            .post(
                "/api/v1/proxy-invites/accept",
                Some(&cm),
                json!({"code": short["code"], "accept_proxy_statement": true}),
            )
            .await;
        assert_eq!(
            expect(r, StatusCode::CONFLICT, "expired").await["error"],
            "invite_expired"
        );
        assert_eq!(
            app.get(&format!("/api/v1/residents/{rid}"), Some(&cm))
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        // An unknown code, the statement not accepted, a resident's own account: refused.
        let r = app
            .post(
                "/api/v1/proxy-invites/accept",
                Some(&cm),
                json!({"code": "AAAA-BBBB", "accept_proxy_statement": true}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let fresh = invite(&app, &rid, &me, json!({"relation": "care_manager"})).await;
        let r = app
            .post(
                "/api/v1/proxy-invites/accept",
                Some(&cm),
                json!({"code": fresh["code"], "accept_proxy_statement": false}),
            )
            .await;
        assert_eq!(
            expect(r, StatusCode::UNPROCESSABLE_ENTITY, "no statement").await["error"],
            "proxy_statement_required"
        );
        let (_, other_resident) = register_resident(&app, "jiro").await;
        let r = app
            .post(
                "/api/v1/proxy-invites/accept",
                Some(&other_resident),
                json!({"code": fresh["code"], "accept_proxy_statement": true}),
            )
            .await;
        assert_eq!(
            expect(r, StatusCode::FORBIDDEN, "a resident account").await["error"],
            "proxy_account_required"
        );

        // The care manager accepts a fresh code: she now acts for two residents.
        let acc = expect(
            app.post(
                "/api/v1/proxy-invites/accept",
                Some(&cm),
                json!({"code": fresh["code"], "accept_proxy_statement": true}),
            )
            .await,
            StatusCode::OK,
            "the care manager accepts",
        )
        .await;
        assert_eq!(acc["resident_id"], rid);
        assert_eq!(acc["proxy_statement"], PROXY_STATEMENT_JA);
        let mine = json(app.get("/api/v1/me/residents", Some(&cm)).await).await;
        let mut ids: Vec<&str> = mine["residents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        ids.sort();
        let mut want = vec![rid.as_str(), tome.as_str()];
        want.sort();
        assert_eq!(ids, want);

        // The resident sees both, each with the statement verbatim.
        let list = json(
            app.get(&format!("/api/v1/residents/{rid}/proxies"), Some(&me))
                .await,
        )
        .await;
        let proxies = list["proxies"].as_array().unwrap();
        assert_eq!(proxies.len(), 2);
        assert!(
            proxies
                .iter()
                .all(|p| p["consent_statement"] == PROXY_STATEMENT_JA)
        );
        let daughter_pid = proxies
            .iter()
            .find(|p| p["display_name"] == "山田 恵子")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            proxies.iter().find(|p| p["id"] == daughter_pid).unwrap()["relation_detail"],
            "長女"
        );

        // A proxy neither invites nor removes another proxy.
        let r = app
            .post(
                &format!("/api/v1/residents/{rid}/proxy-invites"),
                Some(&cm),
                json!({"relation": "family"}),
            )
            .await;
        assert_eq!(
            expect(r, StatusCode::FORBIDDEN, "a proxy invites").await["error"],
            "resident_only"
        );
        let r = app
            .send(
                Method::DELETE,
                &format!("/api/v1/residents/{rid}/proxies/{daughter_pid}"),
                Some(&cm),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);

        // The resident removes her daughter: the daughter's access ends at once (same session).
        let r = app
            .send(
                Method::DELETE,
                &format!("/api/v1/residents/{rid}/proxies/{daughter_pid}"),
                Some(&me),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        for path in [
            format!("/api/v1/residents/{rid}"),
            format!("/api/v1/residents/{rid}/dataset"),
            format!("/api/v1/residents/{rid}/access-history"),
            format!("/api/v1/residents/{rid}/proxies"),
        ] {
            let r = app.get(&path, Some(&daughter)).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        }
        let r = app
            .post(
                &format!("/api/v1/residents/{rid}/dataset"),
                Some(&daughter),
                json!({"category": "blood_type", "body": {"abo": "B", "rh": "+"}}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let mine = json(app.get("/api/v1/me/residents", Some(&daughter)).await).await;
        assert_eq!(mine["residents"], json!([]));
        let r = app
            .send(
                Method::DELETE,
                &format!("/api/v1/residents/{rid}/proxies/{daughter_pid}"),
                Some(&me),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "removed once");
        // The care manager still acts; she may step down herself.
        assert_eq!(
            app.get(&format!("/api/v1/residents/{rid}"), Some(&cm))
                .await
                .status(),
            StatusCode::OK
        );

        // Invited again later, the daughter acts again (the same link, current again).
        let again = invite(&app, &rid, &me, json!({"relation": "family"})).await;
        expect(
            app.post(
                "/api/v1/proxy-invites/accept",
                Some(&daughter),
                json!({"code": again["code"], "accept_proxy_statement": true}),
            )
            .await,
            StatusCode::OK,
            "invited again",
        )
        .await;
        assert_eq!(
            app.get(&format!("/api/v1/residents/{rid}"), Some(&daughter))
                .await
                .status(),
            StatusCode::OK
        );

        // All of it is in the resident's access history and on a chain that verifies.
        let history = json(
            app.get(
                &format!("/api/v1/residents/{rid}/access-history"),
                Some(&me),
            )
            .await,
        )
        .await;
        let actions = actions_of(&history);
        for want in [
            ("proxy.invite", "ok"),
            ("proxy.register", "ok"),
            ("proxy.accept", "ok"),
            ("proxy.accept", "denied"),
            ("proxy.remove", "ok"),
            ("proxy.invite", "denied"),
            ("proxy.remove", "denied"),
        ] {
            assert!(
                actions
                    .iter()
                    .any(|(a, o)| (a.as_str(), o.as_str()) == want),
                "{want:?} in {actions:?}"
            );
        }
        let db = app.db();
        let muni = app.municipality_id(&db);
        let mut c = db.conn().unwrap();
        audit::verify(&mut c, &muni, None).expect("the chain verifies");
    }
);

both_backends!(
    a_care_manager_searches_and_filters_her_residents,
    |app: TestApp| async move {
        let (cm, tome) = care_manager(&app).await;
        let (hanako, h_token) = register_resident(&app, "hanako").await;
        let mut jiro_body = resident_body("jiro");
        jiro_body["profile"]["family_name"] = json!("鈴木");
        jiro_body["profile"]["given_name"] = json!("次郎");
        jiro_body["profile"]["family_name_kana"] = json!("スズキ");
        jiro_body["profile"]["given_name_kana"] = json!("ジロウ");
        jiro_body["profile"]["sex"] = json!("male");
        jiro_body["profile"]["district"] = json!("石下");
        let reg = expect(
            app.post("/api/v1/residents", None, jiro_body).await,
            StatusCode::CREATED,
            "jiro",
        )
        .await;
        let (jiro, j_token) = (
            reg["resident_id"].as_str().unwrap().to_string(),
            reg["token"].as_str().unwrap().to_string(),
        );
        for (rid, token) in [(&hanako, &h_token), (&jiro, &j_token)] {
            let inv = invite(&app, rid, token, json!({"relation": "care_manager"})).await;
            expect(
                app.post(
                    "/api/v1/proxy-invites/accept",
                    Some(&cm),
                    json!({"code": inv["code"], "accept_proxy_statement": true}),
                )
                .await,
                StatusCode::OK,
                "accept",
            )
            .await;
        }
        // Hanako's information is entered today; the others have none.
        expect(
            app.post(
                &format!("/api/v1/residents/{hanako}/dataset"),
                Some(&cm),
                json!({"category": "blood_type", "body": {"abo": "A", "rh": "+"}}),
            )
            .await,
            StatusCode::CREATED,
            "item",
        )
        .await;

        let ids = |v: &Value| -> Vec<String> {
            let mut ids: Vec<String> = v["residents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            ids
        };
        let sorted = |mut v: Vec<&String>| {
            v.sort();
            v.into_iter().cloned().collect::<Vec<_>>()
        };
        assert_eq!(
            ids(&list(&app, &cm, "").await),
            sorted(vec![&tome, &hanako, &jiro])
        );
        // By name in kanji, by kana typed in hiragana or half-width katakana, by part of it.
        assert_eq!(
            ids(&list(&app, &cm, "?q=%E8%8A%B1%E5%AD%90").await),
            vec![hanako.clone()]
        ); // 花子
        assert_eq!(
            ids(&list(&app, &cm, "?q=%E3%81%99%E3%81%9A%E3%81%8D").await),
            vec![jiro.clone()]
        ); // すずき
        assert_eq!(
            ids(&list(&app, &cm, "?q=%EF%BD%B2%EF%BD%BC%EF%BD%B6%EF%BE%9C").await),
            vec![tome.clone()]
        ); // ｲｼｶﾜ
        assert_eq!(
            ids(&list(&app, &cm, "?q=%E3%83%88%E3%83%A1").await),
            vec![tome.clone()]
        ); // トメ
        assert_eq!(
            ids(&list(&app, &cm, "?q=nobody").await),
            Vec::<String>::new()
        );
        // By district (石下).
        assert_eq!(
            ids(&list(&app, &cm, "?district=%E7%9F%B3%E4%B8%8B").await),
            sorted(vec![&tome, &jiro])
        );
        // Stale: nothing entered (トメ, 次郎); Hanako's checked today.
        let all = list(&app, &cm, "").await;
        let h = all["residents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == hanako.as_str())
            .unwrap()
            .clone();
        assert_eq!(h["stale"], false);
        assert_eq!(h["card_stale"], false);
        assert_eq!(h["last_checked"], "2026-11-21");
        assert_eq!(
            ids(&list(&app, &cm, "?stale=true").await),
            sorted(vec![&tome, &jiro])
        );
        assert_eq!(
            ids(&list(&app, &cm, "?stale=false").await),
            vec![hanako.clone()]
        );
        // Combined: district and stale.
        assert_eq!(
            ids(&list(
                &app,
                &cm,
                "?district=%E6%B0%B4%E6%B5%B7%E9%81%93&stale=true"
            )
            .await),
            Vec::<String>::new()
        );
        // An unknown parameter or a bad boolean is a 400.
        let r = app.get("/api/v1/me/residents?colour=red", Some(&cm)).await;
        assert_eq!(
            expect(r, StatusCode::BAD_REQUEST, "unknown").await["error"],
            "invalid_query"
        );
        let r = app.get("/api/v1/me/residents?stale=maybe", Some(&cm)).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);

        // A year and a day on, Hanako's information is stale too (the care manager logs in again).
        app.clock.advance(366 * 86_400);
        let cm2 = login(&app, "care.manager@joso", "another long secret").await;
        let r = app.get("/api/v1/me/residents?stale=true", Some(&cm2)).await;
        assert_eq!(
            ids(&expect(r, StatusCode::OK, "a year on").await),
            sorted(vec![&tome, &hanako, &jiro])
        );
    }
);
