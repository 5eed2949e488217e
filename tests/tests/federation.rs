//! Federation between deployments (issue 22, docs/federation.md): two real servers on loopback,
//! each with its own database (both on SQLite, or both on PostgreSQL), peered with each other by
//! the operator's CLI (`kyukit federation peer add`, the real binary). A paramedic of deployment A
//! (an enrolled device, signed requests) scans a card of deployment B: A finds the card's key
//! among its peer's, calls B with a request signed by A's server key (RFC 9421), and B answers
//! with exactly the dataset its resident consented to. Both audit chains verify (`kyukit audit
//! verify`) and hold the exchange; B's resident's access history names A's fire department and
//! deployment. A card of an issuer A does not know is refused; after B marks the card's key
//! compromised and A refreshes, the card is refused online and offline (`kyukit-field verify`
//! against A's refreshed trust list); a rollback to B's older list is refused; requests to B's
//! federation endpoint that are unsigned, signed by an unknown key, altered or replayed are
//! refused; an unreachable home deployment is a 503 `peer_unavailable`, audited at A.

use kyukit_card::{Claims, IssuerKey, KeyState, TrustList};
use kyukit_server::service::federation::{self, ServerKey};
use kyukit_tests::field::*;
use kyukit_tests::*;
use std::path::{Path, PathBuf};

const B_URL: &str = "https://qq.city.tsukuba.lg.jp/";
const A_ID: &str = "qq.city.joso.lg.jp";
const B_ID: &str = "qq.city.tsukuba.lg.jp";

fn real_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn kyukit_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("KYUKIT_BIN") {
        return p.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let bin = target.join("debug/kyukit");
    assert!(
        bin.exists(),
        "{} missing: cargo build -p kyukit-server --bin kyukit",
        bin.display()
    );
    bin
}

/// Runs the real `kyukit` binary against a test server's data directory and database (the
/// operator's command line); returns its stdout, or panics with its stderr unless `expect_ok` is
/// false (then returns stderr).
fn kyukit(app: &TestApp, public_url: &str, args: &[&str], expect_ok: bool) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&app.data_dir, std::fs::Permissions::from_mode(0o700))
            .expect("chmod 700");
    }
    let mut cmd = std::process::Command::new(kyukit_bin());
    cmd.args(args)
        .arg("--data-dir")
        .arg(&app.data_dir)
        .arg("--public-url")
        .arg(public_url)
        .env_remove("DATABASE_URL");
    if app.backend == Backend::Postgres {
        cmd.env("DATABASE_URL", &app.database_url);
    }
    let out = cmd.output().expect("run kyukit");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    if expect_ok {
        assert!(
            out.status.success(),
            "kyukit {}: {stderr}{stdout}",
            args.join(" ")
        );
        stdout
    } else {
        assert!(!out.status.success(), "kyukit {}: {stdout}", args.join(" "));
        stderr
    }
}

async fn trust_key_file(app: &TestApp, dir: &Path, name: &str) -> PathBuf {
    let jwk = app
        .get("/api/v1/trust-list/key", None)
        .await
        .text()
        .await
        .unwrap();
    let path = dir.join(name);
    std::fs::write(&path, jwk).unwrap();
    path
}

async fn trust_list(app: &TestApp) -> (Vec<u8>, TrustList) {
    let key: kyukit_card::Jwk = app
        .get("/api/v1/trust-list/key", None)
        .await
        .json()
        .await
        .unwrap();
    let key = kyukit_card::PublicKey::from_jwk(&key).unwrap();
    let bytes = app
        .get("/api/v1/trust-list", None)
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let list = kyukit_card::verify_trust_list(&bytes, &key, app.clock.now_for_tests())
        .expect("the served list verifies")
        .list;
    (bytes, list)
}

fn audit_rows(app: &TestApp, action: &str) -> Vec<kyukit_server::audit::AuditRow> {
    audit_events(app)
        .into_iter()
        .filter(|e| e.action == action)
        .collect()
}

/// Runs `kyukit-field ARGS` in process: its JSON, or its error.
async fn field(args: Vec<String>) -> Result<Value, kyukit_field::Error> {
    tokio::task::spawn_blocking(move || kyukit_field::cli::execute_args(args))
        .await
        .expect("the CLI does not panic")
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// A signed request to B's federation endpoint, sent as is.
async fn post_signed(
    b: &TestApp,
    key: &ServerKey,
    body: &[u8],
    sent_body: &[u8],
    nonce: &str,
) -> reqwest::Response {
    let authority = b.base.trim_start_matches("http://");
    let h = federation::sign_request(
        key,
        authority,
        federation::SCAN_PATH,
        body,
        b.clock.now_for_tests(),
        nonce,
    );
    b.client
        .post(b.url(federation::SCAN_PATH))
        .header("content-type", "application/json")
        .header("content-digest", h.content_digest)
        .header("signature-input", h.signature_input)
        .header("signature", h.signature)
        .body(sent_body.to_vec())
        .send()
        .await
        .unwrap()
}

async fn error_of(r: reqwest::Response) -> (StatusCode, String) {
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (status, v["error"].as_str().unwrap_or_default().to_string())
}

async fn scenario(backend: Backend) {
    let Some(a) = spawn_app(backend).await else {
        eprintln!("SKIPPED on PostgreSQL: KYUKIT_TEST_PG_URL not set (tests/run.sh sets it)");
        return;
    };
    let b = spawn_app_with(backend, |c| {
        c.public_url = B_URL.into();
        c.municipality.code = "082201".into();
        c.municipality.name_ja = "つくば市".into();
        c.municipality.name_en = "Tsukuba City".into();
    })
    .await
    .expect("the second server");
    // The operator's CLI runs on the system clock: the servers too.
    let now = real_now();
    a.clock.set(now);
    b.clock.set(now);
    let wa = world(&a).await;
    let wb = world(&b).await;
    let dir = std::env::temp_dir().join(format!("kyukit-fed-{}", random_hex(6)));
    std::fs::create_dir_all(&dir).unwrap();

    // Mutual peering by the operators, each pinning the other's trust-list key.
    let b_key = trust_key_file(&b, &dir, "b-trust-key.jwk").await;
    let a_key = trust_key_file(&a, &dir, "a-trust-key.jwk").await;
    let (b_list_before, b_list) = trust_list(&b).await;
    let added: Value = serde_json::from_str(&kyukit(
        &a,
        PUBLIC_URL,
        &[
            "federation",
            "peer",
            "add",
            "--trust-list-url",
            &b.url("/api/v1/trust-list"),
            "--trust-key",
            b_key.to_str().unwrap(),
        ],
        true,
    ))
    .unwrap();
    assert_eq!(added["deployment_id"], B_ID);
    assert_eq!(added["issuers"][0][0], "jp-082201");
    kyukit(
        &b,
        B_URL,
        &[
            "federation",
            "peer",
            "add",
            "--trust-list-url",
            &a.url("/api/v1/trust-list"),
            "--trust-key",
            a_key.to_str().unwrap(),
        ],
        true,
    );
    // Adding it twice, or a list signed by another key than the pinned one, is refused.
    let again = kyukit(
        &a,
        PUBLIC_URL,
        &[
            "federation",
            "peer",
            "add",
            "--trust-list-url",
            &b.url("/api/v1/trust-list"),
            "--trust-key",
            b_key.to_str().unwrap(),
        ],
        false,
    );
    assert!(again.contains("peer_exists"), "{again}");
    let wrong = kyukit(
        &b,
        B_URL,
        &[
            "federation",
            "peer",
            "add",
            "--trust-list-url",
            &a.url("/api/v1/trust-list"),
            "--trust-key",
            b_key.to_str().unwrap(),
        ],
        false,
    );
    assert!(wrong.contains("trust_list_unknown_signer"), "{wrong}");
    let listed: Value = serde_json::from_str(&kyukit(
        &a,
        PUBLIC_URL,
        &["federation", "peer", "list"],
        true,
    ))
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // A's trust list now names B's issuer (served by B), and A's own server key.
    let (_, a_list) = trust_list(&a).await;
    let peer_issuer = a_list.issuer("jp-082201").expect("B's issuer in A's list");
    assert_eq!(peer_issuer.deployment, B_ID);
    assert_eq!(peer_issuer.keys, b_list.issuers[0].keys);
    assert_eq!(a_list.deployment.server_keys.len(), 1);
    let a_server = ServerKey::load_or_create(&a.data_dir).unwrap();
    assert_eq!(a_list.deployment.server_keys[0], *a_server.public());
    assert!(std::fs::read_to_string(a.data_dir.join("server-key.pem")).is_ok());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(a.data_dir.join("server-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A's paramedic scans B's card: B's consented dataset, exactly.
    let medic = medic_client(&a, &wa).await;
    let d = medic
        .scan(&wb.card_url, "R8-FED-1")
        .await
        .expect("federated scan");
    let mut cats: Vec<String> = d["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    cats.sort();
    let mut shared: Vec<String> = SHARED.iter().map(|s| s.to_string()).collect();
    shared.sort();
    assert_eq!(cats, shared);
    let items = d["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for i in items {
        assert!(
            SHARED.contains(&i["category"].as_str().unwrap()),
            "not consented: {i}"
        );
    }
    // The same items and consent a paramedic of B gets from B's own scan of that card.
    let b_medic = medic_client(&b, &wb).await;
    let local = b_medic
        .scan(&wb.card_url, "R8-B-1")
        .await
        .expect("B's local scan");
    assert_eq!(d["items"], local["items"]);
    assert_eq!(d["consent"], local["consent"]);
    assert_eq!(d["patient"], local["patient"]);
    assert_eq!(d["patient"]["id"], wb.rid.as_str());
    assert_eq!(d["card_id"], wb.card_id.as_str());
    assert_eq!(d["facility_id"], format!("{A_ID}/{}", wa.fire_id));

    // Both chains verify and hold the exchange.
    for (app, url) in [(&a, PUBLIC_URL), (&b, B_URL)] {
        let out = kyukit(app, url, &["audit", "verify"], true);
        assert!(out.contains("audit log verifies"), "{out}");
    }
    let at_a = audit_rows(&a, "record.federated_scan");
    assert_eq!(at_a.len(), 1);
    assert_eq!(at_a[0].outcome, "ok");
    assert_eq!(
        at_a[0].detail.as_deref(),
        Some(format!("card {} peer {B_ID} ok", wb.card_id).as_str())
    );
    assert_eq!(at_a[0].facility_id.as_deref(), Some(wa.fire_id.as_str()));
    assert!(at_a[0].actor_account_id.is_some());
    let at_b = audit_rows(&b, "record.federated_scan");
    assert_eq!(at_b.len(), 1);
    assert_eq!(at_b[0].outcome, "ok");
    assert_eq!(at_b[0].resident_id.as_deref(), Some(wb.rid.as_str()));
    let qualified = format!("{A_ID}/{}", wa.fire_id);
    assert_eq!(at_b[0].facility_id.as_deref(), Some(qualified.as_str()));
    assert!(at_b[0].detail.as_deref().unwrap().contains(A_ID));
    assert_eq!(audit_rows(&a, "federation.peer").len(), 1);

    // B's resident's history names A's fire department and deployment.
    let history = access_history(&b, &wb).await;
    let entry = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "record.federated_scan")
        .unwrap_or_else(|| panic!("no federated scan in {history}"));
    assert_eq!(entry["facility_name"], "常総広域消防本部");
    assert_eq!(entry["deployment"], A_ID);
    assert_eq!(entry["role"], "paramedic");
    assert_eq!(entry["outcome"], "ok");

    // Offline, a device of A verifies B's card against A's trust list.
    let (key_file, state) = (dir.join("device.pem"), dir.join("device.json"));
    let st = state.to_str().unwrap().to_string();
    let code = enrollment_code(&a, &wa.admin, &wa.fire_id, 60).await;
    field(args(&[
        "enroll",
        "--server",
        &a.base,
        "--code",
        &code,
        "--key-file",
        key_file.to_str().unwrap(),
    ]))
    .await
    .expect("enroll");
    let t = (now + 1).to_string();
    field(args(&["trust-list", "fetch", "--state", &st, "--now", &t]))
        .await
        .expect("fetch");
    let verified = field(args(&[
        "verify",
        "--state",
        &st,
        "--card",
        &wb.card_url,
        "--now",
        &t,
    ]))
    .await
    .expect("B's card verifies offline against A's list");
    assert_eq!(verified["cti"], wb.card_id.as_str());

    // A card of a municipality missing from A's trust list: refused online and offline.
    let stranger = IssuerKey::from_secret_bytes(&[0x5a; 32]).unwrap();
    let mut cid = [0u8; 16];
    getrandom::fill(&mut cid).unwrap();
    let foreign = kyukit_card::sign(
        &Claims {
            card_id: kyukit_card::CardId(cid),
            issuer: None,
            issued_at: Some(now),
            expires_at: now + 86_400,
            triage: None,
        },
        &stranger,
    )
    .unwrap();
    let foreign_b64 = base64_url(&foreign);
    let e = medic.scan(&foreign_b64, "R8-FED-2").await.unwrap_err();
    assert_eq!(e.code(), "untrusted_issuer");
    let foreign_file = dir.join("foreign.cose");
    std::fs::write(&foreign_file, &foreign).unwrap();
    let e = field(args(&[
        "verify",
        "--state",
        &st,
        "--card",
        foreign_file.to_str().unwrap(),
        "--now",
        &t,
    ]))
    .await
    .unwrap_err();
    assert!(e.is_refusal());
    assert_eq!(e.code(), "unknown_issuer_key");

    // Requests to B's federation endpoint: unsigned, unknown key, altered, replayed.
    let cose = kyukit_card::parse_card_url(&wb.card_url).unwrap().cose;
    let body = serde_json::to_vec(&json!({
        "deployment": A_ID,
        "fire_department": {"id": wa.fire_id, "name_ja": "常総広域消防本部", "name_en": "Joso Fire"},
        "purpose": "scan",
        "card": base64_url(&cose),
        "incident_ref": "R8-FED-3",
    }))
    .unwrap();
    let r = b
        .client
        .post(b.url(federation::SCAN_PATH))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "signature_required".into())
    );
    let unknown_dir = dir.join("unknown");
    std::fs::create_dir_all(&unknown_dir).unwrap();
    let unknown = ServerKey::load_or_create(&unknown_dir).unwrap();
    let r = post_signed(&b, &unknown, &body, &body, &random_hex(12)).await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "peer_unknown".into())
    );
    let mut altered = body.clone();
    let n = altered.len();
    altered[n - 3] = b'9';
    let r = post_signed(&b, &a_server, &body, &altered, &random_hex(12)).await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "signature_invalid".into())
    );
    let nonce = random_hex(12);
    let r = post_signed(&b, &a_server, &body, &body, &nonce).await;
    assert_eq!(r.status(), StatusCode::OK, "A's own key, a fresh nonce");
    let r = post_signed(&b, &a_server, &body, &body, &nonce).await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "replayed_request".into())
    );

    // A backup of A, restored into a new data directory and database: the same deployment,
    // whose signed requests B still accepts without any refresh (the server key is in the
    // generation, verified, and put back 0600).
    {
        use kyukit_server::service::backup::{self, Target};
        let target = Target::new(&a.data_dir, Some(&a.database_url)).unwrap();
        let backups = dir.join("backups");
        let (made_in, at) = (backups.clone(), now);
        let made = tokio::task::spawn_blocking(move || backup::create(&target, &made_in, 1, at))
            .await
            .unwrap()
            .expect("backup of A");
        assert!(
            made.manifest
                .files
                .iter()
                .any(|f| f.path == backup::SERVER_KEY_FILE)
        );
        let (data_dir, url) = crate::backup::fresh_target(a.backend, &dir);
        let restored_into = Target::new(&data_dir, Some(&url)).unwrap();
        let generation = made.dir.clone();
        let restored = tokio::task::spawn_blocking(move || {
            backup::restore(&generation, &restored_into, false)
        })
        .await
        .unwrap()
        .expect("restore of A");
        assert!(restored.server_key);
        let restored_key = ServerKey::load_or_create(&data_dir).unwrap();
        assert_eq!(restored_key.public(), a_server.public());
        let r = post_signed(&b, &restored_key, &body, &body, &random_hex(12)).await;
        assert_eq!(r.status(), StatusCode::OK, "the restored A's signature");
        for name in backup::generations(&backups).unwrap() {
            backup::remove_generation(&backups.join(name)).unwrap();
        }
    }
    let denied_at_b = audit_rows(&b, "record.federated_scan")
        .into_iter()
        .filter(|e| e.outcome == "denied")
        .count();
    assert_eq!(denied_at_b, 4, "every refusal is audited at B");

    // B marks the card's key compromised. Before A refreshes, B refuses (its keyring no longer
    // trusts the key); after, A refuses itself, online and offline.
    let b_db = b.db();
    let b_muni = b.municipality_id(&b_db);
    let kid = kyukit_card::decode_unverified(&cose).unwrap().0.to_b64();
    kyukit_server::service::keys::mark_compromised(&b_db, &b_muni, &kid, now + 2).unwrap();
    let e = medic.scan(&wb.card_url, "R8-FED-4").await.unwrap_err();
    assert_eq!(e.code(), "untrusted_issuer", "B refuses: {e:?}");
    let refreshed: Value = serde_json::from_str(&kyukit(
        &a,
        PUBLIC_URL,
        &["federation", "peer", "refresh"],
        true,
    ))
    .unwrap();
    assert_eq!(
        refreshed[0]["issuers"][0][1][0],
        format!("{kid}:{}", KeyState::Compromised.as_str())
    );
    let e = medic.scan(&wb.card_url, "R8-FED-5").await.unwrap_err();
    assert_eq!(e.code(), "compromised_key");
    let t = (now + 3).to_string();
    field(args(&["trust-list", "fetch", "--state", &st, "--now", &t]))
        .await
        .expect("fetch the refreshed list");
    let e = field(args(&[
        "verify",
        "--state",
        &st,
        "--card",
        &wb.card_url,
        "--now",
        &t,
    ]))
    .await
    .unwrap_err();
    assert!(e.is_refusal());
    assert_eq!(e.code(), "compromised_key");
    // A rollback to B's list from before the compromise is refused.
    let a_db = a.db();
    let a_muni = a.municipality_id(&a_db);
    let a_config = kyukit_server::config::Config::new(
        "127.0.0.1:0".parse().unwrap(),
        a.data_dir.clone(),
        PUBLIC_URL.into(),
    );
    let rollback =
        federation::refresh_peer(&a_db, &a_config, &a_muni, B_ID, &b_list_before, now + 4)
            .unwrap_err();
    assert_eq!(rollback.code(), "trust_list_rollback");

    // A home deployment that cannot be reached: 503 peer_unavailable, audited at A.
    let c_trust = IssuerKey::from_secret_bytes(&[0x61; 32]).unwrap();
    let c_issuer = IssuerKey::from_secret_bytes(&[0x62; 32]).unwrap();
    let c_list = TrustList {
        version: 1,
        issued_at: now,
        expires_at: now + 86_400,
        deployment: kyukit_card::Deployment {
            id: "qq.city.mito.lg.jp".into(),
            name_ja: "水戸市 救急医療情報キット".into(),
            name_en: "Mito City Kyukit".into(),
            base_url: "https://qq.city.mito.lg.jp/".into(),
            server_keys: vec![],
            default_issuer: Some("jp-082015".into()),
        },
        issuers: vec![kyukit_card::TrustedIssuer {
            id: "jp-082015".into(),
            name_ja: "水戸市".into(),
            name_en: "Mito City".into(),
            card_base: "https://qq.city.mito.lg.jp/c/".into(),
            keys: vec![kyukit_card::TrustedKey {
                key: c_issuer.public().clone(),
                status: KeyState::Active,
            }],
            revocation_url: "https://qq.city.mito.lg.jp/api/v1/revocations/".into(),
            deployment: "qq.city.mito.lg.jp".into(),
        }],
    };
    let c_bytes = kyukit_card::sign_trust_list(&c_list, &c_trust).unwrap();
    federation::add_peer(
        &a_db,
        &a_config,
        &a_muni,
        "http://127.0.0.1:9/api/v1/trust-list",
        c_trust.public(),
        &c_bytes,
        now + 5,
    )
    .expect("add the unreachable peer");
    let c_card = kyukit_card::sign(
        &Claims {
            card_id: kyukit_card::CardId([9; 16]),
            issuer: None,
            issued_at: Some(now),
            expires_at: now + 86_400,
            triage: None,
        },
        &c_issuer,
    )
    .unwrap();
    // (The app sends a scan again after a 503; once is enough here.)
    let medic = medic.with_retry(kyukit_field::retry::RetryPolicy::NONE);
    let e = medic
        .scan(&base64_url(&c_card), "R8-FED-6")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "peer_unavailable");
    let failed: Vec<_> = audit_rows(&a, "record.federated_scan")
        .into_iter()
        .filter(|e| e.outcome == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]
            .detail
            .as_deref()
            .unwrap()
            .ends_with("peer qq.city.mito.lg.jp peer_unavailable")
    );
    // Removing a peer: its issuers leave A's list, whose version still grows.
    let before = trust_list(&a).await.1.version;
    kyukit(
        &a,
        PUBLIC_URL,
        &[
            "federation",
            "peer",
            "remove",
            "--deployment",
            "qq.city.mito.lg.jp",
        ],
        true,
    );
    let after = trust_list(&a).await.1;
    assert!(after.version > before);
    assert!(after.issuer("jp-082015").is_none());
    assert!(after.issuer("jp-082201").is_some());
    for (app, url) in [(&a, PUBLIC_URL), (&b, B_URL)] {
        kyukit(app, url, &["audit", "verify"], true);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// B limits each peer deployment's signed federation requests (`--federation-per-peer-per-min`,
/// here 2): A's third request within the minute is answered 429 `rate_limited` in the one error
/// shape and audited at B; requests by keys of no peer do not spend A's budget.
async fn rate_limit_scenario(backend: Backend) {
    let Some(a) = spawn_app(backend).await else {
        eprintln!("SKIPPED on PostgreSQL: KYUKIT_TEST_PG_URL not set (tests/run.sh sets it)");
        return;
    };
    let b = spawn_app_with(backend, |c| {
        c.public_url = B_URL.into();
        c.municipality.code = "082201".into();
        c.municipality.name_ja = "つくば市".into();
        c.municipality.name_en = "Tsukuba City".into();
        c.rate_limits.federation_per_peer_per_min = 2;
    })
    .await
    .expect("the second server");
    let now = real_now();
    a.clock.set(now);
    b.clock.set(now);
    // B peers with A (the service the CLI calls), pinning A's trust-list key.
    let a_trust: kyukit_card::Jwk = a
        .get("/api/v1/trust-list/key", None)
        .await
        .json()
        .await
        .unwrap();
    let a_trust = kyukit_card::PublicKey::from_jwk(&a_trust).unwrap();
    let (a_bytes, _) = trust_list(&a).await;
    let b_db = b.db();
    let b_muni = b.municipality_id(&b_db);
    let b_config = kyukit_server::config::Config::new(
        "127.0.0.1:0".parse().unwrap(),
        b.data_dir.clone(),
        B_URL.into(),
    );
    federation::add_peer(
        &b_db,
        &b_config,
        &b_muni,
        &a.url("/api/v1/trust-list"),
        &a_trust,
        &a_bytes,
        now,
    )
    .expect("B peers with A");
    let body = serde_json::to_vec(&json!({
        "deployment": A_ID,
        "fire_department": {"id": "f", "name_ja": "常総広域消防本部", "name_en": "Joso Fire"},
        "purpose": "scan",
        "card": "not-a-card!",
        "incident_ref": "R8-FED-RL",
    }))
    .unwrap();
    // A key of no peer: refused, and A's budget is untouched.
    let dir = std::env::temp_dir().join(format!("kyukit-fed-rl-{}", random_hex(6)));
    std::fs::create_dir_all(&dir).unwrap();
    let stranger = ServerKey::load_or_create(&dir).unwrap();
    for _ in 0..3 {
        let r = post_signed(&b, &stranger, &body, &body, &random_hex(12)).await;
        assert_eq!(
            error_of(r).await,
            (StatusCode::UNAUTHORIZED, "peer_unknown".into())
        );
    }
    let a_server = ServerKey::load_or_create(&a.data_dir).unwrap();
    for _ in 0..2 {
        let r = post_signed(&b, &a_server, &body, &body, &random_hex(12)).await;
        assert_eq!(
            error_of(r).await,
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_card".into()),
            "within the limit, the request is served (and its bad card refused)"
        );
    }
    let r = post_signed(&b, &a_server, &body, &body, &random_hex(12)).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "rate_limited");
    assert!(!v["message"].as_str().unwrap().is_empty(), "{v}");
    let throttled = audit_rows(&b, "rate.throttled");
    assert_eq!(throttled.len(), 1);
    assert_eq!(throttled[0].purpose.as_deref(), Some("federation_per_peer"));
    assert_eq!(
        throttled[0].facility_id.as_deref(),
        Some(format!("{A_ID}/-").as_str())
    );
    // Coalesced: a fourth throttled request answers 429 without another audit entry.
    let r = post_signed(&b, &a_server, &body, &body, &random_hex(12)).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(audit_rows(&b, "rate.throttled").len(), 1);
    kyukit(&b, B_URL, &["audit", "verify"], true);
    let _ = std::fs::remove_dir_all(&dir);
}

mod peer_rate_limit {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        rate_limit_scenario(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        rate_limit_scenario(Backend::Postgres).await;
    }
}

mod two_deployments {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        scenario(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        scenario(Backend::Postgres).await;
    }
}
