//! The signed trust list (issue 22): the issuers a field device trusts offline, signed by the
//! deployment's trust-list key — in the spirit of the EU DCC gateway's signed trust lists and the
//! SMART Health Cards issuer directory, in this crate's own message shape.
//!
//! A trust list is a tagged COSE_Sign1 (RFC 9052, ES256, only `alg` and `kid` protected; the
//! `kid` is the trust-list key's) over a CWT-like claims map (RFC 8392): `iss` the deployment id,
//! `iat`, `exp`, the format version, a **kind** claim (2: trust list, so it is never taken for a
//! card or a household sticker), the list's own version (a counter that only grows), the
//! deployment (names, base URL, its server keys, its default issuer) and the issuers (names,
//! card URL base, keys as COSE_Key with a status, revocation-list URL, serving deployment).
//! `docs/card-format.md` §10 has the byte layout and a test vector.
//!
//! [`verify_trust_list`] checks a list against the pinned trust-list key and the time;
//! [`verify_with_trust_list`] verifies a card against a verified list: unknown issuer, unknown
//! key and compromised key are distinct refusals. [`check_not_older`] refuses a rollback.

use crate::CardError;
use crate::cose::{
    CLAIM_VERSION, FORMAT_VERSION, VerifiedCard, parse_limited, sign_set, uint, whole_seconds,
};
use crate::household::CLAIM_KIND;
use crate::keys::{IssuerKey, KeySet, Kid, PublicKey};
use ciborium::value::{Integer, Value};
use coset::cwt::{ClaimName, ClaimsSet, Timestamp};
use coset::{CborSerializable, RegisteredLabelWithPrivate};
use serde::Serialize;
use thiserror::Error;

/// The kind claim's value on a trust list.
pub const KIND_TRUST_LIST: u64 = 2;
/// Private-use claim: the list's version (an unsigned counter; a newer list has a larger one).
pub const CLAIM_LIST_VERSION: i64 = -65540;
/// Private-use claim: the deployment that signs the list.
pub const CLAIM_DEPLOYMENT: i64 = -65541;
/// Private-use claim: the issuers.
pub const CLAIM_ISSUERS: i64 = -65542;
/// Larger input is refused before parsing.
pub const MAX_TRUST_LIST_LEN: usize = 64 * 1024;
/// Longest text field (names, ids, URLs), in bytes.
pub const MAX_TEXT_LEN: usize = 512;

/// Why a trust list, or a card checked against one, is refused. One line, safe to show.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TrustError {
    #[error("not a valid trust list: {0}")]
    Malformed(String),
    #[error("the trust list is signed by key {0}, not by the pinned trust-list key")]
    UnknownSigner(String),
    #[error("bad signature: the trust list was altered or not signed by the deployment")]
    BadSignature,
    #[error("the trust list expired at {exp} (now {now}, seconds since 1970-01-01T00:00:00Z)")]
    Expired { exp: i64, now: i64 },
    #[error("unsupported trust list format version {0}")]
    UnsupportedVersion(u64),
    #[error(
        "trust list version {offered} is older than the version {cached} already held (rollback)"
    )]
    Rollback { cached: u64, offered: u64 },
    #[error("issuer {0} is not in the trust list")]
    UnknownIssuer(String),
    #[error("key {kid} is not a key of issuer {issuer} in the trust list")]
    UnknownKey { issuer: String, kid: String },
    #[error("key {kid} of issuer {issuer} is marked compromised in the trust list")]
    CompromisedKey { issuer: String, kid: String },
    #[error(transparent)]
    Card(#[from] CardError),
}

impl TrustError {
    /// A stable code (for JSON and the clients' messages).
    pub fn code(&self) -> &'static str {
        match self {
            TrustError::Malformed(_) => "trust_list_malformed",
            TrustError::UnknownSigner(_) => "trust_list_unknown_signer",
            TrustError::BadSignature => "trust_list_bad_signature",
            TrustError::Expired { .. } => "trust_list_expired",
            TrustError::UnsupportedVersion(_) => "trust_list_unsupported_version",
            TrustError::Rollback { .. } => "trust_list_rollback",
            TrustError::UnknownIssuer(_) => "unknown_issuer",
            TrustError::UnknownKey { .. } => "unknown_issuer_key",
            TrustError::CompromisedKey { .. } => "compromised_key",
            TrustError::Card(_) => "card_refused",
        }
    }

    fn malformed(what: impl Into<String>) -> Self {
        TrustError::Malformed(what.into())
    }
}

/// An issuer key's status in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Signs new cards.
    Active,
    /// No longer signs; the cards it signed still verify until they expire.
    Retired,
    /// Withdrawn: no card it signed verifies.
    Compromised,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Retired => "retired",
            KeyState::Compromised => "compromised",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(KeyState::Active),
            "retired" => Some(KeyState::Retired),
            "compromised" => Some(KeyState::Compromised),
            _ => None,
        }
    }
}

/// One key of an issuer with its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    pub key: PublicKey,
    pub status: KeyState,
}

/// An issuer: a municipality whose cards a device trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustedIssuer {
    /// As in the cards' `iss` claim, e.g. `jp-082163`.
    pub id: String,
    pub name_ja: String,
    pub name_en: String,
    /// The card URL base (`https://…/c/`).
    pub card_base: String,
    #[serde(serialize_with = "ser_trusted_keys")]
    pub keys: Vec<TrustedKey>,
    /// Where the issuer's revocation list is.
    pub revocation_url: String,
    /// The id of the deployment that serves this issuer.
    pub deployment: String,
}

/// The deployment that signs the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployment {
    pub id: String,
    pub name_ja: String,
    pub name_en: String,
    pub base_url: String,
    /// Its server-to-server keys (RFC 9421; federation), possibly none.
    #[serde(serialize_with = "ser_keys")]
    pub server_keys: Vec<PublicKey>,
    /// The issuer of this deployment's cards that carry no `iss` claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_issuer: Option<String>,
}

/// A trust list (verified, or about to be signed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustList {
    /// Grows with every change of content; a device refuses a smaller one than it holds.
    pub version: u64,
    pub issued_at: i64,
    pub expires_at: i64,
    pub deployment: Deployment,
    pub issuers: Vec<TrustedIssuer>,
}

/// A trust list whose signature, signer, format and expiry have been checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedTrustList {
    /// The key id of the trust-list key that signed it.
    pub signer: Kid,
    #[serde(flatten)]
    pub list: TrustList,
}

fn jwk_value<S: serde::Serializer>(k: &PublicKey) -> Result<crate::Jwk, S::Error> {
    k.to_jwk().map_err(serde::ser::Error::custom)
}

fn ser_keys<S: serde::Serializer>(keys: &[PublicKey], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(keys.len()))?;
    for k in keys {
        seq.serialize_element(&jwk_value::<S>(k)?)?;
    }
    seq.end()
}

fn ser_trusted_keys<S: serde::Serializer>(keys: &[TrustedKey], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    #[derive(Serialize)]
    struct K {
        #[serde(flatten)]
        jwk: crate::Jwk,
        status: KeyState,
    }
    let mut seq = s.serialize_seq(Some(keys.len()))?;
    for k in keys {
        seq.serialize_element(&K {
            jwk: jwk_value::<S>(&k.key)?,
            status: k.status,
        })?;
    }
    seq.end()
}

impl TrustList {
    /// The issuer with this id.
    pub fn issuer(&self, id: &str) -> Option<&TrustedIssuer> {
        self.issuers.iter().find(|i| i.id == id)
    }

    fn validate(&self) -> Result<(), String> {
        let text = |name: &str, s: &str| {
            if s.is_empty() || s.len() > MAX_TEXT_LEN || s.chars().any(char::is_control) {
                Err(format!(
                    "{name} must be 1–{MAX_TEXT_LEN} bytes without control characters"
                ))
            } else {
                Ok(())
            }
        };
        let d = &self.deployment;
        text("deployment id", &d.id)?;
        text("deployment name_ja", &d.name_ja)?;
        text("deployment name_en", &d.name_en)?;
        text("deployment base_url", &d.base_url)?;
        if let Some(i) = &d.default_issuer {
            text("default issuer", i)?;
            if self.issuer(i).is_none() {
                return Err("the default issuer is not in the list".into());
            }
        }
        for (n, i) in self.issuers.iter().enumerate() {
            text("issuer id", &i.id)?;
            text("issuer name_ja", &i.name_ja)?;
            text("issuer name_en", &i.name_en)?;
            text("issuer card_base", &i.card_base)?;
            text("issuer revocation_url", &i.revocation_url)?;
            text("issuer deployment", &i.deployment)?;
            if self.issuers[..n].iter().any(|o| o.id == i.id) {
                return Err(format!("issuer {} listed twice", i.id));
            }
            for (m, k) in i.keys.iter().enumerate() {
                if i.keys[..m].iter().any(|o| o.key.kid() == k.key.kid()) {
                    return Err(format!("key {} listed twice for {}", k.key.kid(), i.id));
                }
            }
        }
        if self.issued_at < 0 || self.expires_at <= self.issued_at {
            return Err("need 0 ≤ iat < exp".into());
        }
        Ok(())
    }
}

fn int(i: i64) -> Value {
    Value::Integer(Integer::from(i))
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// A P-256 public key as a COSE_Key (RFC 9052 §7, RFC 9053 §7.1.1): `{1: 2 (EC2), 2: kid,
/// 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}`, in that order.
fn cose_key(k: &PublicKey) -> Value {
    let sec1 = k.sec1();
    Value::Map(vec![
        (int(1), int(2)),
        (int(2), Value::Bytes(k.kid().0.to_vec())),
        (int(3), int(-7)),
        (int(-1), int(1)),
        (int(-2), Value::Bytes(sec1[1..33].to_vec())),
        (int(-3), Value::Bytes(sec1[33..].to_vec())),
    ])
}

fn parse_cose_key(v: &Value) -> Result<PublicKey, TrustError> {
    let bad =
        || TrustError::malformed("a key must be a COSE_Key {1:2, 2:kid, 3:-7, -1:1, -2:x, -3:y}");
    let Value::Map(entries) = v else {
        return Err(bad());
    };
    let [(k1, kty), (k2, kid), (k3, alg), (k4, crv), (k5, x), (k6, y)] = entries.as_slice() else {
        return Err(bad());
    };
    let labels = [k1, k2, k3, k4, k5, k6].map(as_i64);
    if labels != [Some(1), Some(2), Some(3), Some(-1), Some(-2), Some(-3)]
        || as_i64(kty) != Some(2)
        || as_i64(alg) != Some(-7)
        || as_i64(crv) != Some(1)
    {
        return Err(bad());
    }
    let (Value::Bytes(kid), Value::Bytes(x), Value::Bytes(y)) = (kid, x, y) else {
        return Err(bad());
    };
    if x.len() != 32 || y.len() != 32 {
        return Err(bad());
    }
    let mut sec1 = [0u8; 65];
    sec1[0] = 0x04;
    sec1[1..33].copy_from_slice(x);
    sec1[33..].copy_from_slice(y);
    let key = PublicKey::from_sec1(&sec1).map_err(|e| TrustError::malformed(e.to_string()))?;
    if key.kid().0.as_slice() != kid.as_slice() {
        return Err(TrustError::malformed(
            "a key's kid does not match its RFC 7638 thumbprint",
        ));
    }
    Ok(key)
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => i64::try_from(*i).ok(),
        _ => None,
    }
}

/// The fields of a map with small integer labels, in strictly ascending label order, each label
/// one of `allowed`.
fn fields<'a>(
    v: &'a Value,
    what: &str,
    allowed: &[i64],
) -> Result<Vec<(i64, &'a Value)>, TrustError> {
    let Value::Map(entries) = v else {
        return Err(TrustError::malformed(format!("{what} must be a map")));
    };
    let mut out: Vec<(i64, &Value)> = Vec::with_capacity(entries.len());
    for (k, val) in entries {
        let label = as_i64(k)
            .filter(|l| allowed.contains(l))
            .ok_or_else(|| TrustError::malformed(format!("{what}: unexpected label")))?;
        if out.last().is_some_and(|(prev, _)| *prev >= label) {
            return Err(TrustError::malformed(format!(
                "{what}: labels must be in ascending order, each once"
            )));
        }
        out.push((label, val));
    }
    Ok(out)
}

fn get<'a>(f: &[(i64, &'a Value)], label: i64) -> Option<&'a Value> {
    f.iter().find(|(l, _)| *l == label).map(|(_, v)| *v)
}

fn req_text(f: &[(i64, &Value)], label: i64, what: &str) -> Result<String, TrustError> {
    match get(f, label) {
        Some(Value::Text(s)) => Ok(s.clone()),
        _ => Err(TrustError::malformed(format!(
            "{what} must be a text string"
        ))),
    }
}

fn deployment_value(d: &Deployment) -> Value {
    let mut m = vec![
        (int(1), text(&d.id)),
        (int(2), text(&d.name_ja)),
        (int(3), text(&d.name_en)),
        (int(4), text(&d.base_url)),
        (
            int(5),
            Value::Array(d.server_keys.iter().map(cose_key).collect()),
        ),
    ];
    if let Some(i) = &d.default_issuer {
        m.push((int(6), text(i)));
    }
    Value::Map(m)
}

fn issuer_value(i: &TrustedIssuer) -> Value {
    let keys = i
        .keys
        .iter()
        .map(|k| Value::Array(vec![cose_key(&k.key), text(k.status.as_str())]))
        .collect();
    Value::Map(vec![
        (int(1), text(&i.id)),
        (int(2), text(&i.name_ja)),
        (int(3), text(&i.name_en)),
        (int(4), text(&i.card_base)),
        (int(5), Value::Array(keys)),
        (int(6), text(&i.revocation_url)),
        (int(7), text(&i.deployment)),
    ])
}

fn parse_deployment(v: &Value) -> Result<Deployment, TrustError> {
    let f = fields(v, "deployment", &[1, 2, 3, 4, 5, 6])?;
    let Some(Value::Array(keys)) = get(&f, 5) else {
        return Err(TrustError::malformed("deployment keys must be an array"));
    };
    let default_issuer = match get(&f, 6) {
        None => None,
        Some(Value::Text(s)) => Some(s.clone()),
        Some(_) => return Err(TrustError::malformed("default issuer must be text")),
    };
    Ok(Deployment {
        id: req_text(&f, 1, "deployment id")?,
        name_ja: req_text(&f, 2, "deployment name_ja")?,
        name_en: req_text(&f, 3, "deployment name_en")?,
        base_url: req_text(&f, 4, "deployment base_url")?,
        server_keys: keys.iter().map(parse_cose_key).collect::<Result<_, _>>()?,
        default_issuer,
    })
}

fn parse_issuer(v: &Value) -> Result<TrustedIssuer, TrustError> {
    let f = fields(v, "issuer", &[1, 2, 3, 4, 5, 6, 7])?;
    if f.len() != 7 {
        return Err(TrustError::malformed("an issuer has exactly labels 1–7"));
    }
    let Some(Value::Array(keys)) = get(&f, 5) else {
        return Err(TrustError::malformed("issuer keys must be an array"));
    };
    let keys = keys
        .iter()
        .map(|k| {
            let bad = || TrustError::malformed("an issuer key must be [COSE_Key, status]");
            let Value::Array(pair) = k else {
                return Err(bad());
            };
            let [key, Value::Text(status)] = pair.as_slice() else {
                return Err(bad());
            };
            Ok(TrustedKey {
                key: parse_cose_key(key)?,
                status: KeyState::parse(status)
                    .ok_or_else(|| TrustError::malformed("unknown key status"))?,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(TrustedIssuer {
        id: req_text(&f, 1, "issuer id")?,
        name_ja: req_text(&f, 2, "issuer name_ja")?,
        name_en: req_text(&f, 3, "issuer name_en")?,
        card_base: req_text(&f, 4, "issuer card_base")?,
        keys,
        revocation_url: req_text(&f, 6, "issuer revocation_url")?,
        deployment: req_text(&f, 7, "issuer deployment")?,
    })
}

/// Signs a trust list with the deployment's trust-list key: the tagged COSE_Sign1 bytes
/// (deterministic ECDSA, RFC 6979: the same key and list give the same bytes).
pub fn sign_trust_list(list: &TrustList, key: &IssuerKey) -> Result<Vec<u8>, CardError> {
    list.validate().map_err(CardError::InvalidClaims)?;
    let set = ClaimsSet {
        issuer: Some(list.deployment.id.clone()),
        expiration_time: Some(Timestamp::WholeSeconds(list.expires_at)),
        issued_at: Some(Timestamp::WholeSeconds(list.issued_at)),
        rest: vec![
            (
                ClaimName::PrivateUse(CLAIM_VERSION),
                Value::from(FORMAT_VERSION),
            ),
            (
                ClaimName::PrivateUse(CLAIM_KIND),
                Value::from(KIND_TRUST_LIST),
            ),
            (
                ClaimName::PrivateUse(CLAIM_LIST_VERSION),
                Value::from(list.version),
            ),
            (
                ClaimName::PrivateUse(CLAIM_DEPLOYMENT),
                deployment_value(&list.deployment),
            ),
            (
                ClaimName::PrivateUse(CLAIM_ISSUERS),
                Value::Array(list.issuers.iter().map(issuer_value).collect()),
            ),
        ],
        ..ClaimsSet::default()
    };
    let bytes = sign_set(set, key)?;
    if bytes.len() > MAX_TRUST_LIST_LEN {
        return Err(CardError::Oversize {
            len: bytes.len(),
            max: MAX_TRUST_LIST_LEN,
        });
    }
    Ok(bytes)
}

fn from_card_error(e: CardError) -> TrustError {
    match e {
        CardError::Malformed(m) => TrustError::Malformed(m),
        CardError::WrongAlgorithm => TrustError::malformed("wrong algorithm: only ES256 (-7)"),
        CardError::Oversize { len, max } => {
            TrustError::malformed(format!("{len} bytes (limit {max})"))
        }
        other => TrustError::Malformed(other.to_string()),
    }
}

/// Verifies a trust list: size, structure (tagged COSE_Sign1, canonical CBOR, ES256, only `alg`
/// and `kid`), signer (the `kid` must be `trust_key`'s), signature, then the claims (format
/// version first, kind 2, every field), then the expiry against `now`. Never panics.
pub fn verify_trust_list(
    bytes: &[u8],
    trust_key: &PublicKey,
    now: i64,
) -> Result<VerifiedTrustList, TrustError> {
    let parsed = parse_limited(bytes, MAX_TRUST_LIST_LEN).map_err(from_card_error)?;
    if parsed.kid != trust_key.kid() {
        return Err(TrustError::UnknownSigner(parsed.kid.to_b64()));
    }
    parsed.sign1.verify_signature(&[], |signature, tbs| {
        if trust_key.verify_es256(tbs, signature) {
            Ok(())
        } else {
            Err(TrustError::BadSignature)
        }
    })?;
    let list = decode(parsed.sign1.payload.as_deref().unwrap_or_default())?;
    if now >= list.expires_at {
        return Err(TrustError::Expired {
            exp: list.expires_at,
            now,
        });
    }
    Ok(VerifiedTrustList {
        signer: parsed.kid,
        list,
    })
}

/// Decodes a trust list **without verifying anything** (inspection, and reading the version of
/// a cached list that was verified when it was stored).
pub fn decode_trust_list_unverified(bytes: &[u8]) -> Result<(Kid, TrustList), TrustError> {
    let parsed = parse_limited(bytes, MAX_TRUST_LIST_LEN).map_err(from_card_error)?;
    let list = decode(parsed.sign1.payload.as_deref().unwrap_or_default())?;
    Ok((parsed.kid, list))
}

fn decode(payload: &[u8]) -> Result<TrustList, TrustError> {
    let set = ClaimsSet::from_slice(payload)
        .map_err(|e| TrustError::malformed(format!("claims: {e}")))?;
    if set.clone().to_vec().ok().as_deref() != Some(payload) {
        return Err(TrustError::malformed("non-canonical claims encoding"));
    }
    let find = |id: i64| {
        set.rest
            .iter()
            .find(|(n, _)| *n == RegisteredLabelWithPrivate::PrivateUse(id))
            .map(|(_, v)| v)
    };
    let version = find(CLAIM_VERSION)
        .and_then(uint)
        .ok_or_else(|| TrustError::malformed("no format version claim"))?;
    if version != FORMAT_VERSION {
        return Err(TrustError::UnsupportedVersion(version));
    }
    if find(CLAIM_KIND).and_then(uint) != Some(KIND_TRUST_LIST) {
        return Err(TrustError::malformed("not a trust list (kind claim)"));
    }
    let order: Vec<_> = set.rest.iter().map(|(n, _)| n.clone()).collect();
    let expected = [
        CLAIM_VERSION,
        CLAIM_KIND,
        CLAIM_LIST_VERSION,
        CLAIM_DEPLOYMENT,
        CLAIM_ISSUERS,
    ]
    .map(RegisteredLabelWithPrivate::PrivateUse);
    if set.subject.is_some()
        || set.audience.is_some()
        || set.not_before.is_some()
        || set.cwt_id.is_some()
        || order != expected
    {
        return Err(TrustError::malformed("unexpected or missing claim"));
    }
    let seconds = |t: Option<Timestamp>, name: &str| {
        whole_seconds(
            t.ok_or_else(|| TrustError::malformed(format!("no {name} claim")))?,
            name,
        )
        .map_err(from_card_error)
    };
    let list_version = find(CLAIM_LIST_VERSION)
        .and_then(uint)
        .ok_or_else(|| TrustError::malformed("list version must be an unsigned integer"))?;
    let deployment = parse_deployment(find(CLAIM_DEPLOYMENT).unwrap_or(&Value::Null))?;
    let Some(Value::Array(issuers)) = find(CLAIM_ISSUERS) else {
        return Err(TrustError::malformed("issuers must be an array"));
    };
    let list = TrustList {
        version: list_version,
        issued_at: seconds(set.issued_at.clone(), "iat")?,
        expires_at: seconds(set.expiration_time.clone(), "exp")?,
        issuers: issuers.iter().map(parse_issuer).collect::<Result<_, _>>()?,
        deployment,
    };
    if set.issuer.as_deref() != Some(list.deployment.id.as_str()) {
        return Err(TrustError::malformed("iss must be the deployment id"));
    }
    list.validate().map_err(TrustError::Malformed)?;
    Ok(list)
}

/// Refuses a rollback: `offered` must not be older than the list already held. The same version
/// is accepted (the deployment re-signs an unchanged list with a later expiry).
pub fn check_not_older(held: Option<&TrustList>, offered: &TrustList) -> Result<(), TrustError> {
    match held {
        Some(h) if offered.version < h.version => Err(TrustError::Rollback {
            cached: h.version,
            offered: offered.version,
        }),
        _ => Ok(()),
    }
}

/// Verifies a card against a verified trust list, offline: the issuer is the card's `iss` (or,
/// without one, the default issuer if it holds the card's key, else the listed issuer that does,
/// else the default issuer) and must be listed; the card's `kid` must be a
/// key of that issuer, and not compromised (retired keys still verify); then the card is
/// verified with that one key ([`crate::verify`]: signature, claims, expiry).
pub fn verify_with_trust_list(
    card: &[u8],
    list: &TrustList,
    now: i64,
) -> Result<VerifiedCard, TrustError> {
    let (kid, claims) = crate::decode_unverified(card)?;
    // A card without `iss` (Kyukit's cards carry none, to stay small) is the default issuer's
    // when that issuer holds its key; else the issuer listed with that key — a peer
    // deployment's municipality (federation: docs/federation.md), whose cards name no issuer
    // either. A kid is a 64-bit thumbprint prefix: one issuer holds it.
    let by_kid = || {
        let default = list
            .deployment
            .default_issuer
            .as_deref()
            .and_then(|d| list.issuer(d));
        default
            .filter(|i| i.keys.iter().any(|k| k.key.kid() == kid))
            .or_else(|| {
                list.issuers
                    .iter()
                    .find(|i| i.keys.iter().any(|k| k.key.kid() == kid))
            })
            .or(default)
    };
    let issuer = match claims.issuer.as_deref() {
        Some(iss) => list
            .issuer(iss)
            .ok_or_else(|| TrustError::UnknownIssuer(iss.to_string()))?,
        None => by_kid()
            .ok_or_else(|| TrustError::UnknownIssuer("(none: the card names no issuer)".into()))?,
    };
    let key = issuer
        .keys
        .iter()
        .find(|k| k.key.kid() == kid)
        .ok_or_else(|| TrustError::UnknownKey {
            issuer: issuer.id.clone(),
            kid: kid.to_b64(),
        })?;
    if key.status == KeyState::Compromised {
        return Err(TrustError::CompromisedKey {
            issuer: issuer.id.clone(),
            kid: kid.to_b64(),
        });
    }
    let keys: KeySet = std::iter::once(key.key.clone()).collect();
    Ok(crate::verify(card, &keys, now)?)
}

#[cfg(test)]
#[path = "trust_tests.rs"]
mod tests;
