//! Request helpers the handlers share: header values, the RFC 9421 signature and the client
//! address, raw JSON bodies, `Accept` negotiation of FHIR, rate limits, and the authentication of
//! a signed field request (`FieldRequest`, `signed`), used by the field, pre-arrival, crew and
//! login endpoints.

use crate::api::error::ApiError;
use crate::audit::{Action, Event, Outcome};
use crate::auth::bearer;
use crate::db::Db;
use crate::httpsig::{self, RequestParts};
use crate::ratelimit::Limit;
use crate::service::accounts::{self, Actor};
use crate::service::deny;
use crate::service::devices::{self, Failed, SignedBy};
use crate::state::AppState;
use actix_web::{HttpRequest, web};
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

/// Applies a rate limit; a throttle is answered 429 and audited (coalesced per minute) in the
/// chain of `muni`, the request's municipality.
pub(crate) async fn limit(
    state: &web::Data<AppState>,
    muni: &str,
    which: Limit,
    key: &str,
    event: Event,
) -> Result<(), ApiError> {
    if state.limits.check(which, key) {
        return Ok(());
    }
    let (state, key, muni) = (state.clone(), key.to_string(), muni.to_string());
    web::block(move || limit_blocking(&state, &state.db, &muni, which, &key, event)).await?
}

/// [`limit`] on a thread that may block (the audit write of a throttle).
fn limit_blocking(
    state: &AppState,
    db: &Db,
    muni: &str,
    which: Limit,
    key: &str,
    event: Event,
) -> Result<(), ApiError> {
    if state.limits.check(which, key) {
        return Ok(());
    }
    let err = ApiError::too_many(which.retry_hint());
    let now = state.clock.now();
    if !state.limits.should_audit(which, key, now) {
        return Err(err);
    }
    let mut event = event;
    event.action = Action::Throttled;
    event.purpose = Some(which.as_str().to_string());
    Err(deny(db, muni, event, err, now))
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

    /// Authenticates a signed field request: device signature, then a replay's refusal, then
    /// the paramedic's session bound to that device, then the rate limits. Unsigned or
    /// malformed requests are refused and audited too (with the account if the bearer token
    /// resolves), so a resident's attempt to scan is on record. A failure after the signature
    /// verified carries it ([`Failed`]): the request's end spends its nonce whatever the
    /// outcome. Blocks (database) unless `db` is an inline handle; call it inside `web::block`
    /// or [`crate::service::inline_signed`], on a handle that holds its denials
    /// ([`Db::holding`]) for that end to write.
    pub(crate) fn authenticate(
        self,
        state: &AppState,
        db: &Db,
    ) -> Result<(Actor, SignedBy), Failed> {
        // Until the device is known, refusals go to the default municipality's chain; then the
        // request is its device's municipality's.
        let (muni, now, policy) = (
            state.default_municipality.as_str(),
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
                let mut muni = muni.to_string();
                if let Some(actor) = token
                    .as_deref()
                    .and_then(|t| accounts::authenticate(db, t, now, policy).ok())
                {
                    // On the caller's own municipality's chain.
                    event = actor.event(action, Outcome::Denied);
                    muni = actor.municipality_id;
                }
                return Err(Failed::unverified(deny(db, &muni, event, err, now), now));
            }
        };
        let by = devices::verify_signature(db, muni, &signed, now)
            .map_err(|e| Failed::unverified(e, now))?;
        let fail = Failed::after(&by, now);
        // A replay is refused as one before anything else can refuse it (the session, the rate
        // limits): whatever the first copy got, the second gets `replayed_request`.
        devices::refuse_replay(db, &by, now).map_err(&fail)?;
        let muni = by.device.municipality_id.as_str();
        let actor =
            devices::bound_session(db, muni, &by, token.as_deref(), now, policy).map_err(&fail)?;
        if scan_limited {
            let event = actor.event(action, Outcome::Denied);
            limit_blocking(
                state,
                db,
                muni,
                Limit::ScanDevice,
                &by.device.id,
                event.clone(),
            )
            .map_err(&fail)?;
            limit_blocking(state, db, muni, Limit::ScanAddr, &addr, event).map_err(&fail)?;
        }
        Ok((actor, by))
    }
}

/// A signed field request, on the blocking pool: [`FieldRequest::authenticate`], then `f` with
/// the actor and the signature, on one holding handle ([`Db::holding`]). Whatever the outcome
/// once the signature has verified, the nonce is spent: by `f`'s own write on success
/// ([`devices::consume_nonce`]), else with the request's denials in one write
/// ([`devices::finish`]). `scan_limited`: whether the scan rate limits apply (scans,
/// break-glass, re-reads; not pre-arrival).
pub(crate) async fn signed<T: Send + 'static>(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    body: &[u8],
    action: Action,
    scan_limited: bool,
    f: impl FnOnce(&Db, Actor, SignedBy) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let mut request = FieldRequest::new(req, body, action);
    if !scan_limited {
        request = request.unlimited();
    }
    let state = state.clone();
    web::block(move || {
        let ran = state.db.holding(|db| {
            let (actor, by) = request.authenticate(&state, db)?;
            let now = state.clock.now();
            f(db, actor, by.clone()).map_err(Failed::after(&by, now))
        });
        devices::finish(&state.db, ran)
    })
    .await?
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
