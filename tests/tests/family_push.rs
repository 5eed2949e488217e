//! Family told of a scan (issue 27): a proxy's browser gets a Web Push when the resident's card is
//! scanned and when a hospital accepts — only with `notify_family` in the consent in force, the
//! hospital's name only with `family_hospital_name`, never a name, an item or a diagnosis; each
//! notice audited and in the access history. The push service in the test process decrypts with
//! Mozilla's `ece` (RFC 8291, not our implementation) and checks the VAPID token. Both backends.

use kyukit_server::audit;
use kyukit_tests::field::{
    MEDIC_PASSWORD, SHARED, access_history, add_staff, audit_events, create_facility, json_of,
    medic_client, staff_token, world,
};
use kyukit_tests::push::PushService;
use kyukit_tests::*;
use reqwest::Method;
use std::time::Duration;

/// Words that must never be in a family push: the resident's name (kanji, kana), every item of
/// the world's dataset, the diagnosis and its code, category names.
const PRIVATE: [&str; 16] = [
    "山田",
    "花子",
    "ヤマダ",
    "ハナコ",
    "ワルファリン",
    "アムロジピン",
    "心房細動",
    "I48.9",
    "ペニシリン",
    "アナフィラキシー",
    "pacemaker",
    "medications",
    "allergies",
    "conditions",
    "1941",
    "090-1234",
];

async fn created(r: reqwest::Response, what: &str) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn notices(app: &TestApp, rid: &str) -> usize {
    audit_events(app)
        .iter()
        .filter(|e| e.action == "family.notify" && e.resident_id.as_deref() == Some(rid))
        .count()
}

both_backends!(
    the_family_is_told_of_a_scan_and_an_acceptance_without_details,
    |app: TestApp| async move {
        let w = world(&app).await;
        let rid = w.rid.clone();
        let me = w.resident_token.clone();
        // The daughter becomes a proxy by invite and registers her browser.
        let inv = created(
            app.post(
                &format!("/api/v1/residents/{rid}/proxy-invites"),
                Some(&me),
                json!({"relation": "family"}),
            )
            .await,
            "invite",
        )
        .await;
        let reg = created(
            app.post(
                "/api/v1/proxy-invites/register",
                None,
                json!({"code": inv["code"], "login_id": "daughter", "password": "a long family secret",
                    "display_name": "山田 恵子", "accept_proxy_statement": true}),
            )
            .await,
            "register with invite",
        )
        .await;
        let daughter = reg["token"].as_str().unwrap().to_string();
        let key = json_of(app.get("/api/v1/push/vapid-public-key", None).await).await;
        let push = PushService::start(app.clock.clone(), key["public_key"].as_str().unwrap()).await;
        let phone = push.subscriber("/daughter-phone");
        let sub = created(
            app.post(
                "/api/v1/me/push-subscriptions",
                Some(&daughter),
                phone.body(Some("恵子のスマホ")),
            )
            .await,
            "subscribe",
        )
        .await;
        assert_eq!(sub["endpoint"], phone.endpoint.as_str());
        let mine = json_of(
            app.get("/api/v1/me/push-subscriptions", Some(&daughter))
                .await,
        )
        .await;
        assert_eq!(mine["subscriptions"].as_array().unwrap().len(), 1);
        // Staff do not register here; ED staff's own list does not show family browsers.
        let admin_r = app
            .post(
                "/api/v1/me/push-subscriptions",
                Some(&w.admin),
                push.subscriber("/admin").body(None),
            )
            .await;
        assert_eq!(admin_r.status(), StatusCode::FORBIDDEN);

        // Without the opt-in, a scan tells nobody.
        let medic = medic_client(&app, &w).await;
        medic.scan(&w.card_url, "F-1").await.expect("scan");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(push.received().is_empty(), "no opt-in, no push");
        assert_eq!(notices(&app, &rid), 0);

        // The resident opts in (a new consent version, the same categories: the card stays).
        let c = created(
            app.post(
                &format!("/api/v1/residents/{rid}/consents"),
                Some(&me),
                json!({"categories": SHARED, "disaster_use": false, "triage_on_card": true,
                    "name_on_print": false, "notify_family": true, "family_hospital_name": true}),
            )
            .await,
            "consent",
        )
        .await;
        assert_eq!(
            (
                c["notify_family"].as_bool(),
                c["family_hospital_name"].as_bool()
            ),
            (Some(true), Some(true))
        );
        let history = json_of(
            app.get(&format!("/api/v1/residents/{rid}/consents"), Some(&me))
                .await,
        )
        .await;
        assert_eq!(history["consents"][0]["notify_family"], false, "versioned");

        // A scan: the daughter's phone gets one push, decrypted by `ece`.
        let scan = medic.scan(&w.card_url, "F-2").await.expect("scan");
        let got = push.wait_for(1).await;
        assert!(push.problems().is_empty(), "{:?}", push.problems());
        assert_eq!(got[0].path, "/daughter-phone");
        let text = String::from_utf8(got[0].plaintext.clone()).expect("utf-8");
        assert_eq!(
            got[0].json(),
            json!({"kind": "family_scan", "title": "救急隊が情報を確認しました / Paramedics viewed the emergency information"})
        );
        for word in PRIVATE {
            assert!(!text.contains(word), "{word:?} in the push: {text}");
        }
        assert!(!text.contains(rid.as_str()), "no resident id");
        assert_eq!(notices(&app, &rid), 1);

        // A hospital accepts the crew's patient: a second push, naming the hospital (allowed).
        let hosp = create_facility(&app, &w.admin, "hospital", "きぬ医師会病院").await;
        add_staff(&app, &w.admin, &hosp, "ed1", "ed_staff").await;
        let ed = staff_token(&app, "ed1", MEDIC_PASSWORD).await;
        let inc = medic
            .open_incident("F-2", scan["access_id"].as_str())
            .await
            .expect("open");
        let iid = inc["id"].as_str().unwrap().to_string();
        medic
            .send_report(
                &iid,
                &json!({"base_version": 0, "chief_complaint": "意識障害", "activation": "general",
                    "eta_minutes": 10}),
            )
            .await
            .expect("report");
        medic.inquire(&iid, &[&hosp]).await.expect("inquiry");
        let r = app
            .post(
                &format!("/api/v1/hospital/incidents/{iid}/answer"),
                Some(&ed),
                json!({"decision": "accept"}),
            )
            .await;
        created(r, "accept").await;
        let got = push.wait_for(2).await;
        assert!(push.problems().is_empty(), "{:?}", push.problems());
        let accepted = got
            .iter()
            .map(|g| g.json())
            .find(|j| j["kind"] == "family_accepted")
            .expect("the acceptance push");
        assert_eq!(accepted["hospital"], "きぬ医師会病院");
        for word in PRIVATE {
            assert!(
                !accepted.to_string().contains(word),
                "{word:?} in {accepted}"
            );
        }
        assert_eq!(notices(&app, &rid), 2);

        // In the resident's access history, and on a chain that verifies.
        let h = access_history(&app, &w).await;
        let n = h["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "family.notify" && e["outcome"] == "ok")
            .count();
        assert_eq!(n, 2);
        {
            let db = app.db();
            let muni = app.municipality_id(&db);
            let mut c = db.conn().unwrap();
            audit::verify(&mut c, &muni, None).expect("the chain verifies");
        }

        // Without `family_hospital_name` the acceptance push names no hospital.
        assert_eq!(
            kyukit_server::service::family::payload(
                kyukit_server::service::family::Notice::Accepted {
                    hospital: ("きぬ医師会病院", "Kinu Hospital")
                },
                false
            ),
            json!({"kind": "family_accepted", "title": "病院が受け入れました / A hospital accepted"})
        );

        // Removed, the daughter is told nothing more.
        let proxies = json_of(
            app.get(&format!("/api/v1/residents/{rid}/proxies"), Some(&me))
                .await,
        )
        .await;
        let pid = proxies["proxies"][0]["id"].as_str().unwrap().to_string();
        let r = app
            .send(
                Method::DELETE,
                &format!("/api/v1/residents/{rid}/proxies/{pid}"),
                Some(&me),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        medic.scan(&w.card_url, "F-3").await.expect("scan");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(push.received().len(), 2, "a removed proxy is not told");
        assert_eq!(notices(&app, &rid), 2);
    }
);
