//! Slow and greedy clients (issue 20 item 6): stalled request bodies are answered `408
//! body_timeout` and closed within the body deadline while `/healthz` keeps answering; one address
//! over its connection cap is refused (`429 too_many_connections`) without holding the server;
//! public facility applications are limited per address (item 7).

use kyukit_server::connections::SlowClientLimits;
use kyukit_tests::*;
use reqwest::StatusCode;
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const STALLED: usize = 2_000;
/// Longer than opening 2,000 connections takes on a busy machine (0.1–0.3 s seen; 3–5 s before the
/// listen backlog was raised from the standard library's 128 to 4,096), so all of them
/// are open while `/healthz` is checked.
const IDLE: Duration = Duration::from_secs(6);
/// Scheduling slack on a busy machine on top of the documented deadline.
const SLACK: Duration = Duration::from_secs(3);

fn server_addr(app: &TestApp) -> SocketAddr {
    app.base
        .trim_start_matches("http://")
        .parse()
        .expect("base is http://ip:port")
}

/// `n` connections from 127.0.0.2 (another loopback address than the checks' 127.0.0.1), each
/// sending headers that announce a 1,000-byte body and then only 12 bytes of it.
async fn stall(server: SocketAddr, n: usize) -> Vec<TcpStream> {
    let request = "POST /api/v1/sessions HTTP/1.1\r\nHost: kyukit.test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"login_id\":";
    let mut conns = Vec::with_capacity(n);
    // In batches, so the listen backlog is never the limit being measured.
    for batch in 0..n.div_ceil(200) {
        let size = 200.min(n - batch * 200);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..size {
            tasks.spawn(async move {
                let socket = TcpSocket::new_v4().expect("socket");
                socket
                    .bind("127.0.0.2:0".parse().expect("addr"))
                    .expect("bind 127.0.0.2");
                let mut s = socket.connect(server).await.expect("connect");
                s.write_all(request.as_bytes()).await.expect("write");
                s
            });
        }
        while let Some(s) = tasks.join_next().await {
            conns.push(s.expect("task"));
        }
    }
    conns
}

/// Reads what the server sends until it closes the connection: the status code (0 if it was
/// reset before a response arrived: closing a socket with unread request bytes sends a TCP reset,
/// which can overtake the response) and when it closed. `None` if still open at `deadline`.
async fn until_closed(mut s: TcpStream, deadline: Instant) -> Option<(u16, Instant)> {
    let mut buf = Vec::new();
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, s.read_to_end(&mut buf)).await {
        Err(_) => return None,
        Ok(Err(e)) if e.kind() != std::io::ErrorKind::ConnectionReset => return None,
        Ok(_) => {}
    }
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Some((status, Instant::now()))
}

/// `GET /healthz` from 127.0.0.2 on a new connection: its status.
async fn probe_from_127_0_0_2(server: SocketAddr) -> u16 {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.2:0".parse().expect("addr"))
        .expect("bind");
    let mut s = socket.connect(server).await.expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: kyukit.test\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let (status, _) = until_closed(s, Instant::now() + Duration::from_secs(5))
        .await
        .expect("answered");
    status
}

/// Nine `/healthz` requests from 127.0.0.1, each on a new connection: their times.
async fn healthz_times(app: &TestApp) -> Vec<Duration> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let mut times = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        let r = client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("healthz");
        assert_eq!(r.status(), StatusCode::OK);
        times.push(t.elapsed());
    }
    times
}

/// The median answers within 250 ms (on an idle machine it is 0.3–4 ms; other builds running on
/// the two cores stretch it) and none takes a second: the server is not held by the stalled ones.
fn assert_healthz_answers(times: &[Duration]) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    eprintln!("healthz with the stalled bodies open: median {median:?} of {times:?}");
    assert!(
        median < Duration::from_millis(250) && sorted.iter().all(|t| *t < Duration::from_secs(1)),
        "/healthz must answer within 250 ms while bodies stall: {times:?}"
    );
}

fn no_cap(c: &mut kyukit_server::config::Config) {
    c.slow_clients = SlowClientLimits {
        per_addr: 0,
        body_idle: IDLE,
        body_total: IDLE,
    };
}

both_backends!(
    stalled_bodies_are_closed_and_healthz_answers,
    config = no_cap,
    |app: TestApp| async move {
        kyukit_server::connections::raise_fd_limit();
        let started = Instant::now();
        let conns = stall(server_addr(&app), STALLED).await;
        let stalled_at = Instant::now();
        eprintln!(
            "{STALLED} stalled bodies sent in {:?}",
            stalled_at - started
        );
        assert!(
            stalled_at - started < IDLE,
            "all {STALLED} are open while /healthz is checked"
        );
        assert_healthz_answers(&healthz_times(&app).await);
        // Every stalled connection is answered 408 body_timeout and closed within the idle
        // deadline (plus slack), none later.
        let deadline = stalled_at + IDLE + SLACK;
        let mut reads = tokio::task::JoinSet::new();
        for s in conns {
            reads.spawn(until_closed(s, deadline));
        }
        let (mut closed, mut latest) = (0, Duration::ZERO);
        while let Some(r) = reads.join_next().await {
            let (status, at) = r
                .expect("task")
                .expect("every stalled connection is closed by the deadline");
            assert_eq!(status, 408, "a stalled body is answered 408");
            latest = latest.max(at.duration_since(stalled_at));
            closed += 1;
        }
        eprintln!("{closed} stalled connections closed; the last {latest:?} after the stall");
        assert_eq!(closed, STALLED);
        // The server still serves, and the stalled requests wrote nothing.
        let r = app.get("/healthz", None).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
);

/// Long enough that the 64 held connections are still open while the others are refused, on a
/// busy machine.
/// Longer than the cap test's 1,936 refusals take on a machine busy with other builds (a 6 s
/// deadline was once exceeded there), so the 64 are still held while the rest are refused.
const CAP_IDLE: Duration = Duration::from_secs(12);

/// The `kyukit_connections_open` gauge, read on a new connection from 127.0.0.1.
async fn open_connections(app: &TestApp) -> usize {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let text = client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix("kyukit_connections_open "))
        .and_then(|v| v.trim().parse().ok())
        .expect("kyukit_connections_open in /metrics")
}

fn cap_64(c: &mut kyukit_server::config::Config) {
    c.slow_clients = SlowClientLimits {
        per_addr: 64,
        body_idle: CAP_IDLE,
        body_total: CAP_IDLE,
    };
}

both_backends!(
    one_address_over_its_connection_cap_is_refused,
    config = cap_64,
    |app: TestApp| async move {
        kyukit_server::connections::raise_fd_limit();
        let server = server_addr(&app);
        // Connections open before (the metrics request's own, any the test client keeps).
        let before = open_connections(&app).await;
        let held = stall(server, 64).await;
        // A connected socket may still wait in the listen backlog, and workers count the
        // connections they accept in any order: wait until the server counts all 64 before the
        // rest arrive.
        let give_up = Instant::now() + Duration::from_secs(20);
        while open_connections(&app).await < before + 64 {
            assert!(
                Instant::now() < give_up,
                "the server accepts the 64 connections"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            probe_from_127_0_0_2(server).await,
            429,
            "the 65th is refused"
        );
        let held_at = Instant::now();
        // The rest from the same address are answered 429 at once and closed, while the 64 wait
        // for their bodies.
        let more = stall(server, STALLED - 64).await;
        let mut reads = tokio::task::JoinSet::new();
        for s in more {
            reads.spawn(until_closed(s, Instant::now() + CAP_IDLE));
        }
        let (mut refused, mut answered_429) = (0, 0);
        while let Some(r) = reads.join_next().await {
            let (status, _) = r.expect("task").expect("refused and closed promptly");
            assert!(
                status == 429 || status == 0,
                "over the cap: 429 too_many_connections (or the reset that overtook it), not {status}"
            );
            refused += 1;
            answered_429 += usize::from(status == 429);
        }
        let refused_in = held_at.elapsed();
        assert!(
            refused_in < CAP_IDLE,
            "the check ran while the 64 were held ({refused_in:?})"
        );
        // Another address is not affected by 127.0.0.2's cap.
        assert_healthz_answers(&healthz_times(&app).await);
        let deadline = held_at + CAP_IDLE + SLACK;
        let mut reads = tokio::task::JoinSet::new();
        for s in held {
            reads.spawn(until_closed(s, deadline));
        }
        let mut timed_out = 0;
        while let Some(r) = reads.join_next().await {
            let (status, _) = r.expect("task").expect("closed by the body deadline");
            assert_eq!(status, 408);
            timed_out += 1;
        }
        eprintln!(
            "cap 64: {timed_out} held until the body deadline, {refused} refused in {refused_in:?} ({answered_429} read the 429 before the reset)"
        );
        assert!(answered_429 > 0, "the refusal says why");
        assert_eq!((timed_out, refused), (64, STALLED - 64));
        // Once they are closed, the address gets through again.
        let status = probe_from_127_0_0_2(server).await;
        assert_eq!(
            status, 200,
            "the address's connections were uncounted on close"
        );
    }
);

fn application(n: usize) -> serde_json::Value {
    json!({
        "kind": "clinic",
        "name_ja": format!("テスト診療所{n}"),
        "name_en": format!("Test Clinic {n}"),
        "address": "茨城県常総市水海道諏訪町3222-3",
        "phone": "0297-23-2111",
        "contact_email": "jimu@example.jp",
        "system_manager": {"name": "管理 太郎", "phone": "0297-23-2112"},
        "listed": true
    })
}

both_backends!(
    one_address_cannot_fill_the_application_queue,
    |app: TestApp| async move {
        // The default: 10 applications per address per hour; the 11th is refused, and 1,000
        // waiting applications (the queue's cap) would take one address 100 hours.
        let mut statuses = Vec::new();
        for n in 0..12 {
            let r = app
                .post("/api/v1/facility-applications", None, application(n))
                .await;
            statuses.push(r.status().as_u16());
            if r.status() == StatusCode::TOO_MANY_REQUESTS {
                let body: serde_json::Value = r.json().await.expect("json");
                assert_eq!(body["error"], "rate_limited");
                assert!(body["message"].as_str().unwrap_or("").contains("hour"));
            }
        }
        assert_eq!(&statuses[..10], &[201; 10], "{statuses:?}");
        assert_eq!(&statuses[10..], &[429, 429], "{statuses:?}");
        // A genuine applicant from another address still gets through.
        let client = reqwest::Client::builder()
            .local_address("127.0.0.3".parse::<std::net::IpAddr>().expect("ip"))
            .build()
            .expect("client");
        let r = client
            .post(app.url("/api/v1/facility-applications"))
            .json(&application(99))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::CREATED);
    }
);
