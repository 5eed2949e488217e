//! The signed trust list (issue 22, docs/card-format.md §10): served as COSE, verified here with
//! `kyukit_card` against the published (and enrollment-pinned) trust-list key; a key rotation and
//! a compromise propagate — the list's version grows, the compromised key is listed as such, and
//! a card it signed is refused offline by `verify_with_trust_list`. On SQLite and PostgreSQL.

use kyukit_card::{KeyState, PublicKey, TrustError, VerifiedTrustList};
use kyukit_tests::*;

async fn trust_key(app: &TestApp) -> PublicKey {
    let r = app.get("/api/v1/trust-list/key", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/jwk+json");
    let jwk: kyukit_card::Jwk = r.json().await.unwrap();
    PublicKey::from_jwk(&jwk).unwrap()
}

async fn fetch(app: &TestApp) -> Vec<u8> {
    let r = app.get("/api/v1/trust-list", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/cose"),
    );
    r.bytes().await.unwrap().to_vec()
}

async fn verified(app: &TestApp, key: &PublicKey) -> VerifiedTrustList {
    let bytes = fetch(app).await;
    kyukit_card::verify_trust_list(&bytes, key, app.clock.now_for_tests()).unwrap()
}

async fn issue(app: &TestApp, rid: &str, token: &str) -> Vec<u8> {
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
    kyukit_card::parse_card_url(card["url"].as_str().unwrap())
        .unwrap()
        .cose
}

both_backends!(
    trust_list_verifies_and_key_changes_propagate,
    |app: TestApp| async move {
        let key = trust_key(&app).await;
        let v = verified(&app, &key).await;
        assert_eq!(v.signer, key.kid());
        let list = v.list;
        assert_eq!(list.version, 1, "one active key");
        assert_eq!(list.issued_at, T0);
        assert_eq!(list.expires_at, T0 + 7 * 86_400);
        assert_eq!(list.deployment.id, "qq.city.joso.lg.jp");
        assert_eq!(list.deployment.base_url, PUBLIC_URL);
        let issuer = list.deployment.default_issuer.clone().unwrap();
        let i = list.issuer(&issuer).unwrap();
        assert_eq!(i.card_base, format!("{PUBLIC_URL}c/"));
        assert_eq!(i.revocation_url, format!("{PUBLIC_URL}api/v1/revocations/"));
        assert_eq!(i.deployment, list.deployment.id);
        let jwks = kyukit_card::KeySet::from_jwks_json(
            &app.get("/.well-known/jwks.json", None)
                .await
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        let kids: Vec<_> = i.keys.iter().map(|k| k.key.kid()).collect();
        assert_eq!(kids, jwks.iter().map(|k| k.kid()).collect::<Vec<_>>());
        assert_eq!(i.keys[0].status, KeyState::Active);
        // Unchanged content within half the validity: the same bytes (cached, not re-signed).
        assert_eq!(fetch(&app).await, fetch(&app).await);
        // Past the expiry the list is refused offline.
        let bytes = fetch(&app).await;
        assert!(matches!(
            kyukit_card::verify_trust_list(&bytes, &key, T0 + 7 * 86_400),
            Err(TrustError::Expired { .. })
        ));
        // Signed by the trust-list key, not by an issuer key.
        assert!(!kids.contains(&key.kid()));

        // A resident's card verifies against the list.
        let (rid, token) = register_resident(&app, "trust.user").await;
        let r = app.post(&format!("/api/v1/residents/{rid}/consents"), Some(&token), json!({"categories": ["medications"], "disaster_use": false, "triage_on_card": false, "name_on_print": false})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let old_card = issue(&app, &rid, &token).await;
        let ok = kyukit_card::verify_with_trust_list(&old_card, &list, T0 + 1).unwrap();
        assert_eq!(ok.kid, kids[0]);

        // Rotation: a newer list, the old key retired (its card still verifies), the new active.
        let db = app.db();
        let muni = app.municipality_id(&db);
        app.clock.set(T0 + 10);
        let new_kid =
            kyukit_server::service::keys::add_key(&db, &app.data_dir, &muni, T0 + 10).unwrap();
        let rotated = verified(&app, &key).await.list;
        assert!(
            rotated.version > list.version,
            "{} > {}",
            rotated.version,
            list.version
        );
        kyukit_card::check_not_older(Some(&rotated), &list)
            .expect_err("the older list is a rollback");
        let ri = rotated.issuer(&issuer).unwrap();
        let status = |l: &kyukit_card::TrustedIssuer, kid| {
            l.keys.iter().find(|k| k.key.kid() == kid).map(|k| k.status)
        };
        assert_eq!(status(ri, kids[0]), Some(KeyState::Retired));
        assert_eq!(status(ri, new_kid), Some(KeyState::Active));
        assert!(kyukit_card::verify_with_trust_list(&old_card, &rotated, T0 + 11).is_ok());
        let new_card = issue(&app, &rid, &token).await;
        assert!(kyukit_card::verify_with_trust_list(&new_card, &rotated, T0 + 11).is_ok());
        // The old list does not know the new key: a distinct refusal.
        assert!(matches!(
            kyukit_card::verify_with_trust_list(&new_card, &list, T0 + 11),
            Err(TrustError::UnknownKey { .. })
        ));

        // Compromise: listed as compromised (not dropped), a newer version, its card refused.
        app.clock.set(T0 + 20);
        kyukit_server::service::keys::mark_compromised(&db, &muni, &kids[0].to_b64(), T0 + 20)
            .unwrap();
        let compromised = verified(&app, &key).await.list;
        assert!(compromised.version > rotated.version);
        let ci = compromised.issuer(&issuer).unwrap();
        assert_eq!(status(ci, kids[0]), Some(KeyState::Compromised));
        assert_eq!(
            kyukit_card::verify_with_trust_list(&old_card, &compromised, T0 + 21),
            Err(TrustError::CompromisedKey {
                issuer: issuer.clone(),
                kid: kids[0].to_b64()
            })
        );
        assert!(kyukit_card::verify_with_trust_list(&new_card, &compromised, T0 + 21).is_ok());

        // The readable view says the same.
        let view: Value = app
            .get("/api/v1/trust-list.json", None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(view["version"], compromised.version);
        assert_eq!(view["signer"], key.kid().to_b64());
        let statuses: Vec<_> = view["issuers"][0]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["status"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(statuses, ["compromised", "active"]);

        // The key survives a restart of the data directory's server: same file, same key.
        let again =
            kyukit_server::service::trust_list::TrustListSigner::load_or_create(&app.data_dir)
                .unwrap();
        assert_eq!(again.public().kid(), key.kid());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = kyukit_server::service::trust_list::key_path(&app.data_dir);
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
);

/// Runs `kyukit-field ARGS` in process on a blocking thread: its JSON, or its error.
async fn field(args: &[&str]) -> Result<Value, kyukit_field::Error> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || kyukit_field::cli::execute_args(args))
        .await
        .expect("the CLI does not panic")
}

async fn ok(args: &[&str]) -> Value {
    field(args).await.unwrap_or_else(|e| {
        panic!(
            "kyukit-field {}: {}: {}",
            args.join(" "),
            e.code(),
            e.message()
        )
    })
}

/// A refusal (exit code 1) with its code.
async fn refused(args: &[&str]) -> String {
    match field(args).await {
        Err(e) if e.is_refusal() => e.code().to_string(),
        other => panic!(
            "kyukit-field {}: expected a refusal, got {other:?}",
            args.join(" ")
        ),
    }
}

both_backends!(
    field_cli_fetches_caches_and_verifies_offline,
    |app: TestApp| async move {
        use kyukit_tests::field::{enrollment_code, world};
        let w = world(&app).await;
        let dir = std::env::temp_dir().join(format!("kyukit-trust-cli-{}", random_hex(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let (key_file, state) = (dir.join("device.pem"), dir.join("device.json"));
        let st = state.to_str().unwrap();
        let code = enrollment_code(&app, &w.admin, &w.fire_id, 60).await;
        let enrolled = ok(&[
            "enroll",
            "--server",
            &app.base,
            "--code",
            &code,
            "--key-file",
            key_file.to_str().unwrap(),
        ])
        .await;
        // Enrollment pins the trust-list key.
        let key = trust_key(&app).await;
        assert_eq!(enrolled["trust_list_key"], key.kid().to_b64());
        let cache = kyukit_field::trust::cache_path(&state);
        let at = |t: i64| t.to_string();

        // Before any fetch, offline verification against the trust list has nothing to use.
        assert_eq!(
            field(&[
                "verify",
                "--state",
                st,
                "--card",
                &w.card_url,
                "--now",
                &at(T0 + 1)
            ])
            .await
            .unwrap_err()
            .code(),
            "usage"
        );
        // Fetch: verified and cached; the card verifies offline against it.
        let fetched = ok(&["trust-list", "fetch", "--state", st, "--now", &at(T0 + 1)]).await;
        assert_eq!(fetched["version"], 1);
        assert_eq!(fetched["signer"], key.kid().to_b64());
        assert!(cache.exists());
        let card = ok(&[
            "verify",
            "--state",
            st,
            "--card",
            &w.card_url,
            "--now",
            &at(T0 + 2),
        ])
        .await;
        assert_eq!(card["cti"], w.card_id.as_str());

        // Expired: the cached list is refused after its expiry, and so is a fetched one.
        let late = at(T0 + 7 * 86_400 + 1);
        assert_eq!(
            refused(&["trust-list", "show", "--state", st, "--now", &late]).await,
            "trust_list_expired"
        );
        assert_eq!(
            refused(&[
                "verify",
                "--state",
                st,
                "--card",
                &w.card_url,
                "--now",
                &late
            ])
            .await,
            "trust_list_expired"
        );
        let good = std::fs::read(&cache).unwrap();
        assert_eq!(
            refused(&["trust-list", "fetch", "--state", st, "--now", &late]).await,
            "trust_list_expired"
        );
        assert_eq!(
            std::fs::read(&cache).unwrap(),
            good,
            "a refused list leaves the last good one"
        );

        // Tampered: one flipped byte in the cached list, refused.
        let mut bad = good.clone();
        let n = bad.len();
        bad[n / 2] ^= 0x01;
        std::fs::write(&cache, &bad).unwrap();
        assert_eq!(
            refused(&["trust-list", "show", "--state", st, "--now", &at(T0 + 3)]).await,
            "trust_list_bad_signature"
        );
        assert_eq!(
            refused(&[
                "verify",
                "--state",
                st,
                "--card",
                &w.card_url,
                "--now",
                &at(T0 + 3)
            ])
            .await,
            "trust_list_bad_signature"
        );

        // Compromise propagates: the next fetch lists the key compromised, the card is refused
        // offline; a card naming an issuer missing from the list is refused too.
        let db = app.db();
        let muni = app.municipality_id(&db);
        let ring = kyukit_server::service::keys::load(&db, &app.data_dir, &muni, true).unwrap();
        let issuer_key = ring.active.clone().unwrap();
        let foreign = kyukit_card::sign(
            &kyukit_card::Claims {
                card_id: kyukit_card::CardId([9; 16]),
                issuer: Some("jp-999999".into()),
                issued_at: Some(T0),
                expires_at: T0 + 365 * 86_400,
                triage: None,
            },
            &issuer_key,
        )
        .unwrap();
        let foreign_url = kyukit_card::card_url(&format!("{PUBLIC_URL}c/"), &foreign).unwrap();
        app.clock.set(T0 + 10);
        kyukit_server::service::keys::add_key(&db, &app.data_dir, &muni, T0 + 10).unwrap();
        kyukit_server::service::keys::mark_compromised(
            &db,
            &muni,
            &issuer_key.kid().to_b64(),
            T0 + 11,
        )
        .unwrap();
        app.clock.set(T0 + 12);
        let newer = ok(&["trust-list", "fetch", "--state", st, "--now", &at(T0 + 12)]).await;
        assert!(newer["version"].as_u64().unwrap() > 1, "{newer}");
        let shown = ok(&["trust-list", "show", "--state", st, "--now", &at(T0 + 13)]).await;
        assert_eq!(shown["issuers"][0]["keys"][0]["status"], "compromised");
        assert_eq!(
            refused(&[
                "verify",
                "--state",
                st,
                "--card",
                &w.card_url,
                "--now",
                &at(T0 + 13)
            ])
            .await,
            "compromised_key"
        );
        assert_eq!(
            refused(&[
                "verify",
                "--state",
                st,
                "--card",
                &foreign_url,
                "--now",
                &at(T0 + 13)
            ])
            .await,
            "unknown_issuer"
        );

        // Rollback: the device holds a newer list (version 99, signed with this deployment's
        // trust-list key); the server's current list is older and is refused, the cache kept.
        let signer = kyukit_server::secrets::read_private_key(
            &kyukit_server::service::trust_list::key_path(&app.data_dir),
        )
        .unwrap();
        let mut held =
            kyukit_card::verify_trust_list(&std::fs::read(&cache).unwrap(), &key, T0 + 13)
                .unwrap()
                .list;
        held.version = 99;
        let held_bytes = kyukit_card::sign_trust_list(&held, &signer).unwrap();
        std::fs::write(&cache, &held_bytes).unwrap();
        assert_eq!(
            refused(&["trust-list", "fetch", "--state", st, "--now", &at(T0 + 14)]).await,
            "trust_list_rollback"
        );
        assert_eq!(std::fs::read(&cache).unwrap(), held_bytes);
        std::fs::remove_dir_all(&dir).unwrap();
    }
);
