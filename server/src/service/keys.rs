//! The municipality's issuer keys: status in the database (`active`, `retired` = still verifies the
//! cards it signed, `compromised` = withdrawn from the JWKS so its cards fail), private keys as 0600
//! PKCS#8 files under `<data_dir>/keys/<kid>.pem`. Key material is never logged.

use crate::db::keys::{IssuerKeyRow, MunicipalityRow};
use crate::db::{self, Db};
use crate::domain::KeyStatus;
use crate::secrets;
use crate::service::error::DomainError;
use kyukit_card::{IssuerKey, KeySet, Kid};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Most parsed keys kept by [`public_key`] (issuer keys and enrolled devices); past it the cache
/// starts over.
const PARSED_KEYS_MAX: usize = 4096;

/// A stored public JWK (an `issuer_keys` or `devices` row's `public_jwk`), parsed. Parsing checks
/// the point and recomputes its thumbprint, which a scan would otherwise do twice per request; the
/// result is a pure function of the text, so it is memoised by the text itself: a new or changed
/// key is a different text, and whether a key may be used (its row's status) is read from the
/// database on every request, never cached.
pub fn public_key(jwk_text: &str) -> Result<kyukit_card::PublicKey, DomainError> {
    static PARSED: OnceLock<Mutex<HashMap<String, kyukit_card::PublicKey>>> = OnceLock::new();
    let cache = PARSED.get_or_init(Mutex::default);
    let lock = || {
        cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    if let Some(key) = lock().get(jwk_text) {
        return Ok(key.clone());
    }
    let jwk: kyukit_card::Jwk = serde_json::from_str(jwk_text).map_err(DomainError::internal)?;
    let key = kyukit_card::PublicKey::from_jwk(&jwk).map_err(DomainError::internal)?;
    let mut parsed = lock();
    if parsed.len() >= PARSED_KEYS_MAX {
        parsed.clear();
    }
    parsed.insert(jwk_text.to_string(), key.clone());
    Ok(key)
}

/// The signing key and the public keys a verifier should trust.
#[derive(Debug)]
pub struct Keyring {
    pub active: Option<IssuerKey>,
    pub trusted: KeySet,
    pub rows: Vec<IssuerKeyRow>,
}

fn key_path(data_dir: &Path, kid: &str) -> PathBuf {
    data_dir.join("keys").join(format!("{kid}.pem"))
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Municipality defaults for a first start.
#[derive(Debug, Clone)]
pub struct MunicipalityDefaults {
    pub code: String,
    pub name_ja: String,
    pub name_en: String,
}

/// First start: creates the municipality and its first issuer key if there are none. Returns the
/// municipality id.
pub fn bootstrap(
    db: &Db,
    data_dir: &Path,
    defaults: &MunicipalityDefaults,
    now: i64,
) -> Result<String, DomainError> {
    let existing = db.read(|c| db::keys::first_municipality(c).map_err(DomainError::from))?;
    let muni = match existing {
        Some(m) => m.id,
        None => {
            let id = super::new_id()?;
            let row = MunicipalityRow {
                id: id.clone(),
                municipality_id: id.clone(),
                code: defaults.code.clone(),
                name_ja: defaults.name_ja.clone(),
                name_en: defaults.name_en.clone(),
                created_at: now,
                card_base_url: None,
            };
            db.write(|c| db::keys::insert_municipality(c, &row).map_err(DomainError::from))?;
            id
        }
    };
    db.write(|c| crate::audit::init_chain(c, &muni).map_err(DomainError::from))?;
    let keys = db.read(|c| db::keys::issuer_keys(c, &muni).map_err(DomainError::from))?;
    if keys.is_empty() {
        add_key(db, data_dir, &muni, now)?;
    }
    Ok(muni)
}

/// A municipality the deployment operator adds (`kyukit municipality create`).
#[derive(Debug, Clone)]
pub struct NewMunicipality {
    /// The 6-digit 全国地方公共団体コード (e.g. `082171`).
    pub code: String,
    pub name_ja: String,
    pub name_en: String,
    /// The https prefix of its cards' URLs; `None`: the deployment's.
    pub card_base_url: Option<String>,
}

/// Creates a municipality with its audit chain and its first issuer key (as a first start does
/// for the default one). A code already present is a conflict.
pub fn create_municipality(
    db: &Db,
    data_dir: &Path,
    new: &NewMunicipality,
    now: i64,
) -> Result<MunicipalityRow, DomainError> {
    if new.code.len() != 6 || !new.code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DomainError::unprocessable(
            "invalid_code",
            "the municipality code is the 6-digit 全国地方公共団体コード, e.g. 082171",
        ));
    }
    for (field, name) in [("name_ja", &new.name_ja), ("name_en", &new.name_en)] {
        let n = name.trim().chars().count();
        if n == 0 || n > 100 || name.chars().any(char::is_control) {
            return Err(DomainError::unprocessable(
                "invalid_text",
                format!("{field}: 1–100 characters, no control characters"),
            ));
        }
    }
    if let Some(url) = &new.card_base_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(DomainError::unprocessable(
            "invalid_url",
            "the card base URL is an http(s) URL ending in the card path, e.g. https://qq.city.kasama.lg.jp/c/",
        ));
    }
    let id = super::new_id()?;
    let row = MunicipalityRow {
        id: id.clone(),
        municipality_id: id.clone(),
        code: new.code.clone(),
        name_ja: new.name_ja.trim().to_string(),
        name_en: new.name_en.trim().to_string(),
        created_at: now,
        card_base_url: new.card_base_url.clone(),
    };
    db.write(|c| {
        if db::keys::municipality_by_code(c, &row.code)?.is_some() {
            return Err(DomainError::conflict(
                "municipality_exists",
                format!("a municipality with code {} exists", row.code),
            ));
        }
        db::keys::insert_municipality(c, &row)?;
        crate::audit::init_chain(c, &id)?;
        Ok::<_, DomainError>(())
    })?;
    add_key(db, data_dir, &id, now)?;
    Ok(row)
}

/// A municipality by its code; `None` (no code given): the deployment's default municipality.
pub fn municipality_by_code(
    db: &Db,
    default: &str,
    code: Option<&str>,
) -> Result<String, DomainError> {
    let Some(code) = code else {
        return Ok(default.to_string());
    };
    db.read(|c| db::keys::municipality_by_code(c, code).map_err(DomainError::from))?
        .map(|m| m.id)
        .ok_or_else(|| {
            DomainError::not_found(format!("no municipality with code {code}"))
                .with_code("municipality_unknown")
        })
}

/// Generates a key, writes its file, and makes it the active key (the previous active key becomes
/// `retired`: it stays in the JWKS so its cards verify until they expire).
pub fn add_key(db: &Db, data_dir: &Path, muni: &str, now: i64) -> Result<Kid, DomainError> {
    create_private_dir(&data_dir.join("keys")).map_err(DomainError::internal)?;
    let key = secrets::generate_issuer_key().map_err(DomainError::internal)?;
    let kid = key.kid();
    secrets::write_private_key(&key_path(data_dir, &kid.to_b64()), &key)
        .map_err(DomainError::internal)?;
    let jwk = serde_json::to_string(&key.public().to_jwk().map_err(DomainError::internal)?)
        .map_err(DomainError::internal)?;
    db.write(|c| {
        for row in db::keys::issuer_keys(c, muni)? {
            if row.status == KeyStatus::Active {
                db::keys::set_issuer_key_status(c, muni, &row.kid, KeyStatus::Retired, now)?;
            }
        }
        db::keys::insert_issuer_key(
            c,
            &IssuerKeyRow {
                municipality_id: muni.into(),
                kid: kid.to_b64(),
                status: KeyStatus::Active,
                public_jwk: jwk,
                created_at: now,
                retired_at: None,
            },
        )?;
        let event =
            crate::audit::Event::new(crate::audit::Action::RotateKey, crate::audit::Outcome::Ok)
                .detail(kid.to_b64());
        crate::audit::append(c, muni, &event, now);
        Ok::<_, DomainError>(())
    })?;
    tracing::info!(kid = %kid, "new active issuer key");
    Ok(kid)
}

/// Marks a key compromised: it leaves the JWKS and every card it signed fails verification.
pub fn mark_compromised(db: &Db, muni: &str, kid: &str, now: i64) -> Result<(), DomainError> {
    db.write(|c| {
        let rows = db::keys::issuer_keys(c, muni)?;
        let row = rows.iter().find(|r| r.kid == kid).ok_or_else(|| DomainError::not_found("no such key"))?;
        if row.status == KeyStatus::Active && !rows.iter().any(|r| r.kid != kid && r.status != KeyStatus::Compromised) {
            tracing::warn!(kid, "the only usable key is being marked compromised; no card can be issued until `keys rotate`");
        }
        db::keys::set_issuer_key_status(c, muni, kid, KeyStatus::Compromised, now)?;
        let event = crate::audit::Event::new(crate::audit::Action::CompromiseKey, crate::audit::Outcome::Ok).detail(kid);
        crate::audit::append(c, muni, &event, now);
        Ok(())
    })
}

/// Loads the keyring: public keys of active and retired keys, and the active private key. The
/// rows are read on every call (a key marked compromised by any server instance is distrusted by
/// the next scan); only their parsing is memoised ([`public_key`]).
pub fn load(
    db: &Db,
    data_dir: &Path,
    muni: &str,
    with_private: bool,
) -> Result<Keyring, DomainError> {
    let rows = db.read(|c| db::keys::issuer_keys(c, muni).map_err(DomainError::from))?;
    let mut trusted = KeySet::new();
    let mut active = None;
    for row in &rows {
        if row.status == KeyStatus::Compromised {
            continue;
        }
        trusted.insert(public_key(&row.public_jwk)?);
        if with_private && row.status == KeyStatus::Active {
            active = Some(
                secrets::read_private_key(&key_path(data_dir, &row.kid))
                    .map_err(|e| DomainError::internal(format!("key {}: {e}", row.kid)))?,
            );
        }
    }
    Ok(Keyring {
        active,
        trusted,
        rows,
    })
}

/// The municipality that issued a card (or a household sticker): the owner of the key its
/// protected header names. Nothing is verified here (the caller verifies against that
/// municipality's keys); `None`: not a COSE object, or a key no municipality of this deployment
/// has. A card carries no issuer: its `kid` is the only pointer (cards stay the same size).
pub fn card_issuer(db: &Db, cose: &[u8]) -> Result<Option<String>, DomainError> {
    let kid = match kyukit_card::decode_unverified(cose) {
        Ok((kid, _)) => kid,
        Err(_) => match kyukit_card::decode_household_unverified(cose) {
            Ok((kid, _)) => kid,
            Err(_) => return Ok(None),
        },
    };
    db.read(|c| db::keys::key_owner(c, &kid.to_b64()).map_err(DomainError::from))
}

/// Every municipality's live public keys (active and retired, never compromised): the
/// deployment's JWKS.
pub fn all_trusted(db: &Db, data_dir: &Path) -> Result<KeySet, DomainError> {
    let munis = db.read(|c| db::keys::municipalities(c).map_err(DomainError::from))?;
    let mut all = KeySet::new();
    for m in munis {
        for key in load(db, data_dir, &m.id, false)?.trusted.iter() {
            all.insert(key.clone());
        }
    }
    Ok(all)
}

/// The municipality whose issuer key `kid` is (any status); `None`: no such key here.
pub fn kid_owner(db: &Db, kid: &str) -> Result<Option<String>, DomainError> {
    db.read(|c| db::keys::key_owner(c, kid).map_err(DomainError::from))
}

/// A municipality's card URL base: its own (`kyukit municipality create --card-base-url`), else
/// the deployment's.
pub fn card_base(
    db: &Db,
    config: &crate::config::Config,
    muni: &str,
) -> Result<String, DomainError> {
    let m = db.read(|c| db::keys::municipality(c, muni).map_err(DomainError::from))?;
    Ok(m.and_then(|m| m.card_base_url)
        .unwrap_or_else(|| config.card_base_url()))
}
