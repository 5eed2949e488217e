//! The data directory of the real binary is the owner's only, whatever the operator's umask; a
//! directory others may enter is refused at start; and the server's log (stderr) never holds a
//! request's query string. Issue 20, items 9 and 10.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_kyukit");

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let mut raw = [0u8; 8];
    getrandom::fill(&mut raw).expect("random");
    let dir = std::env::temp_dir().join(format!("kyukit-private-{tag}-{}", hex::encode(raw)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `kyukit serve` on `data` under a shell whose umask is 022 (the usual default, which makes
/// files world-readable), its log (stderr, at `KYUKIT_LOG=debug`) into `log`.
fn kyukit_serve(data: &Path, log: &Path) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "umask 022; exec \"$0\" \"$@\"", BIN])
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env_remove("DATABASE_URL")
        .env_remove("KYUKIT_DATA_DIR")
        .env("KYUKIT_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("log file"));
    cmd
}

fn serve(data: &Path, log: &Path) -> Server {
    let mut child = kyukit_serve(data, log).spawn().expect("start kyukit serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut base = None;
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|e| {
                panic!(
                    "no start-up text ({e}); log: {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            });
        if let Some(rest) = line.trim().strip_prefix("health:") {
            base = rest
                .split_whitespace()
                .next()
                .map(|u| u.trim_end_matches("/healthz").to_string());
        }
        if line.starts_with("Stop with Ctrl-C") {
            break;
        }
    }
    Server {
        child,
        base: base.expect("the health URL is printed"),
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every entry under `dir`, recursively, with its mode.
fn modes(dir: &Path, out: &mut Vec<(PathBuf, u32)>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        out.push((path.clone(), mode(&path)));
        if path.is_dir() {
            modes(&path, out);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_data_directory_is_owner_only_whatever_the_umask() {
    let dir = temp_dir("fresh");
    let data = dir.join("kyukit-data");
    let server = serve(&data, &dir.join("server.log"));
    // Medical data written (a registration), so the WAL holds some.
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/residents", server.base))
        .json(&serde_json::json!({
            "login_id": "hanako",
            "password": "correct horse battery",
            "profile": {
                "family_name": "山田", "given_name": "花子", "date_of_birth": "1941-04-03",
                "sex": "female", "address": "茨城県常総市水海道諏訪町3222-3",
                "phone": "0297-23-2111", "preferred_language": "ja"
            }
        }))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());

    assert_eq!(mode(&data), 0o700, "the data directory");
    let mut found = Vec::new();
    modes(&data, &mut found);
    let names: Vec<String> = found
        .iter()
        .map(|(p, _)| p.strip_prefix(&data).unwrap().display().to_string())
        .collect();
    for want in [
        "kyukit.db",
        "kyukit.db-wal",
        "kyukit.db-shm",
        "keys",
        "vapid.pem",
        "trust-list.pem",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("keys/") && n.ends_with(".pem")),
        "an issuer key in {names:?}"
    );
    for (path, m) in &found {
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(*m, want, "{}: mode {m:03o}", path.display());
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_refuses_a_data_directory_others_can_enter() {
    let dir = temp_dir("open");
    let data = dir.join("kyukit-data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let log = dir.join("server.log");
    let mut child = kyukit_serve(&data, &log)
        .stdout(Stdio::null())
        .spawn()
        .expect("run kyukit serve");
    // It must exit by itself: a bound only so that a server that starts fails the test.
    let mut status = None;
    for _ in 0..600 {
        status = child.try_wait().expect("wait");
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let stderr = std::fs::read_to_string(&log).expect("stderr");
    let status = status.unwrap_or_else(|| panic!("serve started on a 0755 directory: {stderr}"));
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("open to group or others (mode 755)")
            && stderr.contains(&format!("chmod 700 {}", data.display())),
        "the reason and the fix: {stderr}"
    );
    assert!(
        std::fs::read_dir(&data).expect("read_dir").next().is_none(),
        "nothing was created in it"
    );
    assert_eq!(mode(&data), 0o755, "left as it was");

    // After the fix it starts.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    drop(serve(&data, &log));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_requests_are_logged_without_their_query_string() {
    let dir = temp_dir("log");
    let log = dir.join("server.log");
    let server = serve(&dir.join("kyukit-data"), &log);
    let http = reqwest::Client::new();
    let secret = "QuerySecret7f3a";
    let refused = [
        // 404 (logged at debug): a facility application's status is read with its token.
        (
            format!(
                "/api/v1/facility-applications/{}?token={secret}",
                "0".repeat(32)
            ),
            404,
        ),
        // 401 (logged at info).
        (
            format!("/api/v1/residents/{}?token={secret}&x=1", "0".repeat(32)),
            401,
        ),
    ];
    for (path, status) in &refused {
        let r = http
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), *status, "{path}");
    }
    drop(server);
    let text = std::fs::read_to_string(&log).expect("log");
    // The refusals were logged, with their paths …
    for path in ["/api/v1/facility-applications/", "/api/v1/residents/"] {
        assert!(
            text.lines()
                .any(|l| l.contains("request refused") && l.contains(path)),
            "a refusal of {path} in the log: {text}"
        );
    }
    // … and never with the query.
    assert!(!text.contains(secret), "the query reached the log: {text}");
    assert!(!text.contains("token="), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
