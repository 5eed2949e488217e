//! Card input for a scan: a card URL (what a phone camera or NFC reader yields), or a file holding
//! the card in any of its encodings — a photo or screenshot of the QR code (PNG, JPEG), the NDEF
//! message of the tag, the raw COSE bytes or the card URL as text — recognised by its bytes
//! (`kyukit_card::read_card_file`); and offline verification against an issuer's JWKS.

use crate::error::{Error, Result};
use crate::key::read_limited;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kyukit_card::{KeySet, MAX_JWKS_LEN, VerifiedCard, card_url, parse_card_url, verify};
use std::path::Path;

/// Largest card file read: a photo of the QR code can be a few MiB; a card URL is at most
/// [`kyukit_card::MAX_URL_LEN`] characters, a COSE card at most [`kyukit_card::MAX_COSE_LEN`] bytes.
pub const MAX_CARD_FILE: u64 = 32 * 1024 * 1024;

/// A card as it was given, before any verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardSource {
    /// A card URL (`https://…/c/<digits>`), trimmed: given as such, read from a QR image, an NDEF
    /// message or a text file.
    Url(String),
    /// Raw COSE_Sign1 bytes.
    Cose(Vec<u8>),
}

fn is_https(s: &str) -> bool {
    s.get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
}

impl CardSource {
    /// `input` is a card URL when it starts with `https://`; otherwise the path of a card file
    /// (see [`CardSource::from_file`]).
    pub fn from_input(input: &str) -> Result<Self> {
        let trimmed = input.trim();
        if is_https(trimmed) {
            return Ok(CardSource::Url(trimmed.to_string()));
        }
        Self::from_file(Path::new(input))
    }

    /// Reads a card file: a PNG or JPEG image of the QR code, an NDEF message, raw COSE bytes or
    /// a card URL as text. Anything else is refused with what the file is
    /// ([`Error::CardFile`]: "x.pdf is a PDF, not a card").
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = read_limited(path, MAX_CARD_FILE)?;
        let card = kyukit_card::read_card_file(&bytes).map_err(|source| Error::CardFile {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(match card.url {
            Some(url) => CardSource::Url(url),
            None => CardSource::Cose(card.cose),
        })
    }

    /// The card's COSE bytes (decoded from the URL's digits for a URL).
    pub fn cose(&self) -> Result<Vec<u8>> {
        match self {
            CardSource::Url(u) => Ok(parse_card_url(u)?.cose),
            CardSource::Cose(b) => Ok(b.clone()),
        }
    }

    /// The card URL to send to the server: the URL as given, or, for raw COSE bytes, the card URL
    /// under `base` (the issuer's card base, e.g. `https://qq.city.joso.lg.jp/c/`).
    pub fn to_url(&self, base: Option<&str>) -> Result<String> {
        match (self, base) {
            (CardSource::Url(u), _) => Ok(u.clone()),
            (CardSource::Cose(b), Some(base)) => Ok(card_url(base, b)?),
            (CardSource::Cose(_), None) => Err(Error::Usage(
                "the card is raw COSE bytes: give the issuer's card base URL to send it".into(),
            )),
        }
    }

    /// The scan request's `card` value: the card URL (as given, or under `base` for raw COSE
    /// bytes), else the COSE bytes as base64url, which the server also takes.
    pub fn to_scan_value(&self, base: Option<&str>) -> Result<String> {
        match (self, base) {
            (CardSource::Cose(b), None) => Ok(URL_SAFE_NO_PAD.encode(b)),
            _ => self.to_url(base),
        }
    }
}

/// Verifies a card offline: `card` is a card URL, `jwks_json` the issuer's `/.well-known/jwks.json`,
/// `now` seconds since the Unix epoch. No network.
pub fn verify_offline(card: &str, jwks_json: &[u8], now: i64) -> Result<VerifiedCard> {
    verify_source(&CardSource::Url(card.trim().to_string()), jwks_json, now)
}

/// Like [`verify_offline`], for any [`CardSource`].
pub fn verify_source(card: &CardSource, jwks_json: &[u8], now: i64) -> Result<VerifiedCard> {
    if jwks_json.len() > MAX_JWKS_LEN {
        return Err(Error::Usage(format!(
            "JWKS too large ({} bytes, limit {MAX_JWKS_LEN})",
            jwks_json.len()
        )));
    }
    let keys = KeySet::from_jwks_json(jwks_json)?;
    Ok(verify(&card.cose()?, &keys, now)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kyukit_card::{CardId, Claims, IssuerKey};

    fn sample() -> (String, Vec<u8>, Vec<u8>) {
        let key = IssuerKey::from_secret_bytes(&[9u8; 32]).unwrap();
        let claims = Claims {
            card_id: CardId([1u8; 16]),
            issuer: None,
            issued_at: Some(1_767_225_600),
            expires_at: 1_924_992_000,
            triage: None,
        };
        let cose = kyukit_card::sign(&claims, &key).unwrap();
        let url = card_url("https://qq.city.joso.lg.jp/c/", &cose).unwrap();
        let jwks = serde_json::to_vec(
            &[key.public().clone()]
                .into_iter()
                .collect::<KeySet>()
                .to_jwks()
                .unwrap(),
        )
        .unwrap();
        (url, cose, jwks)
    }

    #[test]
    fn url_file_and_cose_inputs() {
        let (url, cose, jwks) = sample();
        let dir = std::env::temp_dir().join(format!("kyukit-field-card-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url_file = dir.join("card.url");
        let cose_file = dir.join("card.cose");
        std::fs::write(&url_file, format!("{url}\n")).unwrap();
        std::fs::write(&cose_file, &cose).unwrap();

        let from_url = CardSource::from_input(&format!("  {url} ")).unwrap();
        assert_eq!(from_url, CardSource::Url(url.clone()));
        assert_eq!(
            CardSource::from_input(url_file.to_str().unwrap()).unwrap(),
            CardSource::Url(url.clone())
        );
        let from_cose = CardSource::from_input(cose_file.to_str().unwrap()).unwrap();
        assert_eq!(from_cose, CardSource::Cose(cose.clone()));
        assert!(from_cose.to_url(None).is_err());
        assert_eq!(
            from_cose.to_scan_value(None).unwrap(),
            URL_SAFE_NO_PAD.encode(&cose)
        );
        assert_eq!(from_url.to_scan_value(None).unwrap(), url);
        assert_eq!(
            from_cose
                .to_url(Some("https://qq.city.joso.lg.jp/c/"))
                .unwrap(),
            url
        );
        for src in [&from_url, &from_cose] {
            let card = verify_source(src, &jwks, 1_800_000_000).unwrap();
            assert_eq!(card.claims.card_id, CardId([1u8; 16]));
        }
        assert!(verify_offline(&url, &jwks, 1_800_000_000).is_ok());
        // Expired, and a wrong key set: refused as card errors.
        assert!(matches!(
            verify_offline(&url, &jwks, 1_924_992_000),
            Err(Error::Card(kyukit_card::CardError::Expired { .. }))
        ));
        let (_, _, other_jwks) = {
            let key = IssuerKey::from_secret_bytes(&[8u8; 32]).unwrap();
            let jwks = serde_json::to_vec(
                &[key.public().clone()]
                    .into_iter()
                    .collect::<KeySet>()
                    .to_jwks()
                    .unwrap(),
            )
            .unwrap();
            ((), (), jwks)
        };
        assert!(matches!(
            verify_offline(&url, &other_jwks, 1_800_000_000),
            Err(Error::Card(_))
        ));
        assert!(matches!(
            CardSource::from_input(dir.join("missing").to_str().unwrap()),
            Err(Error::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
