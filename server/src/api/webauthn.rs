//! Biometric unlock on field devices (issue 21, `service::webauthn`): registration needs a live
//! session of the signing device; an unlock is signed by the device and carries no session (it
//! opens one). Bodies are read raw: the signature covers their digest.

use super::extract::{self, json_body, signed};
use super::openapi::{BadBody, Internal, PayloadTooLarge, Unavailable, UnsupportedMediaType};
use crate::api::error::{ApiError, ErrorBody};
use crate::audit::Action;
use crate::service::devices;
use crate::service::webauthn::{
    self, Ceremony, RegisterFinish, Registered, RelyingParty, UnlockFinish, Unlocked,
};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

fn rp(state: &AppState) -> RelyingParty {
    let (origin, id) = state.config.webauthn_rp();
    RelyingParty { origin, id }
}

fn created<T: serde::Serialize>(v: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(v)
}

/// Registration, step 1: the options for `navigator.credentials.create` (platform
/// authenticator, user verification required, ES256, attestation `none`).
#[utoipa::path(
    post,
    path = "/api/v1/webauthn/registrations",
    tag = "field",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The challenge and creation options", body = Ceremony),
        (status = 401, description = "Device or session refused (as for scans)", body = ErrorBody),
        (status = 403, description = "`forbidden`: not a paramedic", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn begin_register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: super::RawBody,
) -> Result<HttpResponse, ApiError> {
    let (now, rp) = (state.clock.now(), rp(&state));
    let c = signed(
        &state,
        &req,
        &body,
        Action::WebauthnRegister,
        false,
        move |db, actor, by| webauthn::begin_register(db, &actor, &by, &rp, now),
    )
    .await?;
    Ok(created(&c))
}

/// Registration, step 2: the authenticator's answer; the credential is kept for this account on
/// this device.
#[utoipa::path(
    post,
    path = "/api/v1/webauthn/registrations/finish",
    tag = "field",
    request_body = RegisterFinish,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered", body = Registered),
        (status = 400, response = BadBody),
        (status = 401, description = "Device or session refused; `webauthn_challenge_unknown`, `webauthn_invalid`", body = ErrorBody),
        (status = 409, description = "`credential_exists`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_webauthn`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn finish_register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: super::RawBody,
) -> Result<HttpResponse, ApiError> {
    let input: Result<RegisterFinish, _> = json_body(&req, &body);
    let (now, rp) = (state.clock.now(), rp(&state));
    let r = signed(
        &state,
        &req,
        &body,
        Action::WebauthnRegister,
        false,
        move |db, actor, by| webauthn::finish_register(db, &actor, &by, &rp, &input?, now),
    )
    .await?;
    Ok(created(&r))
}

/// The device's signature on a request without a session (an unlock), verified; then `f` with
/// it on a holding handle, the nonce spent whatever the outcome.
async fn device_signed<T: Send + 'static>(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    body: &[u8],
    f: impl FnOnce(&crate::db::Db, &devices::SignedBy) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let Some(s) = extract::parse_signature(req, body)? else {
        return Err(ApiError::unauthorized_code(
            "signature_required",
            "field requests must be signed by an enrolled device",
        ));
    };
    let (st, now) = (state.clone(), state.clock.now());
    web::block(move || {
        let by = devices::verify_signature(&st.db, &st.default_municipality, &s, now)?;
        devices::run_signed(&st.db, &by, now, |db| {
            devices::refuse_replay(db, &by, now)?;
            f(db, &by)
        })
    })
    .await?
}

/// Unlock, step 1 (signed by the device, no session): the options for
/// `navigator.credentials.get`, naming the credentials registered on this device.
#[utoipa::path(
    post,
    path = "/api/v1/webauthn/unlocks",
    tag = "field",
    security(("device" = [])),
    responses(
        (status = 201, description = "The challenge and request options", body = Ceremony),
        (status = 401, description = "`signature_required`, `signature_invalid`, `device_unknown`, `device_revoked`, `replayed_request`", body = ErrorBody),
        (status = 404, description = "`webauthn_not_registered`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn begin_unlock(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: super::RawBody,
) -> Result<HttpResponse, ApiError> {
    let (now, rp) = (state.clock.now(), rp(&state));
    let c = device_signed(&state, &req, &body, move |db, by| {
        webauthn::begin_unlock(db, by, &rp, now)
    })
    .await?;
    Ok(created(&c))
}

/// Unlock, step 2: the assertion; a session bound to this device for the credential's account.
#[utoipa::path(
    post,
    path = "/api/v1/webauthn/unlocks/finish",
    tag = "field",
    security(("device" = [])),
    request_body = UnlockFinish,
    responses(
        (status = 201, description = "A session bound to this device", body = Unlocked),
        (status = 400, response = BadBody),
        (status = 401, description = "Device refused (as for unlock step 1); `webauthn_challenge_unknown`, `webauthn_invalid`", body = ErrorBody),
        (status = 403, description = "`account_unavailable`, `facility_suspended`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_webauthn`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn finish_unlock(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: super::RawBody,
) -> Result<HttpResponse, ApiError> {
    let input: Result<UnlockFinish, _> = json_body(&req, &body);
    let (now, rp, policy) = (state.clock.now(), rp(&state), state.config.session_policy);
    let u = device_signed(&state, &req, &body, move |db, by| {
        webauthn::finish_unlock(db, by, &rp, &input?, now, policy)
    })
    .await?;
    Ok(created(&u))
}
