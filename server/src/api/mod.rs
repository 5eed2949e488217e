//! HTTP handlers, grouped by resource. Handlers extract and validate input, call services inside
//! `web::block` (so the async runtime never waits on the database) and map errors to `ApiError`;
//! they never touch diesel.

pub mod accounts;
pub mod cards;
pub mod crew;
pub mod data_disclosure;
pub mod disasters;
pub mod error;
pub mod facilities;
pub mod field;
pub mod field_pages;
pub mod governance;
pub mod incidents;
pub mod openapi;
pub mod pages;
pub mod public;
pub mod push; // push
pub mod residents;
pub mod staff;

use crate::error::ApiError;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{HttpRequest, web};

/// Registers every route. Each one is also in `ROUTES` and has a `#[utoipa::path]` listed in
/// `openapi::ApiDoc`; tests/tests/openapi.rs checks both.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // First: the router tries routes in order (a regex per dynamic path), and scans are the hot
    // path. No other route overlaps these three.
    field::configure(cfg);
    public::configure(cfg);
    accounts::configure(cfg);
    residents::configure(cfg);
    cards::configure(cfg);
    facilities::configure(cfg);
    pages::configure(cfg);
    // governance: accounts & security (lead)
    staff::configure(cfg);
    // governance: applications, directory, notices
    governance::configure(cfg);
    // governance: disaster, disclosure
    disasters::configure(cfg);
    data_disclosure::configure(cfg);
    // pre-arrival
    incidents::configure(cfg);
    // push
    push::configure(cfg);
    // paramedic PWA and ED dashboard
    crew::configure(cfg);
    field_pages::configure(cfg);
    openapi::configure(cfg);
}

/// Every (method, path) the server registers, spelled as in `configure` (and as in the OpenAPI
/// document: `{name}` placeholders). tests/tests/openapi.rs checks that this list, the routes in
/// the source and the document's operations are the same set, and that each one answers.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/c/{card}"),
    ("GET", "/C/{card}"),
    ("GET", "/api/v1/openapi.json"),
    // Registered in `startup` (the handler is `crate::metrics::metrics`).
    ("GET", "/metrics"),
    ("POST", "/api/v1/residents"),
    ("POST", "/api/v1/proxies"),
    ("POST", "/api/v1/sessions"),
    ("DELETE", "/api/v1/sessions/current"),
    ("GET", "/api/v1/me/residents"),
    ("GET", "/api/v1/residents/{rid}"),
    ("PUT", "/api/v1/residents/{rid}"),
    ("GET", "/api/v1/residents/{rid}/dataset"),
    ("POST", "/api/v1/residents/{rid}/dataset"),
    ("PUT", "/api/v1/residents/{rid}/dataset/{item}"),
    ("DELETE", "/api/v1/residents/{rid}/dataset/{item}"),
    ("GET", "/api/v1/residents/{rid}/consents"),
    ("POST", "/api/v1/residents/{rid}/consents"),
    ("POST", "/api/v1/residents/{rid}/withdrawal"),
    ("GET", "/api/v1/residents/{rid}/access-history"),
    ("GET", "/api/v1/residents/{rid}/cards"),
    ("POST", "/api/v1/residents/{rid}/cards"),
    ("GET", "/api/v1/residents/{rid}/cards/{cid}"),
    ("POST", "/api/v1/residents/{rid}/cards/{cid}/revoke"),
    ("POST", "/api/v1/residents/{rid}/cards/{cid}/reissue"),
    ("GET", "/api/v1/residents/{rid}/cards/{cid}/qr.{ext}"),
    ("GET", "/api/v1/residents/{rid}/cards/{cid}/card.ndef"),
    ("GET", "/api/v1/residents/{rid}/cards/{cid}/print/{doc}"),
    ("GET", "/api/v1/revocations/{kid}"),
    ("POST", "/api/v1/facilities"),
    ("GET", "/api/v1/facilities"),
    ("POST", "/api/v1/facilities/{fid}/staff"),
    ("POST", "/api/v1/facilities/{fid}/enrollment-codes"),
    ("GET", "/api/v1/facilities/{fid}/devices"),
    ("POST", "/api/v1/devices"),
    ("POST", "/api/v1/devices/{did}/revoke"),
    ("GET", "/api/v1/reviews/break-glass"),
    ("POST", "/api/v1/reviews/break-glass/{aid}"),
    ("POST", "/api/v1/scans"),
    ("POST", "/api/v1/break-glass"),
    ("GET", "/api/v1/accesses/{aid}"),
    ("GET", "/api/v1/audit/head"),
    ("GET", "/"),
    ("GET", "/pages/"),
    ("GET", "/pages/access-history"),
    ("GET", "/pages/resident"),
    ("GET", "/pages/admin"),
    ("GET", "/pages/assets/{file}"),
    // governance: accounts & security (lead)
    ("GET", "/api/v1/accounts"),
    ("POST", "/api/v1/accounts/{aid}/suspend"),
    ("POST", "/api/v1/accounts/{aid}/reinstate"),
    ("POST", "/api/v1/accounts/{aid}/reissue"),
    ("POST", "/api/v1/facilities/{fid}/suspend"),
    ("POST", "/api/v1/facilities/{fid}/reinstate"),
    ("PUT", "/api/v1/me/password"),
    // governance: applications, directory, notices
    ("POST", "/api/v1/facility-applications"),
    ("GET", "/api/v1/facility-applications"),
    ("GET", "/api/v1/facility-applications/{apid}"),
    ("POST", "/api/v1/facility-applications/{apid}/decision"),
    ("POST", "/api/v1/facilities/{fid}/change-requests"),
    ("GET", "/api/v1/directory"),
    ("GET", "/pages/directory"),
    ("POST", "/api/v1/notices"),
    ("GET", "/api/v1/notices"),
    ("DELETE", "/api/v1/notices/{nid}"),
    // governance: disaster, disclosure
    ("POST", "/api/v1/disasters"),
    ("GET", "/api/v1/disasters"),
    ("POST", "/api/v1/disasters/{did}/renew"),
    ("POST", "/api/v1/disasters/{did}/end"),
    ("GET", "/api/v1/disaster/residents"),
    ("GET", "/api/v1/disaster/residents/{rid}"),
    ("GET", "/api/v1/residents/{rid}/disclosure"),
    ("GET", "/api/v1/residents/{rid}/disclosure.pdf"),
    // pre-arrival
    ("POST", "/api/v1/incidents"),
    ("GET", "/api/v1/incidents/{iid}"),
    ("POST", "/api/v1/incidents/{iid}/reports"),
    ("POST", "/api/v1/incidents/{iid}/attachments"),
    ("GET", "/api/v1/incidents/{iid}/attachments/{atid}"),
    ("POST", "/api/v1/incidents/{iid}/inquiries"),
    ("POST", "/api/v1/incidents/{iid}/destination"),
    ("POST", "/api/v1/incidents/{iid}/arrival"),
    ("GET", "/api/v1/crew/feed"),
    ("GET", "/api/v1/hospital/incidents"),
    ("GET", "/api/v1/hospital/incidents/{iid}"),
    ("POST", "/api/v1/hospital/incidents/{iid}/acknowledge"),
    ("POST", "/api/v1/hospital/incidents/{iid}/answer"),
    ("GET", "/api/v1/hospital/incidents/{iid}/attachments/{atid}"),
    ("GET", "/api/v1/hospital/feed"),
    // push
    ("GET", "/api/v1/push/vapid-public-key"),
    ("POST", "/api/v1/push/subscriptions"),
    ("GET", "/api/v1/push/subscriptions"),
    ("DELETE", "/api/v1/push/subscriptions/{sid}"),
    // paramedic PWA and ED dashboard
    ("GET", "/api/v1/hospitals"),
    ("GET", "/pages/field"),
    ("GET", "/pages/ed"),
    ("GET", "/pages/field/{asset}"),
];

/// A raw request body (for signed requests, whose digest is over the exact bytes). Over the
/// route's `PayloadConfig` limit it is `413 payload_too_large` in the standard error body (the
/// plain `Bytes` extractor answers in plain text).
#[derive(Debug)]
pub struct RawBody(pub web::Bytes);

impl std::ops::Deref for RawBody {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl actix_web::FromRequest for RawBody {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let fut = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            fut.await.map(RawBody).map_err(|e| {
                match e.as_error::<actix_web::error::PayloadError>() {
                    Some(actix_web::error::PayloadError::Overflow) => {
                        ApiError::too_large("payload_too_large", "the request body is too large")
                    }
                    _ => {
                        ApiError::bad_request("invalid_body", "the request body could not be read")
                    }
                }
            })
        })
    }
}

/// Unknown paths get the JSON error body too.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found("no such endpoint"))
}

/// JSON bodies: size limit (413), content type (415), syntax and schema errors (400), each in the
/// standard error body. serde's message names the field; it contains no server internals.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(
        move |err: JsonPayloadError, _req: &HttpRequest| {
            let api = match &err {
                JsonPayloadError::OverflowKnownLength { .. }
                | JsonPayloadError::Overflow { .. } => ApiError::too_large(
                    "payload_too_large",
                    format!("request body over {limit} bytes"),
                ),
                JsonPayloadError::ContentType => unsupported_media_type(),
                JsonPayloadError::Deserialize(e) => json_error(e),
                _ => ApiError::bad_request(
                    "invalid_json",
                    "the request body could not be read as JSON",
                ),
            };
            api.into()
        },
    )
}

/// `415 unsupported_media_type`: a body that is not `application/json`.
pub(crate) fn unsupported_media_type() -> ApiError {
    ApiError::unsupported_media(
        "unsupported_media_type",
        "send Content-Type: application/json",
    )
}

/// A JSON body that does not parse (`invalid_json`) or does not fit the type (`invalid_body`);
/// serde's message names the field and holds no server internals.
pub(crate) fn json_error(e: &serde_json::Error) -> ApiError {
    if e.is_data() {
        ApiError::bad_request("invalid_body", format!("request body: {e}"))
    } else {
        ApiError::bad_request("invalid_json", format!("malformed JSON: {e}"))
    }
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err: PathError, _req: &HttpRequest| {
        ApiError::not_found("no such object").into()
    })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req: &HttpRequest| {
        ApiError::bad_request("invalid_query", format!("query string: {err}")).into()
    })
}
