//! Several server instances on one PostgreSQL database (issue 8): an ED watching instance A sees
//! what a crew posts to instance B (LISTEN/NOTIFY), and escalation runs once however many
//! instances check. PostgreSQL only: SQLite is one process by design.

use kyukit_field::Client;
use kyukit_tests::field::{
    MEDIC_PASSWORD, add_staff, audit_events, create_facility, medic_client, staff_token, world,
};
use kyukit_tests::sse::Sse;
use kyukit_tests::{Backend, json, spawn_app};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ed_on_instance_a_sees_a_report_posted_to_instance_b() {
    let Some(a) = spawn_app(Backend::Postgres).await else {
        eprintln!("SKIPPED on PostgreSQL: KYUKIT_TEST_PG_URL not set (tests/run.sh sets it)");
        return;
    };
    let b = a.spawn_instance();
    let w = world(&a).await;
    let hid = create_facility(&a, &w.admin, "hospital", "きぬ医師会病院").await;
    add_staff(&a, &w.admin, &hid, "ed1", "ed_staff").await;
    let ed = staff_token(&a, "ed1", MEDIC_PASSWORD).await;
    // The ED watches instance A.
    let mut feed_a = Sse::new(
        a.client
            .get(a.url("/api/v1/hospital/feed"))
            .bearer_auth(&ed)
            .send()
            .await
            .unwrap(),
    )
    .await;
    // The crew talks to instance B only (same device key, device id and session).
    let on_a = medic_client(&a, &w).await;
    let clock = a.clock.clone();
    let crew = Client::new(&b.base, on_a.key().clone())
        .unwrap()
        .with_device_id(on_a.device_id().unwrap())
        .with_session(on_a.session().unwrap())
        .with_clock(move || clock.now_for_tests());
    let scan = crew.scan(&w.card_url, "INC-B").await.expect("scan on B");
    let inc = crew
        .open_incident("INC-B", scan["access_id"].as_str())
        .await
        .expect("open on B");
    let iid = inc["id"].as_str().unwrap().to_string();
    crew.send_report(
        &iid,
        &json!({"base_version": 0, "chief_complaint": "意識障害", "activation": "stroke",
                "last_known_well_unknown": true}),
    )
    .await
    .unwrap();
    let sent = Instant::now();
    crew.inquire(&iid, &[&hid]).await.expect("inquiry on B");
    let e = feed_a
        .next_of("inquiry", Duration::from_secs(5))
        .await
        .expect("instance A's stream is woken by B's commit");
    assert_eq!(e.data["incident_id"], iid.as_str());
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "within 2 s: {:?}",
        sent.elapsed()
    );

    // Escalation: both instances check every 100 ms; the alert escalates exactly once.
    a.clock.advance(181);
    assert!(
        feed_a
            .next_of("escalated", Duration::from_secs(5))
            .await
            .is_some()
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let n = audit_events(&a)
        .iter()
        .filter(|e| e.action == "incident.escalate")
        .count();
    assert_eq!(n, 1, "escalated once across two instances");
    assert!(
        feed_a
            .next_of("escalated", Duration::from_millis(500))
            .await
            .is_none(),
        "one escalation event"
    );
}
