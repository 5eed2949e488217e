//! The public surface: health, readiness, JWKS, unknown paths, the bystander page for forged cards,
//! and keys surviving a restart.

use kyukit_tests::*;

both_backends!(health_ready_and_a_p256_jwks, |app: TestApp| async move {
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    let ready: Value = app.get("/readyz", None).await.json().await.unwrap();
    assert_eq!(
        ready["backend"],
        if app.backend == Backend::Sqlite {
            "sqlite"
        } else {
            "postgresql"
        }
    );
    let r = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(r.headers()["content-type"], "application/jwk-set+json");
    let body = r.bytes().await.unwrap();
    let keys = kyukit_card::KeySet::from_jwks_json(&body).unwrap();
    assert_eq!(keys.len(), 1);
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["keys"][0]["crv"], "P-256");
    assert!(doc["keys"][0].get("d").is_none(), "no private member");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let kid = keys.iter().next().unwrap().kid();
        let mode = std::fs::metadata(app.data_dir.join("keys").join(format!("{kid}.pem")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
});

both_backends!(unknown_paths_and_forged_cards, |app: TestApp| async move {
    let r = app.get("/api/v1/nope", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "not_found", "message": "no such endpoint"})
    );
    // A well-formed card signed by a key this server never had: not confirmed, still says call 119.
    let claims = kyukit_card::Claims {
        card_id: kyukit_card::CardId([9; 16]),
        issuer: None,
        issued_at: Some(T0),
        expires_at: T0 + 1000,
        triage: None,
    };
    let forged = kyukit_card::sign(
        &claims,
        &kyukit_card::IssuerKey::from_secret_bytes(&[3; 32]).unwrap(),
    )
    .unwrap();
    let r = app
        .get(
            &format!("/C/{}", kyukit_card::bytes_to_digits(&forged)),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let html = r.text().await.unwrap();
    assert!(html.contains("確認できませんでした") && html.contains("tel:119"));
    assert_eq!(app.get("/C/12", None).await.status(), StatusCode::NOT_FOUND);
});

both_backends!(
    a_restart_keeps_the_municipality_and_its_key,
    |app: TestApp| async move {
        let first = app
            .get("/.well-known/jwks.json", None)
            .await
            .text()
            .await
            .unwrap();
        let mut config = kyukit_server::config::Config::new(
            "127.0.0.1:0".parse().unwrap(),
            app.data_dir.clone(),
            PUBLIC_URL.into(),
        );
        config.database_url =
            Some(kyukit_server::db::DatabaseUrl::parse(&app.database_url).unwrap());
        let again = kyukit_server::startup::Application::build(&config, app.clock.clone()).unwrap();
        let base = format!("http://127.0.0.1:{}", again.port());
        tokio::spawn(again.run_until_stopped());
        let second = reqwest::get(format!("{base}/.well-known/jwks.json"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(first, second);
        assert_eq!(
            table_counts(&app)
                .iter()
                .find(|(t, _)| *t == "municipalities")
                .unwrap()
                .1,
            1
        );
    }
);
