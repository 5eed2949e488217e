//! The emergency department's pre-arrival endpoints (`/api/v1/hospital/incidents…`): an ED
//! staff member's bearer session.

use super::{attachment_response, incident_response};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::openapi::{BadBody, Internal, Unavailable, UnsupportedMediaType};
use crate::auth::Authenticated;
use crate::service::incidents::{
    self as svc, AnswerInput, CapacityInput, CapacityView, IncidentView, IncomingView, InquiryCodes,
};
use crate::service::report::Report;
use crate::state::AppState;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

/// The hospital's incoming list (no names).
#[utoipa::path(
    get,
    path = "/api/v1/hospital/incidents",
    tag = "pre-arrival",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Incidents this hospital is asked about, has accepted or is assigned, newest first", body = [IncomingView]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not ED staff", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn incoming(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let list = web::block(move || svc::incoming(&db, &auth.0, now)).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(list))
}

/// An involved hospital reads the incident (JSON, or FHIR with `Accept: application/fhir+json`).
#[utoipa::path(
    get,
    path = "/api/v1/hospital/incidents/{iid}",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The incident (this hospital's target only), or a FHIR R4 Bundle", body = IncidentView),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "`forbidden` (not ED staff), `not_involved` (declined, or the patient went elsewhere)", body = ErrorBody),
        (status = 404, description = "This hospital was never asked", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn ed_read(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, iid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let v = web::block(move || svc::ed_read(&db, &auth.0, &iid, now)).await??;
    Ok(incident_response(&state, &req, StatusCode::OK, &v))
}

/// Every version of the report, oldest first, for a hospital still involved.
#[utoipa::path(
    get,
    path = "/api/v1/hospital/incidents/{iid}/reports",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report versions, oldest first", body = [Report]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "`forbidden` (not ED staff), `not_involved`", body = ErrorBody),
        (status = 404, description = "This hospital was never asked", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn ed_reports(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, iid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let v = web::block(move || svc::ed_reports(&db, &auth.0, &iid, now)).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(v))
}

/// The ED has seen the alert: stops escalation, tells the crew.
#[utoipa::path(
    post,
    path = "/api/v1/hospital/incidents/{iid}/acknowledge",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The incident", body = IncidentView),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "`forbidden`, `not_involved`", body = ErrorBody),
        (status = 404, description = "This hospital was never asked", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn acknowledge(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, iid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let wake = state.wakers();
    let v = web::block(move || svc::acknowledge(&db, &auth.0, &iid, now, &wake)).await??;
    Ok(HttpResponse::Ok().json(v))
}

/// Accept or decline; the first acceptance wins.
#[utoipa::path(
    post,
    path = "/api/v1/hospital/incidents/{iid}/answer",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id")),
    request_body = AnswerInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The incident", body = IncidentView),
        (status = 400, response = BadBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "This hospital was never asked", body = ErrorBody),
        (status = 409, description = "`already_accepted` (another hospital was first), `already_answered`, `not_pending`, `incident_closed`", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_field` (a decline needs a `reason_code` or a `reason`; `other` needs a `reason`), `invalid_reason_code`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn answer(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<String>,
    input: web::Json<AnswerInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, iid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let wake = state.wakers();
    let accepting = input.decision == "accept";
    let actor = auth.0.clone();
    let v = web::block(move || svc::answer(&db, &auth.0, &iid, &input, now, &wake)).await??;
    // Family told of the acceptance (issue 27), when the resident's consent says so.
    if accepting && let Some(hospital) = actor.facility_id.clone() {
        let (db, iid) = (state.db.clone(), v.id.clone());
        let muni = actor.municipality_id.clone();
        let told = web::block(move || {
            crate::service::family::hospital_accepted(&db, &muni, &iid, &hospital, now)
        })
        .await
        .map_err(ApiError::internal)
        .and_then(|r| r);
        if let Err(e) = told {
            // The acceptance stands; the family notice is best effort.
            tracing::warn!(error = ?e, "family notice after an acceptance failed");
        }
    }
    Ok(HttpResponse::Ok().json(v))
}

/// An involved hospital downloads an attachment.
#[utoipa::path(
    get,
    path = "/api/v1/hospital/incidents/{iid}/attachments/{atid}",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id"), ("atid" = String, Path, description = "Attachment id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The bytes, with their content type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "`forbidden`, `not_involved`", body = ErrorBody),
        (status = 404, description = "No such attachment", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn ed_attachment(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let (iid, atid) = path.into_inner();
    let a = web::block(move || svc::ed_attachment(&db, &auth.0, &iid, &atid, now)).await??;
    Ok(attachment_response(a))
}

/// The ED's published capacity (応需情報), by category.
#[utoipa::path(
    get,
    path = "/api/v1/hospital/capacity",
    tag = "pre-arrival",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "This hospital's capacity per category (only the categories it published)", body = [CapacityView]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not ED staff", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn capacity(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let v = web::block(move || svc::capacity(&db, &auth.0, now)).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(v))
}

/// ED staff publish what their hospital can take now, per category; crews see it in
/// `GET /api/v1/hospitals`.
#[utoipa::path(
    put,
    path = "/api/v1/hospital/capacity",
    tag = "pre-arrival",
    request_body = CapacityInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "This hospital's capacity per category, after the change", body = [CapacityView]),
        (status = 400, response = BadBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not ED staff", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_capacity` (unknown category or status, a category twice), `invalid_field`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn set_capacity(
    state: web::Data<AppState>,
    auth: Authenticated,
    input: web::Json<CapacityInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let v = web::block(move || svc::set_capacity(&db, &auth.0, &input, now)).await??;
    Ok(HttpResponse::Ok().json(v))
}

/// The codes of the inquiry with their words (ja/en): decline reasons, capacity categories and
/// statuses. Public: codes, not data.
#[utoipa::path(
    get,
    path = "/api/v1/inquiry-codes",
    tag = "pre-arrival",
    responses(
        (status = 200, description = "Codes with their words", body = InquiryCodes),
    )
)]
pub(crate) async fn inquiry_codes() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .json(svc::inquiry_codes())
}
