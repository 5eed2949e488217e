//! Paramedic scan end to end, on SQLite and PostgreSQL: enrollment → signed login → scan →
//! consent-filtered dataset (JSON and FHIR) → audit entry → the resident's access history; and
//! every refusal the issue lists, each with no data and an audited denial.

use kyukit_field::{BreakGlass, Client, Error as FieldError};
use kyukit_server::audit;
use kyukit_tests::field::*;
use kyukit_tests::*;
use reqwest::Method;

/// The excluded categories' texts: none may appear in any disclosure.
const EXCLUDED_TEXTS: [&str; 4] = ["心房細動", "I48.9", "山田 一郎", "090-1234-5678"];

pub(crate) fn assert_no_excluded(s: &str) {
    for t in EXCLUDED_TEXTS {
        assert!(!s.contains(t), "excluded text {t:?} disclosed: {s}");
    }
}

fn http_code(e: &FieldError) -> (u16, String) {
    match e {
        FieldError::Http { status, error, .. } => (*status, error.clone()),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

/// Writes a FHIR bundle for the Python R4 validator (tests/oracle/test_fhir.py).
fn save_fhir_sample(name: &str, bundle: &Value) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fhir-samples");
    std::fs::create_dir_all(&dir).expect("samples dir");
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_vec_pretty(bundle).expect("json"),
    )
    .expect("write sample");
}

fn backend_name(app: &TestApp) -> &'static str {
    match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

both_backends!(
    enroll_scan_filtered_by_consent_audited_and_in_access_history,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;
        let device_id = medic.device_id().unwrap().to_string();

        // JSON: exactly the consented categories, nothing of the others.
        let d = medic.scan(&w.card_url, "R8-1121-0042").await.expect("scan");
        let mut cats: Vec<&str> = d["categories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        cats.sort();
        let mut shared = SHARED.to_vec();
        shared.sort();
        assert_eq!(cats, shared);
        let items = d["items"].as_array().unwrap();
        assert_eq!(
            items.len(),
            5,
            "2 medications, allergy, device, blood type: {d}"
        );
        assert!(
            items
                .iter()
                .all(|i| SHARED.contains(&i["category"].as_str().unwrap()))
        );
        assert_eq!(d["patient"]["family_name"], "山田");
        assert_eq!(d["patient"]["age"], 85);
        assert_eq!(d["kind"], "scan");
        assert_eq!(d["card_id"], w.card_id.as_str());
        assert_no_excluded(&d.to_string());

        // FHIR: the same filter; saved for the independent R4 validator.
        let b = medic
            .scan_fhir(&w.card_url, "R8-1121-0042")
            .await
            .expect("fhir");
        assert_eq!(b["resourceType"], "Bundle");
        let types: Vec<&str> = b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"]["resourceType"].as_str().unwrap())
            .collect();
        for t in [
            "Composition",
            "Patient",
            "MedicationStatement",
            "AllergyIntolerance",
            "Consent",
        ] {
            assert!(types.contains(&t), "{t} missing from {types:?}");
        }
        assert!(
            !types.contains(&"Condition"),
            "conditions are not consented: {types:?}"
        );
        assert!(
            !types.contains(&"RelatedPerson"),
            "contacts are not consented: {types:?}"
        );
        assert_no_excluded(&b.to_string());
        save_fhir_sample(&format!("scan-{}", backend_name(&app)), &b);

        // The card also works as base64url COSE bytes.
        let cose = kyukit_card::parse_card_url(&w.card_url).unwrap().cose;
        let b64 = {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(cose)
        };
        let again = medic
            .scan(&b64, "R8-1121-0042")
            .await
            .expect("scan by bytes");
        assert_eq!(again["patient"]["id"], w.rid.as_str());

        // Re-reading the access within its grant works, and is audited too.
        let access_id = d["access_id"].as_str().unwrap();
        let r = medic.access(access_id).await.expect("reread");
        assert_eq!(r["access_id"], access_id);
        assert_no_excluded(&r.to_string());

        // Audit: the scans are in the chain with who, role, device, facility, resident, purpose.
        let events = audit_events(&app);
        let scans: Vec<_> = events
            .iter()
            .filter(|e| e.action == "record.scan")
            .collect();
        assert_eq!(scans.len(), 3);
        let s = scans[0];
        assert_eq!(s.outcome, "ok");
        assert_eq!(s.actor_role.as_deref(), Some("paramedic"));
        assert_eq!(s.device_id.as_deref(), Some(device_id.as_str()));
        assert_eq!(s.facility_id.as_deref(), Some(w.fire_id.as_str()));
        assert_eq!(s.resident_id.as_deref(), Some(w.rid.as_str()));
        assert_eq!(s.purpose.as_deref(), Some("scan"));
        assert!(
            events
                .iter()
                .any(|e| e.action == "record.read" && e.outcome == "ok")
        );
        let db = app.db();
        let muni = app.municipality_id(&db);
        let mut conn = db.conn().unwrap();
        audit::verify(&mut conn, &muni, None).expect("the chain verifies");

        // The resident sees every access: when, which facility, which role, why.
        let h = access_history(&app, &w).await;
        let entries = h["entries"].as_array().unwrap();
        let seen: Vec<&Value> = entries
            .iter()
            .filter(|e| e["action"] == "record.scan")
            .collect();
        assert_eq!(seen.len(), 3, "{h}");
        assert_eq!(seen[0]["role"], "paramedic");
        assert_eq!(seen[0]["facility_id"], w.fire_id.as_str());
        assert_eq!(seen[0]["facility_name"], "常総広域消防本部");
        assert_eq!(seen[0]["purpose"], "scan");
    }
);

/// Sends a scan and expects a refusal with `status` and `code`, no disclosed data, and one more
/// denied audit event carrying that code.
async fn refused(app: &TestApp, client: &Client, card: &str, status: u16, code: &str) {
    let before = audit_events(app)
        .iter()
        .filter(|e| e.outcome == "denied" && e.detail.as_deref() == Some(code))
        .count();
    let r = client
        .signed(
            Method::POST,
            "/api/v1/scans",
            Some(&json!({"card": card, "incident_ref": "R8-1"})),
            None,
        )
        .await
        .expect("sent");
    assert_refusal(app, r, status, code, before).await;
}

pub(crate) async fn assert_refusal(
    app: &TestApp,
    r: reqwest::Response,
    status: u16,
    code: &str,
    before: usize,
) {
    assert_eq!(r.status().as_u16(), status, "expected {code}");
    let body: Value = r.json().await.expect("error body");
    assert_eq!(body["error"], code, "{body}");
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "only error and message: {body}"
    );
    assert_no_excluded(&body.to_string());
    let after = audit_events(app)
        .iter()
        .filter(|e| e.outcome == "denied" && e.detail.as_deref() == Some(code))
        .count();
    assert_eq!(after, before + 1, "one audited denial for {code}");
}

/// A genuine card of another municipality (a fresh key this server does not trust), card id
/// `[id; 16]`.
fn foreign_card_url(id: u8) -> String {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).unwrap();
    let foreign_key = kyukit_card::IssuerKey::from_secret_bytes(&secret).unwrap();
    let claims = kyukit_card::Claims {
        card_id: kyukit_card::CardId([id; 16]),
        issued_at: Some(T0),
        expires_at: T0 + 86_400 * 365,
        issuer: None,
        triage: None,
    };
    let cose = kyukit_card::sign(&claims, &foreign_key).unwrap();
    kyukit_card::card_url("https://qq.city.kasama.lg.jp/c/", &cose).unwrap()
}

pub(crate) fn denials(app: &TestApp, code: &str) -> usize {
    audit_events(app)
        .iter()
        .filter(|e| e.outcome == "denied" && e.detail.as_deref() == Some(code))
        .count()
}

both_backends!(
    device_and_request_refusals_are_audited,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;

        // Replayed request: the identical signed request twice.
        let req = medic
            .prepare_signed(
                Method::POST,
                "/api/v1/scans",
                Some(&json!({"card": w.card_url, "incident_ref": "R8-2"})),
                None,
            )
            .unwrap();
        assert_eq!(medic.send_prepared(&req).await.unwrap().status(), 201);
        let before = denials(&app, "replayed_request");
        let r = medic.send_prepared(&req).await.unwrap();
        assert_refusal(&app, r, 401, "replayed_request", before).await;

        // A body changed after signing.
        let mut forged = medic
            .prepare_signed(
                Method::POST,
                "/api/v1/scans",
                Some(&json!({"card": w.card_url, "incident_ref": "R8-3"})),
                None,
            )
            .unwrap();
        forged.body =
            Some(serde_json::to_vec(&json!({"card": w.card_url, "incident_ref": "R8-4"})).unwrap());
        let before = denials(&app, "signature_invalid");
        let r = medic.send_prepared(&forged).await.unwrap();
        assert_refusal(&app, r, 401, "signature_invalid", before).await;

        // Unknown key: a device id nobody enrolled; and an enrolled id signed by another key.
        let stranger = new_client(&app)
            .with_device_id(random_hex(16))
            .with_session(medic.session().unwrap());
        refused(&app, &stranger, &w.card_url, 401, "device_unknown").await;
        let impostor = new_client(&app)
            .with_device_id(medic.device_id().unwrap())
            .with_session(medic.session().unwrap());
        refused(&app, &impostor, &w.card_url, 401, "signature_invalid").await;

        // A signature from too far in the past (clock skew or a stored request).
        let stale = medic.clone().with_clock({
            let clock = app.clock.clone();
            move || clock.now_for_tests() - 300
        });
        refused(&app, &stale, &w.card_url, 401, "signature_expired").await;

        // The bearer token alone (without the device) is refused.
        let before = denials(&app, "signature_required");
        let r = app
            .post(
                "/api/v1/scans",
                medic.session(),
                json!({"card": w.card_url, "incident_ref": "R8-5"}),
            )
            .await;
        assert_refusal(&app, r, 401, "signature_required", before).await;
        // ... also on the ordinary endpoints.
        let r = app.get("/api/v1/me/residents", medic.session()).await;
        assert_eq!(r.status(), 401);

        // A resident account trying to scan: unsigned, and with an enrolled device's signature.
        let before = denials(&app, "signature_required");
        let r = app
            .post(
                "/api/v1/scans",
                Some(&w.resident_token),
                json!({"card": w.card_url, "incident_ref": "R8-6"}),
            )
            .await;
        assert_refusal(&app, r, 401, "signature_required", before).await;
        let resident_event = audit_events(&app).into_iter().last().unwrap();
        assert_eq!(resident_event.actor_role.as_deref(), Some("resident"));
        let mut borrowed = enrolled_client(&app, &w.admin, &w.fire_id).await;
        borrowed.set_session(Some(w.resident_token.clone()));
        refused(&app, &borrowed, &w.card_url, 401, "session_not_bound").await;
        // A resident cannot even log in on a field device as a paramedic would.
        let mut r2 = enrolled_client(&app, &w.admin, &w.fire_id).await;
        r2.login("hanako", "correct horse battery", None)
            .await
            .expect("resident login works");
        refused(&app, &r2, &w.card_url, 401, "session_not_bound").await;

        // A paramedic cannot log in without an enrolled device.
        let before = denials(&app, "device_required");
        let r = app
            .post(
                "/api/v1/sessions",
                None,
                json!({"login_id": w.medic_login, "password": MEDIC_PASSWORD, "totp": app.totp_code(&w.medic_login)}),
            )
            .await;
        assert_eq!(r.status(), 403);
        assert_eq!(json_of(r).await["error"], "device_required");
        assert_eq!(denials(&app, "device_required"), before + 1);

        // Revoked device: refused on its next request, and its session is gone.
        let r = app
            .post(
                &format!("/api/v1/devices/{}/revoke", medic.device_id().unwrap()),
                Some(&w.admin),
                json!({"reason": "lost on scene"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(json_of(r).await["status"], "revoked");
        refused(&app, &medic, &w.card_url, 401, "device_revoked").await;
        let mut again = medic.clone();
        let e = medic_login(&app, &mut again, &w.medic_login)
            .await
            .unwrap_err();
        assert_eq!(http_code(&e), (401, "device_revoked".into()));

        // Expired and reused enrollment codes.
        let code = enrollment_code(&app, &w.admin, &w.fire_id, 1).await;
        app.clock.advance(61);
        let before = denials(&app, "enrollment_code_expired");
        let e = new_client(&app).enroll(&code, None).await.unwrap_err();
        assert_eq!(http_code(&e), (403, "enrollment_code_expired".into()));
        assert_eq!(denials(&app, "enrollment_code_expired"), before + 1);
        let code = enrollment_code(&app, &w.admin, &w.fire_id, 10).await;
        new_client(&app)
            .enroll(&code, None)
            .await
            .expect("first use");
        let before = denials(&app, "enrollment_code_used");
        let e = new_client(&app).enroll(&code, None).await.unwrap_err();
        assert_eq!(http_code(&e), (403, "enrollment_code_used".into()));
        assert_eq!(denials(&app, "enrollment_code_used"), before + 1);
        let e = new_client(&app)
            .enroll("AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GG", None)
            .await
            .unwrap_err();
        assert_eq!(http_code(&e), (404, "enrollment_code_unknown".into()));

        // Nothing above left a chain that does not verify, up to the head served to the city.
        let admin = admin_token(&app).await; // a fresh session (the clock moved)
        let head = json_of(app.get("/api/v1/audit/head", Some(&admin)).await).await;
        let db = app.db();
        let muni = app.municipality_id(&db);
        let seq = head["seq"].as_i64().unwrap();
        let verified = audit::verify(
            &mut db.conn().unwrap(),
            &muni,
            Some((seq, head["hash"].as_str().unwrap())),
        )
        .expect("chain verifies against the served head");
        assert_eq!(verified, seq);
        // The head is for the city only.
        let r = app.get("/api/v1/audit/head", Some(&w.resident_token)).await;
        assert_eq!(r.status(), 403);
    }
);

both_backends!(
    card_and_consent_refusals_are_audited,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;

        // Another municipality's card (its key is not trusted here).
        let foreign_url = foreign_card_url(7);
        refused(&app, &medic, &foreign_url, 403, "untrusted_issuer").await;

        // A tampered card (one digit changed): not genuine.
        let mut tampered = w.card_url.clone().into_bytes();
        let i = tampered.len() - 20;
        tampered[i] = if tampered[i] == b'1' { b'2' } else { b'1' };
        let tampered = String::from_utf8(tampered).unwrap();
        let r = medic
            .signed(
                Method::POST,
                "/api/v1/scans",
                Some(&json!({"card": tampered, "incident_ref": "x"})),
                None,
            )
            .await
            .unwrap();
        assert!(matches!(r.status().as_u16(), 403 | 422), "{}", r.status());
        // The city's card with one bit of its signature flipped: the city's key id and the real
        // card id, but not the bytes the city signed, so the signature is checked (the server
        // skips that only for the exact bytes it issued) and the card refused.
        let mut cose = kyukit_card::parse_card_url(&w.card_url).unwrap().cose;
        let last = cose.len() - 1;
        cose[last] ^= 1;
        let flipped = {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&cose)
        };
        refused(&app, &medic, &flipped, 403, "card_not_genuine").await;

        // A second resident and card (for the revoked- and expired-card cases).
        let (rid2, token2, card2) = resident_with_card(&app, "taro", &SHARED).await;
        let exp = json_of(
            app.get(&format!("/api/v1/residents/{rid2}/cards"), Some(&token2))
                .await,
        )
        .await["cards"][0]["expires_at"]
            .as_i64()
            .unwrap();
        // Revoked card.
        let r = app
            .post(
                &format!(
                    "/api/v1/residents/{rid2}/cards/{}/revoke",
                    card2["id"].as_str().unwrap()
                ),
                Some(&token2),
                json!({"reason": "lost"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        refused(
            &app,
            &medic,
            card2["url"].as_str().unwrap(),
            403,
            "card_revoked",
        )
        .await;

        // Withdrawn consent (支援中止): refused as withdrawn, and shown to the resident.
        let r = app
            .post(
                &format!("/api/v1/residents/{}/withdrawal", w.rid),
                Some(&w.resident_token),
                json!({"reason": "moved"}),
            )
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        refused(&app, &medic, &w.card_url, 403, "consent_withdrawn").await;
        let h = access_history(&app, &w).await;
        assert!(
            h["entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "record.scan" && e["outcome"] == "denied"),
            "{h}"
        );

        // Expired card: five years later (a new login: sessions last 12 hours). Last, because
        // the clock does not come back (TOTP steps are single-use and only move forward).
        app.clock.set(exp + 1);
        let mut late = medic.clone();
        medic_login(&app, &mut late, &w.medic_login).await.unwrap();
        refused(
            &app,
            &late,
            card2["url"].as_str().unwrap(),
            403,
            "card_expired",
        )
        .await;
    }
);

// On SQLite a scan's reads run on the HTTP worker, which may not wait for a commit; a scan
// whose session is due its once-a-minute touch (a write) runs again on the blocking pool. That
// second run must write the touch, and answer and audit exactly once.
both_backends!(
    a_scan_that_must_touch_its_session_is_answered_and_audited_once,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;
        let scans_ok = |app: &TestApp| {
            audit_events(app)
                .iter()
                .filter(|e| e.action == "record.scan" && e.outcome == "ok")
                .count()
        };

        // 14 idle minutes (the limit is 15): the touch is due.
        app.clock.advance(14 * 60);
        let before = scans_ok(&app);
        let d = medic.scan(&w.card_url, "R8-1204-1").await.expect("scan");
        assert_eq!(d["kind"], "scan");
        assert_eq!(scans_ok(&app), before + 1, "one audited scan");

        // Another 14 minutes: the session lives only if that scan's touch was written.
        app.clock.advance(14 * 60);
        let foreign_url = foreign_card_url(9);
        // A refusal after the touch: one denial, not one per run.
        refused(&app, &medic, &foreign_url, 403, "untrusted_issuer").await;

        // And a third time, to a scan that succeeds again.
        app.clock.advance(14 * 60);
        let before = scans_ok(&app);
        medic.scan(&w.card_url, "R8-1204-2").await.expect("scan");
        assert_eq!(scans_ok(&app), before + 1);
    }
);

/// Takes the nonce migration down, runs `old_server` (SQL on the old table, as the old server
/// would have left it), and up again, on this test's database while the server keeps running.
fn redo_nonce_migration(app: &TestApp, old_server: &str) {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
    const VERSION: &str = "20261205000001";
    fn down_up<DB: diesel::backend::Backend>(
        c: &mut (impl MigrationHarness<DB> + SimpleConnection),
        migrations: fn() -> EmbeddedMigrations,
        old_server: &str,
    ) {
        loop {
            let reverted = c.revert_last_migration(migrations()).expect("down");
            if reverted.to_string() == VERSION {
                break;
            }
        }
        c.batch_execute(old_server).expect("old server's rows");
        c.run_pending_migrations(migrations()).expect("up");
    }
    match app.backend {
        Backend::Sqlite => {
            let mut c = diesel::SqliteConnection::establish(&app.database_url).expect("sqlite");
            c.batch_execute("PRAGMA busy_timeout = 10000")
                .expect("pragma");
            down_up(&mut c, || kyukit_server::db::SQLITE_MIGRATIONS, old_server);
        }
        Backend::Postgres => {
            let mut c = diesel::PgConnection::establish(&app.database_url).expect("postgres");
            down_up(
                &mut c,
                || kyukit_server::db::POSTGRES_MIGRATIONS,
                old_server,
            );
        }
    }
}

/// The `nonce` parameter of a prepared request's `Signature-Input`.
fn nonce_of(req: &kyukit_field::PreparedRequest) -> String {
    let (_, input) = req
        .headers
        .iter()
        .find(|(name, _)| name == "signature-input")
        .expect("signed");
    let rest = &input[input.find(";nonce=\"").expect("nonce") + 8..];
    rest[..rest.find('"').expect("closing quote")].to_string()
}

/// Spent nonces with this `nonce`, and the least and greatest `created` they are kept under.
fn spent_under(app: &TestApp, nonce: &str) -> (i64, Option<i64>, Option<i64>) {
    use diesel::dsl::{count_star, max, min};
    use diesel::prelude::*;
    use kyukit_server::db::schema::spent_nonces as n;
    let mut c = app.db().conn().expect("conn");
    let c: &mut kyukit_server::db::DbConnection = &mut c;
    n::table
        .filter(n::nonce.eq(nonce))
        .select((count_star(), min(n::created), max(n::created)))
        .get_result(c)
        .expect("spent nonces")
}

/// Spent nonces of `device` signed at `created` (the test clock does not move by itself).
fn spent_nonces(app: &TestApp, device: &str, created: i64) -> i64 {
    use diesel::prelude::*;
    use kyukit_server::db::schema::spent_nonces as n;
    let mut c = app.db().conn().expect("conn");
    let c: &mut kyukit_server::db::DbConnection = &mut c;
    n::table
        .filter(n::device_id.eq(device).and(n::created.eq(created)))
        .count()
        .get_result(c)
        .expect("count")
}

// Replay protection keys a spent nonce by the request's signed time. An upgrade from the table
// keyed by (device, nonce) carries every nonce a replay could still use, and the purge forgets
// a nonce only once its request is too old for the signature window anyway.
both_backends!(
    spent_nonces_outlive_the_upgrade_and_the_purge_keeps_them_for_the_window,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;
        let device = medic.device_id().expect("enrolled").to_string();
        let scan = |incident: &str| {
            medic
                .prepare_signed(
                    Method::POST,
                    "/api/v1/scans",
                    Some(&json!({"card": w.card_url, "incident_ref": incident})),
                    None,
                )
                .unwrap()
        };
        let t = app.clock.now_for_tests();
        let (late, early, stale) = (scan("R8-1205-1"), scan("R8-1205-2"), scan("R8-1205-3"));
        for req in [&late, &early, &stale] {
            assert_eq!(medic.send_prepared(req).await.unwrap().status(), 201);
        }

        // Down: the nonces go back to the old table, which kept only the time of acceptance
        // (expires_at − 600), within ±60 s of `created`. As the old server would have left
        // them: `late` accepted 60 s after it was signed, `early` 60 s before (a device clock
        // ahead), and `stale` 601 s before the newest acceptance, which no replay can use.
        let old_server = format!(
            "UPDATE request_nonces SET expires_at = {late_at} WHERE nonce = '{late}';
             UPDATE request_nonces SET expires_at = {early_at} WHERE nonce = '{early}';
             UPDATE request_nonces SET expires_at = {stale_at} WHERE nonce = '{stale}';",
            late_at = t + 60 + 600,
            early_at = t - 60 + 600,
            stale_at = t + 60 + 600 - 601,
            late = nonce_of(&late),
            early = nonce_of(&early),
            stale = nonce_of(&stale),
        );
        // Up: each comes over under every `created` it may have been signed with.
        redo_nonce_migration(&app, &old_server);
        assert_eq!(
            spent_under(&app, &nonce_of(&late)),
            (121, Some(t), Some(t + 120))
        );
        assert_eq!(
            spent_under(&app, &nonce_of(&early)),
            (121, Some(t - 120), Some(t))
        );
        assert_eq!(spent_under(&app, &nonce_of(&stale)), (0, None, None));
        // Both replays are still refused.
        for req in [&late, &early] {
            let before = denials(&app, "replayed_request");
            let r = medic.send_prepared(req).await.unwrap();
            assert_refusal(&app, r, 401, "replayed_request", before).await;
        }
        // A fresh request of the same device at the same second is not mistaken for one.
        let second = scan("R8-1205-4");
        assert_eq!(medic.send_prepared(&second).await.unwrap().status(), 201);

        // The purge keeps a nonce for NONCE_KEEP_SECS after the `created` it was signed with.
        let db = app.db();
        let keep = kyukit_server::service::devices::NONCE_KEEP_SECS;
        let at_t = spent_nonces(&app, &device, t);
        assert!(
            at_t >= 2,
            "both scans' nonces are kept under created = {t}: {at_t}"
        );
        kyukit_server::service::devices::purge_nonces(&db, t + keep).expect("purge");
        assert_eq!(spent_nonces(&app, &device, t), at_t, "kept for the window");
        let before = denials(&app, "replayed_request");
        let r = medic.send_prepared(&second).await.unwrap();
        assert_refusal(&app, r, 401, "replayed_request", before).await;
        kyukit_server::service::devices::purge_nonces(&db, t + keep + 1).expect("purge");
        assert_eq!(spent_nonces(&app, &device, t), 0, "purged after it");
        // By then a replay is refused by the signature window instead.
        app.clock.advance(keep + 1);
        let before = denials(&app, "signature_expired");
        let r = medic.send_prepared(&second).await.unwrap();
        assert_refusal(&app, r, 401, "signature_expired", before).await;
    }
);

both_backends!(
    break_glass_discloses_emergency_categories_flags_review_and_shows_the_resident,
    |app: TestApp| async move {
        let admin = admin_token(&app).await;
        let fire = create_facility(&app, &admin, "fire_department", "常総広域消防本部").await;
        add_staff(&app, &admin, &fire, "medic1", "paramedic").await;
        // The resident shares everything, including the care team (not an emergency category).
        let all = [
            "medications",
            "conditions",
            "allergies",
            "devices",
            "blood_type",
            "advance_directive",
            "care_team",
            "emergency_contacts",
        ];
        let (rid, _, _) = resident_with_card(&app, "hanako", &all).await;
        let mut medic = enrolled_client(&app, &admin, &fire).await;
        medic_login(&app, &mut medic, "medic1").await.unwrap();

        let search = |family: &str, reason: &str| BreakGlass {
            family_name: family.into(),
            given_name: "ハナコ".into(),
            date_of_birth: "1941-04-03".into(),
            address: None,
            reason: reason.into(),
            incident_ref: "R8-77".into(),
        };
        let e = medic
            .break_glass(&search("ヤマダ", "short"))
            .await
            .unwrap_err();
        assert_eq!(http_code(&e).0, 422);
        let before = denials(&app, "no_match");
        let e = medic
            .break_glass(&search("サトウ", "unconscious, no card found at home"))
            .await
            .unwrap_err();
        assert_eq!(http_code(&e), (404, "no_match".into()));
        assert_eq!(denials(&app, "no_match"), before + 1);

        let d = medic
            .break_glass(&search("ヤマダ", "unconscious, no card found at home"))
            .await
            .expect("break-glass");
        assert_eq!(d["kind"], "break_glass");
        assert_eq!(d["patient"]["id"], rid.as_str());
        let cats: Vec<&str> = d["categories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert!(!cats.contains(&"care_team"), "{cats:?}");
        assert!(cats.contains(&"conditions") && cats.contains(&"emergency_contacts"));
        assert_eq!(
            d["expires_at"].as_i64().unwrap() - d["accessed_at"].as_i64().unwrap(),
            3600
        );
        let fhir = medic
            .break_glass_fhir(&search("ヤマダ", "unconscious, no card found at home"))
            .await
            .unwrap();
        save_fhir_sample(&format!("break-glass-{}", backend_name(&app)), &fhir);

        // The grant expires.
        let access_id = d["access_id"].as_str().unwrap().to_string();
        medic.access(&access_id).await.expect("within the hour");
        app.clock.advance(3601);
        medic_login(&app, &mut medic, "medic1").await.unwrap(); // 30 idle minutes ended the session
        let e = medic.access(&access_id).await.unwrap_err();
        assert_eq!(http_code(&e), (403, "access_expired".into()));

        // Flagged for the city's review; reviewed once.
        let admin = admin_token(&app).await; // a fresh session after the hour
        let list = json_of(app.get("/api/v1/reviews/break-glass", Some(&admin)).await).await;
        let pending = list["accesses"].as_array().unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[0]["reason"], "unconscious, no card found at home");
        let r = app
            .post(
                &format!("/api/v1/reviews/break-glass/{access_id}"),
                Some(&admin),
                json!({"decision": "justified", "note": "確認済み"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let r = app
            .post(
                &format!("/api/v1/reviews/break-glass/{access_id}"),
                Some(&admin),
                json!({"decision": "justified"}),
            )
            .await;
        assert_eq!(r.status(), 409);
        // Only the city reviews.
        let token = json_of(
            app.post(
                "/api/v1/sessions",
                None,
                json!({"login_id": "hanako", "password": "correct horse battery"}),
            )
            .await,
        )
        .await["token"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            app.get("/api/v1/reviews/break-glass", Some(&token))
                .await
                .status(),
            403
        );

        // Shown to the resident.
        let h = json_of(
            app.get(
                &format!("/api/v1/residents/{rid}/access-history"),
                Some(&token),
            )
            .await,
        )
        .await;
        assert!(
            h["entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "record.break_glass"
                    && e["purpose"] == "break_glass"
                    && e["role"] == "paramedic"),
            "{h}"
        );
    }
);

both_backends!(
    scans_and_logins_are_rate_limited_and_audited,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;
        // Default: 30 scans per device per minute.
        let mut statuses = Vec::new();
        for i in 0..34 {
            let r = medic
                .signed(
                    Method::POST,
                    "/api/v1/scans",
                    Some(&json!({"card": w.card_url, "incident_ref": format!("R{i}")})),
                    None,
                )
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 201).count(),
            30,
            "{statuses:?}"
        );
        assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 4);
        let throttled: Vec<_> = audit_events(&app)
            .into_iter()
            .filter(|e| e.action == "rate.throttled")
            .collect();
        assert_eq!(
            throttled.len(),
            1,
            "coalesced to one event a minute per key"
        );
        assert_eq!(throttled[0].purpose.as_deref(), Some("scan_per_device"));
        assert_eq!(throttled[0].device_id.as_deref(), medic.device_id());

        // Logins: 10 per login id per minute.
        let mut login_statuses = Vec::new();
        for _ in 0..12 {
            let r = app
                .post(
                    "/api/v1/sessions",
                    None,
                    json!({"login_id": "nobody", "password": "wrong password!"}),
                )
                .await;
            login_statuses.push(r.status().as_u16());
        }
        assert_eq!(
            login_statuses.iter().filter(|s| **s == 401).count(),
            10,
            "{login_statuses:?}"
        );
        assert_eq!(login_statuses.iter().filter(|s| **s == 429).count(), 2);
        assert!(
            audit_events(&app)
                .iter()
                .any(|e| e.action == "rate.throttled"
                    && e.purpose.as_deref() == Some("login_per_login_id"))
        );
    }
);
