//! Field-device endpoints: scan a card, break-glass search, re-read an access. Every request is
//! signed by an enrolled device (RFC 9421, docs/device-protocol.md) and carries the paramedic's
//! session; the body is read raw so its `Content-Digest` can be checked before it is parsed.

use super::openapi::{BadBody, Internal, PayloadTooLarge, Unavailable, UnsupportedMediaType};
use crate::audit::{Action, Event, Outcome};
use crate::auth::bearer;
use crate::error::{ApiError, ErrorBody};
use crate::httpsig::{self, RequestParts};
use crate::ratelimit::Limit;
use crate::service::access::{self, BreakGlassInput, ScanInput};
use crate::service::accounts::{self, Actor};
use crate::service::deny;
use crate::service::devices::{self, SignedBy};
use crate::service::disclosure::Disclosure;
use crate::service::{self, fhir, keys};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::de::DeserializeOwned;

pub const FHIR_JSON: &str = "application/fhir+json";

pub(crate) fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The signature of a request, parsed and its base rebuilt; `Ok(None)` if unsigned.
pub(crate) fn parse_signature(
    req: &HttpRequest,
    body: &[u8],
) -> Result<Option<httpsig::Signed>, ApiError> {
    let parts = RequestParts {
        method: req.method().as_str(),
        authority: header_str(req, "host").unwrap_or_default(),
        path: req.uri().path(),
        query: req.uri().query().unwrap_or_default(),
        authorization: header_str(req, "authorization"),
        content_digest: header_str(req, "content-digest"),
        signature_input: header_str(req, "signature-input"),
        signature: header_str(req, "signature"),
        body,
    };
    httpsig::parse(&parts)
        .map_err(|e| ApiError::unauthorized_code("signature_invalid", e.to_string()))
}

/// The client's address for per-address limits (the TCP peer; see docs/threat-model.md).
pub(crate) fn client_addr(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Applies a rate limit; a throttle is answered 429 and audited (coalesced per minute).
pub(crate) async fn limit(
    state: &web::Data<AppState>,
    which: Limit,
    key: &str,
    event: Event,
) -> Result<(), ApiError> {
    if state.limits.check(which, key) {
        return Ok(());
    }
    let (state, key) = (state.clone(), key.to_string());
    web::block(move || limit_blocking(&state, which, &key, event)).await?
}

/// [`limit`] on a thread that may block (the audit write of a throttle).
fn limit_blocking(state: &AppState, which: Limit, key: &str, event: Event) -> Result<(), ApiError> {
    if state.limits.check(which, key) {
        return Ok(());
    }
    let err = ApiError::too_many("too many requests; wait a minute and try again");
    let now = state.clock.now();
    if !state.limits.should_audit(which, key, now) {
        return Err(err);
    }
    let mut event = event;
    event.action = Action::Throttled;
    event.purpose = Some(which.as_str().to_string());
    Err(deny(&state.db, &state.municipality_id, event, err, now))
}

/// What a field request's authentication needs from the HTTP request, taken on the worker
/// thread: the parsed signature (or why there is none), the bearer token, the client address.
pub(crate) struct FieldRequest {
    signed: Result<Option<httpsig::Signed>, ApiError>,
    token: Option<String>,
    addr: String,
    action: Action,
    /// Whether the scan rate limits apply (scans, break-glass, re-reads; not pre-arrival).
    scan_limited: bool,
}

impl FieldRequest {
    pub(crate) fn new(req: &HttpRequest, body: &[u8], action: Action) -> Self {
        FieldRequest {
            signed: parse_signature(req, body),
            token: bearer(req),
            addr: client_addr(req),
            action,
            scan_limited: true,
        }
    }

    /// Without the scan rate limits (pre-arrival requests, the hospital list).
    pub(crate) fn unlimited(mut self) -> Self {
        self.scan_limited = false;
        self
    }

    /// Authenticates a signed field request: device signature, then the paramedic's session
    /// bound to that device, then the rate limits. Unsigned or malformed requests are refused
    /// and audited too (with the account if the bearer token resolves), so a resident's attempt
    /// to scan is on record. Blocks (database); call it inside `web::block`.
    pub(crate) fn authenticate(self, state: &AppState) -> Result<(Actor, SignedBy), ApiError> {
        let (db, muni, now, policy) = (
            &state.db,
            state.municipality_id.as_str(),
            state.clock.now(),
            state.config.session_policy,
        );
        let FieldRequest {
            signed,
            token,
            addr,
            action,
            scan_limited,
        } = self;
        let signed = match signed {
            Ok(Some(s)) => s,
            refused => {
                let err = match refused {
                    Err(e) => e,
                    Ok(_) => ApiError::unauthorized_code(
                        "signature_required",
                        "field requests must be signed by an enrolled device",
                    ),
                };
                let mut event = Event::new(action, Outcome::Denied);
                if let Some(actor) = token
                    .as_deref()
                    .and_then(|t| accounts::authenticate(db, t, now, policy).ok())
                {
                    event = actor.event(action, Outcome::Denied);
                }
                return Err(deny(db, muni, event, err, now));
            }
        };
        let (actor, by) =
            devices::authenticate_field(db, muni, &signed, token.as_deref(), now, policy)?;
        if scan_limited {
            let event = actor.event(action, Outcome::Denied);
            limit_blocking(state, Limit::ScanDevice, &by.device.id, event.clone())?;
            limit_blocking(state, Limit::ScanAddr, &addr, event)?;
        }
        Ok((actor, by))
    }
}

/// [`FieldRequest::authenticate`] on the blocking pool.
pub(crate) async fn field_actor(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    body: &[u8],
    action: Action,
    scan_limited: bool,
) -> Result<(Actor, SignedBy), ApiError> {
    let mut request = FieldRequest::new(req, body, action);
    if !scan_limited {
        request = request.unlimited();
    }
    let state = state.clone();
    web::block(move || request.authenticate(&state)).await?
}

/// Parses a JSON body read raw (same errors as the JSON extractor elsewhere).
pub(crate) fn json_body<T: DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<T, ApiError> {
    let json = header_str(req, "content-type").is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    });
    if !json {
        return Err(super::unsupported_media_type());
    }
    serde_json::from_slice(body).map_err(|e| super::json_error(&e))
}

/// `Accept: application/fhir+json` selects the FHIR Bundle.
pub(crate) fn wants_fhir(req: &HttpRequest) -> bool {
    header_str(req, "accept").is_some_and(|a| {
        a.split(',')
            .any(|m| m.split(';').next().is_some_and(|t| t.trim() == FHIR_JSON))
    })
}

fn respond(
    state: &AppState,
    req: &HttpRequest,
    status: actix_web::http::StatusCode,
    d: &Disclosure,
) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    resp.insert_header((header::CACHE_CONTROL, "no-store"));
    if wants_fhir(req) {
        resp.content_type(FHIR_JSON)
            .json(fhir::ips_bundle(d, &state.config.public_url))
    } else {
        resp.json(d)
    }
}

/// A scan up to its write: the request's authentication, then the card and the reads.
fn prepare_scan(
    st: &AppState,
    request: FieldRequest,
    input: Result<ScanInput, ApiError>,
) -> Result<access::PreparedScan, ApiError> {
    let (actor, by) = request.authenticate(st)?;
    let input = input?;
    let now = st.clock.now();
    let ring = keys::load(&st.db, &st.config.data_dir, &st.municipality_id, false)?;
    access::prepare_scan(&st.db, &ring.trusted, &actor, &by, &input, now)
}

/// Scan a card: the resident's consented emergency dataset.
#[utoipa::path(
    post,
    path = "/api/v1/scans",
    tag = "field",
    request_body = ScanInput,
    params(
        ("Signature-Input" = String, Header, description = "RFC 9421 signature parameters (docs/device-protocol.md)"),
        ("Signature" = String, Header, description = "RFC 9421 signature by the enrolled device"),
        ("Content-Digest" = String, Header, description = "RFC 9530 sha-256 digest of the body"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The consented dataset (JSON), or an IPS-shaped FHIR R4 Bundle with `Accept: application/fhir+json`", body = Disclosure),
        (status = 400, response = BadBody),
        (status = 401, description = "`signature_required`, `signature_invalid`, `signature_expired`, `device_unknown`, `device_revoked`, `replayed_request`, `session_not_bound`, `unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden` (not a paramedic), `untrusted_issuer`, `card_not_genuine`, `card_expired`, `card_revoked`, `consent_withdrawn`", body = ErrorBody),
        (status = 404, description = "`card_unknown`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_card`, `invalid_text`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn scan(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: super::RawBody,
) -> Result<HttpResponse, ApiError> {
    // The reads (authentication, the card, the data) on this worker when they need nothing
    // else (SQLite), else in one trip to the blocking pool; the body's parse error, if any, is
    // answered only after the request is authenticated. The write then goes to the
    // group-commit writer, awaited here: no thread waits for it.
    let parsed = || {
        (
            FieldRequest::new(&req, &body, Action::Scan),
            json_body(&req, &body),
        )
    };
    let here = service::inline(&state.db, || {
        let (request, input) = parsed();
        prepare_scan(&state, request, input)
    });
    let prepared = match here.await {
        Some(prepared) => prepared?,
        None => {
            let (request, input) = parsed();
            let st = state.clone();
            web::block(move || prepare_scan(&st, request, input)).await??
        }
    };
    let d = prepared.record(&state.db).await?;
    Ok(respond(
        &state,
        &req,
        actix_web::http::StatusCode::CREATED,
        &d,
    ))
}

/// Break-glass: find a resident without their card (name + date of birth, + address), with a
/// mandatory reason. Discloses at most the consented emergency categories; flagged for review.
#[utoipa::path(
    post,
    path = "/api/v1/break-glass",
    tag = "field",
    request_body = BreakGlassInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The consented emergency categories", body = Disclosure),
        (status = 400, response = BadBody),
        (status = 401, description = "Device or session refused (as for scans)", body = ErrorBody),
        (status = 403, description = "`forbidden`, `consent_withdrawn`", body = ErrorBody),
        (status = 404, description = "`no_match`", body = ErrorBody),
        (status = 409, description = "`ambiguous_match`: add part of the address", body = ErrorBody),
        (status = 422, description = "`invalid_text`, `invalid_date`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn break_glass(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: super::RawBody,
) -> Result<HttpResponse, ApiError> {
    let (actor, by) = field_actor(&state, &req, &body, Action::BreakGlass, true).await?;
    let input: BreakGlassInput = json_body(&req, &body)?;
    let (db, now) = (state.db.clone(), state.clock.now());
    let d = web::block(move || access::break_glass(&db, &actor, &by, &input, now)).await??;
    Ok(respond(
        &state,
        &req,
        actix_web::http::StatusCode::CREATED,
        &d,
    ))
}

/// Read an access again within its grant (same paramedic and device; consent still in force).
#[utoipa::path(
    get,
    path = "/api/v1/accesses/{aid}",
    tag = "field",
    params(("aid" = String, Path, description = "The access id from a scan or break-glass")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The disclosure, as JSON or FHIR", body = Disclosure),
        (status = 401, description = "Device or session refused", body = ErrorBody),
        (status = 403, description = "`access_expired`, `card_revoked`, `consent_withdrawn`", body = ErrorBody),
        (status = 404, description = "Not this paramedic's access", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn reread(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (actor, by) = field_actor(&state, &req, &[], Action::ReadAccess, true).await?;
    let (db, now, aid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let d = web::block(move || access::reread(&db, &actor, &by, &aid, now)).await??;
    Ok(respond(&state, &req, actix_web::http::StatusCode::OK, &d))
}
