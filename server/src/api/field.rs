//! Field-device endpoints: scan a card, break-glass search, re-read an access. Every request is
//! signed by an enrolled device (RFC 9421, docs/device-protocol.md) and carries the paramedic's
//! session; the body is read raw so its `Content-Digest` can be checked before it is parsed.

use super::extract::{FHIR_JSON, FieldRequest, json_body, signed, wants_fhir};
use super::openapi::{BadBody, Internal, PayloadTooLarge, Unavailable, UnsupportedMediaType};
use crate::api::error::{ApiError, ErrorBody};
use crate::audit::Action;
use crate::db::Db;
use crate::service::access::{self, BreakGlassInput, ScanInput};
use crate::service::devices::{self, Failed};
use crate::service::disclosure::Disclosure;
use crate::service::{self, fhir, keys, memberships};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

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

/// A scan up to its write: the request's authentication, then the card and the reads. A
/// failure names the resident whose card the body presented, on that resident's municipality's
/// chain ([`memberships::card_subject`]): a refused scan of a resident's card, whatever refused it,
/// is in that resident's access history.
fn prepare_scan(
    st: &AppState,
    db: &Db,
    request: FieldRequest,
    input: Result<ScanInput, ApiError>,
) -> Result<access::PreparedScan, Failed> {
    let about = |mut failed: Failed, input: Option<&ScanInput>| {
        failed.about = input
            .and_then(|i| memberships::card_subject(db, i))
            .map(Box::new);
        failed
    };
    let (actor, by) = request
        .authenticate(st, db)
        .map_err(|f| about(f, input.as_ref().ok()))?;
    let now = st.clock.now();
    let fail = Failed::after(&by, now);
    let input = input.map_err(&fail)?;
    // The card's municipality (its key's owner): the paramedic's own, or one their fire
    // department serves; else refused here.
    let actor = memberships::scan_actor(db, &actor, &input, Action::Scan, now)
        .map_err(|e| about(fail(e), Some(&input)))?;
    let prepared = keys::load(db, &st.config.data_dir, &actor.municipality_id, false)
        .and_then(|ring| access::prepare_scan(db, &ring.trusted, &actor, &by, &input, now));
    prepared.map_err(|e| about(fail(e), Some(&input)))
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
    // Whatever refuses it once its signature has verified, its nonce is spent in the write
    // that audits the refusal (on success, in the access row's write).
    let here = service::inline_signed(&state.db, |db| {
        let (request, input) = parsed();
        prepare_scan(&state, db, request, input)
    });
    let prepared = match here.await {
        Some(prepared) => prepared?,
        None => {
            let (request, input) = parsed();
            let st = state.clone();
            web::block(move || {
                let ran = st.db.holding(|db| prepare_scan(&st, db, request, input));
                devices::finish(&st.db, ran)
            })
            .await??
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
    let input: Result<BreakGlassInput, _> = json_body(&req, &body);
    let now = state.clock.now();
    let d = signed(
        &state,
        &req,
        &body,
        Action::BreakGlass,
        true,
        move |db, actor, by| access::break_glass(db, &actor, &by, &input?, now),
    )
    .await?;
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
    let (now, aid) = (state.clock.now(), path.into_inner());
    let d = signed(
        &state,
        &req,
        &[],
        Action::ReadAccess,
        true,
        move |db, actor, by| access::reread(db, &actor, &by, &aid, now),
    )
    .await?;
    Ok(respond(&state, &req, actix_web::http::StatusCode::OK, &d))
}
