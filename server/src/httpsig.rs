//! The subset of RFC 9421 (HTTP Message Signatures) and RFC 9530 (`Content-Digest`) that field
//! devices use — see docs/device-protocol.md. Pure: parses the headers of one request and rebuilds
//! its signature base; the caller looks the key up and checks time and nonce.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// The signature label devices use.
pub const LABEL: &str = "kyukit";
/// The one algorithm accepted.
pub const ALG: &str = "ecdsa-p256-sha256";

/// What the signature covers, taken from the request.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// The `Host` header.
    pub authority: &'a str,
    pub path: &'a str,
    /// Without the `?`; empty when there is none.
    pub query: &'a str,
    pub authorization: Option<&'a str>,
    pub content_digest: Option<&'a str>,
    pub signature_input: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub body: &'a [u8],
}

/// A well-formed signature whose base has been rebuilt; not yet verified.
#[derive(Debug, Clone)]
pub struct Signed {
    pub keyid: String,
    pub created: i64,
    pub nonce: String,
    /// The RFC 9421 signature base.
    pub base: String,
    /// `r‖s`, 64 bytes.
    pub signature: [u8; 64],
}

/// Why a request's signature headers were refused (all map to `401 signature_invalid`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error("the request is not signed (Signature-Input and Signature headers)")]
    Missing,
    #[error("Signature-Input: {0}")]
    Input(&'static str),
    #[error("Signature: {0}")]
    Signature(&'static str),
    #[error("Content-Digest: {0}")]
    Digest(&'static str),
}

/// `sha-256=:<base64>:` of a body.
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)))
}

/// Parses the signature headers of a request and rebuilds the signature base.
/// Returns `Ok(None)` when the request carries neither signature header.
pub fn parse(req: &RequestParts<'_>) -> Result<Option<Signed>, SigError> {
    let (input, signature) = match (req.signature_input, req.signature) {
        (None, None) => return Ok(None),
        (Some(i), Some(s)) => (i.trim(), s.trim()),
        _ => return Err(SigError::Missing),
    };
    let params = input
        .strip_prefix(LABEL)
        .and_then(|r| r.strip_prefix('='))
        .ok_or(SigError::Input("expected one signature labelled kyukit"))?;
    let (components, rest) = inner_list(params)?;
    let p = parameters(rest)?;
    let signature = signature_value(signature)?;
    if p.alg != ALG {
        return Err(SigError::Input("alg must be ecdsa-p256-sha256"));
    }
    let required = |name: &str, needed: bool| -> Result<(), SigError> {
        if needed && !components.contains(&name) {
            return Err(SigError::Input("a required component is not covered"));
        }
        Ok(())
    };
    required("@method", true)?;
    required("@authority", true)?;
    required("@path", true)?;
    required("@query", !req.query.is_empty())?;
    required("authorization", req.authorization.is_some())?;
    required("content-digest", !req.body.is_empty())?;
    if !req.body.is_empty() {
        let sent = req
            .content_digest
            .ok_or(SigError::Digest("missing for a request with a body"))?;
        let expected = content_digest(req.body);
        let matches = sent
            .split(',')
            .map(str::trim)
            .filter(|m| m.starts_with("sha-256="))
            .any(|m| m == expected);
        if !matches {
            return Err(SigError::Digest("does not match the body (sha-256)"));
        }
    }
    let mut base = String::with_capacity(256);
    for c in &components {
        let value = match *c {
            "@method" => req.method.to_ascii_uppercase(),
            "@authority" => req.authority.trim().to_ascii_lowercase(),
            "@path" => req.path.to_string(),
            "@query" => format!("?{}", req.query),
            "authorization" => req
                .authorization
                .ok_or(SigError::Input("authorization is covered but absent"))?
                .trim()
                .to_string(),
            "content-digest" => req
                .content_digest
                .ok_or(SigError::Input("content-digest is covered but absent"))?
                .trim()
                .to_string(),
            _ => return Err(SigError::Input("unsupported component")),
        };
        base.push_str(&format!("\"{c}\": {value}\n"));
    }
    base.push_str(&format!("\"@signature-params\": {params}"));
    Ok(Some(Signed {
        keyid: p.keyid,
        created: p.created,
        nonce: p.nonce,
        base,
        signature,
    }))
}

/// `("a" "b" …)` → the names, and what follows the closing parenthesis.
fn inner_list(s: &str) -> Result<(Vec<&str>, &str), SigError> {
    let s = s
        .strip_prefix('(')
        .ok_or(SigError::Input("expected a component list"))?;
    let end = s
        .find(')')
        .ok_or(SigError::Input("unterminated component list"))?;
    let mut names: Vec<&str> = Vec::new();
    for item in s[..end].split(' ') {
        let name = item
            .strip_prefix('"')
            .and_then(|i| i.strip_suffix('"'))
            .filter(|n| !n.is_empty())
            .ok_or(SigError::Input(
                "components are quoted names separated by one space",
            ))?;
        if names.contains(&name) {
            return Err(SigError::Input("a component is listed twice"));
        }
        names.push(name);
    }
    Ok((names, &s[end + 1..]))
}

struct Params {
    created: i64,
    nonce: String,
    keyid: String,
    alg: String,
}

/// `;created=1;nonce="…";keyid="…";alg="…"` in any order, each exactly once.
fn parameters(s: &str) -> Result<Params, SigError> {
    let (mut created, mut nonce, mut keyid, mut alg) = (None, None, None, None);
    if s.is_empty() {
        return Err(SigError::Input(
            "created, nonce, keyid and alg are required",
        ));
    }
    let body = s
        .strip_prefix(';')
        .ok_or(SigError::Input("parameters start with ;"))?;
    for param in body.split(';') {
        let (k, v) = param
            .split_once('=')
            .ok_or(SigError::Input("a parameter has no value"))?;
        let quoted = || {
            v.strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .filter(|x| {
                    x.bytes()
                        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
                })
                .map(str::to_string)
                .ok_or(SigError::Input(
                    "a string parameter must be a plain quoted string",
                ))
        };
        let slot_taken = match k {
            "created" => created
                .replace(
                    v.parse::<i64>()
                        .ok()
                        .filter(|t| *t >= 0 && v.bytes().all(|b| b.is_ascii_digit()))
                        .ok_or(SigError::Input("created must be an integer"))?,
                )
                .is_some(),
            "nonce" => nonce.replace(quoted()?).is_some(),
            "keyid" => keyid.replace(quoted()?).is_some(),
            "alg" => alg.replace(quoted()?).is_some(),
            _ => return Err(SigError::Input("unsupported parameter")),
        };
        if slot_taken {
            return Err(SigError::Input("a parameter is given twice"));
        }
    }
    let nonce = nonce.ok_or(SigError::Input("nonce is required"))?;
    if !(16..=64).contains(&nonce.len())
        || !nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(SigError::Input("nonce: 16–64 base64url characters"));
    }
    Ok(Params {
        created: created.ok_or(SigError::Input("created is required"))?,
        nonce,
        keyid: keyid.ok_or(SigError::Input("keyid is required"))?,
        alg: alg.ok_or(SigError::Input("alg is required"))?,
    })
}

fn signature_value(s: &str) -> Result<[u8; 64], SigError> {
    let b64 = s
        .strip_prefix(LABEL)
        .and_then(|r| r.strip_prefix("=:"))
        .and_then(|r| r.strip_suffix(':'))
        .ok_or(SigError::Signature("expected kyukit=:<base64>:"))?;
    let raw = STANDARD
        .decode(b64)
        .map_err(|_| SigError::Signature("not base64"))?;
    raw.try_into()
        .map_err(|_| SigError::Signature("ES256 signatures are 64 bytes (r‖s)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(input: &'a str, body: &'a [u8], digest: Option<&'a str>) -> RequestParts<'a> {
        RequestParts {
            method: "post",
            authority: "127.0.0.1:8080",
            path: "/api/v1/sessions",
            query: "",
            authorization: None,
            content_digest: digest,
            signature_input: Some(input),
            signature: Some(
                "kyukit=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==:",
            ),
            body,
        }
    }

    const INPUT: &str = r#"kyukit=("@method" "@authority" "@path" "content-digest");created=1795219200;nonce="q1bnbSZRk3FbxNhwcOcJWg";keyid="0f1e2d3c4b5a69788796a5b4c3d2e1f0";alg="ecdsa-p256-sha256""#;

    #[test]
    fn rebuilds_the_documented_base() {
        let body = br#"{"hello": "world"}"#;
        let digest = content_digest(body);
        assert_eq!(
            digest,
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
        );
        let s = parse(&parts(INPUT, body, Some(&digest))).unwrap().unwrap();
        assert_eq!(
            s.base,
            "\"@method\": POST\n\"@authority\": 127.0.0.1:8080\n\"@path\": /api/v1/sessions\n\"content-digest\": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\n\"@signature-params\": (\"@method\" \"@authority\" \"@path\" \"content-digest\");created=1795219200;nonce=\"q1bnbSZRk3FbxNhwcOcJWg\";keyid=\"0f1e2d3c4b5a69788796a5b4c3d2e1f0\";alg=\"ecdsa-p256-sha256\""
        );
        assert_eq!(s.created, 1_795_219_200);
        assert_eq!(s.keyid, "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
    }

    #[test]
    fn refuses_what_it_must() {
        let body = br#"{"hello": "world"}"#;
        let digest = content_digest(body);
        // Body changed after digesting.
        assert!(matches!(
            parse(&parts(INPUT, b"{}", Some(&digest))),
            Err(SigError::Digest(_))
        ));
        // content-digest not covered while there is a body.
        let uncovered = INPUT.replace(r#" "content-digest""#, "");
        assert!(parse(&parts(&uncovered, body, Some(&digest))).is_err());
        // Other algorithms, labels, duplicate or unknown parameters, short nonces.
        for bad in [
            INPUT.replace("ecdsa-p256-sha256", "hmac-sha256"),
            INPUT.replace("kyukit=", "sig1="),
            INPUT.replace(";alg=", ";created=1;alg="),
            INPUT.replace(";alg=", ";expires=1;alg="),
            INPUT.replace("q1bnbSZRk3FbxNhwcOcJWg", "short"),
            INPUT.replace(
                r#""@method" "@authority""#,
                r#""@method" "@method" "@authority""#,
            ),
            INPUT.replace(r#""@path""#, r#""@target-uri""#),
        ] {
            assert!(parse(&parts(&bad, body, Some(&digest))).is_err(), "{bad}");
        }
        // Unsigned requests are not an error here (the caller decides).
        let mut p = parts(INPUT, body, None);
        p.signature_input = None;
        p.signature = None;
        assert!(parse(&p).unwrap().is_none());
    }
}
