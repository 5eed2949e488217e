//! A fire department, a paramedic, an enrolled device and a resident with a card: the world the
//! field tests (and benchmarks) start from. Built through the real API, except the first city
//! administrator, which — as in production (`kyukit admin create`) — comes from the service.

use crate::{StatusCode, T0, TestApp, Value, json, resident_body};
use kyukit_field::{Client, DeviceKey};

pub const ADMIN_PASSWORD: &str = "city admin password 1";
pub const MEDIC_PASSWORD: &str = "paramedic password 1";

#[derive(Debug, Clone)]
pub struct FieldWorld {
    pub admin: String,
    pub fire_id: String,
    pub medic_login: String,
    pub rid: String,
    pub resident_token: String,
    pub card_url: String,
    pub card_id: String,
}

pub async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.expect("json body")
}

/// The world's resident's access history, as the resident reads it.
pub async fn access_history(app: &TestApp, w: &FieldWorld) -> Value {
    let path = format!("/api/v1/residents/{}/access-history", w.rid);
    json_of(app.get(&path, Some(&w.resident_token)).await).await
}

async fn created(r: reqwest::Response) -> Value {
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    serde_json::from_str(&body).expect("json")
}

/// The city administrator's session token (created on first call).
pub async fn admin_token(app: &TestApp) -> String {
    let db = app.db();
    let muni = app.municipality_id(&db);
    let staff = kyukit_server::service::accounts::NewStaff {
        login_id: "admin".into(),
        password: ADMIN_PASSWORD.into(),
        role: "city_admin".into(),
        display_name: "市役所 管理者".into(),
        facility_id: None,
        profession: Some("city_staff".into()),
    };
    if let Ok(created) =
        kyukit_server::service::accounts::create_staff(&db, &muni, &staff, None, T0)
    {
        app.remember_totp("admin", &created.totp.secret);
    }
    staff_token(app, "admin", ADMIN_PASSWORD).await
}

/// A staff member's session (password and a fresh TOTP code).
pub async fn staff_token(app: &TestApp, login_id: &str, password: &str) -> String {
    let code = app.totp_code(login_id);
    let r = app
        .post(
            "/api/v1/sessions",
            None,
            json!({"login_id": login_id, "password": password, "totp": code}),
        )
        .await;
    created(r).await["token"]
        .as_str()
        .expect("token")
        .to_string()
}

pub async fn create_facility(app: &TestApp, admin: &str, kind: &str, name: &str) -> String {
    let r = app
        .post(
            "/api/v1/facilities",
            Some(admin),
            json!({"kind": kind, "name_ja": name, "name_en": format!("{name} (en)"),
                   "address": "茨城県常総市水海道諏訪町3222-3", "phone": "0297-23-0119"}),
        )
        .await;
    created(r).await["id"].as_str().expect("id").to_string()
}

/// Adds a staff member (password `MEDIC_PASSWORD`) and remembers their TOTP secret.
pub async fn add_staff(app: &TestApp, admin: &str, facility: &str, login: &str, role: &str) {
    let r = app
        .post(
            &format!("/api/v1/facilities/{facility}/staff"),
            Some(admin),
            json!({"login_id": login, "password": MEDIC_PASSWORD, "role": role, "display_name": "救急 隊員"}),
        )
        .await;
    let v = created(r).await;
    app.remember_totp(login, v["totp"]["secret"].as_str().expect("totp secret"));
}

/// A paramedic's signed login on a field device, with a fresh TOTP code.
pub async fn medic_login(
    app: &TestApp,
    c: &mut Client,
    login_id: &str,
) -> Result<(), kyukit_field::Error> {
    let code = app.totp_code(login_id);
    c.login(login_id, MEDIC_PASSWORD, Some(&code)).await
}

pub async fn enrollment_code(
    app: &TestApp,
    token: &str,
    facility: &str,
    ttl_minutes: i64,
) -> String {
    let r = app
        .post(
            &format!("/api/v1/facilities/{facility}/enrollment-codes"),
            Some(token),
            json!({"label": "救急1号車", "ttl_minutes": ttl_minutes}),
        )
        .await;
    created(r).await["code"].as_str().expect("code").to_string()
}

/// A field client on the test's clock, not yet enrolled.
pub fn new_client(app: &TestApp) -> Client {
    let clock = app.clock.clone();
    Client::new(&app.base, DeviceKey::generate().expect("key"))
        .expect("client")
        .with_clock(move || clock.now_for_tests())
}

/// A device enrolled at `facility` with a fresh code.
pub async fn enrolled_client(app: &TestApp, admin: &str, facility: &str) -> Client {
    let code = enrollment_code(app, admin, facility, 60).await;
    let mut c = new_client(app);
    c.enroll(&code, Some("救急1号車 tablet"))
        .await
        .expect("enroll");
    c
}

/// Adds the dataset items of every category to a resident.
pub async fn add_full_dataset(app: &TestApp, rid: &str, token: &str) {
    for (category, body) in [
        (
            "medications",
            json!({"name": "ワルファリン", "dose": "2mg", "frequency": "朝1回", "anticoagulant": true, "code": "3332001F1010"}),
        ),
        (
            "medications",
            json!({"name": "アムロジピン", "dose": "5mg"}),
        ),
        ("conditions", json!({"name": "心房細動", "icd10": "I48.9"})),
        (
            "allergies",
            json!({"substance": "ペニシリン", "reaction": "アナフィラキシー", "severity": "anaphylaxis"}),
        ),
        (
            "devices",
            json!({"kind": "pacemaker", "description": "2019年植込み"}),
        ),
        ("blood_type", json!({"abo": "A", "rh": "+"})),
        (
            "emergency_contacts",
            json!({"name": "山田 一郎", "relation": "長男", "phone": "090-1234-5678"}),
        ),
    ] {
        let r = app
            .post(
                &format!("/api/v1/residents/{rid}/dataset"),
                Some(token),
                json!({"category": category, "body": body}),
            )
            .await;
        created(r).await;
    }
}

/// Registers a resident with the full dataset, consenting to `categories`, and issues a card.
pub async fn resident_with_card(
    app: &TestApp,
    login_id: &str,
    categories: &[&str],
) -> (String, String, Value) {
    let r = app
        .post("/api/v1/residents", None, resident_body(login_id))
        .await;
    let v = created(r).await;
    let rid = v["resident_id"].as_str().expect("id").to_string();
    let token = v["token"].as_str().expect("token").to_string();
    add_full_dataset(app, &rid, &token).await;
    let r = app
        .post(
            &format!("/api/v1/residents/{rid}/consents"),
            Some(&token),
            json!({"categories": categories, "disaster_use": false, "triage_on_card": true, "name_on_print": false}),
        )
        .await;
    created(r).await;
    let r = app
        .post(
            &format!("/api/v1/residents/{rid}/cards"),
            Some(&token),
            json!({}),
        )
        .await;
    let card = created(r).await;
    (rid, token, card)
}

/// The consented categories of the standard world: conditions and emergency contacts are NOT
/// shared.
pub const SHARED: [&str; 5] = [
    "medications",
    "allergies",
    "devices",
    "blood_type",
    "advance_directive",
];

pub async fn world(app: &TestApp) -> FieldWorld {
    let admin = admin_token(app).await;
    let fire_id = create_facility(app, &admin, "fire_department", "常総広域消防本部").await;
    add_staff(app, &admin, &fire_id, "medic1", "paramedic").await;
    let (rid, resident_token, card) = resident_with_card(app, "hanako", &SHARED).await;
    FieldWorld {
        admin,
        fire_id,
        medic_login: "medic1".into(),
        rid,
        resident_token,
        card_url: card["url"].as_str().expect("url").to_string(),
        card_id: card["id"].as_str().expect("card id").to_string(),
    }
}

/// An enrolled device with the paramedic logged in on it.
pub async fn medic_client(app: &TestApp, w: &FieldWorld) -> Client {
    let mut c = enrolled_client(app, &w.admin, &w.fire_id).await;
    medic_login(app, &mut c, &w.medic_login)
        .await
        .expect("login");
    c
}

/// Audit events (action, outcome, detail) in chain order.
pub fn audit_events(app: &TestApp) -> Vec<kyukit_server::audit::AuditRow> {
    use diesel::prelude::*;
    use kyukit_server::db::schema::audit_events;
    let db = app.db();
    let mut c = db.conn().expect("conn");
    let c: &mut kyukit_server::db::DbConnection = &mut c;
    audit_events::table
        .order(audit_events::seq)
        .select(kyukit_server::audit::AuditRow::as_select())
        .load(c)
        .expect("audit rows")
}
