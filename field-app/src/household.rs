//! The household sticker at a home's entrance (issue 27), verified offline: a sticker URL
//! (`https://…/h/<digits>`, what a phone camera or NFC reader yields), or a file holding it — a
//! photo or screenshot of its QR code (PNG, JPEG), the URL as text, or the raw COSE bytes —
//! checked against the issuer's JWKS with `kyukit_card::verify_household`. The sticker is a signed
//! pointer: its household id, issuer and issue time; who lives there is on the server only.

use crate::error::{Error, Result};
use crate::key::read_limited;
use kyukit_card::{FileKind, KeySet, MAX_JWKS_LEN, VerifiedHousehold};
use std::path::Path;

/// Largest sticker file read (a photo of the QR code can be a few MiB).
pub const MAX_STICKER_FILE: u64 = 32 * 1024 * 1024;

/// The sticker's COSE bytes from `input`: a sticker URL when it starts with `https://`, else the
/// path of a sticker file. A person's card URL (`…/c/…`) is refused here.
pub fn sticker_bytes(input: &str) -> Result<Vec<u8>> {
    let trimmed = input.trim();
    if trimmed
        .get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
    {
        return Ok(kyukit_card::parse_household_url(trimmed)?);
    }
    let path = Path::new(input);
    let bytes = read_limited(path, MAX_STICKER_FILE)?;
    let file_err = |source| Error::CardFile {
        path: path.to_path_buf(),
        source,
    };
    match kyukit_card::identify(&bytes) {
        FileKind::Png | FileKind::Jpeg => {
            let text = kyukit_card::decode_qr_image(&bytes).map_err(file_err)?;
            Ok(kyukit_card::parse_household_url(text.trim())?)
        }
        FileKind::UrlText => {
            let text = std::str::from_utf8(&bytes).unwrap_or_default();
            Ok(kyukit_card::parse_household_url(text.trim())?)
        }
        FileKind::Cose => Ok(bytes),
        other => Err(file_err(kyukit_card::FileError::NotACard(other))),
    }
}

/// Verifies a sticker offline against `jwks_json` (the issuer's `/.well-known/jwks.json`). No
/// network, no clock: a sticker does not expire (the issuer revokes it, which only the server knows).
pub fn verify_sticker(input: &str, jwks_json: &[u8]) -> Result<VerifiedHousehold> {
    if jwks_json.len() > MAX_JWKS_LEN {
        return Err(Error::Usage(format!(
            "JWKS too large ({} bytes, limit {MAX_JWKS_LEN})",
            jwks_json.len()
        )));
    }
    let keys = KeySet::from_jwks_json(jwks_json)?;
    Ok(kyukit_card::verify_household(
        &sticker_bytes(input)?,
        &keys,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kyukit_card::{CardId, Claims, HouseholdClaims, IssuerKey};

    fn jwks(key: &IssuerKey) -> Vec<u8> {
        serde_json::to_vec(
            &[key.public().clone()]
                .into_iter()
                .collect::<KeySet>()
                .to_jwks()
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn a_genuine_sticker_verifies_and_a_tampered_one_is_refused() {
        let key = IssuerKey::from_secret_bytes(&[7u8; 32]).unwrap();
        let claims = HouseholdClaims {
            household_id: CardId([3u8; 16]),
            issuer: Some("joso".into()),
            issued_at: 1_767_225_600,
        };
        let cose = kyukit_card::sign_household(&claims, &key).unwrap();
        let base = "https://qq.city.joso.lg.jp/c/";
        let url = kyukit_card::household_url(base, &cose).unwrap();
        let keys = jwks(&key);

        let v = verify_sticker(&url, &keys).unwrap();
        assert_eq!(v.claims, claims);
        let dir = std::env::temp_dir().join(format!("kyukit-field-sticker-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (url_file, cose_file) = (dir.join("sticker.url"), dir.join("sticker.cose"));
        std::fs::write(&url_file, format!("{url}\n")).unwrap();
        std::fs::write(&cose_file, &cose).unwrap();
        for f in [&url_file, &cose_file] {
            assert_eq!(
                verify_sticker(f.to_str().unwrap(), &keys).unwrap().claims,
                claims
            );
        }

        // One bit of the signature changed: refused as a card error (exit 1 in the CLI).
        let mut tampered = cose.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let bad = kyukit_card::household_url(base, &tampered).unwrap();
        assert!(matches!(verify_sticker(&bad, &keys), Err(Error::Card(_))));
        // Another issuer's keys, and a person's card: refused too.
        let other = jwks(&IssuerKey::from_secret_bytes(&[8u8; 32]).unwrap());
        assert!(matches!(verify_sticker(&url, &other), Err(Error::Card(_))));
        let card = kyukit_card::sign(
            &Claims {
                card_id: CardId([1u8; 16]),
                issuer: None,
                issued_at: Some(1_767_225_600),
                expires_at: 1_924_992_000,
                triage: None,
            },
            &key,
        )
        .unwrap();
        let card_url = kyukit_card::card_url(base, &card).unwrap();
        assert!(matches!(
            verify_sticker(&card_url, &keys),
            Err(Error::Card(_))
        ));
        let card_as_sticker = kyukit_card::household_url(base, &card).unwrap();
        assert!(matches!(
            verify_sticker(&card_as_sticker, &keys),
            Err(Error::Card(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
