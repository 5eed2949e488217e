//! The paramedic PWA and the ED board as the server serves them (the browser suite in
//! tests/browser/field/ drives them in Chromium), the hospital list a crew needs for an inquiry
//! (`GET /api/v1/hospitals`), and the bystander page's hand-off to the app.

use kyukit_tests::field::*;
use kyukit_tests::sse::Sse;
use kyukit_tests::*;
use reqwest::Method;
use std::time::Duration;

both_backends!(
    a_crew_lists_the_active_hospitals_it_may_ask,
    |app: TestApp| async move {
        let w = world(&app).await;
        let hosp = create_facility(&app, &w.admin, "hospital", "きぬ医師会病院").await;
        let hosp2 = create_facility(&app, &w.admin, "hospital", "水海道さくら病院").await;
        let clinic = create_facility(&app, &w.admin, "clinic", "諏訪町クリニック").await;
        // A suspended hospital cannot be asked, so it is not offered.
        let r = app
            .post(
                &format!("/api/v1/facilities/{hosp2}/suspend"),
                Some(&w.admin),
                json!({"reason": "system outage"}),
            )
            .await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        let medic = medic_client(&app, &w).await;

        let r = medic
            .signed(Method::GET, "/api/v1/hospitals", None, None)
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let list = r.json::<Value>().await.unwrap();
        let hospitals = list["hospitals"].as_array().unwrap();
        assert_eq!(hospitals.len(), 1, "{list}");
        assert_eq!(hospitals[0]["id"], hosp.as_str());
        assert_eq!(hospitals[0]["name_ja"], "きぬ医師会病院");
        assert_eq!(hospitals[0]["phone"], "0297-23-0119");
        assert_eq!(hospitals[0]["status"], "active");
        let ids: Vec<&str> = hospitals
            .iter()
            .map(|h| h["id"].as_str().unwrap())
            .collect();
        assert!(!ids.contains(&clinic.as_str()) && !ids.contains(&w.fire_id.as_str()));

        // The id is what an inquiry takes.
        let scan = medic.scan(&w.card_url, "HL-1").await.unwrap();
        let inc = medic
            .open_incident("HL-1", scan["access_id"].as_str())
            .await
            .unwrap();
        let iid = inc["id"].as_str().unwrap();
        medic
            .send_report(
                iid,
                &json!({"base_version": 0, "chief_complaint": "胸痛", "activation": "stemi"}),
            )
            .await
            .unwrap();
        let asked = medic.inquire(iid, &[ids[0]]).await.unwrap();
        assert_eq!(asked["targets"][0]["hospital"]["id"], hosp.as_str());

        // The request is signed like every field request: replaying it is refused; a bearer
        // session alone (an ED nurse, or the paramedic's token without the device) is refused.
        let prepared = medic
            .prepare_signed(Method::GET, "/api/v1/hospitals", None, None)
            .unwrap();
        assert_eq!(
            medic.send_prepared(&prepared).await.unwrap().status(),
            StatusCode::OK
        );
        let again = medic.send_prepared(&prepared).await.unwrap();
        assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            again.json::<Value>().await.unwrap()["error"],
            "replayed_request"
        );
        add_staff(&app, &w.admin, &hosp, "ed1", "ed_staff").await;
        let ed = staff_token(&app, "ed1", MEDIC_PASSWORD).await;
        for token in [Some(ed.as_str()), medic.session(), None] {
            let r = app.get("/api/v1/hospitals", token).await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(
                r.json::<Value>().await.unwrap()["error"],
                "signature_required"
            );
        }
    }
);

/// `src` and `href` attributes of a page that point at its own assets.
fn asset_refs(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attr) {
            let rest = &html[at + attr.len()..];
            let url = rest.split('"').next().unwrap();
            if url.starts_with("/pages/field/") {
                out.push(url.to_string());
            }
        }
    }
    out
}

both_backends!(
    the_pwa_and_the_board_are_served_with_a_strict_policy,
    |app: TestApp| async move {
        let mut assets = std::collections::BTreeSet::new();
        for page in ["/pages/field", "/pages/ed"] {
            let r = app.get(page, None).await;
            assert_eq!(r.status(), StatusCode::OK, "{page}");
            let csp = r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_string();
            for want in [
                "default-src 'none'",
                "script-src 'self'",
                "manifest-src 'self'",
                "worker-src 'self'",
                "frame-ancestors 'none'",
            ] {
                assert!(csp.contains(want), "{page}: {csp} lacks {want}");
            }
            assert!(!csp.contains("unsafe"), "{page}: {csp}");
            assert_eq!(r.headers()["referrer-policy"], "no-referrer");
            let html = r.text().await.unwrap();
            assert!(!html.contains("<script>"), "{page}: no inline script");
            assets.extend(asset_refs(&html));
        }
        // The service worker: allowed to control the origin (to open /c/… in the app), its cache
        // named after the assets' hash, and every file it caches is served.
        let r = app.get("/pages/field/sw.js", None).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["service-worker-allowed"], "/");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
        let sw = r.text().await.unwrap();
        assert!(!sw.contains("__VERSION__"));
        let version = sw
            .split("const VERSION = \"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap();
        assert_eq!(version.len(), 16, "{version}");
        let shell = sw
            .split("const SHELL_FILES = [")
            .nth(1)
            .and_then(|s| s.split("];").next())
            .unwrap();
        for f in shell.split('"').skip(1).step_by(2) {
            assets.insert(f.to_string());
        }
        assert!(assets.len() >= 10, "{assets:?}");
        for a in &assets {
            let r = app.get(a, None).await;
            assert_eq!(r.status(), StatusCode::OK, "{a}");
            assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{a}");
        }
        let r = app.get("/pages/field/ed-sw.js", None).await;
        assert_eq!(r.headers()["service-worker-allowed"], "/pages/ed");
        let manifest: Value = app
            .get("/pages/field/manifest.webmanifest", None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(manifest["start_url"], "/pages/field");
        assert_eq!(manifest["scope"], "/");
        assert_eq!(manifest["display"], "standalone");
        let r = app.get("/pages/field/nope.js", None).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "not_found");
        let r = app.get("/pages/field/..%2Fed.html", None).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
);

both_backends!(
    the_bystander_page_hands_a_card_to_the_paramedic_app,
    |app: TestApp| async move {
        let w = world(&app).await;
        let digits = w.card_url.rsplit('/').next().unwrap();
        let r = app.get(&format!("/C/{digits}"), None).await;
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.unwrap();
        assert!(html.contains("tel:119"));
        assert!(
            html.contains(&format!("href=\"/pages/field#card={digits}\"")),
            "the hand-off link carries the card in a fragment"
        );
        // Anything but digits never reaches the page.
        let r = app.get("/c/12%22%3E%3Cscript%3E", None).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let html = r.text().await.unwrap();
        assert!(!html.contains("#card=") && !html.contains("<script>"));
    }
);

// The PWA keeps the crew feed open for a whole call. The stream re-checks the session at every
// heartbeat (15 s); a paramedic's session is bound to the device, and the check used to refuse
// such sessions, ending every crew feed with `session_ended` after 15 quiet seconds.
both_backends!(
    a_crew_feed_outlives_its_heartbeat,
    |app: TestApp| async move {
        let w = world(&app).await;
        let hosp = create_facility(&app, &w.admin, "hospital", "きぬ医師会病院").await;
        add_staff(&app, &w.admin, &hosp, "ed1", "ed_staff").await;
        let ed = staff_token(&app, "ed1", MEDIC_PASSWORD).await;
        let medic = medic_client(&app, &w).await;
        let resp = medic
            .signed(Method::GET, "/api/v1/crew/feed", None, None)
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let mut feed = Sse::new(resp).await;
        let scan = medic.scan(&w.card_url, "HB-1").await.unwrap();
        let inc = medic
            .open_incident("HB-1", scan["access_id"].as_str())
            .await
            .unwrap();
        let iid = inc["id"].as_str().unwrap().to_string();
        medic
            .send_report(
                &iid,
                &json!({"base_version": 0, "chief_complaint": "胸痛", "activation": "stemi"}),
            )
            .await
            .unwrap();
        medic.inquire(&iid, &[&hosp]).await.unwrap();
        assert!(
            feed.next_of("inquiry_sent", Duration::from_secs(5))
                .await
                .is_some()
        );
        // Past one heartbeat with nothing happening: the stream must not end.
        let quiet = feed.next(Duration::from_secs(17)).await;
        assert!(quiet.is_none(), "unexpected event {quiet:?}");
        let r = app
            .post(
                &format!("/api/v1/hospital/incidents/{iid}/acknowledge"),
                Some(&ed),
                json!({}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let e = feed
            .next_of("acknowledged", Duration::from_secs(5))
            .await
            .expect("the crew still hears its hospital after a heartbeat");
        assert_eq!(e.data["incident_id"], iid.as_str());
    }
);
