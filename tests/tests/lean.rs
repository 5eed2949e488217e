//! The lean PostgreSQL scan path (issue 23), counted by the server's own `/metrics`: a signed
//! scan takes one read-pool connection, sends no validation `SELECT 1` while connections are in
//! use (only after one sat idle), and few statements; a connection PostgreSQL closed (as a
//! restart or a failover does) is closed, not handed out again.

use kyukit_tests::field::*;
use kyukit_tests::*;

/// The value of a counter in `/metrics` (0 if absent: the metric is new).
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

async fn metrics(app: &TestApp) -> String {
    app.get("/metrics", None)
        .await
        .text()
        .await
        .expect("metrics")
}

/// Scans, in sequence.
const N: u64 = 12;

both_backends!(
    a_scan_is_one_checkout_without_validation_and_few_statements,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;
        // Warm: connections open, statements prepared.
        for i in 0..3 {
            medic
                .scan(&w.card_url, &format!("R8-1207-W{i}"))
                .await
                .expect("scan");
        }
        let before = metrics(&app).await;
        for i in 0..N {
            medic
                .scan(&w.card_url, &format!("R8-1207-{i}"))
                .await
                .expect("scan");
        }
        let after = metrics(&app).await;
        let delta = |name| metric(&after, name) - metric(&before, name);
        let checkouts = delta("kyukit_db_checkouts_total");
        let validated = delta("kyukit_db_checkouts_validated_total");
        let statements = delta("kyukit_db_statements_total");
        eprintln!(
            "{:?}: {N} scans, {checkouts} checkouts, {validated} validated, {statements} statements",
            app.backend
        );
        // One checkout per scan; the background tasks (the push worker's idle check every
        // 500 ms, the escalation pass) take a few more meanwhile.
        assert!(checkouts >= N, "{checkouts} checkouts for {N} scans");
        assert!(
            checkouts <= N + N / 2,
            "{checkouts} checkouts for {N} scans: more than one a scan"
        );
        match app.backend {
            Backend::Postgres => {
                // Connections in use are not validated (a connection idle for a second would
                // be: allow for a stalled machine).
                assert!(validated <= 2, "{validated} validations during {N} scans");
                // Per scan: the device and its nonce, the session, the issuer keys, the card
                // with its resident and consent, the items; the write's savepoint, nonce,
                // re-check, access row and release; the batch's begin, audit append and
                // commit with the audit head (one batch a scan, in sequence): 15; plus the
                // background tasks' (the escalation pass runs every 100 ms here). Before the
                // lean path: ≈ 5 validations and 3 more reads a scan.
                assert!(
                    statements <= 20 * N,
                    "{statements} statements for {N} scans ({:.1} a scan)",
                    statements as f64 / N as f64
                );
            }
            Backend::Sqlite => {
                assert_eq!(validated, 0, "a SQLite file is never validated");
                assert_eq!(statements, 0, "statements are counted on PostgreSQL only");
            }
        }
    }
);

both_backends!(
    a_connection_postgresql_closed_is_not_handed_out_again,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;
        medic.scan(&w.card_url, "R8-1207-A").await.expect("scan");
        if app.backend != Backend::Postgres {
            return;
        }
        // PostgreSQL ends every session of the server, as a restart or a failover would.
        {
            use diesel::Connection;
            use diesel::connection::SimpleConnection;
            let mut admin = diesel::PgConnection::establish(&app.database_url).expect("connect");
            admin
                .batch_execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                )
                .expect("terminate the server's sessions");
        }
        // At once (the connections were used less than a second ago, so they are not
        // validated): the requests that meet a dead connection fail, and it is closed; the
        // background tasks, which use the pool every 100–500 ms, meet some of them first.
        // A dead connection handed out again would fail every request from here on.
        let (mut failures, mut in_a_row) = (0, 0);
        for i in 0..20 {
            match medic.scan(&w.card_url, &format!("R8-1207-B{i}")).await {
                Ok(_) => in_a_row += 1,
                Err(e) => {
                    eprintln!("scan {i} after the sessions ended: {e}");
                    failures += 1;
                    in_a_row = 0;
                }
            }
            if in_a_row == 5 {
                break;
            }
        }
        assert_eq!(
            in_a_row, 5,
            "{failures} scans failed, then no 5 in a row succeeded"
        );
        let text = metrics(&app).await;
        assert!(
            metric(&text, "kyukit_db_connections_lost_total") >= 1,
            "no connection counted as lost"
        );
        // After a second idle, a connection is validated before use.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        medic.scan(&w.card_url, "R8-1207-C").await.expect("scan");
    }
);
