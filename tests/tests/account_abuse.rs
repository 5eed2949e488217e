//! Abuse of the account endpoints (issue 20, items 2–4), end to end on both backends: unsigned
//! failures cannot lock a paramedic out; a locked account, a wrong password and an unknown id
//! answer alike; registration cannot probe login ids quickly from one address; wrong current
//! passwords on `PUT /api/v1/me/password` are rate-limited, counted towards the lockout and
//! audited.

use kyukit_field::Error as FieldError;
use kyukit_tests::field::*;
use kyukit_tests::*;

async fn login(app: &TestApp, body: Value) -> (u16, Value) {
    let r = app.post("/api/v1/sessions", None, body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn http_code(e: &FieldError) -> (u16, String) {
    match e {
        FieldError::Http { status, error, .. } => (*status, error.clone()),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

/// The account id of a login id (from the database the harness gives).
fn account_of(app: &TestApp, login_id: &str) -> kyukit_server::db::accounts::AccountRow {
    let db = app.db();
    let muni = app.municipality_id(&db);
    let mut c = db.conn().expect("conn");
    kyukit_server::db::accounts::account_by_login(&mut c, &muni, login_id)
        .expect("read")
        .expect("account exists")
}

both_backends!(
    unsigned_failures_cannot_lock_a_paramedic_out,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = account_of(&app, &w.medic_login);
        // Anyone, unsigned: wrong passwords, a wrong password with a guessed code, and even the
        // right password with a wrong code. None of it counts, and all of it answers alike.
        let (s, wrong) = login(
            &app,
            json!({"login_id": w.medic_login, "password": "not the password"}),
        )
        .await;
        assert_eq!((s, wrong["error"].as_str()), (401, Some("unauthorized")));
        for i in 2..=6 {
            let body = json!({"login_id": w.medic_login, "password": format!("guess {i}")});
            assert_eq!(login(&app, body).await, (401, wrong.clone()));
        }
        assert_eq!(account_of(&app, &w.medic_login).locked_until, None);
        assert_eq!(account_of(&app, &w.medic_login).failed_logins, 0);
        for body in [
            json!({"login_id": w.medic_login, "password": "not the password", "totp": "123456"}),
            json!({"login_id": w.medic_login, "password": MEDIC_PASSWORD, "totp": "000000"}),
            json!({"login_id": w.medic_login, "password": MEDIC_PASSWORD}),
        ] {
            assert_eq!(login(&app, body).await, (401, wrong.clone()));
        }
        assert_eq!(account_of(&app, &w.medic_login).failed_logins, 0);
        // The unsigned attempts have used up their own per-id bucket (10 a minute) …
        let (s, b) = login(
            &app,
            json!({"login_id": w.medic_login, "password": "guess 10"}),
        )
        .await;
        assert_eq!((s, b["error"].as_str()), (401, Some("unauthorized")));
        let (s, b) = login(
            &app,
            json!({"login_id": w.medic_login, "password": "guess 11"}),
        )
        .await;
        assert_eq!((s, b["error"].as_str()), (429, Some("rate_limited")));
        // … while the paramedic on the enrolled device, with password and code, gets in.
        let mut device = enrolled_client(&app, &w.admin, &w.fire_id).await;
        medic_login(&app, &mut device, &w.medic_login)
            .await
            .expect("the real paramedic logs in");
        device.scan(&w.card_url, "R1").await.expect("and scans");
        // Every unsigned failure is on record (without the device), none counted.
        let unsigned = audit_events(&app)
            .into_iter()
            .filter(|e| {
                e.action == "login.failed"
                    && e.actor_account_id.as_deref() == Some(medic.id.as_str())
                    && e.device_id.is_none()
            })
            .count();
        assert_eq!(unsigned, 10);

        // Failures signed by the paramedic's own device still count and lock the account.
        let mut other = enrolled_client(&app, &w.admin, &w.fire_id).await;
        for _ in 0..5 {
            let code = app.totp_code(&w.medic_login);
            let e = other
                .login(&w.medic_login, "not the password", Some(&code))
                .await
                .unwrap_err();
            assert_eq!(http_code(&e), (401, "unauthorized".into()));
        }
        assert!(account_of(&app, &w.medic_login).locked_until.is_some());
        let e = medic_login(&app, &mut other, &w.medic_login)
            .await
            .unwrap_err();
        assert_eq!(http_code(&e), (401, "unauthorized".into()), "locked");
    }
);

both_backends!(
    a_locked_account_answers_like_a_wrong_password,
    |app: TestApp| async move {
        register_resident(&app, "hanako").await;
        let right = json!({"login_id": "hanako", "password": "correct horse battery"});
        let wrong = json!({"login_id": "hanako", "password": "wrong password 1"});
        let (s, refused) = login(&app, wrong.clone()).await;
        assert_eq!((s, refused["error"].as_str()), (401, Some("unauthorized")));
        // An unknown id: the same answer.
        assert_eq!(
            login(
                &app,
                json!({"login_id": "ghost", "password": "wrong password 1"})
            )
            .await,
            (s, refused.clone())
        );
        for _ in 0..4 {
            assert_eq!(login(&app, wrong.clone()).await, (s, refused.clone()));
        }
        // Locked now: the right password, a wrong one and an unknown id are indistinguishable.
        assert_eq!(login(&app, right.clone()).await, (s, refused.clone()));
        assert_eq!(login(&app, wrong.clone()).await, (s, refused.clone()));
        assert_eq!(
            login(
                &app,
                json!({"login_id": "ghost", "password": "correct horse battery"})
            )
            .await,
            (s, refused.clone())
        );
        // The log says what happened.
        assert!(
            audit_events(&app).iter().any(
                |e| e.action == "login.failed" && e.detail.as_deref() == Some("account_locked")
            )
        );
        app.clock.advance(15 * 60);
        assert_eq!(login(&app, right).await.0, 201);

        // A staff account (password and code) likewise.
        let admin = admin_token(&app).await;
        let fire = create_facility(&app, &admin, "fire_department", "常総広域消防本部").await;
        add_staff(&app, &admin, &fire, "manager1", "facility_manager").await;
        for _ in 0..5 {
            let code = app.totp_code("manager1");
            let body =
                json!({"login_id": "manager1", "password": "wrong password 1", "totp": code});
            assert_eq!(login(&app, body).await, (s, refused.clone()));
        }
        let code = app.totp_code("manager1");
        let body = json!({"login_id": "manager1", "password": MEDIC_PASSWORD, "totp": code});
        assert_eq!(login(&app, body).await, (s, refused.clone()));
    }
);

both_backends!(
    registration_cannot_probe_login_ids_quickly,
    |app: TestApp| async move {
        register_resident(&app, "taken.id").await;
        // Ten well-formed registrations per address per minute; the first made an account.
        for _ in 0..9 {
            let r = app
                .post("/api/v1/residents", None, resident_body("taken.id"))
                .await;
            assert_eq!(r.status(), 409);
            assert_eq!(json_of(r).await["error"], "login_id_taken");
        }
        let r = app
            .post("/api/v1/residents", None, resident_body("fresh.id"))
            .await;
        assert_eq!(r.status(), 429);
        assert_eq!(json_of(r).await["error"], "rate_limited");
        // Proxy registration shares the limit (it answers `login_id_taken` too).
        let proxy = json!({
            "login_id": "taken.id", "password": "correct horse battery",
            "display_name": "山田 一郎", "relation": "family",
            "accept_proxy_statement": true,
            "resident": resident_body("x")["profile"],
        });
        let r = app.post("/api/v1/proxies", None, proxy).await;
        assert_eq!(r.status(), 429);
        // A malformed registration probes nothing: it is still told what is wrong.
        let mut weak = resident_body("fresh.id");
        weak["password"] = json!("short");
        let r = app.post("/api/v1/residents", None, weak).await;
        assert_eq!(r.status(), 422);
        // One audited throttle (coalesced per minute and address).
        let throttled: Vec<_> = audit_events(&app)
            .into_iter()
            .filter(|e| e.action == "rate.throttled")
            .collect();
        assert_eq!(throttled.len(), 1, "{throttled:?}");
        assert_eq!(
            throttled[0].purpose.as_deref(),
            Some("register_per_address")
        );
        // Another address is not held up.
        let elsewhere = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
            .build()
            .expect("client");
        let r = elsewhere
            .post(app.url("/api/v1/residents"))
            .json(&resident_body("fresh.id"))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 201);
    }
);

both_backends!(
    password_guessing_through_a_session_is_limited_counted_and_audited,
    |app: TestApp| async move {
        let (_, token) = register_resident(&app, "hanako").await;
        let account = account_of(&app, "hanako");
        let mut statuses = Vec::new();
        for i in 0..20 {
            let r = app
                .send(
                    reqwest::Method::PUT,
                    "/api/v1/me/password",
                    Some(&token),
                    Some(json!({"current_password": format!("guess number {i}"),
                                "new_password": "another good password"})),
                )
                .await;
            let status = r.status().as_u16();
            let code = json_of(r).await["error"].as_str().unwrap_or("").to_string();
            statuses.push((status, code));
        }
        let count = |s: u16, c: &str| statuses.iter().filter(|x| x.0 == s && x.1 == c).count();
        assert_eq!(count(403, "wrong_password"), 5, "{statuses:?}");
        assert_eq!(count(429, "rate_limited"), 15, "{statuses:?}");
        // Counted: the five wrong guesses locked the account, so even the right password cannot
        // log in now.
        assert!(account_of(&app, "hanako").locked_until.is_some());
        let right = json!({"login_id": "hanako", "password": "correct horse battery"});
        assert_eq!(login(&app, right.clone()).await.0, 401);
        // Audited: each wrong guess, and the throttle once.
        let events = audit_events(&app);
        let guesses = events
            .iter()
            .filter(|e| {
                e.action == "account.password"
                    && e.outcome == "denied"
                    && e.actor_account_id.as_deref() == Some(account.id.as_str())
                    && e.detail.as_deref() == Some("wrong_password")
            })
            .count();
        assert_eq!(guesses, 5);
        let throttles: Vec<_> = events
            .iter()
            .filter(|e| e.action == "rate.throttled")
            .collect();
        assert_eq!(throttles.len(), 1, "{throttles:?}");
        assert_eq!(
            throttles[0].purpose.as_deref(),
            Some("password_change_per_account")
        );
        assert_eq!(
            throttles[0].actor_account_id.as_deref(),
            Some(account.id.as_str())
        );
        // After the lock, the owner logs in and changes the password (once the account's bucket
        // has a request again: one every 12 s).
        app.clock.advance(15 * 60);
        tokio::time::sleep(std::time::Duration::from_millis(12_500)).await;
        let (s, b) = login(&app, right).await;
        assert_eq!(s, 201);
        let token = b["token"].as_str().unwrap().to_string();
        let r = app
            .send(
                reqwest::Method::PUT,
                "/api/v1/me/password",
                Some(&token),
                Some(json!({"current_password": "correct horse battery",
                            "new_password": "another good password"})),
            )
            .await;
        assert_eq!(r.status(), 204);
    }
);
