//! Cards follow consent and data (issue 19), on SQLite and PostgreSQL: a consent version that
//! drops a category a card's triage core came from, or turns `triage_on_card` off, revokes that
//! card in its transaction (reason `consent_changed`: the revocation list, the bystander page and
//! a scan all answer as for any revoked card) while a pointer card stays; a dataset change that
//! alters the triage core makes the card stale (the resident's card view says so, a scan answers
//! `card_current: false` and the core as it is now).

use kyukit_field::Error as FieldError;
use kyukit_tests::field::*;
use kyukit_tests::*;

/// Records a consent version (201) for the resident.
async fn grant(app: &TestApp, rid: &str, token: &str, categories: &[&str], triage: bool) {
    let r = app
        .post(
            &format!("/api/v1/residents/{rid}/consents"),
            Some(token),
            json!({"categories": categories, "disaster_use": false,
                   "triage_on_card": triage, "name_on_print": false}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
}

async fn new_card(app: &TestApp, rid: &str, token: &str) -> Value {
    let r = app
        .post(
            &format!("/api/v1/residents/{rid}/cards"),
            Some(token),
            json!({}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    json_of(r).await
}

async fn card(app: &TestApp, rid: &str, token: &str, cid: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/residents/{rid}/cards/{cid}"), Some(token))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    json_of(r).await
}

/// The card's key id (from its URL) and the bystander page's path.
fn kid_and_page(url: &str) -> (String, String) {
    let cose = kyukit_card::parse_card_url(url).expect("card url").cose;
    let (kid, _) = kyukit_card::decode_unverified(&cose).expect("card");
    let digits = url.rsplit('/').next().expect("digits");
    (kid.to_b64(), format!("/c/{digits}"))
}

/// The triage flags signed into a card, by name.
fn card_flags(url: &str) -> Option<Vec<String>> {
    let cose = kyukit_card::parse_card_url(url).expect("card url").cose;
    let (_, claims) = kyukit_card::decode_unverified(&cose).expect("card");
    claims.triage.map(|t| {
        t.flags
            .iter()
            .map(|f| {
                serde_json::to_value(f)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    })
}

async fn revoked_ids(app: &TestApp, kid: &str) -> Value {
    let r = app.get(&format!("/api/v1/revocations/{kid}"), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    json_of(r).await["revoked"].clone()
}

/// The card answers everywhere as a card revoked because consent changed.
async fn assert_revoked_by_consent(app: &TestApp, w: &FieldWorld, medic: &kyukit_field::Client) {
    let c = card(app, &w.rid, &w.resident_token, &w.card_id).await;
    assert_eq!(c["status"], "revoked", "{c}");
    assert_eq!(c["revoke_reason"], "consent_changed", "{c}");
    assert_eq!(c["stale"], false, "a revoked card is not called stale: {c}");
    let (kid, page) = kid_and_page(&w.card_url);
    let revoked = revoked_ids(app, &kid).await;
    assert!(
        revoked
            .as_array()
            .unwrap()
            .contains(&json!(w.card_id.as_str())),
        "{revoked}"
    );
    let r = app.get(&page, None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "the bystander page");
    match medic.scan(&w.card_url, "R8-1207-0001").await {
        Err(FieldError::Http { status, error, .. }) => {
            assert_eq!((status, error.as_str()), (403, "card_revoked"))
        }
        other => panic!("a revoked card scanned: {other:?}"),
    }
    let revokes: Vec<_> = audit_events(app)
        .into_iter()
        .filter(|e| e.action == "card.revoke")
        .filter_map(|e| e.detail)
        .collect();
    assert!(
        revokes.contains(&format!("{} consent_changed", w.card_id)),
        "{revokes:?}"
    );
}

both_backends!(
    a_consent_without_medications_revokes_the_triage_card_not_a_pointer_card,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;
        let (rid, token) = (w.rid.as_str(), w.resident_token.as_str());

        // Adding a category and dropping it again revokes nothing: the card's core never came
        // from emergency contacts (nor from a category it was not issued under).
        let mut more = SHARED.to_vec();
        more.push("emergency_contacts");
        grant(&app, rid, token, &more, true).await;
        grant(&app, rid, token, &SHARED, true).await;
        assert_eq!(card(&app, rid, token, &w.card_id).await["status"], "active");

        // A pointer card of another resident who drops medications too: it stays valid.
        let (rid2, token2, _) = resident_with_card(&app, "taro", &SHARED).await;
        grant(&app, &rid2, &token2, &SHARED, false).await;
        let pointer = new_card(&app, &rid2, &token2).await;
        assert_eq!(pointer["triage"], false);
        let pointer_url = pointer["url"].as_str().unwrap();

        let without: Vec<&str> = SHARED
            .iter()
            .copied()
            .filter(|c| *c != "medications")
            .collect();
        grant(&app, rid, token, &without, true).await;
        grant(&app, &rid2, &token2, &without, false).await;

        assert_revoked_by_consent(&app, &w, &medic).await;

        let p = card(&app, &rid2, &token2, pointer["id"].as_str().unwrap()).await;
        assert_eq!(p["status"], "active", "{p}");
        let (kid, page) = kid_and_page(pointer_url);
        assert!(
            !revoked_ids(&app, &kid)
                .await
                .as_array()
                .unwrap()
                .contains(&pointer["id"])
        );
        assert_eq!(app.get(&page, None).await.status(), StatusCode::OK);
        let d = medic.scan(pointer_url, "R8-1207-0002").await.expect("scan");
        assert_eq!(d["card_current"], true, "a pointer card is always current");
        assert!(
            d.get("triage").is_none(),
            "a pointer card shows no core: {d}"
        );

        // The new card carries the new core: no anticoagulant, as medications are not shared.
        let fresh = new_card(&app, rid, token).await;
        let url = fresh["url"].as_str().unwrap();
        assert_eq!(
            card_flags(url),
            Some(vec!["severe_allergy".into(), "implanted_device".into()])
        );
        assert_eq!(fresh["stale"], false);
        let d = medic.scan(url, "R8-1207-0003").await.expect("scan");
        assert_eq!(d["card_current"], true, "{d}");
        assert_eq!(
            d["triage"],
            json!({"blood_type": "A+", "flags": ["severe_allergy", "implanted_device"]})
        );
    }
);

both_backends!(
    turning_triage_on_card_off_revokes_the_triage_card_not_a_pointer_card,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;
        let (rid, token) = (w.rid.as_str(), w.resident_token.as_str());

        grant(&app, rid, token, &SHARED, false).await;
        assert_revoked_by_consent(&app, &w, &medic).await;

        // A pointer card made now outlives any later consent version.
        let pointer = new_card(&app, rid, token).await;
        assert_eq!(pointer["triage"], false);
        let pid = pointer["id"].as_str().unwrap();
        grant(&app, rid, token, &["blood_type"], false).await;
        grant(&app, rid, token, &SHARED, true).await;
        let p = card(&app, rid, token, pid).await;
        assert_eq!(p["status"], "active", "{p}");
        assert_eq!(p["stale"], false, "{p}");

        // A new card carries the core again.
        let fresh = new_card(&app, rid, token).await;
        assert_eq!(fresh["triage"], true);
        assert_eq!(
            card_flags(fresh["url"].as_str().unwrap()),
            Some(vec![
                "anticoagulant".into(),
                "severe_allergy".into(),
                "implanted_device".into()
            ])
        );
    }
);

both_backends!(
    insulin_added_after_the_card_makes_it_stale_and_the_scan_says_so,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;
        let (rid, token) = (w.rid.as_str(), w.resident_token.as_str());
        let then = json!({"blood_type": "A+",
                          "flags": ["anticoagulant", "severe_allergy", "implanted_device"]});

        let d = medic.scan(&w.card_url, "R8-1207-0010").await.expect("scan");
        assert_eq!(d["card_current"], true, "{d}");
        assert_eq!(d["triage"], then);
        assert_eq!(card(&app, rid, token, &w.card_id).await["stale"], false);

        let r = app
            .post(
                &format!("/api/v1/residents/{rid}/dataset"),
                Some(token),
                json!({"category": "medications",
                       "body": {"name": "インスリン グラルギン", "dose": "10単位", "insulin": true}}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);

        // The resident's views say the card is out of date; it still works.
        let c = card(&app, rid, token, &w.card_id).await;
        assert_eq!(
            (c["status"].as_str(), c["stale"].as_bool()),
            (Some("active"), Some(true)),
            "{c}"
        );
        let list = json_of(
            app.get(&format!("/api/v1/residents/{rid}/cards"), Some(token))
                .await,
        )
        .await;
        assert_eq!(list["cards"][0]["stale"], true, "{list}");

        // The scan answers that the card is not current, and the core as it is now.
        let now = json!({"blood_type": "A+",
                         "flags": ["anticoagulant", "severe_allergy", "implanted_device", "insulin"]});
        let d = medic.scan(&w.card_url, "R8-1207-0011").await.expect("scan");
        assert_eq!(d["card_current"], false, "{d}");
        assert_eq!(d["triage"], now);
        // So does a re-read of that access.
        let again = medic
            .access(d["access_id"].as_str().unwrap())
            .await
            .expect("reread");
        assert_eq!(again["card_current"], false, "{again}");
        assert_eq!(again["triage"], now);

        // A new card (reissue) is current again and carries insulin.
        let r = app
            .post(
                &format!("/api/v1/residents/{rid}/cards/{}/reissue", w.card_id),
                Some(token),
                json!({}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let fresh = json_of(r).await;
        assert_eq!(fresh["stale"], false);
        let url = fresh["url"].as_str().unwrap();
        assert!(card_flags(url).unwrap().contains(&"insulin".to_string()));
        let d = medic.scan(url, "R8-1207-0012").await.expect("scan");
        assert_eq!(d["card_current"], true, "{d}");
        assert_eq!(d["triage"], now);
    }
);
