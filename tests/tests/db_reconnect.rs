//! The database connections cut under a running server (issue 23): what a PostgreSQL failover
//! does to an instance — every backend of the pool, the group-commit writers and the `LISTEN`
//! thread terminated at once (`pg_terminate_backend`, SQLSTATE 57P01, as a fast shutdown or a
//! dead primary does). Each following request either succeeds on a fresh connection or answers
//! `503 unavailable` with `Retry-After` — never a 500, never a silent loss — and the one after a
//! 503 succeeds. PostgreSQL only: a SQLite file has no connection to lose.

use diesel::prelude::*;
use kyukit_tests::field::{medic_client, world};
use kyukit_tests::{Backend, StatusCode, TestApp, Value, json, pg_base_url, spawn_app};
use reqwest::Method;
use std::time::Duration;

/// Terminates every backend of the app's database (from a separate administrator connection);
/// returns how many.
fn terminate_backends(app: &TestApp) -> i64 {
    let base = pg_base_url().expect("PostgreSQL");
    let name = app
        .database_url
        .split('?')
        .next()
        .and_then(|url| url.rsplit_once('/'))
        .map(|(_, name)| name)
        .expect("database name")
        .to_string();
    let mut admin = diesel::PgConnection::establish(&base).expect("admin connection");
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )))
    .get_result(&mut admin)
    .expect("terminate")
}

/// Runs `request` until it succeeds: each answer is a success or `503 unavailable` with
/// `Retry-After`; a 503 must be followed by a success. Returns the successful answer and how many
/// 503s came first.
async fn through<F, Fut>(what: &str, request: F) -> (Value, usize)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    let mut refused = 0;
    loop {
        let r = request().await;
        let status = r.status();
        if status.is_success() {
            let body = if status == StatusCode::NO_CONTENT {
                Value::Null
            } else {
                r.json().await.expect("json")
            };
            return (body, refused);
        }
        let retry_after = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap_or("").to_string());
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{what}: a lost connection answers 503, not {status}: {body}"
        );
        assert_eq!(body["error"], "unavailable", "{what}: {body}");
        let secs: u64 = retry_after
            .as_deref()
            .unwrap_or_else(|| panic!("{what}: a 503 without Retry-After"))
            .parse()
            .expect("Retry-After in seconds");
        assert!((1..=30).contains(&secs), "{what}: Retry-After {secs}");
        refused += 1;
        assert_eq!(refused, 1, "{what}: the request after a 503 must succeed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_after_the_database_connections_are_cut_succeed_or_answer_503_retry_after() {
    let Some(app) = spawn_app(Backend::Postgres).await else {
        eprintln!("SKIPPED on PostgreSQL: KYUKIT_TEST_PG_URL not set (tests/run.sh sets it)");
        return;
    };
    let w = world(&app).await;
    let medic = medic_client(&app, &w).await;
    let dataset = format!("/api/v1/residents/{}/dataset", w.rid);
    let token = w.resident_token.clone();
    let mut kept = Vec::new();
    for round in 0..3 {
        // Every connection the server holds is in use or idle in its pool now.
        let cut = terminate_backends(&app);
        assert!(
            cut >= 2,
            "round {round}: the pool and the writers had connections ({cut})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Writes first: one per group-commit writer (each holds its own dead connection), and
        // more — none may be a 500, and each 503 must be followed by a success.
        for n in 0..6 {
            let (item, _) = through("dataset write", || {
                app.post(
                    &dataset,
                    Some(&token),
                    json!({"category": "medications",
                           "body": {"name": format!("再接続 {round}-{n}"), "dose": "1錠"}}),
                )
            })
            .await;
            kept.push(item["id"].as_str().expect("item id").to_string());
        }
        let (scan, _) = through("scan", || async {
            medic
                .signed(
                    Method::POST,
                    "/api/v1/scans",
                    Some(
                        &json!({"card": w.card_url, "incident_ref": format!("RECONNECT-{round}")}),
                    ),
                    Some("application/json"),
                )
                .await
                .expect("scan sent")
        })
        .await;
        assert!(scan["access_id"].is_string(), "{scan}");
        let (list, _) = through("dataset read", || app.get(&dataset, Some(&token))).await;
        let ids: Vec<&str> = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|i| i["id"].as_str())
            .collect();
        // Every acknowledged write is there.
        for id in &kept {
            assert!(ids.contains(&id.as_str()), "round {round}: item {id} lost");
        }
    }
    // The audit chain, written by the writers across the cuts, verifies.
    let db = app.db();
    let muni = app.municipality_id(&db);
    let entries = db
        .read(|c| {
            kyukit_server::audit::verify(c, &muni, None)
                .map_err(|e| kyukit_server::db::DbError::Unavailable(format!("{e:?}")))
        })
        .expect("the audit chain verifies");
    assert!(entries > 20, "{entries} audit entries");
}

/// kyukit-field sends a scan and a keyed change (opening an incident) again, re-signed, while the
/// server cannot be reached — as during a failover or a restart — and both go through once it is
/// back; without retries the same scan fails at once.
async fn field_client_retries_until_the_server_is_back(app: TestApp) {
    let w = world(&app).await;
    let medic = medic_client(&app, &w).await;
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr")
    };
    let clock = app.clock.clone();
    let crew = kyukit_field::Client::new(&format!("http://{addr}"), medic.key().clone())
        .expect("client")
        .with_device_id(medic.device_id().expect("device id"))
        .with_session(medic.session().expect("session"))
        .with_clock(move || clock.now_for_tests());
    let once = crew.clone().with_retry(kyukit_field::RetryPolicy::NONE);
    let e = once
        .scan(&w.card_url, "RETRY-0")
        .await
        .expect_err("nothing listens yet");
    assert_eq!(e.code(), "transport", "{e}");
    let (card, c1, c2) = (w.card_url.clone(), crew.clone(), crew.clone());
    let scan = tokio::spawn(async move { c1.scan(&card, "RETRY-1").await });
    let open = tokio::spawn(async move { c2.open_incident("RETRY-2", None).await });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(!scan.is_finished() && !open.is_finished(), "still retrying");
    let _back = app.spawn_instance_with(|c| c.listen = addr);
    let scanned = scan.await.expect("task").expect("the scan went through");
    assert!(scanned["access_id"].is_string(), "{scanned}");
    let opened = open.await.expect("task").expect("the incident was opened");
    assert!(opened["id"].is_string(), "{opened}");
}

kyukit_tests::both_backends!(
    field_client_sends_again_until_the_server_is_back,
    field_client_retries_until_the_server_is_back
);
