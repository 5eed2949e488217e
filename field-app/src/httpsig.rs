//! RFC 9421 HTTP Message Signatures as `docs/device-protocol.md` profiles them: label `kyukit`,
//! `ecdsa-p256-sha256`, components `@method`, `@authority`, `@path`, `@query` (when there is a
//! query), `authorization` (when present) and `content-digest` (RFC 9530, when there is a body).
//!
//! The functions here are pure (the caller passes `created` and the nonce), so the exact bytes of a
//! signature base can be tested; [`crate::Client`] supplies the clock and the randomness.

use crate::error::{Error, Result};
use crate::key::DeviceKey;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use reqwest::Url;
use sha2::{Digest, Sha256};

/// The signature label used in `Signature-Input` and `Signature`.
pub const LABEL: &str = "kyukit";
/// The only algorithm: ECDSA P-256 over SHA-256, signature as 64-byte `r‖s`.
pub const ALG: &str = "ecdsa-p256-sha256";
/// Random bytes in a nonce (22 characters of base64url; the protocol allows 16–64 characters).
pub const NONCE_BYTES: usize = 16;

/// The RFC 9530 `Content-Digest` value of `body`: `sha-256=:<base64 of SHA-256(body)>:`.
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)))
}

/// A fresh nonce: 16 bytes from the operating system's CSPRNG, unpadded base64url.
pub fn new_nonce() -> Result<String> {
    let mut b = [0u8; NONCE_BYTES];
    getrandom::fill(&mut b).map_err(|e| Error::Random(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

/// An RFC 8941 sf-string: `"…"` with `\` and `"` escaped. Refuses characters outside printable
/// ASCII, which an sf-string cannot carry.
fn sf_string(s: &str) -> Result<String> {
    if !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(Error::Usage(format!(
            "{s:?} cannot be a signature parameter (printable ASCII only)"
        )));
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(out)
}

/// The signature parameters (RFC 9421 §2.3): the inner list of covered component names followed by
/// `;created=…;nonce="…";keyid="…";alg="…"`, in that order, each parameter only when given. This is
/// the `Signature-Input` value after `kyukit=` and the value of the `@signature-params` line.
pub fn signature_params(
    covered: &[&str],
    created: i64,
    nonce: Option<&str>,
    keyid: Option<&str>,
    alg: Option<&str>,
) -> Result<String> {
    let names = covered
        .iter()
        .map(|n| sf_string(n))
        .collect::<Result<Vec<_>>>()?;
    let mut out = format!("({});created={created}", names.join(" "));
    for (name, value) in [("nonce", nonce), ("keyid", keyid), ("alg", alg)] {
        if let Some(v) = value {
            out.push(';');
            out.push_str(name);
            out.push('=');
            out.push_str(&sf_string(v)?);
        }
    }
    Ok(out)
}

/// The signature base (RFC 9421 §2.5): one line `"<name>": <value>` per covered component, in
/// order, then `"@signature-params": <params>`; lines joined with `\n`, no trailing newline.
/// `params` is what [`signature_params`] returns (the `Signature-Input` value after the label).
pub fn signature_base(components: &[(&str, String)], params: &str) -> String {
    let mut base = String::new();
    for (name, value) in components {
        base.push('"');
        base.push_str(name);
        base.push_str("\": ");
        base.push_str(value);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(params);
    base
}

/// The `@authority` of a request to `url`: its host, lower-cased, with `:port` when the URL names
/// a port other than the scheme's default (exactly the `Host` header the client sends).
pub fn authority(url: &Url) -> Result<String> {
    let host = url
        .host_str()
        .ok_or_else(|| Error::Usage(format!("{url} has no host")))?
        .to_ascii_lowercase();
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// The covered components of a request, in the protocol's order, with their values:
/// `@method` (upper case), `@authority`, `@path` (as sent, percent-encoded), `@query` (`?` and the
/// query string, only when the URL has a non-empty query), `authorization` (trimmed, when
/// present), `content-digest` (when there is a body).
pub fn covered_components(
    method: &str,
    url: &Url,
    authorization: Option<&str>,
    content_digest: Option<&str>,
) -> Result<Vec<(&'static str, String)>> {
    let mut c = vec![
        ("@method", method.to_ascii_uppercase()),
        ("@authority", authority(url)?),
        ("@path", url.path().to_string()),
    ];
    if let Some(q) = url.query().filter(|q| !q.is_empty()) {
        c.push(("@query", format!("?{q}")));
    }
    if let Some(a) = authorization {
        c.push(("authorization", a.trim().to_string()));
    }
    if let Some(d) = content_digest {
        c.push(("content-digest", d.trim().to_string()));
    }
    Ok(c)
}

/// What a signed request carries besides its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// The `Host` header value, equal to the signed `@authority`.
    pub host: String,
    /// The `Content-Digest` header value, when there is a body.
    pub content_digest: Option<String>,
    /// The `Signature-Input` header value: `kyukit=(…);created=…;nonce="…";keyid="…";alg="…"`.
    pub signature_input: String,
    /// The `Signature` header value: `kyukit=:<base64 r‖s>:`.
    pub signature: String,
    /// The signature base that was signed (for tests and debugging).
    pub base: String,
}

/// One request to sign. `authorization` is the whole header value (`Bearer <token>`).
#[derive(Debug, Clone, Copy)]
pub struct RequestToSign<'a> {
    pub method: &'a str,
    pub url: &'a Url,
    pub authorization: Option<&'a str>,
    pub body: Option<&'a [u8]>,
}

/// Signs `req` as device `keyid` at time `created` with `nonce`.
pub fn sign_request(
    key: &DeviceKey,
    keyid: &str,
    created: i64,
    nonce: &str,
    req: RequestToSign<'_>,
) -> Result<SignedHeaders> {
    let digest = req.body.map(content_digest);
    let components = covered_components(req.method, req.url, req.authorization, digest.as_deref())?;
    let names: Vec<&str> = components.iter().map(|(n, _)| *n).collect();
    let params = signature_params(&names, created, Some(nonce), Some(keyid), Some(ALG))?;
    let base = signature_base(&components, &params);
    let sig = key.sign(base.as_bytes());
    Ok(SignedHeaders {
        host: authority(req.url)?,
        content_digest: digest,
        signature_input: format!("{LABEL}={params}"),
        signature: format!("{LABEL}=:{}:", STANDARD.encode(sig)),
        base,
    })
}

/// Verifies a 64-byte `r‖s` ECDSA P-256/SHA-256 signature over `base` (what the server does in
/// step 4; here for tests and for checking a signer against a verifier).
pub fn verify_base(key: &VerifyingKey, base: &str, signature: &[u8]) -> bool {
    Signature::from_slice(signature)
        .map(|sig| key.verify(base.as_bytes(), &sig).is_ok())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::DecodePublicKey;

    // ---- RFC 9421 Appendix B.2.4, "Signing a Response Using ecdsa-p256-sha256" ----
    //
    // Appendix B.2.4 is the RFC's only ecdsa-p256-sha256 example (it signs the test *response*).
    // Key: test-key-ecc-p256, Appendix B.1.3. Body of the test response: `{"message": "good dog"}`.

    /// B.1.3, public key (SubjectPublicKeyInfo PEM).
    const RFC_P256_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lf\n\
w0EkjqF7xB4FivAxzic30tMM4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==\n\
-----END PUBLIC KEY-----\n";
    /// B.1.3, the private scalar `d` (from the RFC's EC PRIVATE KEY), unpadded base64url.
    const RFC_P256_D: &str = "UpuF81l-kOxbjf7T4mNSv0r5tN67Gim7rnf6EFpcYDs";
    /// B.2.4, the `Signature: sig-b24=:…:` value.
    const RFC_B24_SIGNATURE: &str =
        "wNmSUAhwb5LxtOtOpNa6W5xj067m5hFrj0XQ4fvpaCLx0NKocgPquLgyahnzDnDAUy5eCdlYUEkLIj+32oiasw==";
    /// B.2.4, the signature base, written out independently of `signature_base`.
    const RFC_B24_BASE: &str = concat!(
        "\"@status\": 200\n",
        "\"content-type\": application/json\n",
        "\"content-digest\": sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:\n",
        "\"content-length\": 23\n",
        "\"@signature-params\": (\"@status\" \"content-type\" \"content-digest\" \"content-length\");created=1618884473;keyid=\"test-key-ecc-p256\"",
    );

    fn rfc_public_key() -> VerifyingKey {
        VerifyingKey::from_public_key_pem(RFC_P256_PUBLIC_PEM).unwrap()
    }

    /// The B.2.4 base built by this crate from the RFC's components and parameters.
    fn rfc_b24_base_built() -> String {
        use sha2::Sha512;
        let body = br#"{"message": "good dog"}"#;
        let digest = format!("sha-512=:{}:", STANDARD.encode(Sha512::digest(body)));
        let components = [
            ("@status", "200".to_string()),
            ("content-type", "application/json".to_string()),
            ("content-digest", digest),
            ("content-length", body.len().to_string()),
        ];
        let names: Vec<&str> = components.iter().map(|(n, _)| *n).collect();
        let params =
            signature_params(&names, 1_618_884_473, None, Some("test-key-ecc-p256"), None).unwrap();
        assert_eq!(
            format!("sig-b24={params}"),
            "sig-b24=(\"@status\" \"content-type\" \"content-digest\" \"content-length\");created=1618884473;keyid=\"test-key-ecc-p256\"",
            "the RFC's Signature-Input value"
        );
        signature_base(&components, &params)
    }

    #[test]
    fn rfc9421_b24_signature_verifies_over_our_base() {
        let base = rfc_b24_base_built();
        assert_eq!(base, RFC_B24_BASE);
        let sig = STANDARD.decode(RFC_B24_SIGNATURE).unwrap();
        assert_eq!(sig.len(), 64, "r‖s, not DER");
        assert!(verify_base(&rfc_public_key(), &base, &sig));
        // Any change to the base breaks it (the test is not vacuous).
        assert!(!verify_base(
            &rfc_public_key(),
            &base.replace("200", "201"),
            &sig
        ));
        assert!(!verify_base(&rfc_public_key(), &format!("{base}\n"), &sig));
    }

    #[test]
    fn rfc9421_test_key_signs_like_the_rfc_key() {
        // Our DeviceKey built from the RFC's private scalar has the RFC's public key, and what it
        // signs verifies under that public key.
        let d: [u8; 32] = URL_SAFE_NO_PAD
            .decode(RFC_P256_D)
            .unwrap()
            .try_into()
            .unwrap();
        let key = DeviceKey::from_secret_bytes(&d).unwrap();
        assert_eq!(key.verifying_key(), &rfc_public_key());
        let jwk = key.public_jwk();
        assert_eq!(jwk["x"], "qIVYZVLCrPZHGHjP17CTW0_-D9Lfw0EkjqF7xB4FivA");
        assert_eq!(jwk["y"], "Mc4nN9LTDOBhfoUeg8Ye9WedFRhnZXZJA12Qp0zZ6F0");
        let sig = key.sign(RFC_B24_BASE.as_bytes());
        assert!(verify_base(&rfc_public_key(), RFC_B24_BASE, &sig));
    }

    #[test]
    fn rfc9421_request_components_match_appendix_b() {
        // The test request of RFC 9421 Appendix B.2: POST https://example.com/foo?param=Value&Pet=dog
        // (B.2.3 covers "@method" "@path" "@query" "@authority" with these values).
        let url = Url::parse("https://example.com/foo?param=Value&Pet=dog").unwrap();
        let c = covered_components("post", &url, None, None).unwrap();
        let lines: Vec<String> = c.iter().map(|(n, v)| format!("\"{n}\": {v}")).collect();
        assert_eq!(
            lines,
            [
                "\"@method\": POST",
                "\"@authority\": example.com",
                "\"@path\": /foo",
                "\"@query\": ?param=Value&Pet=dog",
            ]
        );
    }

    #[test]
    fn rfc9530_content_digest() {
        // RFC 9530 §2 / RFC 9421 B.2: the SHA-256 digest of `{"hello": "world"}`, also the value in
        // docs/device-protocol.md's example.
        assert_eq!(
            content_digest(br#"{"hello": "world"}"#),
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
        );
    }

    /// The example signature base of docs/device-protocol.md, copied from the document.
    const DOC_EXAMPLE_BASE: &str = concat!(
        "\"@method\": POST\n",
        "\"@authority\": 127.0.0.1:8080\n",
        "\"@path\": /api/v1/sessions\n",
        "\"content-digest\": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\n",
        "\"@signature-params\": (\"@method\" \"@authority\" \"@path\" \"content-digest\");created=1795219200;nonce=\"q1bnbSZRk3FbxNhwcOcJWg\";keyid=\"0f1e2d3c4b5a69788796a5b4c3d2e1f0\";alg=\"ecdsa-p256-sha256\"",
    );

    #[test]
    fn doc_example_base_is_what_we_sign() {
        let key = DeviceKey::generate().unwrap();
        let url = Url::parse("http://127.0.0.1:8080/api/v1/sessions").unwrap();
        let signed = sign_request(
            &key,
            "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            1_795_219_200,
            "q1bnbSZRk3FbxNhwcOcJWg",
            RequestToSign {
                method: "POST",
                url: &url,
                authorization: None,
                body: Some(br#"{"hello": "world"}"#),
            },
        )
        .unwrap();
        assert_eq!(signed.base, DOC_EXAMPLE_BASE);
        assert_eq!(signed.host, "127.0.0.1:8080");
        assert_eq!(
            signed.content_digest.as_deref(),
            Some("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:")
        );
        assert_eq!(
            signed.signature_input,
            "kyukit=(\"@method\" \"@authority\" \"@path\" \"content-digest\");created=1795219200;nonce=\"q1bnbSZRk3FbxNhwcOcJWg\";keyid=\"0f1e2d3c4b5a69788796a5b4c3d2e1f0\";alg=\"ecdsa-p256-sha256\""
        );
        // The base ends with exactly the Signature-Input value after "kyukit=".
        assert!(
            signed
                .base
                .ends_with(&signed.signature_input["kyukit=".len()..])
        );
    }

    #[test]
    fn sign_then_verify_roundtrip() {
        let key = DeviceKey::generate().unwrap();
        let url = Url::parse("http://LocalHost:8080/api/v1/scans").unwrap();
        let nonce = new_nonce().unwrap();
        let signed = sign_request(
            &key,
            "00112233445566778899aabbccddeeff",
            1_800_000_000,
            &nonce,
            RequestToSign {
                method: "post",
                url: &url,
                authorization: Some("Bearer tok"),
                body: Some(b"{}"),
            },
        )
        .unwrap();
        let inner = signed
            .signature
            .strip_prefix("kyukit=:")
            .and_then(|s| s.strip_suffix(':'))
            .unwrap();
        let sig = STANDARD.decode(inner).unwrap();
        assert_eq!(sig.len(), 64);
        assert_eq!(inner.len(), 88, "standard base64 with padding");
        assert!(inner.ends_with("=="));
        assert!(verify_base(key.verifying_key(), &signed.base, &sig));
        // A verifier rebuilding the base from what was sent gets the same bytes.
        let rebuilt = signature_base(
            &covered_components(
                "POST",
                &url,
                Some(" Bearer tok "),
                signed.content_digest.as_deref(),
            )
            .unwrap(),
            &signed.signature_input["kyukit=".len()..],
        );
        assert_eq!(rebuilt, signed.base);
        assert!(signed.base.starts_with(
            "\"@method\": POST\n\"@authority\": localhost:8080\n\"@path\": /api/v1/scans\n\"authorization\": Bearer tok\n\"content-digest\": sha-256=:"
        ));
        // Another key does not verify it.
        let other = DeviceKey::generate().unwrap();
        assert!(!verify_base(other.verifying_key(), &signed.base, &sig));
    }

    #[test]
    fn get_with_query_covers_query_and_no_digest() {
        let key = DeviceKey::generate().unwrap();
        let url = Url::parse("http://127.0.0.1:39999/api/v1/accesses/ab%20cd?lang=ja&x=1").unwrap();
        let signed = sign_request(
            &key,
            "00112233445566778899aabbccddeeff",
            1_800_000_000,
            "AAAAAAAAAAAAAAAAAAAAAA",
            RequestToSign {
                method: "GET",
                url: &url,
                authorization: Some("Bearer t"),
                body: None,
            },
        )
        .unwrap();
        assert_eq!(
            signed.base,
            concat!(
                "\"@method\": GET\n",
                "\"@authority\": 127.0.0.1:39999\n",
                "\"@path\": /api/v1/accesses/ab%20cd\n",
                "\"@query\": ?lang=ja&x=1\n",
                "\"authorization\": Bearer t\n",
                "\"@signature-params\": (\"@method\" \"@authority\" \"@path\" \"@query\" \"authorization\");created=1800000000;nonce=\"AAAAAAAAAAAAAAAAAAAAAA\";keyid=\"00112233445566778899aabbccddeeff\";alg=\"ecdsa-p256-sha256\"",
            )
        );
        assert_eq!(signed.content_digest, None);
        // No query (or an empty one): no @query.
        for u in ["http://h/p", "http://h/p?"] {
            let url = Url::parse(u).unwrap();
            let c = covered_components("GET", &url, None, None).unwrap();
            assert!(c.iter().all(|(n, _)| *n != "@query"), "{u}");
        }
    }

    #[test]
    fn authority_drops_default_ports_only() {
        for (u, want) in [
            ("http://Example.COM/", "example.com"),
            ("http://example.com:80/", "example.com"),
            ("https://example.com:443/", "example.com"),
            ("https://example.com:8443/", "example.com:8443"),
            ("http://127.0.0.1:8080/", "127.0.0.1:8080"),
            ("http://[::1]:8080/", "[::1]:8080"),
        ] {
            assert_eq!(authority(&Url::parse(u).unwrap()).unwrap(), want, "{u}");
        }
    }

    #[test]
    fn nonce_shape() {
        let a = new_nonce().unwrap();
        let b = new_nonce().unwrap();
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn params_escape_and_refuse() {
        assert_eq!(
            signature_params(&["@method"], 1, None, Some(r#"a"b\c"#), None).unwrap(),
            r#"("@method");created=1;keyid="a\"b\\c""#
        );
        assert!(signature_params(&["@method"], 1, Some("é"), None, None).is_err());
    }
}
