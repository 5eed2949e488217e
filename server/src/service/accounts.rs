//! Accounts, passwords (argon2id) and sessions (opaque bearer tokens, stored as SHA-256 hashes).

use crate::audit;
use crate::db::models::{AccountRow, SessionRow};
use crate::db::{Db, DbConnection, queries};
use crate::error::ApiError;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
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
            idle_secs: 30 * 60,
            absolute_secs: 12 * 3600,
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Actor {
    pub account_id: String,
    pub municipality_id: String,
    pub role: String,
}

pub fn validate_login_id(login_id: &str) -> Result<String, ApiError> {
    let v = login_id.trim().to_ascii_lowercase();
    let ok = (3..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    if ok {
        Ok(v)
    } else {
        Err(ApiError::unprocessable(
            "invalid_login_id",
            "login_id: 3–64 characters of a-z 0-9 . _ @ -",
        ))
    }
}

pub fn validate_password(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if (10..=128).contains(&n) {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "weak_password",
            "password: 10–128 characters",
        ))
    }
}

pub fn hash_password(password: &str) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

fn password_matches(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A PHC hash of a random password, verified against when the login id does not exist, so that
/// unknown and known ids take the same time.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy-password-never-valid").unwrap_or_default())
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a session for `account` and returns the bearer token (256 random bits).
pub fn create_session(
    conn: &mut DbConnection,
    account: &AccountRow,
    now: i64,
    policy: SessionPolicy,
) -> Result<String, ApiError> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    queries::insert_session(
        conn,
        &SessionRow {
            token_hash: token_hash(&token),
            municipality_id: account.municipality_id.clone(),
            account_id: account.id.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + policy.absolute_secs,
        },
    )?;
    Ok(token)
}

/// Checks a login; returns a session token. Wrong id and wrong password give the same answer.
pub fn login(
    db: &Db,
    municipality_id: &str,
    login_id: &str,
    password: &str,
    now: i64,
    policy: SessionPolicy,
) -> Result<String, ApiError> {
    let denied = || ApiError::unauthorized("wrong login id or password");
    let login_id = validate_login_id(login_id).map_err(|_| denied())?;
    let account = db.read(|c| {
        queries::account_by_login(c, municipality_id, &login_id).map_err(ApiError::from)
    })?;
    // Failed logins are audited (without the attempted password, and with the account only if
    // the login id exists) in their own transaction, before the refusal is answered.
    let failed = |account: Option<&AccountRow>, why: &str| -> Result<(), ApiError> {
        let mut event =
            audit::Event::new(audit::Action::LoginFailed, audit::Outcome::Denied).detail(why);
        if let Some(a) = account {
            event = event.by(&a.id, &a.role);
        }
        db.write(|c| {
            audit::append(c, municipality_id, &event, now)
                .map(|_| ())
                .map_err(ApiError::from)
        })
    };
    let Some(account) = account else {
        let _ = password_matches(password, decoy_hash());
        failed(None, "unknown_login_id")?;
        return Err(denied());
    };
    if !password_matches(password, &account.password_hash) {
        failed(Some(&account), "wrong_password")?;
        return Err(denied());
    }
    if account.status != "active" {
        failed(Some(&account), "suspended")?;
        return Err(ApiError::forbidden("this account is suspended"));
    }
    db.write(|c| {
        let token = create_session(c, &account, now, policy)?;
        audit::append(
            c,
            municipality_id,
            &audit::Event::new(audit::Action::LoginOk, audit::Outcome::Ok)
                .by(&account.id, &account.role),
            now,
        )?;
        Ok(token)
    })
}

/// Resolves a bearer token to its actor, enforcing idle and absolute timeouts and suspension.
pub fn authenticate(
    db: &Db,
    token: &str,
    now: i64,
    policy: SessionPolicy,
) -> Result<Actor, ApiError> {
    let expired = || ApiError::unauthorized("session expired or unknown; log in again");
    if token.is_empty() || token.len() > 128 {
        return Err(expired());
    }
    let hash = token_hash(token);
    let found = db.read(|c| queries::session_with_account(c, &hash).map_err(ApiError::from))?;
    let Some((session, account)) = found else {
        return Err(expired());
    };
    if now >= session.expires_at
        || now - session.last_seen_at > policy.idle_secs
        || account.status != "active"
    {
        db.write(|c| queries::delete_session(c, &hash).map_err(ApiError::from))?;
        return Err(expired());
    }
    // Touch at most once a minute: idle timeout precision does not need a write per request.
    if now - session.last_seen_at >= 60 {
        db.write(|c| queries::touch_session(c, &hash, now).map_err(ApiError::from))?;
    }
    Ok(Actor {
        account_id: account.id,
        municipality_id: account.municipality_id,
        role: account.role,
    })
}

pub fn logout(db: &Db, token: &str) -> Result<(), ApiError> {
    db.write(|c| queries::delete_session(c, &token_hash(token)).map_err(ApiError::from))
        .map(|_| ())
}

/// Roles the CLI may create (people who are not residents or proxies).
pub const STAFF_ROLES: [&str; 5] = [
    "city_admin",
    "facility_manager",
    "paramedic",
    "ed_staff",
    "disaster_responder",
];

/// Creates a staff account (e.g. the first city administrator). Two-factor login, facility
/// membership and approval workflows come with the governance issue.
pub fn create_staff(
    db: &Db,
    muni: &str,
    login_id: &str,
    password: &str,
    role: &str,
    display_name: &str,
    now: i64,
) -> Result<AccountRow, ApiError> {
    if !STAFF_ROLES.contains(&role) {
        return Err(ApiError::unprocessable(
            "invalid_role",
            format!("role: one of {}", STAFF_ROLES.join(", ")),
        ));
    }
    let login_id = validate_login_id(login_id)?;
    validate_password(password)?;
    let account = AccountRow {
        id: super::new_id()?,
        municipality_id: muni.to_string(),
        login_id,
        password_hash: hash_password(password)?,
        role: role.into(),
        display_name: super::text("name", display_name, 1, 60)?,
        status: "active".into(),
        created_at: now,
    };
    db.write(|c| {
        if queries::account_by_login(c, muni, &account.login_id)?.is_some() {
            return Err(ApiError::conflict(
                "login_id_taken",
                "that login id is already in use",
            ));
        }
        queries::insert_account(c, &account)?;
        audit::append(
            c,
            muni,
            &audit::Event::new(audit::Action::CreateStaff, audit::Outcome::Ok)
                .detail(format!("{} {}", account.role, account.id)),
            now,
        )?;
        Ok(account.clone())
    })
}

/// Whether the municipality has a city administrator yet.
pub fn has_city_admin(db: &Db, muni: &str) -> Result<bool, ApiError> {
    db.read(|c| Ok(queries::count_accounts_with_role(c, muni, "city_admin")? > 0))
}
