//! Registration (resident, proxy), login and logout.

use super::extract;
use super::openapi::{
    BadBody, Internal, PayloadTooLarge, Unauthorized, Unavailable, UnsupportedMediaType,
};
use crate::api::error::{ApiError, ErrorBody};
use crate::audit;
use crate::auth::{Authenticated, bearer};
use crate::ratelimit::Limit;
use crate::service::{accounts, devices, residents};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

/// Registrations per client address: each well-formed one tells whether its login id is taken
/// (a registrant must be told), so this limit is how fast one address can probe ids.
pub(crate) async fn limit_registration(
    state: &web::Data<AppState>,
    muni: &str,
    req: &HttpRequest,
) -> Result<(), ApiError> {
    let event = audit::Event::new(audit::Action::Throttled, audit::Outcome::Denied);
    extract::limit(
        state,
        muni,
        Limit::RegisterAddr,
        &extract::client_addr(req),
        event,
    )
    .await
}

/// Self-registration: creates the resident's account and record and logs them in.
#[utoipa::path(
    post,
    path = "/api/v1/residents",
    tag = "accounts",
    params(crate::api::tenant::MunicipalityQuery),
    request_body = residents::RegisterResident,
    responses(
        (status = 201, description = "Registered and logged in", body = residents::Registered),
        (status = 400, response = BadBody),
        (status = 409, description = "`login_id_taken`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_login_id`, `weak_password`, `invalid_field`, `invalid_date`, `invalid_phone`: \
            a field breaks a rule; the message names it", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many registrations from this address", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
        (status = 404, description = "`municipality_unknown`: no municipality has the code in `?municipality=`", body = ErrorBody),
    )
)]
pub(crate) async fn register_resident(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<residents::RegisterResident>,
) -> Result<HttpResponse, ApiError> {
    let muni = super::tenant::public(&state, &req).await?;
    let (db, now, policy) = (
        state.db.clone(),
        state.clock.now(),
        state.config.session_policy,
    );
    let body = body.into_inner();
    // Only a registration that would reach the login id's lookup counts towards the limit.
    residents::check_self(&body, now)?;
    limit_registration(&state, &muni, &req).await?;
    let out = web::block(move || residents::register_self(&db, &muni, body, now, policy)).await??;
    Ok(HttpResponse::Created().json(out))
}

/// Proxy registration.
///
/// A family member or care manager registers a resident and becomes their proxy, accepting the
/// proxy statement.
#[utoipa::path(
    post,
    path = "/api/v1/proxies",
    tag = "accounts",
    params(crate::api::tenant::MunicipalityQuery),
    request_body = residents::RegisterProxy,
    responses(
        (status = 201, description = "The proxy is registered and logged in; `resident_id` is the new resident",
            body = residents::Registered),
        (status = 400, response = BadBody),
        (status = 409, description = "`login_id_taken`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`proxy_statement_required`, `invalid_login_id`, `weak_password`, `invalid_field`, \
            `invalid_date`, `invalid_phone`: a field breaks a rule; the message names it", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many registrations from this address", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
        (status = 404, description = "`municipality_unknown`: no municipality has the code in `?municipality=`", body = ErrorBody),
    )
)]
pub(crate) async fn register_proxy(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<residents::RegisterProxy>,
) -> Result<HttpResponse, ApiError> {
    let muni = super::tenant::public(&state, &req).await?;
    let (db, now, policy) = (
        state.db.clone(),
        state.clock.now(),
        state.config.session_policy,
    );
    let body = body.into_inner();
    residents::check_proxy(&body, now)?;
    limit_registration(&state, &muni, &req).await?;
    let out =
        web::block(move || residents::register_by_proxy(&db, &muni, body, now, policy)).await??;
    Ok(HttpResponse::Created().json(out))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Session {
    /// The bearer token for `Authorization: Bearer <token>`.
    pub token: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResidentList {
    pub residents: Vec<crate::service::proxies::Listed>,
    /// Registrations of this login held because the person is already registered (issue 19):
    /// the city is checking them; empty for everyone else.
    pub held: Vec<crate::service::registrations::HeldRegistration>,
}

/// Login: a new session.
#[utoipa::path(
    post,
    path = "/api/v1/sessions",
    tag = "accounts",
    params(crate::api::tenant::MunicipalityQuery),
    request_body = accounts::Credentials,
    responses(
        (status = 201, description = "Logged in", body = Session),
        (status = 400, response = BadBody),
        (status = 401, description = "`unauthorized`: wrong login id or password, or the account is locked (the same \
            answer for all three); `totp_required`, `totp_invalid`: staff without, or with a wrong, authenticator code; \
            `signature_invalid`, `signature_expired`, `device_unknown`, `device_revoked`: a signed login's signature", body = ErrorBody),
        (status = 403, description = "`forbidden`: the account is suspended; `facility_suspended`, `totp_not_set_up`; \
            `device_required`: paramedics log in from an enrolled device of their fire department (a signed request)", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 429, description = "`rate_limited`: too many attempts from this address or for this login id \
            (a device-signed login has its own count per device)", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
        (status = 404, description = "`municipality_unknown`: no municipality has the code in `?municipality=`", body = ErrorBody),
    )
)]
pub(crate) async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: super::RawBody,
) -> Result<HttpResponse, ApiError> {
    let muni = super::tenant::public(&state, &req).await?;
    let (db, now, policy) = (
        state.db.clone(),
        state.clock.now(),
        state.config.session_policy,
    );
    // Throttle before anything costly (argon2), per address and per login id.
    let addr = extract::client_addr(&req);
    let event = audit::Event::new(audit::Action::LoginFailed, audit::Outcome::Denied);
    extract::limit(&state, &muni, Limit::LoginAddr, &addr, event.clone()).await?;
    // A field device signs its paramedic's login (docs/device-protocol.md); others do not sign.
    let signed = extract::parse_signature(&req, &body)?;
    let creds: accounts::Credentials = extract::json_body(&req, &body)?;
    // A signed login is verified before the per-id limit, so that each device has a bucket of its
    // own for the id: attempts anyone can send (unsigned) cannot use up the paramedic's.
    let device = match signed {
        Some(s) => {
            let (db, muni) = (db.clone(), muni.clone());
            Some(web::block(move || devices::verify_signature(&db, &muni, &s, now)).await??)
        }
        None => None,
    };
    // A device-signed login is its device's municipality's (its paramedics' accounts are there).
    let muni = device
        .as_ref()
        .map_or(muni, |d| d.device.municipality_id.clone());
    let id_key = creds.login_id.trim().to_ascii_lowercase();
    let mut event = event.detail(id_key.clone());
    let bucket = match &device {
        Some(d) => {
            event.device_id = Some(d.device.id.clone());
            format!("{id_key} device:{}", d.device.id)
        }
        None => id_key,
    };
    let bucket = format!("{muni} {bucket}");
    extract::limit(&state, &muni, Limit::LoginId, &bucket, event).await?;
    let token = web::block(move || {
        let Some(by) = device else {
            return accounts::login(&db, &muni, &creds, None, now, policy);
        };
        // A signed login spends its nonce whatever the outcome; a replay is refused first.
        devices::run_signed(&db, &by, now, |db| {
            devices::refuse_replay(db, &by, now)?;
            accounts::login(db, &muni, &creds, Some(&by), now, policy)
        })
    })
    .await??;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(Session { token }))
}

/// Logout: ends the caller's session.
#[utoipa::path(
    delete,
    path = "/api/v1/sessions/current",
    tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    // The token alone may end its own session (field devices included): nothing else is reached.
    let token = bearer(&req)
        .ok_or_else(|| ApiError::unauthorized("log in first (Authorization: Bearer <token>)"))?;
    let db = state.db.clone();
    web::block(move || accounts::logout(&db, &token)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// The residents the caller acts for: themself, or those they are a proxy of.
///
/// A care manager's list: searched by name or kana (`q`), filtered by district and by whether
/// the information needs attention (`stale`).
#[utoipa::path(
    get,
    path = "/api/v1/me/residents",
    tag = "accounts",
    security(("bearer" = [])),
    params(crate::service::proxies::ListFilter),
    responses(
        (status = 200, description = "Their profiles, with how current each one's information is", body = ResidentList),
        (status = 400, description = "`invalid_query`: an unknown parameter, or `stale` not `true`/`false`", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn my_residents(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    filter: web::Query<crate::service::proxies::ListFilter>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let filter = filter.into_inner();
    let (list, held) = web::block(move || residents::mine(&db, &actor, &filter, now)).await??;
    Ok(HttpResponse::Ok().json(ResidentList {
        residents: list,
        held,
    }))
}
