//! Proxies added after registration (issue 27): invites, accepting them (logged in, or
//! registering a proxy account with the code), the resident's list of proxies and removal.
//! Rules in `service::proxies`.

use super::openapi::{
    BadBody, Internal, PayloadTooLarge, Unauthorized, Unavailable, UnsupportedMediaType,
};
use crate::api::error::{ApiError, ErrorBody};
use crate::auth::Authenticated;
use crate::service::proxies as svc;
use crate::service::residents::Registered;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InviteList {
    pub invites: Vec<svc::Invite>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProxyList {
    pub proxies: Vec<svc::ProxyInfo>,
}

/// Invite a proxy: a one-time code for a family member or care manager.
///
/// Only the resident themself invites. The code is in this answer only (its hash is stored);
/// it is spent by its first use and expires after `ttl_hours` (default 72).
#[utoipa::path(
    post,
    path = "/api/v1/residents/{rid}/proxy-invites",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    request_body = svc::InviteInput,
    responses(
        (status = 201, description = "The invite, with its code (shown once)", body = svc::NewInvite),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`resident_only`: a proxy does not invite other proxies", body = ErrorBody),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for", body = ErrorBody),
        (status = 409, description = "`withdrawn` (支援中止); `too_many_invites`: 10 open invites", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_field`: relation, relation_detail or ttl_hours", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn invite(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
    body: web::Json<svc::InviteInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, url) = (
        state.db.clone(),
        state.clock.now(),
        state.config.public_url.clone(),
    );
    let out = web::block(move || svc::invite(&db, &a, &rid, &body, &url, now)).await??;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(out))
}

/// The resident's invites (never their codes), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{rid}/proxy-invites",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "Invites with their status (`open`, `used`, `expired`, `cancelled`)", body = InviteList),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`resident_only`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn invites(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let invites = web::block(move || svc::invites(&db, &a, &rid, now)).await??;
    Ok(HttpResponse::Ok().json(InviteList { invites }))
}

/// Cancel an open invite.
#[utoipa::path(
    delete,
    path = "/api/v1/residents/{rid}/proxy-invites/{inv}",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters"),
        ("inv" = String, Path, description = "Invite id: 32 lower-case hex characters")),
    responses(
        (status = 204, description = "Cancelled: the code no longer works"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`resident_only`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such resident or open invite", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn cancel_invite(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let (rid, inv) = path.into_inner();
    web::block(move || svc::cancel(&db, &a, &rid, &inv, now)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Accept an invite (logged in with a family or care manager account).
///
/// The caller accepts the proxy statement (recorded verbatim) and becomes a proxy of the
/// resident who made the invite.
#[utoipa::path(
    post,
    path = "/api/v1/proxy-invites/accept",
    tag = "accounts",
    security(("bearer" = [])),
    request_body = svc::AcceptInput,
    responses(
        (status = 200, description = "The caller now acts for `resident_id`", body = svc::Accepted),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`proxy_account_required`: only family / care manager accounts act for others", body = ErrorBody),
        (status = 404, description = "`not_found`: no invite has this code", body = ErrorBody),
        (status = 409, description = "`invite_used`, `invite_expired`, `invite_cancelled`; `already_proxy`; `withdrawn`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`proxy_statement_required`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn accept(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    body: web::Json<svc::AcceptInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let out = web::block(move || svc::accept(&db, &a, &body, now)).await??;
    Ok(HttpResponse::Ok().json(out))
}

/// Register a proxy account with an invite code, and accept it.
///
/// For an invitee without a login: the account is created, the proxy statement accepted and the
/// invite spent in one transaction; the answer logs them in.
#[utoipa::path(
    post,
    path = "/api/v1/proxy-invites/register",
    tag = "accounts",
    params(crate::api::tenant::MunicipalityQuery),
    request_body = svc::RegisterWithInvite,
    responses(
        (status = 201, description = "Registered and logged in; `resident_id` is the resident they now act for", body = Registered),
        (status = 400, response = BadBody),
        (status = 404, description = "`not_found`: no invite has this code", body = ErrorBody),
        (status = 409, description = "`login_id_taken`; `invite_used`, `invite_expired`, `invite_cancelled`; `withdrawn`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`proxy_statement_required`, `invalid_login_id`, `weak_password`, `invalid_field`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many registrations from this address", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<svc::RegisterWithInvite>,
) -> Result<HttpResponse, ApiError> {
    let muni = super::tenant::public(&state, &req).await?;
    let (db, now, policy) = (
        state.db.clone(),
        state.clock.now(),
        state.config.session_policy,
    );
    let body = body.into_inner();
    svc::check_register(&body)?;
    super::accounts::limit_registration(&state, &muni, &req).await?;
    let out =
        web::block(move || svc::register_with_invite(&db, &muni, body, now, policy)).await??;
    Ok(HttpResponse::Created().json(out))
}

/// The resident's current proxies.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{rid}/proxies",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "Who acts for the resident, with the statement each accepted", body = ProxyList),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let proxies = web::block(move || svc::list(&db, &a, &rid)).await??;
    Ok(HttpResponse::Ok().json(ProxyList { proxies }))
}

/// Remove a proxy (the resident), or step down (the proxy themself).
///
/// The proxy's access to the record ends with this request.
#[utoipa::path(
    delete,
    path = "/api/v1/residents/{rid}/proxies/{pid}",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters"),
        ("pid" = String, Path, description = "Proxy id (from the list): 32 lower-case hex characters")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`resident_only`: a proxy may remove only themself", body = ErrorBody),
        (status = 404, description = "`not_found`: no such resident or current proxy", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn remove(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let (rid, pid) = path.into_inner();
    web::block(move || svc::remove(&db, &a, &rid, &pid, now)).await??;
    Ok(HttpResponse::NoContent().finish())
}
