//! Static pages and scripts sent gzip-compressed to clients that accept it. They are public (no
//! secret to leak through a compression side channel, so the JSON API is left alone) and embedded
//! in the binary, so each is compressed once, on its first request, and kept. On a slow mobile
//! network this is most of the paramedic app's first download (bench/field_network.mjs).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

/// Bodies shorter than this go as they are (a gzip header would not pay for itself).
const MIN_LEN: usize = 1024;

/// Whether the request's `Accept-Encoding` lists gzip with a non-zero quality.
fn accepts_gzip(req: &HttpRequest) -> bool {
    let Some(v) = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    v.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let zero = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        name.eq_ignore_ascii_case("gzip") && !zero
    })
}

/// The gzip of `body`, computed once per `key` and kept for the life of the process (the set of
/// keys is the fixed set of embedded assets).
fn gzipped(key: &str, body: &'static str) -> &'static [u8] {
    static CACHE: OnceLock<Mutex<HashMap<String, &'static [u8]>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    map.entry(key.to_string()).or_insert_with(|| {
        let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 3), Compression::best());
        // Writing into a Vec cannot fail.
        let _ = enc.write_all(body.as_bytes());
        Box::leak(enc.finish().unwrap_or_default().into_boxed_slice())
    })
}

/// Finishes `resp` with `body`: gzip-compressed (and `Vary: Accept-Encoding`) when the client
/// accepts it and the body is worth compressing.
pub(crate) fn send(
    req: &HttpRequest,
    mut resp: HttpResponseBuilder,
    key: &str,
    body: &'static str,
) -> HttpResponse {
    resp.insert_header((header::VARY, "Accept-Encoding"));
    if body.len() < MIN_LEN || !accepts_gzip(req) {
        return resp.body(body);
    }
    let gz = gzipped(key, body);
    if gz.is_empty() {
        return resp.body(body);
    }
    resp.insert_header((header::CONTENT_ENCODING, "gzip"))
        .body(gz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use flate2::read::GzDecoder;
    use std::io::Read;

    #[test]
    fn gzip_only_when_accepted() {
        let req = |v: &str| {
            TestRequest::default()
                .insert_header((header::ACCEPT_ENCODING, v))
                .to_http_request()
        };
        assert!(accepts_gzip(&req("gzip, deflate, br")));
        assert!(accepts_gzip(&req("br;q=1.0, GZIP;q=0.5")));
        assert!(!accepts_gzip(&req("gzip;q=0, br")));
        assert!(!accepts_gzip(&req("identity")));
        assert!(!accepts_gzip(&TestRequest::default().to_http_request()));
    }

    #[test]
    fn the_gzip_decodes_to_the_body() {
        let body: &'static str = Box::leak("const x = 1;\n".repeat(500).into_boxed_str());
        let gz = gzipped("test-body", body);
        assert!(gz.len() < body.len() / 10, "{} of {}", gz.len(), body.len());
        let mut out = String::new();
        GzDecoder::new(gz).read_to_string(&mut out).expect("gunzip");
        assert_eq!(out, body);
    }
}
