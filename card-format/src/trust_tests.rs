use super::*;
use crate::{CardId, Claims};

/// The RFC 6979 §A.2.5 test key: the trust-list key of the vector.
pub(crate) fn trust_key() -> IssuerKey {
    let d =
        hex::decode("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721").unwrap();
    IssuerKey::from_secret_bytes(&d.try_into().unwrap()).unwrap()
}

/// The issuer keys of the vector: scalars `11`×32 (active) and `22`×32 (compromised).
pub(crate) fn issuer_key(b: u8) -> IssuerKey {
    IssuerKey::from_secret_bytes(&[b; 32]).unwrap()
}

pub(crate) fn sample() -> TrustList {
    TrustList {
        version: 3,
        issued_at: 1767225600,
        expires_at: 1767225600 + 7 * 86400,
        deployment: Deployment {
            id: "qq.city.joso.lg.jp".into(),
            name_ja: "常総市 救急医療情報キット".into(),
            name_en: "Joso City Kyukit".into(),
            base_url: "https://qq.city.joso.lg.jp/".into(),
            server_keys: vec![],
            default_issuer: Some("jp-082163".into()),
        },
        issuers: vec![TrustedIssuer {
            id: "jp-082163".into(),
            name_ja: "常総市".into(),
            name_en: "Joso City".into(),
            card_base: "https://qq.city.joso.lg.jp/c/".into(),
            keys: vec![
                TrustedKey {
                    key: issuer_key(0x11).public().clone(),
                    status: KeyState::Active,
                },
                TrustedKey {
                    key: issuer_key(0x22).public().clone(),
                    status: KeyState::Compromised,
                },
            ],
            revocation_url: "https://qq.city.joso.lg.jp/api/v1/revocations/".into(),
            deployment: "qq.city.joso.lg.jp".into(),
        }],
    }
}

fn card(key: &IssuerKey, issuer: Option<&str>) -> Vec<u8> {
    crate::sign(
        &Claims {
            card_id: CardId([7; 16]),
            issuer: issuer.map(str::to_string),
            issued_at: Some(1767225600),
            expires_at: 1924992000,
            triage: None,
        },
        key,
    )
    .unwrap()
}

const NOW: i64 = 1767225600 + 3600;

#[test]
fn signs_verifies_and_round_trips() {
    let k = trust_key();
    let bytes = sign_trust_list(&sample(), &k).unwrap();
    let v = verify_trust_list(&bytes, k.public(), NOW).unwrap();
    assert_eq!(v.list, sample());
    assert_eq!(v.signer, k.kid());
    let (kid, list) = decode_trust_list_unverified(&bytes).unwrap();
    assert_eq!((kid, list), (k.kid(), sample()));
    // The JSON view names keys as JWKs with a status.
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["version"], 3);
    assert_eq!(json["issuers"][0]["keys"][1]["status"], "compromised");
    assert_eq!(
        json["issuers"][0]["keys"][0]["kid"],
        issuer_key(0x11).kid().to_b64()
    );
}

#[test]
fn refuses_expired_wrong_signer_tampered_and_other_kinds() {
    let k = trust_key();
    let bytes = sign_trust_list(&sample(), &k).unwrap();
    assert_eq!(
        verify_trust_list(&bytes, k.public(), sample().expires_at),
        Err(TrustError::Expired {
            exp: sample().expires_at,
            now: sample().expires_at
        })
    );
    let other = issuer_key(0x33);
    assert!(matches!(
        verify_trust_list(&bytes, other.public(), NOW),
        Err(TrustError::UnknownSigner(_))
    ));
    // A list signed by another key that claims the pinned key's kid cannot exist (the kid is in
    // the signed header); a list signed by another key is refused by its kid.
    let forged = sign_trust_list(&sample(), &other).unwrap();
    assert!(verify_trust_list(&forged, k.public(), NOW).is_err());
    // Every single-bit flip is refused.
    for i in 0..bytes.len() * 8 {
        let mut b = bytes.clone();
        b[i / 8] ^= 1 << (i % 8);
        assert!(verify_trust_list(&b, k.public(), NOW).is_err(), "bit {i}");
    }
    // A card or a household sticker signed by the trust key is not a trust list, and the list is
    // not a card.
    let c = card(&k, None);
    assert!(matches!(
        verify_trust_list(&c, k.public(), NOW),
        Err(TrustError::Malformed(_))
    ));
    let keys: KeySet = std::iter::once(k.public().clone()).collect();
    assert!(crate::verify(&bytes, &keys, NOW).is_err());
    assert!(crate::verify_household(&bytes, &keys).is_err());
    // Oversize input is refused before parsing.
    assert!(matches!(
        verify_trust_list(&vec![0u8; MAX_TRUST_LIST_LEN + 1], k.public(), NOW),
        Err(TrustError::Malformed(_))
    ));
}

#[test]
fn rollback_is_refused_same_version_accepted() {
    let held = sample();
    let mut older = sample();
    older.version = 2;
    assert_eq!(
        check_not_older(Some(&held), &older),
        Err(TrustError::Rollback {
            cached: 3,
            offered: 2
        })
    );
    assert!(check_not_older(Some(&held), &sample()).is_ok());
    assert!(check_not_older(None, &older).is_ok());
}

#[test]
fn cards_against_the_list() {
    let list = sample();
    // No iss: the default issuer; active key verifies.
    let ok = verify_with_trust_list(&card(&issuer_key(0x11), None), &list, NOW).unwrap();
    assert_eq!(ok.kid, issuer_key(0x11).kid());
    assert!(
        verify_with_trust_list(&card(&issuer_key(0x11), Some("jp-082163")), &list, NOW).is_ok()
    );
    // Compromised key, unknown key, unknown issuer: distinct refusals.
    assert!(matches!(
        verify_with_trust_list(&card(&issuer_key(0x22), None), &list, NOW),
        Err(TrustError::CompromisedKey { .. })
    ));
    assert!(matches!(
        verify_with_trust_list(&card(&issuer_key(0x33), None), &list, NOW),
        Err(TrustError::UnknownKey { .. })
    ));
    assert_eq!(
        verify_with_trust_list(&card(&issuer_key(0x11), Some("jp-999999")), &list, NOW),
        Err(TrustError::UnknownIssuer("jp-999999".into()))
    );
    // Retired keys still verify.
    let mut retired = sample();
    retired.issuers[0].keys[0].status = KeyState::Retired;
    assert!(verify_with_trust_list(&card(&issuer_key(0x11), None), &retired, NOW).is_ok());
    // Without a default issuer, a card without iss is the issuer's that holds its key; a key
    // no issuer holds has no issuer.
    let mut no_default = sample();
    no_default.deployment.default_issuer = None;
    assert!(verify_with_trust_list(&card(&issuer_key(0x11), None), &no_default, NOW).is_ok());
    assert!(matches!(
        verify_with_trust_list(&card(&issuer_key(0x33), None), &no_default, NOW),
        Err(TrustError::UnknownIssuer(_))
    ));
    // A peer deployment's issuer (federation): a card without iss signed by its key is found by
    // the key, and refused when that key is compromised there.
    let mut federated = sample();
    federated.issuers.push(TrustedIssuer {
        id: "jp-082201".into(),
        name_ja: "つくば市".into(),
        name_en: "Tsukuba City".into(),
        card_base: "https://qq.city.tsukuba.lg.jp/c/".into(),
        keys: vec![TrustedKey {
            key: issuer_key(0x44).public().clone(),
            status: KeyState::Active,
        }],
        revocation_url: "https://qq.city.tsukuba.lg.jp/api/v1/revocations/".into(),
        deployment: "qq.city.tsukuba.lg.jp".into(),
    });
    let peer_card = card(&issuer_key(0x44), None);
    assert!(verify_with_trust_list(&peer_card, &federated, NOW).is_ok());
    federated.issuers[1].keys[0].status = KeyState::Compromised;
    assert_eq!(
        verify_with_trust_list(&peer_card, &federated, NOW),
        Err(TrustError::CompromisedKey {
            issuer: "jp-082201".into(),
            kid: issuer_key(0x44).kid().to_b64()
        })
    );
    // A key of neither: the default issuer's unknown key, as before.
    assert!(matches!(
        verify_with_trust_list(&card(&issuer_key(0x33), None), &federated, NOW),
        Err(TrustError::UnknownKey { .. })
    ));
    // A tampered card fails its signature.
    let mut bad = card(&issuer_key(0x11), None);
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert!(matches!(
        verify_with_trust_list(&bad, &list, NOW),
        Err(TrustError::Card(CardError::BadSignature))
    ));
}

/// The documented vector (docs/card-format.md §10): [`sample`] signed with the RFC 6979 §A.2.5 key.
#[test]
fn golden_vector() {
    let bytes = sign_trust_list(&sample(), &trust_key()).unwrap();
    assert_eq!(hex::encode(&bytes), GOLDEN);
}

const GOLDEN: &str = concat!(
    "d2844da2012604480cebf1bc9880748aa0590204a8017271712e636974792e6a6f736f2e6c672e6a70041a695ef380061a69",
    "55b9003a00010000013a00010002023a00010003033a00010004a6017271712e636974792e6a6f736f2e6c672e6a70027825",
    "e5b8b8e7b78fe5b88220e69591e680a5e58cbbe79982e68385e5a0b1e382ade38383e3838803704a6f736f2043697479204b",
    "79756b697404781b68747470733a2f2f71712e636974792e6a6f736f2e6c672e6a702f058006696a702d3038323136333a00",
    "01000581a701696a702d3038323136330269e5b8b8e7b78fe5b88203694a6f736f204369747904781d68747470733a2f2f71",
    "712e636974792e6a6f736f2e6c672e6a702f632f058282a601020248384bab9dbcce19b4032620012158200217e617f0b644",
    "3928278f96999e69a23a4f2c152bdf6d6cdf66e5b80282d4ed225820194a7debcb97712d2dda3ca85aa8765a56f45fc75859",
    "9652f2897c65306e57946661637469766582a6010202482184937d6564104603262001215820d65a93977caa3d1b081852ff",
    "57a79e465f1660577304baead505dd3a48589cf322582050185e895372df6221ea3a137557e473fddb6755f05bd507c3c533",
    "fce9c912856b636f6d70726f6d6973656406782e68747470733a2f2f71712e636974792e6a6f736f2e6c672e6a702f617069",
    "2f76312f7265766f636174696f6e732f077271712e636974792e6a6f736f2e6c672e6a705840af5d635f001d06e6885ff271",
    "d9ffa39a8c66d084c5e687a7a27b4b17d0f96c2448df63734935cc0b9972487584448d6e7e807a872dd43733949cfe1dba80",
    "dd9c",
);
