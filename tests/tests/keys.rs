//! Key rotation and compromise: old cards stay valid after a rotation; a compromised key's cards fail.

use kyukit_tests::*;

async fn issue(app: &TestApp, rid: &str, token: &str) -> (String, Vec<u8>) {
    let card: Value = app
        .post(
            &format!("/api/v1/residents/{rid}/cards"),
            Some(token),
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let url = card["url"].as_str().unwrap().to_string();
    let cose = kyukit_card::parse_card_url(&url).unwrap().cose;
    (url.rsplit('/').next().unwrap().to_string(), cose)
}

async fn jwks(app: &TestApp) -> kyukit_card::KeySet {
    kyukit_card::KeySet::from_jwks_json(
        &app.get("/.well-known/jwks.json", None)
            .await
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap()
}

both_backends!(
    rotation_keeps_old_cards_and_compromise_kills_them,
    |app: TestApp| async move {
        let (rid, token) = register_resident(&app, "keys.user").await;
        let r = app.post(&format!("/api/v1/residents/{rid}/consents"), Some(&token), json!({"categories": ["medications"], "disaster_use": false, "triage_on_card": false, "name_on_print": false})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let (old_digits, old_cose) = issue(&app, &rid, &token).await;

        // Rotate, the way `kyukit keys rotate` does (same service, same database).
        let db = app.db();
        let muni = app.municipality_id(&db);
        let new_kid =
            kyukit_server::service::keys::add_key(&db, &app.data_dir, &muni, T0 + 10).unwrap();

        let keys = jwks(&app).await;
        assert_eq!(keys.len(), 2, "the retired key is still published");
        let old = kyukit_card::verify(&old_cose, &keys, T0 + 20).unwrap();
        assert_ne!(old.kid, new_kid);
        assert_eq!(
            app.get(&format!("/C/{old_digits}"), None).await.status(),
            StatusCode::OK
        );
        let (_, new_cose) = issue(&app, &rid, &token).await;
        assert_eq!(
            kyukit_card::verify(&new_cose, &keys, T0 + 20).unwrap().kid,
            new_kid,
            "new cards use the new key"
        );

        // The old key is compromised: gone from the JWKS; its cards fail everywhere.
        kyukit_server::service::keys::mark_compromised(&db, &muni, &old.kid.to_b64(), T0 + 30)
            .unwrap();
        let keys = jwks(&app).await;
        assert_eq!(keys.len(), 1);
        assert!(matches!(
            kyukit_card::verify(&old_cose, &keys, T0 + 40),
            Err(kyukit_card::CardError::UnknownKid(_))
        ));
        assert_eq!(
            app.get(&format!("/C/{old_digits}"), None).await.status(),
            StatusCode::NOT_FOUND
        );
        let list: Value = app
            .get(&format!("/api/v1/revocations/{}", old.kid), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list["key_status"], "compromised");
        assert!(kyukit_card::verify(&new_cose, &keys, T0 + 40).is_ok());
    }
);
