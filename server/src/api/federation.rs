//! Federation between deployments (issue 22; docs/federation.md): the home deployment's endpoint
//! a peer deployment calls when one of its paramedics scans a card of this municipality. The
//! request is signed with the peer's server key (RFC 9421, the subset of `httpsig`); there is no
//! session. The paramedic's side is in `api::field::scan` (a card whose key is a peer's).

use super::extract::{json_body, parse_signature};
use super::openapi::{BadBody, Internal, PayloadTooLarge, Unavailable, UnsupportedMediaType};
use crate::api::error::{ApiError, ErrorBody};
use crate::service::disclosure::Disclosure;
use crate::service::federation::{self, FederatedScanRequest};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// A peer deployment's scan of this municipality's card: the consented dataset.
///
/// Signed by the peer's server key (`Signature-Input` covering `@method`, `@authority`,
/// `@path`, `content-digest`; `created` within 60 s; a single-use `nonce`; `keyid` = a server key
/// in the peer's trust list). Audited here, naming the peer's fire department and deployment,
/// before the answer.
#[utoipa::path(
    post,
    path = "/api/v1/federation/scan",
    tag = "federation",
    request_body = FederatedScanRequest,
    security(("peer" = [])),
    params(
        ("Signature-Input" = String, Header, description = "RFC 9421 signature parameters (docs/federation.md)"),
        ("Signature" = String, Header, description = "RFC 9421 signature by the peer deployment's server key"),
        ("Content-Digest" = String, Header, description = "RFC 9530 sha-256 digest of the body"),
    ),
    responses(
        (status = 200, description = "The consented dataset, as for a local scan", body = Disclosure),
        (status = 400, response = BadBody),
        (status = 401, description = "`signature_required`, `signature_invalid`, `signature_expired`, `peer_unknown`, `replayed_request`", body = ErrorBody),
        (status = 403, description = "`peer_mismatch`, `federated_break_glass_not_allowed`, `untrusted_issuer`, `card_not_genuine`, `card_expired`, `card_revoked`, `consent_withdrawn`", body = ErrorBody),
        (status = 404, description = "`card_unknown`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_card`, `invalid_text`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: this peer deployment sent more than `--federation-per-peer-per-min` signed requests in a minute", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn scan(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: super::RawBody,
) -> Result<HttpResponse, ApiError> {
    let signed = parse_signature(&req, &body);
    let input = json_body::<FederatedScanRequest>(&req, &body);
    let st = state.clone();
    let d = web::block(move || {
        let now = st.clock.now();
        federation::serve_scan(
            &st.db,
            &st.config,
            &st.limits,
            &st.default_municipality,
            signed,
            input,
            now,
        )
    })
    .await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(d))
}
