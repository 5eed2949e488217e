//! The card URL: `<issuer base URL><card as decimal digits>`.
//!
//! Any phone camera opens it as a normal link; the field app reads the card back out of it. The base
//! is written in upper case when that makes it fit the QR alphanumeric set (scheme and host are
//! case-insensitive by RFC 3986; Kyukit servers route the card path case-insensitively), so the QR can
//! carry it at 5.5 bits a character instead of 8.

use crate::CardError;
use crate::digits::{bytes_to_digits, digits_to_bytes};

/// Longest card URL accepted for parsing.
pub const MAX_URL_LEN: usize = 2048;
/// Longest issuer base URL accepted.
pub const MAX_BASE_LEN: usize = 200;

/// The QR alphanumeric character set (ISO/IEC 18004 §7.4.4).
pub(crate) fn is_qr_alphanumeric(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b" $%*+-./:".contains(&b))
}

fn has_https_scheme(s: &str) -> bool {
    s.get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
}

/// Checks an issuer base URL and returns the form written into card URLs (upper case when the
/// upper-cased form is QR-alphanumeric, otherwise unchanged).
pub fn canonical_base(base: &str) -> Result<String, CardError> {
    let bad = |m: &str| CardError::encoding(format!("base URL {m}"));
    if base.len() > MAX_BASE_LEN {
        return Err(bad("is too long"));
    }
    if !has_https_scheme(base) {
        return Err(bad("must start with https://"));
    }
    if !base.ends_with('/') {
        return Err(bad("must end with /"));
    }
    let host = base[8..].split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    if !base.bytes().all(|b| b.is_ascii_graphic()) || base.contains(['?', '#']) {
        return Err(bad("must be printable ASCII without query or fragment"));
    }
    let upper = base.to_ascii_uppercase();
    Ok(if is_qr_alphanumeric(&upper) {
        upper
    } else {
        base.to_string()
    })
}

/// Builds the card URL for `cose` under the issuer `base` (e.g. `https://qq.city.joso.lg.jp/c/`).
pub fn card_url(base: &str, cose: &[u8]) -> Result<String, CardError> {
    Ok(canonical_base(base)? + &bytes_to_digits(cose))
}

/// A card URL split into its base and the card bytes it carries (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardUrl {
    /// Everything up to and including the last `/`, as it appeared.
    pub base: String,
    pub cose: Vec<u8>,
}

/// Reads the card bytes out of a card URL. The scheme must be https; the last path segment must be
/// the card's digits. Which bases to accept is the caller's policy.
pub fn parse_card_url(url: &str) -> Result<CardUrl, CardError> {
    if url.len() > MAX_URL_LEN {
        return Err(CardError::Oversize {
            len: url.len(),
            max: MAX_URL_LEN,
        });
    }
    let url = url.trim();
    if !has_https_scheme(url) {
        return Err(CardError::encoding("card URL must start with https://"));
    }
    let cut = url.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (base, digits) = url.split_at(cut);
    if base.len() <= 9 {
        return Err(CardError::encoding("card URL has no path"));
    }
    if digits.is_empty() {
        return Err(CardError::encoding("card URL carries no card"));
    }
    Ok(CardUrl {
        base: base.to_string(),
        cose: digits_to_bytes(digits)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_is_uppercased_when_alphanumeric() {
        assert_eq!(
            canonical_base("https://qq.city.joso.lg.jp/c/").unwrap(),
            "HTTPS://QQ.CITY.JOSO.LG.JP/C/"
        );
        assert_eq!(
            canonical_base("https://localhost:8080/c/").unwrap(),
            "HTTPS://LOCALHOST:8080/C/"
        );
        // `_` is not in the alphanumeric set: kept as given.
        assert_eq!(
            canonical_base("https://x.jp/card_v1/").unwrap(),
            "https://x.jp/card_v1/"
        );
    }

    #[test]
    fn bad_bases() {
        for b in [
            "http://x.jp/c/",
            "https://x.jp/c",
            "https:///c/",
            "https://x.jp/c/?a=1/",
            "https://x .jp/c/",
            "ftp://a/",
        ] {
            assert!(canonical_base(b).is_err(), "{b}");
        }
    }

    #[test]
    fn parse_round_trip_and_errors() {
        let url = card_url("https://qq.city.joso.lg.jp/c/", &[1, 2, 3]).unwrap();
        assert_eq!(url, "HTTPS://QQ.CITY.JOSO.LG.JP/C/00066051");
        let parsed = parse_card_url(&url).unwrap();
        assert_eq!(parsed.cose, vec![1, 2, 3]);
        assert_eq!(parsed.base, "HTTPS://QQ.CITY.JOSO.LG.JP/C/");
        assert_eq!(
            parse_card_url("https://qq.city.joso.lg.jp/c/00066051")
                .unwrap()
                .cose,
            vec![1, 2, 3]
        );
        for bad in [
            "http://x.jp/c/255",
            "https://x.jp/c/",
            "https://x.jp/c/25a",
            "https://255",
            "255",
        ] {
            assert!(parse_card_url(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            parse_card_url(&"9".repeat(5000)),
            Err(CardError::Oversize { .. })
        ));
    }
}
