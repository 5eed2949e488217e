//! Bad input gets a 4xx with the standard error body — never a 500 — and changes nothing.

use kyukit_tests::*;
use reqwest::Method;

async fn expect_error(r: reqwest::Response, status: StatusCode, what: &str) -> Value {
    let got = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "{what}: {text}");
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{what}: error body is not JSON: {text}"));
    let obj = v.as_object().unwrap();
    assert_eq!(obj.len(), 2, "{what}: only error and message: {text}");
    assert!(
        obj["error"].is_string() && obj["message"].is_string(),
        "{what}"
    );
    for leak in [
        "diesel", "sqlite", "postgres", "panicked", "src/", "Error {",
    ] {
        assert!(
            !text.to_lowercase().contains(&leak.to_lowercase()),
            "{what}: leaks {leak}: {text}"
        );
    }
    v
}

async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut r = app
        .client
        .request(method, app.url(path))
        .header("content-type", content_type)
        .body(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

both_backends!(
    bad_input_is_refused_and_changes_nothing,
    |app: TestApp| async move {
        let (rid, token) = register_resident(&app, "valid.user").await;
        let item = app
            .post(
                &format!("/api/v1/residents/{rid}/dataset"),
                Some(&token),
                json!({"category": "medications", "body": {"name": "薬"}}),
            )
            .await;
        assert_eq!(item.status(), StatusCode::CREATED);
        let before = table_counts(&app);
        let ds = format!("/api/v1/residents/{rid}/dataset");
        let json_ct = "application/json";

        // Malformed JSON, wrong content type, invalid UTF-8, body over the limit.
        expect_error(
            raw(
                &app,
                Method::POST,
                "/api/v1/residents",
                None,
                json_ct,
                b"{\"login_id\": ".to_vec(),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "truncated json",
        )
        .await;
        expect_error(
            raw(
                &app,
                Method::POST,
                &ds,
                Some(&token),
                json_ct,
                b"[1,2,".to_vec(),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "malformed json",
        )
        .await;
        expect_error(
            raw(
                &app,
                Method::POST,
                &ds,
                Some(&token),
                "text/plain",
                b"{}".to_vec(),
            )
            .await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content type",
        )
        .await;
        let mut invalid_utf8 = br#"{"category": "medications", "body": {"name": ""#.to_vec();
        invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3]);
        invalid_utf8.extend_from_slice(br#""}}"#);
        expect_error(
            raw(&app, Method::POST, &ds, Some(&token), json_ct, invalid_utf8).await,
            StatusCode::BAD_REQUEST,
            "invalid utf-8",
        )
        .await;
        let huge = format!(
            r#"{{"category": "medications", "body": {{"name": "{}"}}}}"#,
            "あ".repeat(40_000)
        );
        expect_error(
            raw(
                &app,
                Method::POST,
                &ds,
                Some(&token),
                json_ct,
                huge.into_bytes(),
            )
            .await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body over limit",
        )
        .await;

        // Unknown fields, wrong types, unknown categories.
        let mut unknown = resident_body("new.user");
        unknown["is_admin"] = json!(true);
        expect_error(
            app.post("/api/v1/residents", None, unknown).await,
            StatusCode::BAD_REQUEST,
            "unknown top-level field",
        )
        .await;
        let mut unknown_nested = resident_body("new.user");
        unknown_nested["profile"]["role"] = json!("city_admin");
        expect_error(
            app.post("/api/v1/residents", None, unknown_nested).await,
            StatusCode::BAD_REQUEST,
            "unknown nested field",
        )
        .await;
        expect_error(
            app.post(
                &ds,
                Some(&token),
                json!({"category": "medications", "body": {"name": "x", "secret": 1}}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown item field",
        )
        .await;
        expect_error(
            app.post(
                &ds,
                Some(&token),
                json!({"category": "medications", "body": {"name": 42}}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong type",
        )
        .await;
        expect_error(
            app.post(
                &ds,
                Some(&token),
                json!({"category": "passwords", "body": {}}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown category",
        )
        .await;

        // Bad dates.
        for dob in ["1941-02-30", "2099-01-01", "03/04/1941", "1941-4-3", ""] {
            let mut b = resident_body("date.user");
            b["profile"]["date_of_birth"] = json!(dob);
            expect_error(
                app.post("/api/v1/residents", None, b).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("dob {dob:?}"),
            )
            .await;
        }
        expect_error(app.post(&ds, Some(&token), json!({"category": "conditions", "body": {"name": "x"}, "last_verified": "2027-13-01"})).await, StatusCode::UNPROCESSABLE_ENTITY, "last_verified").await;

        // SQL-looking strings where they are not valid, and in ids.
        let mut sql_login = resident_body("x'; DROP TABLE residents; --");
        sql_login["login_id"] = json!("x'; DROP TABLE residents; --");
        expect_error(
            app.post("/api/v1/residents", None, sql_login).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "sql login",
        )
        .await;
        let mut sql_phone = resident_body("phone.user");
        sql_phone["profile"]["phone"] = json!("1; DELETE FROM accounts");
        expect_error(
            app.post("/api/v1/residents", None, sql_phone).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "sql phone",
        )
        .await;
        expect_error(
            app.get("/api/v1/residents/1%20OR%201=1", Some(&token))
                .await,
            StatusCode::NOT_FOUND,
            "sql in path id",
        )
        .await;
        expect_error(
            app.get(
                &format!("/api/v1/residents/{rid}/cards/x'%20OR%20'1'='1"),
                Some(&token),
            )
            .await,
            StatusCode::NOT_FOUND,
            "sql in card id",
        )
        .await;
        expect_error(
            app.get("/api/v1/revocations/a'%3B--", None).await,
            StatusCode::NOT_FOUND,
            "sql in kid",
        )
        .await;

        // Huge strings.
        let mut long_name = resident_body("long.user");
        long_name["profile"]["family_name"] = json!("山".repeat(51));
        expect_error(
            app.post("/api/v1/residents", None, long_name).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "long name",
        )
        .await;
        expect_error(
            app.post(
                &ds,
                Some(&token),
                json!({"category": "medications", "body": {"name": "x".repeat(101)}}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "long medication",
        )
        .await;
        let mut ctrl = resident_body("ctrl.user");
        ctrl["profile"]["address"] = json!("住所\u{0}\u{7}");
        expect_error(
            app.post("/api/v1/residents", None, ctrl).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "control chars",
        )
        .await;

        // Bad consent, duplicate single-item category, bad query, weak password, bad token.
        expect_error(app.post(&format!("/api/v1/residents/{rid}/consents"), Some(&token), json!({"categories": ["everything"], "disaster_use": true, "triage_on_card": true, "name_on_print": true})).await, StatusCode::UNPROCESSABLE_ENTITY, "bad consent category").await;
        expect_error(
            app.post(
                &format!("/api/v1/residents/{rid}/consents"),
                Some(&token),
                json!({"categories": []}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "missing consent fields",
        )
        .await;
        let mut weak = resident_body("weak.user");
        weak["password"] = json!("short");
        expect_error(
            app.post("/api/v1/residents", None, weak).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak password",
        )
        .await;
        expect_error(
            app.post("/api/v1/residents", None, resident_body("valid.user"))
                .await,
            StatusCode::CONFLICT,
            "taken login id",
        )
        .await;
        expect_error(
            app.get(&format!("/api/v1/residents/{rid}"), Some("not-a-token"))
                .await,
            StatusCode::UNAUTHORIZED,
            "bad token",
        )
        .await;
        expect_error(
            app.get(
                &format!(
                    "/api/v1/residents/{rid}/cards/{}/qr.png?module_px=9999",
                    "0".repeat(32)
                ),
                Some(&token),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "bad render size",
        )
        .await;
        expect_error(
            app.get(
                &format!(
                    "/api/v1/residents/{rid}/cards/{}/qr.png?module_px=abc",
                    "0".repeat(32)
                ),
                Some(&token),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "non-numeric query",
        )
        .await;

        assert_eq!(table_counts(&app), before, "the database is unchanged");

        // A SQL-looking string in free text is just text: stored verbatim, harmlessly.
        let r = app.post(&ds, Some(&token), json!({"category": "conditions", "body": {"name": "Robert'); DROP TABLE residents;--"}})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let items: Value = app.get(&ds, Some(&token)).await.json().await.unwrap();
        assert!(
            items["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["body"]["name"] == "Robert'); DROP TABLE residents;--")
        );
        assert_eq!(
            table_counts(&app)
                .iter()
                .find(|(t, _)| *t == "residents")
                .unwrap()
                .1,
            before.iter().find(|(t, _)| *t == "residents").unwrap().1
        );
    }
);

both_backends!(
    names_hide_nothing_and_are_stored_composed,
    |app: TestApp| async move {
        let (rid, token) = register_resident(&app, "hanako").await;
        let before = table_counts(&app);

        // A right-to-left override or a zero-width space in a name a paramedic or an ED will
        // read, or in a login id: 422, naming the field and the character; nothing stored.
        let refused = |field: &'static str, value: &str| {
            let mut body = resident_body("spoof");
            match field {
                "login_id" => body["login_id"] = json!(value),
                _ => body["profile"][field] = json!(value),
            }
            body
        };
        for (field, value, code, shows) in [
            ("family_name", "山田\u{202E}子花", "invalid_field", "U+202E"),
            ("given_name", "花\u{200B}子", "invalid_field", "U+200B"),
            (
                "family_name_kana",
                "ヤマダ\u{2067}",
                "invalid_field",
                "U+2067",
            ),
            ("address", "\u{FEFF}茨城県常総市", "invalid_field", "U+FEFF"),
            ("login_id", "spoof\u{202E}", "invalid_login_id", "U+202E"),
        ] {
            let v = expect_error(
                app.post("/api/v1/residents", None, refused(field, value))
                    .await,
                StatusCode::UNPROCESSABLE_ENTITY,
                field,
            )
            .await;
            assert_eq!(v["error"], code, "{field}: {v}");
            let message = v["message"].as_str().unwrap();
            assert!(
                message.starts_with(&format!("{field}: ")) && message.contains(shows),
                "{field}: {message}"
            );
        }
        // The same rule in the dataset (a medication's name) and for a proxy's display name.
        let v = expect_error(
            app.post(
                &format!("/api/v1/residents/{rid}/dataset"),
                Some(&token),
                json!({"category": "medications", "body": {"name": "ワーファリン\u{200B}"}}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "medication name",
        )
        .await;
        assert_eq!(v["error"], "invalid_field");
        assert_eq!(table_counts(&app), before, "nothing stored");

        // A decomposed name (シ + combining voiced mark, e + combining acute) is stored composed
        // (NFC), so it reads and matches like the same name typed on another keyboard.
        let mut body = resident_body("jose");
        body["profile"]["given_name"] = json!("シ\u{3099}ョー");
        body["profile"]["family_name"] = json!("Jose\u{301}");
        let r = app.post("/api/v1/residents", None, body).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let v: Value = r.json().await.unwrap();
        let (rid2, token2) = (
            v["resident_id"].as_str().unwrap(),
            v["token"].as_str().unwrap(),
        );
        let profile: Value = app
            .get(&format!("/api/v1/residents/{rid2}"), Some(token2))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(profile["given_name"], "\u{30B8}ョー");
        assert_eq!(profile["family_name"], "Jos\u{E9}");
    }
);
