//! Golden test vectors: fixed key and claims → exact COSE, URL, NDEF and QR layout.
//! The same files are published in docs/card-format.md and checked by the Python oracle tests.
//! Regenerate (only on a deliberate format change) with `KYUKIT_BLESS=1 cargo test -p kyukit-card --test vectors`.

mod common;
use common::*;
use kyukit_card::*;
use serde_json::{Value, json};
use std::path::PathBuf;

fn vector(name: &str, claims: &Claims) -> Value {
    let key = vector_key();
    let cose = sign(claims, &key).unwrap();
    let url = card_url(BASE_URL, &cose).unwrap();
    let ndef = build_ndef(&url, &cose).unwrap();
    let qr = CardQr::encode(&url, EcLevel::Q).unwrap();
    let verified = verify(&cose, &keyset(&key), IAT).unwrap();
    json!({
        "name": name,
        "private_key_hex": VECTOR_KEY_HEX,
        "jwks": keyset(&key).to_jwks().unwrap(),
        "base_url": BASE_URL,
        "verify_at": IAT,
        "claims": verified,
        "cose_hex": hex::encode(&cose),
        "cose_len": cose.len(),
        "url": url,
        "ndef_hex": hex::encode(&ndef),
        "ndef_len": ndef.len(),
        "qr": qr.layout(),
    })
}

#[test]
fn golden_vectors() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let bless = std::env::var_os("KYUKIT_BLESS").is_some();
    for (name, claims) in [
        ("pointer", pointer_claims()),
        ("triage", triage_claims()),
        ("issuer-all-flags", full_claims()),
        ("triage-dnar", dnar_claims()),
        ("triage-acp", acp_claims()),
        ("legacy-dnar-or-acp", legacy_directive_claims()),
    ] {
        let got = vector(name, &claims);
        let path = dir.join(format!("{name}.json"));
        if bless {
            std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
        }
        let want: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            got, want,
            "vector {name} changed: the card format is a published contract"
        );
        // The published bytes verify and re-encode from the published inputs.
        let cose = hex::decode(want["cose_hex"].as_str().unwrap()).unwrap();
        let keys = KeySet::from_jwks_json(want["jwks"].to_string().as_bytes()).unwrap();
        assert_eq!(verify(&cose, &keys, IAT).unwrap().claims, claims);
        let ndef = parse_ndef(&hex::decode(want["ndef_hex"].as_str().unwrap()).unwrap()).unwrap();
        assert_eq!(ndef.cose, cose);
        assert_eq!(
            parse_card_url(want["url"].as_str().unwrap()).unwrap().cose,
            cose
        );
    }
}
