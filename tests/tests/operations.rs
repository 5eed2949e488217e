//! Operations surface: /metrics, staff accounts from the CLI's service, demo data.

use kyukit_tests::*;

both_backends!(
    metrics_count_requests_without_leaking_paths,
    |app: TestApp| async move {
        let (rid, _) = register_resident(&app, "metrics.user").await;
        let _ = app.get("/api/v1/nope", None).await;
        let text = app.get("/metrics", None).await.text().await.unwrap();
        assert!(
            text.contains("kyukit_http_requests_total{method=\"POST\",status=\"2xx\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("kyukit_http_requests_total{method=\"GET\",status=\"4xx\"} 1"),
            "{text}"
        );
        assert!(text.contains("# TYPE kyukit_http_request_duration_seconds histogram"));
        let backend = if app.backend == Backend::Sqlite {
            "sqlite"
        } else {
            "postgresql"
        };
        assert!(text.contains(&format!("backend=\"{backend}\"")));
        assert!(
            !text.contains(&rid) && !text.contains("/api/v1"),
            "no paths or ids in labels"
        );
    }
);

both_backends!(
    demo_data_loads_once_through_the_real_services,
    |app: TestApp| async move {
        let db = app.db();
        let muni = app.municipality_id(&db);
        let base = format!("{PUBLIC_URL}c/");
        let policy = kyukit_server::service::cards::IssuePolicy {
            data_dir: &app.data_dir,
            card_base_url: &base,
            validity_secs: 86_400 * 365,
        };
        let logins = kyukit_server::service::demo::load(&db, &muni, &policy, T0).unwrap();
        assert_eq!(logins.len(), 3);
        assert!(
            kyukit_server::service::demo::load(&db, &muni, &policy, T0)
                .unwrap()
                .is_empty(),
            "only once"
        );
        // A demo login works and its card carries the triage core derived from the demo data.
        let r = app
            .post(
                "/api/v1/sessions",
                None,
                json!({"login_id": logins[0].login_id, "password": logins[0].password}),
            )
            .await;
        let token = r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        let mine: Value = app
            .get("/api/v1/me/residents", Some(&token))
            .await
            .json()
            .await
            .unwrap();
        let rid = mine["residents"][0]["id"].as_str().unwrap();
        let cards: Value = app
            .get(&format!("/api/v1/residents/{rid}/cards"), Some(&token))
            .await
            .json()
            .await
            .unwrap();
        let url = cards["cards"][0]["url"].as_str().unwrap();
        let keys = kyukit_card::KeySet::from_jwks_json(
            &app.get("/.well-known/jwks.json", None)
                .await
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        let card = kyukit_card::verify(
            &kyukit_card::parse_card_url(url).unwrap().cose,
            &keys,
            T0 + 1,
        )
        .unwrap();
        let triage = card.claims.triage.unwrap();
        assert_eq!(triage.blood_type.to_string(), "A+");
        assert_eq!(
            triage.flags.iter().count(),
            4,
            "anticoagulant, severe allergy, ACP (not DNAR), implanted device"
        );
    }
);

fn staff(
    login: &str,
    password: &str,
    role: &str,
    name: &str,
) -> kyukit_server::service::accounts::NewStaff {
    kyukit_server::service::accounts::NewStaff {
        login_id: login.into(),
        password: password.into(),
        role: role.into(),
        display_name: name.into(),
        facility_id: None,
        profession: None,
    }
}

both_backends!(
    staff_accounts_are_created_and_can_log_in,
    |app: TestApp| async move {
        let db = app.db();
        let muni = app.municipality_id(&db);
        assert!(!kyukit_server::service::accounts::has_city_admin(&db, &muni).unwrap());
        let admin = kyukit_server::service::accounts::create_staff(
            &db,
            &muni,
            &staff("admin", "a long admin password", "city_admin", "市 管理者"),
            None,
            T0,
        )
        .unwrap();
        assert_eq!(admin.account.role, kyukit_server::domain::Role::CityAdmin);
        app.remember_totp("admin", &admin.totp.secret);
        assert!(kyukit_server::service::accounts::has_city_admin(&db, &muni).unwrap());
        assert!(
            kyukit_server::service::accounts::create_staff(
                &db,
                &muni,
                &staff("admin", "a long admin password", "city_admin", "x"),
                None,
                T0
            )
            .is_err(),
            "login id taken"
        );
        assert!(
            kyukit_server::service::accounts::create_staff(
                &db,
                &muni,
                &staff("root2", "a long admin password", "superuser", "x"),
                None,
                T0
            )
            .is_err(),
            "unknown role"
        );
        // Staff need the second factor (RULES R7).
        let r = app
            .post(
                "/api/v1/sessions",
                None,
                json!({"login_id": "admin", "password": "a long admin password"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "totp_required");
        let r = app
            .post(
                "/api/v1/sessions",
                None,
                json!({"login_id": "admin", "password": "a long admin password", "totp": app.totp_code("admin")}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        // A city admin is not a resident or proxy: no resident record is reachable.
        let token = r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        let mine: Value = app
            .get("/api/v1/me/residents", Some(&token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(mine["residents"], json!([]));
    }
);
