//! What `kyukit serve` prints on start is what a newcomer acts on: every URL it names answers, and
//! the next command it names runs as printed, from the same directory (the real binary, started
//! as a person would start it: directly, and from `PATH`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_kyukit");

struct Server {
    child: Child,
    printed: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `kyukit serve` in `dir` (not through cargo) and collects its start-up lines.
fn serve(dir: &Path, path_var: &str) -> Server {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "kyukit-data",
        ])
        .current_dir(dir)
        .env_remove("CARGO")
        .env_remove("CARGO_PKG_NAME")
        .env_remove("DATABASE_URL")
        .env("PATH", path_var)
        .env("KYUKIT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start kyukit serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    loop {
        // A condition, not a sleep: the line that ends the start-up text (a generous bound only
        // so that a broken server fails the test instead of hanging it).
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("no start-up text ({e}); so far: {printed:#?}"));
        let last = line.starts_with("Stop with Ctrl-C");
        printed.push(line);
        if last {
            break;
        }
    }
    Server { child, printed }
}

fn urls(printed: &[String]) -> Vec<String> {
    printed
        .iter()
        .flat_map(|l| l.split_whitespace())
        .filter(|w| w.starts_with("http://"))
        .map(|w| w.trim_end_matches([')', ',']).to_string())
        .collect()
}

/// The command printed under "create the first one:".
fn next_command(printed: &[String]) -> String {
    let at = printed
        .iter()
        .position(|l| l.contains("create the first one"))
        .unwrap_or_else(|| panic!("no next step in {printed:#?}"));
    printed[at + 1].trim().to_string()
}

fn run_printed(command: &str, dir: &Path, path_var: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", command])
        .current_dir(dir)
        .env("PATH", path_var)
        .env("KYUKIT_ADMIN_PASSWORD", "a long admin password")
        .env_remove("CARGO")
        .env_remove("CARGO_PKG_NAME")
        .output()
        .expect("run sh");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "`{command}` failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn temp_dir(tag: &str) -> PathBuf {
    let mut raw = [0u8; 8];
    getrandom::fill(&mut raw).expect("random");
    let dir = std::env::temp_dir().join(format!("kyukit-startup-{tag}-{}", hex::encode(raw)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_printed_url_answers_and_the_next_command_runs_as_printed() {
    let dir = temp_dir("direct");
    let path_var = std::env::var("PATH").unwrap_or_default();
    let server = serve(&dir, &path_var);

    let urls = urls(&server.printed);
    assert!(
        urls.len() >= 8,
        "pages, health and API: {:#?}",
        server.printed
    );
    for want in [
        "/pages/resident",
        "/pages/field",
        "/pages/ed",
        "/pages/admin",
        "/healthz",
        "/api/v1/openapi.json",
    ] {
        assert!(
            urls.iter().any(|u| u.ends_with(want)),
            "{want} in {urls:#?}"
        );
    }
    let http = reqwest::Client::new();
    for url in &urls {
        let r = http.get(url).send().await.expect(url);
        assert_eq!(r.status(), 200, "{url}");
    }
    // Not a URL on this server: the public card base, which says it is one.
    assert!(
        server
            .printed
            .iter()
            .any(|l| l.contains("card URLs:") && l.contains("https://localhost/c/"))
    );

    // Not on PATH: the binary's own path.
    let command = next_command(&server.printed);
    assert!(
        command.starts_with(&format!("{BIN} admin create ")),
        "{command}"
    );
    let out = run_printed(&command, &dir, &path_var);
    assert!(out.contains("created city_admin account admin"), "{out}");
    assert!(
        out.contains("totp --secret"),
        "the way to a code is printed: {out}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_path_the_next_command_is_the_plain_name() {
    let dir = temp_dir("on-path");
    let bin_dir = Path::new(BIN).parent().expect("bin dir");
    let path_var = std::env::join_paths(std::iter::once(bin_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH")
    .into_string()
    .expect("utf-8 PATH");
    let server = serve(&dir, &path_var);
    let command = next_command(&server.printed);
    assert!(
        command.starts_with("kyukit admin create --data-dir kyukit-data --login-id admin"),
        "{command}"
    );
    let out = run_printed(&command, &dir, &path_var);
    assert!(out.contains("created city_admin account admin"), "{out}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
