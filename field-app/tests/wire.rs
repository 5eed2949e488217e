//! The field client against a stand-in server that records the raw HTTP requests and checks them
//! the way docs/device-protocol.md tells the real server to: the base is rebuilt from the bytes
//! on the wire (not from anything the client computed), the key comes from the JWK sent at
//! enrollment, the content digest is recomputed over the received body.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use kyukit_field::{BreakGlass, Client, DeviceKey, Error};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

const DEVICE_ID: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const T0: i64 = 1_795_219_200;

/// One request as received.
#[derive(Debug, Clone)]
struct Raw {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the stand-in server remembers.
#[derive(Default)]
struct Shared {
    requests: Vec<Raw>,
    device_key: Option<VerifyingKey>,
    nonces: HashSet<String>,
    /// Answer every request with this instead (status, body).
    force: Option<(u16, Value)>,
}

/// RFC 9421 verification of a received request, written independently of the client's code.
/// Returns the refusal code, like the server would.
fn check_signature(req: &Raw, key: &VerifyingKey, now: i64) -> Result<String, &'static str> {
    let input = req.header("signature-input").ok_or("signature_invalid")?;
    let params = input.strip_prefix("kyukit=").ok_or("signature_invalid")?;
    let close = params.find(')').ok_or("signature_invalid")?;
    let names: Vec<&str> = params[1..close]
        .split(' ')
        .map(|n| n.trim_matches('"'))
        .collect();
    let rest = &params[close + 1..];
    let param = |k: &str| {
        rest.split(';')
            .find_map(|p| p.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_string())
    };
    if param("alg").as_deref() != Some("ecdsa-p256-sha256") || param("keyid").is_none() {
        return Err("signature_invalid");
    }
    let created: i64 = param("created")
        .and_then(|c| c.parse().ok())
        .ok_or("signature_invalid")?;
    if (created - now).abs() > 60 {
        return Err("signature_expired");
    }
    let (path, query) = match req.target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (req.target.clone(), None),
    };
    let mut lines = Vec::new();
    for name in &names {
        let value = match *name {
            "@method" => req.method.clone(),
            "@authority" => req
                .header("host")
                .ok_or("signature_invalid")?
                .to_lowercase(),
            "@path" => path.clone(),
            "@query" => format!("?{}", query.clone().ok_or("signature_invalid")?),
            "authorization" | "content-digest" => req
                .header(name)
                .ok_or("signature_invalid")?
                .trim()
                .to_string(),
            _ => return Err("signature_invalid"),
        };
        lines.push(format!("\"{name}\": {value}"));
    }
    let required = ["@method", "@authority", "@path"];
    if !required.iter().all(|r| names.contains(r))
        || (query.is_some() && !names.contains(&"@query"))
        || (req.header("authorization").is_some() && !names.contains(&"authorization"))
        || (!req.body.is_empty() && !names.contains(&"content-digest"))
    {
        return Err("signature_invalid");
    }
    if !req.body.is_empty() {
        let want = format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(&req.body)));
        if req.header("content-digest") != Some(want.as_str()) {
            return Err("signature_invalid");
        }
    }
    lines.push(format!("\"@signature-params\": {params}"));
    let base = lines.join("\n");
    let sig = req
        .header("signature")
        .and_then(|s| s.strip_prefix("kyukit=:"))
        .and_then(|s| s.strip_suffix(':'))
        .and_then(|s| STANDARD.decode(s).ok())
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or("signature_invalid")?;
    key.verify(base.as_bytes(), &sig)
        .map_err(|_| "signature_invalid")?;
    param("nonce").ok_or("signature_invalid")
}

fn key_from_jwk(jwk: &Value) -> VerifyingKey {
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["crv"], "P-256");
    let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
    let y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
    VerifyingKey::from_sec1_bytes(&[&[4u8][..], &x, &y].concat()).unwrap()
}

fn answer(shared: &Mutex<Shared>, req: &Raw) -> (u16, Value) {
    let mut s = shared.lock().unwrap();
    s.requests.push(req.clone());
    if let Some(f) = s.force.clone() {
        return f;
    }
    let path = req.target.split('?').next().unwrap_or_default();
    if req.method == "POST" && path == "/api/v1/devices" {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        if body["code"] != "GOOD-CODE" {
            return (
                404,
                json!({"error": "enrollment_code_unknown", "message": "no such code"}),
            );
        }
        s.device_key = Some(key_from_jwk(&body["public_key"]));
        return (
            201,
            json!({"device_id": DEVICE_ID, "facility_id": "fd1", "label": body["label"]}),
        );
    }
    let Some(key) = s.device_key else {
        return (
            401,
            json!({"error": "device_unknown", "message": "not enrolled"}),
        );
    };
    let nonce = match check_signature(req, &key, T0) {
        Ok(n) => n,
        Err(code) => return (401, json!({"error": code, "message": "refused"})),
    };
    if !s.nonces.insert(nonce) {
        return (
            401,
            json!({"error": "replayed_request", "message": "this request was already received"}),
        );
    }
    let authed = req.header("authorization") == Some("Bearer tok-1");
    match (req.method.as_str(), path) {
        ("POST", "/api/v1/sessions") => {
            let body: Value = serde_json::from_slice(&req.body).unwrap();
            if body["password"] == "pw" && req.header("authorization").is_none() {
                (201, json!({"token": "tok-1", "expires_at": T0 + 3600}))
            } else {
                (
                    401,
                    json!({"error": "invalid_credentials", "message": "wrong login"}),
                )
            }
        }
        (_, _) if !authed => (
            401,
            json!({"error": "unauthenticated", "message": "log in"}),
        ),
        ("POST", "/api/v1/scans") | ("POST", "/api/v1/break-glass") => {
            let body: Value = serde_json::from_slice(&req.body).unwrap();
            (
                201,
                json!({"access_id": "a1", "echo": body, "accept": req.header("accept")}),
            )
        }
        ("GET", p) if p.starts_with("/api/v1/accesses/") => {
            (200, json!({"access_id": &p["/api/v1/accesses/".len()..]}))
        }
        ("DELETE", "/api/v1/sessions/current") => (204, Value::Null),
        _ => (
            404,
            json!({"error": "not_found", "message": "no such route"}),
        ),
    }
}

/// A blocking HTTP/1.1 server on a free port; one request per connection.
fn serve() -> (String, Arc<Mutex<Shared>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shared = Arc::new(Mutex::new(Shared::default()));
    let s2 = shared.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let mut parts = line.trim_end().splitn(3, ' ');
            let method = parts.next().unwrap_or_default().to_string();
            let target = parts.next().unwrap_or_default().to_string();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end_matches(['\r', '\n']);
                if h.is_empty() {
                    break;
                }
                let (n, v) = h.split_once(':').unwrap();
                headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
            }
            let len: usize = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .map(|(_, v)| v.parse().unwrap())
                .unwrap_or(0);
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).unwrap();
            let req = Raw {
                method,
                target,
                headers,
                body,
            };
            let (status, value) = answer(&s2, &req);
            let text = if value.is_null() {
                String::new()
            } else {
                value.to_string()
            };
            let resp = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = stream.write_all(resp.as_bytes());
        }
    });
    (base, shared)
}

fn temp_dir(tag: &str) -> PathBuf {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    let d = std::env::temp_dir().join(format!("kyukit-field-{tag}-{}", hex(&b)));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test]
async fn enroll_login_scan_replay_logout_on_the_wire() {
    let (base, shared) = serve();
    let mut c = Client::new(&base, DeviceKey::generate().unwrap())
        .unwrap()
        .with_clock(|| T0);

    // Enrollment: unsigned, carries the JWK; a bad code is a typed refusal.
    match c.enroll("BAD", None).await {
        Err(Error::Http { status, error, .. }) => {
            assert_eq!((status, error.as_str()), (404, "enrollment_code_unknown"))
        }
        other => panic!("{other:?}"),
    }
    let enrolled = c.enroll("GOOD-CODE", Some("救急1号車")).await.unwrap();
    assert_eq!(enrolled.device_id, DEVICE_ID);
    assert_eq!(enrolled.label.as_deref(), Some("救急1号車"));
    assert_eq!(c.device_id(), Some(DEVICE_ID));
    {
        let s = shared.lock().unwrap();
        let r = s.requests.last().unwrap();
        assert!(r.header("signature").is_none());
        assert!(r.header("signature-input").is_none());
    }

    // Login: signed, no Authorization; the stand-in verified it from the wire bytes.
    assert!(matches!(
        c.login("p1", "wrong", None).await,
        Err(Error::Http { ref error, .. }) if error == "invalid_credentials"
    ));
    c.login("p1", "pw", None).await.unwrap();
    assert_eq!(c.session(), Some("tok-1"));
    {
        let s = shared.lock().unwrap();
        let r = s.requests.last().unwrap();
        assert_eq!(r.header("host"), Some(&base["http://".len()..]));
        let hosts = r.headers.iter().filter(|(n, _)| n == "host").count();
        assert_eq!(hosts, 1, "exactly one Host header on the wire");
        assert!(
            r.header("signature-input")
                .unwrap()
                .starts_with("kyukit=(\"@method\" \"@authority\" \"@path\" \"content-digest\");created=1795219200;nonce=\"")
        );
    }

    // Scan (JSON and FHIR) and break-glass.
    let v = c.scan("https://x.example/c/123", "INC-1").await.unwrap();
    assert_eq!(
        v["echo"],
        json!({"card": "https://x.example/c/123", "incident_ref": "INC-1"})
    );
    assert_eq!(v["accept"], "application/json");
    let v = c
        .scan_fhir("https://x.example/c/123", "INC-1")
        .await
        .unwrap();
    assert_eq!(v["accept"], "application/fhir+json");
    let bg = BreakGlass {
        family_name: "山田".into(),
        given_name: "花子".into(),
        date_of_birth: "1940-02-03".into(),
        address: None,
        reason: "unconscious".into(),
        incident_ref: "INC-2".into(),
    };
    let v = c.break_glass(&bg).await.unwrap();
    assert_eq!(
        v["echo"],
        json!({"family_name": "山田", "given_name": "花子", "date_of_birth": "1940-02-03", "reason": "unconscious", "incident_ref": "INC-2"})
    );

    // Access re-read: a signed GET; with a query string the @query component is covered.
    assert_eq!(c.access("a1").await.unwrap()["access_id"], "a1");
    let r = c
        .signed(Method::GET, "/api/v1/accesses/a1?lang=en", None, None)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        shared
            .lock()
            .unwrap()
            .requests
            .last()
            .unwrap()
            .header("signature-input")
            .unwrap()
            .contains("\"@path\" \"@query\" \"authorization\"")
    );

    // A replay: the identical request twice; the second is refused.
    let req = c
        .prepare_signed(
            Method::POST,
            "/api/v1/scans",
            Some(&json!({"card": "https://x.example/c/1", "incident_ref": "R"})),
            Some("application/json"),
        )
        .unwrap();
    assert_eq!(req.send(c.http()).await.unwrap().status(), 201);
    let second = kyukit_field::read_json(req.send(c.http()).await.unwrap()).await;
    assert!(
        matches!(second, Err(Error::Http { status: 401, ref error, .. }) if error == "replayed_request")
    );
    {
        let s = shared.lock().unwrap();
        let n = s.requests.len();
        let (a, b) = (&s.requests[n - 2], &s.requests[n - 1]);
        assert_eq!(a.headers, b.headers);
        assert_eq!(a.body, b.body);
    }

    // A forged body (digest no longer matches) and a stale clock are refused.
    let mut forged = c
        .prepare_signed(
            Method::POST,
            "/api/v1/scans",
            Some(&json!({"card": "a", "incident_ref": "R"})),
            None,
        )
        .unwrap();
    forged.body = Some(br#"{"card":"b","incident_ref":"R"}"#.to_vec());
    let r = kyukit_field::read_json(c.send_prepared(&forged).await.unwrap()).await;
    assert!(matches!(r, Err(Error::Http { ref error, .. }) if error == "signature_invalid"));
    let stale = c.clone().with_clock(|| T0 - 61);
    assert!(matches!(
        stale.scan("https://x.example/c/1", "R").await,
        Err(Error::Http { ref error, .. }) if error == "signature_expired"
    ));

    // Logout clears the session.
    c.logout().await.unwrap();
    assert_eq!(c.session(), None);
    assert!(matches!(
        c.scan("https://x.example/c/1", "R").await,
        Err(Error::NoSession)
    ));
}

fn field(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kyukit-field"));
    cmd.args(args).env_remove("KYUKIT_PASSWORD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CLI against the stand-in. The stand-in checks `created` against T0 with ±60 s, so the CLI
/// (on the system clock) gets `signature_expired`: that is the refusal path; the success path is
/// covered with the stand-in's clock check disabled by forcing answers.
#[test]
fn cli_enroll_login_scan_exit_codes() {
    let (base, shared) = serve();
    let dir = temp_dir("cli");
    let key = dir.join("device.pem");
    let key_s = key.to_str().unwrap();
    let state = dir.join("device.json");
    let state_s = state.to_str().unwrap();

    // Usage error: exit 2.
    let (code, _, _) = field(&["scan", "--state", state_s], &[]);
    assert_eq!(code, 2);

    // Enrollment refused: exit 1, no key file left behind.
    let (code, _, err) = field(
        &[
            "enroll",
            "--server",
            &base,
            "--code",
            "BAD",
            "--key-file",
            key_s,
        ],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.trim(), "error: enrollment_code_unknown: no such code");
    assert!(!key.exists());

    let (code, out, err) = field(
        &[
            "enroll",
            "--server",
            &base,
            "--code",
            "GOOD-CODE",
            "--key-file",
            key_s,
            "--label",
            "tablet",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["device_id"], DEVICE_ID);
    assert!(key.exists() && state.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for p in [&key, &state] {
            assert_eq!(
                std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
    // A second enrollment onto the same key file is refused locally (exit 2).
    let (code, _, err) = field(
        &[
            "enroll",
            "--server",
            &base,
            "--code",
            "GOOD-CODE",
            "--key-file",
            key_s,
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");

    // Login on the system clock: the stand-in (fixed at T0) refuses it as expired → exit 1.
    let (code, _, err) = field(
        &["login", "--state", state_s, "--login-id", "p1"],
        &[("KYUKIT_PASSWORD", "pw")],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("error: signature_expired: "), "{err}");

    // Forced answers: a login that succeeds stores the token (0600); a scan prints the JSON.
    shared.lock().unwrap().force = Some((201, json!({"token": "tok-cli"})));
    let (code, _, err) = field(
        &["login", "--state", state_s, "--login-id", "p1"],
        &[("KYUKIT_PASSWORD", "pw")],
    );
    assert_eq!(code, 0, "{err}");
    let st: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(st["session"], "tok-cli");
    shared.lock().unwrap().force = Some((201, json!({"access_id": "a9"})));
    let (code, out, err) = field(
        &[
            "scan",
            "--state",
            state_s,
            "--card",
            "https://x.example/c/12",
            "--incident",
            "I-1",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["access_id"],
        "a9"
    );
    {
        let s = shared.lock().unwrap();
        let r = s.requests.last().unwrap();
        assert_eq!(r.header("authorization"), Some("Bearer tok-cli"));
        // Signed by the enrolled key, over the wire bytes (the clock aside).
        let key = s.device_key.unwrap();
        assert!(check_signature(r, &key, kyukit_field::system_now()).is_ok());
    }
    shared.lock().unwrap().force = Some((
        403,
        json!({"error": "device_revoked", "message": "the device was revoked"}),
    ));
    let (code, _, err) = field(
        &[
            "scan",
            "--state",
            state_s,
            "--card",
            "https://x.example/c/12",
            "--incident",
            "I-1",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "error: device_revoked: the device was revoked");
    // Logout drops the token from the state file even when the server refuses.
    let (code, _, _) = field(&["logout", "--state", state_s], &[]);
    assert_eq!(code, 1);
    let st: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert!(st.get("session").is_none());

    // Unreachable server: exit 2.
    drop(shared);
    let dead = dir.join("dead.json");
    let mut st2 = kyukit_field::State::load(&state).unwrap();
    st2.server = "http://127.0.0.1:9".into();
    st2.session = Some("x".into());
    st2.save(&dead).unwrap();
    let (code, _, err) = field(
        &[
            "scan",
            "--state",
            dead.to_str().unwrap(),
            "--card",
            "https://x.example/c/12",
            "--incident",
            "I",
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("error: transport: "), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_verify_offline() {
    let dir = temp_dir("verify");
    let (url, cose, jwks) = sample_card(&dir);
    let cose_file = dir.join("card.cose");
    std::fs::write(&cose_file, &cose).unwrap();
    let j = jwks.to_str().unwrap();
    for card in [url.as_str(), cose_file.to_str().unwrap()] {
        let (code, out, err) = field(
            &["verify", "--jwks", j, "--card", card, "--now", "1800000000"],
            &[],
        );
        assert_eq!(code, 0, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["exp"], 1_924_992_000, "{v}");
    }
    let (code, _, err) = field(
        &["verify", "--jwks", j, "--card", &url, "--now", "1924992000"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: card_rejected: card expired"),
        "{err}"
    );
    let (code, _, _) = field(
        &["verify", "--jwks", "/nonexistent/jwks.json", "--card", &url],
        &[],
    );
    assert_eq!(code, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A signed card, its URL and the issuer's JWKS file in `dir`.
fn sample_card(dir: &std::path::Path) -> (String, Vec<u8>, PathBuf) {
    use kyukit_card::{CardId, Claims, IssuerKey, KeySet};
    let key = IssuerKey::from_secret_bytes(&[6u8; 32]).unwrap();
    let claims = Claims {
        card_id: CardId([4u8; 16]),
        issuer: None,
        issued_at: Some(1_767_225_600),
        expires_at: 1_924_992_000,
        triage: None,
    };
    let cose = kyukit_card::sign(&claims, &key).unwrap();
    let url = kyukit_card::card_url("https://qq.city.joso.lg.jp/c/", &cose).unwrap();
    let jwks = dir.join("jwks.json");
    let set: KeySet = [key.public().clone()].into_iter().collect();
    std::fs::write(&jwks, serde_json::to_vec(&set.to_jwks().unwrap()).unwrap()).unwrap();
    (url, cose, jwks)
}

/// A photo-like JPEG of the card's QR code: grey paper around it, scaled by a non-integer
/// factor, lossy at quality 75.
fn card_photo(url: &str) -> Vec<u8> {
    let qr = kyukit_card::CardQr::encode(url, kyukit_card::EcLevel::Q).unwrap();
    let code = qr.to_image(5, 4).unwrap();
    let mut paper =
        image::GrayImage::from_pixel(code.width() + 180, code.height() + 120, image::Luma([205]));
    image::imageops::overlay(&mut paper, &code, 90, 60);
    let scaled = image::imageops::resize(
        &paper,
        paper.width() * 13 / 10,
        paper.height() * 13 / 10,
        image::imageops::FilterType::Triangle,
    );
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageLuma8(scaled)
        .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
            &mut jpeg, 75,
        ))
        .unwrap();
    jpeg
}

/// `verify --card` takes the card as a PNG (rendered by kyukit-card, as `kyukit card sample` and
/// the server's qr.png do), a JPEG photo, the NDEF message; a wrong file is named for what it is.
#[test]
fn cli_verify_reads_qr_images_and_names_wrong_files() {
    let dir = temp_dir("images");
    let (url, cose, jwks) = sample_card(&dir);
    let j = jwks.to_str().unwrap();
    let qr = kyukit_card::CardQr::encode(&url, kyukit_card::EcLevel::Q).unwrap();
    let files = [
        ("card.png", qr.to_png(8, 4).unwrap()),
        ("photo.jpg", card_photo(&url)),
        ("card.ndef", kyukit_card::build_ndef(&url, &cose).unwrap()),
    ];
    for (name, bytes) in &files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let (code, out, err) = field(
            &[
                "verify",
                "--jwks",
                j,
                "--card",
                path.to_str().unwrap(),
                "--now",
                "1800000000",
            ],
            &[],
        );
        assert_eq!(code, 0, "{name}: {err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["exp"], 1_924_992_000, "{name}: {v}");
    }

    // Wrong files: exit 2, the message says what the file is.
    let mut blank = Vec::new();
    image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(200, 200, image::Luma([255])))
        .write_to(
            &mut std::io::Cursor::new(&mut blank),
            image::ImageFormat::Png,
        )
        .unwrap();
    for (name, bytes, expect) in [
        (
            "card.pdf",
            b"%PDF-1.7\n1 0 obj\n<< >>\nendobj\n".to_vec(),
            "card.pdf is a PDF, not a card",
        ),
        (
            "blank.png",
            blank,
            "blank.png is a PNG image with no readable QR code",
        ),
        (
            "jwks-again.json",
            std::fs::read(&jwks).unwrap(),
            "jwks-again.json is a JSON document, not a card",
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, &bytes).unwrap();
        let (code, out, err) = field(
            &["verify", "--jwks", j, "--card", path.to_str().unwrap()],
            &[],
        );
        assert_eq!((code, out.as_str()), (2, ""), "{name}: {err}");
        let want = format!("error: not_a_card: {}", dir.join(expect).display());
        assert!(err.starts_with(&want), "{name}: {err}");
    }
    // A QR code that is not a card: the card is rejected (exit 1).
    let other =
        kyukit_card::CardQr::encode("https://example.org/c/123456", kyukit_card::EcLevel::Q)
            .unwrap();
    let path = dir.join("other.png");
    std::fs::write(&path, other.to_png(8, 4).unwrap()).unwrap();
    let (code, _, err) = field(
        &["verify", "--jwks", j, "--card", path.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "error: card_rejected: {} is a PNG image that does not hold a card: ",
            path.display()
        )),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `scan --card card.png` (and a JPEG photo) sends the card URL read from the QR code; a raw COSE
/// file goes as base64url.
#[test]
fn cli_scan_sends_the_card_read_from_an_image() {
    let (base, shared) = serve();
    let dir = temp_dir("scan-images");
    let (url, cose, _) = sample_card(&dir);
    let state = dir.join("device.json");
    let state_s = state.to_str().unwrap();
    let key = dir.join("device.pem");
    let (code, _, err) = field(
        &[
            "enroll",
            "--server",
            &base,
            "--code",
            "GOOD-CODE",
            "--key-file",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let mut st = kyukit_field::State::load(&state).unwrap();
    st.session = Some("tok-cli".into());
    st.save(&state).unwrap();
    let qr = kyukit_card::CardQr::encode(&url, kyukit_card::EcLevel::Q).unwrap();
    let png = dir.join("card.png");
    std::fs::write(&png, qr.to_png(8, 4).unwrap()).unwrap();
    let jpg = dir.join("card.jpg");
    std::fs::write(&jpg, card_photo(&url)).unwrap();
    let raw = dir.join("card.cose");
    std::fs::write(&raw, &cose).unwrap();
    for (file, sent) in [
        (&png, url.clone()),
        (&jpg, url.clone()),
        (&raw, URL_SAFE_NO_PAD.encode(&cose)),
    ] {
        shared.lock().unwrap().force = Some((201, json!({"access_id": "a9"})));
        let (code, out, err) = field(
            &[
                "scan",
                "--state",
                state_s,
                "--card",
                file.to_str().unwrap(),
                "--incident",
                "R8-1",
            ],
            &[],
        );
        assert_eq!(code, 0, "{}: {err}", file.display());
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap()["access_id"],
            "a9"
        );
        let s = shared.lock().unwrap();
        let body: Value = serde_json::from_slice(&s.requests.last().unwrap().body).unwrap();
        assert!(
            body["card"].as_str().unwrap().eq_ignore_ascii_case(&sent),
            "{}: {body}",
            file.display()
        );
        assert_eq!(body["incident_ref"], "R8-1");
    }
    // Nothing is sent for a file that is not a card.
    let n = shared.lock().unwrap().requests.len();
    let pdf = dir.join("card.pdf");
    std::fs::write(&pdf, b"%PDF-1.4\n").unwrap();
    let (code, _, err) = field(
        &[
            "scan",
            "--state",
            state_s,
            "--card",
            pdf.to_str().unwrap(),
            "--incident",
            "R8-1",
        ],
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("card.pdf is a PDF, not a card"), "{err}");
    assert_eq!(shared.lock().unwrap().requests.len(), n);
    std::fs::remove_dir_all(&dir).unwrap();
}
