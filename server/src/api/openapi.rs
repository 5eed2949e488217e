//! The OpenAPI 3 document, generated from the handlers' `#[utoipa::path]` attributes and the
//! request and response types' `ToSchema` derives, and served at `GET /api/v1/openapi.json`.
//!
//! `ApiDoc` holds what is not an operation (info, shared components, tags); `document` adds the
//! operations from the route list (`declare_routes!` in `api/mod.rs`, see `router.rs`), the list
//! the router is built from.

use crate::api::error::ErrorBody;
use actix_web::HttpResponse;
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToResponse};

/// Name of the bearer security scheme that authenticated operations require.
pub const BEARER: &str = "bearer";
/// Name of the scheme of field requests signed by an enrolled device without a session (RFC 9421
/// `Signature`/`Signature-Input` headers, docs/device-protocol.md): the WebAuthn unlock.
pub const DEVICE: &str = "device";
/// Name of the scheme of a peer deployment's server-to-server requests (RFC 9421, signed by its
/// server key; docs/federation.md).
pub const PEER: &str = "peer";

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Kyukit (救急キット) API",
        description = "Residents' emergency information and their signed cards. \
            Authenticated operations take `Authorization: Bearer <token>` from registration or login. \
            Every error is `{\"error\": code, \"message\": text}`; docs/api.md lists the codes.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
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
        (name = "households", description = "Household stickers (玄関): a signed pointer to the cards of the people who live there, members who consent, print, revoke"),
        (name = "facilities", description = "Fire departments and hospitals, and their staff"),
        (name = "devices", description = "Field-device enrollment and revocation"),
        (name = "field", description = "Signed requests from enrolled field devices (docs/device-protocol.md): scan, break-glass"),
        (name = "federation", description = "Federation between Kyukit deployments (docs/federation.md): a peer deployment's signed request for a card of this municipality"),
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
        components.add_security_scheme(
            DEVICE,
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Header(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    "Signature",
                    "An RFC 9421 signature by an enrolled field device (with `Signature-Input`; \
                     docs/device-protocol.md), without a session.",
                ),
            )),
        );
        components.add_security_scheme(
            PEER,
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Header(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    "Signature",
                    "An RFC 9421 signature by a peer Kyukit deployment's server key (with \
                     `Signature-Input` and `Content-Digest`; docs/federation.md), without a session.",
                ),
            )),
        );
    }
}

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        super::router::add_paths(&mut doc);
        doc
    })
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
