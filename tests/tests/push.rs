//! Web Push to ED staff (issue 5, delivery): subscriptions, the outbox and its worker, against a
//! push service in the test process that decrypts with Mozilla's `ece` and verifies the VAPID
//! token (`kyukit_tests::push`). Alerts are queued with `enqueue_for_facility`, as the pre-arrival
//! transactions will.

use diesel::prelude::*;
use kyukit_server::db::push::OutboxRow;
use kyukit_server::db::schema::{push_outbox, push_subscriptions};
use kyukit_server::db::{Db, DbConnection};
use kyukit_server::domain::OutboxStatus;
use kyukit_tests::field::*;
use kyukit_tests::push::PushService;
use kyukit_tests::*;
use std::time::Duration;

/// What the pre-arrival code will send: no names, no medical details.
fn payload(incident: &str) -> Value {
    json!({"incident_id": incident, "kind": "new_patient", "activation": "stroke",
           "age_band": "80-89", "eta_at": T0 + 900})
}

fn outbox(db: &Db) -> Vec<OutboxRow> {
    let mut c = db.conn().expect("conn");
    let c: &mut DbConnection = &mut c;
    push_outbox::table
        .order((push_outbox::created_at.asc(), push_outbox::id.asc()))
        .select(OutboxRow::as_select())
        .load(c)
        .expect("outbox")
}

fn subscription_count(db: &Db) -> i64 {
    let mut c = db.conn().expect("conn");
    let c: &mut DbConnection = &mut c;
    push_subscriptions::table
        .count()
        .get_result(c)
        .expect("count")
}

/// Queues `payload` for every ED device of `facility`, as the pre-arrival transactions will.
fn enqueue(
    app: &TestApp,
    db: &Db,
    facility: &str,
    payload: &Value,
    ttl: i32,
) -> Result<usize, String> {
    let muni = app.municipality_id(db);
    let now = app.clock.now_for_tests();
    db.write(|c| {
        kyukit_server::service::push::enqueue_for_facility(
            c, &muni, facility, None, payload, "high", ttl, now,
        )
        .map_err(kyukit_server::db::DbError::from)
    })
    .map_err(|e| e.to_string())
}

/// Polls the outbox (up to 10 s) until `done` holds.
async fn outbox_until(db: &Db, what: &str, done: impl Fn(&[OutboxRow]) -> bool) -> Vec<OutboxRow> {
    for _ in 0..200 {
        let rows = outbox(db);
        if done(&rows) {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("outbox never reached: {what}; rows: {:#?}", outbox(db));
}

/// `kyukit_push_deliveries_total{outcome=…}` from `/metrics`.
async fn delivered(app: &TestApp, outcome: &str) -> u64 {
    let text = app.get("/metrics", None).await.text().await.unwrap();
    let prefix = format!("kyukit_push_deliveries_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in /metrics"))
        .parse()
        .unwrap()
}

async fn vapid_key(app: &TestApp) -> String {
    let r = app.get("/api/v1/push/vapid-public-key", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let key = v["public_key"].as_str().unwrap().to_string();
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    key
}

async fn error_of(r: reqwest::Response, status: StatusCode, code: &str) -> String {
    assert_eq!(r.status(), status);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], code, "{v}");
    assert_eq!(
        v.as_object().unwrap().len(),
        2,
        "the error body is {{error, message}}: {v}"
    );
    v["message"].as_str().unwrap().to_string()
}

async fn subscribe(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app
        .post("/api/v1/push/subscriptions", Some(token), body)
        .await;
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn my_subscriptions(app: &TestApp, token: &str) -> Vec<Value> {
    let r = app.get("/api/v1/push/subscriptions", Some(token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    json_of(r).await["subscriptions"]
        .as_array()
        .unwrap()
        .clone()
}

struct Hospital {
    admin: String,
    hosp: String,
    ed1: String,
}

/// A city administrator, a hospital and its ED staff member `ed1`, logged in.
async fn hospital(app: &TestApp) -> Hospital {
    let admin = admin_token(app).await;
    let hosp = create_facility(app, &admin, "hospital", "きぬ医師会病院").await;
    add_staff(app, &admin, &hosp, "ed1", "ed_staff").await;
    let ed1 = staff_token(app, "ed1", MEDIC_PASSWORD).await;
    Hospital { admin, hosp, ed1 }
}

both_backends!(
    a_push_reaches_the_hospitals_active_ed_staff_encrypted_and_signed,
    |app: TestApp| async move {
        let h = hospital(&app).await;
        let db = app.db();
        let other = create_facility(&app, &h.admin, "hospital", "水海道さくら病院").await;
        add_staff(&app, &h.admin, &h.hosp, "ed2", "ed_staff").await;
        add_staff(&app, &h.admin, &other, "ed3", "ed_staff").await;
        let ed2 = staff_token(&app, "ed2", MEDIC_PASSWORD).await;
        let ed3 = staff_token(&app, "ed3", MEDIC_PASSWORD).await;

        let key = vapid_key(&app).await;
        let svc = PushService::start(app.clock.clone(), &key).await;
        let s1 = svc.subscriber("/ed1");
        let created = subscribe(&app, &h.ed1, s1.body(Some("ER desk tablet"))).await;
        assert_eq!(created["endpoint"], s1.endpoint.as_str());
        assert_eq!(created["label"], "ER desk tablet");
        assert_eq!(created["created_at"], T0);
        assert!(created.get("p256dh").is_none() && created.get("keys").is_none());
        subscribe(&app, &ed2, svc.subscriber("/ed2").body(None)).await;
        subscribe(&app, &ed3, svc.subscriber("/ed3").body(None)).await;
        assert_eq!(my_subscriptions(&app, &h.ed1).await, vec![created.clone()]);

        // ed2 is suspended: their device gets nothing; ed3 works at another hospital.
        let accounts = json_of(app.get("/api/v1/accounts", Some(h.admin.as_str())).await).await;
        let ed2_id = accounts["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["login_id"] == "ed2")
            .unwrap()["account_id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = app
            .post(
                &format!("/api/v1/accounts/{ed2_id}/suspend"),
                Some(h.admin.as_str()),
                json!({"reason": "lost phone"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);

        // A payload with a name (or anything not allow-listed) is refused and queues nothing.
        let refused = enqueue(&app, &db, &h.hosp, &json!({"name": "山田 花子"}), 600).unwrap_err();
        assert!(refused.contains("not allow-listed"), "{refused}");
        assert!(outbox(&db).is_empty());

        let sent = payload("inc-1");
        assert_eq!(enqueue(&app, &db, &h.hosp, &sent, 600), Ok(1));
        let got = svc.wait_for(1).await;
        let push = &got[0];
        assert_eq!(push.path, "/ed1");
        assert_eq!(
            push.json(),
            sent,
            "the decrypted payload is what was queued"
        );
        assert_eq!(push.headers["urgency"], "high");
        assert_eq!(push.headers["ttl"], "600");
        assert_eq!(push.headers["content-encoding"], "aes128gcm");
        assert_eq!(push.claims["sub"], "mailto:admin@qq.city.joso.lg.jp");
        assert_eq!(push.claims["exp"], T0 + 12 * 3600);
        assert_eq!(push.claims["aud"], svc.origin.as_str());

        let rows = outbox_until(&db, "sent", |r| {
            r.iter().all(|r| r.status == OutboxStatus::Sent)
        })
        .await;
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(
            (
                row.attempts,
                row.last_status,
                row.done_at,
                row.lease_owner.as_deref()
            ),
            (1, Some(201), Some(T0), None)
        );
        assert_eq!(row.last_error, None);
        // Exactly once: nothing more arrives, and nothing failed verification.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(svc.received().len(), 1);
        assert!(svc.problems().is_empty(), "{:?}", svc.problems());
        assert_eq!(delivered(&app, "sent").await, 1);
        assert_eq!(delivered(&app, "retry").await, 0);

        let subscribed = audit_events(&app)
            .into_iter()
            .filter(|e| e.action == "push.subscribe" && e.outcome == "ok")
            .count();
        assert_eq!(subscribed, 3);
    }
);

both_backends!(
    gone_and_missing_subscriptions_are_removed_and_not_retried,
    |app: TestApp| async move {
        let h = hospital(&app).await;
        let db = app.db();
        let svc = PushService::start(app.clock.clone(), &vapid_key(&app).await).await;
        svc.script("/gone", &[], 410);
        svc.script("/missing", &[], 404);
        let gone = subscribe(
            &app,
            &h.ed1,
            svc.subscriber("/gone").body(Some("old phone")),
        )
        .await;
        let missing = subscribe(&app, &h.ed1, svc.subscriber("/missing").body(None)).await;
        assert_eq!(my_subscriptions(&app, &h.ed1).await.len(), 2);

        assert_eq!(enqueue(&app, &db, &h.hosp, &payload("inc-2"), 600), Ok(2));
        svc.wait_for(2).await;
        let rows = outbox_until(&db, "both gone", |r| {
            r.iter().all(|r| r.status == OutboxStatus::Gone)
        })
        .await;
        let mut statuses: Vec<_> = rows.iter().map(|r| (r.last_status, r.attempts)).collect();
        statuses.sort();
        assert_eq!(statuses, [(Some(404), 1), (Some(410), 1)]);
        assert!(rows.iter().all(|r| r.done_at == Some(T0)));
        assert!(my_subscriptions(&app, &h.ed1).await.is_empty(), "pruned");
        assert_eq!(subscription_count(&db), 0);
        let pruned: Vec<String> = audit_events(&app)
            .into_iter()
            .filter(|e| e.action == "push.prune")
            .map(|e| e.detail.unwrap_or_default())
            .collect();
        assert_eq!(pruned.len(), 2, "{pruned:?}");
        for s in [&gone, &missing] {
            let id = s["id"].as_str().unwrap();
            assert!(pruned.iter().any(|d| d.contains(id)), "{pruned:?}");
        }

        // Not retried, however long we wait; and a new alert finds no device.
        app.clock.advance(3600);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(svc.received().len(), 2);
        assert_eq!(enqueue(&app, &db, &h.hosp, &payload("inc-3"), 600), Ok(0));
        assert_eq!(delivered(&app, "gone").await, 2);
        assert_eq!(delivered(&app, "retry").await, 0);
        assert!(svc.problems().is_empty(), "{:?}", svc.problems());
    }
);

both_backends!(
    a_503_is_retried_after_a_second_and_delivered_exactly_once,
    |app: TestApp| async move {
        // The real back-off unit (1 s): the first retry waits a whole second of real time, and
        // until the clock says the second has passed.
        let h = hospital(&app).await;
        let db = app.db();
        let svc = PushService::start(app.clock.clone(), &vapid_key(&app).await).await;
        svc.script("/flaky", &[(503, None)], 201);
        subscribe(&app, &h.ed1, svc.subscriber("/flaky").body(None)).await;
        let sent = payload("inc-4");
        assert_eq!(enqueue(&app, &db, &h.hosp, &sent, 600), Ok(1));
        svc.wait_for(1).await;
        let rows = outbox_until(&db, "a retry scheduled", |r| r[0].attempts == 1).await;
        let row = &rows[0];
        assert_eq!(
            (
                row.status.as_str(),
                row.last_status,
                row.next_attempt_at,
                row.done_at
            ),
            ("pending", Some(503), T0 + 1, None)
        );
        assert_eq!(row.last_error.as_deref(), Some("HTTP 503"));
        // Not before its time (the clock has not moved) ...
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(svc.received().len(), 1);
        // ... and then once.
        app.clock.advance(1);
        let got = svc.wait_for(2).await;
        assert_eq!(got[1].json(), sent);
        assert_eq!(got[1].headers["ttl"], "599", "the TTL left");
        assert!(
            got[1].instant - got[0].instant >= Duration::from_secs(1),
            "the first back-off is a second of real time: {:?}",
            got[1].instant - got[0].instant
        );
        let rows = outbox_until(&db, "sent", |r| r[0].status == OutboxStatus::Sent).await;
        assert_eq!((rows[0].attempts, rows[0].last_status), (2, Some(201)));
        assert_eq!(rows[0].done_at, Some(T0 + 1));
        assert_eq!(rows[0].lease_owner, None);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(svc.received().len(), 2, "delivered exactly once");
        assert_eq!(delivered(&app, "retry").await, 1);
        assert_eq!(delivered(&app, "sent").await, 1);
        assert!(svc.problems().is_empty(), "{:?}", svc.problems());
    }
);

/// Moves the test clock to each retry as the worker schedules it, until the last row is no longer
/// pending; returns the rows' successive `next_attempt_at - now` (the back-offs).
async fn follow_retries(app: &TestApp, db: &Db) -> Vec<i64> {
    let mut backoffs = Vec::new();
    loop {
        let seen = backoffs.len() as i32 + 1;
        let rows = outbox_until(db, "the next attempt recorded", |r| {
            let last = r.last().unwrap();
            last.attempts >= seen || last.status != OutboxStatus::Pending
        })
        .await;
        let row = rows.last().unwrap().clone();
        if row.status != OutboxStatus::Pending {
            return backoffs;
        }
        let wait = row.next_attempt_at - app.clock.now_for_tests();
        backoffs.push(wait);
        app.clock.advance(wait);
    }
}

/// A fast back-off (10 ms of real time per second of the schedule): the schedule and the TTL
/// arithmetic on the injected clock are the same as in production.
fn fast_backoff(c: &mut kyukit_server::config::Config) {
    c.push_backoff_unit_ms = 10;
}

both_backends!(
    retry_after_is_honoured_and_an_alert_is_retried_until_its_ttl_is_spent,
    config = fast_backoff,
    |app: TestApp| async move {
        let h = hospital(&app).await;
        let db = app.db();
        let svc = PushService::start(app.clock.clone(), &vapid_key(&app).await).await;

        // 429 with Retry-After: 120 → not before two minutes.
        svc.script("/busy", &[(429, Some(120))], 201);
        subscribe(&app, &h.ed1, svc.subscriber("/busy").body(None)).await;
        assert_eq!(enqueue(&app, &db, &h.hosp, &payload("inc-5"), 3600), Ok(1));
        let rows = outbox_until(&db, "429 recorded", |r| r[0].attempts == 1).await;
        assert_eq!(
            (rows[0].last_status, rows[0].next_attempt_at),
            (Some(429), T0 + 120)
        );
        app.clock.advance(60);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(svc.received_at("/busy").len(), 1);
        app.clock.advance(60);
        svc.wait_for(2).await;
        outbox_until(&db, "sent after Retry-After", |r| {
            r[0].status == OutboxStatus::Sent
        })
        .await;
        let r = app
            .send(
                reqwest::Method::DELETE,
                &format!(
                    "/api/v1/push/subscriptions/{}",
                    my_subscriptions(&app, &h.ed1).await[0]["id"]
                        .as_str()
                        .unwrap()
                ),
                Some(h.ed1.as_str()),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);

        // Always 503, TTL 60 s: the doubling back-off, one last try a second before the TTL
        // ends, then recorded as expired.
        svc.script("/down", &[], 503);
        subscribe(&app, &h.ed1, svc.subscriber("/down").body(None)).await;
        let start = app.clock.now_for_tests();
        assert_eq!(enqueue(&app, &db, &h.hosp, &payload("inc-6"), 60), Ok(1));
        let backoffs = follow_retries(&app, &db).await;
        assert_eq!(backoffs, [1, 2, 4, 8, 16, 28], "1, 2, 4 … cut at the TTL");
        let row = outbox(&db).last().unwrap().clone();
        assert_eq!(row.status, OutboxStatus::Failed);
        assert_eq!(
            (row.attempts, row.last_status, row.done_at),
            (7, Some(503), Some(start + 59))
        );
        let error = row.last_error.unwrap();
        assert!(
            error.contains("expired") && error.contains("7 attempts"),
            "{error}"
        );
        let ttls: Vec<String> = svc
            .received_at("/down")
            .iter()
            .map(|r| r.headers["ttl"].clone())
            .collect();
        assert_eq!(
            ttls,
            ["60", "59", "57", "53", "45", "29", "1"],
            "the TTL left each time"
        );
        app.clock.advance(3600);
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(svc.received_at("/down").len(), 7, "nothing after the TTL");
        assert_eq!(delivered(&app, "expired").await, 1);

        // Any other 4xx: given up at once. (An hour passed: ed1 logs in again.)
        svc.script("/bad", &[], 400);
        let ed1 = staff_token(&app, "ed1", MEDIC_PASSWORD).await;
        subscribe(&app, &ed1, svc.subscriber("/bad").body(None)).await;
        assert_eq!(enqueue(&app, &db, &h.hosp, &payload("inc-7"), 600), Ok(2));
        outbox_until(&db, "400 failed", |r| {
            r.iter()
                .filter(|r| r.status == OutboxStatus::Failed)
                .count()
                == 2
        })
        .await;
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(svc.received_at("/bad").len(), 1);
        assert_eq!(delivered(&app, "failed").await, 1);
        assert!(svc.problems().is_empty(), "{:?}", svc.problems());
    }
);

both_backends!(
    an_alert_outlasts_five_minutes_of_503_within_its_ttl,
    config = fast_backoff,
    |app: TestApp| async move {
        // The push service answers 503 for five minutes (on the test clock), then 201. The
        // 600-second alert is retried on the documented schedule and delivered at 511 s.
        let h = hospital(&app).await;
        let db = app.db();
        let svc = PushService::start(app.clock.clone(), &vapid_key(&app).await).await;
        svc.script_until("/outage", 503, T0 + 300);
        subscribe(&app, &h.ed1, svc.subscriber("/outage").body(None)).await;
        let sent = payload("inc-8");
        let started = std::time::Instant::now();
        assert_eq!(enqueue(&app, &db, &h.hosp, &sent, 600), Ok(1));
        let backoffs = follow_retries(&app, &db).await;
        assert_eq!(backoffs, [1, 2, 4, 8, 16, 32, 64, 128, 256]);
        let got = svc.received_at("/outage");
        let at: Vec<i64> = got.iter().map(|r| r.at - T0).collect();
        assert_eq!(at, [0, 1, 3, 7, 15, 31, 63, 127, 255, 511]);
        let answers: Vec<u16> = got.iter().map(|r| r.answered).collect();
        assert_eq!(answers, [503, 503, 503, 503, 503, 503, 503, 503, 503, 201]);
        assert_eq!(got[9].headers["ttl"], "89", "the TTL left");
        eprintln!(
            "delivered after 5 minutes of 503 at +{} s on the test clock ({} attempts, {:?} of real time with 10 ms per back-off second)",
            got[9].at - T0,
            got.len(),
            got[9].instant.duration_since(started)
        );
        assert!(got.iter().all(|r| r.json() == sent));
        let row = &outbox(&db)[0];
        assert_eq!(
            (row.status, row.attempts, row.done_at),
            (OutboxStatus::Sent, 10, Some(T0 + 511))
        );
        assert_eq!(delivered(&app, "retry").await, 9);
        assert_eq!(delivered(&app, "sent").await, 1);
        assert_eq!(delivered(&app, "expired").await, 0);
        // RFC 8291 §4: every push's record size is greater than its record.
        assert!(
            got.iter()
                .all(|r| r.rs as usize > r.record_len && r.rs == 4096)
        );
        assert!(svc.problems().is_empty(), "{:?}", svc.problems());
    }
);

both_backends!(
    a_slow_device_delays_no_other_hospital,
    |app: TestApp| async move {
        // One ED device's push service takes 10 s to answer; another hospital's alert, queued
        // right after, arrives within a second.
        let h = hospital(&app).await;
        let db = app.db();
        let other = create_facility(&app, &h.admin, "hospital", "水海道さくら病院").await;
        add_staff(&app, &h.admin, &other, "ed3", "ed_staff").await;
        let ed3 = staff_token(&app, "ed3", MEDIC_PASSWORD).await;
        let svc = PushService::start(app.clock.clone(), &vapid_key(&app).await).await;
        svc.script_slow("/slow", Duration::from_secs(10));
        subscribe(&app, &h.ed1, svc.subscriber("/slow").body(None)).await;
        subscribe(&app, &ed3, svc.subscriber("/fast").body(None)).await;
        assert_eq!(enqueue(&app, &db, &h.hosp, &payload("inc-9"), 600), Ok(1));
        // The slow send is under way ...
        outbox_until(&db, "the slow row leased", |r| r[0].lease_owner.is_some()).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let queued = std::time::Instant::now();
        assert_eq!(enqueue(&app, &db, &other, &payload("inc-10"), 600), Ok(1));
        loop {
            if let Some(r) = svc.received_at("/fast").first() {
                eprintln!(
                    "the other hospital's alert arrived {:?} after it was queued, the slow device still answering",
                    r.instant.duration_since(queued)
                );
                break;
            }
            assert!(
                queued.elapsed() < Duration::from_secs(1),
                "the other hospital's alert waited behind the slow device"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let rows = outbox_until(&db, "the fast row sent", |r| {
            r.iter().any(|r| r.status == OutboxStatus::Sent)
        })
        .await;
        assert_eq!(
            rows.iter()
                .filter(|r| r.status == OutboxStatus::Sent)
                .count(),
            1
        );
        // The slow one times out after 5 s (its own timeout) and is retried.
        let rows = outbox_until(&db, "the slow row retried", |r| {
            r.iter()
                .any(|r| r.attempts == 1 && r.status == OutboxStatus::Pending)
        })
        .await;
        let slow = rows
            .iter()
            .find(|r| r.status == OutboxStatus::Pending)
            .unwrap();
        assert_eq!(slow.last_status, None);
        assert!(slow.last_error.is_some());
        assert!(svc.problems().is_empty(), "{:?}", svc.problems());
    }
);

both_backends!(
    subscriptions_are_validated_and_only_ed_staff_hold_their_own,
    |app: TestApp| async move {
        let h = hospital(&app).await;
        let db = app.db();
        let svc = PushService::start(app.clock.clone(), &vapid_key(&app).await).await;
        let path = "/api/v1/push/subscriptions";
        let s = svc.subscriber("/ed1");
        let post = |body: Value| app.post(path, Some(h.ed1.as_str()), body);

        // Input errors: 422 naming the field (400 for a body of the wrong shape); nothing stored.
        let mut b = s.body(None);
        b["keys"]["p256dh"] = json!(
            "BGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfQ"
        );
        let m = error_of(
            post(b).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_subscription",
        )
        .await;
        assert!(m.contains("keys.p256dh") && m.contains("curve"), "{m}");
        let mut b = s.body(None);
        b["keys"]["p256dh"] = json!("BGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKW");
        let m = error_of(
            post(b).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_subscription",
        )
        .await;
        assert!(m.contains("keys.p256dh"), "{m}");
        let mut b = s.body(None);
        b["keys"]["auth"] = json!("AAAAAAAAAAAAAAAAAAAA");
        let m = error_of(
            post(b).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_subscription",
        )
        .await;
        assert!(m.contains("keys.auth"), "{m}");
        for endpoint in [
            "http://push.example.com/x".to_string(),
            "https://10.0.0.7/x".to_string(),
            "https://169.254.169.254/latest/meta-data".to_string(),
            format!("https://push.example.com/{}", "a".repeat(2030)),
            "push.example.com/x".to_string(),
        ] {
            let mut b = s.body(None);
            b["endpoint"] = json!(endpoint);
            let m = error_of(
                post(b).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_subscription",
            )
            .await;
            assert!(m.starts_with("endpoint"), "{endpoint}: {m}");
        }
        let m = error_of(
            post(s.body(Some(&"x".repeat(65)))).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        )
        .await;
        assert!(m.contains("label"), "{m}");
        let mut b = s.body(None);
        b["keys"]["extra"] = json!(1);
        error_of(post(b).await, StatusCode::BAD_REQUEST, "invalid_body").await;
        assert_eq!(subscription_count(&db), 0);

        // Only ED staff (tier 1 or 2) and facility managers (tier 3, the escalation chain's last
        // tier): a resident, the city → 403; a paramedic's session is bound to their field
        // device, so a bearer request with it is 401 before any role check.
        let (_, resident) = register_resident(&app, "hanako").await;
        add_staff(&app, &h.admin, &h.hosp, "mgr1", "facility_manager").await;
        let mgr = staff_token(&app, "mgr1", MEDIC_PASSWORD).await;
        for (token, tier) in [(&mgr, 1), (&mgr, 2), (&h.ed1, 3), (&h.ed1, 0)] {
            let mut b = s.body(None);
            b["tier"] = json!(tier);
            let m = error_of(
                app.post(path, Some(token.as_str()), b).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_subscription",
            )
            .await;
            assert!(m.starts_with("tier"), "{m}");
        }
        for token in [&resident, &h.admin] {
            error_of(
                app.post(path, Some(token.as_str()), s.body(None)).await,
                StatusCode::FORBIDDEN,
                "forbidden",
            )
            .await;
            error_of(
                app.get(path, Some(token.as_str())).await,
                StatusCode::FORBIDDEN,
                "forbidden",
            )
            .await;
        }
        let fire = create_facility(&app, &h.admin, "fire_department", "常総広域消防本部").await;
        add_staff(&app, &h.admin, &fire, "medic1", "paramedic").await;
        let mut medic = enrolled_client(&app, &h.admin, &fire).await;
        medic_login(&app, &mut medic, "medic1").await.unwrap();
        error_of(
            app.post(path, Some(medic.session().unwrap()), s.body(None))
                .await,
            StatusCode::UNAUTHORIZED,
            "signature_required",
        )
        .await;
        assert_eq!(subscription_count(&db), 0);

        // Own subscriptions only: another ED staff member (same or other hospital) gets 404.
        let mine = subscribe(&app, &h.ed1, s.body(Some("desk"))).await;
        let sid = mine["id"].as_str().unwrap().to_string();
        let other = create_facility(&app, &h.admin, "hospital", "水海道さくら病院").await;
        add_staff(&app, &h.admin, &h.hosp, "ed2", "ed_staff").await;
        add_staff(&app, &h.admin, &other, "ed3", "ed_staff").await;
        let ed2 = staff_token(&app, "ed2", MEDIC_PASSWORD).await;
        let ed3 = staff_token(&app, "ed3", MEDIC_PASSWORD).await;
        let del = |token: String, sid: String| {
            let app = &app;
            async move {
                app.send(
                    reqwest::Method::DELETE,
                    &format!("{path}/{sid}"),
                    Some(token.as_str()),
                    None,
                )
                .await
            }
        };
        for token in [&ed2, &ed3] {
            assert!(my_subscriptions(&app, token).await.is_empty());
            error_of(
                del(token.clone(), sid.clone()).await,
                StatusCode::NOT_FOUND,
                "not_found",
            )
            .await;
        }
        error_of(
            del(resident.clone(), sid.clone()).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        error_of(
            del(h.ed1.clone(), "nonsense".into()).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        assert_eq!(my_subscriptions(&app, &h.ed1).await, vec![mine.clone()]);

        // The same endpoint again: the same account keeps its row (new keys, new label) ...
        let again = subscribe(&app, &h.ed1, svc.subscriber("/ed1").body(Some("desk 2"))).await;
        assert_eq!(again["id"], mine["id"]);
        assert_eq!(my_subscriptions(&app, &h.ed1).await.len(), 1);
        assert_eq!(my_subscriptions(&app, &h.ed1).await[0]["label"], "desk 2");
        // ... another account on that browser takes it over.
        let taken = subscribe(&app, &ed3, svc.subscriber("/ed1").body(None)).await;
        assert_ne!(taken["id"], mine["id"]);
        assert!(my_subscriptions(&app, &h.ed1).await.is_empty());
        assert_eq!(my_subscriptions(&app, &ed3).await, vec![taken.clone()]);
        let r = del(ed3.clone(), taken["id"].as_str().unwrap().to_string()).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        error_of(
            del(ed3.clone(), taken["id"].as_str().unwrap().to_string()).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        assert_eq!(subscription_count(&db), 0);

        // At most ten per account.
        for i in 0..10 {
            subscribe(&app, &h.ed1, svc.subscriber(&format!("/d{i}")).body(None)).await;
        }
        error_of(
            post(svc.subscriber("/d10").body(None)).await,
            StatusCode::CONFLICT,
            "too_many_subscriptions",
        )
        .await;

        let events = audit_events(&app);
        let count = |action: &str, outcome: &str| {
            events
                .iter()
                .filter(|e| e.action == action && e.outcome == outcome)
                .count()
        };
        assert_eq!(count("push.subscribe", "ok"), 13);
        assert_eq!(count("push.unsubscribe", "ok"), 1);
        // Resident, city (POST and GET each); DELETE by ed2, ed3, the resident, a bad id, ed3
        // again.
        assert_eq!(count("push.subscribe", "denied"), 4);
        assert_eq!(count("push.unsubscribe", "denied"), 5);
    }
);

both_backends!(
    the_vapid_key_survives_a_restart,
    |app: TestApp| async move {
        let first = vapid_key(&app).await;
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&first)
            .unwrap();
        assert_eq!((raw.len(), raw[0]), (65, 4), "an uncompressed P-256 point");
        let pem_path = app.data_dir.join("vapid.pem");
        let pem = std::fs::read_to_string(&pem_path).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&pem_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let mut config = kyukit_server::config::Config::new(
            "127.0.0.1:0".parse().unwrap(),
            app.data_dir.clone(),
            PUBLIC_URL.into(),
        );
        config.database_url =
            Some(kyukit_server::db::DatabaseUrl::parse(&app.database_url).unwrap());
        let again = kyukit_server::startup::Application::build(&config, app.clock.clone()).unwrap();
        assert!(!format!("{:?}", again.state()).contains(pem.lines().nth(1).unwrap()));
        let base = format!("http://127.0.0.1:{}", again.port());
        tokio::spawn(again.run_until_stopped());
        let second: Value = reqwest::get(format!("{base}/api/v1/push/vapid-public-key"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(second["public_key"], first.as_str());
        assert_eq!(
            std::fs::read_to_string(&pem_path).unwrap(),
            pem,
            "the file is kept"
        );
    }
);

both_backends!(
    concurrent_workers_lease_disjoint_rows,
    |app: TestApp| async move {
        // Rows due far in the future, so this server's own worker (at T0) leaves them alone; eight
        // "instances" lease them at once. PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: the write
        // lock. No row may be leased twice.
        let url = kyukit_server::db::DatabaseUrl::parse(&app.database_url).unwrap();
        let db = Db::connect(&url, 10, 1).unwrap();
        let muni = app.municipality_id(&db);
        let later = T0 + 1_000_000;
        let rows: Vec<OutboxRow> = (0..40)
            .map(|i| OutboxRow {
                id: format!("{i:032x}"),
                municipality_id: muni.clone(),
                subscription_id: random_hex(16),
                incident_id: None,
                payload: "{}".into(),
                ttl_secs: 60,
                urgency: "high".into(),
                status: OutboxStatus::Pending,
                attempts: 0,
                next_attempt_at: later,
                lease_owner: None,
                lease_until: None,
                last_status: None,
                last_error: None,
                created_at: T0,
                done_at: None,
            })
            .collect();
        db.write(|c| {
            kyukit_server::db::push::insert_outbox(c, &rows)
                .map_err(kyukit_server::db::DbError::from)
        })
        .unwrap();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (db, barrier) = (db.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let owner = format!("instance-{i}");
                    let mut mine = Vec::new();
                    barrier.wait();
                    loop {
                        let got =
                            kyukit_server::service::push::lease_due(&db, &owner, later, 120, 3)
                                .unwrap();
                        if got.is_empty() {
                            break;
                        }
                        mine.extend(got.into_iter().map(|l| l.row.id));
                    }
                    (owner, mine)
                })
            })
            .collect();
        let mut all = std::collections::BTreeMap::new();
        for t in threads {
            let (owner, ids) = t.join().unwrap();
            for id in ids {
                if let Some(first) = all.insert(id.clone(), owner.clone()) {
                    panic!("row {id} leased by {first} and {owner}");
                }
            }
        }
        assert_eq!(all.len(), 40, "every due row leased exactly once");
        let leased = outbox(&db);
        assert!(leased.iter().all(|r| r.lease_owner.as_deref()
            == all.get(&r.id).map(String::as_str)
            && r.lease_until == Some(later + 120)));
    }
);
