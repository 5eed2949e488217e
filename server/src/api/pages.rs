//! Web pages embedded in the binary (no npm at run time): the resident portal (register, dataset,
//! consent, card and printables, 支援中止), the resident's access history (RULES R13) and the city
//! administrator's console. Each page is a static shell; its ES modules call the JSON API with the
//! user's bearer session (kept in `sessionStorage`). Strict CSP: same-origin scripts and styles
//! only; images also from `blob:` (the card's QR code is fetched with the session and shown as a
//! blob URL, since an `<img src>` cannot send the bearer token).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data: blob:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

fn page(body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// The root: a redirect to the landing page (a person who types the server's address lands there).
#[utoipa::path(
    get,
    path = "/",
    tag = "pages",
    responses((status = 303, description = "Redirect to `/pages/`, the landing page")),
)]
pub(crate) async fn root() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/pages/"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The landing page, in Japanese and English: links to each page (residents, access history,
/// paramedics, emergency departments, the city's console, the directory) and to the API document.
#[utoipa::path(
    get,
    path = "/pages/",
    tag = "pages",
    responses(
        (status = 200, description = "The page (static; no script)", content_type = "text/html", body = String),
    )
)]
pub(crate) async fn landing() -> HttpResponse {
    page(include_str!("../../assets/pages/index.html"))
}

/// The resident's (or proxy's) access history page, in Japanese and English.
#[utoipa::path(
    get,
    path = "/pages/access-history",
    tag = "pages",
    responses(
        (status = 200, description = "The page (it logs in and reads `/api/v1/residents/{rid}/access-history`)", content_type = "text/html", body = String),
    )
)]
pub(crate) async fn access_history() -> HttpResponse {
    page(include_str!("../../assets/pages/access-history.html"))
}

/// The resident portal, in Japanese and English: log in or register (yourself, or someone else as
/// their family member or care manager), the emergency dataset, consent, the card with its QR code
/// and printables, 支援中止.
#[utoipa::path(
    get,
    path = "/pages/resident",
    tag = "pages",
    responses(
        (status = 200, description = "The page (it calls the resident API: `/api/v1/residents…`, `/api/v1/proxies`, `/api/v1/sessions`)", content_type = "text/html", body = String),
    )
)]
pub(crate) async fn resident() -> HttpResponse {
    page(include_str!("../../assets/pages/resident.html"))
}

/// The city administrator's console, in Japanese and English: facility applications and
/// facilities, staff IDs, devices, disaster declarations, notices, break-glass reviews, keys and
/// the audit head.
#[utoipa::path(
    get,
    path = "/pages/admin",
    tag = "pages",
    responses(
        (status = 200, description = "The page (it logs in with TOTP and calls the city administrator's API)", content_type = "text/html", body = String),
    )
)]
pub(crate) async fn admin() -> HttpResponse {
    page(include_str!("../../assets/pages/admin.html"))
}

/// The public application for a facility to join, in Japanese and English: the form, then the
/// application's status page (`#id=…&token=…`: the token stays in the fragment, never sent here).
#[utoipa::path(
    get,
    path = "/pages/apply",
    tag = "pages",
    responses(
        (status = 200, description = "The page (it calls `POST /api/v1/facility-applications` and `GET /api/v1/facility-applications/{apid}`)", content_type = "text/html", body = String),
    )
)]
pub(crate) async fn apply() -> HttpResponse {
    page(include_str!("../../assets/pages/apply.html"))
}

/// The pages' scripts and styles.
#[utoipa::path(
    get,
    path = "/pages/assets/{file}",
    tag = "pages",
    params(("file" = String, Path, description = "`common.js`, `resident.js`, `admin.js`, `access-history.js` or `pages.css`")),
    responses(
        (status = 200, description = "The asset", content_type = "text/javascript", body = String),
        (status = 404, description = "No such asset", body = crate::api::error::ErrorBody),
    )
)]
pub(crate) async fn asset(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    const JS: &str = "text/javascript; charset=utf-8";
    let (body, ctype) = match file.as_str() {
        "access-history.js" => (include_str!("../../assets/pages/access-history.js"), JS),
        "common.js" => (include_str!("../../assets/pages/common.js"), JS),
        "resident.js" => (include_str!("../../assets/pages/resident.js"), JS),
        "photo.js" => (include_str!("../../assets/pages/photo.js"), JS),
        "proxies.js" => (include_str!("../../assets/pages/proxies.js"), JS),
        "apply.js" => (include_str!("../../assets/pages/apply.js"), JS),
        "multiadd.js" => (include_str!("../../assets/pages/multiadd.js"), JS),
        "consent.js" => (include_str!("../../assets/pages/consent.js"), JS),
        "reconfirm.js" => (include_str!("../../assets/pages/reconfirm.js"), JS),
        "withdrawn.js" => (include_str!("../../assets/pages/withdrawn.js"), JS),
        "admin.js" => (include_str!("../../assets/pages/admin.js"), JS),
        "admin-residents.js" => (include_str!("../../assets/pages/admin-residents.js"), JS),
        "pages.css" => (
            include_str!("../../assets/pages/pages.css"),
            "text/css; charset=utf-8",
        ),
        _ => {
            return HttpResponse::NotFound()
                .json(serde_json::json!({"error": "not_found", "message": "no such asset"}));
        }
    };
    let mut resp = HttpResponse::Ok();
    resp.insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type(ctype);
    super::compressed::send(&req, resp, &format!("pages/{file}"), body)
}
