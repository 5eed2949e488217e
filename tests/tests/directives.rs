//! Issue 19: nothing a responder sees may mislead. An ACP document is not a DNAR order: a
//! resident with only an ACP shows no DNAR on the card (its claims), in the scan (JSON and FHIR),
//! or in the printables (fridge sheet, wallet card, the resident's disclosure PDF); a resident
//! with a DNAR shows DNAR. End to end, on SQLite and on PostgreSQL.

use kyukit_card::TriageFlag;
use kyukit_tests::field::*;
use kyukit_tests::*;

/// A resident with medications (anticoagulant, insulin), a blood type and the given advance
/// directive, sharing them and the triage core; returns (rid, token, card).
async fn resident_with_directive(
    app: &TestApp,
    login: &str,
    status: &str,
) -> (String, String, Value) {
    let (rid, token) = register_resident(app, login).await;
    for (category, body) in [
        (
            "medications",
            json!({"name": "ワルファリン", "dose": "2mg", "anticoagulant": true}),
        ),
        (
            "medications",
            json!({"name": "インスリン グラルギン", "dose": "18単位", "insulin": true}),
        ),
        ("blood_type", json!({"abo": "O", "rh": "+"})),
        (
            "advance_directive",
            json!({"status": status, "document_location": "冷蔵庫の横の棚"}),
        ),
    ] {
        let r = app
            .post(
                &format!("/api/v1/residents/{rid}/dataset"),
                Some(&token),
                json!({"category": category, "body": body}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{category}");
    }
    let r = app
        .post(
            &format!("/api/v1/residents/{rid}/consents"),
            Some(&token),
            json!({"categories": ["medications", "blood_type", "advance_directive"], "disaster_use": false, "triage_on_card": true, "name_on_print": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .post(
            &format!("/api/v1/residents/{rid}/cards"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    (rid, token, json_of(r).await)
}

/// The flags the card carries, verified against the served JWKS.
async fn card_flags(app: &TestApp, card: &Value) -> Vec<TriageFlag> {
    let jwks = app
        .get("/.well-known/jwks.json", None)
        .await
        .bytes()
        .await
        .unwrap();
    let keys = kyukit_card::KeySet::from_jwks_json(&jwks).unwrap();
    let cose = kyukit_card::parse_card_url(card["url"].as_str().unwrap())
        .unwrap()
        .cose;
    let verified = kyukit_card::verify(&cose, &keys, app.clock.now_for_tests()).unwrap();
    verified.claims.triage.unwrap().flags.iter().collect()
}

/// The text of a PDF by poppler's `pdftotext` (required: the text is what this test checks).
fn pdftotext(pdf: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("kyukit-directives-{}", random_hex(6)));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is needed to read the printables");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// Every printable of the resident's card and their disclosure PDF, as text.
async fn printed_texts(
    app: &TestApp,
    rid: &str,
    token: &str,
    card: &Value,
) -> Vec<(String, String)> {
    let cid = card["id"].as_str().unwrap();
    let mut paths: Vec<String> = ["fridge-sheet.pdf", "wallet-card.pdf"]
        .iter()
        .map(|doc| format!("/api/v1/residents/{rid}/cards/{cid}/print/{doc}"))
        .collect();
    paths.push(format!("/api/v1/residents/{rid}/disclosure.pdf"));
    let mut out = Vec::new();
    for path in paths {
        let r = app.get(&path, Some(token)).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let text = pdftotext(&r.bytes().await.unwrap());
        assert!(
            text.contains("山田"),
            "{path}: the name is printed (the PDF has text): {text}"
        );
        out.push((path, text));
    }
    out
}

both_backends!(
    an_acp_only_resident_shows_no_dnar_anywhere,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;
        let (rid, token, card) = resident_with_directive(&app, "acp-only", "acp").await;

        // The card: ACP, and neither DNAR nor the legacy "DNAR or ACP" bit.
        let flags = card_flags(&app, &card).await;
        assert!(flags.contains(&TriageFlag::Acp), "{flags:?}");
        assert!(!flags.contains(&TriageFlag::Dnar), "{flags:?}");
        assert!(!flags.contains(&TriageFlag::AdvanceDirectiveUnspecified));
        assert!(flags.contains(&TriageFlag::Anticoagulant) && flags.contains(&TriageFlag::Insulin));

        // The scan, as JSON and as FHIR: the ACP item, no DNAR.
        let url = card["url"].as_str().unwrap();
        let scan = medic.scan(url, "R8-1207-0019").await.expect("scan");
        let text = scan.to_string();
        assert!(!text.to_lowercase().contains("dnar"), "{text}");
        let ad: Vec<_> = scan["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["category"] == "advance_directive")
            .collect();
        assert_eq!(ad.len(), 1);
        assert_eq!(ad[0]["body"]["status"], "acp");
        let fhir = medic
            .scan_fhir(url, "R8-1207-0019")
            .await
            .expect("fhir")
            .to_string();
        assert!(!fhir.to_lowercase().contains("dnar"), "{fhir}");
        assert!(!fhir.contains("\"dnr\""), "{fhir}");
        assert!(fhir.contains("ACP"));

        // The printables and the resident's disclosure PDF.
        for (path, text) in printed_texts(&app, &rid, &token, &card).await {
            assert!(!text.to_uppercase().contains("DNAR"), "{path}: {text}");
        }
    }
);

both_backends!(a_dnar_resident_shows_dnar, |app: TestApp| async move {
    let w = world(&app).await;
    let medic = medic_client(&app, &w).await;
    let (_rid, _token, card) = resident_with_directive(&app, "dnar-one", "dnar").await;

    let flags = card_flags(&app, &card).await;
    assert!(flags.contains(&TriageFlag::Dnar), "{flags:?}");
    assert!(!flags.contains(&TriageFlag::Acp), "{flags:?}");
    assert!(!flags.contains(&TriageFlag::AdvanceDirectiveUnspecified));

    let url = card["url"].as_str().unwrap();
    let scan = medic.scan(url, "R8-1207-0020").await.expect("scan");
    assert!(
        scan["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["category"] == "advance_directive" && i["body"]["status"] == "dnar"),
        "{scan}"
    );
    let fhir = medic
        .scan_fhir(url, "R8-1207-0020")
        .await
        .expect("fhir")
        .to_string();
    assert!(fhir.contains("<b>DNAR</b>"), "{fhir}");
});

both_backends!(
    a_resident_without_a_directive_has_neither_flag,
    |app: TestApp| async move {
        let (_rid, _token, card) = resident_with_directive(&app, "no-directive", "none").await;
        let flags = card_flags(&app, &card).await;
        assert!(
            !flags.iter().any(|f| matches!(
                f,
                TriageFlag::Dnar | TriageFlag::Acp | TriageFlag::AdvanceDirectiveUnspecified
            )),
            "{flags:?}"
        );
    }
);

both_backends!(
    a_card_issued_before_the_split_still_scans_and_reads_unspecified,
    |app: TestApp| async move {
        // A card as this server issued it before issue 19: bit 4 ("DNAR or ACP") set, signed by the
        // municipality's key and kept as the card's bytes (what an upgrade finds in the table).
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;
        let (_rid, _token, card) = resident_with_directive(&app, "old-card", "acp").await;
        let db = app.db();
        let muni = app.municipality_id(&db);
        let key = kyukit_server::service::keys::load(&db, &app.data_dir, &muni, true)
            .unwrap()
            .active
            .unwrap();
        let cose = kyukit_card::parse_card_url(card["url"].as_str().unwrap())
            .unwrap()
            .cose;
        let (_, mut claims) = kyukit_card::decode_unverified(&cose).unwrap();
        let triage = claims.triage.as_mut().unwrap();
        triage.flags = [
            TriageFlag::Anticoagulant,
            TriageFlag::Insulin,
            TriageFlag::AdvanceDirectiveUnspecified,
        ]
        .into_iter()
        .collect();
        let old = kyukit_card::sign(&claims, &key).unwrap();
        {
            use diesel::prelude::*;
            use kyukit_server::db::schema::cards;
            let mut c = db.conn().unwrap();
            let c: &mut kyukit_server::db::DbConnection = &mut c;
            let n = diesel::update(cards::table.filter(cards::id.eq(card["id"].as_str().unwrap())))
                .set(cards::cose.eq(&old))
                .execute(c)
                .unwrap();
            assert_eq!(n, 1);
        }
        let url = card["url"].as_str().unwrap();
        let old_url = kyukit_card::card_url(&url[..=url.rfind('/').unwrap()], &old).unwrap();

        // It verifies against the served keys; its flag is the neutral one, not DNAR, not ACP.
        let jwks = app
            .get("/.well-known/jwks.json", None)
            .await
            .bytes()
            .await
            .unwrap();
        let keys = kyukit_card::KeySet::from_jwks_json(&jwks).unwrap();
        let verified = kyukit_card::verify(&old, &keys, app.clock.now_for_tests()).unwrap();
        let flags: Vec<_> = verified.claims.triage.unwrap().flags.iter().collect();
        assert_eq!(
            flags,
            vec![
                TriageFlag::Anticoagulant,
                TriageFlag::AdvanceDirectiveUnspecified,
                TriageFlag::Insulin
            ]
        );
        assert!(
            !serde_json::to_string(&verified)
                .unwrap()
                .to_lowercase()
                .contains("dnar")
        );

        // The server's scan accepts it (the bytes it kept) and discloses the record, which says ACP.
        let scan = medic
            .scan(&old_url, "R8-1207-0021")
            .await
            .expect("old card scans");
        assert_eq!(scan["card_id"], card["id"]);
        assert!(!scan.to_string().to_lowercase().contains("dnar"), "{scan}");
        assert!(
            scan["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["body"]["status"] == "acp")
        );
    }
);
