//! Several municipalities on one server (issue 22): a second municipality made as the operator
//! makes it (`kyukit municipality create` runs the same service), its first administrator, its
//! residents (registered with `?municipality=CODE`), and per-municipality fingerprints: row counts
//! of every table scoped by the tenant, and the verification of its audit chain.

use crate::field::{ADMIN_PASSWORD, json_of};
use crate::{StatusCode, TestApp, Value, json, resident_body};

/// Creates a municipality with its issuer key and its own card URL base
/// (`https://qq.m<code>.example.jp/c/`); returns its id.
pub fn create_municipality(app: &TestApp, code: &str, name_ja: &str, name_en: &str) -> String {
    let db = app.db();
    let new = kyukit_server::service::keys::NewMunicipality {
        code: code.into(),
        name_ja: name_ja.into(),
        name_en: name_en.into(),
        // Its own card URL base (another host than the deployment's public URL).
        card_base_url: Some(format!("https://qq.m{code}.example.jp/c/")),
    };
    kyukit_server::service::keys::create_municipality(
        &db,
        &app.data_dir,
        &new,
        app.clock.now_for_tests(),
    )
    .expect("municipality")
    .id
}

/// A city administrator of municipality `muni` (code `code`), logged in: the session token.
pub async fn admin_of(app: &TestApp, muni: &str, code: &str, login_id: &str) -> String {
    let db = app.db();
    let staff = kyukit_server::service::accounts::NewStaff {
        login_id: login_id.into(),
        password: ADMIN_PASSWORD.into(),
        role: "city_admin".into(),
        display_name: "市役所 管理者".into(),
        facility_id: None,
        profession: Some("city_staff".into()),
    };
    let created = kyukit_server::service::accounts::create_staff(
        &db,
        muni,
        &staff,
        None,
        app.clock.now_for_tests(),
    )
    .expect("admin");
    app.remember_totp(login_id, &created.totp.secret);
    staff_login_in(app, code, login_id, ADMIN_PASSWORD).await
}

/// A staff member's login in the municipality `code` (password and a fresh TOTP code).
pub async fn staff_login_in(app: &TestApp, code: &str, login_id: &str, password: &str) -> String {
    let totp = app.totp_code(login_id);
    let r = app
        .post(
            &format!("/api/v1/sessions?municipality={code}"),
            None,
            json!({"login_id": login_id, "password": password, "totp": totp}),
        )
        .await;
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    serde_json::from_str::<Value>(&body).expect("json")["token"]
        .as_str()
        .expect("token")
        .to_string()
}

/// Registers a resident in municipality `code` with a medication and consent to `categories`,
/// and issues a card: (resident id, token, card).
pub async fn resident_in(
    app: &TestApp,
    code: &str,
    login_id: &str,
    medication: &str,
    categories: &[&str],
) -> (String, String, Value) {
    let r = app
        .post(
            &format!("/api/v1/residents?municipality={code}"),
            None,
            resident_body(login_id),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v = json_of(r).await;
    let rid = v["resident_id"].as_str().expect("id").to_string();
    let token = v["token"].as_str().expect("token").to_string();
    for (category, body) in [
        ("medications", json!({"name": medication})),
        ("conditions", json!({"name": "心房細動"})),
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
            json!({"categories": categories, "disaster_use": false, "triage_on_card": false, "name_on_print": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .post(
            &format!("/api/v1/residents/{rid}/cards"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    (rid, token, json_of(r).await)
}

/// The row count of every table with a `municipality_id`, for that municipality (the audit
/// chain's own tables left out: refusals are audited).
pub fn counts_of(app: &TestApp, muni: &str) -> Vec<(String, i64)> {
    use diesel::sql_types::{BigInt, Text};
    use diesel::{Connection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    macro_rules! count_all {
        ($c:expr, $list:expr) => {{
            let tables: Vec<Name> = diesel::sql_query($list).load($c).expect("tables");
            let mut out = Vec::new();
            for t in tables {
                let skip = ["audit_", "__", "sqlite"];
                if skip.iter().any(|p| t.name.starts_with(p)) {
                    continue;
                }
                let q = format!(
                    "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {} WHERE municipality_id = '{muni}'",
                    t.name
                );
                // A table without the column (none should be) is left out here.
                if let Ok(rows) = diesel::sql_query(q).load::<Count>($c) {
                    out.push((t.name, rows[0].n));
                }
            }
            out
        }};
    }
    if app.database_url.starts_with("postgres") {
        let mut c = diesel::PgConnection::establish(&app.database_url).expect("connect");
        count_all!(
            &mut c,
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
    } else {
        let mut c = diesel::SqliteConnection::establish(&app.database_url).expect("connect");
        count_all!(
            &mut c,
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"
        )
    }
}

/// Verifies municipality `muni`'s audit chain: the number of entries.
pub fn verify_chain(app: &TestApp, muni: &str) -> i64 {
    let db = app.db();
    let mut c = db.conn().expect("conn");
    kyukit_server::audit::verify(&mut c, muni, None).expect("the audit chain verifies")
}
