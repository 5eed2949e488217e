//! Accounts, passwords (argon2id) and sessions (opaque bearer tokens, stored as SHA-256 hashes).

use super::devices::SignedBy;
use super::security;
use crate::audit;
use crate::db::accounts::{AccountRow, SessionRow};
use crate::db::{self, Db, DbConnection, Tx};
use crate::domain::{AccountStatus, FacilityKind, Role};
use crate::service::error::DomainError;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use sha2::{Digest, Sha256};

/// Session lifetimes, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle_secs: i64,
    pub absolute_secs: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_secs: 15 * 60,
            absolute_secs: 12 * 3600,
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Actor {
    pub account_id: String,
    pub municipality_id: String,
    pub role: Role,
    /// The staff member's facility (paramedics: their fire department).
    pub facility_id: Option<String>,
    /// The enrolled device that signed the request (field requests only).
    pub device_id: Option<String>,
}

impl Actor {
    pub(crate) fn from_account(account: &AccountRow, device_id: Option<String>) -> Self {
        Actor {
            account_id: account.id.clone(),
            municipality_id: account.municipality_id.clone(),
            role: account.role,
            facility_id: account.facility_id.clone(),
            device_id,
        }
    }

    /// The actor's fields on an audit event.
    pub(crate) fn event(&self, action: audit::Action, outcome: audit::Outcome) -> audit::Event {
        let mut e = audit::Event::new(action, outcome).by(&self.account_id, self.role);
        e.facility_id = self.facility_id.clone();
        e.device_id = self.device_id.clone();
        e
    }
}

pub fn validate_login_id(login_id: &str) -> Result<String, DomainError> {
    let v = login_id.trim().to_ascii_lowercase();
    // Refused below too (ASCII only), but named: a login id with U+202E or U+200B is a spoof.
    super::visible("login_id", &v, "invalid_login_id")?;
    let ok = (3..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    if ok {
        Ok(v)
    } else {
        Err(DomainError::unprocessable(
            "invalid_login_id",
            "login_id: 3–64 characters of a-z 0-9 . _ @ -",
        ))
    }
}

pub fn validate_password(password: &str) -> Result<(), DomainError> {
    let n = password.chars().count();
    if (10..=128).contains(&n) {
        Ok(())
    } else {
        Err(DomainError::unprocessable(
            "weak_password",
            "password: 10–128 characters",
        ))
    }
}

/// Argon2 runs on this many dedicated threads, each with its own reused 19 MiB work area (freed
/// when idle), never on the request threads: memory stays bounded (≈ 40 MiB while logins come
/// in) and a login flood takes at most two cores.
const HASH_THREADS: usize = 2;

type HashJob = Box<dyn FnOnce() + Send>;

/// Runs `f` on the argon2 threads and waits for its result.
fn on_hash_thread<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DomainError> {
    static QUEUE: std::sync::OnceLock<Option<std::sync::Mutex<std::sync::mpsc::Sender<HashJob>>>> =
        std::sync::OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<HashJob>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..HASH_THREADS {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv_timeout(HASH_IDLE),
                            Err(p) => p.into_inner().recv_timeout(HASH_IDLE),
                        };
                        match job {
                            Ok(job) => job(),
                            // Idle: give the work area back (an idle server holds no 19 MiB
                            // areas); the next login allocates it again.
                            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => release_work_area(),
                            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                        }
                    }
                });
            if spawned.is_err() {
                return None;
            }
        }
        Some(std::sync::Mutex::new(tx))
    });
    let queue = queue
        .as_ref()
        .ok_or_else(|| DomainError::internal("cannot start the password-hashing threads"))?;
    let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
    let job: HashJob = Box::new(move || {
        let _ = done_tx.send(f());
    });
    queue
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(job)
        .map_err(|_| DomainError::internal("password-hashing threads stopped"))?;
    done_rx
        .recv()
        .map_err(|_| DomainError::internal("password-hashing job lost"))
}

/// How long a hashing thread keeps its work area without a job.
const HASH_IDLE: std::time::Duration = std::time::Duration::from_secs(10);

// The server's one thread-local (tests/tools/structure.sh keeps it so): memory, not state — no
// audit event, no connection and nothing a request depends on passes through it.
thread_local! {
    /// A hashing thread's argon2 work area.
    static WORK: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Frees this thread's work area.
fn release_work_area() {
    WORK.with(|work| {
        let mut work = work.borrow_mut();
        if !work.is_empty() {
            *work = Vec::new();
        }
    });
}

/// argon2id with a reused work area: one 19 MiB buffer per hashing thread, kept while logins
/// keep coming and freed after [`HASH_IDLE`] without one. (`Argon2::hash_password` allocates and
/// frees 19 MiB per call, and with glibc that memory was never reused: RSS grew by 19 MiB with
/// every login — measured, 6 logins → +117 MiB.)
fn argon2id_raw(
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), String> {
    WORK.with(|work| {
        let mut work = work.borrow_mut();
        let n = params.block_count();
        if work.len() < n {
            work.resize(n, Block::default());
        }
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into_with_memory(password, salt, out, &mut work[..n])
            .map_err(|e| e.to_string())
    })
}

const PHC_B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;

/// A PHC string `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (OWASP's argon2id parameters).
pub fn hash_password(password: &str) -> Result<String, DomainError> {
    let password = password.to_string();
    on_hash_thread(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt)
            .map_err(|e| DomainError::internal(format!("no randomness: {e}")))?;
        let params = Params::DEFAULT;
        let mut out = [0u8; 32];
        argon2id_raw(&params, password.as_bytes(), &salt, &mut out)
            .map_err(DomainError::internal)?;
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            PHC_B64.encode(salt),
            PHC_B64.encode(out)
        ))
    })?
}

/// Parses `$argon2id$v=19$m=…,t=…,p=…$salt$hash`.
fn parse_phc(phc: &str) -> Option<(Params, Vec<u8>, Vec<u8>)> {
    let mut parts = phc.split('$');
    if !parts.next()?.is_empty() || parts.next()? != "argon2id" || parts.next()? != "v=19" {
        return None;
    }
    let (mut m, mut t, mut p) = (None, None, None);
    for kv in parts.next()?.split(',') {
        let (k, v) = kv.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => p = Some(v),
            _ => return None,
        }
    }
    let salt = PHC_B64.decode(parts.next()?).ok()?;
    let hash = PHC_B64.decode(parts.next()?).ok()?;
    if parts.next().is_some() || !(16..=64).contains(&hash.len()) {
        return None;
    }
    let params = Params::new(m?, t?, p?, Some(hash.len())).ok()?;
    Some((params, salt, hash))
}

/// Whether `password` matches the stored PHC hash (on the hashing threads).
pub(crate) fn verify_password(password: &str, phc: &str) -> bool {
    password_matches(password, phc)
}

fn password_matches(password: &str, phc: &str) -> bool {
    let (password, phc) = (password.to_string(), phc.to_string());
    on_hash_thread(move || {
        let Some((params, salt, expected)) = parse_phc(&phc) else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        if argon2id_raw(&params, password.as_bytes(), &salt, &mut out).is_err() {
            return false;
        }
        // Constant-time comparison.
        out.iter()
            .zip(&expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    })
    .unwrap_or(false)
}

/// A PHC hash of a random password, verified against when the login id does not exist, so that
/// unknown and known ids take the same time.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy-password-never-valid").unwrap_or_default())
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a session for `account` (bound to `device_id` for field devices) and returns the
/// bearer token (256 random bits).
pub fn create_session(
    conn: &mut DbConnection,
    account: &AccountRow,
    device_id: Option<&str>,
    now: i64,
    policy: SessionPolicy,
) -> Result<String, DomainError> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| DomainError::internal(format!("no randomness: {e}")))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    db::accounts::insert_session(
        conn,
        &SessionRow {
            token_hash: token_hash(&token),
            municipality_id: account.municipality_id.clone(),
            account_id: account.id.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + policy.absolute_secs,
            device_id: device_id.map(str::to_string),
        },
    )?;
    Ok(token)
}

/// What a login sends.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub login_id: String,
    pub password: String,
    /// Staff: the 6-digit code of their authenticator app (TOTP, RFC 6238). Required for every
    /// staff role; residents and proxies have none.
    #[serde(default)]
    pub totp: Option<String>,
}

/// The one answer to a login that fails on its credentials: an unknown id, a wrong password, a
/// locked account, and a paramedic's attempt that is not signed by their device all look alike.
fn wrong_credentials() -> DomainError {
    DomainError::unauthorized("wrong login id or password")
}

/// Adds one to the account's consecutive failures (password or second factor, at login or when
/// changing the password), locking it at the limit; in the caller's transaction, on the row as
/// it is now.
pub(crate) fn count_failure(
    tx: &mut Tx<'_>,
    account: &AccountRow,
    now: i64,
) -> Result<(), DomainError> {
    let failures = db::accounts::account(tx, &account.municipality_id, &account.id)?
        .map_or(account.failed_logins, |a| a.failed_logins);
    let locks = failures + 1 >= security::LOCK_AFTER_FAILURES;
    db::accounts::record_login_failure(
        tx,
        &account.id,
        locks.then_some(now + security::LOCK_SECS),
    )?;
    Ok(())
}

/// Whether the account is locked now.
pub(crate) fn is_locked(account: &AccountRow, now: i64) -> bool {
    account.locked_until.is_some_and(|t| now < t)
}

/// A staff login's second factor: `Ok(step)` of the accepted code, or `Err(code)` of the refusal
/// (`totp_not_set_up`, `totp_required`, `totp_invalid`; see [`factor_refusal`]).
fn second_factor(
    account: &AccountRow,
    code: Option<&str>,
    now: i64,
) -> Result<Result<i64, &'static str>, DomainError> {
    let Some(secret) = account.totp_secret.as_deref() else {
        return Ok(Err("totp_not_set_up"));
    };
    let Some(code) = code.filter(|c| !c.trim().is_empty()) else {
        return Ok(Err("totp_required"));
    };
    Ok(security::check_code(secret, code, now, account.totp_last_step)?.ok_or("totp_invalid"))
}

/// The answer to a refused second factor.
fn factor_refusal(code: &'static str) -> DomainError {
    match code {
        "totp_not_set_up" => DomainError::forbidden_code(
            "totp_not_set_up",
            "this staff account has no second factor; ask the city to reissue it",
        ),
        "totp_required" => DomainError::unauthorized_code(
            "totp_required",
            "staff log in with the 6-digit code of their authenticator app too",
        ),
        _ => DomainError::unauthorized_code(
            "totp_invalid",
            "wrong, expired or already used authenticator code",
        ),
    }
}

/// Checks a login; returns a session token. An unknown id, a wrong password and a locked account
/// give the same answer (status and body). Staff also need their TOTP code. Five consecutive
/// failures lock the account for 15 minutes. Paramedics log in only from an enrolled device of
/// their fire department (`device`, whose signature the caller has verified); their session is
/// bound to it. An attempt on a paramedic's id that their device did not sign never counts
/// towards the lockout (anyone could send it) and learns nothing: it is refused like a wrong
/// password unless both password and code are right (then `device_required`).
pub fn login(
    db: &Db,
    municipality_id: &str,
    creds: &Credentials,
    device: Option<&SignedBy>,
    now: i64,
    policy: SessionPolicy,
) -> Result<String, DomainError> {
    let denied = wrong_credentials;
    let login_id = validate_login_id(&creds.login_id).map_err(|_| denied())?;
    let account = db.read(|c| {
        db::accounts::account_by_login(c, municipality_id, &login_id).map_err(DomainError::from)
    })?;
    // Failed logins are audited (without the attempted secrets, and with the account only if the
    // login id exists) in their own transaction, before the refusal is answered; `counts` adds
    // one to the account's consecutive failures (and locks it at the limit) in the same one.
    let failed =
        |account: Option<&AccountRow>, why: &str, counts: bool| -> Result<(), DomainError> {
            let mut event =
                audit::Event::new(audit::Action::LoginFailed, audit::Outcome::Denied).detail(why);
            if let Some(a) = account {
                event = event.by(&a.id, a.role);
                event.facility_id = a.facility_id.clone();
            }
            event.device_id = device.map(|d| d.device.id.clone());
            db.write(|c| {
                if let (Some(a), true) = (account, counts) {
                    count_failure(c, a, now)?;
                }
                audit::append(c, municipality_id, &event, now);
                Ok::<_, DomainError>(())
            })
        };
    let Some(account) = account else {
        let _ = password_matches(&creds.password, decoy_hash());
        failed(None, "unknown_login_id", false)?;
        return Err(denied());
    };
    // A paramedic's attempt counts only when their fire department's device signed it.
    let counts = account.role != Role::Paramedic
        || device.is_some_and(|d| account.facility_id.as_deref() == Some(&d.device.facility_id));
    let password_ok = password_matches(&creds.password, &account.password_hash);
    if is_locked(&account, now) {
        // The password was checked all the same, so a locked account takes as long to refuse.
        failed(Some(&account), "account_locked", false)?;
        return Err(denied());
    }
    if !password_ok {
        failed(Some(&account), "wrong_password", counts)?;
        return Err(denied());
    }
    let factor = if STAFF_ROLES.contains(&account.role) {
        Some(second_factor(&account, creds.totp.as_deref(), now)?)
    } else {
        None
    };
    // Not signed by the paramedic's device: the right password alone tells nothing either.
    if !counts && let Some(Err(why)) = factor {
        failed(Some(&account), why, false)?;
        return Err(denied());
    }
    if account.status != AccountStatus::Active {
        failed(Some(&account), "suspended", false)?;
        return Err(DomainError::forbidden("this account is suspended"));
    }
    if !db.read(|c| super::staff::facility_allows_login(c, &account))? {
        failed(Some(&account), "facility_suspended", false)?;
        return Err(DomainError::forbidden_code(
            "facility_suspended",
            "this account's facility is suspended",
        ));
    }
    let totp_step = match factor {
        None => None,
        Some(Ok(step)) => Some(step),
        Some(Err(why)) => {
            failed(Some(&account), why, why == "totp_invalid")?;
            return Err(factor_refusal(why));
        }
    };
    let bound = match (account.role, device) {
        (Role::Paramedic, Some(d))
            if account.facility_id.as_deref() == Some(&d.device.facility_id) =>
        {
            Some(d)
        }
        (Role::Paramedic, _) => {
            failed(Some(&account), "device_required", false)?;
            return Err(DomainError::forbidden_code(
                "device_required",
                "paramedics log in from a device enrolled by their fire department",
            ));
        }
        _ => None,
    };
    db.write(|c| {
        if let Some(d) = bound {
            super::devices::consume_nonce(c, d)?;
        }
        // A concurrent login with the same code loses here (the step must still be newer).
        if db::accounts::record_login_success(c, &account.id, totp_step, account.totp_last_step)?
            != 1
        {
            return Err(DomainError::unauthorized_code(
                "totp_invalid",
                "wrong, expired or already used authenticator code",
            ));
        }
        let token = create_session(
            c,
            &account,
            bound.map(|d| d.device.id.as_str()),
            now,
            policy,
        )?;
        let actor = Actor::from_account(&account, bound.map(|d| d.device.id.clone()));
        audit::append(
            c,
            municipality_id,
            &actor.event(audit::Action::LoginOk, audit::Outcome::Ok),
            now,
        );
        Ok(token)
    })
}

/// Resolves a bearer token to its actor, enforcing idle and absolute timeouts and suspension.
/// A session bound to a field device is refused here: it works only on requests that device
/// signs (see `devices::authenticate_field`).
pub fn authenticate(
    db: &Db,
    token: &str,
    now: i64,
    policy: SessionPolicy,
) -> Result<Actor, DomainError> {
    let (session, account) = session_account(db, token, now, policy)?;
    if session.device_id.is_some() {
        return Err(DomainError::unauthorized_code(
            "signature_required",
            "this session belongs to a field device: sign the request with the device key",
        ));
    }
    Ok(Actor::from_account(&account, None))
}

/// The live session of a bearer token and its account (timeouts and suspension enforced).
pub(crate) fn session_account(
    db: &Db,
    token: &str,
    now: i64,
    policy: SessionPolicy,
) -> Result<(SessionRow, AccountRow), DomainError> {
    let expired = || DomainError::unauthorized("session expired or unknown; log in again");
    if token.is_empty() || token.len() > 128 {
        return Err(expired());
    }
    let hash = token_hash(token);
    let found =
        db.read(|c| db::accounts::session_with_account(c, &hash).map_err(DomainError::from))?;
    let Some((session, account)) = found else {
        return Err(expired());
    };
    if now >= session.expires_at
        || now - session.last_seen_at > policy.idle_secs
        || account.status != AccountStatus::Active
    {
        db.write(|c| db::accounts::delete_session(c, &hash).map_err(DomainError::from))?;
        return Err(expired());
    }
    // Touch at most once a minute: idle timeout precision does not need a write per request.
    if now - session.last_seen_at >= 60 {
        db.write(|c| db::accounts::touch_session(c, &hash, now).map_err(DomainError::from))?;
    }
    Ok((session, account))
}

/// Ends the session of `token`; 401 if there is none.
pub fn logout(db: &Db, token: &str) -> Result<(), DomainError> {
    let n = db.write(|c| {
        db::accounts::delete_session(c, &token_hash(token)).map_err(DomainError::from)
    })?;
    if n == 0 {
        return Err(DomainError::unauthorized(
            "session expired or unknown; log in again",
        ));
    }
    Ok(())
}

/// Roles the CLI may create (people who are not residents or proxies).
pub const STAFF_ROLES: [Role; 5] = [
    Role::CityAdmin,
    Role::FacilityManager,
    Role::Paramedic,
    Role::EdStaff,
    Role::DisasterResponder,
];

/// Creates a staff account (e.g. the first city administrator). Two-factor login, facility
/// membership and approval workflows come with the governance issue.
pub fn create_staff(
    db: &Db,
    muni: &str,
    staff: &NewStaff,
    by: Option<&Actor>,
    now: i64,
) -> Result<CreatedStaff, DomainError> {
    let created = prepare_staff(muni, staff, now)?;
    db.write(|c| insert_staff(c, &created, by, now))?;
    Ok(created)
}

/// Validates a new staff account and does the slow work (argon2, the TOTP secret) outside any
/// transaction; [`insert_staff`] stores it.
pub(crate) fn prepare_staff(
    muni: &str,
    staff: &NewStaff,
    now: i64,
) -> Result<CreatedStaff, DomainError> {
    let NewStaff {
        login_id,
        password,
        role,
        display_name,
        facility_id,
        profession,
    } = staff;
    let Some(role) = role.parse().ok().filter(|r| STAFF_ROLES.contains(r)) else {
        return Err(DomainError::unprocessable(
            "invalid_role",
            format!("role: one of {}", STAFF_ROLES.map(Role::as_str).join(", ")),
        ));
    };
    let login_id = validate_login_id(login_id)?;
    validate_password(password)?;
    if let Some(p) = profession
        && !PROFESSIONS.contains(&p.as_str())
    {
        return Err(DomainError::unprocessable(
            "invalid_field",
            format!("profession: one of {}", PROFESSIONS.join(", ")),
        ));
    }
    let totp_secret = security::new_totp_secret()?;
    let account = AccountRow {
        id: super::new_id()?,
        municipality_id: muni.to_string(),
        login_id,
        password_hash: hash_password(password)?,
        role,
        display_name: super::text("name", display_name, 1, 60)?,
        status: AccountStatus::Active,
        created_at: now,
        facility_id: facility_id.clone(),
        totp_secret: Some(totp_secret.clone()),
        totp_last_step: None,
        failed_logins: 0,
        locked_until: None,
        profession: profession.clone(),
        replaced_by: None,
        suspended_reason: None,
    };
    Ok(CreatedStaff {
        totp: {
            let uri = security::provisioning_uri(&totp_secret, &account.login_id);
            TotpProvisioning {
                qr_svg: crate::qrsvg::svg(&uri).unwrap_or_default(),
                uri,
                secret: totp_secret,
            }
        },
        account,
    })
}

/// Stores a prepared staff account and its audit event in the caller's transaction.
pub(crate) fn insert_staff(
    c: &mut Tx<'_>,
    created: &CreatedStaff,
    by: Option<&Actor>,
    now: i64,
) -> Result<(), DomainError> {
    let account = &created.account;
    let muni = account.municipality_id.as_str();
    check_staff_facility(c, muni, account.role, account.facility_id.as_deref())?;
    if db::accounts::account_by_login(c, muni, &account.login_id)?.is_some() {
        return Err(DomainError::conflict(
            "login_id_taken",
            "that login id is already in use",
        ));
    }
    db::accounts::insert_account(c, account)?;
    let event = match by {
        Some(a) => a.event(audit::Action::CreateStaff, audit::Outcome::Ok),
        None => audit::Event::new(audit::Action::CreateStaff, audit::Outcome::Ok),
    };
    audit::append(
        c,
        muni,
        &event.detail(format!("{} {}", account.role, account.id)),
        now,
    );
    Ok(())
}

/// RULES R3: who can be a user.
pub const PROFESSIONS: [&str; 13] = [
    "physician",
    "dentist",
    "pharmacist",
    "dental_hygienist",
    "dietitian",
    "nurse",
    "therapist",
    "care_manager",
    "support_center_staff",
    "paramedic",
    "city_staff",
    "vouched_staff",
    "city_approved",
];

/// The second factor of a new staff account, shown once to be handed over with the password
/// (RULES R2): the `otpauth://` URI for an authenticator app and its base32 secret.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TotpProvisioning {
    pub uri: String,
    pub secret: String,
    /// The URI as a QR code (an SVG document) for the authenticator app to scan.
    pub qr_svg: String,
}

#[derive(Debug, Clone)]
pub struct CreatedStaff {
    pub account: AccountRow,
    pub totp: TotpProvisioning,
}

/// A staff account to create.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    pub login_id: String,
    pub password: String,
    /// `city_admin` | `facility_manager` | `paramedic` | `ed_staff` | `disaster_responder`.
    pub role: String,
    pub display_name: String,
    /// Required for paramedics (a fire department), ED staff (a hospital) and facility managers.
    #[serde(default)]
    pub facility_id: Option<String>,
    /// RULES R3: `physician`, `dentist`, `pharmacist`, `dental_hygienist`, `dietitian`, `nurse`
    /// (public health nurse, nurse, midwife), `therapist` (PT/OT/ST), `care_manager`,
    /// `support_center_staff`, `paramedic`, `city_staff`, `vouched_staff`, `city_approved`.
    #[serde(default)]
    pub profession: Option<String>,
}

impl NewStaff {
    pub(crate) fn redacted(&self) -> String {
        format!("{} {}", self.role, self.login_id)
    }
}

/// Paramedics belong to a fire department, ED staff to a hospital, facility managers to any
/// facility; city administrators and disaster responders to none.
fn check_staff_facility(
    c: &mut DbConnection,
    muni: &str,
    role: Role,
    facility_id: Option<&str>,
) -> Result<(), DomainError> {
    // `Some(None)`: any facility.
    let needs = match role {
        Role::Paramedic => Some(Some(FacilityKind::FireDepartment)),
        Role::EdStaff => Some(Some(FacilityKind::Hospital)),
        Role::FacilityManager => Some(None),
        _ => None,
    };
    match (needs, facility_id) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(DomainError::unprocessable(
            "invalid_facility",
            format!("a {role} does not belong to a facility"),
        )),
        (Some(_), None) => Err(DomainError::unprocessable(
            "invalid_facility",
            format!("a {role} needs facility_id"),
        )),
        (Some(kind), Some(id)) => {
            super::check_id(id)?;
            match db::facilities::facility(c, muni, id)? {
                Some(f) if kind.is_none_or(|k| f.kind == k) => Ok(()),
                Some(_) => Err(DomainError::unprocessable(
                    "invalid_facility",
                    format!(
                        "a {role} belongs to a {}",
                        kind.map_or("", FacilityKind::as_str)
                    ),
                )),
                None => Err(DomainError::unprocessable(
                    "invalid_facility",
                    "no such facility in this municipality",
                )),
            }
        }
    }
}

/// Whether the municipality has a city administrator yet.
pub fn has_city_admin(db: &Db, muni: &str) -> Result<bool, DomainError> {
    db.read(|c| Ok(db::accounts::count_accounts_with_role(c, muni, Role::CityAdmin)? > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_ids_with_hidden_characters_are_refused_by_name() {
        assert_eq!(validate_login_id(" Hanako.Y ").unwrap(), "hanako.y");
        for bad in [
            "hana\u{202E}ko",
            "hana\u{200B}ko",
            "\u{FEFF}hanako",
            "hanako\u{2066}",
        ] {
            let err = validate_login_id(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_login_id");
            assert!(
                err.message().starts_with("login_id: U+"),
                "{}",
                err.message()
            );
        }
    }

    #[test]
    fn phc_round_trip_and_compatibility() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(password_matches("correct horse battery", &h));
        assert!(!password_matches("correct horse batterz", &h));
        assert!(!password_matches(
            "correct horse battery",
            "$argon2i$v=19$m=8,t=1,p=1$AAAA$AAAA"
        ));
        assert!(!password_matches("x", "garbage"));
        // A hash made by the argon2 crate's own PHC path (as stored by earlier versions) verifies.
        use argon2::password_hash::PasswordHasher;
        let old = Argon2::default()
            .hash_password(b"an older password")
            .unwrap()
            .to_string();
        assert!(password_matches("an older password", &old));
        assert!(!password_matches("another password", &old));
    }
}
