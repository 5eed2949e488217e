//! Issuer keys: ES256 (P-256) signing keys, their public halves, key ids, and JWKS (RFC 7517).
//!
//! A key id (`kid`) is the first 8 bytes of the key's RFC 7638 JWK thumbprint (SHA-256). On the card
//! it is the raw 8 bytes; in a JWKS it is their unpadded base64url form (11 characters). Importing a
//! JWK recomputes the thumbprint and refuses a `kid` that does not match, so a key id always names
//! exactly one public key.

use crate::CardError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// Bytes of the thumbprint kept as the key id.
pub const KID_LEN: usize = 8;

/// A key id: the first 8 bytes of the RFC 7638 thumbprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kid(pub [u8; KID_LEN]);

impl Kid {
    /// The JWKS form: unpadded base64url.
    pub fn to_b64(&self) -> String {
        B64.encode(self.0)
    }

    pub fn from_b64(s: &str) -> Option<Self> {
        let v = B64.decode(s).ok()?;
        Some(Kid(v.try_into().ok()?))
    }

    pub(crate) fn from_slice(b: &[u8]) -> Option<Self> {
        Some(Kid(b.try_into().ok()?))
    }
}

impl fmt::Debug for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kid({})", self.to_b64())
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_b64())
    }
}

impl Serialize for Kid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_b64())
    }
}

/// An issuer's public key with its key id.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    kid: Kid,
    key: VerifyingKey,
    /// The uncompressed SEC1 point (`0x04 ‖ x ‖ y`), what `ring` verifies against.
    sec1: [u8; 65],
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.kid)
    }
}

fn coordinates(key: &VerifyingKey) -> Result<([u8; 32], [u8; 32]), CardError> {
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
        _ => Err(CardError::Key(
            "public key is not an uncompressed P-256 point".into(),
        )),
    }
}

/// RFC 7638 thumbprint input for an EC key: members in lexicographic order, no whitespace.
fn thumbprint(x: &[u8; 32], y: &[u8; 32]) -> [u8; 32] {
    let json = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        B64.encode(x),
        B64.encode(y)
    );
    Sha256::digest(json.as_bytes()).into()
}

impl PublicKey {
    pub fn from_verifying_key(key: VerifyingKey) -> Result<Self, CardError> {
        let (x, y) = coordinates(&key)?;
        let t = thumbprint(&x, &y);
        let mut kid = [0u8; KID_LEN];
        kid.copy_from_slice(&t[..KID_LEN]);
        let mut sec1 = [0u8; 65];
        sec1[0] = 0x04;
        sec1[1..33].copy_from_slice(&x);
        sec1[33..].copy_from_slice(&y);
        Ok(PublicKey {
            kid: Kid(kid),
            key,
            sec1,
        })
    }

    pub fn kid(&self) -> Kid {
        self.kid
    }

    /// The uncompressed SEC1 point `0x04 ‖ x ‖ y` (65 bytes).
    pub fn sec1(&self) -> &[u8; 65] {
        &self.sec1
    }

    /// From an uncompressed SEC1 point (`0x04 ‖ x ‖ y`); the key id is derived (RFC 7638).
    pub fn from_sec1(sec1: &[u8]) -> Result<Self, CardError> {
        let key = VerifyingKey::from_sec1_bytes(sec1)
            .map_err(|_| CardError::Key("point is not on P-256".into()))?;
        Self::from_verifying_key(key)
    }

    /// Verifies an ES256 signature (`r‖s`, 64 bytes, as WebCrypto and COSE make them) over
    /// `message`: SHA-256, then ECDSA P-256. Used for cards ([`crate::verify`]) and for
    /// field-device request signatures.
    ///
    /// The arithmetic is `ring`'s (constant-table P-256, ≈ 5× faster than the `p256` crate's
    /// verification on x86-64; signing stays on `p256`, deterministic per RFC 6979). The
    /// signature must be exactly 64 bytes with `r` and `s` in `1..n`, as before.
    pub fn verify_es256(&self, message: &[u8], signature: &[u8]) -> bool {
        if p256::ecdsa::Signature::from_slice(signature).is_err() {
            return false;
        }
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            &self.sec1[..],
        )
        .verify(message, signature)
        .is_ok()
    }

    /// Verifies with the `p256` crate's own (slower) arithmetic: the reference the tests
    /// compare [`PublicKey::verify_es256`] against.
    pub fn verify_es256_reference(&self, message: &[u8], signature: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier;
        p256::ecdsa::Signature::from_slice(signature)
            .is_ok_and(|sig| self.key.verify(message, &sig).is_ok())
    }

    /// The RFC 7638 SHA-256 thumbprint, base64url (the full 32 bytes, for display and audit).
    pub fn thumbprint(&self) -> Result<String, CardError> {
        let (x, y) = coordinates(&self.key)?;
        Ok(B64.encode(thumbprint(&x, &y)))
    }

    pub fn to_jwk(&self) -> Result<Jwk, CardError> {
        let (x, y) = coordinates(&self.key)?;
        Ok(Jwk {
            kty: "EC".into(),
            crv: Some("P-256".into()),
            x: Some(B64.encode(x)),
            y: Some(B64.encode(y)),
            kid: Some(self.kid.to_b64()),
            alg: Some("ES256".into()),
            key_use: Some("sig".into()),
        })
    }

    /// Imports an EC P-256 JWK. `alg`, if present, must be ES256; `use`, if present, must be `sig`;
    /// `kid`, if present, must equal the thumbprint-derived id.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, CardError> {
        let bad = |m: &str| CardError::Key(m.to_string());
        if jwk.kty != "EC" || jwk.crv.as_deref() != Some("P-256") {
            return Err(bad("not an EC P-256 key"));
        }
        if jwk.alg.as_deref().is_some_and(|a| a != "ES256") {
            return Err(bad("alg is not ES256"));
        }
        if jwk.key_use.as_deref().is_some_and(|u| u != "sig") {
            return Err(bad("use is not sig"));
        }
        let coord = |c: &Option<String>, name: &str| -> Result<[u8; 32], CardError> {
            let s = c
                .as_deref()
                .ok_or_else(|| bad(&format!("missing {name}")))?;
            let v = B64
                .decode(s)
                .map_err(|_| bad(&format!("{name} is not base64url")))?;
            v.try_into()
                .map_err(|_| bad(&format!("{name} is not 32 bytes")))
        };
        let (x, y) = (coord(&jwk.x, "x")?, coord(&jwk.y, "y")?);
        let mut sec1 = [0u8; 65];
        sec1[0] = 0x04;
        sec1[1..33].copy_from_slice(&x);
        sec1[33..].copy_from_slice(&y);
        let key = VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| bad("point is not on P-256"))?;
        let pk = PublicKey::from_verifying_key(key)?;
        if let Some(kid) = &jwk.kid
            && *kid != pk.kid.to_b64()
        {
            return Err(bad("kid does not match the key's RFC 7638 thumbprint"));
        }
        Ok(pk)
    }
}

/// An issuer's private signing key. Its `Debug` never shows key material.
#[derive(Clone)]
pub struct IssuerKey {
    signing: SigningKey,
    public: PublicKey,
}

impl fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IssuerKey({}, private key redacted)", self.public.kid)
    }
}

impl IssuerKey {
    /// From a 32-byte big-endian P-256 scalar (the caller draws it from a CSPRNG).
    pub fn from_secret_bytes(bytes: &[u8; 32]) -> Result<Self, CardError> {
        let signing = SigningKey::from_slice(bytes)
            .map_err(|_| CardError::Key("secret is not a valid P-256 scalar".into()))?;
        Self::from_signing_key(signing)
    }

    pub fn from_signing_key(signing: SigningKey) -> Result<Self, CardError> {
        let public = PublicKey::from_verifying_key(*signing.verifying_key())?;
        Ok(IssuerKey { signing, public })
    }

    /// From a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, CardError> {
        let signing = SigningKey::from_pkcs8_pem(pem)
            .map_err(|_| CardError::Key("not a PKCS#8 P-256 private key".into()))?;
        Self::from_signing_key(signing)
    }

    /// PKCS#8 PEM of the private key. Handle as a secret.
    pub fn to_pkcs8_pem(&self) -> Result<String, CardError> {
        self.signing
            .to_pkcs8_pem(LineEnding::LF)
            .map(|z| z.to_string())
            .map_err(|_| CardError::Key("cannot encode key".into()))
    }

    pub fn kid(&self) -> Kid {
        self.public.kid
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.signing
    }
}

/// One JSON Web Key (the members Kyukit uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
}

/// A JWK Set (RFC 7517 §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// Largest JWKS document accepted for import.
pub const MAX_JWKS_LEN: usize = 256 * 1024;

/// The public keys a verifier trusts, by key id.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: BTreeMap<Kid, PublicKey>,
}

impl KeySet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, key: PublicKey) {
        self.keys.insert(key.kid, key);
    }

    pub fn get(&self, kid: &Kid) -> Option<&PublicKey> {
        self.keys.get(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &PublicKey> {
        self.keys.values()
    }

    pub fn to_jwks(&self) -> Result<Jwks, CardError> {
        Ok(Jwks {
            keys: self
                .keys
                .values()
                .map(PublicKey::to_jwk)
                .collect::<Result<_, _>>()?,
        })
    }

    /// Imports a JWKS document. Keys of other types (RSA, OKP, other curves) or for other uses are
    /// skipped; a malformed EC P-256 signing key is an error; a set with no usable key is an error.
    pub fn from_jwks_json(json: &[u8]) -> Result<Self, CardError> {
        if json.len() > MAX_JWKS_LEN {
            return Err(CardError::Oversize {
                len: json.len(),
                max: MAX_JWKS_LEN,
            });
        }
        let jwks: Jwks = serde_json::from_slice(json)
            .map_err(|e| CardError::Key(format!("not a JWKS document: {e}")))?;
        let mut set = KeySet::new();
        for jwk in &jwks.keys {
            let ours = jwk.kty == "EC"
                && jwk.crv.as_deref() == Some("P-256")
                && jwk.key_use.as_deref().is_none_or(|u| u == "sig");
            if ours {
                set.insert(PublicKey::from_jwk(jwk)?);
            }
        }
        if set.is_empty() {
            return Err(CardError::Key(
                "the JWKS has no EC P-256 signing key".into(),
            ));
        }
        Ok(set)
    }
}

impl FromIterator<PublicKey> for KeySet {
    fn from_iter<I: IntoIterator<Item = PublicKey>>(iter: I) -> Self {
        let mut s = KeySet::new();
        for k in iter {
            s.insert(k);
        }
        s
    }
}
