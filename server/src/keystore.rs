//! The municipality's issuer keys on disk: `<data_dir>/keys/<kid>.pem` (PKCS#8, mode 0600) and
//! `<data_dir>/keys/active` naming the key new cards are signed with. Created on first start.
//! Key material is never logged; only key ids are.

use crate::secrets;
use kyukit_card::{IssuerKey, KeySet, Kid};
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct KeyStore {
    keys: Vec<IssuerKey>,
    active: Kid,
}

fn keys_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys")
}

impl KeyStore {
    /// Loads every key; generates the first one if there is none.
    pub fn open_or_init(data_dir: &Path) -> io::Result<Self> {
        let dir = keys_dir(data_dir);
        create_private_dir(&dir)?;
        let mut keys = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "pem") {
                keys.push(
                    secrets::read_private_key(&path)
                        .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?,
                );
            }
        }
        let active_file = dir.join("active");
        if keys.is_empty() {
            let key = secrets::generate_issuer_key()?;
            secrets::write_private_key(&dir.join(format!("{}.pem", key.kid())), &key)?;
            std::fs::write(&active_file, key.kid().to_b64())?;
            tracing::info!(kid = %key.kid(), "generated the municipality's first issuer key");
            keys.push(key);
        }
        let active_text = std::fs::read_to_string(&active_file)?;
        let active = Kid::from_b64(active_text.trim())
            .filter(|k| keys.iter().any(|key| key.kid() == *k))
            .ok_or_else(|| {
                io::Error::other(format!(
                    "{} does not name a key in {}",
                    active_file.display(),
                    dir.display()
                ))
            })?;
        Ok(KeyStore { keys, active })
    }

    /// The key new cards are signed with.
    pub fn active(&self) -> Option<&IssuerKey> {
        self.keys.iter().find(|k| k.kid() == self.active)
    }

    /// All public keys, for the JWKS and for verification.
    pub fn public_keys(&self) -> KeySet {
        self.keys.iter().map(|k| k.public().clone()).collect()
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}
