//! HTTP handlers, grouped by resource. Handlers extract and validate input, call services inside
//! `web::block` (so the async runtime never waits on the database) and map errors to `ApiError`;
//! they never touch diesel.

pub mod accounts;
pub mod cards;
pub mod compressed;
pub mod crew;
pub mod data_disclosure;
pub mod disasters;
pub mod error;
pub mod extract;
pub mod facilities;
pub mod family;
pub mod field;
pub mod field_pages;
pub mod governance;
pub mod households;
pub mod imports;
pub mod incidents;
pub mod openapi;
pub mod pages;
pub mod photo;
pub mod proxies;
pub mod public;
pub mod push; // push
pub mod reconfirm;
pub mod registrations;
pub mod residents;
pub mod router;
pub mod staff;
pub mod tenant;
pub mod webauthn;

use crate::api::error::ApiError;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{HttpRequest, web};

// Every route, declared once: the handler's `#[utoipa::path]` states its method and path, and
// this list names it, in the order the router tries them (`router.rs` explains what is generated
// from it). Nothing else registers a route: `startup` adds only the app data, middleware and the
// JSON 404 default service; tests/tests/openapi.rs checks this list, the document and the source.
router::declare_routes! {
    // Prometheus text (the handler lives with the metrics); registered first, as it always was.
    crate::metrics::metrics,
    // First of the API: the router tries routes in order (a regex per dynamic path), and scans
    // are the hot path. No other route overlaps these three.
    field::scan,
    field::break_glass,
    field::reread,
    public::healthz,
    public::readyz,
    public::jwks,
    public::trust_list,
    public::trust_list_key,
    public::trust_list_json,
    // Card URLs carry an upper-cased base in QR codes (alphanumeric mode): accept both cases.
    public::card_page,
    public::card_page_upper,
    households::sticker_page,
    households::sticker_page_upper,
    households::scan,
    accounts::register_resident,
    accounts::register_proxy,
    accounts::login,
    accounts::logout,
    webauthn::begin_register,
    webauthn::finish_register,
    webauthn::begin_unlock,
    webauthn::finish_unlock,
    accounts::my_residents,
    residents::get_profile,
    residents::put_profile,
    residents::list_items,
    residents::add_item,
    residents::update_item,
    residents::delete_item,
    residents::consents,
    residents::grant,
    residents::withdraw,
    residents::access_history,
    reconfirm::get,
    reconfirm::confirm,
    reconfirm::list,
    reconfirm::letters,
    reconfirm::remind,
    imports::upload,
    imports::job,
    proxies::invite,
    proxies::invites,
    proxies::cancel_invite,
    proxies::accept,
    proxies::register,
    proxies::list,
    proxies::remove,
    family::subscribe,
    family::list,
    family::unsubscribe,
    households::create,
    households::of_resident,
    households::get,
    households::add_member,
    households::remove_member,
    households::revoke,
    households::sticker_pdf,
    households::sticker_qr,
    photo::put,
    photo::get,
    photo::delete,
    photo::for_access,
    cards::list,
    cards::issue,
    cards::get,
    cards::revoke,
    cards::reissue,
    cards::qr,
    cards::ndef,
    cards::printable,
    cards::revocations,
    facilities::create,
    facilities::list,
    facilities::add_staff,
    facilities::create_code,
    facilities::devices,
    facilities::enroll,
    facilities::revoke,
    facilities::reviews,
    facilities::review,
    registrations::list,
    registrations::decide,
    facilities::audit_head,
    pages::root,
    pages::landing,
    pages::access_history,
    pages::resident,
    pages::admin,
    pages::apply,
    pages::asset,
    // governance: accounts & security (lead)
    staff::list,
    staff::suspend,
    staff::reinstate,
    staff::reissue,
    staff::suspend_facility,
    staff::reinstate_facility,
    staff::change_password,
    // governance: applications, directory, notices
    governance::apply,
    governance::list,
    governance::status,
    governance::decide,
    governance::change_request,
    governance::directory,
    governance::directory_page,
    governance::publish_notice,
    governance::notices,
    governance::withdraw_notice,
    // governance: disaster, disclosure
    disasters::declare,
    disasters::list,
    disasters::renew,
    disasters::end,
    disasters::residents,
    disasters::read,
    data_disclosure::disclosure,
    data_disclosure::disclosure_pdf,
    // pre-arrival
    incidents::crew::open,
    incidents::crew::crew_read,
    incidents::crew::report,
    incidents::crew::crew_reports,
    incidents::crew::attach,
    incidents::crew::crew_attachment,
    incidents::crew::inquire,
    incidents::crew::destination,
    incidents::crew::arrive,
    incidents::feed::crew_feed,
    incidents::hospital::incoming,
    incidents::board::board,
    incidents::hospital::ed_read,
    incidents::hospital::ed_reports,
    incidents::hospital::acknowledge,
    incidents::hospital::answer,
    incidents::hospital::ed_attachment,
    incidents::hospital::capacity,
    incidents::hospital::set_capacity,
    incidents::hospital::inquiry_codes,
    incidents::feed::hospital_feed,
    // push
    push::vapid_public_key,
    push::subscribe,
    push::list,
    push::unsubscribe,
    // paramedic PWA and ED dashboard
    crew::hospitals,
    field_pages::field_app,
    field_pages::ed_dashboard,
    field_pages::asset,
    openapi::openapi_json,
}

pub use router::{Route, configure, routes};

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
