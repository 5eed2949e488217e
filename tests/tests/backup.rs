//! Backups (RULES R16): an online snapshot is taken while the server runs, the data is wiped and
//! restored — every table holds the same rows, the audit chain verifies to the same head, the JWKS
//! is the same, cards issued before the backup still verify and the Web Push (VAPID) key is the
//! same, so browsers' push subscriptions keep working. A tampered generation fails
//! `verify` naming the file; a restore over existing data needs `--force`; snapshots taken while
//! writes go on are consistent (every dataset write has its audit event); `keep` prunes.
//!
//! The tests call `service::backup` — what `kyukit backup create|verify` and `kyukit restore` run
//! (the CLI wiring itself is tested in `server/src/cli/backup.rs`).

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use kyukit_server::config::Config;
use kyukit_server::db::DatabaseUrl;
use kyukit_server::service::backup::{self, Target};
use kyukit_server::startup::Application;
use kyukit_tests::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[derive(QueryableByName)]
struct V {
    #[diesel(sql_type = Text)]
    v: String,
}

/// Every table's rows (each rendered as text), sorted: the whole database, for before/after.
fn dump(backend: Backend, database_url: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    match backend {
        Backend::Sqlite => {
            let mut c = SqliteConnection::establish(database_url).unwrap();
            let tables: Vec<V> = diesel::sql_query(
                "SELECT name AS v FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .load(&mut c)
            .unwrap();
            for t in tables {
                let cols: Vec<V> = diesel::sql_query(format!(
                    "SELECT name AS v FROM pragma_table_info('{}')",
                    t.v
                ))
                .load(&mut c)
                .unwrap();
                let row = cols
                    .iter()
                    .map(|col| format!("quote(\"{}\")", col.v))
                    .collect::<Vec<_>>()
                    .join(" || '|' || ");
                let mut rows: Vec<String> =
                    diesel::sql_query(format!("SELECT {row} AS v FROM \"{}\"", t.v))
                        .load::<V>(&mut c)
                        .unwrap()
                        .into_iter()
                        .map(|r| r.v)
                        .collect();
                rows.sort();
                out.insert(t.v, rows);
            }
        }
        Backend::Postgres => {
            let mut c = PgConnection::establish(database_url).unwrap();
            let tables: Vec<V> = diesel::sql_query(
                "SELECT table_name::text AS v FROM information_schema.tables \
                 WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            )
            .load(&mut c)
            .unwrap();
            for t in tables {
                let mut rows: Vec<String> = diesel::sql_query(format!(
                    "SELECT row_to_json(t)::text AS v FROM \"{}\" t",
                    t.v
                ))
                .load::<V>(&mut c)
                .unwrap()
                .into_iter()
                .map(|r| r.v)
                .collect();
                rows.sort();
                out.insert(t.v, rows);
            }
        }
    }
    assert!(out.len() >= 10, "tables: {:?}", out.keys());
    out
}

/// Deletes the database and the keys: SQLite file (and WAL) gone; PostgreSQL database dropped
/// and created empty.
fn wipe(app: &TestApp) {
    match app.backend {
        Backend::Sqlite => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", app.database_url));
            }
            assert!(!Path::new(&app.database_url).exists());
        }
        Backend::Postgres => {
            let name = pg_database_name(&app.database_url);
            let mut admin = PgConnection::establish(&pg_base_url().unwrap()).unwrap();
            // Two statements: DROP DATABASE cannot share a (multi-statement) transaction.
            admin
                .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .unwrap();
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap();
        }
    }
    std::fs::remove_dir_all(app.data_dir.join("keys")).unwrap();
    std::fs::remove_file(app.data_dir.join(backup::VAPID_FILE)).unwrap();
    std::fs::remove_file(app.data_dir.join(backup::TRUST_LIST_FILE)).unwrap();
    std::fs::remove_file(app.data_dir.join(backup::SERVER_KEY_FILE)).unwrap();
}

fn pg_database_name(url: &str) -> String {
    let path = url.split("://").nth(1).unwrap();
    let db = path.split('/').nth(1).unwrap();
    db.split('?').next().unwrap().to_string()
}

/// A new, empty place to restore into (its own data directory and database).
pub(crate) fn fresh_target(backend: Backend, root: &Path) -> (PathBuf, String) {
    let data_dir = root.join(format!("restored-{}", random_hex(4)));
    let url = match backend {
        Backend::Sqlite => data_dir.join("kyukit.db").display().to_string(),
        Backend::Postgres => {
            let base = pg_base_url().unwrap();
            let name = format!("kyukit_restore_{}", random_hex(8));
            PgConnection::establish(&base)
                .unwrap()
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap();
            base.replacen("/postgres?", &format!("/{name}?"), 1)
        }
    };
    (data_dir, url)
}

fn backups_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("kyukit-backups-{}", random_hex(8)));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Removes a directory of (write-protected) generations.
fn remove_backups(dir: &Path) {
    for name in backup::generations(dir).unwrap() {
        backup::remove_generation(&dir.join(name)).unwrap();
    }
    let _ = std::fs::remove_dir_all(dir);
}

async fn create(target: &Target, to: &Path, keep: u32, now: i64) -> backup::Created {
    let (target, to) = (target.clone(), to.to_path_buf());
    tokio::task::spawn_blocking(move || backup::create(&target, &to, keep, now))
        .await
        .unwrap()
        .unwrap()
}

async fn restore(
    generation: &Path,
    target: &Target,
    force: bool,
) -> Result<backup::Restored, backup::BackupError> {
    let (generation, target) = (generation.to_path_buf(), target.clone());
    tokio::task::spawn_blocking(move || backup::restore(&generation, &target, force))
        .await
        .unwrap()
}

async fn verify(generation: &Path) -> Result<backup::Verified, backup::BackupError> {
    let generation = generation.to_path_buf();
    tokio::task::spawn_blocking(move || backup::verify(&generation))
        .await
        .unwrap()
}

async fn issue(app: &TestApp, base: &str, rid: &str, token: &str) -> (String, Vec<u8>) {
    let r = app
        .client
        .post(format!("{base}/api/v1/residents/{rid}/cards"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let card: Value = r.json().await.unwrap();
    let url = card["url"].as_str().unwrap().to_string();
    let cose = kyukit_card::parse_card_url(&url).unwrap().cose;
    (url.rsplit('/').next().unwrap().to_string(), cose)
}

/// GET `base` + `path` (no session), as JSON.
async fn get_json(app: &TestApp, base: &str, path: &str) -> Value {
    let r = app
        .client
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap();
    kyukit_tests::field::json_of(r).await
}

async fn jwks(app: &TestApp, base: &str) -> Value {
    get_json(app, base, "/.well-known/jwks.json").await
}

/// The server's Web Push public key (`applicationServerKey`).
async fn vapid_public_key(app: &TestApp, base: &str) -> String {
    let v = get_json(app, base, "/api/v1/push/vapid-public-key").await;
    v["public_key"].as_str().unwrap().to_string()
}

fn audit_head(database_url: &str) -> (i64, String) {
    let db =
        kyukit_server::db::Db::connect(&DatabaseUrl::parse(database_url).unwrap(), 1, 1).unwrap();
    let mut c = db.conn().unwrap();
    let muni = kyukit_server::db::keys::first_municipality(&mut c)
        .unwrap()
        .unwrap()
        .id;
    let n = kyukit_server::audit::verify(&mut c, &muni, None).unwrap();
    let head = kyukit_server::audit::head(&mut c, &muni).unwrap();
    assert_eq!(n, head.0);
    head
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

both_backends!(
    wiped_and_restored_data_is_the_same,
    |app: TestApp| async move {
        let (rid, token) = register_resident(&app, "backup.user").await;
        for (category, body) in [
            (
                "medications",
                json!({"name": "ワルファリン", "dose": "2mg"}),
            ),
            ("conditions", json!({"name": "心房細動", "icd10": "I48.9"})),
            (
                "allergies",
                json!({"substance": "ペニシリン", "severity": "anaphylaxis"}),
            ),
        ] {
            let r = app
                .post(
                    &format!("/api/v1/residents/{rid}/dataset"),
                    Some(&token),
                    json!({"category": category, "body": body}),
                )
                .await;
            assert_eq!(r.status(), StatusCode::CREATED);
        }
        let r = app
        .post(
            &format!("/api/v1/residents/{rid}/consents"),
            Some(&token),
            json!({"categories": ["medications", "conditions", "allergies"], "disaster_use": false, "triage_on_card": false, "name_on_print": false}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let (old_digits, old_cose) = issue(&app, &app.base, &rid, &token).await;
        // A rotation: the backup holds a retired and an active key.
        {
            let db = app.db();
            let muni = app.municipality_id(&db);
            kyukit_server::service::keys::add_key(&db, &app.data_dir, &muni, T0 + 10).unwrap();
        }
        let (new_digits, new_cose) = issue(&app, &app.base, &rid, &token).await;

        let rows_before = dump(app.backend, &app.database_url);
        let counts_before = table_counts(&app);
        let head_before = audit_head(&app.database_url);
        let jwks_before = jwks(&app, &app.base).await;
        assert_eq!(jwks_before["keys"].as_array().unwrap().len(), 2);
        let vapid_before = vapid_public_key(&app, &app.base).await;
        let vapid_pem = std::fs::read(app.data_dir.join(backup::VAPID_FILE)).unwrap();
        let trust_pem = std::fs::read(app.data_dir.join(backup::TRUST_LIST_FILE)).unwrap();
        let server_pem = std::fs::read(app.data_dir.join(backup::SERVER_KEY_FILE)).unwrap();
        let trust_list_key_before = get_json(&app, &app.base, "/api/v1/trust-list/key").await;

        // Online: the server is running.
        let to = backups_dir();
        let target = Target::new(&app.data_dir, Some(&app.database_url)).unwrap();
        let made = create(&target, &to, 7, T0 + 100).await;
        let m = &made.manifest;
        assert_eq!(m.backend, target.backend().name());
        assert_eq!(m.created_at, "2026-11-21T00:01:40Z");
        assert_eq!(m.audit_heads.len(), 1);
        assert_eq!(
            (m.audit_heads[0].seq, m.audit_heads[0].hash.clone()),
            head_before
        );
        assert_eq!(
            m.files
                .iter()
                .filter(|f| f.path.starts_with("keys/"))
                .count(),
            2
        );
        for name in [
            backup::VAPID_FILE,
            backup::TRUST_LIST_FILE,
            backup::SERVER_KEY_FILE,
        ] {
            assert_eq!(
                m.files.iter().filter(|f| f.path == name).count(),
                1,
                "{name}"
            );
        }
        assert!(
            made.dir
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("kyukit-backup-20261121T000140Z-")
        );
        #[cfg(unix)]
        {
            assert_eq!(mode(&made.dir), 0o500, "generation write-protected");
            assert_eq!(mode(&made.dir.join("keys")), 0o500);
            assert_eq!(mode(&made.dir.join("manifest.json")), 0o400);
            for f in &m.files {
                assert_eq!(mode(&made.dir.join(&f.path)), 0o400, "{}", f.path);
            }
        }
        let v = verify(&made.dir).await.unwrap();
        assert_eq!(v.manifest_sha256, made.manifest_sha256);
        if app.backend == Backend::Sqlite {
            assert_eq!(v.audit_entries, Some(head_before.0));
        }

        // The live data is there: a restore over it is refused without --force, and changes nothing.
        let err = restore(&made.dir, &target, false).await.unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(dump(app.backend, &app.database_url), rows_before);

        wipe(&app);
        let restored = restore(&made.dir, &target, false).await.unwrap();
        assert_eq!(restored.key_files, 2);
        assert!(restored.vapid_key);
        assert_eq!(
            std::fs::read(app.data_dir.join(backup::VAPID_FILE)).unwrap(),
            vapid_pem
        );
        // The trust-list key comes back too: devices that pinned it keep accepting the lists.
        assert_eq!(
            std::fs::read(app.data_dir.join(backup::TRUST_LIST_FILE)).unwrap(),
            trust_pem
        );
        // And the federation server key: peers that pinned it keep accepting this deployment's
        // signed requests (tests/tests/federation.rs sends one with the restored key).
        assert!(restored.server_key);
        assert_eq!(
            std::fs::read(app.data_dir.join(backup::SERVER_KEY_FILE)).unwrap(),
            server_pem
        );
        assert_eq!(restored.audit_entries, head_before.0);

        // Every table, every row; the audit chain to the same head; keys 0600 in a 0700 directory.
        assert_eq!(dump(app.backend, &app.database_url), rows_before);
        assert_eq!(table_counts(&app), counts_before);
        assert_eq!(audit_head(&app.database_url), head_before);
        #[cfg(unix)]
        {
            assert_eq!(mode(&app.data_dir.join("keys")), 0o700);
            for f in m.files.iter().filter(|f| f.path.starts_with("keys/")) {
                assert_eq!(mode(&app.data_dir.join(&f.path)), 0o600);
            }
            for name in [
                backup::VAPID_FILE,
                backup::TRUST_LIST_FILE,
                backup::SERVER_KEY_FILE,
            ] {
                assert_eq!(mode(&app.data_dir.join(name)), 0o600, "{name}");
            }
        }

        // A server started on the restored data publishes the same keys; old cards verify.
        let mut config = Config::new(
            "127.0.0.1:0".parse().unwrap(),
            app.data_dir.clone(),
            PUBLIC_URL.into(),
        );
        config.database_url = Some(DatabaseUrl::parse(&app.database_url).unwrap());
        let server = Application::build(&config, app.clock.clone()).unwrap();
        let base = format!("http://127.0.0.1:{}", server.port());
        tokio::spawn(server.run_until_stopped());
        let jwks_after = jwks(&app, &base).await;
        assert_eq!(jwks_after, jwks_before);
        assert_eq!(vapid_public_key(&app, &base).await, vapid_before);
        assert_eq!(
            get_json(&app, &base, "/api/v1/trust-list/key").await,
            trust_list_key_before
        );
        let keys = kyukit_card::KeySet::from_jwks_json(jwks_after.to_string().as_bytes()).unwrap();
        let old = kyukit_card::verify(&old_cose, &keys, T0 + 200).unwrap();
        let new = kyukit_card::verify(&new_cose, &keys, T0 + 200).unwrap();
        assert_ne!(old.kid, new.kid);
        for digits in [&old_digits, &new_digits] {
            let r = app
                .client
                .get(format!("{base}/C/{digits}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        }
        // The session and the active private key came back too: a new card is signed and verifies.
        let (_, cose) = issue(&app, &base, &rid, &token).await;
        assert_eq!(
            kyukit_card::verify(&cose, &keys, T0 + 200).unwrap().kid,
            new.kid
        );
        remove_backups(&to);
    }
);

/// Copies a generation (to tamper with the copy).
fn copy_generation(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_generation(&entry.path(), &to);
        } else {
            std::fs::write(&to, std::fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}

fn flip_a_byte(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let i = b.len() / 2;
    b[i] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

both_backends!(
    tampered_backups_are_refused_and_named,
    |app: TestApp| async move {
        register_resident(&app, "tamper.user").await;
        let to = backups_dir();
        let target = Target::new(&app.data_dir, Some(&app.database_url)).unwrap();
        let made = create(&target, &to, 7, T0 + 100).await;
        let db_file = made.manifest.database_file.clone();
        let key_file = made
            .manifest
            .files
            .iter()
            .find(|f| f.path.starts_with("keys/"))
            .unwrap()
            .path
            .clone();
        let scratch = to.join("scratch");

        for victim in [db_file.as_str(), key_file.as_str(), backup::VAPID_FILE] {
            let copy = scratch.join(random_hex(4));
            copy_generation(&made.dir, &copy);
            verify(&copy).await.unwrap();
            flip_a_byte(&copy.join(victim));
            let err = verify(&copy).await.unwrap_err().to_string();
            assert!(
                err.contains(&format!("file {victim}")) && err.contains("SHA-256"),
                "{err}"
            );
            // A restore verifies first: an altered backup is not restored, even with --force.
            let (data_dir, url) = fresh_target(app.backend, &scratch);
            let elsewhere = Target::new(&data_dir, Some(&url)).unwrap();
            let err = restore(&copy, &elsewhere, true)
                .await
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("does not verify") && err.contains(victim),
                "{err}"
            );
            assert!(!data_dir.join("keys").exists());
        }

        let copy = scratch.join("missing");
        copy_generation(&made.dir, &copy);
        std::fs::remove_file(copy.join(&key_file)).unwrap();
        let err = verify(&copy).await.unwrap_err().to_string();
        assert!(err.contains(&format!("file {key_file}: missing")), "{err}");

        let copy = scratch.join("extra");
        copy_generation(&made.dir, &copy);
        std::fs::write(copy.join("keys/intruder.pem"), b"not a key").unwrap();
        let err = verify(&copy).await.unwrap_err().to_string();
        assert!(
            err.contains("keys/intruder.pem") && err.contains("not in the manifest"),
            "{err}"
        );

        let copy = scratch.join("truncated");
        copy_generation(&made.dir, &copy);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(copy.join(&db_file))
            .unwrap();
        f.set_len(made.manifest.files[0].size / 2).unwrap();
        let err = verify(&copy).await.unwrap_err().to_string();
        assert!(
            err.contains(&format!("file {db_file}")) && err.contains("truncated"),
            "{err}"
        );

        // The original is untouched and still verifies.
        verify(&made.dir).await.unwrap();
        let _ = std::fs::remove_dir_all(&scratch);
        remove_backups(&to);
    }
);

both_backends!(
    snapshots_under_load_are_consistent,
    |app: TestApp| async move {
        // Several residents: a category holds at most 50 items.
        let mut slots = Vec::new();
        for n in 0..6 {
            let (rid, token) = register_resident(&app, &format!("busy.user{n}")).await;
            for category in ["medications", "conditions"] {
                slots.push((rid.clone(), token.clone(), category));
            }
        }
        let (stop, written) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
        );
        // Writes until stopped or out of room (then it just ends: `wait_for` has a deadline).
        let writer = {
            let (client, base, stop, written) = (
                app.client.clone(),
                app.base.clone(),
                stop.clone(),
                written.clone(),
            );
            tokio::spawn(async move {
                for (rid, token, category) in slots {
                    for i in 0..50 {
                        if stop.load(Ordering::SeqCst) {
                            return Ok(());
                        }
                        let r = client
                            .post(format!("{base}/api/v1/residents/{rid}/dataset"))
                            .bearer_auth(&token)
                            .json(&json!({"category": category, "body": {"name": format!("項目{i}")}}))
                            .send()
                            .await
                            .map_err(|e| e.to_string())?;
                        if r.status() != StatusCode::CREATED {
                            return Err(format!("{category} {i}: {}", r.status()));
                        }
                        written.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                }
                Ok::<(), String>(())
            })
        };
        let wait_for = |n: usize| {
            let written = written.clone();
            async move {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while written.load(Ordering::SeqCst) < n {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "the writer stopped at {} writes",
                        written.load(Ordering::SeqCst)
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
        };
        wait_for(5).await;
        let to = backups_dir();
        let target = Target::new(&app.data_dir, Some(&app.database_url)).unwrap();
        let mut made = Vec::new();
        for k in 1..=3 {
            made.push(create(&target, &to, 2, T0 + k).await);
            let now = written.load(Ordering::SeqCst);
            wait_for(now + 3).await;
        }
        stop.store(true, Ordering::SeqCst);
        writer.await.unwrap().unwrap();
        let live_head = audit_head(&app.database_url);

        // keep = 2: the oldest generation is gone, the two newest remain.
        let names = backup::generations(&to).unwrap();
        let expected: Vec<String> = made[1..]
            .iter()
            .map(|c| c.dir.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, expected);
        assert_eq!(made[2].removed, vec![made[0].dir.clone()]);
        assert!(!made[0].dir.exists());

        for generation in &made[1..] {
            verify(&generation.dir).await.unwrap();
            let head = &generation.manifest.audit_heads[0];
            assert!(head.seq < live_head.0, "the snapshot was taken mid-stream");
            let (data_dir, url) = fresh_target(app.backend, &to);
            let elsewhere = Target::new(&data_dir, Some(&url)).unwrap();
            let restored = restore(&generation.dir, &elsewhere, false).await.unwrap();
            assert_eq!(restored.audit_entries, head.seq);
            assert_eq!(audit_head(&url), (head.seq, head.hash.clone()));
            // Consistent: each stored dataset item has its audit event, and nothing more.
            let rows = dump(app.backend, &url);
            let items = rows["dataset_items"].len();
            let events = rows["audit_events"]
                .iter()
                .filter(|r| r.contains("dataset.write"))
                .count();
            assert!(items >= 5);
            assert_eq!(
                items, events,
                "a snapshot must not split a write from its audit event"
            );
            let _ = std::fs::remove_dir_all(&data_dir);
        }
        remove_backups(&to);
    }
);
