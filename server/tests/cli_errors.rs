//! The command line tells an operator why an operation failed: an internal error's cause is
//! printed (the HTTP API never sends it), and the exit status is 1.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_kyukit");

fn kyukit(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env_remove("KYUKIT_DATA_DIR")
        .env_remove("DATABASE_URL")
        .output()
        .expect("the kyukit binary runs")
}

/// `kyukit keys rotate` when the new key cannot be written (the keys folder is a file): the
/// operator reads the operating system's reason, not "it has been logged" (nothing is logged
/// at the command line).
#[test]
fn keys_rotate_prints_the_cause() {
    let dir = std::env::temp_dir().join(format!("kyukit-cli-errors-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.to_str().unwrap();
    let first = kyukit(&["keys", "list", "--data-dir", data]);
    assert!(first.status.success(), "{first:?}");
    let keys = dir.join("keys");
    std::fs::rename(&keys, dir.join("keys.moved")).unwrap();
    std::fs::write(&keys, b"not a folder").unwrap();

    let out = kyukit(&["keys", "rotate", "--data-dir", data]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("internal error: "), "{stderr}");
    assert!(stderr.contains("os error"), "the cause: {stderr}");
    assert!(!stderr.contains("has been logged"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
