//! Randomness and secret files: card ids, key generation, and private keys written 0600.

use kyukit_card::{CardId, IssuerKey};
use std::io::Write;
use std::path::Path;

/// A fresh 128-bit card id from the operating system's CSPRNG.
pub fn new_card_id() -> std::io::Result<CardId> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(std::io::Error::other)?;
    Ok(CardId(b))
}

/// A fresh P-256 issuer key from the operating system's CSPRNG.
pub fn generate_issuer_key() -> std::io::Result<IssuerKey> {
    loop {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(std::io::Error::other)?;
        // Fails only for the zero scalar or one ≥ the group order: probability < 2^-32.
        if let Ok(key) = IssuerKey::from_secret_bytes(&secret) {
            return Ok(key);
        }
    }
}

/// Writes a private key as PKCS#8 PEM, creating the file with mode 0600 (never world-readable,
/// not even briefly). Refuses to overwrite an existing file.
pub fn write_private_key(path: &Path, key: &IssuerKey) -> std::io::Result<()> {
    let pem = key.to_pkcs8_pem().map_err(std::io::Error::other)?;
    write_secret_file(path, pem.as_bytes())
}

/// Creates a file readable by the owner only (mode 0600 from the start) with `content`, synced
/// to disk. Refuses to overwrite an existing file (`AlreadyExists`).
pub fn write_secret_file(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(content)?;
    f.sync_all()
}

/// Reads a PKCS#8 PEM private key.
pub fn read_private_key(path: &Path) -> std::io::Result<IssuerKey> {
    let pem = std::fs::read_to_string(path)?;
    IssuerKey::from_pkcs8_pem(&pem).map_err(std::io::Error::other)
}

/// Reads the deployment key `what` (a name for the log and errors: "trust-list key", "server
/// key") at `path`, creating it (0600, a fresh P-256 key) on first start. When another process
/// creates it first, theirs is used.
pub fn load_or_create_private_key(path: &Path, what: &str) -> std::io::Result<IssuerKey> {
    match read_private_key(path) {
        Ok(k) => Ok(k),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = generate_issuer_key()?;
            match write_private_key(path, &key) {
                Ok(()) => {
                    tracing::info!(kid = %key.kid(), "new {what}");
                    Ok(key)
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_private_key(path),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(std::io::Error::other(format!(
            "{what} {}: {e}",
            path.display()
        ))),
    }
}
