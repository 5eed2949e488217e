//! Web pages embedded in the binary (no npm at run time). Today: the resident's access history
//! (RULES R13). The page is a static shell; its ES module calls the JSON API with the resident's
//! bearer session (kept in `sessionStorage`). Strict CSP: same-origin scripts and styles only.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/pages/access-history", web::get().to(access_history))
        .route("/pages/assets/{file}", web::get().to(asset));
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

fn page(body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/html; charset=utf-8")
        .body(body)
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

/// The pages' scripts and styles.
#[utoipa::path(
    get,
    path = "/pages/assets/{file}",
    tag = "pages",
    params(("file" = String, Path, description = "`access-history.js` or `pages.css`")),
    responses(
        (status = 200, description = "The asset", content_type = "text/javascript", body = String),
        (status = 404, description = "No such asset", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn asset(file: web::Path<String>) -> HttpResponse {
    let (body, ctype) = match file.as_str() {
        "access-history.js" => (
            include_str!("../../assets/pages/access-history.js"),
            "text/javascript; charset=utf-8",
        ),
        "pages.css" => (
            include_str!("../../assets/pages/pages.css"),
            "text/css; charset=utf-8",
        ),
        _ => {
            return HttpResponse::NotFound()
                .json(serde_json::json!({"error": "not_found", "message": "no such asset"}));
        }
    };
    HttpResponse::Ok()
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type(ctype)
        .body(body)
}
