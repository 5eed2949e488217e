//! The escalation chain (issue 24), end to end on SQLite and PostgreSQL with the injected clock
//! and the real Web Push path (`kyukit_tests::push`, decrypting with Mozilla's `ece`): an
//! unacknowledged alert is repeated every `--escalation-repeat-secs`, reaching the hospital's
//! backup ED devices (tier 2) at level 2 and its facility manager (tier 3) at level 3; an
//! acknowledged but unanswered inquiry is re-alerted `--realert-after-secs` after the
//! acknowledgement; the crew sees every step with the level and the hospital's phone; every step
//! is taken once although two more escalation passes run beside the server's own at each moment;
//! the operator's metrics count it all.

use kyukit_field::Client;
use kyukit_server::db::Db;
use kyukit_server::feed::{Hub, Wakers};
use kyukit_server::service::incidents::{EscalationPolicy, Step, StepKind, escalate_due};
use kyukit_tests::field::{
    MEDIC_PASSWORD, add_staff, audit_events, create_facility, json_of, medic_client, staff_token,
    world,
};
use kyukit_tests::push::PushService;
use kyukit_tests::sse::{Sse, SseEvent};
use kyukit_tests::{StatusCode, T0, TestApp, Value, both_backends, json};
use reqwest::Method;
use std::time::Duration;

const AFTER: i64 = 180;
const REPEAT: i64 = 120;
const REALERT: i64 = 240;

fn policy() -> EscalationPolicy {
    EscalationPolicy {
        after_secs: AFTER,
        repeat_secs: REPEAT,
        realert_after_secs: REALERT,
    }
}

/// Two escalation passes at once, at `now`, beside the server's own (another instance's, say):
/// the steps they took.
async fn two_more_passes(dbs: &[Db; 2], muni: &str, now: i64) -> Vec<Step> {
    let mut handles = Vec::new();
    for db in dbs {
        let (db, muni) = (db.clone(), muni.to_string());
        handles.push(tokio::task::spawn_blocking(move || {
            let wake = Wakers::new(std::sync::Arc::new(Hub::default()), || {});
            escalate_due(&db, &muni, &policy(), now, &wake).expect("escalation pass")
        }));
    }
    let mut steps = Vec::new();
    for h in handles {
        steps.extend(h.await.expect("pass task"));
    }
    steps
}

/// The payloads `path` took (answered 201), in order.
fn taken(svc: &PushService, path: &str) -> Vec<Value> {
    svc.received_at(path)
        .iter()
        .filter(|r| r.answered == 201)
        .map(|r| r.json())
        .collect()
}

/// Waits (up to 10 s) until every path has taken exactly as many pushes as listed, then a little
/// longer to see that no more come.
async fn pushes_settle(svc: &PushService, want: &[(&str, usize)]) {
    let counts = || -> Vec<usize> { want.iter().map(|(p, _)| taken(svc, p).len()).collect() };
    let expected: Vec<usize> = want.iter().map(|(_, n)| *n).collect();
    for _ in 0..200 {
        if counts() == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(counts(), expected, "pushes taken by {want:?}");
}

fn metric(text: &str, name_and_labels: &str) -> u64 {
    let prefix = format!("{name_and_labels} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name_and_labels} in /metrics:\n{text}"))
        .parse()
        .unwrap()
}

async fn crew_feed(c: &Client, path: &str) -> Sse {
    Sse::new(
        c.signed(Method::GET, path, None, Some("text/event-stream"))
            .await
            .expect("crew feed"),
    )
    .await
}

async fn hospital_call(app: &TestApp, token: &str, iid: &str, what: &str, body: Option<Value>) {
    let r = app
        .send(
            Method::POST,
            &format!("/api/v1/hospital/incidents/{iid}/{what}"),
            Some(token),
            body,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{what}");
}

both_backends!(
    the_chain_repeats_reaches_the_second_tier_and_realerts_unanswered_inquiries_once_each,
    config = |c: &mut kyukit_server::config::Config| {
        c.escalate_after_secs = AFTER;
        c.escalation_repeat_secs = REPEAT;
        c.realert_after_secs = REALERT;
        // 10 ms of real time per back-off second (the retry below).
        c.push_backoff_unit_ms = 10;
    },
    |app: TestApp| async move {
        let w = world(&app).await;
        let dbs = [app.db(), app.db()];
        let muni = app.municipality_id(&dbs[0]);
        let h1 = create_facility(&app, &w.admin, "hospital", "水海道さくら病院").await;
        let h2 = create_facility(&app, &w.admin, "hospital", "守谷第一病院").await;
        add_staff(&app, &w.admin, &h1, "ed1", "ed_staff").await;
        add_staff(&app, &w.admin, &h1, "ed1b", "ed_staff").await;
        add_staff(&app, &w.admin, &h1, "mgr1", "facility_manager").await;
        add_staff(&app, &w.admin, &h2, "ed2", "ed_staff").await;
        let ed1 = staff_token(&app, "ed1", MEDIC_PASSWORD).await;
        let ed1b = staff_token(&app, "ed1b", MEDIC_PASSWORD).await;
        let mgr1 = staff_token(&app, "mgr1", MEDIC_PASSWORD).await;
        let ed2 = staff_token(&app, "ed2", MEDIC_PASSWORD).await;
        let key = json_of(app.get("/api/v1/push/vapid-public-key", None).await).await;
        let svc = PushService::start(app.clock.clone(), key["public_key"].as_str().unwrap()).await;
        // The manager's push service fails once (a retry for the metrics).
        svc.script("/t3", &[(503, None)], 201);
        // Hospital 1: ed1's board (tier 1, the default), ed1b on backup (tier 2), the manager
        // (tier 3, always); hospital 2: ed2.
        for (token, path, tier) in [
            (&ed1, "/t1", None),
            (&ed1b, "/t2", Some(2)),
            (&mgr1, "/t3", None),
            (&ed2, "/h2", None),
        ] {
            let mut body = svc.subscriber(path).body(None);
            if let Some(t) = tier {
                body["tier"] = json!(t);
            }
            let r = app
                .post("/api/v1/push/subscriptions", Some(token), body)
                .await;
            assert_eq!(r.status(), StatusCode::CREATED);
            let want = if path == "/t3" { 3 } else { tier.unwrap_or(1) };
            assert_eq!(json_of(r).await["tier"], want);
        }

        let c = medic_client(&app, &w).await;
        let live_crew = crew_feed(&c, "/api/v1/crew/feed").await;
        let live_board = Sse::new(
            app.client
                .get(app.url("/api/v1/hospital/feed"))
                .bearer_auth(&ed1)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let scan = c.scan(&w.card_url, "INC-ESC").await.expect("scan");
        let inc = c
            .open_incident("INC-ESC", scan["access_id"].as_str())
            .await
            .expect("open");
        let iid = inc["id"].as_str().unwrap().to_string();
        c.send_report(
            &iid,
            &json!({"base_version": 0, "chief_complaint": "右片麻痺、構音障害", "activation": "stroke", "last_known_well_unknown": true}),
        )
        .await
        .expect("report");
        c.inquire(&iid, &[&h1, &h2]).await.expect("inquiry");
        // The inquiry reaches tier 1 only; hospital 2 acknowledges at once but does not answer.
        pushes_settle(&svc, &[("/t1", 1), ("/t2", 0), ("/t3", 0), ("/h2", 1)]).await;
        hospital_call(&app, &ed2, &iid, "acknowledge", None).await;

        let mut by_passes: Vec<Step> = Vec::new();
        // (clock, pushes each endpoint has taken by then)
        let timeline: [(i64, [usize; 4]); 6] = [
            (AFTER - 1, [1, 0, 0, 1]),          // not yet
            (AFTER, [2, 0, 0, 1]),              // level 1: tier 1 again
            (REALERT, [2, 0, 0, 2]),            // hospital 2 re-alerted, unanswered
            (AFTER + REPEAT, [3, 1, 0, 2]),     // level 2: + the backup ED staff
            (REALERT + REPEAT, [3, 1, 0, 3]),   // hospital 2 again
            (AFTER + 2 * REPEAT, [4, 2, 0, 3]), // level 3: + the manager (503 first)
        ];
        for (i, (at, [t1, t2, t3, h2n])) in timeline.into_iter().enumerate() {
            app.clock.set(T0 + at);
            // Level 1 is left to the server's own check (every 100 ms in tests); at the other
            // moments the two extra passes start at once or a little later, racing it.
            if at != AFTER {
                tokio::time::sleep(Duration::from_millis([0, 60, 140][i % 3])).await;
                by_passes.extend(two_more_passes(&dbs, &muni, T0 + at).await);
            }
            pushes_settle(&svc, &[("/t1", t1), ("/t2", t2), ("/t3", t3), ("/h2", h2n)]).await;
        }
        // The manager's push was retried a second later; hospital 1 acknowledges then: no more
        // levels, but its re-alert clock starts.
        let acked = AFTER + 2 * REPEAT + 1;
        app.clock.set(T0 + acked);
        hospital_call(&app, &ed1, &iid, "acknowledge", None).await;
        pushes_settle(&svc, &[("/t1", 4), ("/t2", 2), ("/t3", 1), ("/h2", 3)]).await;
        // Hospital 2's third re-alert, then it declines: its chain ends.
        app.clock.set(T0 + REALERT + 2 * REPEAT);
        by_passes.extend(two_more_passes(&dbs, &muni, T0 + REALERT + 2 * REPEAT).await);
        pushes_settle(&svc, &[("/t1", 4), ("/t2", 2), ("/t3", 1), ("/h2", 4)]).await;
        hospital_call(
            &app,
            &ed2,
            &iid,
            "answer",
            Some(json!({"decision": "decline", "reason": "専門医不在"})),
        )
        .await;
        // Hospital 1, acknowledged but unanswered for REALERT: re-alerted (tier 1 only), then it
        // accepts: the chain ends for good.
        app.clock.set(T0 + acked + REALERT - 1);
        by_passes.extend(two_more_passes(&dbs, &muni, T0 + acked + REALERT - 1).await);
        pushes_settle(&svc, &[("/t1", 4), ("/t2", 2), ("/t3", 1), ("/h2", 4)]).await;
        app.clock.set(T0 + acked + REALERT);
        by_passes.extend(two_more_passes(&dbs, &muni, T0 + acked + REALERT).await);
        pushes_settle(&svc, &[("/t1", 5), ("/t2", 2), ("/t3", 1), ("/h2", 4)]).await;
        hospital_call(
            &app,
            &ed1,
            &iid,
            "answer",
            Some(json!({"decision": "accept"})),
        )
        .await;
        // The crew saw every step, with the level, the tier and the hospital's phone (replayed
        // from the start of its feed).
        let mut replay = crew_feed(&c, "/api/v1/crew/feed?last_event_id=0").await;
        let mut steps: Vec<SseEvent> = Vec::new();
        while let Some(e) = replay.next(Duration::from_millis(1500)).await {
            if e.event == "escalated" {
                steps.push(e);
            }
        }
        let seen = |hospital: &str| -> Vec<(i64, i64, String)> {
            steps
                .iter()
                .filter(|e| e.data["hospital_id"] == hospital)
                .map(|e| {
                    assert_eq!(e.data["phone"], "0297-23-0119", "{}", e.data);
                    (
                        e.data["escalation"].as_i64().unwrap(),
                        e.data["tier"].as_i64().unwrap(),
                        e.data["step"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        };
        let un = |l, t| (l, t, "unacknowledged".to_string());
        let ua = |l| (l, 1, "unanswered".to_string());
        assert_eq!(seen(&h1), [un(1, 1), un(2, 2), un(3, 3), ua(4)]);
        assert_eq!(seen(&h2), [ua(1), ua(2), ua(3)]);
        let view = c.incident(&iid, "application/json").await.unwrap();
        let target = |id: &str| {
            view["targets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["hospital"]["id"] == id)
                .cloned()
                .unwrap()
        };
        assert_eq!(
            (
                &target(&h1)["escalation"],
                &target(&h1)["unanswered_realerts"]
            ),
            (&json!(4), &json!(1))
        );
        assert_eq!(
            (
                &target(&h2)["escalation"],
                &target(&h2)["unanswered_realerts"]
            ),
            (&json!(3), &json!(3))
        );

        // The two live feeds and the replay are open (before the sessions idle out below).
        let text = app.get("/metrics", None).await.text().await.unwrap();
        assert_eq!(metric(&text, "kyukit_feed_clients"), 3);
        drop((live_crew, live_board, replay));
        // Nothing more, however long.
        app.clock.set(T0 + 3600);
        by_passes.extend(two_more_passes(&dbs, &muni, T0 + 3600).await);
        pushes_settle(&svc, &[("/t1", 5), ("/t2", 2), ("/t3", 1), ("/h2", 4)]).await;

        // What each device was told: kind and escalation level, never the same twice.
        let levels = |path: &str| -> Vec<(String, i64)> {
            taken(&svc, path)
                .iter()
                .map(|p| {
                    assert_eq!(p["incident_id"], iid.as_str());
                    assert!(p["version"].is_i64(), "{p}");
                    (
                        p["kind"].as_str().unwrap().to_string(),
                        p["escalation"].as_i64().unwrap(),
                    )
                })
                .collect()
        };
        let esc = |n: i64| ("escalated".to_string(), n);
        let inquiry = ("inquiry".to_string(), 0);
        assert_eq!(
            levels("/t1"),
            [inquiry.clone(), esc(1), esc(2), esc(3), esc(4)]
        );
        assert_eq!(levels("/t2"), [esc(2), esc(3)]);
        assert_eq!(levels("/t3"), [esc(3)]);
        assert_eq!(levels("/h2"), [inquiry, esc(1), esc(2), esc(3)]);
        assert!(svc.received().iter().all(|r| r.rs as usize > r.record_len));
        assert!(svc.problems().is_empty(), "{:?}", svc.problems());

        // Each step once: seven steps, seven audit records, however many passes ran.
        let audited: Vec<String> = audit_events(&app)
            .into_iter()
            .filter(|e| e.action == "incident.escalate")
            .map(|e| e.detail.unwrap_or_default())
            .collect();
        assert_eq!(audited.len(), 7, "{audited:#?}");
        eprintln!(
            "{} of the 7 steps taken by the test's extra passes, the others by the server's own",
            by_passes.len()
        );

        // The operator's metrics: the server's own passes plus the test's make every step once;
        // deliveries by outcome (the manager's retry).
        let text = app.get("/metrics", None).await.text().await.unwrap();
        let by_test = |kind: StepKind, level: Option<i32>| -> u64 {
            by_passes
                .iter()
                .filter(|s| s.kind == kind && level.is_none_or(|l| s.level.min(4) == l))
                .count() as u64
        };
        for (label, kind, level, want) in [
            (
                "step=\"unacknowledged\",level=\"1\"",
                StepKind::Unacknowledged,
                Some(1),
                1,
            ),
            (
                "step=\"unacknowledged\",level=\"2\"",
                StepKind::Unacknowledged,
                Some(2),
                1,
            ),
            (
                "step=\"unacknowledged\",level=\"3\"",
                StepKind::Unacknowledged,
                Some(3),
                1,
            ),
            (
                "step=\"unacknowledged\",level=\"4+\"",
                StepKind::Unacknowledged,
                Some(4),
                0,
            ),
            ("step=\"unanswered\"", StepKind::Unanswered, None, 4),
        ] {
            let server = metric(&text, &format!("kyukit_escalations_total{{{label}}}"));
            assert_eq!(server + by_test(kind, level), want, "{label}\n{text}");
        }
        // Level 1 was the server's own.
        assert_eq!(
            metric(
                &text,
                "kyukit_escalations_total{step=\"unacknowledged\",level=\"1\"}"
            ),
            1
        );
        assert_eq!(
            metric(&text, "kyukit_push_deliveries_total{outcome=\"sent\"}"),
            12
        );
        assert_eq!(
            metric(&text, "kyukit_push_deliveries_total{outcome=\"retry\"}"),
            1
        );
        assert_eq!(
            metric(&text, "kyukit_push_deliveries_total{outcome=\"expired\"}"),
            0
        );
    }
);
