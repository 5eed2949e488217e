//! The operator's municipality commands (issue 22), as another engineer's benchmark calls them:
//! `kyukit municipality create` prints `{"id":…,"code":…}`, `list` one JSON object a line, and
//! `--municipality CODE` selects the municipality of `admin create`, `keys …` and `audit …`
//! (default: the deployment's first municipality).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_kyukit");

fn kyukit(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env_remove("KYUKIT_DATA_DIR")
        .env_remove("DATABASE_URL")
        .env("KYUKIT_ADMIN_PASSWORD", "operator test password 1")
        .output()
        .expect("the kyukit binary runs")
}

fn stdout(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The issuer key ids `keys list` prints (lines `<kid>\t<status>\t…`).
fn kids(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains('\t'))
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

#[test]
fn the_operator_creates_municipalities_their_admins_and_keys() {
    let dir = std::env::temp_dir().join(format!("kyukit-municipality-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.to_str().unwrap();
    let d = ["--data-dir", data];

    let made = stdout(&kyukit(
        &[
            &["municipality", "create"][..],
            &d,
            &[
                "--code",
                "082171",
                "--name-ja",
                "笠間市",
                "--name-en",
                "Kasama City",
                "--card-base-url",
                "https://qq.city.kasama.lg.jp/c/",
            ],
        ]
        .concat(),
    ));
    let v: serde_json::Value = serde_json::from_str(made.trim()).expect("one JSON object");
    assert_eq!(v["code"], "082171");
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));

    // The same code again is refused; a malformed code too.
    let again = kyukit(
        &[
            &["municipality", "create"][..],
            &d,
            &["--code", "082171", "--name-ja", "x", "--name-en", "x"],
        ]
        .concat(),
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    let bad = kyukit(
        &[
            &["municipality", "create"][..],
            &d,
            &["--code", "8217", "--name-ja", "x", "--name-en", "x"],
        ]
        .concat(),
    );
    assert_eq!(bad.status.code(), Some(1));

    let list = stdout(&kyukit(&[&["municipality", "list"][..], &d].concat()));
    let rows: Vec<serde_json::Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{list}");
    assert_eq!(rows[0]["default"], true);
    assert_eq!(rows[1]["id"], id.as_str());
    assert_eq!(rows[1]["default"], false);
    assert_eq!(rows[1]["name_en"], "Kasama City");
    assert_eq!(rows[1]["card_base_url"], "https://qq.city.kasama.lg.jp/c/");

    // The same login id in each municipality: login ids are per municipality.
    let m = ["--municipality", "082171"];
    for extra in [&m[..], &[]] {
        let out = kyukit(
            &[
                &["admin", "create"][..],
                &d,
                extra,
                &["--login-id", "admin", "--name", "管理者"],
            ]
            .concat(),
        );
        assert!(stdout(&out).starts_with("created city_admin account admin"));
    }
    let twice = kyukit(
        &[
            &["admin", "create"][..],
            &d,
            &m,
            &["--login-id", "admin", "--name", "x"],
        ]
        .concat(),
    );
    assert_eq!(twice.status.code(), Some(1));

    // Each municipality its own keys; rotation is the named one's only.
    let theirs = kids(&stdout(&kyukit(&[&["keys", "list"][..], &d, &m].concat())));
    let default = kids(&stdout(&kyukit(&[&["keys", "list"][..], &d].concat())));
    assert_eq!((theirs.len(), default.len()), (1, 1));
    assert_ne!(theirs, default);
    stdout(&kyukit(&[&["keys", "rotate"][..], &d, &m].concat()));
    assert_eq!(
        kids(&stdout(&kyukit(&[&["keys", "list"][..], &d, &m].concat()))).len(),
        2
    );
    assert_eq!(
        kids(&stdout(&kyukit(&[&["keys", "list"][..], &d].concat()))),
        default
    );

    // Each municipality's own audit chain verifies.
    for extra in [&m[..], &[]] {
        let out = stdout(&kyukit(&[&["audit", "verify"][..], &d, extra].concat()));
        assert!(out.starts_with("audit log verifies"), "{out}");
    }
    let unknown = kyukit(&[&["keys", "list"][..], &d, &["--municipality", "999999"]].concat());
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no municipality with code 999999"));
    let _ = std::fs::remove_dir_all(&dir);
}
