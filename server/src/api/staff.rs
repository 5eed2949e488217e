//! Staff IDs (RULES R2, R4, R7): list, suspend, reinstate, reissue; suspend a facility; change
//! one's own password.

use super::extract;
use super::openapi::{
    BadBody, Internal, PayloadTooLarge, Unauthorized, Unavailable, UnsupportedMediaType,
};
use crate::api::error::{ApiError, ErrorBody};
use crate::audit::{Action, Outcome};
use crate::auth::{Authenticated, bearer};
use crate::ratelimit::Limit;
use crate::service::staff::{
    self, FacilitySuspended, PasswordChange, ReasonInput, ReissueInput, Reissued, StaffAccount,
};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffList {
    pub accounts: Vec<StaffAccount>,
}

/// Staff accounts (city administrators: all; facility managers: their facility's).
#[utoipa::path(get, path = "/api/v1/accounts", tag = "staff", security(("bearer" = [])),
    responses(
        (status = 200, description = "Staff accounts", body = StaffList),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not a city administrator or facility manager", body = ErrorBody),
        (status = 500, response = Internal), (status = 503, response = Unavailable),
    ))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let accounts = web::block(move || staff::list(&db, &actor)).await??;
    Ok(HttpResponse::Ok().json(StaffList { accounts }))
}

/// Suspend an ID at once (RULES R4): its sessions end now.
#[utoipa::path(post, path = "/api/v1/accounts/{aid}/suspend", tag = "staff", request_body = ReasonInput,
    params(("aid" = String, Path, description = "Account id")), security(("bearer" = [])),
    responses(
        (status = 200, description = "Suspended", body = StaffAccount),
        (status = 400, response = BadBody), (status = 401, response = Unauthorized),
        (status = 404, description = "No such staff account the caller manages", body = ErrorBody),
        (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_text`", body = ErrorBody),
        (status = 500, response = Internal), (status = 503, response = Unavailable),
    ))]
pub(crate) async fn suspend(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
    body: web::Json<ReasonInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, aid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let a = web::block(move || staff::suspend(&db, &actor, &aid, &body, now)).await??;
    Ok(HttpResponse::Ok().json(a))
}

/// Reinstate a suspended ID (city administrators; not a replaced one).
#[utoipa::path(post, path = "/api/v1/accounts/{aid}/reinstate", tag = "staff",
    params(("aid" = String, Path, description = "Account id")), security(("bearer" = [])),
    responses(
        (status = 200, description = "Active again", body = StaffAccount),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not a city administrator", body = ErrorBody),
        (status = 404, description = "No such staff account", body = ErrorBody),
        (status = 409, description = "`replaced`", body = ErrorBody),
        (status = 500, response = Internal), (status = 503, response = Unavailable),
    ))]
pub(crate) async fn reinstate(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, aid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let a = web::block(move || staff::reinstate(&db, &actor, &aid, now)).await??;
    Ok(HttpResponse::Ok().json(a))
}

/// A lost or leaked credential (RULES R2): stop the ID and issue a new one.
#[utoipa::path(post, path = "/api/v1/accounts/{aid}/reissue", tag = "staff", request_body = ReissueInput,
    params(("aid" = String, Path, description = "Account id")), security(("bearer" = [])),
    responses(
        (status = 201, description = "The old ID is stopped; the new one with its second factor (shown once)", body = Reissued),
        (status = 400, response = BadBody), (status = 401, response = Unauthorized),
        (status = 403, description = "Not a city administrator", body = ErrorBody),
        (status = 404, description = "No such staff account", body = ErrorBody),
        (status = 409, description = "`login_id_taken`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_login_id`, `weak_password`, `invalid_text`", body = ErrorBody),
        (status = 500, response = Internal), (status = 503, response = Unavailable),
    ))]
pub(crate) async fn reissue(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
    body: web::Json<ReissueInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, aid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let r = web::block(move || staff::reissue(&db, &actor, &aid, &body, now)).await??;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(r))
}

/// Suspend a facility (RULES R4): its staff's sessions end and its devices are revoked.
#[utoipa::path(post, path = "/api/v1/facilities/{fid}/suspend", tag = "staff", request_body = ReasonInput,
    params(("fid" = String, Path, description = "Facility id")), security(("bearer" = [])),
    responses(
        (status = 200, description = "Suspended", body = FacilitySuspended),
        (status = 400, response = BadBody), (status = 401, response = Unauthorized),
        (status = 403, description = "Not a city administrator", body = ErrorBody),
        (status = 404, description = "No such facility", body = ErrorBody),
        (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_text`", body = ErrorBody),
        (status = 500, response = Internal), (status = 503, response = Unavailable),
    ))]
pub(crate) async fn suspend_facility(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
    body: web::Json<ReasonInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, fid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let r = web::block(move || staff::suspend_facility(&db, &actor, &fid, &body, now)).await??;
    Ok(HttpResponse::Ok().json(r))
}

/// Reinstate a suspended facility (its devices stay revoked: enroll them again).
#[utoipa::path(post, path = "/api/v1/facilities/{fid}/reinstate", tag = "staff",
    params(("fid" = String, Path, description = "Facility id")), security(("bearer" = [])),
    responses(
        (status = 200, description = "Active again", body = FacilitySuspended),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not a city administrator", body = ErrorBody),
        (status = 404, description = "No such facility", body = ErrorBody),
        (status = 500, response = Internal), (status = 503, response = Unavailable),
    ))]
pub(crate) async fn reinstate_facility(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, fid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let r = web::block(move || staff::reinstate_facility(&db, &actor, &fid, now)).await??;
    Ok(HttpResponse::Ok().json(r))
}

/// Change one's own password (RULES R2); the account's other sessions end.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "staff", request_body = PasswordChange,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 400, response = BadBody), (status = 401, response = Unauthorized),
        (status = 403, description = "`wrong_password` (counts towards the account's lockout); `account_locked`: \
            too many wrong passwords (at login or here), the current password is not checked for 15 minutes", body = ErrorBody),
        (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`weak_password`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many attempts for this account", body = ErrorBody),
        (status = 500, response = Internal), (status = 503, response = Unavailable),
    ))]
pub(crate) async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let token = bearer(&req).unwrap_or_default();
    let (db, now) = (state.db.clone(), state.clock.now());
    // Each attempt checks the current password: limited per account, before argon2.
    let event = actor.event(Action::ChangePassword, Outcome::Denied);
    let muni = actor.municipality_id.clone();
    extract::limit(
        &state,
        &muni,
        Limit::PasswordAccount,
        &actor.account_id,
        event,
    )
    .await?;
    web::block(move || staff::change_password(&db, &actor, &token, &body, now)).await??;
    Ok(HttpResponse::NoContent().finish())
}
