//! QR and NDEF encodings: size targets, round trips through a QR decoder, NDEF parsing.

mod common;
use common::*;
use kyukit_card::*;
use proptest::prelude::*;

fn decode_qr(img: &image::GrayImage) -> (rqrr::MetaData, String) {
    let mut prepared = rqrr::PreparedImage::prepare(img.clone());
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR symbol");
    grids[0].decode().unwrap()
}

fn any_claims(triage: bool) -> impl Strategy<Value = Claims> {
    // Times stay below 2^32 (2106-02-07): CBOR then needs 4 bytes for each; see docs/card-format.md.
    (
        any::<[u8; 16]>(),
        0i64..3_800_000_000,
        1i64..400_000_000,
        any::<bool>(),
        0u64..5,
        0u64..3,
        0u64..256,
    )
        .prop_map(move |(cti, iat, life, with_iat, abo, rh, flags)| Claims {
            card_id: CardId(cti),
            issuer: None,
            issued_at: with_iat.then_some(iat),
            expires_at: iat + life,
            triage: triage.then(|| TriageCore {
                blood_type: BloodType::from_codes_for_tests(abo, rh),
                flags: TriageFlags::from_bits(flags).unwrap(),
            }),
        })
}

trait ForTests {
    fn from_codes_for_tests(abo: u64, rh: u64) -> BloodType;
}
impl ForTests for BloodType {
    fn from_codes_for_tests(abo: u64, rh: u64) -> BloodType {
        let abo = [Abo::Unknown, Abo::A, Abo::B, Abo::O, Abo::AB][abo as usize];
        let rh = [Rh::Unknown, Rh::Positive, Rh::Negative][rh as usize];
        BloodType { abo, rh }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// random claims → sign → URL → QR → PNG pixels → rqrr → URL → verify.
    #[test]
    fn qr_round_trip_verifies(claims in any_claims(false), triage in any_claims(true), pick in any::<bool>()) {
        let claims = if pick { triage } else { claims };
        let key = vector_key();
        let cose = sign(&claims, &key).unwrap();
        let url = card_url(BASE_URL, &cose).unwrap();
        let qr = CardQr::encode(&url, EcLevel::Q).unwrap();
        let (meta, text) = decode_qr(&qr.to_image(3, 4).unwrap());
        prop_assert_eq!(&text, &url);
        prop_assert_eq!(meta.version.0, usize::from(qr.layout().version));
        let back = parse_card_url(&text).unwrap();
        let card = verify(&back.cose, &keyset(&key), claims.expires_at - 1).unwrap();
        prop_assert_eq!(card.claims, claims);
    }

    /// Size targets hold for every card a Kyukit server issues (no `iss`).
    #[test]
    fn size_targets(pointer in any_claims(false), triage in any_claims(true)) {
        let key = vector_key();
        for (claims, max_version) in [(pointer, 10), (triage, 13)] {
            let cose = sign(&claims, &key).unwrap();
            let url = card_url(BASE_URL, &cose).unwrap();
            let layout = CardQr::encode(&url, EcLevel::Q).unwrap().layout().clone();
            prop_assert!(layout.version <= max_version, "{:?}", layout);
            prop_assert!(layout.ec_level >= EcLevel::Q);
            prop_assert!(build_ndef(&url, &cose).unwrap().len() <= 496);
        }
    }
}

#[test]
fn spare_capacity_raises_the_error_correction_level() {
    // 15 alphanumeric chars (4+9+83 bits) + 3 digits (4+10+10) = 120 bits: version 1 holds
    // 152 bits at L, 128 at M, 104 at Q. Asking for L must give M.
    let qr = CardQr::encode("HTTPS://A.JP/C/255", EcLevel::L).unwrap();
    assert_eq!(
        (
            qr.layout().version,
            qr.layout().ec_level,
            qr.layout().data_bits
        ),
        (1, EcLevel::M, 120)
    );
    // A non-alphanumeric base falls back to byte mode and still decodes.
    let cose = sign(&pointer_claims(), &vector_key()).unwrap();
    let url = card_url("https://x.example.jp/card_v1/", &cose).unwrap();
    let qr = CardQr::encode(&url, EcLevel::Q).unwrap();
    assert_eq!(qr.layout().prefix_mode, "byte");
    assert_eq!(decode_qr(&qr.to_image(2, 4).unwrap()).1, url);
}

#[test]
fn renderers_honour_module_size_and_quiet_zone() {
    let cose = sign(&pointer_claims(), &vector_key()).unwrap();
    let qr = CardQr::encode(&card_url(BASE_URL, &cose).unwrap(), EcLevel::Q).unwrap();
    let img = qr.to_image(5, 6).unwrap();
    assert_eq!(img.width() as usize, (qr.width() + 12) * 5);
    assert_eq!(img.get_pixel(29, 29).0, [255], "inside the quiet zone");
    assert_eq!(img.get_pixel(30, 30).0, [0], "finder pattern corner");
    let png = qr.to_png(5, 6).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    // The 1-bit PNG is pixel for pixel the rendered image, for odd and byte-aligned widths.
    for (px, qz) in [(5, 6), (8, 4), (1, 4), (3, 5)] {
        let decoded = image::load_from_memory(&qr.to_png(px, qz).unwrap())
            .unwrap()
            .to_luma8();
        assert_eq!(
            decoded,
            qr.to_image(px, qz).unwrap(),
            "{px} px, quiet zone {qz}"
        );
    }
    let svg = qr.to_svg(4, 4).unwrap();
    let side = (qr.width() + 8) * 4;
    assert!(svg.contains(&format!("width=\"{side}\"")) && svg.contains("<path"));
    assert!(qr.to_png(0, 4).is_err() && qr.to_png(4, 99).is_err());
}

#[test]
fn ndef_layout_and_parsing() {
    let cose = sign(&pointer_claims(), &vector_key()).unwrap();
    let url = card_url(BASE_URL, &cose).unwrap();
    let ndef = build_ndef(&url, &cose).unwrap();
    // Record 1: MB, long record (URI payload > 255), TNF well-known, type "U", prefix 0x04.
    assert_eq!(ndef[0], 0x81);
    assert_eq!(&ndef[6..8], &[b'U', 0x04]);
    let parsed = parse_ndef(&ndef).unwrap();
    assert_eq!(parsed.cose, cose);
    assert_eq!(parsed.url, format!("https://{}", &url[8..]));
    for n in 0..ndef.len() {
        assert!(parse_ndef(&ndef[..n]).is_err(), "prefix {n} accepted");
    }
    let mut tampered = ndef.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(
        parse_ndef(&tampered)
            .unwrap_err()
            .to_string()
            .contains("different cards")
    );
    let mut chunked = ndef.clone();
    chunked[0] |= 0x20;
    assert!(parse_ndef(&chunked).is_err());
    assert!(matches!(
        parse_ndef(&vec![0; 4096]),
        Err(CardError::Oversize { .. })
    ));
}
