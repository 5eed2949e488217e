//! The signed trust list (issue 22; `docs/card-format.md` §10, `docs/api.md` *Trust list*): the
//! issuers a field device trusts offline, signed with this deployment's trust-list key.
//!
//! The key is `<data_dir>/trust-list.pem` (PKCS#8, 0600), made on first start beside the issuer
//! keys; its public half is published (`GET /api/v1/trust-list/key`) and handed to every device
//! at enrollment, which pins it. The list is built from the database on each request (a key
//! rotated or marked compromised by `kyukit keys` in another process shows at once), signed with
//! a validity of `Config::trust_list_validity_secs`, and the signed bytes are kept in memory
//! while the content is unchanged and less than half the validity has passed.
//!
//! The list's version is a counter that grows with every key change, computed from the key rows
//! alone (no extra table, the same on every instance): each key counts 1 when created, 2 once
//! retired, 3 once compromised. A key's status only ever moves forward (active → retired →
//! compromised, or active → compromised) and keys are never deleted, so every change adds to the
//! sum.

use crate::config::Config;
use crate::db::Db;
use crate::domain::KeyStatus;
use crate::secrets;
use crate::service::error::DomainError;
use crate::service::keys;
use kyukit_card::{
    Deployment, IssuerKey, KeyState, PublicKey, TrustList, TrustedIssuer, TrustedKey,
};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The deployment's trust-list signing key and the last list it signed.
pub struct TrustListSigner {
    key: IssuerKey,
    cache: Mutex<Option<Signed>>,
}

impl std::fmt::Debug for TrustListSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TrustListSigner({}, private key redacted)",
            self.key.kid()
        )
    }
}

#[derive(Clone)]
struct Signed {
    /// The content it was signed with (times zeroed).
    content: TrustList,
    issued_at: i64,
    expires_at: i64,
    bytes: Arc<Vec<u8>>,
}

/// The trust-list key's file in the data directory.
pub fn key_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("trust-list.pem")
}

impl TrustListSigner {
    /// Reads `<data_dir>/trust-list.pem`, creating it (0600, a fresh P-256 key) on first start.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Self> {
        let path = key_path(data_dir);
        let key = match secrets::read_private_key(&path) {
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = secrets::generate_issuer_key()?;
                match secrets::write_private_key(&path, &key) {
                    Ok(()) => {
                        tracing::info!(kid = %key.kid(), "new trust-list key");
                        key
                    }
                    // Another process made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        secrets::read_private_key(&path)?
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) => {
                return Err(std::io::Error::other(format!(
                    "trust-list key {}: {e}",
                    path.display()
                )));
            }
        };
        Ok(TrustListSigner {
            key,
            cache: Mutex::new(None),
        })
    }

    /// The public half devices pin.
    pub fn public(&self) -> &PublicKey {
        self.key.public()
    }

    /// The signed list for `now`: the cached bytes if the content is unchanged and the list is
    /// less than half its validity old, else a freshly signed one.
    pub fn current(
        &self,
        db: &Db,
        config: &Config,
        muni: &str,
        now: i64,
    ) -> Result<Arc<Vec<u8>>, DomainError> {
        let content = build(db, config, muni)?;
        let validity = config.trust_list_validity_secs;
        let lock = || self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = lock().as_ref()
            && s.content == content
            && now >= s.issued_at
            && now < s.issued_at + validity / 2
            && now < s.expires_at
        {
            return Ok(s.bytes.clone());
        }
        let list = TrustList {
            issued_at: now,
            expires_at: now + validity,
            ..content.clone()
        };
        let bytes = Arc::new(
            kyukit_card::sign_trust_list(&list, &self.key).map_err(DomainError::internal)?,
        );
        *lock() = Some(Signed {
            content,
            issued_at: list.issued_at,
            expires_at: list.expires_at,
            bytes: bytes.clone(),
        });
        Ok(bytes)
    }
}

/// This deployment's id: the host (and port) of its public URL.
pub fn deployment_id(config: &Config) -> String {
    let url = config.public_url.as_str();
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_ascii_lowercase()
}

/// The issuer id of a municipality, as a card's `iss` would carry it: `jp-` and its code.
pub fn issuer_id(code: &str) -> String {
    format!("jp-{code}")
}

fn state(s: KeyStatus) -> KeyState {
    match s {
        KeyStatus::Active => KeyState::Active,
        KeyStatus::Retired => KeyState::Retired,
        KeyStatus::Compromised => KeyState::Compromised,
    }
}

fn weight(s: KeyStatus) -> u64 {
    match s {
        KeyStatus::Active => 1,
        KeyStatus::Retired => 2,
        KeyStatus::Compromised => 3,
    }
}

/// The list's content from the database (times zeroed, filled in when signed): every
/// municipality of the deployment is an issuer; `muni` (the default one) names the deployment.
pub fn build(db: &Db, config: &Config, muni: &str) -> Result<TrustList, DomainError> {
    let munis = db.read(|c| crate::db::keys::municipalities(c).map_err(DomainError::from))?;
    let m = munis
        .iter()
        .find(|m| m.id == muni)
        .cloned()
        .ok_or_else(|| DomainError::internal("the municipality row is missing"))?;
    let deployment = deployment_id(config);
    let base = config.public_url.trim_end_matches('/');
    let mut version = 0;
    let mut issuers = Vec::with_capacity(munis.len());
    for each in munis {
        let ring = keys::load(db, &config.data_dir, &each.id, false)?;
        let keys = ring
            .rows
            .iter()
            .map(|r| {
                Ok(TrustedKey {
                    key: keys::public_key(&r.public_jwk)?,
                    status: state(r.status),
                })
            })
            .collect::<Result<Vec<_>, DomainError>>()?;
        // Adding a municipality or a key, or a key's retirement or compromise, raises it.
        version += ring.rows.iter().map(|r| weight(r.status)).sum::<u64>();
        issuers.push(TrustedIssuer {
            id: issuer_id(&each.code),
            name_ja: each.name_ja,
            name_en: each.name_en,
            card_base: each.card_base_url.unwrap_or_else(|| config.card_base_url()),
            keys,
            revocation_url: format!("{base}/api/v1/revocations/"),
            deployment: deployment.clone(),
        });
    }
    Ok(TrustList {
        version,
        issued_at: 0,
        expires_at: 0,
        deployment: Deployment {
            id: deployment.clone(),
            name_ja: format!("{} 救急医療情報キット", m.name_ja),
            name_en: format!("{} Kyukit", m.name_en),
            base_url: format!("{base}/"),
            server_keys: vec![],
            default_issuer: Some(issuer_id(&m.code)),
        },
        issuers,
    })
}
