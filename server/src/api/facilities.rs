//! Facilities, their staff and devices, and the city's review of break-glass use.

use super::openapi::{
    BadBody, Internal, PayloadTooLarge, Unauthorized, Unavailable, UnsupportedMediaType,
};
use crate::api::error::{ApiError, ErrorBody};
use crate::auth::Authenticated;
use crate::service::access::{self, BreakGlassRecord, ReviewInput};
use crate::service::accounts::NewStaff;
use crate::service::admin::{self, AuditHead};
use crate::service::devices::{
    self, CodeInput, EnrollInput, Enrolled, EnrollmentCode, RevokeInput,
};
use crate::service::facilities::{self, Facility, FacilityInput, Staff};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FacilityList {
    pub facilities: Vec<Facility>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceList {
    pub devices: Vec<devices::Device>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReviewList {
    pub accesses: Vec<crate::service::review_view::ReviewEntry>,
}

/// Create a facility (city administrators).
#[utoipa::path(
    post,
    path = "/api/v1/facilities",
    tag = "facilities",
    request_body = FacilityInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Facility),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not a city administrator", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_field`, `invalid_text`, `invalid_phone`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn create(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: web::Json<FacilityInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let f = web::block(move || facilities::create(&db, &actor, &body, now)).await??;
    Ok(HttpResponse::Created().json(f))
}

/// The municipality's facilities (staff).
#[utoipa::path(
    get,
    path = "/api/v1/facilities",
    tag = "facilities",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Facilities", body = FacilityList),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Residents and proxies", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let facilities = web::block(move || facilities::list(&db, &actor)).await??;
    Ok(HttpResponse::Ok().json(FacilityList { facilities }))
}

/// Add a staff member to a facility (city administrators; facility managers for paramedics and
/// ED staff of their own facility).
#[utoipa::path(
    post,
    path = "/api/v1/facilities/{fid}/staff",
    tag = "facilities",
    request_body = NewStaff,
    params(("fid" = String, Path, description = "Facility id")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Staff),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not this facility's manager or a city administrator", body = ErrorBody),
        (status = 404, description = "`not_found`: no such facility", body = ErrorBody),
        (status = 409, description = "`login_id_taken`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_role`, `invalid_facility`, `invalid_login_id`, `weak_password`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn add_staff(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
    body: web::Json<NewStaff>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, fid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let s = web::block(move || facilities::add_staff(&db, &actor, &fid, &body, now)).await??;
    Ok(HttpResponse::Created().json(s))
}

/// Create a one-time device enrollment code (facility manager or city administrator).
#[utoipa::path(
    post,
    path = "/api/v1/facilities/{fid}/enrollment-codes",
    tag = "devices",
    request_body = CodeInput,
    params(("fid" = String, Path, description = "Facility id")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The code (shown once)", body = EnrollmentCode),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not this facility's manager or a city administrator", body = ErrorBody),
        (status = 404, description = "No such facility", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_field`, `invalid_text`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn create_code(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
    body: web::Json<CodeInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, fid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let c = web::block(move || devices::create_code(&db, &actor, &fid, &body, now)).await??;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(c))
}

/// A facility's devices.
#[utoipa::path(
    get,
    path = "/api/v1/facilities/{fid}/devices",
    tag = "devices",
    params(("fid" = String, Path, description = "Facility id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Devices, newest first", body = DeviceList),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not this facility's manager or a city administrator", body = ErrorBody),
        (status = 404, description = "`not_found`: no such facility", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn devices(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, fid) = (state.db.clone(), path.into_inner());
    let devices = web::block(move || devices::list(&db, &actor, &fid)).await??;
    Ok(HttpResponse::Ok().json(DeviceList { devices }))
}

/// Enroll a device with a one-time code and its P-256 public key (no login: the code is the
/// credential).
#[utoipa::path(
    post,
    path = "/api/v1/devices",
    tag = "devices",
    request_body = EnrollInput,
    responses(
        (status = 201, description = "Enrolled", body = Enrolled),
        (status = 400, response = BadBody),
        (status = 403, description = "`enrollment_code_used`, `enrollment_code_expired`", body = ErrorBody),
        (status = 404, description = "`enrollment_code_unknown`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_public_key`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn enroll(
    state: web::Data<AppState>,
    body: web::Json<EnrollInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, muni, now) = (
        state.db.clone(),
        state.default_municipality.clone(),
        state.clock.now(),
    );
    let mut e = web::block(move || devices::enroll(&db, &muni, &body, now)).await??;
    e.trust_list_key = Some(state.trust.public().to_jwk().map_err(ApiError::internal)?);
    Ok(HttpResponse::Created().json(e))
}

/// Revoke a device (lost, stolen, retired): its sessions end and its next request is refused.
#[utoipa::path(
    post,
    path = "/api/v1/devices/{did}/revoke",
    tag = "devices",
    request_body = RevokeInput,
    params(("did" = String, Path, description = "Device id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Revoked", body = devices::Device),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such device (or not the caller's facility)", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_text`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn revoke(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
    body: web::Json<RevokeInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, did) = (state.db.clone(), state.clock.now(), path.into_inner());
    let d = web::block(move || devices::revoke(&db, &actor, &did, &body, now)).await??;
    Ok(HttpResponse::Ok().json(d))
}

/// Break-glass accesses waiting for the city's review (city administrators).
#[utoipa::path(
    get,
    path = "/api/v1/reviews/break-glass",
    tag = "reviews",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Pending reviews, oldest first", body = ReviewList),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not a city administrator", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn reviews(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let accesses = web::block(move || crate::service::review_view::pending(&db, &actor)).await??;
    Ok(HttpResponse::Ok().json(ReviewList { accesses }))
}

/// Record the city's decision on a break-glass access.
#[utoipa::path(
    post,
    path = "/api/v1/reviews/break-glass/{aid}",
    tag = "reviews",
    request_body = ReviewInput,
    params(("aid" = String, Path, description = "Access id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Reviewed", body = BreakGlassRecord),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not a city administrator", body = ErrorBody),
        (status = 404, description = "No such break-glass access", body = ErrorBody),
        (status = 409, description = "`already_reviewed`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_field`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn review(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
    body: web::Json<ReviewInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, aid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let r = web::block(move || access::review(&db, &actor, &aid, &body, now)).await??;
    Ok(HttpResponse::Ok().json(r))
}

/// The audit chain's head, to publish (city administrators).
#[utoipa::path(
    get,
    path = "/api/v1/audit/head",
    tag = "reviews",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The last sequence number and hash", body = AuditHead),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not a city administrator", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn audit_head(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let head = web::block(move || admin::audit_head(&db, &actor, now)).await??;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(head))
}
