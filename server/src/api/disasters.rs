//! Disaster mode (RULES R11): the city's declarations, and disaster responders' list and reads of
//! consenting residents while a declaration is in force.

use super::openapi::{
    BadBody, Internal, PayloadTooLarge, Unauthorized, Unavailable, UnsupportedMediaType,
};
use crate::api::error::{ApiError, ErrorBody};
use crate::auth::Authenticated;
use crate::service::disasters::{
    self, Declaration, DeclareInput, DisasterResidentList, RenewInput,
};
use crate::service::disclosure::Disclosure;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeclarationList {
    pub declarations: Vec<Declaration>,
}

/// Declare a disaster (city administrators): districts (none = the whole municipality) and a
/// period of at most 14 days.
#[utoipa::path(
    post,
    path = "/api/v1/disasters",
    tag = "disasters",
    request_body = DeclareInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Declared", body = Declaration),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: not a city administrator", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_period` (longer than 14 days, ends before it starts, starts more than 5 minutes ago), `invalid_field` (districts, reason)", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn declare(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: web::Json<DeclareInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let d = web::block(move || disasters::declare(&db, &actor, &body, now)).await??;
    Ok(HttpResponse::Created().json(d))
}

/// Every declaration, newest first, with whether it is in force now (city administrators and
/// disaster responders).
#[utoipa::path(
    get,
    path = "/api/v1/disasters",
    tag = "disasters",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Declarations", body = DeclarationList),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: neither a city administrator nor a disaster responder", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let declarations = web::block(move || disasters::list(&db, &actor, now)).await??;
    Ok(HttpResponse::Ok().json(DeclarationList { declarations }))
}

/// Renew a declaration in force (city administrators): a new declaration continues it from now
/// until `ends_at` (at most 14 days from now); the renewed one ends now.
#[utoipa::path(
    post,
    path = "/api/v1/disasters/{did}/renew",
    tag = "disasters",
    request_body = RenewInput,
    params(("did" = String, Path, description = "Declaration id: 32 lower-case hex characters")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new declaration (`renewed_from` = `did`)", body = Declaration),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: not a city administrator", body = ErrorBody),
        (status = 404, description = "`not_found`: no such declaration, or a malformed id", body = ErrorBody),
        (status = 409, description = "`disaster_over`: it has already ended, expired or been renewed", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_period`: more than 14 days from now, or not later than the current end", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn renew(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
    body: web::Json<RenewInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, did) = (state.db.clone(), state.clock.now(), path.into_inner());
    let d = web::block(move || disasters::renew(&db, &actor, &did, &body, now)).await??;
    Ok(HttpResponse::Created().json(d))
}

/// End a declaration now (city administrators).
#[utoipa::path(
    post,
    path = "/api/v1/disasters/{did}/end",
    tag = "disasters",
    params(("did" = String, Path, description = "Declaration id: 32 lower-case hex characters")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Ended", body = Declaration),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: not a city administrator", body = ErrorBody),
        (status = 404, description = "`not_found`: no such declaration, or a malformed id", body = ErrorBody),
        (status = 409, description = "`disaster_over`: it has already ended, expired or been renewed", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn end(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, did) = (state.db.clone(), state.clock.now(), path.into_inner());
    let d = web::block(move || disasters::end(&db, &actor, &did, now)).await??;
    Ok(HttpResponse::Ok().json(d))
}

/// The residents of the declared districts who consented to disaster-time use: identity and
/// address only (disaster responders, while a declaration is in force). Each listed resident's
/// access history records it (`disaster.list`, purpose `disaster`).
#[utoipa::path(
    get,
    path = "/api/v1/disaster/residents",
    tag = "disasters",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Consenting residents of the declared districts", body = DisasterResidentList),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden` (not a disaster responder) or `no_active_disaster`; audited", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn residents(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let list = web::block(move || disasters::residents(&db, &actor, now)).await??;
    Ok(HttpResponse::Ok().json(list))
}

/// One consenting resident's consented dataset (disaster responders, while a declaration covering
/// the resident's district is in force): a disclosure of kind `disaster`, audited.
#[utoipa::path(
    get,
    path = "/api/v1/disaster/residents/{rid}",
    tag = "disasters",
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The consented dataset; `incident_ref` is the declaration's id, `expires_at` its end, `facility_id` empty", body = Disclosure),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden` (not a disaster responder), `no_active_disaster`, `no_disaster_consent`, `outside_declared_area`; audited", body = ErrorBody),
        (status = 404, description = "`not_found`: no such resident, or a malformed id; audited", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn read(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, rid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let d = web::block(move || disasters::read(&db, &actor, &rid, now)).await??;
    Ok(HttpResponse::Ok().json(d))
}
