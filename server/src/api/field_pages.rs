//! The paramedic PWA (`/pages/field`) and the emergency department's board (`/pages/ed`): static
//! shells and ES modules embedded in the binary (`cargo run` needs no npm; the one npm-built
//! asset, `jsqr.js`, is committed with its lockfile and rebuild script under
//! `tests/browser/field/`). The pages call the JSON API; the PWA signs its requests with the
//! device's WebCrypto key (docs/device-protocol.md). Strict CSP: same-origin scripts, styles,
//! manifest and workers only; no inline script.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Camera frames (`mediastream:`/`blob:` video), the decoder's canvas (`blob:`/`data:` images),
/// the manifest and the service workers are all same-origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data: blob:; media-src 'self' blob: mediastream:; \
                   manifest-src 'self'; worker-src 'self'; form-action 'none'; \
                   frame-ancestors 'none'; base-uri 'none'";

const JS: &str = "text/javascript; charset=utf-8";

/// (name, bytes, content type) of every asset under `/pages/field/`.
const ASSETS: &[(&str, &str, &str)] = &[
    ("field.js", include_str!("../../assets/field/field.js"), JS),
    ("ed.js", include_str!("../../assets/field/ed.js"), JS),
    (
        "vitals.js",
        include_str!("../../assets/field/vitals.js"),
        JS,
    ),
    ("card.js", include_str!("../../assets/field/card.js"), JS),
    ("trust.js", include_str!("../../assets/field/trust.js"), JS),
    (
        "household.js",
        include_str!("../../assets/field/household.js"),
        JS,
    ),
    (
        "dataset.js",
        include_str!("../../assets/field/dataset.js"),
        JS,
    ),
    (
        "httpsig.js",
        include_str!("../../assets/field/httpsig.js"),
        JS,
    ),
    ("i18n.js", include_str!("../../assets/field/i18n.js"), JS),
    ("store.js", include_str!("../../assets/field/store.js"), JS),
    ("net.js", include_str!("../../assets/field/net.js"), JS),
    ("api.js", include_str!("../../assets/field/api.js"), JS),
    ("dom.js", include_str!("../../assets/field/dom.js"), JS),
    (
        "errors.js",
        include_str!("../../assets/field/errors.js"),
        JS,
    ),
    (
        "outbox.js",
        include_str!("../../assets/field/outbox.js"),
        JS,
    ),
    (
        "alerts.js",
        include_str!("../../assets/field/alerts.js"),
        JS,
    ),
    (
        "reportform.js",
        include_str!("../../assets/field/reportform.js"),
        JS,
    ),
    (
        "firstscreen.js",
        include_str!("../../assets/field/firstscreen.js"),
        JS,
    ),
    (
        "scanner.js",
        include_str!("../../assets/field/scanner.js"),
        JS,
    ),
    ("jsqr.js", include_str!("../../assets/field/jsqr.js"), JS),
    (
        "session.js",
        include_str!("../../assets/field/session.js"),
        JS,
    ),
    (
        "webauthn.js",
        include_str!("../../assets/field/webauthn.js"),
        JS,
    ),
    (
        "nocard.js",
        include_str!("../../assets/field/nocard.js"),
        JS,
    ),
    (
        "i18n-auth.js",
        include_str!("../../assets/field/i18n-auth.js"),
        JS,
    ),
    ("sw.js", include_str!("../../assets/field/sw.js"), JS),
    ("ed-sw.js", include_str!("../../assets/field/ed-sw.js"), JS),
    (
        "field.css",
        include_str!("../../assets/field/field.css"),
        "text/css; charset=utf-8",
    ),
    (
        "icon.svg",
        include_str!("../../assets/field/icon.svg"),
        "image/svg+xml",
    ),
    (
        "manifest.webmanifest",
        include_str!("../../assets/field/manifest.webmanifest"),
        "application/manifest+json",
    ),
];

const FIELD_HTML: &str = include_str!("../../assets/field/field.html");
const ED_HTML: &str = include_str!("../../assets/field/ed.html");

/// A hash of every page and asset: the service worker's cache name, so any change to the shell
/// installs a new worker and drops the old cache.
fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let mut h = Sha256::new();
        for (name, body, _) in ASSETS {
            h.update(name.as_bytes());
            h.update(body.as_bytes());
        }
        h.update(FIELD_HTML.as_bytes());
        h.update(ED_HTML.as_bytes());
        hex::encode(&h.finalize()[..8])
    })
}

/// The service worker with its version filled in.
fn service_worker() -> &'static str {
    static SW: OnceLock<String> = OnceLock::new();
    SW.get_or_init(|| {
        let src = ASSETS
            .iter()
            .find(|(n, _, _)| *n == "sw.js")
            .map(|(_, b, _)| *b)
            .unwrap_or_default();
        src.replace("__VERSION__", version())
    })
}

fn html(body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        // Revalidated online; offline the service worker's copy serves.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("Permissions-Policy", "camera=(self), microphone=()"))
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// The paramedic app (installable PWA, ja/en): enrolment, login, card reading and offline
/// verification, the consented dataset, the pre-arrival report and the acceptance inquiry.
#[utoipa::path(
    get,
    path = "/pages/field",
    tag = "pages",
    responses(
        (status = 200, description = "The app shell (its modules sign requests with the device key)", content_type = "text/html", body = String),
    )
)]
pub(crate) async fn field_app() -> HttpResponse {
    html(FIELD_HTML)
}

/// The emergency department's board (ja/en): live incoming list, acknowledge, accept, decline.
#[utoipa::path(
    get,
    path = "/pages/ed",
    tag = "pages",
    responses(
        (status = 200, description = "The board (it logs in and reads `/api/v1/hospital/…`)", content_type = "text/html", body = String),
    )
)]
pub(crate) async fn ed_dashboard() -> HttpResponse {
    html(ED_HTML)
}

/// The scripts, styles, manifest, icon and service workers of the two pages.
#[utoipa::path(
    get,
    path = "/pages/field/{asset}",
    tag = "pages",
    params(("asset" = String, Path, description = "e.g. `field.js`, `field.css`, `sw.js`, `manifest.webmanifest`")),
    responses(
        (status = 200, description = "The asset", content_type = "text/javascript", body = String),
        (status = 404, description = "No such asset", body = crate::api::error::ErrorBody),
    )
)]
pub(crate) async fn asset(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    let Some((name, body, ctype)) = ASSETS.iter().find(|(n, _, _)| *n == name.as_str()) else {
        return HttpResponse::NotFound()
            .json(serde_json::json!({"error": "not_found", "message": "no such asset"}));
    };
    let mut resp = HttpResponse::Ok();
    resp.insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .content_type(*ctype);
    match *name {
        // Workers are always revalidated; the app's may control the whole origin, so that it can
        // open card URLs (/c/…) on an enrolled device, the board's only its own page.
        "sw.js" => {
            resp.insert_header((header::CACHE_CONTROL, "no-cache"))
                .insert_header(("Service-Worker-Allowed", "/"));
            return super::compressed::send(&req, resp, "field/sw.js", service_worker());
        }
        "ed-sw.js" => {
            resp.insert_header((header::CACHE_CONTROL, "no-cache"))
                .insert_header(("Service-Worker-Allowed", "/pages/ed"));
        }
        _ => {
            resp.insert_header((header::CACHE_CONTROL, "no-cache"));
        }
    }
    super::compressed::send(&req, resp, &format!("field/{name}"), body)
}
