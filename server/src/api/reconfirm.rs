//! Yearly re-confirmation (issue 26; `service::reconfirm`): the record's state and the one-tap
//! "nothing has changed" for the resident and their proxies; the city's list of stale records by
//! district, its reminder letters (one PDF) and its Web Push reminders.

use super::openapi::{BadBody, Internal, Unauthorized, Unavailable, UnsupportedMediaType};
use crate::api::error::{ApiError, ErrorBody};
use crate::auth::Authenticated;
use crate::service::reconfirm::{self, Confirmation, Reminded, StaleList};
use crate::state::AppState;
use actix_web::{HttpResponse, http::header, web};
use serde::Deserialize;

/// Which district (absent or empty: all).
#[derive(Debug, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DistrictQuery {
    /// A district as recorded on the residents (e.g. 水海道); absent: every district.
    pub district: Option<String>,
}

/// When the record was last confirmed, when it falls due, and whether it is stale now.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{rid}/confirmation",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "The record's re-confirmation state", body = Confirmation),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for, or a malformed id", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn get(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, m) = (
        state.db.clone(),
        state.clock.now(),
        state.config.reconfirm_after_months,
    );
    let c = web::block(move || reconfirm::get(&db, &a, &rid, m, now)).await??;
    Ok(HttpResponse::Ok().json(c))
}

/// "変わりありません / Nothing has changed": the resident or a proxy confirms the record as it
/// stands (audited `resident.reconfirm`); the next re-confirmation falls due a period later.
#[utoipa::path(
    post,
    path = "/api/v1/residents/{rid}/confirmation",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "Confirmed now", body = Confirmation),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for, or a malformed id", body = ErrorBody),
        (status = 409, description = "`not_active`: the record was withdrawn (支援中止)", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn confirm(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, m) = (
        state.db.clone(),
        state.clock.now(),
        state.config.reconfirm_after_months,
    );
    let c = web::block(move || reconfirm::reconfirm(&db, &a, &rid, m, now)).await??;
    Ok(HttpResponse::Ok().json(c))
}

/// The records past their re-confirmation period (city administrators): by district, address
/// and name, with the count per district. Audited (`reconfirm.list`).
#[utoipa::path(
    get,
    path = "/api/v1/reconfirmations",
    tag = "residents",
    security(("bearer" = [])),
    params(DistrictQuery),
    responses(
        (status = 200, description = "The stale records", body = StaleList),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: not a city administrator", body = ErrorBody),
        (status = 422, description = "`invalid_field`: the district is not acceptable text", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    q: web::Query<DistrictQuery>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, m) = (
        state.db.clone(),
        state.clock.now(),
        state.config.reconfirm_after_months,
    );
    let l = web::block(move || reconfirm::list(&db, &a, q.district.as_deref(), m, now)).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .json(l))
}

/// Reminder letters to the stale records' residents as one A4 PDF, a letter a page, in district
/// and address order (city administrators). Each letter is audited (`reconfirm.letter`).
#[utoipa::path(
    get,
    path = "/api/v1/reconfirmations/letters.pdf",
    tag = "residents",
    security(("bearer" = [])),
    params(DistrictQuery),
    responses(
        (status = 200, description = "The letters", content_type = "application/pdf", headers(("X-Kyukit-Letters" = String, description = "How many letters"))),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: not a city administrator", body = ErrorBody),
        (status = 409, description = "`nothing_to_print`: no stale record (in that district)", body = ErrorBody),
        (status = 422, description = "`batch_too_large`: over 5,000 letters; print by district", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn letters(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    q: web::Query<DistrictQuery>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, m) = (
        state.db.clone(),
        state.clock.now(),
        state.config.reconfirm_after_months,
    );
    let portal = format!("{}pages/resident", state.config.public_url);
    let (n, pdf) =
        web::block(move || reconfirm::letters(&db, &a, q.district.as_deref(), m, &portal, now))
            .await??;
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "inline; filename=\"reconfirmation-letters.pdf\"",
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header(("X-Kyukit-Letters", n.to_string()))
        .body(pdf))
}

/// A Web Push reminder to the browsers each stale record's resident and proxies registered, once
/// per period (city administrators): a fixed text, no name, nothing medical. Each resident
/// reminded is audited (`reconfirm.remind`).
#[utoipa::path(
    post,
    path = "/api/v1/reconfirmations/reminders",
    tag = "residents",
    security(("bearer" = [])),
    request_body = DistrictQuery,
    responses(
        (status = 200, description = "What was sent", body = Reminded),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: not a city administrator", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_field`: the district is not acceptable text", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn remind(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    body: web::Json<DistrictQuery>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, m) = (
        state.db.clone(),
        state.clock.now(),
        state.config.reconfirm_after_months,
    );
    let r =
        web::block(move || reconfirm::remind(&db, &a, body.district.as_deref(), m, now)).await??;
    if r.pushes > 0 {
        state.push.wake();
    }
    Ok(HttpResponse::Ok().json(r))
}
