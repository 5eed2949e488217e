//! The OpenAPI 3 document, generated from the handlers' `#[utoipa::path]` attributes and the
//! request and response types' `ToSchema` derives, and served at `GET /api/v1/openapi.json`.
//!
//! `ApiDoc` must list every handler `configure` registers; tests/tests/openapi.rs fails when the
//! document's (method, path) pairs differ from `api::ROUTES` or from the routes in the source.

use super::{accounts, cards, facilities, field, pages, public, residents, staff};
use crate::error::ErrorBody;
use actix_web::{HttpResponse, web};
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToResponse};

/// Name of the bearer security scheme that authenticated operations require.
pub const BEARER: &str = "bearer";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/openapi.json", web::get().to(openapi_json));
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Kyukit (救急キット) API",
        description = "Residents' emergency information and their signed cards. \
            Authenticated operations take `Authorization: Bearer <token>` from registration or login. \
            Every error is `{\"error\": code, \"message\": text}`; docs/api.md lists the codes.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        openapi_json,
        crate::metrics::metrics,
        public::healthz,
        public::readyz,
        public::jwks,
        public::card_page,
        public::card_page_upper,
        accounts::register_resident,
        accounts::register_proxy,
        accounts::login,
        accounts::logout,
        accounts::my_residents,
        residents::get_profile,
        residents::put_profile,
        residents::list_items,
        residents::add_item,
        residents::update_item,
        residents::delete_item,
        residents::consents,
        residents::grant,
        residents::access_history,
        residents::withdraw,
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
        facilities::audit_head,
        field::scan,
        field::break_glass,
        field::reread,
        pages::root,
        pages::landing,
        pages::access_history,
        pages::resident,
        pages::admin,
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
        super::governance::apply,
        super::governance::list,
        super::governance::status,
        super::governance::decide,
        super::governance::change_request,
        super::governance::directory,
        super::governance::directory_page,
        super::governance::publish_notice,
        super::governance::notices,
        super::governance::withdraw_notice,
        // governance: disaster, disclosure
        crate::api::disasters::declare,
        crate::api::disasters::list,
        crate::api::disasters::renew,
        crate::api::disasters::end,
        crate::api::disasters::residents,
        crate::api::disasters::read,
        crate::api::data_disclosure::disclosure,
        crate::api::data_disclosure::disclosure_pdf,
        // pre-arrival
        crate::api::incidents::open,
        crate::api::incidents::crew_read,
        crate::api::incidents::report,
        crate::api::incidents::attach,
        crate::api::incidents::crew_attachment,
        crate::api::incidents::inquire,
        crate::api::incidents::destination,
        crate::api::incidents::arrive,
        crate::api::incidents::crew_feed,
        crate::api::incidents::incoming,
        crate::api::incidents::ed_read,
        crate::api::incidents::acknowledge,
        crate::api::incidents::answer,
        crate::api::incidents::ed_attachment,
        crate::api::incidents::hospital_feed,
        // push
        crate::api::push::vapid_public_key,
        crate::api::push::subscribe,
        crate::api::push::list,
        crate::api::push::unsubscribe,
        // paramedic PWA and ED dashboard
        crate::api::crew::hospitals,
        crate::api::field_pages::field_app,
        crate::api::field_pages::ed_dashboard,
        crate::api::field_pages::asset,
    ),
    components(
        schemas(ErrorBody),
        responses(BadBody, Unauthorized, PayloadTooLarge, UnsupportedMediaType, Internal, Unavailable),
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "public", description = "No session: health, issuer keys, revocation lists, the card page"),
        (name = "accounts", description = "Registration, login, logout"),
        (name = "residents", description = "A resident's profile, dataset, consent and withdrawal"),
        (name = "cards", description = "A resident's cards and their renderings"),
        (name = "facilities", description = "Fire departments and hospitals, and their staff"),
        (name = "devices", description = "Field-device enrollment and revocation"),
        (name = "field", description = "Signed requests from enrolled field devices (docs/device-protocol.md): scan, break-glass"),
        (name = "reviews", description = "The city's review of break-glass use, and the audit head to publish"),
        (name = "staff", description = "Staff IDs: suspension, reissue, facility suspension, password change"),
        (name = "disasters", description = "Disaster mode (RULES R11): the city's declarations; disaster responders' list and reads of consenting residents"),
        (name = "governance", description = "Facility applications and the city's decisions, change and withdrawal requests, the public directory, notices (RULES R1, R15, R17)"),
        (name = "pre-arrival", description = "Incidents, versioned pre-arrival reports, the acceptance inquiry (受入照会), ED acknowledgement, and the live feeds (Server-Sent Events) of hospitals and crews"),
        (name = "push", description = "Web Push alerts to ED staff devices: the VAPID key and the caller's subscriptions"),
        (name = "pages", description = "Web pages (Japanese and English) embedded in the binary"),
    )
)]
pub struct ApiDoc;

/// Adds the bearer security scheme the `security(("bearer" = []))` operations refer to.
#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A session token from registration or `POST /api/v1/sessions`; \
                         sessions end after 30 idle minutes or 12 hours (configurable).",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(ApiDoc::openapi)
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "public",
    responses(
        (status = 200, description = "The OpenAPI 3 document of this API", content_type = "application/json", body = Object),
    )
)]
pub(crate) async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

/// `invalid_json` (not JSON, or not UTF-8) or `invalid_body` (an unknown, missing or mistyped
/// field).
#[derive(Debug, ToResponse)]
pub struct BadBody(pub ErrorBody);

/// `unauthorized`: no session, or an unknown or expired one.
#[derive(Debug, ToResponse)]
pub struct Unauthorized(pub ErrorBody);

/// `payload_too_large`: the body is over 64 KiB.
#[derive(Debug, ToResponse)]
pub struct PayloadTooLarge(pub ErrorBody);

/// `unsupported_media_type`: the body is not sent as `application/json`.
#[derive(Debug, ToResponse)]
pub struct UnsupportedMediaType(pub ErrorBody);

/// `internal`: a bug; the details are in the server log only.
#[derive(Debug, ToResponse)]
pub struct Internal(pub ErrorBody);

/// `unavailable`: the database is unreachable or its pool exhausted, or no issuer key is active.
#[derive(Debug, ToResponse)]
pub struct Unavailable(pub ErrorBody);
