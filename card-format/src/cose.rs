//! COSE_Sign1 signing and verification of cards (RFC 9052 §4.2, ES256; claims per RFC 8392).
//!
//! Verification order: size → CBOR structure (tagged COSE_Sign1, canonical bytes) → algorithm →
//! key id → signature → claims (format version first) → expiry. Only bytes that re-encode to
//! themselves are accepted, so a card has exactly one valid byte string.

use crate::CardError;
use crate::claims::{BloodType, CardId, Claims, TriageCore, TriageFlags};
use crate::keys::{IssuerKey, KeySet, Kid};
use ciborium::value::Value;
use coset::cwt::{ClaimName, ClaimsSet, Timestamp};
use coset::iana;
use coset::{
    CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder, RegisteredLabelWithPrivate,
    TaggedCborSerializable,
};
use p256::ecdsa::Signature;
use p256::ecdsa::signature::Signer;
use serde::Serialize;
use subtle::ConstantTimeEq;

/// The card format version this library writes and reads.
pub const FORMAT_VERSION: u64 = 1;
/// Private-use CWT claim (RFC 8392 §9.1: keys below -65536) holding the format version.
pub const CLAIM_VERSION: i64 = -65537;
/// Private-use CWT claim holding the triage core `[abo, rh, flags]`.
pub const CLAIM_TRIAGE: i64 = -65538;
/// No genuine card is anywhere near this size; larger input is refused before parsing.
pub const MAX_COSE_LEN: usize = 512;

/// A card whose signature, key id, version and expiry have been checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedCard {
    pub kid: Kid,
    pub version: u64,
    #[serde(flatten)]
    pub claims: Claims,
}

fn claims_set(claims: &Claims) -> ClaimsSet {
    let mut rest = vec![(
        ClaimName::PrivateUse(CLAIM_VERSION),
        Value::from(FORMAT_VERSION),
    )];
    if let Some(t) = &claims.triage {
        let (abo, rh) = t.blood_type.to_codes();
        let core = vec![
            Value::from(abo),
            Value::from(rh),
            Value::from(t.flags.bits()),
        ];
        rest.push((ClaimName::PrivateUse(CLAIM_TRIAGE), Value::Array(core)));
    }
    ClaimsSet {
        issuer: claims.issuer.clone(),
        expiration_time: Some(Timestamp::WholeSeconds(claims.expires_at)),
        issued_at: claims.issued_at.map(Timestamp::WholeSeconds),
        cwt_id: Some(claims.card_id.0.to_vec()),
        rest,
        ..ClaimsSet::default()
    }
}

/// Signs `claims` with `key`: returns the tagged COSE_Sign1 bytes. ECDSA here is deterministic
/// (RFC 6979), so the same key and claims always give the same bytes.
pub fn sign(claims: &Claims, key: &IssuerKey) -> Result<Vec<u8>, CardError> {
    claims.validate()?;
    sign_set(claims_set(claims), key)
}

/// Signs a CWT claims set as a tagged COSE_Sign1 with only `alg` and `kid` protected (the
/// one message shape of this crate: cards and household stickers).
pub(crate) fn sign_set(set: ClaimsSet, key: &IssuerKey) -> Result<Vec<u8>, CardError> {
    let payload = set
        .to_vec()
        .map_err(|e| CardError::InvalidClaims(e.to_string()))?;
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::ES256)
        .key_id(key.kid().0.to_vec())
        .build();
    let signing = key.signing_key();
    CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(&[], |tbs| {
            let sig: Signature = signing.sign(tbs);
            sig.to_bytes().to_vec()
        })
        .build()
        .to_tagged_vec()
        .map_err(|e| CardError::InvalidClaims(e.to_string()))
}

/// A parsed but not yet verified card. Never act on its claims.
pub(crate) struct Parsed {
    pub(crate) sign1: CoseSign1,
    pub(crate) kid: Kid,
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed, CardError> {
    parse_limited(bytes, MAX_COSE_LEN)
}

/// [`parse`] with another size limit (the trust list is larger than any card).
pub(crate) fn parse_limited(bytes: &[u8], max: usize) -> Result<Parsed, CardError> {
    if bytes.len() > max {
        return Err(CardError::Oversize {
            len: bytes.len(),
            max,
        });
    }
    let sign1 = CoseSign1::from_tagged_slice(bytes)
        .map_err(|e| CardError::malformed(format!("not a tagged COSE_Sign1: {e}")))?;
    let canonical = sign1
        .clone()
        .to_tagged_vec()
        .map_err(|e| CardError::malformed(e.to_string()))?;
    if canonical != bytes {
        return Err(CardError::malformed("non-canonical CBOR encoding"));
    }
    let header = &sign1.protected.header;
    if header.alg
        != Some(coset::RegisteredLabelWithPrivate::Assigned(
            iana::Algorithm::ES256,
        ))
    {
        return Err(CardError::WrongAlgorithm);
    }
    let only_alg_and_kid = header.crit.is_empty()
        && header.content_type.is_none()
        && header.iv.is_empty()
        && header.partial_iv.is_empty()
        && header.counter_signatures.is_empty()
        && header.rest.is_empty();
    if !only_alg_and_kid || !sign1.unprotected.is_empty() {
        return Err(CardError::malformed(
            "headers other than alg and kid are not allowed",
        ));
    }
    let kid = Kid::from_slice(&header.key_id)
        .ok_or_else(|| CardError::malformed("kid must be 8 bytes"))?;
    if sign1.payload.is_none() {
        return Err(CardError::malformed("detached payload"));
    }
    Ok(Parsed { sign1, kid })
}

/// Verifies a card: returns its claims, or why it must not be trusted. `now` is seconds since the
/// Unix epoch, supplied by the caller. Never panics, whatever the input.
pub fn verify(bytes: &[u8], keys: &KeySet, now: i64) -> Result<VerifiedCard, CardError> {
    check(bytes, keys, now, true)
}

/// [`verify`] for the card's issuer, which kept the exact bytes it signed (`issued`: the
/// issuer's own record of the card, looked up by the id the card claims). When `bytes` is
/// byte for byte `issued`, the signature is not recomputed: those bytes are the ones the
/// issuer signed. Everything else is checked as by [`verify`] and in the same order: the
/// structure and algorithm, the key id among `keys` (a key withdrawn from `keys` still
/// refuses its cards), the claims, the expiry. Any other `issued`, or none, is [`verify`]: a
/// changed or unknown card needs a good signature.
///
/// This is sound only if `issued` comes from storage that holds what was signed (the issuing
/// server's database, trusted as much as the signing key); a card presented by anyone is
/// never its own `issued`. The bytes are compared in constant time.
pub fn verify_as_issuer(
    bytes: &[u8],
    keys: &KeySet,
    now: i64,
    issued: Option<&[u8]>,
) -> Result<VerifiedCard, CardError> {
    // In constant time: how much of a presented card matches the kept one is not told by when
    // the answer comes (only the length may be).
    let kept = issued.is_some_and(|kept| bool::from(kept.ct_eq(bytes)));
    check(bytes, keys, now, !kept)
}

fn check(
    bytes: &[u8],
    keys: &KeySet,
    now: i64,
    signature: bool,
) -> Result<VerifiedCard, CardError> {
    let Parsed { sign1, kid } = parse(bytes)?;
    let key = keys
        .get(&kid)
        .ok_or_else(|| CardError::UnknownKid(kid.to_b64()))?;
    if signature {
        sign1.verify_signature(&[], |signature, tbs| {
            if key.verify_es256(tbs, signature) {
                Ok(())
            } else {
                Err(CardError::BadSignature)
            }
        })?;
    }
    let payload = sign1.payload.as_deref().unwrap_or_default();
    let (version, claims) = decode_claims(payload)?;
    if now >= claims.expires_at {
        return Err(CardError::Expired {
            exp: claims.expires_at,
            now,
        });
    }
    Ok(VerifiedCard {
        kid,
        version,
        claims,
    })
}

/// Decodes a card's key id and claims **without verifying anything**. For inspection and for
/// choosing which key set to load; never for trusting the content.
pub fn decode_unverified(bytes: &[u8]) -> Result<(Kid, Claims), CardError> {
    let Parsed { sign1, kid } = parse(bytes)?;
    let (_, claims) = decode_claims(sign1.payload.as_deref().unwrap_or_default())?;
    Ok((kid, claims))
}

pub(crate) fn whole_seconds(t: Timestamp, name: &str) -> Result<i64, CardError> {
    match t {
        Timestamp::WholeSeconds(s) => Ok(s),
        Timestamp::FractionalSeconds(_) => Err(CardError::malformed(format!(
            "{name} must be whole seconds"
        ))),
    }
}

pub(crate) fn uint(v: &Value) -> Option<u64> {
    match v {
        Value::Integer(i) => u64::try_from(*i).ok(),
        _ => None,
    }
}

fn decode_claims(payload: &[u8]) -> Result<(u64, Claims), CardError> {
    let set =
        ClaimsSet::from_slice(payload).map_err(|e| CardError::malformed(format!("claims: {e}")))?;
    let find = |id: i64| {
        set.rest
            .iter()
            .find(|(n, _)| *n == RegisteredLabelWithPrivate::PrivateUse(id))
            .map(|(_, v)| v)
    };
    let version = find(CLAIM_VERSION)
        .ok_or_else(|| CardError::malformed("no format version claim"))
        .and_then(|v| {
            uint(v).ok_or_else(|| CardError::malformed("format version is not an unsigned integer"))
        })?;
    if version != FORMAT_VERSION {
        return Err(CardError::UnsupportedVersion(version));
    }
    let known = |n: &ClaimName| {
        matches!(
            n,
            RegisteredLabelWithPrivate::PrivateUse(CLAIM_VERSION | CLAIM_TRIAGE)
        )
    };
    if set.subject.is_some()
        || set.audience.is_some()
        || set.not_before.is_some()
        || !set.rest.iter().all(|(n, _)| known(n))
    {
        return Err(CardError::malformed("unexpected claim"));
    }
    let card_id = set
        .cwt_id
        .as_deref()
        .and_then(|c| <[u8; 16]>::try_from(c).ok())
        .map(CardId)
        .ok_or_else(|| CardError::malformed("cti must be 16 bytes"))?;
    let expires_at = whole_seconds(
        set.expiration_time
            .ok_or_else(|| CardError::malformed("no exp claim"))?,
        "exp",
    )?;
    let issued_at = set.issued_at.map(|t| whole_seconds(t, "iat")).transpose()?;
    let triage = find(CLAIM_TRIAGE).map(decode_triage).transpose()?;
    let claims = Claims {
        card_id,
        issuer: set.issuer,
        issued_at,
        expires_at,
        triage,
    };
    claims
        .validate()
        .map_err(|e| CardError::malformed(e.to_string()))?;
    Ok((version, claims))
}

fn decode_triage(v: &Value) -> Result<TriageCore, CardError> {
    let bad = || CardError::malformed("triage core must be [abo, rh, flags] with known codes");
    let Value::Array(items) = v else {
        return Err(bad());
    };
    let [abo, rh, flags] = items.as_slice() else {
        return Err(bad());
    };
    let blood_type = BloodType::from_codes(uint(abo).ok_or_else(bad)?, uint(rh).ok_or_else(bad)?)
        .ok_or_else(bad)?;
    let flags = TriageFlags::from_bits(uint(flags).ok_or_else(bad)?).ok_or_else(bad)?;
    Ok(TriageCore { blood_type, flags })
}
