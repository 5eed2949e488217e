//! The authorization matrix (issue 6): every route of the OpenAPI document × every kind of caller.
//!
//! Each route has a rule (`rule()` below) naming the actors allowed; a route without a rule fails the
//! test, so a new endpoint cannot ship without its row. For every **forbidden** cell the request is
//! sent with a valid body and must be refused with 401, 403 or 404 — and, after all forbidden cells,
//! the database must be unchanged. For every **allowed** `GET` cell the request must not be refused
//! (not 401/403/404). Allowed cells of writing routes are not executed here (they would change the
//! world the other cells rely on); each is exercised by the scenario tests named in `rule()`.

use kyukit_field::Client;
use kyukit_tests::field::*;
use kyukit_tests::*;
use reqwest::Method;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum A {
    Anonymous,
    Resident,
    OtherResident,
    Proxy,
    Paramedic,
    ParamedicOtherMunicipality,
    EdStaff,
    EdStaffOtherHospital,
    FacilityManager,
    CityAdmin,
    ResponderInDisaster,
    ResponderOutsideDisaster,
    SuspendedUser,
    RevokedDevice,
}

const ALL: [A; 14] = [
    A::Anonymous,
    A::Resident,
    A::OtherResident,
    A::Proxy,
    A::Paramedic,
    A::ParamedicOtherMunicipality,
    A::EdStaff,
    A::EdStaffOtherHospital,
    A::FacilityManager,
    A::CityAdmin,
    A::ResponderInDisaster,
    A::ResponderOutsideDisaster,
    A::SuspendedUser,
    A::RevokedDevice,
];

/// Bearer sessions that are not bound to a device (everyone who logs in without one).
const SESSIONS: [A; 9] = [
    A::Resident,
    A::OtherResident,
    A::Proxy,
    A::EdStaff,
    A::EdStaffOtherHospital,
    A::FacilityManager,
    A::CityAdmin,
    A::ResponderInDisaster,
    A::ResponderOutsideDisaster,
];

/// Who may call a route. Returns the allowed actors; panics for a route without a rule.
pub(crate) fn rule(method: &str, path: &str) -> BTreeSet<A> {
    let set = |v: &[A]| v.iter().copied().collect::<BTreeSet<A>>();
    let p = path;
    match (method, p) {
        // Public: health, keys, card pages, documents, directory, notices, pages, registration and
        // login (writing public routes: residents.rs, field.rs, governance_directory.rs).
        (
            _,
            "/"
            | "/pages/"
            | "/healthz"
            | "/readyz"
            | "/.well-known/jwks.json"
            | "/api/v1/trust-list"
            | "/api/v1/trust-list/key"
            | "/api/v1/trust-list.json"
            | "/c/{card}"
            | "/C/{card}"
            | "/h/{sticker}"
            | "/H/{sticker}"
            | "/api/v1/openapi.json"
            | "/metrics"
            | "/api/v1/revocations/{kid}"
            | "/pages/access-history"
            | "/pages/resident"
            | "/pages/admin"
            | "/pages/apply"
            | "/pages/assets/{file}"
            | "/pages/directory"
            | "/pages/field"
            | "/pages/ed"
            | "/pages/field/{asset}"
            | "/api/v1/directory"
            | "/api/v1/residents"
            | "/api/v1/proxies"
            | "/api/v1/sessions"
            | "/api/v1/devices"
            | "/api/v1/facility-applications/{apid}"
            | "/api/v1/push/vapid-public-key"
            // The inquiry's codes with their words (prearrival_inquiry.rs): codes, not data.
            | "/api/v1/inquiry-codes",
        ) => set(&ALL),
        ("POST", "/api/v1/facility-applications") | ("GET", "/api/v1/notices") => set(&ALL),
        // Any live session ends itself or changes its own password (staff.rs).
        ("DELETE", "/api/v1/sessions/current") => {
            let mut s = set(&SESSIONS);
            s.insert(A::Paramedic); // the token alone ends a device-bound session too
            s
        }
        ("GET", "/api/v1/me/residents") | ("PUT", "/api/v1/me/password") => set(&SESSIONS),
        // Invites are the resident's own (a proxy makes no other proxies); accepting one is a
        // proxy account's; registering with a code is public (family.rs).
        (_, p) if p.starts_with("/api/v1/residents/{rid}/proxy-invites") => set(&[A::Resident]),
        ("POST", "/api/v1/proxy-invites/accept") => set(&[A::Proxy]),
        ("POST", "/api/v1/proxy-invites/register") => set(&ALL),
        // Residents' and proxies' browsers for family notices (family_push.rs).
        (_, "/api/v1/me/push-subscriptions" | "/api/v1/me/push-subscriptions/{sid}") => {
            set(&[A::Resident, A::OtherResident, A::Proxy])
        }
        // Households: whoever acts for a member (household.rs); a sticker scan is a field request.
        (_, p) if p.starts_with("/api/v1/households") => set(&[A::Resident, A::Proxy]),
        ("POST", "/api/v1/household-scans") => set(&[A::Paramedic]),
        // A resident's record: the resident themself or their proxy (residents.rs).
        (_, p) if p.starts_with("/api/v1/residents/{rid}") => set(&[A::Resident, A::Proxy]),
        // Field requests: paramedics on enrolled devices (field.rs).
        (
            _,
            "/api/v1/scans"
            | "/api/v1/break-glass"
            | "/api/v1/accesses/{aid}"
            | "/api/v1/accesses/{aid}/photo",
        ) => {
            set(&[A::Paramedic])
        }
        // Biometric unlock (webauthn.rs): registration on the device's live session; an unlock
        // signed by an enrolled, active device of this municipality (it carries no session).
        (
            "POST",
            "/api/v1/webauthn/registrations"
            | "/api/v1/webauthn/registrations/finish"
            | "/api/v1/webauthn/unlocks"
            | "/api/v1/webauthn/unlocks/finish",
        ) => set(&[A::Paramedic]),
        // Pre-arrival: the crew that opened the incident (prearrival.rs); the hospitals asked
        // (prearrival.rs: an uninvolved hospital gets 404, one that declined 403).
        (
            _,
            "/api/v1/incidents"
            | "/api/v1/incidents/{iid}"
            | "/api/v1/incidents/{iid}/reports"
            | "/api/v1/incidents/{iid}/attachments"
            | "/api/v1/incidents/{iid}/attachments/{atid}"
            | "/api/v1/incidents/{iid}/inquiries"
            | "/api/v1/incidents/{iid}/destination"
            | "/api/v1/incidents/{iid}/arrival"
            | "/api/v1/crew/feed"
            // The hospitals a crew may ask (field_pages.rs).
            | "/api/v1/hospitals",
        ) => set(&[A::Paramedic]),
        (
            _,
            "/api/v1/hospital/incidents"
            | "/api/v1/hospital/feed"
            | "/api/v1/hospital/capacity"
            | "/api/v1/hospital/board",
        ) => {
            set(&[A::EdStaff, A::EdStaffOtherHospital])
        }
        (_, p) if p.starts_with("/api/v1/hospital/incidents/{iid}") => set(&[A::EdStaff]),
        ("GET", "/api/v1/facilities") => set(&[
            A::EdStaff,
            A::EdStaffOtherHospital,
            A::FacilityManager,
            A::CityAdmin,
            A::ResponderInDisaster,
            A::ResponderOutsideDisaster,
        ]),
        // The facility's manager or the city (field.rs, staff.rs).
        (
            _,
            "/api/v1/facilities/{fid}/staff"
            | "/api/v1/facilities/{fid}/enrollment-codes"
            | "/api/v1/facilities/{fid}/devices"
            | "/api/v1/devices/{did}/revoke"
            | "/api/v1/accounts"
            | "/api/v1/accounts/{aid}/suspend",
        ) => set(&[A::FacilityManager, A::CityAdmin]),
        ("POST", "/api/v1/facilities/{fid}/change-requests") => set(&[A::FacilityManager]),
        // ED staff's and facility managers' (tier 3 of the escalation chain) own push
        // subscriptions; another's answers 404 (push.rs, escalation.rs).
        (_, "/api/v1/push/subscriptions" | "/api/v1/push/subscriptions/{sid}") => {
            set(&[A::EdStaff, A::EdStaffOtherHospital, A::FacilityManager])
        }
        ("GET", "/api/v1/disasters") => set(&[
            A::CityAdmin,
            A::ResponderInDisaster,
            A::ResponderOutsideDisaster,
        ]),
        (_, "/api/v1/disaster/residents" | "/api/v1/disaster/residents/{rid}") => {
            set(&[A::ResponderInDisaster])
        }
        // The city only (staff.rs, field.rs, governance_*.rs).
        (
            _,
            "/api/v1/facilities"
            | "/api/v1/reviews/break-glass"
            | "/api/v1/reviews/break-glass/{aid}"
            | "/api/v1/reviews/registrations"
            | "/api/v1/reviews/registrations/{hid}"
            | "/api/v1/audit/head"
            | "/api/v1/accounts/{aid}/reinstate"
            | "/api/v1/accounts/{aid}/reissue"
            | "/api/v1/facilities/{fid}/suspend"
            | "/api/v1/facilities/{fid}/reinstate"
            | "/api/v1/facility-applications"
            | "/api/v1/facility-applications/{apid}/decision"
            | "/api/v1/notices"
            | "/api/v1/notices/{nid}"
            | "/api/v1/disasters"
            | "/api/v1/disasters/{did}/renew"
            | "/api/v1/disasters/{did}/end"
            // Yearly re-confirmation: stale records, letters, push reminders (reconfirm.rs).
            | "/api/v1/reconfirmations"
            | "/api/v1/reconfirmations/letters.pdf"
            | "/api/v1/reconfirmations/reminders"
            // The console's register upload (import_console.rs, tests/browser 50-rollout.mjs).
            | "/api/v1/imports"
            | "/api/v1/imports/jobs/{jid}",
        ) => set(&[A::CityAdmin]),
        _ => panic!(
            "no authorization rule for {method} {path}: add one to tests/tests/authorization.rs"
        ),
    }
}

/// Everything the cells need: tokens, clients and object ids.
/// The matrix's world, also the victim municipality of `tenancy.rs`.
pub(crate) struct World {
    pub(crate) tokens: BTreeMap<A, String>,
    pub(crate) medic: Client,
    medic_x: Client,
    revoked: Client,
    pub(crate) ids: BTreeMap<&'static str, String>,
    pub(crate) r3: String,
    pub(crate) r3_card: String,
    pub(crate) r3_item: String,
}

async fn created(r: reqwest::Response) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

pub(crate) async fn build(app: &TestApp, other: &TestApp) -> World {
    let admin = admin_token(app).await;
    let fire = create_facility(app, &admin, "fire_department", "常総広域消防本部").await;
    let hosp = create_facility(app, &admin, "hospital", "きぬ医師会病院").await;
    let hosp2 = create_facility(app, &admin, "hospital", "水海道さくら病院").await;
    add_staff(app, &admin, &fire, "medic1", "paramedic").await;
    add_staff(app, &admin, &fire, "medic2", "paramedic").await;
    add_staff(app, &admin, &fire, "mgr1", "facility_manager").await;
    add_staff(app, &admin, &hosp, "ed1", "ed_staff").await;
    add_staff(app, &admin, &hosp2, "ed2", "ed_staff").await;
    add_staff(app, &admin, &hosp, "ed3", "ed_staff").await;
    let db = app.db();
    let muni = app.municipality_id(&db);
    let resp = kyukit_server::service::accounts::create_staff(
        &db,
        &muni,
        &kyukit_server::service::accounts::NewStaff {
            login_id: "resp1".into(),
            password: MEDIC_PASSWORD.into(),
            role: "disaster_responder".into(),
            display_name: "災害 対応".into(),
            facility_id: None,
            profession: Some("city_staff".into()),
        },
        None,
        app.clock.now_for_tests(),
    )
    .unwrap();
    app.remember_totp("resp1", &resp.totp.secret);

    // Residents: R1 (own account, a card, disaster-use consent), R2, and R3 registered by a proxy.
    let (r1, r1_token, card) = resident_with_card(app, "hanako", &SHARED).await;
    let r = app
        .post(
            &format!("/api/v1/residents/{r1}/consents"),
            Some(&r1_token),
            json!({"categories": ([&SHARED[..], &["photo"]].concat()), "disaster_use": true, "triage_on_card": true, "name_on_print": false}),
        )
        .await;
    created(r).await;
    // Photos for identity check (R1's own, R3's by the proxy below), so their reads answer 200.
    let photo = |rid: String, token: String| async move {
        let mut png = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_pixel(40, 50, image::Rgb([200, 160, 140]))
            .write_to(&mut png, image::ImageFormat::Png)
            .unwrap();
        let r = app
            .client
            .put(app.url(&format!("/api/v1/residents/{rid}/photo")))
            .bearer_auth(token)
            .header("content-type", "image/png")
            .body(png.into_inner())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    };
    photo(r1.clone(), r1_token.clone()).await;
    let mut r2_body = resident_body("taro");
    r2_body["profile"]["date_of_birth"] = json!("1950-01-01");
    let r2_token = created(app.post("/api/v1/residents", None, r2_body).await).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut proxy_body = resident_body("caremgr");
    proxy_body["display_name"] = json!("佐藤 美咲");
    proxy_body["relation"] = json!("care_manager");
    proxy_body["accept_proxy_statement"] = json!(true);
    proxy_body["profile"]["date_of_birth"] = json!("1948-02-02");
    proxy_body["resident"] = proxy_body["profile"].take();
    proxy_body.as_object_mut().unwrap().remove("profile");
    let p = created(app.post("/api/v1/proxies", None, proxy_body).await).await;
    let (r3, proxy_token) = (
        p["resident_id"].as_str().unwrap().to_string(),
        p["token"].as_str().unwrap().to_string(),
    );
    let item = created(
        app.post(
            &format!("/api/v1/residents/{r3}/dataset"),
            Some(&proxy_token),
            json!({"category": "medications", "body": {"name": "アムロジピン"}}),
        )
        .await,
    )
    .await;
    created(
        app.post(
            &format!("/api/v1/residents/{r3}/consents"),
            Some(&proxy_token),
            json!({"categories": ["medications", "photo"], "disaster_use": false, "triage_on_card": false, "name_on_print": false}),
        )
        .await,
    )
    .await;
    photo(r3.clone(), proxy_token.clone()).await;
    let r3_card = created(
        app.post(
            &format!("/api/v1/residents/{r3}/cards"),
            Some(&proxy_token),
            json!({}),
        )
        .await,
    )
    .await;
    // Household stickers (household.rs): R1's own, and R3's made by the proxy.
    let hh = created(
        app.post(
            "/api/v1/households",
            Some(&r1_token),
            json!({"resident_id": r1}),
        )
        .await,
    )
    .await;
    let hh_r3 = created(
        app.post(
            "/api/v1/households",
            Some(&proxy_token),
            json!({"resident_id": r3}),
        )
        .await,
    )
    .await;
    let r1_items = json_of(
        app.get(&format!("/api/v1/residents/{r1}/dataset"), Some(&r1_token))
            .await,
    )
    .await;

    // Devices: the paramedic's, one to be revoked, one of another municipality.
    let mut medic = enrolled_client(app, &admin, &fire).await;
    medic_login(app, &mut medic, "medic1").await.unwrap();
    let mut revoked = enrolled_client(app, &admin, &fire).await;
    medic_login(app, &mut revoked, "medic2").await.unwrap();
    let other_admin = admin_token(other).await;
    let other_fire =
        create_facility(other, &other_admin, "fire_department", "笠間市消防本部").await;
    add_staff(other, &other_admin, &other_fire, "medic1", "paramedic").await;
    let mut medic_x = enrolled_client(other, &other_admin, &other_fire).await;
    medic_login(other, &mut medic_x, "medic1").await.unwrap();
    // The other municipality's paramedic talks to *this* server.
    let medic_x = Client::new(&app.base, medic_x.key().clone())
        .unwrap()
        .with_device_id(medic_x.device_id().unwrap())
        .with_session(medic_x.session().unwrap())
        .with_clock({
            let clock = app.clock.clone();
            move || clock.now_for_tests()
        });

    let scan = medic
        .scan(card["url"].as_str().unwrap(), "R8-1")
        .await
        .unwrap();
    let bg = medic
        .break_glass(&kyukit_field::BreakGlass {
            family_name: "ヤマダ".into(),
            given_name: "ハナコ".into(),
            date_of_birth: "1941-04-03".into(),
            address: Some("水海道諏訪町3222".into()),
            reason: "unconscious, no card at hand".into(),
            incident_ref: "R8-2".into(),
        })
        .await
        .unwrap();
    // An incident of this paramedic, reported, asked of the first hospital, with an attachment.
    let incident = medic
        .open_incident("R8-3", scan["access_id"].as_str())
        .await
        .unwrap();
    let iid = incident["id"].as_str().unwrap().to_string();
    medic
        .send_report(
            &iid,
            &json!({"base_version": 0, "chief_complaint": "胸痛", "activation": "stemi"}),
        )
        .await
        .unwrap();
    medic.inquire(&iid, &[&hosp]).await.unwrap();
    let attachment = created(
        medic
            .signed_bytes(
                Method::POST,
                &format!("/api/v1/incidents/{iid}/attachments"),
                b"%PDF-1.4 matrix".to_vec(),
                "application/pdf",
            )
            .await
            .unwrap(),
    )
    .await;

    let mut tokens = BTreeMap::new();
    tokens.insert(A::Resident, r1_token.clone());
    tokens.insert(A::OtherResident, r2_token);
    tokens.insert(A::Proxy, proxy_token);
    tokens.insert(A::EdStaff, staff_token(app, "ed1", MEDIC_PASSWORD).await);
    tokens.insert(
        A::EdStaffOtherHospital,
        staff_token(app, "ed2", MEDIC_PASSWORD).await,
    );
    tokens.insert(
        A::FacilityManager,
        staff_token(app, "mgr1", MEDIC_PASSWORD).await,
    );
    tokens.insert(A::CityAdmin, admin.clone());
    let resp_token = staff_token(app, "resp1", MEDIC_PASSWORD).await;
    tokens.insert(A::ResponderInDisaster, resp_token.clone());
    tokens.insert(A::ResponderOutsideDisaster, resp_token);
    let ed3 = staff_token(app, "ed3", MEDIC_PASSWORD).await;
    tokens.insert(A::SuspendedUser, ed3);

    // Suspend ed3, revoke medic2's device.
    let accounts = json_of(app.get("/api/v1/accounts", Some(&admin)).await).await;
    let account_of = |login: &str| {
        accounts["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["login_id"] == login)
            .unwrap()["account_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    created(
        app.post(
            &format!("/api/v1/accounts/{}/suspend", account_of("ed3")),
            Some(&admin),
            json!({"reason": "leaked"}),
        )
        .await,
    )
    .await;
    created(
        app.post(
            &format!("/api/v1/devices/{}/revoke", revoked.device_id().unwrap()),
            Some(&admin),
            json!({"reason": "lost"}),
        )
        .await,
    )
    .await;

    let application = created(
        app.post(
            "/api/v1/facility-applications",
            None,
            json!({"kind": "clinic", "name_ja": "申請クリニック", "name_en": "Applicant clinic",
                   "address": "茨城県常総市", "phone": "0297-23-2111", "contact_email": "a@example.jp",
                   "system_manager": {"name": "管理 太郎", "phone": "0297-23-2112"}, "listed": true}),
        )
        .await,
    )
    .await;
    let notice = created(
        app.post(
            "/api/v1/notices",
            Some(&admin),
            json!({"kind": "service_change", "title_ja": "お知らせ", "title_en": "Notice",
                   "body_ja": "本文", "body_en": "Body"}),
        )
        .await,
    )
    .await;
    let jwks = json_of(app.get("/.well-known/jwks.json", None).await).await;

    let mut ids = BTreeMap::new();
    ids.insert("rid", r1.clone());
    ids.insert("cid", card["id"].as_str().unwrap().to_string());
    ids.insert(
        "item",
        r1_items["items"][0]["id"].as_str().unwrap().to_string(),
    );
    ids.insert(
        "card",
        card["url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string(),
    );
    ids.insert("card_url", card["url"].as_str().unwrap().to_string());
    let sticker_url = hh["url"].as_str().unwrap().to_string();
    ids.insert(
        "sticker",
        sticker_url.rsplit('/').next().unwrap().to_string(),
    );
    ids.insert("sticker_url", sticker_url);
    ids.insert("hh", hh["id"].as_str().unwrap().to_string());
    ids.insert("hh_r3", hh_r3["id"].as_str().unwrap().to_string());
    ids.insert("kid", jwks["keys"][0]["kid"].as_str().unwrap().to_string());
    ids.insert("fid", fire);
    ids.insert("hosp2", hosp2.clone());
    ids.insert("device", medic.device_id().unwrap().to_string());
    ids.insert("account", account_of("medic1"));
    ids.insert("access", scan["access_id"].as_str().unwrap().to_string());
    ids.insert("review", bg["access_id"].as_str().unwrap().to_string());
    ids.insert(
        "apid",
        application["application_id"].as_str().unwrap().to_string(),
    );
    ids.insert(
        "aptoken",
        application["status_token"].as_str().unwrap().to_string(),
    );
    ids.insert("nid", notice["id"].as_str().unwrap().to_string());
    ids.insert("iid", iid);
    ids.insert("atid", attachment["id"].as_str().unwrap().to_string());
    let subscription = created(
        app.post(
            "/api/v1/push/subscriptions",
            tokens.get(&A::EdStaff).map(String::as_str),
            push_subscription("https://push.example.com/matrix-1"),
        )
        .await,
    )
    .await;
    ids.insert("sid", subscription["id"].as_str().unwrap().to_string());
    // A console import job (a register of no rows) for the job-status cells.
    let job = app
        .client
        .post(app.url("/api/v1/imports"))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body("form_number,consent_date,consent_by,family_name,given_name,date_of_birth,sex,address\n")
        .send()
        .await
        .unwrap();
    ids.insert(
        "jid",
        created(job).await["id"].as_str().unwrap().to_string(),
    );
    World {
        tokens,
        medic,
        medic_x,
        revoked,
        ids,
        r3: r3.clone(),
        r3_card: r3_card["id"].as_str().unwrap().to_string(),
        r3_item: item["id"].as_str().unwrap().to_string(),
    }
}

/// A valid browser push subscription (the key is the P-256 generator: a point on the curve).
fn push_subscription(endpoint: &str) -> Value {
    json!({"endpoint": endpoint, "keys": {
        "p256dh": "BGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU",
        "auth": "AAECAwQFBgcICQoLDA0ODw"}})
}

/// The concrete path (and query) of a route for an actor: a proxy addresses its own resident.
pub(crate) fn concrete(w: &World, actor: A, path: &str) -> String {
    let proxy = actor == A::Proxy;
    let id = |k: &str| w.ids[k].clone();
    let mut out = path.to_string();
    let subst = |out: &mut String, name: &str, value: String| {
        *out = out.replace(&format!("{{{name}}}"), &value);
    };
    subst(
        &mut out,
        "rid",
        if proxy { w.r3.clone() } else { id("rid") },
    );
    subst(
        &mut out,
        "cid",
        if proxy { w.r3_card.clone() } else { id("cid") },
    );
    subst(
        &mut out,
        "item",
        if proxy { w.r3_item.clone() } else { id("item") },
    );
    subst(&mut out, "card", id("card"));
    subst(&mut out, "sticker", id("sticker"));
    subst(&mut out, "hh", if proxy { id("hh_r3") } else { id("hh") });
    subst(&mut out, "kid", id("kid"));
    subst(&mut out, "ext", "png".into());
    subst(&mut out, "doc", "fridge-sheet.png".into());
    subst(&mut out, "file", "pages.css".into());
    subst(&mut out, "asset", "field.css".into());
    subst(&mut out, "fid", id("fid"));
    subst(&mut out, "nid", id("nid"));
    subst(&mut out, "apid", id("apid"));
    subst(&mut out, "iid", id("iid"));
    subst(&mut out, "atid", id("atid"));
    subst(&mut out, "sid", id("sid"));
    subst(&mut out, "jid", id("jid"));
    subst(&mut out, "hid", "0".repeat(32)); // refused before any lookup
    subst(&mut out, "inv", "0".repeat(32)); // refused before, or not found at, the lookup
    subst(&mut out, "pid", "0".repeat(32));
    let did = if path.starts_with("/api/v1/disasters") {
        w.ids
            .get("disaster")
            .cloned()
            .unwrap_or_else(|| "0".repeat(32))
    } else {
        id("device")
    };
    subst(&mut out, "did", did);
    let aid = if path.starts_with("/api/v1/accounts") {
        id("account")
    } else if path.starts_with("/api/v1/reviews") {
        id("review")
    } else {
        id("access")
    };
    subst(&mut out, "aid", aid);
    if path == "/api/v1/facility-applications/{apid}" {
        out.push_str(&format!("?token={}", id("aptoken")));
    }
    assert!(!out.contains('{'), "unresolved placeholder in {out}");
    out
}

/// A valid body for each writing route, so a refusal is the authorization's, not the parser's.
pub(crate) fn body(w: &World, method: &str, path: &str, now: i64) -> Option<Value> {
    let b = match (method, path) {
        ("PUT", "/api/v1/residents/{rid}") => resident_body("x")["profile"].clone(),
        ("POST", "/api/v1/residents/{rid}/dataset") => {
            json!({"category": "medications", "body": {"name": "matrix"}})
        }
        ("PUT", "/api/v1/residents/{rid}/dataset/{item}") => json!({"body": {"name": "matrix"}}),
        ("POST", "/api/v1/residents/{rid}/consents") => {
            json!({"categories": ["medications"], "disaster_use": false, "triage_on_card": false, "name_on_print": false})
        }
        ("POST", "/api/v1/residents/{rid}/withdrawal") => json!({"reason": "matrix"}),
        ("POST", "/api/v1/residents/{rid}/cards") => json!({}),
        ("POST", "/api/v1/residents/{rid}/cards/{cid}/revoke") => json!({"reason": "matrix"}),
        ("POST", "/api/v1/residents/{rid}/cards/{cid}/reissue") => json!({}),
        ("POST", "/api/v1/facilities") => {
            json!({"kind": "hospital", "name_ja": "病院", "name_en": "Hospital", "address": "常総市", "phone": "0297-23-0000"})
        }
        ("POST", "/api/v1/facilities/{fid}/staff") => {
            json!({"login_id": "matrix1", "password": "matrix password 1", "role": "paramedic", "display_name": "x"})
        }
        ("POST", "/api/v1/facilities/{fid}/enrollment-codes") => json!({"label": "matrix"}),
        ("POST", "/api/v1/devices/{did}/revoke") => json!({"reason": "matrix"}),
        ("POST", "/api/v1/reviews/break-glass/{aid}") => json!({"decision": "unjustified"}),
        ("POST", "/api/v1/reviews/registrations/{hid}") => json!({"decision": "reject"}),
        ("POST", "/api/v1/scans") => json!({"card": w.ids["card_url"], "incident_ref": "M"}),
        ("POST", "/api/v1/household-scans") => {
            json!({"sticker": w.ids["sticker_url"], "incident_ref": "M"})
        }
        ("POST", "/api/v1/households" | "/api/v1/households/{hh}/members") => {
            json!({"resident_id": w.ids["rid"]})
        }
        ("POST", "/api/v1/break-glass") => json!({"family_name": "ヤマダ", "given_name": "ハナコ",
            "date_of_birth": "1941-04-03", "reason": "matrix reason text", "incident_ref": "M"}),
        ("POST", "/api/v1/accounts/{aid}/suspend") => json!({"reason": "matrix"}),
        ("POST", "/api/v1/incidents") => json!({"incident_ref": "M"}),
        ("POST", "/api/v1/incidents/{iid}/reports") => {
            json!({"base_version": 1, "chief_complaint": "M", "activation": "general"})
        }
        ("POST", "/api/v1/incidents/{iid}/attachments") => json!({}),
        ("POST", "/api/v1/incidents/{iid}/inquiries") => json!({"hospitals": [w.ids["hosp2"]]}),
        ("POST", "/api/v1/incidents/{iid}/destination") => json!({"hospital_id": w.ids["hosp2"]}),
        ("POST", "/api/v1/incidents/{iid}/arrival") => json!({}),
        ("POST", "/api/v1/hospital/incidents/{iid}/acknowledge") => json!({}),
        ("POST", "/api/v1/hospital/incidents/{iid}/answer") => json!({"decision": "accept"}),
        ("PUT", "/api/v1/hospital/capacity") => {
            json!({"categories": [{"category": "general", "status": "available"}]})
        }
        ("POST", "/api/v1/accounts/{aid}/reissue") => {
            json!({"reason": "matrix", "new_login_id": "matrix2", "new_password": "matrix password 2"})
        }
        ("POST", "/api/v1/facilities/{fid}/suspend") => json!({"reason": "matrix"}),
        ("PUT", "/api/v1/me/password") => {
            json!({"current_password": "wrong password 0", "new_password": "matrix password 3"})
        }
        ("POST", "/api/v1/facility-applications/{apid}/decision") => {
            json!({"decision": "reject", "reason": "matrix"})
        }
        ("POST", "/api/v1/facilities/{fid}/change-requests") => {
            json!({"type": "change", "changes": {"phone": "0297-23-9999"}})
        }
        ("POST", "/api/v1/notices") => json!({"kind": "incident", "title_ja": "t", "title_en": "t",
            "body_ja": "b", "body_en": "b"}),
        ("POST", "/api/v1/disasters") => {
            json!({"districts": [], "starts_at": now, "ends_at": now + 86_400, "reason": "matrix"})
        }
        ("POST", "/api/v1/disasters/{did}/renew") => json!({"ends_at": now + 2 * 86_400}),
        ("POST", "/api/v1/residents/{rid}/proxy-invites") => json!({"relation": "family"}),
        ("POST", "/api/v1/proxy-invites/accept") => {
            json!({"code": "AAAA-BBBB-CCCC", "accept_proxy_statement": true})
        }
        ("POST", "/api/v1/proxy-invites/register") => {
            json!({"code": "AAAA-BBBB-CCCC", "login_id": "matrix4", "password": "matrix password 4",
                "display_name": "x", "accept_proxy_statement": true})
        }
        ("POST", "/api/v1/webauthn/registrations/finish") => json!({"challenge_id": "0".repeat(32),
            "credential_id": "AAAA", "client_data_json": "e30", "attestation_object": "oA"}),
        ("POST", "/api/v1/webauthn/unlocks/finish") => json!({"challenge_id": "0".repeat(32),
            "credential_id": "AAAA", "client_data_json": "e30", "authenticator_data": "AA",
            "signature": "MAA"}),
        ("POST", "/api/v1/me/push-subscriptions") => {
            push_subscription("https://push.example.com/matrix-3")
        }
        ("POST", "/api/v1/push/subscriptions") => {
            push_subscription("https://push.example.com/matrix-2")
        }
        ("POST", "/api/v1/reconfirmations/reminders") => json!({}),
        ("POST", _) if path.ends_with("/reinstate") || path.ends_with("/end") => json!({}),
        ("GET" | "DELETE", _) => return None,
        _ => return None,
    };
    Some(b)
}

async fn send(
    app: &TestApp,
    w: &World,
    actor: A,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> u16 {
    let m = Method::from_bytes(method.as_bytes()).unwrap();
    let client = match actor {
        A::Paramedic => Some(&w.medic),
        A::ParamedicOtherMunicipality => Some(&w.medic_x),
        A::RevokedDevice => Some(&w.revoked),
        _ => None,
    };
    if let Some(c) = client {
        return c
            .signed(m, path, body.as_ref(), None)
            .await
            .unwrap()
            .status()
            .as_u16();
    }
    app.send(m, path, w.tokens.get(&actor).map(String::as_str), body)
        .await
        .status()
        .as_u16()
}

pub(crate) fn routes() -> Vec<(String, String)> {
    let doc = kyukit_server::api::openapi::document();
    let v = serde_json::to_value(doc).unwrap();
    let mut out = Vec::new();
    for (path, item) in v["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    out.sort();
    out
}

both_backends!(authorization_matrix, |app: TestApp| async move {
    let other = spawn_app(Backend::Sqlite).await.unwrap();
    let mut w = build(&app, &other).await;
    let routes = routes();
    assert!(routes.len() >= 70, "{} routes", routes.len());
    let before = table_counts(&app);
    let mut failures = Vec::new();
    let (mut denied, mut allowed, mut covered_elsewhere) = (0, 0, 0);
    // Responder outside a disaster first; then the city declares one and everyone else runs.
    for phase in 0..2 {
        if phase == 1 {
            let now = app.clock.now_for_tests();
            let d = created(
                app.post(
                    "/api/v1/disasters",
                    w.tokens.get(&A::CityAdmin).map(String::as_str),
                    json!({"districts": [], "starts_at": now, "ends_at": now + 86_400, "reason": "大雨"}),
                )
                .await,
            )
            .await;
            w.ids
                .insert("disaster", d["id"].as_str().unwrap().to_string());
        }
        for (method, path) in &routes {
            let allowed_set = rule(method, path);
            for actor in ALL {
                let in_phase = (actor == A::ResponderOutsideDisaster) == (phase == 0);
                if !in_phase {
                    continue;
                }
                let url = concrete(&w, actor, path);
                let now = app.clock.now_for_tests();
                if allowed_set.contains(&actor) {
                    if method != "GET" {
                        covered_elsewhere += 1;
                        continue;
                    }
                    allowed += 1;
                    let status = send(&app, &w, actor, method, &url, None).await;
                    if [401, 403, 404].contains(&status) {
                        failures.push(format!(
                            "{actor:?} {method} {url}: allowed but got {status}"
                        ));
                    }
                } else {
                    denied += 1;
                    let b = body(&w, method, path, now);
                    let status = send(&app, &w, actor, method, &url, b).await;
                    if ![401, 403, 404].contains(&status) {
                        failures.push(format!(
                            "{actor:?} {method} {url}: forbidden but got {status}"
                        ));
                    }
                }
            }
        }
    }
    eprintln!(
        "authorization matrix: {} routes × {} actors: {denied} forbidden cells refused, {allowed} allowed reads answered, {covered_elsewhere} allowed writes covered by scenario tests",
        routes.len(),
        ALL.len()
    );
    assert!(
        failures.is_empty(),
        "{} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        table_counts(&app),
        before,
        "a refused request changed the database"
    );
});
