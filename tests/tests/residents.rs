//! Residents, proxies, the dataset, consent, cards and withdrawal — end to end on a real server,
//! on SQLite and on PostgreSQL.

use kyukit_tests::*;
use reqwest::Method;

async fn json(r: reqwest::Response) -> Value {
    r.json().await.expect("json body")
}

async fn add_items(app: &TestApp, rid: &str, token: &str) {
    for (category, body) in [
        (
            "medications",
            json!({"name": "ワルファリン", "dose": "2mg", "frequency": "朝1回", "anticoagulant": true}),
        ),
        (
            "medications",
            json!({"name": "アムロジピン", "dose": "5mg"}),
        ),
        ("conditions", json!({"name": "心房細動", "icd10": "I48.9"})),
        (
            "allergies",
            json!({"substance": "ペニシリン", "reaction": "アナフィラキシー", "severity": "anaphylaxis"}),
        ),
        (
            "devices",
            json!({"kind": "pacemaker", "description": "2019年植込み"}),
        ),
        ("blood_type", json!({"abo": "A", "rh": "+"})),
        (
            "emergency_contacts",
            json!({"name": "山田 一郎", "relation": "長男", "phone": "090-1234-5678"}),
        ),
    ] {
        let r = app
            .post(
                &format!("/api/v1/residents/{rid}/dataset"),
                Some(token),
                json!({"category": category, "body": body}),
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{category}: {}",
            r.text().await.unwrap()
        );
    }
}

async fn consent(
    app: &TestApp,
    rid: &str,
    token: &str,
    categories: &[&str],
    triage: bool,
) -> Value {
    let r = app
        .post(
            &format!("/api/v1/residents/{rid}/consents"),
            Some(token),
            json!({"categories": categories, "disaster_use": true, "triage_on_card": triage, "name_on_print": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    json(r).await
}

/// The one QR symbol in a PNG, decoded by rqrr (a decoder we did not write).
fn decode_png(png: &[u8]) -> String {
    let mut found = decode_qr_png(png);
    assert_eq!(found.len(), 1, "one QR symbol");
    found.remove(0)
}

both_backends!(
    resident_journey_issues_a_verifiable_card_and_revocation_is_published,
    |app: TestApp| async move {
        let (rid, token) = register_resident(&app, "hanako").await;
        add_items(&app, &rid, &token).await;
        let items = json(
            app.get(&format!("/api/v1/residents/{rid}/dataset"), Some(&token))
                .await,
        )
        .await;
        assert_eq!(items["items"].as_array().unwrap().len(), 7);
        assert!(
            items["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["provenance"] == "self" && i["last_verified"] == "2026-11-21")
        );

        // No card before consent.
        let r = app
            .post(
                &format!("/api/v1/residents/{rid}/cards"),
                Some(&token),
                json!({}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert_eq!(json(r).await["error"], "consent_required");

        consent(
            &app,
            &rid,
            &token,
            &[
                "medications",
                "allergies",
                "devices",
                "blood_type",
                "conditions",
            ],
            true,
        )
        .await;
        let r = app
            .post(
                &format!("/api/v1/residents/{rid}/cards"),
                Some(&token),
                json!({}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let card = json(r).await;
        let cid = card["id"].as_str().unwrap().to_string();
        assert_eq!(card["triage"], true);

        // The served PNG decodes (rqrr) to the card URL, which verifies against the served JWKS.
        let png = app
            .get(
                &format!("/api/v1/residents/{rid}/cards/{cid}/qr.png"),
                Some(&token),
            )
            .await;
        assert_eq!(png.status(), StatusCode::OK);
        let text = decode_png(&png.bytes().await.unwrap());
        let svg = app
            .get(
                &format!("/api/v1/residents/{rid}/cards/{cid}/qr.svg?module_px=4"),
                Some(&token),
            )
            .await;
        assert_eq!(svg.headers()["content-type"], "image/svg+xml");
        assert!(svg.text().await.unwrap().starts_with("<svg"));
        assert_eq!(
            app.get(
                &format!("/api/v1/residents/{rid}/cards/{cid}/qr.gif"),
                Some(&token)
            )
            .await
            .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(text, card["url"].as_str().unwrap());
        assert!(text.starts_with("HTTPS://QQ.CITY.JOSO.LG.JP/C/"));
        let jwks = app
            .get("/.well-known/jwks.json", None)
            .await
            .bytes()
            .await
            .unwrap();
        let keys = kyukit_card::KeySet::from_jwks_json(&jwks).unwrap();
        let cose = kyukit_card::parse_card_url(&text).unwrap().cose;
        let verified = kyukit_card::verify(&cose, &keys, app.clock.now_for_tests()).unwrap();
        assert_eq!(verified.claims.card_id.to_hex(), cid);
        let triage = verified.claims.triage.unwrap();
        assert_eq!(triage.blood_type.to_string(), "A+");
        let flags: Vec<_> = triage.flags.iter().collect();
        use kyukit_card::TriageFlag::*;
        assert_eq!(
            flags,
            vec![Anticoagulant, SevereAllergy, ImplantedDevice],
            "from consented categories only"
        );

        // The bystander page confirms it; NDEF bytes carry the same card.
        let digits = text.rsplit('/').next().unwrap();
        assert_eq!(
            app.get(&format!("/c/{digits}"), None).await.status(),
            StatusCode::OK
        );
        let ndef = app
            .get(
                &format!("/api/v1/residents/{rid}/cards/{cid}/card.ndef"),
                Some(&token),
            )
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(kyukit_card::parse_ndef(&ndef).unwrap().cose, cose);

        // Revoke → the published revocation list of its kid names its cti (what an offline verifier
        // checks after the signature), and the server's own card page stops confirming it.
        let kid = verified.kid.to_b64();
        let before = json(app.get(&format!("/api/v1/revocations/{kid}"), None).await).await;
        assert_eq!(before["revoked"], json!([]));
        let r = app
            .post(
                &format!("/api/v1/residents/{rid}/cards/{cid}/revoke"),
                Some(&token),
                json!({"reason": "lost wallet"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(json(r).await["status"], "revoked");
        let after = json(app.get(&format!("/api/v1/revocations/{kid}"), None).await).await;
        assert_eq!(after["revoked"], json!([cid]));
        assert_eq!(
            app.get(&format!("/c/{digits}"), None).await.status(),
            StatusCode::NOT_FOUND
        );
        // Nor is it handed out again to be printed or written to a tag: its QR code and NDEF
        // message answer 409 like the printables.
        for what in ["qr.png", "qr.svg", "card.ndef", "print/fridge-sheet.png"] {
            let r = app
                .get(
                    &format!("/api/v1/residents/{rid}/cards/{cid}/{what}"),
                    Some(&token),
                )
                .await;
            assert_eq!(r.status(), StatusCode::CONFLICT, "{what}");
            assert_eq!(json(r).await["error"], "card_revoked", "{what}");
        }

        // Reissue gives a new, different card; the old one stays revoked.
        let r = app
            .post(
                &format!("/api/v1/residents/{rid}/cards/{cid}/reissue"),
                Some(&token),
                json!({}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let new_card = json(r).await;
        assert_ne!(new_card["id"], cid.as_str());
        let list = json(
            app.get(&format!("/api/v1/residents/{rid}/cards"), Some(&token))
                .await,
        )
        .await;
        assert_eq!(list["cards"].as_array().unwrap().len(), 2);
    }
);

both_backends!(
    withdrawal_hides_everything_and_revokes_every_card,
    |app: TestApp| async move {
        let (rid, token) = register_resident(&app, "taro").await;
        add_items(&app, &rid, &token).await;
        consent(&app, &rid, &token, &["medications", "allergies"], false).await;
        let mut urls = Vec::new();
        for _ in 0..2 {
            let card = json(
                app.post(
                    &format!("/api/v1/residents/{rid}/cards"),
                    Some(&token),
                    json!({}),
                )
                .await,
            )
            .await;
            urls.push(card["url"].as_str().unwrap().to_string());
        }
        let r = app
            .post(
                &format!("/api/v1/residents/{rid}/withdrawal"),
                Some(&token),
                json!({"reason": "本人の申し出"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let w = json(r).await;
        assert_eq!(w["cards_revoked"], 2);
        assert_eq!(w["purge_after"], T0 + 90 * 86_400);

        // Recorded: a withdrawn consent version; the resident still sees their own record.
        let consents = json(
            app.get(&format!("/api/v1/residents/{rid}/consents"), Some(&token))
                .await,
        )
        .await;
        let versions = consents["consents"].as_array().unwrap();
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[1]["status"], "withdrawn");
        let profile = json(
            app.get(&format!("/api/v1/residents/{rid}"), Some(&token))
                .await,
        )
        .await;
        assert_eq!(profile["status"], "withdrawn");

        // Every card is revoked and its public page confirms nothing.
        for url in &urls {
            let digits = url.rsplit('/').next().unwrap();
            let r = app.get(&format!("/C/{digits}"), None).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND);
            let html = r.text().await.unwrap();
            assert!(!html.contains("山田") && !html.contains("ワルファリン"));
        }
        // No card can be issued until a new consent.
        let r = app
            .post(
                &format!("/api/v1/residents/{rid}/cards"),
                Some(&token),
                json!({}),
            )
            .await;
        assert_eq!(json(r).await["error"], "withdrawn");

        // Anyone else — anonymous, another resident, a proxy of someone else — gets nothing of this record.
        let (_, other) = register_resident(&app, "someone-else").await;
        let paths = [
            format!("/api/v1/residents/{rid}"),
            format!("/api/v1/residents/{rid}/dataset"),
            format!("/api/v1/residents/{rid}/consents"),
            format!("/api/v1/residents/{rid}/cards"),
        ];
        for p in &paths {
            let anon = app.get(p, None).await;
            assert_eq!(anon.status(), StatusCode::UNAUTHORIZED, "{p}");
            let r = app.get(p, Some(&other)).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{p}");
            let body = r.text().await.unwrap();
            assert!(
                !body.contains("山田")
                    && !body.contains("ワルファリン")
                    && !body.contains(&rid[..8]),
                "{p}: {body}"
            );
        }

        // A new consent undoes the withdrawal.
        consent(&app, &rid, &token, &["medications"], false).await;
        let profile = json(
            app.get(&format!("/api/v1/residents/{rid}"), Some(&token))
                .await,
        )
        .await;
        assert_eq!(profile["status"], "active");
        assert_eq!(
            app.post(
                &format!("/api/v1/residents/{rid}/cards"),
                Some(&token),
                json!({})
            )
            .await
            .status(),
            StatusCode::CREATED
        );
    }
);

both_backends!(
    a_proxy_registers_and_acts_for_a_resident,
    |app: TestApp| async move {
        let mut body = json!({
            "login_id": "care.manager@joso", "password": "another long secret", "display_name": "佐藤 ケアマネ",
            "relation": "care_manager", "accept_proxy_statement": true,
            "resident": resident_body("unused")["profile"].clone()
        });
        body["resident"]["given_name"] = json!("トメ");
        let r = app.post("/api/v1/proxies", None, body.clone()).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let reg = json(r).await;
        let (rid, token) = (
            reg["resident_id"].as_str().unwrap().to_string(),
            reg["token"].as_str().unwrap().to_string(),
        );
        let mine = json(app.get("/api/v1/me/residents", Some(&token)).await).await;
        assert_eq!(mine["residents"][0]["given_name"], "トメ");
        add_items(&app, &rid, &token).await;
        let items = json(
            app.get(&format!("/api/v1/residents/{rid}/dataset"), Some(&token))
                .await,
        )
        .await;
        assert!(
            items["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["provenance"] == "proxy")
        );
        let c = consent(&app, &rid, &token, &["medications"], false).await;
        assert_eq!(
            (c["given_by"].as_str(), c["proxy_id"].is_string()),
            (Some("proxy"), true)
        );

        // Without accepting the proxy statement there is no registration.
        body["login_id"] = json!("someone.else");
        body["accept_proxy_statement"] = json!(false);
        let r = app.post("/api/v1/proxies", None, body).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // Login works with the same credentials; a wrong password does not.
        let ok = app
            .post(
                "/api/v1/sessions",
                None,
                json!({"login_id": "care.manager@joso", "password": "another long secret"}),
            )
            .await;
        assert_eq!(ok.status(), StatusCode::CREATED);
        let bad = app
            .post(
                "/api/v1/sessions",
                None,
                json!({"login_id": "care.manager@joso", "password": "wrong password!"}),
            )
            .await;
        assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json(bad).await["error"], "unauthorized");
    }
);

// RULES R7: sessions end after 15 idle minutes (configurable).
both_backends!(sessions_expire_when_idle, |app: TestApp| async move {
    let (rid, token) = register_resident(&app, "idle").await;
    app.clock.advance(14 * 60);
    assert_eq!(
        app.get(&format!("/api/v1/residents/{rid}"), Some(&token))
            .await
            .status(),
        StatusCode::OK
    );
    app.clock.advance(16 * 60);
    assert_eq!(
        app.get(&format!("/api/v1/residents/{rid}"), Some(&token))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let r = app
        .send(
            Method::DELETE,
            "/api/v1/sessions/current",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
});

both_backends!(
    printables_carry_the_card_and_the_name_only_when_chosen,
    |app: TestApp| async move {
        let (rid, token) = register_resident(&app, "print.user").await;
        for name_on_print in [false, true] {
            let r = app.post(&format!("/api/v1/residents/{rid}/consents"), Some(&token), json!({"categories": ["medications"], "disaster_use": false, "triage_on_card": false, "name_on_print": name_on_print})).await;
            assert_eq!(r.status(), StatusCode::CREATED);
            let card = json(
                app.post(
                    &format!("/api/v1/residents/{rid}/cards"),
                    Some(&token),
                    json!({}),
                )
                .await,
            )
            .await;
            let cid = card["id"].as_str().unwrap();
            let sheet = app
                .get(
                    &format!("/api/v1/residents/{rid}/cards/{cid}/print/fridge-sheet.png"),
                    Some(&token),
                )
                .await;
            assert_eq!(sheet.status(), StatusCode::OK);
            assert_eq!(
                decode_png(&sheet.bytes().await.unwrap()),
                card["url"].as_str().unwrap()
            );
            let wallet = app
                .get(
                    &format!("/api/v1/residents/{rid}/cards/{cid}/print/wallet-card.png"),
                    Some(&token),
                )
                .await;
            assert_eq!(
                decode_png(&wallet.bytes().await.unwrap()),
                card["url"].as_str().unwrap()
            );
            let pdf = app
                .get(
                    &format!("/api/v1/residents/{rid}/cards/{cid}/print/fridge-sheet.pdf"),
                    Some(&token),
                )
                .await;
            assert_eq!(pdf.headers()["content-type"], "application/pdf");
            let pdf = pdf.bytes().await.unwrap();
            assert!(pdf.starts_with(b"%PDF-"));
            // What the printables are built from: the name only when the consent says so.
            let db = app.db();
            let actor = kyukit_server::service::accounts::authenticate(
                &db,
                &token,
                app.clock.now_for_tests(),
                Default::default(),
            )
            .unwrap();
            let data = kyukit_server::service::cards::print_data(
                &db,
                &actor,
                &rid,
                cid,
                "https://qq.city.joso.lg.jp/c/",
            )
            .unwrap();
            assert_eq!(
                data.name.as_deref(),
                if name_on_print {
                    Some("山田 花子")
                } else {
                    None
                }
            );
            assert_eq!(
                (data.municipality_ja.as_str(), data.issued_on.as_str()),
                ("常総市", "2026-11-21")
            );
        }
        let r = app
            .get(
                &format!(
                    "/api/v1/residents/{rid}/cards/{}/print/poster.gif",
                    "0".repeat(32)
                ),
                Some(&token),
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
);

both_backends!(
    purge_after_retention_erases_the_record_but_keeps_the_consent_history,
    |app: TestApp| async move {
        let (rid, token) = register_resident(&app, "purge.user").await;
        add_items(&app, &rid, &token).await;
        consent(&app, &rid, &token, &["medications"], false).await;
        let card = json(
            app.post(
                &format!("/api/v1/residents/{rid}/cards"),
                Some(&token),
                json!({}),
            )
            .await,
        )
        .await;
        let db = app.db();
        assert_eq!(
            app.post(
                &format!("/api/v1/residents/{rid}/withdrawal"),
                Some(&token),
                json!({})
            )
            .await
            .status(),
            StatusCode::OK
        );

        // Not yet due: nothing happens.
        app.clock.advance(89 * 86_400);
        assert_eq!(
            kyukit_server::service::purge::purge_due(&db, app.clock.now_for_tests()).unwrap(),
            0
        );
        assert_eq!(
            table_counts(&app)
                .iter()
                .find(|(t, _)| *t == "dataset_items")
                .unwrap()
                .1,
            7
        );

        app.clock.advance(2 * 86_400);
        assert_eq!(
            kyukit_server::service::purge::purge_due(&db, app.clock.now_for_tests()).unwrap(),
            1
        );
        let counts = table_counts(&app);
        let count = |t: &str| counts.iter().find(|(n, _)| *n == t).unwrap().1;
        assert_eq!(count("dataset_items"), 0, "the dataset is deleted");
        assert_eq!(count("consents"), 2, "the consent history is kept");
        assert_eq!(
            count("cards"),
            1,
            "the revoked card row is kept for revocation lists"
        );
        // The resident's login is suspended and their sessions are gone.
        assert_eq!(
            app.get(&format!("/api/v1/residents/{rid}"), Some(&token))
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
        let login = app
            .post(
                "/api/v1/sessions",
                None,
                json!({"login_id": "purge.user", "password": "correct horse battery"}),
            )
            .await;
        assert_eq!(login.status(), StatusCode::FORBIDDEN);
        // The card stays revoked in the published list.
        let kid = card["kid"].as_str().unwrap();
        let list = json(app.get(&format!("/api/v1/revocations/{kid}"), None).await).await;
        assert_eq!(list["revoked"], json!([card["id"]]));
        // Purging again finds nothing.
        assert_eq!(
            kyukit_server::service::purge::purge_due(&db, app.clock.now_for_tests()).unwrap(),
            0
        );
    }
);

both_backends!(
    access_history_shows_who_did_what_from_the_audit_chain,
    |app: TestApp| async move {
        // A proxy registers the resident and edits; the history shows each write with its role.
        let mut body = json!({
            "login_id": "family.member", "password": "another long secret", "display_name": "山田 一郎",
            "relation": "family", "accept_proxy_statement": true, "resident": resident_body("unused")["profile"].clone()
        });
        body["resident"]["given_name"] = json!("ウメ");
        let reg = json(app.post("/api/v1/proxies", None, body).await).await;
        let (rid, token) = (
            reg["resident_id"].as_str().unwrap().to_string(),
            reg["token"].as_str().unwrap().to_string(),
        );
        app.clock.advance(60);
        add_items(&app, &rid, &token).await;
        consent(&app, &rid, &token, &["medications"], false).await;
        let card = json(
            app.post(
                &format!("/api/v1/residents/{rid}/cards"),
                Some(&token),
                json!({}),
            )
            .await,
        )
        .await;
        assert_eq!(card["status"], "active");
        let h = json(
            app.get(
                &format!("/api/v1/residents/{rid}/access-history"),
                Some(&token),
            )
            .await,
        )
        .await;
        let entries = h["entries"].as_array().unwrap();
        let actions: Vec<&str> = entries
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions[0], "card.issue", "newest first");
        assert_eq!(actions.last().copied(), Some("proxy.register"));
        assert_eq!(actions.iter().filter(|a| **a == "dataset.write").count(), 7);
        assert!(
            entries
                .iter()
                .all(|e| e["role"] == "proxy" && e["by_self"] == false)
        );
        assert!(
            !h.to_string().contains("ワルファリン"),
            "no medical content in the history"
        );
        // Another resident cannot read it.
        let (_, other) = register_resident(&app, "not.family").await;
        assert_eq!(
            app.get(
                &format!("/api/v1/residents/{rid}/access-history"),
                Some(&other)
            )
            .await
            .status(),
            StatusCode::NOT_FOUND
        );
    }
);
