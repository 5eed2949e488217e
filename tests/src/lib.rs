//! End-to-end harness: `spawn_app(Backend)` starts a real Kyukit server on 127.0.0.1:0 with its
//! own data directory, an injected clock, and a fresh database — a new SQLite file, or a new
//! database in the throwaway PostgreSQL cluster named by `KYUKIT_TEST_PG_URL` (started by
//! `tests/pg.sh`, which `tests/run.sh` runs). With `KYUKIT_REQUIRE_PG=1` a missing cluster fails
//! the PostgreSQL variants instead of skipping them.

pub mod field;
pub mod push;
pub mod sse;
pub mod tenancy;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use kyukit_server::clock::Clock;
use kyukit_server::config::Config;
use kyukit_server::db::DatabaseUrl;
use kyukit_server::startup::Application;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub use reqwest::StatusCode;
pub use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A clock the test moves by hand.
#[derive(Debug, Default)]
pub struct TestClock(AtomicI64);

impl TestClock {
    pub fn set(&self, t: i64) {
        self.0.store(t, Ordering::SeqCst);
    }
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// 2026-11-21T00:00:00Z.
pub const T0: i64 = 1_795_219_200;
pub const PUBLIC_URL: &str = "https://qq.city.joso.lg.jp/";

#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: Arc<TestClock>,
    pub data_dir: PathBuf,
    pub backend: Backend,
    pub database_url: String,
    /// Staff TOTP secrets by login id, and the last time step used (codes are single-use).
    pub totp: std::sync::Mutex<
        std::collections::HashMap<String, (String, std::collections::HashSet<i64>)>,
    >,
}

impl TestApp {
    /// Remembers a staff account's TOTP secret.
    pub fn remember_totp(&self, login_id: &str, secret: &str) {
        self.totp.lock().expect("totp map").insert(
            login_id.to_string(),
            (secret.to_string(), Default::default()),
        );
    }

    /// A fresh TOTP code for `login_id`. Each 30-second step can be used once (RFC 6238 §5.2), so
    /// if this account already logged in during the current step, the test clock moves on to the
    /// start of the next step first.
    pub fn totp_code(&self, login_id: &str) -> String {
        let mut map = self.totp.lock().expect("totp map");
        let (secret, used) = map
            .get_mut(login_id)
            .unwrap_or_else(|| panic!("no TOTP secret remembered for {login_id}"));
        let mut now = self.clock.now_for_tests();
        // The server also refuses steps older than the last one used; tests that move the clock
        // back log in again only after moving it forward past that step.
        while used.contains(&(now / 30)) {
            now = (now / 30 + 1) * 30;
            self.clock.set(now);
        }
        used.insert(now / 30);
        kyukit_server::service::security::code_at(secret, now).expect("totp")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).expect("randomness");
    hex::encode(b)
}

/// The PostgreSQL cluster URL, or `None` (the caller skips) when none is configured and not required.
pub fn pg_base_url() -> Option<String> {
    match std::env::var("KYUKIT_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var_os("KYUKIT_REQUIRE_PG").is_some() => {
            panic!("KYUKIT_REQUIRE_PG is set but KYUKIT_TEST_PG_URL is not")
        }
        _ => None,
    }
}

/// A fresh database for one test.
fn fresh_database(backend: Backend, data_dir: &std::path::Path) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(data_dir.join("kyukit.db").display().to_string()),
        Backend::Postgres => {
            let base = pg_base_url()?;
            let name = format!("kyukit_test_{}", random_hex(8));
            let mut admin =
                diesel::PgConnection::establish(&base).expect("connect to the test cluster");
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create test database");
            Some(base.replacen("/postgres?", &format!("/{name}?"), 1))
        }
    }
}

impl TestApp {
    /// A direct handle on this test's database (for what the API does not expose).
    pub fn db(&self) -> kyukit_server::db::Db {
        self.db_with_writers(1)
    }

    /// The same with `writers` group-commit writers (PostgreSQL; SQLite always has one).
    pub fn db_with_writers(&self, writers: usize) -> kyukit_server::db::Db {
        kyukit_server::db::Db::connect(
            &DatabaseUrl::parse(&self.database_url).expect("url"),
            2,
            writers,
        )
        .expect("connect")
    }

    /// This server's municipality id (already created by the server's first start).
    pub fn municipality_id(&self, db: &kyukit_server::db::Db) -> String {
        let unused = kyukit_server::service::keys::MunicipalityDefaults {
            code: String::new(),
            name_ja: String::new(),
            name_en: String::new(),
        };
        kyukit_server::service::keys::bootstrap(db, &self.data_dir, &unused, T0)
            .expect("municipality")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.client.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.expect("request")
    }
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut r = self.client.request(method, self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.expect("request")
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }
}

/// Starts a server on `backend`; `None` if that backend is not available here (PostgreSQL without
/// a cluster and not required).
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// [`spawn_app`] with changes to the server's configuration.
pub async fn spawn_app_with(
    backend: Backend,
    configure: impl FnOnce(&mut Config),
) -> Option<TestApp> {
    let data_dir = std::env::temp_dir().join(format!("kyukit-test-{}", random_hex(12)));
    std::fs::create_dir_all(&data_dir).expect("temp dir");
    let database_url = fresh_database(backend, &data_dir)?;
    let clock = Arc::new(TestClock::default());
    clock.set(T0);
    Some(start(backend, data_dir, database_url, clock, configure))
}

impl TestApp {
    /// Another server instance on the same database, data directory (keys) and clock: what a
    /// deployment behind a load balancer runs.
    pub fn spawn_instance(&self) -> TestApp {
        self.spawn_instance_with(|_| {})
    }

    /// [`TestApp::spawn_instance`] with changes to its configuration (e.g. a fixed port).
    pub fn spawn_instance_with(&self, configure: impl FnOnce(&mut Config)) -> TestApp {
        start(
            self.backend,
            self.data_dir.clone(),
            self.database_url.clone(),
            self.clock.clone(),
            configure,
        )
    }
}

fn start(
    backend: Backend,
    data_dir: PathBuf,
    database_url: String,
    clock: Arc<TestClock>,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    let mut config = Config::new(
        "127.0.0.1:0".parse().expect("addr"),
        data_dir.clone(),
        PUBLIC_URL.into(),
    );
    config.database_url = Some(DatabaseUrl::parse(&database_url).expect("db url"));
    config.municipality.name_ja = "常総市".into();
    config.municipality.name_en = "Joso City".into();
    // Escalation reads the test clock; check it often so a test that moves the clock sees the
    // result quickly.
    config.escalation_tick_ms = 100;
    // The test push service (`push::PushService`) listens on plain HTTP at 127.0.0.1.
    config.push_allow_insecure_loopback = true;
    configure(&mut config);
    let app = Application::build(&config, clock.clone()).expect("server starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        client: reqwest::Client::new(),
        clock,
        data_dir,
        backend,
        database_url,
        totp: Default::default(),
    }
}

/// Declares a scenario once and runs it on SQLite and on PostgreSQL:
/// `both_backends!(name, |app| async move { ... });`
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        $crate::both_backends!($name, config = |_| {}, $body);
    };
    // `config = |c: &mut Config| ...` changes the server's configuration first.
    ($name:ident, config = $config:expr, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::spawn_app_with($crate::Backend::Sqlite, $config)
                    .await
                    .expect("sqlite is always available");
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::spawn_app_with($crate::Backend::Postgres, $config).await {
                    Some(app) => ($body)(app).await,
                    None => eprintln!(
                        "SKIPPED on PostgreSQL: KYUKIT_TEST_PG_URL not set (tests/run.sh sets it)"
                    ),
                }
            }
        }
    };
}

/// Row counts of every table: a fingerprint of the database for "nothing changed" checks.
pub fn table_counts(app: &TestApp) -> Vec<(&'static str, i64)> {
    use diesel::prelude::*;
    use kyukit_server::db::schema::*;
    let db =
        kyukit_server::db::Db::connect(&DatabaseUrl::parse(&app.database_url).expect("url"), 1, 1)
            .expect("connect");
    let mut c = db.conn().expect("conn");
    let c: &mut kyukit_server::db::DbConnection = &mut c;
    vec![
        (
            "municipalities",
            municipalities::table.count().get_result(c).expect("count"),
        ),
        (
            "issuer_keys",
            issuer_keys::table.count().get_result(c).expect("count"),
        ),
        (
            "accounts",
            accounts::table.count().get_result(c).expect("count"),
        ),
        (
            "sessions",
            sessions::table.count().get_result(c).expect("count"),
        ),
        (
            "residents",
            residents::table.count().get_result(c).expect("count"),
        ),
        (
            "proxies",
            proxies::table.count().get_result(c).expect("count"),
        ),
        (
            "dataset_items",
            dataset_items::table.count().get_result(c).expect("count"),
        ),
        (
            "consents",
            consents::table.count().get_result(c).expect("count"),
        ),
        ("cards", cards::table.count().get_result(c).expect("count")),
        (
            "push_subscriptions",
            push_subscriptions::table
                .count()
                .get_result(c)
                .expect("count"),
        ),
        (
            "push_outbox",
            push_outbox::table.count().get_result(c).expect("count"),
        ),
        (
            "webauthn_credentials",
            webauthn_credentials::table
                .count()
                .get_result(c)
                .expect("count"),
        ),
        (
            "proxy_invites",
            proxy_invites::table.count().get_result(c).expect("count"),
        ),
        (
            "registration_holds",
            registration_holds::table
                .count()
                .get_result(c)
                .expect("count"),
        ),
    ]
}

/// A valid resident registration body: 山田 花子 of 3222-3 for `hanako`; for any other login the
/// same name and birthday at another address (`… 3222-3 <login>`), so a test that registers
/// several people registers different people (the same person twice is held: issue 19).
pub fn resident_body(login_id: &str) -> Value {
    let address = match login_id {
        "hanako" => "茨城県常総市水海道諏訪町3222-3".to_string(),
        other => format!("茨城県常総市水海道諏訪町3222-3 {other}"),
    };
    json!({
        "login_id": login_id,
        "password": "correct horse battery",
        "profile": {
            "family_name": "山田", "given_name": "花子",
            "family_name_kana": "ヤマダ", "given_name_kana": "ハナコ",
            "date_of_birth": "1941-04-03", "sex": "female",
            "address": address, "district": "水海道",
            "phone": "0297-23-2111", "preferred_language": "ja"
        }
    })
}

/// Registers a resident; returns (resident_id, token).
pub async fn register_resident(app: &TestApp, login_id: &str) -> (String, String) {
    let r = app
        .post("/api/v1/residents", None, resident_body(login_id))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap_or_default()
    );
    let v: Value = r.json().await.expect("json");
    (
        v["resident_id"].as_str().expect("id").to_string(),
        v["token"].as_str().expect("token").to_string(),
    )
}

/// Decodes every QR symbol in a PNG with `rqrr` (a decoder we did not write).
pub fn decode_qr_png(png: &[u8]) -> Vec<String> {
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .expect("png")
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    prepared
        .detect_grids()
        .iter()
        .filter_map(|g| g.decode().ok().map(|(_, t)| t))
        .collect()
}

impl TestClock {
    /// The current test time (same as `Clock::now`, without importing the trait).
    pub fn now_for_tests(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
