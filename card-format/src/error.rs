//! The one error type of the card crate: why a card could not be built, decoded or trusted.

use thiserror::Error;

/// Why a card was refused or could not be produced. Messages are one line, safe to show to a user,
/// and never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CardError {
    /// The input is larger than any genuine card encoding can be.
    #[error("input too large: {len} bytes (limit {max})")]
    Oversize { len: usize, max: usize },
    /// The bytes are not a well-formed Kyukit card (bad CBOR, wrong structure, non-canonical, ...).
    #[error("malformed card: {0}")]
    Malformed(String),
    /// The protected header names an algorithm other than ES256, or none.
    #[error("wrong algorithm: only ES256 (-7) is accepted")]
    WrongAlgorithm,
    /// No trusted key has this key id.
    #[error("unknown key id {0}")]
    UnknownKid(String),
    /// The signature does not verify under the key named by the kid.
    #[error("bad signature: the card was altered or not signed by the issuer")]
    BadSignature,
    /// The card's `exp` is at or before `now`.
    #[error("card expired at {exp} (now {now}, seconds since 1970-01-01T00:00:00Z)")]
    Expired { exp: i64, now: i64 },
    /// The card declares a format version this library does not understand.
    #[error("unsupported card format version {0}")]
    UnsupportedVersion(u64),
    /// A URL, QR or NDEF wrapper is not a card encoding.
    #[error("not a card encoding: {0}")]
    Encoding(String),
    /// A key or key set could not be parsed or is not an ES256 P-256 key.
    #[error("bad key: {0}")]
    Key(String),
    /// The claims cannot be encoded (e.g. an issuer string too long).
    #[error("invalid claims: {0}")]
    InvalidClaims(String),
}

impl CardError {
    pub(crate) fn malformed(what: impl Into<String>) -> Self {
        CardError::Malformed(what.into())
    }
    pub(crate) fn encoding(what: impl Into<String>) -> Self {
        CardError::Encoding(what.into())
    }
}
