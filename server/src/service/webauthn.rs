//! Biometric unlock on field devices (issue 21): a paramedic who logged in with password and
//! TOTP on an enrolled device registers that device's platform authenticator (WebAuthn Level 2,
//! ES256, user verification required) and later opens a session on the same device with it
//! instead. Every step is a request signed by the device key, as every field request is: a
//! credential is bound to (account, device), and an assertion is accepted only from the device
//! it was registered on, so neither the credential nor the device key alone opens a session.
//!
//! The verification is the minimum the standard asks of a relying party for ES256 with
//! attestation `none` (no attestation statement is checked: the device itself was enrolled by
//! the fire department): client data type, challenge and origin; the RP id hash; the UP and UV
//! flags; the credential's COSE key (EC2, P-256, alg -7); the assertion's ECDSA signature over
//! `authenticatorData ‖ SHA-256(clientDataJSON)`; a signature counter that must grow (unless
//! the authenticator keeps none). Written on p256, ciborium and sha2, which the workspace has.

use super::accounts::{self, Actor, SessionPolicy};
use super::devices::SignedBy;
use super::error::DomainError;
use crate::audit::{self, Action, Event, Outcome};
use crate::db::{self, Db, DbConnection};
use crate::domain::{AccountStatus, Role};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// How long a ceremony's challenge may be answered.
pub const CHALLENGE_SECS: i64 = 120;
const PURPOSE_REGISTER: &str = "register";
const PURPOSE_UNLOCK: &str = "unlock";
/// Authenticator data flags.
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Where the app runs: the origin the client data must name and the relying party id.
#[derive(Debug, Clone)]
pub struct RelyingParty {
    pub origin: String,
    pub id: String,
}

/// A ceremony's options for `navigator.credentials.create` / `.get` (binary values as
/// unpadded base64url; the app decodes them).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ceremony {
    pub challenge_id: String,
    /// `PublicKeyCredentialCreationOptions` (registration) or `PublicKeyCredentialRequestOptions`
    /// (unlock), binary members base64url.
    #[schema(value_type = Object)]
    pub options: Value,
}

/// The authenticator's answer to a registration.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterFinish {
    pub challenge_id: String,
    /// The credential's raw id, base64url.
    pub credential_id: String,
    /// `response.clientDataJSON`, base64url.
    pub client_data_json: String,
    /// `response.attestationObject`, base64url.
    pub attestation_object: String,
}

/// The authenticator's answer to an unlock.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnlockFinish {
    pub challenge_id: String,
    pub credential_id: String,
    pub client_data_json: String,
    /// `response.authenticatorData`, base64url.
    pub authenticator_data: String,
    /// `response.signature` (ASN.1 DER ECDSA), base64url.
    pub signature: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Registered {
    pub credential_id: String,
}

/// A session opened by an unlock: the bearer token (bound to the device) and whose it is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Unlocked {
    pub token: String,
    pub login_id: String,
}

fn invalid(what: &str) -> DomainError {
    DomainError::unauthorized_code(
        "webauthn_invalid",
        format!("the authenticator's answer was refused: {what}"),
    )
}

fn b64(field: &str, s: &str) -> Result<Vec<u8>, DomainError> {
    if s.len() > 8192 {
        return Err(DomainError::unprocessable(
            "invalid_webauthn",
            format!("{field}: too long"),
        ));
    }
    B64.decode(s.trim_end_matches('=')).map_err(|_| {
        DomainError::unprocessable("invalid_webauthn", format!("{field}: not base64url"))
    })
}

fn random_b64(n: usize) -> Result<String, DomainError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| DomainError::internal(format!("no randomness: {e}")))?;
    Ok(B64.encode(b))
}

// ---- the verification (pure) -------------------------------------------------------------------

/// Checks `clientDataJSON`: its type, the challenge handed out and the app's origin.
pub fn check_client_data(
    raw: &[u8],
    kind: &str,
    challenge: &str,
    rp: &RelyingParty,
) -> Result<(), DomainError> {
    let cd: Value = serde_json::from_slice(raw).map_err(|_| invalid("client data is not JSON"))?;
    if cd["type"].as_str() != Some(kind) {
        return Err(invalid("client data type"));
    }
    if cd["challenge"].as_str().map(|c| c.trim_end_matches('=')) != Some(challenge) {
        return Err(invalid("not the challenge handed out"));
    }
    if cd["origin"].as_str() != Some(rp.origin.as_str()) {
        return Err(invalid("origin"));
    }
    if cd["crossOrigin"].as_bool() == Some(true) {
        return Err(invalid("cross-origin"));
    }
    Ok(())
}

/// What authenticator data says: its flags and counter, and (registration) the credential.
#[derive(Debug)]
pub struct AuthData {
    pub flags: u8,
    pub sign_count: u32,
    pub credential: Option<(Vec<u8>, Vec<u8>)>, // (id, SEC1 uncompressed point)
}

/// Parses authenticator data and checks the RP id hash and the UP and UV flags.
pub fn parse_auth_data(raw: &[u8], rp: &RelyingParty) -> Result<AuthData, DomainError> {
    if raw.len() < 37 {
        return Err(invalid("authenticator data too short"));
    }
    if raw[..32] != Sha256::digest(rp.id.as_bytes())[..] {
        return Err(invalid("relying party"));
    }
    let flags = raw[32];
    if flags & UP == 0 || flags & UV == 0 {
        return Err(invalid("user presence and verification are required"));
    }
    let sign_count = u32::from_be_bytes([raw[33], raw[34], raw[35], raw[36]]);
    let mut credential = None;
    if flags & AT != 0 {
        let rest = &raw[37..];
        if rest.len() < 18 {
            return Err(invalid("attested credential data too short"));
        }
        let len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
        if len == 0 || len > 1023 || rest.len() < 18 + len {
            return Err(invalid("credential id"));
        }
        let id = rest[18..18 + len].to_vec();
        let key: ciborium::Value = ciborium::from_reader(&rest[18 + len..])
            .map_err(|_| invalid("credential public key is not CBOR"))?;
        credential = Some((id, cose_es256(&key)?));
    }
    Ok(AuthData {
        flags,
        sign_count,
        credential,
    })
}

/// An ES256 COSE_Key (kty 2, alg -7, crv 1) as an uncompressed SEC1 point, checked on the curve.
fn cose_es256(key: &ciborium::Value) -> Result<Vec<u8>, DomainError> {
    let map = key.as_map().ok_or_else(|| invalid("COSE key"))?;
    let get = |label: i64| {
        map.iter()
            .find(|(k, _)| {
                k.as_integer()
                    .is_some_and(|i| i128::from(i) == i128::from(label))
            })
            .map(|(_, v)| v)
    };
    let int = |label: i64| get(label).and_then(|v| v.as_integer()).map(i128::from);
    if int(1) != Some(2) || int(3) != Some(-7) || int(-1) != Some(1) {
        return Err(invalid("only ES256 on P-256 is accepted"));
    }
    let coord = |label: i64| {
        get(label)
            .and_then(|v| v.as_bytes())
            .filter(|b| b.len() == 32)
            .ok_or_else(|| invalid("COSE key coordinates"))
    };
    let mut point = vec![0x04];
    point.extend_from_slice(coord(-2)?);
    point.extend_from_slice(coord(-3)?);
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(|_| invalid("not a P-256 point"))?;
    Ok(point)
}

/// The credential an attestation object registers (attestation `none`: its statement is not
/// relied on).
pub fn parse_attestation(raw: &[u8], rp: &RelyingParty) -> Result<AuthData, DomainError> {
    let obj: ciborium::Value =
        ciborium::from_reader(raw).map_err(|_| invalid("attestation object is not CBOR"))?;
    let auth = obj
        .as_map()
        .and_then(|m| {
            m.iter()
                .find(|(k, _)| k.as_text() == Some("authData"))
                .and_then(|(_, v)| v.as_bytes())
        })
        .ok_or_else(|| invalid("attestation object without authData"))?;
    let data = parse_auth_data(auth, rp)?;
    if data.credential.is_none() {
        return Err(invalid("no attested credential"));
    }
    Ok(data)
}

/// Verifies an assertion's signature with the credential's key.
pub fn verify_assertion(
    public_key: &[u8],
    auth_data: &[u8],
    client_data: &[u8],
    signature_der: &[u8],
) -> Result<(), DomainError> {
    use p256::ecdsa::signature::Verifier;
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key)
        .map_err(|_| DomainError::internal("stored WebAuthn key unreadable"))?;
    let sig = p256::ecdsa::Signature::from_der(signature_der)
        .map_err(|_| invalid("signature is not DER"))?;
    let mut signed = auth_data.to_vec();
    signed.extend_from_slice(&Sha256::digest(client_data));
    key.verify(&signed, &sig)
        .map_err(|_| invalid("signature does not verify"))
}

// ---- the ceremonies ------------------------------------------------------------------------------

fn new_challenge(
    c: &mut crate::db::Tx<'_>,
    by: &SignedBy,
    account_id: Option<&str>,
    purpose: &str,
    now: i64,
) -> Result<(String, String), DomainError> {
    db::webauthn::purge_challenges(c, now)?;
    let (id, challenge) = (super::new_id()?, random_b64(32)?);
    db::webauthn::insert_challenge(
        c,
        &db::webauthn::ChallengeRow {
            id: id.clone(),
            municipality_id: by.device.municipality_id.clone(),
            device_id: by.device.id.clone(),
            account_id: account_id.map(str::to_string),
            purpose: purpose.into(),
            challenge: challenge.clone(),
            expires_at: now + CHALLENGE_SECS,
        },
    )?;
    Ok((id, challenge))
}

/// The challenge a finish names, if it is this device's, for this purpose (and account), and
/// still in time.
fn live_challenge(
    c: &mut DbConnection,
    id: &str,
    by: &SignedBy,
    account_id: Option<&str>,
    purpose: &str,
    now: i64,
) -> Result<String, DomainError> {
    super::check_id(id).map_err(|_| challenge_unknown())?;
    let row = db::webauthn::webauthn_challenge(c, id)?.ok_or_else(challenge_unknown)?;
    if row.device_id != by.device.id
        || row.purpose != purpose
        || row.account_id.as_deref() != account_id
        || now >= row.expires_at
    {
        return Err(challenge_unknown());
    }
    Ok(row.challenge)
}

fn challenge_unknown() -> DomainError {
    DomainError::unauthorized_code(
        "webauthn_challenge_unknown",
        "unknown, used or expired challenge: start again",
    )
}

/// Registration, step 1 (a live session of this device): the creation options.
pub fn begin_register(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    rp: &RelyingParty,
    now: i64,
) -> Result<Ceremony, DomainError> {
    if actor.role != Role::Paramedic {
        return Err(DomainError::forbidden("paramedics only"));
    }
    let (account, existing) = db.read(|c| {
        let account = db::accounts::account(c, &actor.municipality_id, &actor.account_id)?
            .ok_or_else(|| DomainError::internal("session without account"))?;
        let existing = db::webauthn::of_device(c, &by.device.id)?;
        Ok::<_, DomainError>((account, existing))
    })?;
    let (id, challenge) = db.write(|c| {
        super::devices::consume_nonce(c, by)?;
        new_challenge(c, by, Some(&actor.account_id), PURPOSE_REGISTER, now)
    })?;
    let exclude: Vec<Value> = existing
        .iter()
        .filter(|r| r.account_id == actor.account_id)
        .map(|r| json!({"type": "public-key", "id": r.credential_id}))
        .collect();
    Ok(Ceremony {
        challenge_id: id,
        options: json!({
            "challenge": challenge,
            "rp": {"id": rp.id, "name": "Kyukit"},
            "user": {
                "id": B64.encode(account.id.as_bytes()),
                "name": account.login_id,
                "displayName": account.display_name,
            },
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
            "authenticatorSelection": {
                "authenticatorAttachment": "platform",
                "userVerification": "required",
                "residentKey": "discouraged",
                "requireResidentKey": false,
            },
            "attestation": "none",
            "timeout": CHALLENGE_SECS * 1000,
            "excludeCredentials": exclude,
        }),
    })
}

/// Audits a refused finish and spends its challenge (one write), then returns the refusal; the
/// request's nonce is spent with the refusal by the caller (`devices::run_signed`/`finish`).
fn refuse(
    db: &Db,
    by: &SignedBy,
    challenge_id: &str,
    mut event: Event,
    err: DomainError,
    now: i64,
) -> DomainError {
    event.outcome = Outcome::Denied;
    event.detail = Some(err.code().to_string());
    event.device_id = Some(by.device.id.clone());
    event.facility_id = Some(by.device.facility_id.clone());
    let muni = by.device.municipality_id.clone();
    let written = db.write(|c| {
        db::webauthn::take_challenge(c, challenge_id)?;
        audit::append(c, &muni, &event, now);
        Ok::<_, DomainError>(())
    });
    match written {
        Ok(()) => err,
        Err(e) => e,
    }
}

/// Registration, step 2: the authenticator's answer checked; the credential kept for this
/// account on this device.
pub fn finish_register(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    rp: &RelyingParty,
    input: &RegisterFinish,
    now: i64,
) -> Result<Registered, DomainError> {
    let event = actor.event(Action::WebauthnRegister, Outcome::Ok);
    let checked = (|| {
        let challenge = db.read(|c| {
            live_challenge(
                c,
                &input.challenge_id,
                by,
                Some(&actor.account_id),
                PURPOSE_REGISTER,
                now,
            )
        })?;
        let cd = b64("client_data_json", &input.client_data_json)?;
        check_client_data(&cd, "webauthn.create", &challenge, rp)?;
        let att = b64("attestation_object", &input.attestation_object)?;
        let data = parse_attestation(&att, rp)?;
        let (id, key) = data.credential.ok_or_else(|| invalid("no credential"))?;
        if B64.encode(&id) != input.credential_id.trim_end_matches('=') {
            return Err(invalid("credential id differs from the attested one"));
        }
        Ok((B64.encode(id), B64.encode(key), data.sign_count))
    })();
    let (credential_id, public_key, count) = match checked {
        Ok(v) => v,
        Err(err) if err.kind().audited() || err.code() == "invalid_webauthn" => {
            return Err(refuse(db, by, &input.challenge_id, event, err, now));
        }
        Err(err) => return Err(err),
    };
    db.write(|c| {
        if db::webauthn::take_challenge(c, &input.challenge_id)?.is_none() {
            return Err(challenge_unknown());
        }
        super::devices::consume_nonce(c, by)?;
        if db::webauthn::credential(c, &credential_id)?.is_some() {
            return Err(DomainError::conflict(
                "credential_exists",
                "this authenticator is already registered",
            ));
        }
        db::webauthn::insert_credential(
            c,
            &db::webauthn::CredentialRow {
                credential_id: credential_id.clone(),
                municipality_id: actor.municipality_id.clone(),
                account_id: actor.account_id.clone(),
                device_id: by.device.id.clone(),
                public_key: public_key.clone(),
                sign_count: i64::from(count),
                created_at: now,
                last_used_at: None,
            },
        )?;
        let mut event = event.clone();
        event.detail = Some(credential_id.clone());
        audit::append(c, &actor.municipality_id, &event, now);
        Ok(Registered {
            credential_id: credential_id.clone(),
        })
    })
}

/// Unlock, step 1 (signed by the device, no session): the request options naming the
/// credentials registered on this device.
pub fn begin_unlock(
    db: &Db,
    by: &SignedBy,
    rp: &RelyingParty,
    now: i64,
) -> Result<Ceremony, DomainError> {
    let creds =
        db.read(|c| db::webauthn::of_device(c, &by.device.id).map_err(DomainError::from))?;
    if creds.is_empty() {
        return Err(DomainError::new(
            super::error::Kind::NotFound,
            "webauthn_not_registered",
            "no authenticator is registered on this device: log in with password and code",
        ));
    }
    let (id, challenge) = db.write(|c| {
        super::devices::consume_nonce(c, by)?;
        new_challenge(c, by, None, PURPOSE_UNLOCK, now)
    })?;
    let allow: Vec<Value> = creds
        .iter()
        .map(|r| json!({"type": "public-key", "id": r.credential_id, "transports": ["internal"]}))
        .collect();
    Ok(Ceremony {
        challenge_id: id,
        options: json!({
            "challenge": challenge,
            "rpId": rp.id,
            "allowCredentials": allow,
            "userVerification": "required",
            "timeout": CHALLENGE_SECS * 1000,
        }),
    })
}

/// Unlock, step 2: the assertion checked against the credential registered on this device; a
/// session bound to the device opened for its account (active, a paramedic of the device's fire
/// department, facility not suspended, not locked).
pub fn finish_unlock(
    db: &Db,
    by: &SignedBy,
    rp: &RelyingParty,
    input: &UnlockFinish,
    now: i64,
    policy: SessionPolicy,
) -> Result<Unlocked, DomainError> {
    let mut event = Event::new(Action::WebauthnUnlock, Outcome::Ok);
    let mut found = None;
    let checked = (|| {
        let (challenge, cred, account) = db.read(|c| {
            let challenge = live_challenge(c, &input.challenge_id, by, None, PURPOSE_UNLOCK, now)?;
            let id = input.credential_id.trim_end_matches('=');
            let cred = db::webauthn::credential(c, id)?
                .filter(|r| r.device_id == by.device.id)
                .ok_or_else(|| invalid("credential not registered on this device"))?;
            let account = db::accounts::account(c, &cred.municipality_id, &cred.account_id)?
                .ok_or_else(|| invalid("credential without account"))?;
            let allowed = super::staff::facility_allows_login(c, &account)?;
            if !allowed {
                return Err(DomainError::forbidden_code(
                    "facility_suspended",
                    "this account's facility is suspended",
                ));
            }
            Ok::<_, DomainError>((challenge, cred, account))
        })?;
        found = Some(account.clone());
        if account.role != Role::Paramedic
            || account.facility_id.as_deref() != Some(by.device.facility_id.as_str())
            || account.status != AccountStatus::Active
            || accounts::is_locked(&account, now)
        {
            return Err(DomainError::forbidden_code(
                "account_unavailable",
                "this account cannot log in now",
            ));
        }
        let cd = b64("client_data_json", &input.client_data_json)?;
        check_client_data(&cd, "webauthn.get", &challenge, rp)?;
        let ad = b64("authenticator_data", &input.authenticator_data)?;
        let data = parse_auth_data(&ad, rp)?;
        let sig = b64("signature", &input.signature)?;
        let key = B64
            .decode(&cred.public_key)
            .map_err(|_| DomainError::internal("stored WebAuthn key unreadable"))?;
        verify_assertion(&key, &ad, &cd, &sig)?;
        let count = i64::from(data.sign_count);
        if (count != 0 || cred.sign_count != 0) && count <= cred.sign_count {
            return Err(invalid(
                "signature counter did not grow (a cloned authenticator?)",
            ));
        }
        Ok((cred, account, count))
    })();
    if let Some(a) = &found {
        event = event.by(&a.id, a.role);
    }
    let (cred, account, count) = match checked {
        Ok(v) => v,
        Err(err) if err.kind().audited() || err.code() == "invalid_webauthn" => {
            return Err(refuse(db, by, &input.challenge_id, event, err, now));
        }
        Err(err) => return Err(err),
    };
    db.write(|c| {
        if db::webauthn::take_challenge(c, &input.challenge_id)?.is_none() {
            return Err(challenge_unknown());
        }
        super::devices::consume_nonce(c, by)?;
        if !db::webauthn::record_use(c, &cred.credential_id, cred.sign_count, count, now)? {
            return Err(invalid("used concurrently"));
        }
        let token = accounts::create_session(c, &account, Some(&by.device.id), now, policy)?;
        let actor = Actor::from_account(&account, Some(by.device.id.clone()));
        let mut event = actor.event(Action::WebauthnUnlock, Outcome::Ok);
        event.detail = Some(cred.credential_id.clone());
        event.facility_id = Some(by.device.facility_id.clone());
        audit::append(c, &account.municipality_id, &event, now);
        Ok(Unlocked {
            token,
            login_id: account.login_id.clone(),
        })
    })
}
