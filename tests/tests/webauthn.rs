//! Biometric unlock (issue 21), on SQLite and PostgreSQL: a paramedic logged in with password and
//! TOTP registers the device's platform authenticator, then opens sessions with it. The
//! authenticator here is software (p256, ciborium): it builds real attestation objects and
//! assertions, so the server's verification is exercised honestly — and so are its refusals: a
//! wrong signature, a wrong challenge, a challenge used twice, a counter that did not grow, a
//! credential presented by another device, no user verification, a revoked device, a suspended
//! account.

use base64::Engine;
use kyukit_field::Client;
use kyukit_tests::field::*;
use kyukit_tests::*;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use reqwest::Method;
use sha2::{Digest, Sha256};

const ORIGIN: &str = "https://qq.city.joso.lg.jp";
const RP_ID: &str = "qq.city.joso.lg.jp";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A platform authenticator: one ES256 credential and its counter.
struct SoftAuthenticator {
    key: SigningKey,
    id: Vec<u8>,
    count: u32,
}

impl SoftAuthenticator {
    fn new() -> Self {
        let mut seed = [0u8; 32];
        let key = loop {
            getrandom::fill(&mut seed).unwrap();
            if let Ok(k) = SigningKey::from_slice(&seed) {
                break k;
            }
        };
        let mut id = vec![0u8; 16];
        getrandom::fill(&mut id).unwrap();
        SoftAuthenticator { key, id, count: 0 }
    }

    fn auth_data(&self, flags: u8, attested: bool) -> Vec<u8> {
        let mut d = Sha256::digest(RP_ID.as_bytes()).to_vec();
        d.push(flags);
        d.extend_from_slice(&self.count.to_be_bytes());
        if attested {
            d.extend_from_slice(&[0u8; 16]); // AAGUID
            d.extend_from_slice(&(self.id.len() as u16).to_be_bytes());
            d.extend_from_slice(&self.id);
            let point = self.key.verifying_key().to_sec1_point(false);
            let (x, y) = (&point.as_bytes()[1..33], &point.as_bytes()[33..65]);
            use ciborium::Value as V;
            let cose = V::Map(vec![
                (V::Integer(1.into()), V::Integer(2.into())),
                (V::Integer(3.into()), V::Integer((-7).into())),
                (V::Integer((-1).into()), V::Integer(1.into())),
                (V::Integer((-2).into()), V::Bytes(x.to_vec())),
                (V::Integer((-3).into()), V::Bytes(y.to_vec())),
            ]);
            ciborium::into_writer(&cose, &mut d).unwrap();
        }
        d
    }

    fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
        serde_json::to_vec(
            &json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false}),
        )
        .unwrap()
    }

    /// `navigator.credentials.create`'s answer, as the app sends it.
    fn create(&self, ceremony: &Value, flags: u8) -> Value {
        let challenge = ceremony["options"]["challenge"].as_str().unwrap();
        let cd = Self::client_data("webauthn.create", challenge, ORIGIN);
        use ciborium::Value as V;
        let att = V::Map(vec![
            (V::Text("fmt".into()), V::Text("none".into())),
            (V::Text("attStmt".into()), V::Map(vec![])),
            (
                V::Text("authData".into()),
                V::Bytes(self.auth_data(flags, true)),
            ),
        ]);
        let mut att_bytes = Vec::new();
        ciborium::into_writer(&att, &mut att_bytes).unwrap();
        json!({
            "challenge_id": ceremony["challenge_id"],
            "credential_id": B64.encode(&self.id),
            "client_data_json": B64.encode(cd),
            "attestation_object": B64.encode(att_bytes),
        })
    }

    /// `navigator.credentials.get`'s answer (the counter moves on first), signed by `key`.
    fn get_with(&mut self, ceremony: &Value, challenge: &str, key: &SigningKey) -> Value {
        self.count += 1;
        let cd = Self::client_data("webauthn.get", challenge, ORIGIN);
        let ad = self.auth_data(0x05, false);
        let mut signed = ad.clone();
        signed.extend_from_slice(&Sha256::digest(&cd));
        let sig: DerSignature = key.sign(&signed);
        json!({
            "challenge_id": ceremony["challenge_id"],
            "credential_id": B64.encode(&self.id),
            "client_data_json": B64.encode(cd),
            "authenticator_data": B64.encode(ad),
            "signature": B64.encode(sig.as_bytes()),
        })
    }

    fn get(&mut self, ceremony: &Value) -> Value {
        let challenge = ceremony["options"]["challenge"]
            .as_str()
            .unwrap()
            .to_string();
        let key = self.key.clone();
        self.get_with(ceremony, &challenge, &key)
    }
}

async fn call(c: &Client, path: &str, body: Option<&Value>) -> (u16, Value) {
    let r = c
        .signed(Method::POST, path, body, None)
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Registers `a` on the device of `medic` (logged in).
async fn register(medic: &Client, a: &SoftAuthenticator) -> Value {
    let (s, ceremony) = call(medic, "/api/v1/webauthn/registrations", None).await;
    assert_eq!(s, 201, "{ceremony}");
    let opts = &ceremony["options"];
    assert_eq!(opts["rp"]["id"], RP_ID);
    assert_eq!(
        opts["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(
        opts["authenticatorSelection"]["authenticatorAttachment"],
        "platform"
    );
    assert_eq!(opts["pubKeyCredParams"][0]["alg"], -7);
    let (s, r) = call(
        medic,
        "/api/v1/webauthn/registrations/finish",
        Some(&a.create(&ceremony, 0x45)),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["credential_id"], B64.encode(&a.id));
    r
}

async fn begin_unlock(device: &Client) -> Value {
    let (s, c) = call(device, "/api/v1/webauthn/unlocks", None).await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(c["options"]["userVerification"], "required");
    c
}

fn locked(medic: &Client) -> Client {
    let mut c = medic.clone();
    c.set_session(None);
    c
}

fn count_events(app: &TestApp, action: &str, outcome: &str) -> usize {
    audit_events(app)
        .iter()
        .filter(|e| e.action == action && e.outcome == outcome)
        .count()
}

both_backends!(
    webauthn_unlock_opens_a_device_bound_session,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;
        let mut a = SoftAuthenticator::new();

        // Registration needs the device's live session.
        let (s, e) = call(&locked(&medic), "/api/v1/webauthn/registrations", None).await;
        assert_eq!(s, 401, "{e}");
        register(&medic, &a).await;
        assert_eq!(count_events(&app, "webauthn.register", "ok"), 1);

        // Later: the app is locked (no session); the authenticator opens one.
        let device = locked(&medic);
        let ceremony = begin_unlock(&device).await;
        assert_eq!(
            ceremony["options"]["allowCredentials"][0]["id"],
            B64.encode(&a.id)
        );
        let (s, u) = call(
            &device,
            "/api/v1/webauthn/unlocks/finish",
            Some(&a.get(&ceremony)),
        )
        .await;
        assert_eq!(s, 201, "{u}");
        assert_eq!(u["login_id"], w.medic_login.as_str());
        let token = u["token"].as_str().unwrap().to_string();
        let mut unlocked = device.clone();
        unlocked.set_session(Some(token.clone()));
        let d = unlocked
            .scan(&w.card_url, "R8-WA-1")
            .await
            .expect("scan after unlock");
        assert!(d["categories"].as_array().is_some_and(|c| !c.is_empty()));
        assert_eq!(count_events(&app, "login.webauthn", "ok"), 1);

        // The session is the device's: the token alone, unsigned, is refused.
        let r = app.get("/api/v1/me/residents", Some(&token)).await;
        assert_eq!(r.status(), 401);
        // And it ends as every session does: logout.
        let r = app
            .send(
                Method::DELETE,
                "/api/v1/sessions/current",
                Some(&token),
                None,
            )
            .await;
        assert_eq!(r.status(), 204);
        assert!(unlocked.scan(&w.card_url, "R8-WA-2").await.is_err());

        // A second unlock works (the counter grew).
        let ceremony = begin_unlock(&device).await;
        let (s, u) = call(
            &device,
            "/api/v1/webauthn/unlocks/finish",
            Some(&a.get(&ceremony)),
        )
        .await;
        assert_eq!(s, 201, "{u}");
    }
);

both_backends!(
    webauthn_refusals_wrong_signature_challenge_counter_device_revocation,
    |app: TestApp| async move {
        let w = world(&app).await;
        let medic = medic_client(&app, &w).await;
        let mut a = SoftAuthenticator::new();

        // Without user verification the registration is refused.
        let (_, ceremony) = call(&medic, "/api/v1/webauthn/registrations", None).await;
        let (s, e) = call(
            &medic,
            "/api/v1/webauthn/registrations/finish",
            Some(&a.create(&ceremony, 0x41)),
        )
        .await;
        assert_eq!(
            (s, e["error"].as_str()),
            (401, Some("webauthn_invalid")),
            "{e}"
        );
        // That challenge is spent with its refusal.
        let (s, e) = call(
            &medic,
            "/api/v1/webauthn/registrations/finish",
            Some(&a.create(&ceremony, 0x45)),
        )
        .await;
        assert_eq!(
            (s, e["error"].as_str()),
            (401, Some("webauthn_challenge_unknown")),
            "{e}"
        );
        register(&medic, &a).await;
        let device = locked(&medic);

        // A device with nothing registered has nothing to unlock.
        let other = enrolled_client(&app, &w.admin, &w.fire_id).await;
        let (s, e) = call(&other, "/api/v1/webauthn/unlocks", None).await;
        assert_eq!(
            (s, e["error"].as_str()),
            (404, Some("webauthn_not_registered")),
            "{e}"
        );

        // A wrong signature (another key).
        let ceremony = begin_unlock(&device).await;
        let wrong = SoftAuthenticator::new().key;
        let challenge = ceremony["options"]["challenge"]
            .as_str()
            .unwrap()
            .to_string();
        let body = a.get_with(&ceremony, &challenge, &wrong);
        let (s, e) = call(&device, "/api/v1/webauthn/unlocks/finish", Some(&body)).await;
        assert_eq!(
            (s, e["error"].as_str()),
            (401, Some("webauthn_invalid")),
            "{e}"
        );
        assert!(e["message"].as_str().unwrap().contains("signature"), "{e}");

        // A wrong challenge (signed correctly, but over another challenge).
        let ceremony = begin_unlock(&device).await;
        let key = a.key.clone();
        let body = a.get_with(&ceremony, "bm90LXRoZS1jaGFsbGVuZ2U", &key);
        let (s, e) = call(&device, "/api/v1/webauthn/unlocks/finish", Some(&body)).await;
        assert_eq!(
            (s, e["error"].as_str()),
            (401, Some("webauthn_invalid")),
            "{e}"
        );

        // A counter that did not grow (a cloned authenticator).
        let ceremony = begin_unlock(&device).await;
        let good = a.get(&ceremony);
        let (s, _) = call(&device, "/api/v1/webauthn/unlocks/finish", Some(&good)).await;
        assert_eq!(s, 201);
        a.count -= 1; // the next assertion repeats the counter just used
        let ceremony = begin_unlock(&device).await;
        let (s, e) = call(
            &device,
            "/api/v1/webauthn/unlocks/finish",
            Some(&a.get(&ceremony)),
        )
        .await;
        assert_eq!(
            (s, e["error"].as_str()),
            (401, Some("webauthn_invalid")),
            "{e}"
        );

        // The same answer twice: the challenge was spent by the first.
        let ceremony = begin_unlock(&device).await;
        let good = a.get(&ceremony);
        let (s, _) = call(&device, "/api/v1/webauthn/unlocks/finish", Some(&good)).await;
        assert_eq!(s, 201);
        // (Signed anew by the device: not a replay of the request, a reuse of the challenge.)
        let (s, e) = call(&device, "/api/v1/webauthn/unlocks/finish", Some(&good)).await;
        assert_eq!(
            (s, e["error"].as_str()),
            (401, Some("webauthn_challenge_unknown")),
            "{e}"
        );

        // The credential presented by another device of the same fire department: refused (a
        // stolen credential alone is not enough).
        let other_ceremony = {
            // The other device gets a challenge once it has a credential of its own.
            let mut other_medic = other.clone();
            medic_login(&app, &mut other_medic, &w.medic_login)
                .await
                .expect("login on the other device");
            register(&other_medic, &SoftAuthenticator::new()).await;
            begin_unlock(&other).await
        };
        let (s, e) = call(
            &other,
            "/api/v1/webauthn/unlocks/finish",
            Some(&a.get(&other_ceremony)),
        )
        .await;
        assert_eq!(
            (s, e["error"].as_str()),
            (401, Some("webauthn_invalid")),
            "{e}"
        );
        assert!(count_events(&app, "login.webauthn", "denied") >= 4);

        // The city revokes the device: the unlock is refused, its credentials are gone.
        let ceremony = begin_unlock(&device).await;
        let answer = a.get(&ceremony);
        let r = app
            .post(
                &format!("/api/v1/devices/{}/revoke", device.device_id().unwrap()),
                Some(&w.admin),
                json!({"reason": "lost on scene"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let (s, e) = call(&device, "/api/v1/webauthn/unlocks/finish", Some(&answer)).await;
        assert_eq!(
            (s, e["error"].as_str()),
            (401, Some("device_revoked")),
            "{e}"
        );
        let (s, e) = call(&device, "/api/v1/webauthn/unlocks", None).await;
        assert_eq!(
            (s, e["error"].as_str()),
            (401, Some("device_revoked")),
            "{e}"
        );
        let left = table_counts(&app)
            .into_iter()
            .find(|(t, _)| *t == "webauthn_credentials")
            .unwrap()
            .1;
        assert_eq!(left, 1, "only the other device's credential is left");

        // The account is suspended: its credentials go too, and nothing unlocks.
        let staff = json_of(app.get("/api/v1/accounts", Some(&w.admin)).await).await;
        let medic_id = staff["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["login_id"] == w.medic_login.as_str())
            .unwrap()["account_id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = app
            .post(
                &format!("/api/v1/accounts/{medic_id}/suspend"),
                Some(&w.admin),
                json!({"reason": "ID leaked"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let (s, e) = call(&other, "/api/v1/webauthn/unlocks", None).await;
        assert_eq!(
            (s, e["error"].as_str()),
            (404, Some("webauthn_not_registered")),
            "{e}"
        );
    }
);
