//! Field devices (docs/device-protocol.md): one-time enrollment codes, enrollment of a device's
//! P-256 public key, revocation, and the checks on every signed request — device, time window,
//! signature, nonce (replay), and the paramedic's session bound to that device. Every refusal is
//! an audit event appended in its own transaction before the answer.

use super::accounts::{self, Actor, SessionPolicy};
use super::deny;
use super::facilities::require_manager_of;
use super::{check_id, new_id, text};
use crate::audit::{self, Action, Event, Outcome, Pending};
use crate::db::facilities::{DeviceRow, EnrollmentCodeRow, SpentNonceRow};
use crate::db::{self, Db, DbConnection, Tx};
use crate::domain::DeviceStatus;
use crate::httpsig::Signed;
use crate::service::error::DomainError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How far a request's `created` may be from the server clock.
pub const SIGNATURE_WINDOW_SECS: i64 = 60;
/// How long a spent nonce is kept after the `created` its request signed. A replay carries that
/// `created`, so the window alone refuses it after [`SIGNATURE_WINDOW_SECS`]; keeping it 10
/// minutes also covers the server's clock being stepped back by up to 9 minutes.
pub const NONCE_KEEP_SECS: i64 = 600;
/// Enrollment code lifetime: default and maximum.
pub const CODE_TTL_DEFAULT_MIN: i64 = 60;
pub const CODE_TTL_MAX_MIN: i64 = 7 * 24 * 60;

/// A request whose device signature verified: the device, and the nonce and signed time to
/// consume in the request's transaction.
#[derive(Debug, Clone)]
pub struct SignedBy {
    pub device: DeviceRow,
    pub nonce: String,
    pub created: i64,
    /// Whether the nonce was already spent when the device was read (with it, in one
    /// statement): [`refuse_replay`]'s answer. The request's write decides for good.
    pub spent: bool,
}

// ---- enrollment codes --------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeInput {
    /// What the device will be called, e.g. `救急1号車 tablet`.
    pub label: String,
    /// Minutes until the code expires (default 60, at most 10,080 = 7 days).
    pub ttl_minutes: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnrollmentCode {
    /// 128 random bits as 26 base32 characters in groups of 4. Shown once; only its hash is kept.
    pub code: String,
    pub facility_id: String,
    pub label: String,
    pub expires_at: i64,
    /// The code as a QR code (an SVG document), for a device's camera.
    pub qr_svg: String,
}

/// Upper-case, without spaces and dashes: what is hashed.
fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(normalise_code(code).as_bytes()))
}

pub fn create_code(
    db: &Db,
    actor: &Actor,
    facility_id: &str,
    input: &CodeInput,
    now: i64,
) -> Result<EnrollmentCode, DomainError> {
    check_id(facility_id)?;
    require_manager_of(actor, facility_id)?;
    let label = text("label", &input.label, 1, 60)?;
    let ttl = input.ttl_minutes.unwrap_or(CODE_TTL_DEFAULT_MIN);
    if !(1..=CODE_TTL_MAX_MIN).contains(&ttl) {
        return Err(DomainError::unprocessable(
            "invalid_field",
            format!("ttl_minutes: 1–{CODE_TTL_MAX_MIN}"),
        ));
    }
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|e| DomainError::internal(format!("no randomness: {e}")))?;
    let plain = data_encoding::BASE32_NOPAD.encode(&raw);
    let code = plain
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-");
    let row = EnrollmentCodeRow {
        code_hash: code_hash(&plain),
        municipality_id: actor.municipality_id.clone(),
        facility_id: facility_id.to_string(),
        label: label.clone(),
        created_by: actor.account_id.clone(),
        created_at: now,
        expires_at: now + ttl * 60,
        used_at: None,
        device_id: None,
    };
    db.write(|c| {
        if db::facilities::facility(c, &actor.municipality_id, facility_id)?.is_none() {
            return Err(DomainError::not_found("no such facility"));
        }
        db::facilities::insert_enrollment_code(c, &row)?;
        let mut event = actor.event(Action::CreateEnrollmentCode, Outcome::Ok);
        event.facility_id = Some(facility_id.to_string());
        audit::append(c, &actor.municipality_id, &event, now);
        Ok(())
    })?;
    Ok(EnrollmentCode {
        qr_svg: crate::qrsvg::svg(&code).unwrap_or_default(),
        code,
        facility_id: facility_id.to_string(),
        label,
        expires_at: row.expires_at,
    })
}

// ---- enrollment ----------------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollInput {
    pub code: String,
    /// The device's P-256 public key as a JWK (`kty` EC, `crv` P-256, `x`, `y`).
    #[schema(value_type = Object)]
    pub public_key: kyukit_card::Jwk,
    pub label: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Enrolled {
    pub device_id: String,
    pub facility_id: String,
    pub label: String,
    /// The deployment's trust-list key (a P-256 JWK): the device pins it and verifies the signed
    /// trust list (`GET /api/v1/trust-list`) with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub trust_list_key: Option<kyukit_card::Jwk>,
}

/// `default_muni`: where an unknown code's refusal is audited; a known code's municipality is
/// the device's (and its audit chain the one written).
pub fn enroll(
    db: &Db,
    default_muni: &str,
    input: &EnrollInput,
    now: i64,
) -> Result<Enrolled, DomainError> {
    let key = kyukit_card::PublicKey::from_jwk(&input.public_key).map_err(|e| {
        DomainError::unprocessable("invalid_public_key", format!("public_key: {e}"))
    })?;
    let jwk = key.to_jwk().map_err(DomainError::internal)?;
    let public_jwk = serde_json::json!({"kty": jwk.kty, "crv": jwk.crv, "x": jwk.x, "y": jwk.y});
    let normalised = normalise_code(&input.code);
    if normalised.len() != 26 || !normalised.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(
            DomainError::not_found("enrollment code unknown").with_code("enrollment_code_unknown")
        );
    }
    let hash = code_hash(&normalised);
    let device_id = new_id()?;
    let outcome = db.write(|c| {
        let Some(code) = db::facilities::enrollment_code(c, &hash)? else {
            return Err(Refusal(
                None,
                DomainError::not_found("enrollment code unknown")
                    .with_code("enrollment_code_unknown"),
            ));
        };
        let refuse = |code_row: &EnrollmentCodeRow, e: DomainError| {
            Refusal(Some(Box::new(code_row.clone())), e)
        };
        if code.used_at.is_some() {
            return Err(refuse(
                &code,
                DomainError::forbidden_code(
                    "enrollment_code_used",
                    "this enrollment code has already been used; ask for a new one",
                ),
            ));
        }
        if now >= code.expires_at {
            return Err(refuse(
                &code,
                DomainError::forbidden_code(
                    "enrollment_code_expired",
                    "this enrollment code has expired; ask for a new one",
                ),
            ));
        }
        let label = match &input.label {
            Some(l) => text("label", l, 1, 60).map_err(|e| refuse(&code, e))?,
            None => code.label.clone(),
        };
        let muni = code.municipality_id.as_str();
        let row = DeviceRow {
            id: device_id.clone(),
            municipality_id: muni.to_string(),
            facility_id: code.facility_id.clone(),
            label,
            public_jwk: public_jwk.to_string(),
            status: DeviceStatus::Active,
            enrolled_at: now,
            enrolled_by: code.created_by.clone(),
            revoked_at: None,
            revoked_by: None,
            revoke_reason: None,
        };
        let db_err = Refusal::from;
        db::facilities::insert_device(c, &row).map_err(db_err)?;
        db::facilities::use_enrollment_code(c, &hash, &row.id, now).map_err(db_err)?;
        let mut event = Event::new(Action::EnrollDevice, Outcome::Ok)
            .detail(format!("key {}", key.kid().to_b64()));
        event.device_id = Some(row.id.clone());
        event.facility_id = Some(row.facility_id.clone());
        audit::append(c, muni, &event, now);
        Ok(Enrolled {
            device_id: row.id,
            facility_id: row.facility_id,
            label: row.label,
            trust_list_key: None,
        })
    });
    match outcome {
        Ok(e) => Ok(e),
        Err(Refusal(code, err)) if err.is_denial() => {
            let mut event = Event::new(Action::EnrollDevice, Outcome::Denied);
            let muni = code
                .as_ref()
                .map_or(default_muni, |c| c.municipality_id.as_str())
                .to_string();
            event.facility_id = code.map(|c| c.facility_id);
            Err(deny(db, &muni, event, err, now))
        }
        Err(Refusal(_, err)) => Err(err),
    }
}

/// A failed enrollment, with the code it named (for the denial's facility).
struct Refusal(Option<Box<EnrollmentCodeRow>>, DomainError);

impl From<crate::db::DbError> for Refusal {
    fn from(e: crate::db::DbError) -> Self {
        Refusal(None, e.into())
    }
}

impl From<diesel::result::Error> for Refusal {
    fn from(e: diesel::result::Error) -> Self {
        Refusal(None, e.into())
    }
}

// ---- listing and revocation ----------------------------------------------------------------------

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Device {
    pub id: String,
    pub facility_id: String,
    pub label: String,
    /// `active` | `revoked`.
    pub status: String,
    pub enrolled_at: i64,
    pub revoked_at: Option<i64>,
    pub revoke_reason: Option<String>,
}

impl From<DeviceRow> for Device {
    fn from(r: DeviceRow) -> Self {
        Device {
            id: r.id,
            facility_id: r.facility_id,
            label: r.label,
            status: r.status.to_string(),
            enrolled_at: r.enrolled_at,
            revoked_at: r.revoked_at,
            revoke_reason: r.revoke_reason,
        }
    }
}

pub fn list(db: &Db, actor: &Actor, facility_id: &str) -> Result<Vec<Device>, DomainError> {
    check_id(facility_id)?;
    require_manager_of(actor, facility_id)?;
    db.read(|c| {
        Ok(
            db::facilities::devices_of(c, &actor.municipality_id, facility_id)?
                .into_iter()
                .map(Device::from)
                .collect(),
        )
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeInput {
    /// Why, e.g. `lost`, `stolen`, `retired` (free text, up to 200 characters).
    pub reason: String,
}

/// Revokes a device: its sessions end now and its next signed request is refused.
pub fn revoke(
    db: &Db,
    actor: &Actor,
    device_id: &str,
    input: &RevokeInput,
    now: i64,
) -> Result<Device, DomainError> {
    check_id(device_id)?;
    let reason = text("reason", &input.reason, 1, 200)?;
    db.write(|c| {
        let device = db::facilities::device(c, &actor.municipality_id, device_id)?
            .ok_or_else(|| DomainError::not_found("no such device"))?;
        require_manager_of(actor, &device.facility_id)
            .map_err(|_| DomainError::not_found("no such device"))?;
        if device.status == DeviceStatus::Revoked {
            return Ok(device.into());
        }
        db::facilities::revoke_device(c, device_id, &actor.account_id, &reason, now)?;
        db::facilities::delete_sessions_of_device(c, device_id)?;
        db::webauthn::delete_of_device(c, device_id)?;
        let mut event = actor
            .event(Action::RevokeDevice, Outcome::Ok)
            .detail(&reason);
        event.device_id = Some(device_id.to_string());
        event.facility_id = Some(device.facility_id.clone());
        audit::append(c, &actor.municipality_id, &event, now);
        let device = db::facilities::device(c, &actor.municipality_id, device_id)?
            .ok_or_else(|| DomainError::internal("revoked device vanished"))?;
        Ok(device.into())
    })
}

// ---- signed requests ---------------------------------------------------------------------------

fn device_key(device: &DeviceRow) -> Result<kyukit_card::PublicKey, DomainError> {
    super::keys::public_key(&device.public_jwk)
}

/// Checks a parsed signature: known and active device, time window, signature. The nonce is
/// spent later, whatever the outcome: in the request's transaction ([`consume_nonce`]) or with
/// its refusal ([`Failed::settle`]). Refusals are audited.
pub fn verify_signature(
    db: &Db,
    muni: &str,
    signed: &Signed,
    now: i64,
) -> Result<SignedBy, DomainError> {
    let mut event = Event::new(Action::DeviceRequest, Outcome::Denied);
    let known = check_id(&signed.keyid)
        .ok()
        .map(|_| {
            db.read(|c| {
                let (id, nonce) = (&signed.keyid, &signed.nonce);
                db::facilities::device_and_nonce(c, id, signed.created, nonce)
                    .map_err(DomainError::from)
            })
        })
        .transpose()?
        .flatten();
    let Some((device, spent)) = known else {
        let err = DomainError::unauthorized_code("device_unknown", "this device is not enrolled");
        return Err(deny(db, muni, event, err, now));
    };
    event.device_id = Some(device.id.clone());
    event.facility_id = Some(device.facility_id.clone());
    // From here on, the request is the device's municipality's.
    let muni = device.municipality_id.clone();
    let muni = muni.as_str();
    if device.status != DeviceStatus::Active {
        let err = DomainError::unauthorized_code(
            "device_revoked",
            "this device has been revoked; ask your fire department",
        );
        return Err(deny(db, muni, event, err, now));
    }
    if (signed.created - now).abs() > SIGNATURE_WINDOW_SECS {
        let err = DomainError::unauthorized_code(
            "signature_expired",
            "the request's signature time is too far from the server's clock; check the device clock",
        );
        return Err(deny(db, muni, event, err, now));
    }
    if !device_key(&device)?.verify_es256(signed.base.as_bytes(), &signed.signature) {
        let err = DomainError::unauthorized_code(
            "signature_invalid",
            "the request signature does not verify",
        );
        return Err(deny(db, muni, event, err, now));
    }
    Ok(SignedBy {
        device,
        nonce: signed.nonce.clone(),
        created: signed.created,
        spent,
    })
}

/// Spends a request's nonce in a transaction of its own (requests that write nothing else).
pub fn spend_nonce(db: &Db, by: &SignedBy) -> Result<(), DomainError> {
    db.write(|c| consume_nonce(c, by))
}

/// Records the request's nonce under its signed time; a second use is a replay (a replay copies
/// the signed `created` with the nonce). Call inside the request's write transaction, so the
/// nonce is kept exactly when the request's effects are; a request that fails spends it with
/// its refusal instead ([`run_signed`], [`Failed`]).
pub fn consume_nonce(c: &mut DbConnection, by: &SignedBy) -> Result<(), DomainError> {
    let row = SpentNonceRow {
        created: by.created,
        device_id: by.device.id.clone(),
        nonce: by.nonce.clone(),
        municipality_id: by.device.municipality_id.clone(),
    };
    match db::facilities::insert_nonce(c, &row)? {
        0 => Err(replayed()),
        _ => Ok(()),
    }
}

/// Refuses a replay as soon as the signature has verified, before anything else can refuse
/// it: from the read [`verify_signature`] made with the device's (so a scan's inline path
/// stays read-only, and adds no statement); the request's end spends the nonce for good, in a
/// write, whatever its outcome ([`consume_nonce`] on success, [`Failed`] on failure), and that
/// write is what decides between two copies sent at once.
pub fn refuse_replay(db: &Db, by: &SignedBy, now: i64) -> Result<(), DomainError> {
    if by.spent {
        let muni = by.device.municipality_id.as_str();
        return Err(deny(db, muni, replay_event(by), replayed(), now));
    }
    Ok(())
}

/// The audit event of a replay refused: the device, denied with `replayed_request`.
fn replay_event(by: &SignedBy) -> Event {
    let mut event = Event::new(Action::DeviceRequest, Outcome::Denied).detail(replayed().code());
    event.device_id = Some(by.device.id.clone());
    event.facility_id = Some(by.device.facility_id.clone());
    event
}

/// A signed request that failed, and what its end must still write: if its signature verified
/// (`by`), its nonce — spent whatever the outcome, so the same bytes are never answered again
/// — with the denials held for it (one write); `about`, the resident whose card the request
/// named, for the denials that do not name one yet.
#[derive(Debug)]
pub struct Failed {
    pub err: DomainError,
    pub by: Option<Box<SignedBy>>,
    /// The resident's municipality and id.
    pub about: Option<Box<(String, String)>>,
    pub now: i64,
}

impl Failed {
    /// A failure before (or of) the signature's verification: no nonce to spend.
    pub fn unverified(err: DomainError, now: i64) -> Self {
        Failed {
            err,
            by: None,
            about: None,
            now,
        }
    }

    /// A failure after the signature verified (`by`, copied).
    pub fn after(by: &SignedBy, now: i64) -> impl Fn(DomainError) -> Failed + use<> {
        let by = Box::new(by.clone());
        move |err| Failed {
            err,
            by: Some(by.clone()),
            about: None,
            now,
        }
    }

    /// Whether the request's end has anything to write: a nonce, or denials.
    pub fn to_write(&self, held: &[Pending]) -> bool {
        self.by.is_some() || !held.is_empty()
    }

    /// The write that ends the request ([`Db::write`] or [`Db::write_async`]): the nonce
    /// spent (unless the failure is that it was), then the held denials, named after the
    /// resident if they name none; returns the error to answer. If the nonce turns out spent
    /// (a copy of the request sent at the same time got there first), this request is that
    /// copy's replay and is audited as such, once, instead of with its own denials.
    pub fn settle(
        self,
        mut held: Vec<Pending>,
    ) -> impl FnOnce(&mut Tx<'_>) -> Result<DomainError, DomainError> + Send + 'static {
        let Failed {
            err,
            by,
            about,
            now,
        } = self;
        if let Some((muni, resident)) = about.as_deref() {
            for pending in &mut held {
                pending.about_if_unnamed(muni, resident);
            }
        }
        move |tx| {
            if let Some(by) = by.filter(|_| err.code() != "replayed_request") {
                match consume_nonce(tx, &by) {
                    Ok(()) => {}
                    Err(replay) if replay.code() == "replayed_request" => {
                        let muni = by.device.municipality_id.as_str();
                        let mut event = replay_event(&by);
                        // Named only on the resident's own municipality's chain.
                        event.resident_id = about.filter(|a| a.0.as_str() == muni).map(|a| a.1);
                        audit::append(tx, muni, &event, now);
                        return Ok(replay);
                    }
                    Err(other) => return Err(other),
                }
            }
            audit::append_held(tx, held);
            Ok(err)
        }
    }
}

/// Runs the rest of a signed request whose signature verified (`by`) on a holding handle
/// ([`Db::holding`]); if it fails, its nonce is spent with its denials ([`Failed::settle`]),
/// in one write. Blocking.
pub fn run_signed<T>(
    db: &Db,
    by: &SignedBy,
    now: i64,
    f: impl FnOnce(&Db) -> Result<T, DomainError>,
) -> Result<T, DomainError> {
    finish(db, db.holding(|h| f(h).map_err(Failed::after(by, now))))
}

/// The end of a signed request run on a holding handle: on success its held denials (if any)
/// are written; on failure [`Failed::settle`]. Blocking.
pub fn finish<T>(
    db: &Db,
    (out, held): (Result<T, Failed>, Vec<Pending>),
) -> Result<T, DomainError> {
    match out {
        Ok(v) => {
            if !held.is_empty() {
                db.write(|tx| {
                    audit::append_held(tx, held);
                    Ok::<_, DomainError>(())
                })?;
            }
            Ok(v)
        }
        Err(failed) if !failed.to_write(&held) => Err(failed.err),
        Err(failed) => match db.write(failed.settle(held)) {
            Ok(err) | Err(err) => Err(err),
        },
    }
}

pub(crate) fn replayed() -> DomainError {
    DomainError::unauthorized_code(
        "replayed_request",
        "this signed request has already been received",
    )
}

/// The paramedic's session of a signed field request whose signature verified (`by`): the
/// actor (with device and facility). The session must have been created by a login this device
/// signed, and the account must belong to the device's facility. Refusals are audited.
pub fn bound_session(
    db: &Db,
    muni: &str,
    by: &SignedBy,
    token: Option<&str>,
    now: i64,
    policy: SessionPolicy,
) -> Result<Actor, DomainError> {
    let mut event = Event::new(Action::DeviceRequest, Outcome::Denied);
    event.device_id = Some(by.device.id.clone());
    event.facility_id = Some(by.device.facility_id.clone());
    let Some(token) = token else {
        let err = DomainError::unauthorized("log in first (Authorization: Bearer <token>)");
        return Err(deny(db, muni, event, err, now));
    };
    let (session, account) = match accounts::session_account(db, token, now, policy) {
        Ok(found) => found,
        Err(err) if err.is_denial() => return Err(deny(db, muni, event, err, now)),
        Err(err) => return Err(err),
    };
    event = event.by(&account.id, account.role);
    if session.device_id.as_deref() != Some(by.device.id.as_str())
        || account.facility_id.as_deref() != Some(by.device.facility_id.as_str())
    {
        let err = DomainError::unauthorized_code(
            "session_not_bound",
            "this session was not opened on this device; log in on it",
        );
        return Err(deny(db, muni, event, err, now));
    }
    Ok(Actor::from_account(&account, Some(by.device.id.clone())))
}

/// Deletes the nonces no replay can use any more (signed over [`NONCE_KEEP_SECS`] ago); returns
/// how many.
pub fn purge_nonces(db: &Db, now: i64) -> Result<usize, DomainError> {
    db.write(|c| {
        db::facilities::delete_nonces_created_before(c, now - NONCE_KEEP_SECS)
            .map_err(DomainError::from)
    })
}
