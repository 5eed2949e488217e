//! The identity photo (issue 19): the resident or a proxy uploads, reads and deletes it with a
//! bearer session; the paramedic who scanned the card reads it with a signed request within the
//! scan's grant. Rules in `service::photo` and `service::access::photo`.

use super::extract::{header_str, signed};
use super::openapi::{Internal, Unauthorized, Unavailable};
use crate::api::error::{ApiError, ErrorBody};
use crate::audit::Action;
use crate::auth::Authenticated;
use crate::service::access;
use crate::service::photo::{self as svc, MAX_PHOTO_BYTES, Photo, PhotoInfo};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// The photo as an image response: never cached, never sniffed, never a document.
fn image(p: Photo) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/jpeg")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ))
        .body(p.jpeg)
}

/// Reads a body of at most [`MAX_PHOTO_BYTES`] (`413 payload_too_large` beyond, and at once when
/// `Content-Length` says so: nothing of a larger body is buffered).
async fn read_limited(req: &HttpRequest, mut payload: web::Payload) -> Result<Vec<u8>, ApiError> {
    use futures_util::StreamExt;
    let declared = header_str(req, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_PHOTO_BYTES as u64) {
        return Err(svc::too_large_body());
    }
    let mut buf = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::bad_request("invalid_body", "the request body could not be read")
        })?;
        if buf.len() + chunk.len() > MAX_PHOTO_BYTES {
            return Err(svc::too_large_body());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Upload or replace the photo for identity check: the raw JPEG or PNG as the body, at most
/// 5 MB and 4096×4096 pixels. The server decodes it, turns it upright, scales it to at most
/// 800 px and stores its own JPEG (no EXIF, GPS or other metadata of the upload). Needs `photo`
/// in the consent in force.
#[utoipa::path(
    put,
    path = "/api/v1/residents/{rid}/photo",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses(
        (status = 200, description = "The stored photo's description", body = PhotoInfo),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for", body = ErrorBody),
        (status = 409, description = "`photo_not_consented`: `photo` is not in the consent in force; `withdrawn`: 支援中止", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: over 5 MB", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not image/jpeg or image/png", body = ErrorBody),
        (status = 422, description = "`not_an_image`: the bytes are not a readable image of the declared type; `image_too_large`: over 4096×4096 pixels", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn put(
    state: web::Data<AppState>,
    req: HttpRequest,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_limited(&req, payload).await?;
    let ct = header_str(&req, "content-type")
        .unwrap_or_default()
        .to_string();
    let (db, now) = (state.db.clone(), state.clock.now());
    let info = web::block(move || svc::upload(&db, &a, &rid, &ct, &body, now)).await??;
    Ok(HttpResponse::Ok().json(info))
}

/// The photo for identity check, for the resident and their proxies (`image/jpeg`).
#[utoipa::path(
    get,
    path = "/api/v1/residents/{rid}/photo",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "The stored JPEG", content_type = "image/jpeg", body = Vec<u8>),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`no_photo`; `not_found`: no such resident, or not one the caller acts for", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn get(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let p = web::block(move || svc::own(&db, &a, &rid)).await??;
    Ok(image(p))
}

/// Delete the photo for identity check.
#[utoipa::path(
    delete,
    path = "/api/v1/residents/{rid}/photo",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`no_photo`; `not_found`: no such resident, or not one the caller acts for", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn delete(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    web::block(move || svc::delete(&db, &a, &rid, now)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// The photo for identity check of a scan, for the paramedic who scanned, on the same device,
/// within the grant, while `photo` is consented (`image/jpeg`). Signed like a re-read.
#[utoipa::path(
    get,
    path = "/api/v1/accesses/{aid}/photo",
    tag = "field",
    params(("aid" = String, Path, description = "The access id from a scan")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stored JPEG", content_type = "image/jpeg", body = Vec<u8>),
        (status = 401, description = "Device or session refused", body = ErrorBody),
        (status = 403, description = "`photo_not_consented`, `photo_scan_only`, `access_expired`, `card_revoked`, `consent_withdrawn`", body = ErrorBody),
        (status = 404, description = "`no_photo`; `not_found`: not this paramedic's access on this device", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn for_access(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (now, aid) = (state.clock.now(), path.into_inner());
    let p = signed(
        &state,
        &req,
        &[],
        Action::ReadPhoto,
        true,
        move |db, actor, by| access::photo(db, &actor, &by, &aid, now),
    )
    .await?;
    Ok(image(p))
}
