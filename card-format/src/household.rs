//! The household sticker (玄関ステッカー, issue 27): one QR code or NFC tag at a home's entrance that
//! points to the cards of the people who live there. It is a signed pointer in the card's own
//! style — a COSE_Sign1 (ES256, `alg` and `kid` only) over CWT claims — and carries no personal
//! data: a random household id (128 bits), the issuer, when it was issued, the format version
//! and a **kind** claim saying "household sticker". Who lives there is on the server only, given
//! to an authenticated paramedic device (and only the members who consented).
//!
//! It can never be taken for a person's card: a card verifier refuses it (the kind claim is a
//! claim no card may carry, and a sticker has no `exp`), and [`verify_household`] refuses a card
//! (no kind claim). Its URL has its own path (`…/h/<digits>`, [`household_base`]).

use crate::CardError;
use crate::claims::{CardId, MAX_ISSUER_LEN};
use crate::cose::{CLAIM_VERSION, FORMAT_VERSION, parse, sign_set, uint, whole_seconds};
use crate::keys::{IssuerKey, KeySet, Kid};
use ciborium::value::Value;
use coset::CborSerializable;
use coset::RegisteredLabelWithPrivate;
use coset::cwt::{ClaimName, ClaimsSet, Timestamp};
use serde::Serialize;

/// Private-use CWT claim naming what a signed pointer is; absent on a person's card.
pub const CLAIM_KIND: i64 = -65539;
/// The kind claim's value on a household sticker.
pub const KIND_HOUSEHOLD: u64 = 1;

/// What a household sticker says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HouseholdClaims {
    /// CWT `cti`: the household id, 128 random bits chosen by the issuer.
    #[serde(rename = "household_id")]
    pub household_id: CardId,
    /// CWT `iss`, optional: the issuer's identifier (e.g. the municipality), never a person.
    #[serde(rename = "iss", skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// CWT `iat`: when the sticker was issued, seconds since the Unix epoch.
    #[serde(rename = "iat")]
    pub issued_at: i64,
}

/// A sticker whose signature, key id, version and kind have been checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedHousehold {
    pub kid: Kid,
    #[serde(flatten)]
    pub claims: HouseholdClaims,
}

fn valid_issuer(iss: &str) -> bool {
    !iss.is_empty()
        && iss.len() <= MAX_ISSUER_LEN
        && iss
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:/".contains(&b))
}

fn validate(c: &HouseholdClaims) -> Result<(), CardError> {
    if c.issuer.as_deref().is_some_and(|i| !valid_issuer(i)) {
        return Err(CardError::InvalidClaims(format!(
            "iss must be 1–{MAX_ISSUER_LEN} characters of [A-Za-z0-9-._:/]"
        )));
    }
    if c.issued_at < 0 {
        return Err(CardError::InvalidClaims("need iat ≥ 0".into()));
    }
    Ok(())
}

/// Signs a household sticker: the tagged COSE_Sign1 bytes (deterministic, RFC 6979).
pub fn sign_household(claims: &HouseholdClaims, key: &IssuerKey) -> Result<Vec<u8>, CardError> {
    validate(claims)?;
    let set = ClaimsSet {
        issuer: claims.issuer.clone(),
        issued_at: Some(Timestamp::WholeSeconds(claims.issued_at)),
        cwt_id: Some(claims.household_id.0.to_vec()),
        rest: vec![
            (
                ClaimName::PrivateUse(CLAIM_VERSION),
                Value::from(FORMAT_VERSION),
            ),
            (
                ClaimName::PrivateUse(CLAIM_KIND),
                Value::from(KIND_HOUSEHOLD),
            ),
        ],
        ..ClaimsSet::default()
    };
    sign_set(set, key)
}

/// Verifies a household sticker: the same structure, algorithm, key id and signature checks as
/// a card ([`crate::verify`], `card-format.md` §3 steps 1–5), then its claims: format version 1,
/// kind [`KIND_HOUSEHOLD`], a 16-byte `cti`, an `iat`, an optional `iss`, and nothing else (no
/// `exp`: a sticker does not expire, the issuer revokes it). A person's card is `Malformed` here.
pub fn verify_household(bytes: &[u8], keys: &KeySet) -> Result<VerifiedHousehold, CardError> {
    let parsed = parse(bytes)?;
    let key = keys
        .get(&parsed.kid)
        .ok_or_else(|| CardError::UnknownKid(parsed.kid.to_b64()))?;
    parsed.sign1.verify_signature(&[], |signature, tbs| {
        if key.verify_es256(tbs, signature) {
            Ok(())
        } else {
            Err(CardError::BadSignature)
        }
    })?;
    let claims = decode(parsed.sign1.payload.as_deref().unwrap_or_default())?;
    Ok(VerifiedHousehold {
        kid: parsed.kid,
        claims,
    })
}

/// Decodes a sticker's claims **without verifying anything** (inspection only).
pub fn decode_household_unverified(bytes: &[u8]) -> Result<(Kid, HouseholdClaims), CardError> {
    let parsed = parse(bytes)?;
    let claims = decode(parsed.sign1.payload.as_deref().unwrap_or_default())?;
    Ok((parsed.kid, claims))
}

fn decode(payload: &[u8]) -> Result<HouseholdClaims, CardError> {
    let set =
        ClaimsSet::from_slice(payload).map_err(|e| CardError::malformed(format!("claims: {e}")))?;
    let find = |id: i64| {
        set.rest
            .iter()
            .find(|(n, _)| *n == RegisteredLabelWithPrivate::PrivateUse(id))
            .map(|(_, v)| v)
    };
    let version = find(CLAIM_VERSION)
        .and_then(uint)
        .ok_or_else(|| CardError::malformed("no format version claim"))?;
    if version != FORMAT_VERSION {
        return Err(CardError::UnsupportedVersion(version));
    }
    if find(CLAIM_KIND).and_then(uint) != Some(KIND_HOUSEHOLD) {
        return Err(CardError::malformed("not a household sticker (kind claim)"));
    }
    let known = |n: &ClaimName| {
        matches!(
            n,
            RegisteredLabelWithPrivate::PrivateUse(CLAIM_VERSION | CLAIM_KIND)
        )
    };
    if set.subject.is_some()
        || set.audience.is_some()
        || set.not_before.is_some()
        || set.expiration_time.is_some()
        || set.rest.len() != 2
        || !set.rest.iter().all(|(n, _)| known(n))
    {
        return Err(CardError::malformed(
            "unexpected claim on a household sticker",
        ));
    }
    let household_id = set
        .cwt_id
        .as_deref()
        .and_then(|c| <[u8; 16]>::try_from(c).ok())
        .map(CardId)
        .ok_or_else(|| CardError::malformed("cti must be 16 bytes"))?;
    let issued_at = whole_seconds(
        set.issued_at
            .ok_or_else(|| CardError::malformed("no iat claim"))?,
        "iat",
    )?;
    let claims = HouseholdClaims {
        household_id,
        issuer: set.issuer,
        issued_at,
    };
    validate(&claims).map_err(|e| CardError::malformed(e.to_string()))?;
    Ok(claims)
}

/// The household sticker base for a card base: its last path segment `c/` becomes `h/`
/// (`https://qq.city.joso.lg.jp/c/` → `https://qq.city.joso.lg.jp/h/`), then
/// [`crate::canonical_base`] (upper case when that fits the QR alphanumeric set).
pub fn household_base(card_base: &str) -> Result<String, CardError> {
    let base = crate::canonical_base(card_base)?;
    let stem = base
        .strip_suffix("c/")
        .or_else(|| base.strip_suffix("C/"))
        .ok_or_else(|| CardError::encoding("card base URL must end with c/"))?;
    let upper = base.ends_with("C/");
    Ok(format!("{stem}{}", if upper { "H/" } else { "h/" }))
}

/// The sticker's URL: the household base and the sticker as decimal digits (as for cards).
pub fn household_url(card_base: &str, cose: &[u8]) -> Result<String, CardError> {
    Ok(household_base(card_base)? + &crate::bytes_to_digits(cose))
}

/// Reads the sticker bytes out of a household URL: https, and a last-but-one path segment `h`
/// (either case). Which hosts to accept is the caller's policy.
pub fn parse_household_url(url: &str) -> Result<Vec<u8>, CardError> {
    let parsed = crate::parse_card_url(url)?;
    let seg = parsed
        .base
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    if !seg.eq_ignore_ascii_case("h") {
        return Err(CardError::encoding("not a household sticker URL (…/h/…)"));
    }
    Ok(parsed.cose)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> IssuerKey {
        let d = hex::decode("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721")
            .unwrap();
        IssuerKey::from_secret_bytes(&d.try_into().unwrap()).unwrap()
    }

    fn sticker() -> HouseholdClaims {
        HouseholdClaims {
            household_id: CardId([0x48; 16]),
            issuer: Some("jp-082163".into()),
            issued_at: 1767225600,
        }
    }

    #[test]
    fn signs_and_verifies_and_is_never_a_card() {
        let k = key();
        let mut keys = KeySet::new();
        keys.insert(k.public().clone());
        let cose = sign_household(&sticker(), &k).unwrap();
        let v = verify_household(&cose, &keys).unwrap();
        assert_eq!(v.claims, sticker());
        // A card verifier refuses the sticker; the sticker verifier refuses a card.
        assert!(matches!(
            crate::verify(&cose, &keys, 1767225600),
            Err(CardError::Malformed(_))
        ));
        let card = crate::sign(
            &crate::Claims {
                card_id: CardId([1; 16]),
                issuer: None,
                issued_at: Some(1767225600),
                expires_at: 1924992000,
                triage: None,
            },
            &k,
        )
        .unwrap();
        assert!(matches!(
            verify_household(&card, &keys),
            Err(CardError::Malformed(_))
        ));
        // Every single-bit flip is refused.
        for i in 0..cose.len() * 8 {
            let mut b = cose.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert!(verify_household(&b, &keys).is_err(), "bit {i}");
        }
    }

    #[test]
    fn urls() {
        let cose = sign_household(&sticker(), &key()).unwrap();
        let url = household_url("https://qq.city.joso.lg.jp/c/", &cose).unwrap();
        assert!(url.starts_with("HTTPS://QQ.CITY.JOSO.LG.JP/H/"));
        assert_eq!(parse_household_url(&url).unwrap(), cose);
        let card_url = crate::card_url("https://qq.city.joso.lg.jp/c/", &cose).unwrap();
        assert!(parse_household_url(&card_url).is_err());
    }
}

#[cfg(test)]
mod vector {
    use super::*;

    /// The documented vector (docs/card-format.md §9): the RFC 6979 §A.2.5 test key, household id
    /// `48`×16, `iss` `jp-082163`, `iat` 1767225600.
    #[test]
    fn golden_vector() {
        let d = hex::decode("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721")
            .unwrap();
        let k = IssuerKey::from_secret_bytes(&d.try_into().unwrap()).unwrap();
        let cose = sign_household(
            &HouseholdClaims {
                household_id: CardId([0x48; 16]),
                issuer: Some("jp-082163".into()),
                issued_at: 1767225600,
            },
            &k,
        )
        .unwrap();
        assert_eq!(hex::encode(&cose), GOLDEN);
    }

    const GOLDEN: &str = concat!(
        "d2844da2012604480cebf1bc9880748aa05830a501696a702d303832313633061a6955b9000750484848484848484848484848484848483a00010000013a000100020",
        "1584010f1e42f87bc802a4a37a5b201b75c9d706f9fa38f0ea7c6b6e0677f54c8f2cfd178c904d3a9813bcbdea3d0b665894ac3f5623e7868374dba7454675b7b5c70"
    );
}
