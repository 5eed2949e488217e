//! A session's once-a-minute touch never waits for a lock (PostgreSQL). The national-shape bench
//! stalled the whole server: 10,000 feeds re-check their (800) sessions every 15 s, the touches
//! of one session went to several group-commit writers at once, the writers' batches locked the
//! same session rows in different orders, PostgreSQL broke each deadlock after 1 s by failing one
//! touch (its feed ended), and every write of the server — the crews' reports — queued behind
//! them (docs/scaling.md "National shape"). A touch now skips a session row another transaction
//! holds: that transaction is touching it already.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use kyukit_tests::field::{MEDIC_PASSWORD, add_staff, create_facility, staff_token, world};
use kyukit_tests::{Backend, spawn_app};
use std::time::Duration;

fn last_seen(pg: &mut PgConnection) -> Vec<i64> {
    diesel::sql_query("SELECT last_seen_at FROM sessions")
        .load::<LastSeen>(pg)
        .expect("sessions")
        .into_iter()
        .map(|r| r.last_seen_at)
        .collect()
}

#[derive(QueryableByName)]
struct LastSeen {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    last_seen_at: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_session_touch_skips_a_locked_session_row_instead_of_waiting() {
    let Some(app) = spawn_app(Backend::Postgres).await else {
        eprintln!("SKIPPED on PostgreSQL: KYUKIT_TEST_PG_URL not set (tests/run.sh sets it)");
        return;
    };
    let w = world(&app).await;
    let hid = create_facility(&app, &w.admin, "hospital", "きぬ医師会病院").await;
    add_staff(&app, &w.admin, &hid, "ed1", "ed_staff").await;
    let ed = staff_token(&app, "ed1", MEDIC_PASSWORD).await;
    // The next request of every session is due its touch (a write).
    app.clock.advance(61);
    let now = app.clock.now_for_tests();

    // Another transaction holds every session row (as another writer's batch touching them).
    let mut other = PgConnection::establish(&app.database_url).expect("second connection");
    other
        .batch_execute("BEGIN; SELECT token_hash FROM sessions FOR UPDATE")
        .expect("lock the sessions");

    let feed = || async {
        tokio::time::timeout(
            Duration::from_secs(5),
            app.client
                .get(app.url("/api/v1/hospital/feed"))
                .bearer_auth(&ed)
                .send(),
        )
        .await
    };
    // Answered at once (the touch skipped the locked row), not after the lock is released.
    let answered = feed().await;
    let r = answered
        .expect("a request whose session touch met a locked row hung (≥ 5 s)")
        .expect("answered");
    assert_eq!(r.status(), 200);
    drop(r);
    other.batch_execute("ROLLBACK").expect("release");
    assert!(
        !last_seen(&mut other).contains(&now),
        "the skipped touch wrote nothing"
    );

    // Unlocked: the touch is written as before (the idle timeout keeps working).
    let r = feed().await.expect("answered").expect("answered");
    assert_eq!(r.status(), 200);
    drop(r);
    assert!(
        last_seen(&mut other).contains(&now),
        "the due touch was written once the row was free"
    );
}
