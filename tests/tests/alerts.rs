//! Alerts that always arrive (issue 24), end to end on SQLite and PostgreSQL: a pre-arrival push
//! that cannot be delivered within its TTL is recorded as expired and the incident escalated at
//! once (the ED and the crew see it, the crew with the hospital's phone); every push payload
//! carries the incident's version and an escalation level. The push service decrypts with
//! Mozilla's `ece` (`kyukit_tests::push`).

use diesel::prelude::*;
use kyukit_server::db::push::OutboxRow;
use kyukit_server::db::schema::push_outbox;
use kyukit_server::db::{Db, DbConnection};
use kyukit_server::domain::OutboxStatus;
use kyukit_tests::field::{
    MEDIC_PASSWORD, add_staff, audit_events, create_facility, json_of, medic_client, staff_token,
    world,
};
use kyukit_tests::push::PushService;
use kyukit_tests::sse::Sse;
use kyukit_tests::{StatusCode, T0, TestApp, Value, both_backends, json};
use reqwest::Method;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

fn rows_of(db: &Db, subscription: &str) -> Vec<OutboxRow> {
    let mut c = db.conn().expect("conn");
    let c: &mut DbConnection = &mut c;
    push_outbox::table
        .filter(push_outbox::subscription_id.eq(subscription))
        .order((push_outbox::created_at.asc(), push_outbox::id.asc()))
        .select(OutboxRow::as_select())
        .load(c)
        .expect("outbox")
}

/// Polls (up to 10 s) until the first row of `subscription` satisfies `done`.
async fn first_row_until(
    db: &Db,
    subscription: &str,
    done: impl Fn(&OutboxRow) -> bool,
) -> OutboxRow {
    for _ in 0..200 {
        if let Some(r) = rows_of(db, subscription).into_iter().next()
            && done(&r)
        {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "outbox row never got there: {:#?}",
        rows_of(db, subscription)
    );
}

async fn ed_feed(app: &TestApp, token: &str) -> Sse {
    let req = app
        .client
        .get(app.url("/api/v1/hospital/feed"))
        .bearer_auth(token);
    Sse::new(req.send().await.expect("feed")).await
}

fn report() -> Value {
    json!({
        "base_version": 0,
        "chief_complaint": "突然の胸痛、冷汗",
        "activation": "stemi",
        "vitals": {"systolic_bp": 92, "diastolic_bp": 58, "heart_rate": 118, "respiratory_rate": 26,
                   "spo2": 91, "temperature": 36.4, "glucose": 162},
        "jcs": "I-2", "gcs": {"e": 4, "v": 4, "m": 6},
        "eta_minutes": 12, "crew": ["隊長 佐藤", "救命士 鈴木"]
    })
}

both_backends!(
    an_undeliverable_alert_expires_and_escalates_and_every_payload_is_versioned,
    config = |c: &mut kyukit_server::config::Config| {
        // 10 ms of real time per schedule second; the time-based escalation far away, so only
        // the expiry can escalate here.
        c.push_backoff_unit_ms = 10;
        c.escalate_after_secs = 3600;
    },
    |app: TestApp| async move {
        let w = world(&app).await;
        let db = app.db();
        let h1 = create_facility(&app, &w.admin, "hospital", "水海道さくら病院").await;
        let h2 = create_facility(&app, &w.admin, "hospital", "守谷第一病院").await;
        add_staff(&app, &w.admin, &h1, "ed1", "ed_staff").await;
        add_staff(&app, &w.admin, &h2, "ed2", "ed_staff").await;
        let ed1 = staff_token(&app, "ed1", MEDIC_PASSWORD).await;
        let ed2 = staff_token(&app, "ed2", MEDIC_PASSWORD).await;
        let key = json_of(app.get("/api/v1/push/vapid-public-key", None).await).await;
        let svc = PushService::start(app.clock.clone(), key["public_key"].as_str().unwrap()).await;
        // Hospital 1's push service is down for good; hospital 2's works.
        svc.script("/h1", &[], 503);
        let mut subs = Vec::new();
        for (token, path) in [(&ed1, "/h1"), (&ed2, "/h2")] {
            let r = app
                .post(
                    "/api/v1/push/subscriptions",
                    Some(token),
                    svc.subscriber(path).body(None),
                )
                .await;
            assert_eq!(r.status(), StatusCode::CREATED);
            subs.push(json_of(r).await["id"].as_str().unwrap().to_string());
        }
        let mut feed1 = ed_feed(&app, &ed1).await;

        let c = medic_client(&app, &w).await;
        let mut crew = Sse::new(
            c.signed(
                Method::GET,
                "/api/v1/crew/feed",
                None,
                Some("text/event-stream"),
            )
            .await
            .expect("crew feed"),
        )
        .await;
        let scan = c.scan(&w.card_url, "INC-24").await.expect("scan");
        let inc = c
            .open_incident("INC-24", scan["access_id"].as_str())
            .await
            .expect("open");
        let iid = inc["id"].as_str().unwrap().to_string();
        let v1 = c.send_report(&iid, &report()).await.expect("report");
        c.inquire(&iid, &[&h1, &h2]).await.expect("inquiry");
        assert!(feed1.next_of("inquiry", WAIT).await.is_some());

        // Hospital 2's device has it at once, with the incident's version and level 0.
        let got = svc.wait_for(2).await;
        let h2_push = got
            .iter()
            .find(|r| r.path == "/h2")
            .expect("h2 pushed")
            .json();
        assert_eq!(h2_push["kind"], "inquiry");
        assert_eq!(h2_push["incident_id"], iid.as_str());
        assert_eq!(h2_push["version"], v1["version"]);
        assert_eq!(h2_push["escalation"], 0);

        // Hospital 1's: retried on the schedule, the test clock moved to each retry, until the
        // 600 s TTL is spent (a last try at 599 s).
        let mut times = Vec::new();
        loop {
            let seen = times.len() as i32 + 1;
            let row = first_row_until(&db, &subs[0], |r| {
                r.attempts >= seen || r.status != OutboxStatus::Pending
            })
            .await;
            if row.status != OutboxStatus::Pending {
                assert_eq!(row.status, OutboxStatus::Failed);
                assert!(
                    row.last_error.as_deref().unwrap().contains("expired"),
                    "{row:?}"
                );
                break;
            }
            times.push(row.next_attempt_at - T0);
            app.clock.set(row.next_attempt_at);
        }
        assert_eq!(times, [1, 3, 7, 15, 31, 63, 127, 255, 511, 599]);
        // The expiry escalated the incident for hospital 1: its feed, the crew (with the phone),
        // and a re-alert at escalation level 1.
        let e = feed1
            .next_of("escalated", WAIT)
            .await
            .expect("the ED sees the escalation");
        assert_eq!(e.data["incident_id"], iid.as_str());
        let e = crew
            .next_of("escalated", WAIT)
            .await
            .expect("the crew sees the escalation");
        assert_eq!(e.data["hospital_id"], h1.as_str());
        assert!(e.data["phone"].is_string(), "{}", e.data);
        assert_eq!(e.data["escalation"], 1);
        let realert = loop {
            let r = svc.received_at("/h1");
            if let Some(p) = r
                .iter()
                .map(|r| r.json())
                .find(|p| p["kind"] == "escalated")
            {
                break p;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(realert["escalation"], 1);
        assert_eq!(realert["incident_id"], iid.as_str());
        // Every push carried a version and an escalation level.
        for r in svc.received() {
            let p = r.json();
            assert!(p["version"].is_i64() && p["escalation"].is_i64(), "{p}");
            assert!(r.rs as usize > r.record_len);
        }
        let text = app.get("/metrics", None).await.text().await.unwrap();
        assert!(
            text.contains("kyukit_push_deliveries_total{outcome=\"expired\"} 1"),
            "{text}"
        );
        let escalations = audit_events(&app)
            .into_iter()
            .filter(|e| e.action == "incident.escalate")
            .count();
        assert_eq!(escalations, 1);
        assert!(svc.problems().is_empty(), "{:?}", svc.problems());
    }
);

/// The `kyukit` binary: `KYUKIT_BIN`, else `target/debug/kyukit` of this workspace (`cargo test
/// --workspace` builds it for the server's own integration tests; after changing the server,
/// `cargo build -p kyukit-server --bin kyukit` first when running this file alone).
fn kyukit_bin() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("KYUKIT_BIN") {
        return p.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        std::path::PathBuf::from,
    );
    let bin = target.join("debug/kyukit");
    assert!(
        bin.exists(),
        "{} missing: cargo build -p kyukit-server --bin kyukit",
        bin.display()
    );
    bin
}

/// A free port on 127.0.0.1 (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

both_backends!(
    sigterm_with_fifty_open_feeds_stops_the_server_within_five_seconds,
    |app: TestApp| async move {
        // The data (a hospital, its ED staff member's session) is made through the in-process
        // server; the real `kyukit serve` binary then runs on the same database and data
        // directory, on a clock starting at the same instant.
        let admin = kyukit_tests::field::admin_token(&app).await;
        let hosp = create_facility(&app, &admin, "hospital", "きぬ医師会病院").await;
        add_staff(&app, &admin, &hosp, "ed1", "ed_staff").await;
        let token = staff_token(&app, "ed1", MEDIC_PASSWORD).await;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&app.data_dir, std::fs::Permissions::from_mode(0o700))
                .expect("chmod 700");
        }
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(app.data_dir.join("serve.log")).expect("log");
        let mut cmd = std::process::Command::new(kyukit_bin());
        cmd.args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--public-url",
        ])
        .arg(kyukit_tests::PUBLIC_URL)
        .arg("--data-dir")
        .arg(&app.data_dir)
        .env("KYUKIT_TEST_CLOCK_START", "2026-11-21T00:01:00Z")
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
        if app.backend == kyukit_tests::Backend::Postgres {
            cmd.env("DATABASE_URL", &app.database_url);
        }
        let mut child = cmd.spawn().expect("kyukit serve");
        let client = reqwest::Client::new();
        let mut up = false;
        for _ in 0..300 {
            if let Ok(r) = client.get(format!("{base}/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !up {
            let _ = child.kill();
            panic!(
                "kyukit serve did not start: {}",
                std::fs::read_to_string(app.data_dir.join("serve.log")).unwrap_or_default()
            );
        }
        // 50 open feeds, each seen live (its opening comment read) ...
        let mut feeds = Vec::new();
        for _ in 0..50 {
            let mut r = client
                .get(format!("{base}/api/v1/hospital/feed"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("feed");
            assert_eq!(r.status(), StatusCode::OK);
            let first = r.chunk().await.expect("read").expect("a first chunk");
            assert!(String::from_utf8_lossy(&first).contains("connected"));
            feeds.push(r);
        }
        // ... and one more its client has already closed.
        let closed = client
            .get(format!("{base}/api/v1/hospital/feed"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("feed");
        drop(closed);
        let metrics = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let open: i64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("kyukit_feed_clients "))
            .expect("kyukit_feed_clients")
            .parse()
            .unwrap();
        assert!(open >= 50, "{open} feed clients");

        let sent = std::time::Instant::now();
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(kill.success());
        // Every feed ends at once (the body is complete: EOF, not a reset) ...
        for mut r in feeds {
            let end = tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    match r.chunk().await {
                        Ok(Some(_)) => continue,
                        Ok(None) => return true,
                        Err(_) => return false,
                    }
                }
            })
            .await;
            assert!(
                end.is_ok(),
                "a feed still open {:?} after SIGTERM",
                sent.elapsed()
            );
        }
        // ... and the process exits, cleanly, within five seconds.
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if sent.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("kyukit serve still running 10 s after SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let took = sent.elapsed();
        assert!(took < Duration::from_secs(5), "exited after {took:?}");
        assert!(status.success(), "{status:?}");
        let log = std::fs::read_to_string(app.data_dir.join("serve.log")).unwrap();
        assert!(log.contains("shutting down"), "{log}");
    }
);

/// A new, empty place to restore into (its own data directory and database).
fn fresh_target(app: &TestApp) -> (std::path::PathBuf, String) {
    let data_dir = app
        .data_dir
        .join(format!("restored-{}", kyukit_tests::random_hex(4)));
    let url = match app.backend {
        kyukit_tests::Backend::Sqlite => data_dir.join("kyukit.db").display().to_string(),
        kyukit_tests::Backend::Postgres => {
            use diesel::connection::SimpleConnection;
            let base = kyukit_tests::pg_base_url().expect("cluster");
            let name = format!("kyukit_restore_{}", kyukit_tests::random_hex(8));
            diesel::PgConnection::establish(&base)
                .expect("connect")
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create database");
            base.replacen("/postgres?", &format!("/{name}?"), 1)
        }
    };
    (data_dir, url)
}

async fn hospital_feed(base: &str, token: &str, last: Option<i64>) -> Sse {
    let mut req = reqwest::Client::new()
        .get(format!("{base}/api/v1/hospital/feed"))
        .bearer_auth(token);
    if let Some(id) = last {
        req = req.header("Last-Event-ID", id.to_string());
    }
    Sse::new(req.send().await.expect("feed")).await
}

both_backends!(
    a_board_resuming_above_the_head_after_a_restore_is_told_to_reload,
    |app: TestApp| async move {
        use kyukit_server::service::backup::{self, Target};
        let w = world(&app).await;
        let h1 = create_facility(&app, &w.admin, "hospital", "水海道さくら病院").await;
        add_staff(&app, &w.admin, &h1, "ed1", "ed_staff").await;
        let ed1 = staff_token(&app, "ed1", MEDIC_PASSWORD).await;
        let c = medic_client(&app, &w).await;
        let scan = c.scan(&w.card_url, "INC-R").await.expect("scan");
        let inc = c
            .open_incident("INC-R", scan["access_id"].as_str())
            .await
            .expect("open");
        let iid = inc["id"].as_str().unwrap().to_string();
        c.send_report(&iid, &report()).await.expect("report");
        let mut board = hospital_feed(&app.base, &ed1, Some(0)).await;
        c.inquire(&iid, &[&h1]).await.expect("inquiry");
        let asked = board.next_of("inquiry", WAIT).await.expect("inquiry seen");
        let head_at_backup = asked.id.unwrap();

        // The backup (`kyukit backup create`), taken with the inquiry in it.
        let to = app.data_dir.join("backups");
        std::fs::create_dir_all(&to).unwrap();
        let target = Target::new(&app.data_dir, Some(&app.database_url)).unwrap();
        let made = {
            let (target, to) = (target.clone(), to.clone());
            tokio::task::spawn_blocking(move || backup::create(&target, &to, 7, T0 + 100))
                .await
                .unwrap()
                .unwrap()
        };
        // Afterwards the board sees more: an acknowledgement and an acceptance.
        for what in ["acknowledge", "answer"] {
            let body = (what == "answer").then(|| json!({"decision": "accept"}));
            let r = app
                .send(
                    Method::POST,
                    &format!("/api/v1/hospital/incidents/{iid}/{what}"),
                    Some(&ed1),
                    body,
                )
                .await;
            assert_eq!(r.status(), StatusCode::OK, "{what}");
        }
        let mut last = head_at_backup;
        while let Some(e) = board.next(Duration::from_millis(500)).await {
            last = e.id.unwrap();
        }
        assert!(last >= head_at_backup + 2, "{last}");
        drop(board);

        // Disaster: the data are restored (`kyukit restore`) into a new place and a server
        // started on them. The board comes back with its Last-Event-ID, above the new head.
        let (data_dir, url) = fresh_target(&app);
        let elsewhere = Target::new(&data_dir, Some(&url)).unwrap();
        {
            let generation = made.dir.clone();
            tokio::task::spawn_blocking(move || backup::restore(&generation, &elsewhere, false))
                .await
                .unwrap()
                .unwrap();
        }
        let mut config = kyukit_server::config::Config::new(
            "127.0.0.1:0".parse().unwrap(),
            data_dir.clone(),
            kyukit_tests::PUBLIC_URL.into(),
        );
        config.database_url = Some(kyukit_server::db::DatabaseUrl::parse(&url).unwrap());
        config.escalation_tick_ms = 100;
        let server =
            kyukit_server::startup::Application::build(&config, app.clock.clone()).unwrap();
        let base = format!("http://127.0.0.1:{}", server.port());
        tokio::spawn(server.run_until_stopped());

        let mut board = hospital_feed(&base, &ed1, Some(last)).await;
        let reset = board.next(WAIT).await.expect("a reset event");
        assert_eq!(reset.event, "reset");
        assert_eq!(reset.id, Some(head_at_backup), "its id is the head");
        assert_eq!(reset.data["head"], head_at_backup);
        assert_eq!(reset.data["last_event_id"], last);
        // Reloading shows the restored state: asked, not yet acknowledged.
        let list: Value = reqwest::Client::new()
            .get(format!("{base}/api/v1/hospital/incidents"))
            .bearer_auth(&ed1)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list[0]["id"], iid.as_str());
        assert!(list[0]["target"]["acknowledged_at"].is_null(), "{list}");
        // New events then follow, numbered on from the head.
        let r = reqwest::Client::new()
            .post(format!(
                "{base}/api/v1/hospital/incidents/{iid}/acknowledge"
            ))
            .bearer_auth(&ed1)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let next = board.next(WAIT).await.expect("a new event after the reset");
        assert_eq!(next.event, "acknowledged");
        assert_eq!(next.id, Some(head_at_backup + 1));
        // A board resuming at or below the head is not reset.
        let mut fine = hospital_feed(&base, &ed1, Some(head_at_backup)).await;
        let e = fine.next(WAIT).await.expect("the missed event");
        assert_eq!(
            (e.event.as_str(), e.id),
            ("acknowledged", Some(head_at_backup + 1))
        );
        for name in backup::generations(&to).unwrap() {
            backup::remove_generation(&to.join(name)).unwrap();
        }
    }
);
