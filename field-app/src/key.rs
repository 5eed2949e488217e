//! The device key: a P-256 key pair generated on the device, kept in a 0600 PKCS#8 PEM file. Only
//! its public half (as a JWK) ever leaves the device.

use crate::error::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde_json::{Value, json};
use std::fmt;
use std::io::Write;
use std::path::Path;

/// Largest key file read (a P-256 PKCS#8 PEM is about 240 bytes).
const MAX_KEY_FILE: u64 = 16 * 1024;

/// A device's private signing key. Its `Debug` never shows key material.
#[derive(Clone)]
pub struct DeviceKey {
    signing: SigningKey,
    /// The same key for `ring`'s signer (≈ 4× faster than `p256`'s here: every request a
    /// device sends is signed, and the load generator signs thousands a second).
    fast: std::sync::Arc<ring::signature::EcdsaKeyPair>,
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.public_coordinates() {
            Ok((x, _)) => write!(
                f,
                "DeviceKey(x={}, private key redacted)",
                URL_SAFE_NO_PAD.encode(x)
            ),
            Err(_) => f.write_str("DeviceKey(private key redacted)"),
        }
    }
}

impl DeviceKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self> {
        loop {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| Error::Random(e.to_string()))?;
            // Fails only for the zero scalar or one ≥ the group order: probability < 2^-32.
            if let Ok(key) = Self::from_secret_bytes(&secret) {
                return Ok(key);
            }
        }
    }

    /// From a 32-byte big-endian P-256 scalar.
    pub fn from_secret_bytes(bytes: &[u8; 32]) -> Result<Self> {
        let signing = SigningKey::from_slice(bytes)
            .map_err(|_| Error::Key("secret is not a valid P-256 scalar".into()))?;
        Self::with(signing)
    }

    fn with(signing: SigningKey) -> Result<Self> {
        let public = signing.verifying_key().to_sec1_bytes();
        let fast = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &signing.to_bytes(),
            &public,
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|_| Error::Key("the key pair does not match".into()))?;
        Ok(DeviceKey {
            signing,
            fast: std::sync::Arc::new(fast),
        })
    }

    /// From a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self> {
        let signing = SigningKey::from_pkcs8_pem(pem)
            .map_err(|_| Error::Key("not a PKCS#8 P-256 private key".into()))?;
        Self::with(signing)
    }

    /// PKCS#8 PEM of the private key. Handle as a secret.
    pub fn to_pkcs8_pem(&self) -> Result<String> {
        self.signing
            .to_pkcs8_pem(LineEnding::LF)
            .map(|z| z.to_string())
            .map_err(|_| Error::Key("cannot encode the key as PKCS#8".into()))
    }

    /// Writes the key as PKCS#8 PEM to a new file created with mode 0600 (never readable by
    /// others, not even briefly). Refuses to overwrite an existing file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let pem = self.to_pkcs8_pem()?;
        write_new_private_file(path, pem.as_bytes())
    }

    /// Reads a PKCS#8 PEM private key written by [`DeviceKey::save`] (or by any PKCS#8 encoder).
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = read_limited(path, MAX_KEY_FILE)?;
        let pem = String::from_utf8(bytes)
            .map_err(|_| Error::Key(format!("{} is not a PEM file", path.display())))?;
        Self::from_pkcs8_pem(&pem)
    }

    /// The public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        self.signing.verifying_key()
    }

    fn public_coordinates(&self) -> Result<([u8; 32], [u8; 32])> {
        coordinates(self.verifying_key())
    }

    /// The public key as a JWK: `{"kty":"EC","crv":"P-256","x":…,"y":…}`, coordinates as 32-byte
    /// unpadded base64url (RFC 7518 §6.2.1).
    pub fn public_jwk(&self) -> Value {
        // A verifying key's SEC1 encoding is always the 65-byte uncompressed point 0x04‖x‖y.
        let point = self.verifying_key().to_sec1_bytes();
        let x = point.get(1..33).unwrap_or_default();
        let y = point.get(33..65).unwrap_or_default();
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
        })
    }

    /// ECDSA P-256 over SHA-256 of `message`: the 64-byte `r‖s` (IEEE P1363, what WebCrypto
    /// produces). `ring`'s nonces are random, hedged with the key and message; if the system's
    /// random source fails, `p256`'s deterministic (RFC 6979) signature instead.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        match self.fast.sign(&ring::rand::SystemRandom::new(), message) {
            Ok(sig) if sig.as_ref().len() == 64 => out.copy_from_slice(sig.as_ref()),
            _ => {
                let sig: Signature = self.signing.sign(message);
                out.copy_from_slice(&sig.to_bytes());
            }
        }
        out
    }
}

/// The affine coordinates of a public key.
pub(crate) fn coordinates(key: &VerifyingKey) -> Result<([u8; 32], [u8; 32])> {
    let point = key.to_sec1_bytes();
    // Uncompressed SEC1: 0x04 || x || y.
    match point.split_first() {
        Some((0x04, xy)) if xy.len() == 64 => {
            let mut x = [0u8; 32];
            let mut y = [0u8; 32];
            x.copy_from_slice(&xy[..32]);
            y.copy_from_slice(&xy[32..]);
            Ok((x, y))
        }
        _ => Err(Error::Key(
            "public key is not an uncompressed P-256 point".into(),
        )),
    }
}

/// Creates `path` (refusing an existing file) with mode 0600 and writes `data`.
pub(crate) fn write_new_private_file(path: &Path, data: &[u8]) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| Error::io(path, e))?;
    f.write_all(data).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

/// Reads a whole file, refusing one larger than `max` bytes.
pub(crate) fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.len() > max {
        return Err(Error::Usage(format!(
            "{} is too large ({} bytes, limit {max})",
            path.display(),
            meta.len()
        )));
    }
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;

    fn temp_path(name: &str) -> std::path::PathBuf {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        let dir = std::env::temp_dir().join(format!(
            "kyukit-field-test-{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn save_load_roundtrip_0600_and_no_overwrite() {
        let key = DeviceKey::generate().unwrap();
        let path = temp_path("device.pem");
        key.save(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let loaded = DeviceKey::load(&path).unwrap();
        assert_eq!(loaded.verifying_key(), key.verifying_key());
        // A second save to the same path is refused and leaves the file alone.
        let other = DeviceKey::generate().unwrap();
        assert!(matches!(other.save(&path), Err(Error::Io { .. })));
        assert_eq!(
            DeviceKey::load(&path).unwrap().verifying_key(),
            key.verifying_key()
        );
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn jwk_has_exactly_the_four_members() {
        let key = DeviceKey::generate().unwrap();
        let jwk = key.public_jwk();
        let obj = jwk.as_object().unwrap();
        let mut names: Vec<&str> = obj.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["crv", "kty", "x", "y"]);
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        for c in ["x", "y"] {
            let s = jwk[c].as_str().unwrap();
            assert_eq!(s.len(), 43, "32 bytes, unpadded base64url");
            assert!(!s.contains(['=', '+', '/']));
        }
        // The JWK names this key: rebuild the point and verify a signature with it.
        let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
        let y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
        let sec1 = [&[0x04u8][..], &x, &y].concat();
        let vk = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        let sig = Signature::from_slice(&key.sign(b"hello")).unwrap();
        vk.verify(b"hello", &sig).unwrap();
    }

    #[test]
    fn signatures_verify_under_the_public_key_and_a_flipped_bit_does_not() {
        use p256::ecdsa::signature::Verifier;
        let key = DeviceKey::generate().unwrap();
        let loaded = DeviceKey::from_pkcs8_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
        for (i, message) in [&b""[..], b"@method: POST", &[0xffu8; 1000][..]]
            .iter()
            .enumerate()
        {
            for signer in [&key, &loaded] {
                let sig = signer.sign(message);
                let parsed = Signature::from_slice(&sig).unwrap();
                assert!(
                    key.verifying_key().verify(message, &parsed).is_ok(),
                    "message {i}"
                );
                let mut bad = sig;
                bad[i * 7 % 64] ^= 1;
                let bad_ok = Signature::from_slice(&bad)
                    .map(|b| key.verifying_key().verify(message, &b).is_ok())
                    .unwrap_or(false);
                assert!(!bad_ok, "message {i}: a flipped bit still verifies");
            }
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let key = DeviceKey::from_secret_bytes(&[7u8; 32]).unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        let dbg = format!("{key:?}");
        assert!(dbg.contains("redacted"));
        assert!(!dbg.contains(&pem));
    }
}
