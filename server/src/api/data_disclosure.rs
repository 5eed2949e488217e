//! Disclosure on request (RULES R13): everything held about a resident, and how it was used, as
//! JSON or as a bilingual PDF. For the resident and their proxies; the request is audited.

use super::openapi::{Internal, Unauthorized, Unavailable};
use crate::api::error::{ApiError, ErrorBody};
use crate::auth::Authenticated;
use crate::service::data_disclosure::{self, DataDisclosure};
use crate::state::AppState;
use actix_web::{HttpResponse, http::header, web};

/// Everything held about the resident: profile, dataset, consent history, cards (metadata),
/// proxies, disclosures to responders and the full access history. The request is audited
/// (`resident.disclosure`) and included.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{rid}/disclosure",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "The disclosure", body = DataDisclosure, headers(("Cache-Control" = String, description = "`private, no-store`"))),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for, or a malformed id", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn disclosure(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let d = web::block(move || data_disclosure::export(&db, &a, &rid, "json", now)).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .json(d))
}

/// The same disclosure as an A4 PDF in Japanese and English (times in JST).
#[utoipa::path(
    get,
    path = "/api/v1/residents/{rid}/disclosure.pdf",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "The disclosure as a PDF", content_type = "application/pdf", headers(("Cache-Control" = String, description = "`private, no-store`"), ("Content-Disposition" = String, description = "`inline; filename=\"disclosure.pdf\"`"))),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for, or a malformed id", body = ErrorBody),
        (status = 422, description = "`cannot_print`: more than 1,000 pages; use the JSON export", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn disclosure_pdf(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let bytes = web::block(move || data_disclosure::pdf(&db, &a, &rid, now)).await??;
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "inline; filename=\"disclosure.pdf\"",
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
}
