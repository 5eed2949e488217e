//! Fuzzes every decoder that reads untrusted card input: COSE verification (with a real key set, so
//! inputs that name the right kid reach the signature check), card URLs, NDEF messages, digit
//! packing and JWKS import. The only acceptable outcomes are `Ok` and a `CardError`.
#![no_main]

use kyukit_card::{IssuerKey, KeySet, digits_to_bytes, parse_card_url, parse_ndef, verify};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        // RFC 6979 A.2.5 test key: the golden vectors' issuer.
        let mut secret = [0u8; 32];
        let hex = b"c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
        for (i, s) in secret.iter_mut().enumerate() {
            let h = |c: u8| (c as char).to_digit(16).unwrap() as u8;
            *s = h(hex[2 * i]) << 4 | h(hex[2 * i + 1]);
        }
        let key = IssuerKey::from_secret_bytes(&secret).unwrap();
        [key.public().clone()].into_iter().collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = verify(data, keys(), 1_767_225_600);
    if let Ok(ndef) = parse_ndef(data) {
        let _ = verify(&ndef.cose, keys(), 1_767_225_600);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(url) = parse_card_url(text) {
            let _ = verify(&url.cose, keys(), 1_767_225_600);
        }
        let _ = digits_to_bytes(text);
    }
    let _ = KeySet::from_jwks_json(data);
});
