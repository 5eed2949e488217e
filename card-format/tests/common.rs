//! Fixtures shared by the card tests: the published test-vector key and claims.
#![allow(dead_code)]

use kyukit_card::*;

/// The P-256 private key of RFC 6979 appendix A.2.5; public test material, never a real key.
pub const VECTOR_KEY_HEX: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
pub const BASE_URL: &str = "https://qq.city.joso.lg.jp/c/";

pub fn vector_key() -> IssuerKey {
    let bytes: [u8; 32] = hex::decode(VECTOR_KEY_HEX).unwrap().try_into().unwrap();
    IssuerKey::from_secret_bytes(&bytes).unwrap()
}

pub fn other_key() -> IssuerKey {
    IssuerKey::from_secret_bytes(&[7u8; 32]).unwrap()
}

pub fn keyset(k: &IssuerKey) -> KeySet {
    [k.public().clone()].into_iter().collect()
}

/// 2026-01-01T00:00:00Z and 2031-01-01T00:00:00Z.
pub const IAT: i64 = 1_767_225_600;
pub const EXP: i64 = 1_924_992_000;

pub fn pointer_claims() -> Claims {
    Claims {
        card_id: CardId(
            hex::decode("00112233445566778899aabbccddeeff")
                .unwrap()
                .try_into()
                .unwrap(),
        ),
        issuer: None,
        issued_at: Some(IAT),
        expires_at: EXP,
        triage: None,
    }
}

pub fn triage_claims() -> Claims {
    Claims {
        card_id: CardId(
            hex::decode("f0e1d2c3b4a5968778695a4b3c2d1e0f")
                .unwrap()
                .try_into()
                .unwrap(),
        ),
        triage: Some(TriageCore {
            blood_type: BloodType {
                abo: Abo::A,
                rh: Rh::Positive,
            },
            flags: [TriageFlag::Anticoagulant, TriageFlag::ImplantedDevice]
                .into_iter()
                .collect(),
        }),
        ..pointer_claims()
    }
}

pub fn full_claims() -> Claims {
    Claims {
        card_id: CardId([0xa5; 16]),
        issuer: Some("jp-082163".into()),
        triage: Some(TriageCore {
            blood_type: BloodType {
                abo: Abo::AB,
                rh: Rh::Negative,
            },
            // The six flags of the first revision, bit 4 (legacy "DNAR or ACP") among them.
            flags: TriageFlags::from_bits(0b0011_1111).unwrap(),
        }),
        ..pointer_claims()
    }
}

/// A card of one resident's advance directive: blood type and exactly `flags`.
pub fn directive_claims(cti: u8, blood_type: BloodType, flags: &[TriageFlag]) -> Claims {
    Claims {
        card_id: CardId([cti; 16]),
        triage: Some(TriageCore {
            blood_type,
            flags: flags.iter().copied().collect(),
        }),
        ..pointer_claims()
    }
}

/// A DNAR order on file (bit 64): B+.
pub fn dnar_claims() -> Claims {
    directive_claims(
        0xd0,
        BloodType {
            abo: Abo::B,
            rh: Rh::Positive,
        },
        &[TriageFlag::Dnar],
    )
}

/// An ACP document on file and no DNAR (bit 128): O+.
pub fn acp_claims() -> Claims {
    directive_claims(
        0xac,
        BloodType {
            abo: Abo::O,
            rh: Rh::Positive,
        },
        &[TriageFlag::Acp],
    )
}

/// A card as issued before issue 19: bit 4 alone, "DNAR or ACP", A+.
pub fn legacy_directive_claims() -> Claims {
    directive_claims(
        0x04,
        BloodType {
            abo: Abo::A,
            rh: Rh::Positive,
        },
        &[TriageFlag::AdvanceDirectiveUnspecified],
    )
}
