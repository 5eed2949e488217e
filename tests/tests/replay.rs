//! Signed requests are answered once (issue 20): a request whose device signature verified spends
//! its nonce whatever the outcome — refused, rate-limited, failed — so its replay is
//! `replayed_request`, audited once, and never the dataset; identical copies sent at once are
//! answered once; and a refused scan of a resident's card is in that resident's access history.

use crate::field::{assert_no_excluded, assert_refusal, denials};
use kyukit_server::audit;
use kyukit_tests::field::*;
use kyukit_tests::*;
use reqwest::Method;

/// A card signed with this city's own active key under an id the city never issued (`[id; 16]`),
/// as base64url COSE bytes: genuine, but `card_unknown`.
fn unissued_card(app: &TestApp, id: u8) -> String {
    let db = app.db();
    let muni = app.municipality_id(&db);
    let ring = kyukit_server::service::keys::load(&db, &app.data_dir, &muni, true).unwrap();
    let claims = kyukit_card::Claims {
        card_id: kyukit_card::CardId([id; 16]),
        issued_at: Some(T0),
        expires_at: T0 + 86_400 * 365,
        issuer: None,
        triage: None,
    };
    let cose = kyukit_card::sign(&claims, ring.active.as_ref().unwrap()).unwrap();
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(cose)
}

fn audit_rows(app: &TestApp) -> usize {
    audit_events(app).len()
}

// Issue 20, finding 1: a signed request refused for any reason (here: the device's rate limit)
// has spent its nonce; the same bytes sent again, once the limit would let them through, are a
// replay and never get the dataset. Finding 5: the throttled scan of a resident's card is in
// that resident's access history.
both_backends!(
    a_throttled_scan_spends_its_nonce_and_shows_in_the_access_history,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;
        let scan = |i: &str| {
            medic
                .prepare_signed(
                    Method::POST,
                    "/api/v1/scans",
                    Some(&json!({"card": w.card_url, "incident_ref": i})),
                    None,
                )
                .unwrap()
        };
        // The device's 30 scans of the minute, then one over the limit. On a busy machine the
        // 30 can take long enough for the bucket to refill a little: scan until one is refused.
        let mut i = 0;
        let throttled = loop {
            let s = scan(&format!("R{i}"));
            let r = medic.send_prepared(&s).await.unwrap();
            if r.status() == 429 {
                break s;
            }
            assert_eq!(r.status(), 201);
            i += 1;
            assert!(i < 60, "the device's scan limit (30 a minute) refuses one");
        };
        // 30 a minute: one scan's worth comes back after 2 s. The same bytes are still refused,
        // as a replay, with no data.
        tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
        let before = denials(&app, "replayed_request");
        let r = medic.send_prepared(&throttled).await.unwrap();
        assert_refusal(&app, r, 401, "replayed_request", before).await;
        // ... and the limit's scan is still there for a fresh request.
        let r = medic.send_prepared(&scan("R-fresh")).await.unwrap();
        assert_eq!(r.status(), 201);

        // The throttle (and the replay of the card's scan) are in the resident's history.
        let h = access_history(&app, &w).await;
        let entries = h["entries"].as_array().unwrap();
        assert!(
            entries
                .iter()
                .any(|e| e["action"] == "rate.throttled" && e["outcome"] == "denied"),
            "{h}"
        );
        assert!(
            entries.iter().any(|e| e["outcome"] == "denied"
                && e["action"] == "device.request"
                && e["role"].is_null()),
            "the replay: {h}"
        );
        let throttled_event = audit_events(&app)
            .into_iter()
            .find(|e| e.action == "rate.throttled")
            .unwrap();
        assert_eq!(throttled_event.resident_id.as_deref(), Some(w.rid.as_str()));
    }
);

// Issue 20, finding 1: a scan refused `card_unknown` is answered and audited once; its replay is
// `replayed_request`, audited once per copy, and never refused (nor audited) as `card_unknown`
// again.
both_backends!(
    a_refused_scan_replayed_is_a_replay_audited_once,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;
        let card = unissued_card(&app, 5);
        let req = medic
            .prepare_signed(
                Method::POST,
                "/api/v1/scans",
                Some(&json!({"card": card, "incident_ref": "R8-20"})),
                None,
            )
            .unwrap();
        let rows = audit_rows(&app);
        let before = denials(&app, "card_unknown");
        let r = medic.send_prepared(&req).await.unwrap();
        assert_refusal(&app, r, 404, "card_unknown", before).await;
        assert_eq!(audit_rows(&app), rows + 1, "one audit row for the refusal");
        for copy in 1..=2 {
            let before = denials(&app, "replayed_request");
            let r = medic.send_prepared(&req).await.unwrap();
            assert_refusal(&app, r, 401, "replayed_request", before).await;
            assert_eq!(
                audit_rows(&app),
                rows + 1 + copy,
                "one audit row per replay"
            );
        }
        assert_eq!(denials(&app, "card_unknown"), 1);
        let db = app.db();
        let muni = app.municipality_id(&db);
        audit::verify(&mut db.conn().unwrap(), &muni, None).expect("the chain verifies");
    }
);

// Identical signed requests sent at once: exactly one is answered as itself — one scan with the
// dataset, or one refusal — and every other copy is a replay.
both_backends!(
    identical_signed_requests_at_once_are_answered_once,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;
        let send = |req: kyukit_field::PreparedRequest| {
            let medic = medic.clone();
            async move {
                let r = medic.send_prepared(&req).await.unwrap();
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap();
                (status, body)
            }
        };
        let statuses = |answers: &[(u16, Value)]| {
            let mut s: Vec<u16> = answers.iter().map(|a| a.0).collect();
            s.sort();
            s
        };
        for card in [w.card_url.clone(), unissued_card(&app, 6)] {
            let req = medic
                .prepare_signed(
                    Method::POST,
                    "/api/v1/scans",
                    Some(&json!({"card": card, "incident_ref": "R8-21"})),
                    None,
                )
                .unwrap();
            let rows = audit_rows(&app);
            let (a, b, c, d) = tokio::join!(
                send(req.clone()),
                send(req.clone()),
                send(req.clone()),
                send(req.clone())
            );
            let answers = [a, b, c, d];
            let mut expected = [if card == w.card_url { 201 } else { 404 }, 401, 401, 401];
            expected.sort();
            assert_eq!(statuses(&answers), expected, "{answers:?}");
            for (status, body) in &answers {
                if *status == 401 {
                    assert_eq!(body["error"], "replayed_request", "{body}");
                    assert_no_excluded(&body.to_string());
                    assert!(body.get("items").is_none(), "{body}");
                }
            }
            assert_eq!(audit_rows(&app), rows + 4, "one audit row per copy");
        }
    }
);
