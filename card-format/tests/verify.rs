//! Verification refuses everything that is not a genuine, current card — with the right error.

mod common;
use ciborium::value::Value;
use common::*;
use coset::cwt::{ClaimName, ClaimsSet, Timestamp};
use coset::{CborSerializable, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable, iana};
use kyukit_card::*;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};

/// Signs arbitrary headers and claims, to forge the cards `sign` refuses to make.
fn forge(signer: &IssuerKey, kid: Kid, alg: iana::Algorithm, claims: ClaimsSet) -> Vec<u8> {
    let sk = SigningKey::from_pkcs8_pem(&signer.to_pkcs8_pem().unwrap()).unwrap();
    CoseSign1Builder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(alg)
                .key_id(kid.0.to_vec())
                .build(),
        )
        .payload(claims.to_vec().unwrap())
        .create_signature(&[], |tbs| {
            let s: Signature = sk.sign(tbs);
            s.to_bytes().to_vec()
        })
        .build()
        .to_tagged_vec()
        .unwrap()
}
use p256::pkcs8::DecodePrivateKey;

fn claims_set(version: i64) -> ClaimsSet {
    ClaimsSet {
        expiration_time: Some(Timestamp::WholeSeconds(EXP)),
        cwt_id: Some(vec![9; 16]),
        rest: vec![(ClaimName::PrivateUse(CLAIM_VERSION), Value::from(version))],
        ..Default::default()
    }
}

#[test]
fn genuine_card_verifies_until_it_expires() {
    let key = vector_key();
    let cose = sign(&triage_claims(), &key).unwrap();
    let card = verify(&cose, &keyset(&key), EXP - 1).unwrap();
    assert_eq!(card.kid, key.kid());
    assert_eq!(card.version, FORMAT_VERSION);
    assert_eq!(card.claims, triage_claims());
    assert_eq!(
        verify(&cose, &keyset(&key), EXP),
        Err(CardError::Expired { exp: EXP, now: EXP })
    );
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let key = vector_key();
    for claims in [pointer_claims(), triage_claims(), full_claims()] {
        let cose = sign(&claims, &key).unwrap();
        for i in 0..cose.len() * 8 {
            let mut bad = cose.clone();
            bad[i / 8] ^= 1 << (i % 8);
            let err =
                verify(&bad, &keyset(&key), IAT).expect_err(&format!("flip of bit {i} accepted"));
            assert!(!err.to_string().is_empty());
        }
    }
}

/// The issuer's shortcut skips the signature only for the exact bytes it kept; every other check
/// stands, and anything else is a full verification.
#[test]
fn the_issuer_skips_the_signature_only_for_the_bytes_it_kept() {
    let key = vector_key();
    let keys = keyset(&key);
    let cose = sign(&triage_claims(), &key).unwrap();
    let issued = Some(&cose[..]);
    let card = verify_as_issuer(&cose, &keys, IAT, issued).unwrap();
    assert_eq!(card, verify(&cose, &keys, IAT).unwrap());
    // Expiry, the key set and the structure are still checked.
    assert_eq!(
        verify_as_issuer(&cose, &keys, EXP, issued),
        Err(CardError::Expired { exp: EXP, now: EXP })
    );
    assert!(matches!(
        verify_as_issuer(&cose, &keyset(&other_key()), IAT, issued),
        Err(CardError::UnknownKid(_))
    ));
    // A card that differs from the kept one in any bit is verified in full: refused.
    for i in 0..cose.len() * 8 {
        let mut bad = cose.clone();
        bad[i / 8] ^= 1 << (i % 8);
        assert!(
            verify_as_issuer(&bad, &keys, IAT, issued).is_err(),
            "flip of bit {i} accepted"
        );
    }
    // A forgery is refused unless it is itself what the issuer kept — the one case the
    // signature is not recomputed, which is why `issued` must come from the issuer's storage.
    let forged = forge(
        &other_key(),
        key.kid(),
        iana::Algorithm::ES256,
        claims_set(1),
    );
    for kept in [None, issued] {
        assert_eq!(
            verify_as_issuer(&forged, &keys, IAT, kept),
            Err(CardError::BadSignature)
        );
    }
    assert!(verify_as_issuer(&forged, &keys, IAT, Some(&forged[..])).is_ok());
    // The algorithm is checked before the shortcut.
    let es384 = forge(&key, key.kid(), iana::Algorithm::ES384, claims_set(1));
    assert_eq!(
        verify_as_issuer(&es384, &keys, IAT, Some(&es384[..])),
        Err(CardError::WrongAlgorithm)
    );
}

#[test]
fn another_key_under_the_same_kid_is_a_bad_signature() {
    let (real, impostor) = (vector_key(), other_key());
    let forged = forge(&impostor, real.kid(), iana::Algorithm::ES256, claims_set(1));
    assert_eq!(
        verify(&forged, &keyset(&real), IAT),
        Err(CardError::BadSignature)
    );
    // Sanity: the same construction with the real key verifies, so the refusal is the key's doing.
    let genuine = forge(&real, real.kid(), iana::Algorithm::ES256, claims_set(1));
    assert!(verify(&genuine, &keyset(&real), IAT).is_ok());
}

#[test]
fn a_changed_algorithm_is_refused_even_with_a_valid_signature() {
    let key = vector_key();
    for alg in [
        iana::Algorithm::ES384,
        iana::Algorithm::EdDSA,
        iana::Algorithm::PS256,
    ] {
        let card = forge(&key, key.kid(), alg, claims_set(1));
        assert_eq!(
            verify(&card, &keyset(&key), IAT),
            Err(CardError::WrongAlgorithm)
        );
    }
}

#[test]
fn unknown_kid_and_unsupported_version() {
    let key = vector_key();
    let cose = sign(&pointer_claims(), &key).unwrap();
    assert!(matches!(
        verify(&cose, &keyset(&other_key()), IAT),
        Err(CardError::UnknownKid(_))
    ));
    let v2 = forge(&key, key.kid(), iana::Algorithm::ES256, claims_set(2));
    assert_eq!(
        verify(&v2, &keyset(&key), IAT),
        Err(CardError::UnsupportedVersion(2))
    );
}

#[test]
fn unexpected_claims_and_bad_cti_are_malformed() {
    let key = vector_key();
    let mut with_sub = claims_set(1);
    with_sub.subject = Some("Yamada Hanako".into());
    let mut short_cti = claims_set(1);
    short_cti.cwt_id = Some(vec![1; 8]);
    let mut bad_triage = claims_set(1);
    bad_triage.rest.push((
        ClaimName::PrivateUse(CLAIM_TRIAGE),
        Value::Array(vec![1.into(), 1.into(), 256.into()]),
    ));
    for cs in [with_sub, short_cti, bad_triage] {
        let card = forge(&key, key.kid(), iana::Algorithm::ES256, cs);
        assert!(matches!(
            verify(&card, &keyset(&key), IAT),
            Err(CardError::Malformed(_))
        ));
    }
}

#[test]
fn truncated_untagged_and_huge_inputs() {
    let key = vector_key();
    let keys = keyset(&key);
    let cose = sign(&pointer_claims(), &key).unwrap();
    for n in 0..cose.len() {
        assert!(
            verify(&cose[..n], &keys, IAT).is_err(),
            "prefix of {n} bytes accepted"
        );
    }
    let mut trailing = cose.clone();
    trailing.push(0);
    assert!(matches!(
        verify(&trailing, &keys, IAT),
        Err(CardError::Malformed(_))
    ));
    assert!(
        matches!(verify(&cose[1..], &keys, IAT), Err(CardError::Malformed(_))),
        "untagged"
    );
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let random: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    assert!(matches!(
        verify(&random, &keys, IAT),
        Err(CardError::Oversize { .. })
    ));
    assert!(verify(&random[..300], &keys, IAT).is_err());
}

#[test]
fn sign_refuses_bad_claims() {
    let key = vector_key();
    let mut c = pointer_claims();
    c.issuer = Some("山田 花子".into());
    assert!(matches!(sign(&c, &key), Err(CardError::InvalidClaims(_))));
    let mut c = pointer_claims();
    c.issued_at = Some(EXP);
    assert!(matches!(sign(&c, &key), Err(CardError::InvalidClaims(_))));
}

#[test]
fn jwks_round_trip_and_strict_import() {
    let key = vector_key();
    let set = keyset(&key);
    let jwks = serde_json::to_value(set.to_jwks().unwrap()).unwrap();
    let k = &jwks["keys"][0];
    assert_eq!(
        (
            k["kty"].as_str(),
            k["crv"].as_str(),
            k["alg"].as_str(),
            k["use"].as_str()
        ),
        (Some("EC"), Some("P-256"), Some("ES256"), Some("sig"))
    );
    assert_eq!(k["kid"].as_str().unwrap(), key.kid().to_b64());
    let back = KeySet::from_jwks_json(jwks.to_string().as_bytes()).unwrap();
    assert_eq!(back.get(&key.kid()), Some(key.public()));

    let mut wrong_kid = jwks.clone();
    wrong_kid["keys"][0]["kid"] = "AAAAAAAAAAA".into();
    assert!(matches!(
        KeySet::from_jwks_json(wrong_kid.to_string().as_bytes()),
        Err(CardError::Key(_))
    ));
    let mut off_curve = jwks.clone();
    off_curve["keys"][0]["y"] = k["x"].clone();
    assert!(KeySet::from_jwks_json(off_curve.to_string().as_bytes()).is_err());
    let mut mixed = jwks.clone();
    mixed["keys"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}));
    assert_eq!(
        KeySet::from_jwks_json(mixed.to_string().as_bytes())
            .unwrap()
            .len(),
        1
    );
    assert!(KeySet::from_jwks_json(br#"{"keys":[]}"#).is_err());
    assert!(KeySet::from_jwks_json(b"not json").is_err());
}

#[test]
fn key_debug_never_shows_the_secret() {
    let key = vector_key();
    let dbg = format!("{key:?}");
    assert!(!dbg.to_lowercase().contains(&VECTOR_KEY_HEX[..16]));
    assert!(dbg.contains("redacted"));
}

/// The fast verification (`ring`) and the `p256` crate's agree on genuine signatures, on every
/// single-bit change of message or signature, on the other valid form of a signature
/// (`s` → `n − s`) and on out-of-range scalars.
#[test]
fn fast_and_reference_verification_agree() {
    use p256::elliptic_curve::PrimeField;
    let key = vector_key();
    let sk = SigningKey::from_pkcs8_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
    let public = key.public();
    let other = other_key();
    let agree = |msg: &[u8], sig: &[u8]| {
        let (fast, reference) = (
            public.verify_es256(msg, sig),
            public.verify_es256_reference(msg, sig),
        );
        assert_eq!(fast, reference, "msg {msg:?} sig {sig:?}");
        fast
    };
    for n in 0..16u8 {
        let msg: Vec<u8> = (0..n * 7).map(|i| i.wrapping_mul(31) ^ n).collect();
        let sig: Signature = sk.sign(&msg);
        let bytes = sig.to_bytes();
        assert!(agree(&msg, &bytes), "genuine signature refused");
        assert!(
            !other.public().verify_es256(&msg, &bytes),
            "another key accepted"
        );
        for i in 0..bytes.len() * 8 {
            let mut bad = bytes.to_vec();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(!agree(&msg, &bad), "signature bit {i} flipped and accepted");
        }
        for i in 0..msg.len() * 8 {
            let mut bad = msg.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(!agree(&bad, &bytes), "message bit {i} flipped and accepted");
        }
        // (r, n − s) is the same signature's other valid encoding: both accept it.
        let (r, s) = sig.split_scalars();
        let high = Signature::from_scalars(r.to_repr(), (-*s).to_repr()).unwrap();
        assert!(agree(&msg, &high.to_bytes()));
        // Truncated, extended, zero and out-of-range scalars are refused.
        assert!(!agree(&msg, &bytes[..63]));
        assert!(!agree(&msg, &[bytes.as_slice(), &[0]].concat()));
        assert!(!agree(&msg, &[0u8; 64]));
        assert!(!agree(&msg, &[0xffu8; 64]));
        let mut zero_s = bytes.to_vec();
        zero_s[32..].fill(0);
        assert!(!agree(&msg, &zero_s));
    }
}

/// Issue 19: DNAR and ACP are separate bits; a card from before (bit 4, "DNAR or ACP") still
/// verifies and reads as "advance directive, unspecified" — never as DNAR.
#[test]
fn dnar_and_acp_are_separate_and_the_old_bit_is_not_read_as_dnar() {
    let key = vector_key();
    let keys = keyset(&key);
    let flags_of = |claims: &Claims| {
        let cose = sign(claims, &key).unwrap();
        verify(&cose, &keys, IAT)
            .unwrap()
            .claims
            .triage
            .unwrap()
            .flags
    };
    let acp = flags_of(&acp_claims());
    assert!(acp.contains(TriageFlag::Acp));
    assert!(!acp.contains(TriageFlag::Dnar));
    assert!(!acp.contains(TriageFlag::AdvanceDirectiveUnspecified));
    assert_eq!(acp.bits(), 128);
    let dnar = flags_of(&dnar_claims());
    assert!(dnar.contains(TriageFlag::Dnar) && !dnar.contains(TriageFlag::Acp));
    assert_eq!(dnar.bits(), 64);
    // The old card: bit 4 only. Verifies; no DNAR, no ACP, the neutral flag.
    let old = flags_of(&legacy_directive_claims());
    assert_eq!(old.bits(), 4);
    assert_eq!(
        old.iter().collect::<Vec<_>>(),
        vec![TriageFlag::AdvanceDirectiveUnspecified]
    );
    assert!(TriageFlag::AdvanceDirectiveUnspecified.is_legacy());
    // Nothing an ACP-only or old card serialises to names DNAR.
    for claims in [acp_claims(), legacy_directive_claims()] {
        let cose = sign(&claims, &key).unwrap();
        let json = serde_json::to_string(&verify(&cose, &keys, IAT).unwrap()).unwrap();
        assert!(!json.to_lowercase().contains("dnar"), "{json}");
    }
    // The published old vector (all six first-revision flags) still verifies, bit 4 neutral.
    let all = flags_of(&full_claims());
    assert!(all.contains(TriageFlag::AdvanceDirectiveUnspecified));
    assert!(!all.contains(TriageFlag::Dnar) && !all.contains(TriageFlag::Acp));
    // New issuers set no legacy flag.
    assert!(TriageFlag::CURRENT.iter().all(|f| !f.is_legacy()));
}
