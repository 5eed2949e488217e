//! The household sticker (issue 27): residents and proxies create a household, list members who
//! consent, print and revoke its sticker; a paramedic device scans it (signed) to list the
//! members; a bystander opening its URL gets the 119 page. Rules in `service::households`.

use super::extract::{json_body, signed};
use super::openapi::{
    BadBody, Internal, PayloadTooLarge, Unauthorized, Unavailable, UnsupportedMediaType,
};
use crate::api::error::{ApiError, ErrorBody};
use crate::audit::Action;
use crate::auth::Authenticated;
use crate::service::cards::IssuePolicy;
use crate::service::households as svc;
use crate::service::keys;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HouseholdList {
    pub households: Vec<svc::Household>,
}

/// Create a household and its sticker, with the resident as its first member.
///
/// The caller acts for the resident (themself or a proxy): that is the member's consent to be
/// listed. The sticker is signed with the active issuer key and carries no personal data.
#[utoipa::path(
    post,
    path = "/api/v1/households",
    tag = "households",
    security(("bearer" = [])),
    request_body = svc::MemberInput,
    responses(
        (status = 201, description = "The household, its sticker URL and members", body = svc::Household),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for", body = ErrorBody),
        (status = 409, description = "`withdrawn` (支援中止)", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn create(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    body: web::Json<svc::MemberInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, cfg, now) = (state.db.clone(), state.config.clone(), state.clock.now());
    let out = web::block(move || {
        let base = keys::card_base(&db, &cfg, &a.municipality_id)?;
        let policy = IssuePolicy {
            data_dir: &cfg.data_dir,
            card_base_url: &base,
            validity_secs: cfg.card_validity_secs,
        };
        svc::create(&db, &a, &body, &policy, now)
    })
    .await??;
    Ok(HttpResponse::Created().json(out))
}

/// The households a resident is listed on, with their members.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{rid}/households",
    tag = "households",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "Households (active and revoked)", body = HouseholdList),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn of_resident(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, cfg, now) = (state.db.clone(), state.config.clone(), state.clock.now());
    let households = web::block(move || {
        let base = keys::card_base(&db, &cfg, &a.municipality_id)?;
        svc::of_resident(&db, &a, &rid, &base, now)
    })
    .await??;
    Ok(HttpResponse::Ok().json(HouseholdList { households }))
}

/// One household the caller manages (acts for one of its members).
#[utoipa::path(
    get,
    path = "/api/v1/households/{hh}",
    tag = "households",
    security(("bearer" = [])),
    params(("hh" = String, Path, description = "Household id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "The household", body = svc::Household),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn get(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    hh: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, cfg, now) = (state.db.clone(), state.config.clone(), state.clock.now());
    let out = web::block(move || {
        let base = keys::card_base(&db, &cfg, &a.municipality_id)?;
        svc::get(&db, &a, &hh, &base, now)
    })
    .await??;
    Ok(HttpResponse::Ok().json(out))
}

/// List another member: the caller acts for them (their consent) and for a current member.
#[utoipa::path(
    post,
    path = "/api/v1/households/{hh}/members",
    tag = "households",
    security(("bearer" = [])),
    params(("hh" = String, Path, description = "Household id: 32 lower-case hex characters")),
    request_body = svc::MemberInput,
    responses(
        (status = 200, description = "The household with the new member", body = svc::Household),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such household or resident the caller acts for", body = ErrorBody),
        (status = 409, description = "`already_member`, `too_many_members`, `household_revoked`, `withdrawn`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn add_member(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    hh: web::Path<String>,
    body: web::Json<svc::MemberInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, cfg, now) = (state.db.clone(), state.config.clone(), state.clock.now());
    let out = web::block(move || {
        let base = keys::card_base(&db, &cfg, &a.municipality_id)?;
        svc::add_member(&db, &a, &hh, &body, &base, now)
    })
    .await??;
    Ok(HttpResponse::Ok().json(out))
}

/// A member leaves the household: listed no more, at once.
#[utoipa::path(
    delete,
    path = "/api/v1/households/{hh}/members/{rid}",
    tag = "households",
    security(("bearer" = [])),
    params(("hh" = String, Path, description = "Household id"), ("rid" = String, Path, description = "Resident id")),
    responses(
        (status = 204, description = "Left"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn remove_member(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let (hh, rid) = path.into_inner();
    web::block(move || svc::remove_member(&db, &a, &hh, &rid, now)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Revoke the household's sticker: scanning it lists nobody from now on.
#[utoipa::path(
    post,
    path = "/api/v1/households/{hh}/revoke",
    tag = "households",
    security(("bearer" = [])),
    params(("hh" = String, Path, description = "Household id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`household_revoked`: revoked already", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn revoke(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    hh: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    web::block(move || svc::revoke(&db, &a, &hh, now)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// The sticker to print: A4 portrait, 「玄関 / Household」, a large QR code, no names.
#[utoipa::path(
    get,
    path = "/api/v1/households/{hh}/sticker.pdf",
    tag = "households",
    security(("bearer" = [])),
    params(("hh" = String, Path, description = "Household id")),
    responses(
        (status = 200, description = "The sticker as PDF", content_type = "application/pdf"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`household_revoked`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn sticker_pdf(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    hh: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    printable(state, a, hh.into_inner(), true).await
}

/// The sticker's QR code alone (PNG, 8 px a module).
#[utoipa::path(
    get,
    path = "/api/v1/households/{hh}/qr.png",
    tag = "households",
    security(("bearer" = [])),
    params(("hh" = String, Path, description = "Household id")),
    responses(
        (status = 200, description = "The sticker's QR code (its URL, error correction level Q)", content_type = "image/png"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`household_revoked`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn sticker_qr(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    hh: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    printable(state, a, hh.into_inner(), false).await
}

async fn printable(
    state: web::Data<AppState>,
    a: crate::service::accounts::Actor,
    hh: String,
    pdf: bool,
) -> Result<HttpResponse, ApiError> {
    let (db, cfg) = (state.db.clone(), state.config.clone());
    let bytes = web::block(move || {
        let row = svc::sticker(&db, &a, &hh)?;
        let base = keys::card_base(&db, &cfg, &a.municipality_id)?;
        let url = kyukit_card::household_url(&base, &row.cose).map_err(ApiError::internal)?;
        let qr = kyukit_card::CardQr::encode(&url, kyukit_card::EcLevel::Q)
            .map_err(ApiError::internal)?;
        if pdf {
            kyukit_print::household_sticker_pdf(&qr, &row.id[..8]).map_err(ApiError::internal)
        } else {
            qr.to_png(8, 4).map_err(ApiError::internal)
        }
    })
    .await??;
    let (content_type, name) = if pdf {
        ("application/pdf", "sticker.pdf")
    } else {
        ("image/png", "qr.png")
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
}

/// Scan a household sticker: the members listed on it, to pick the patient.
///
/// Signed like a scan (RFC 9421). Lists the members who may be listed now (consent to be
/// listed, record active, consent to share with responders in force, an active card): name,
/// kana, age, sex, photo if consented, and the member's card — picking a member is scanning
/// that card (`POST /api/v1/scans`). Each listing is in each listed member's access history.
#[utoipa::path(
    post,
    path = "/api/v1/household-scans",
    tag = "field",
    request_body = svc::HouseholdScanInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The listed members", body = svc::HouseholdListing),
        (status = 400, response = BadBody),
        (status = 401, description = "Device or session refused (as for scans)", body = ErrorBody),
        (status = 403, description = "`forbidden`, `sticker_not_genuine`, `sticker_revoked`", body = ErrorBody),
        (status = 404, description = "`sticker_unknown`", body = ErrorBody),
        (status = 422, description = "`invalid_sticker`, `invalid_field`", body = ErrorBody),
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
    let input: Result<svc::HouseholdScanInput, _> = json_body(&req, &body);
    let now = state.clock.now();
    let cfg = state.config.clone();
    let out = signed(
        &state,
        &req,
        &body,
        Action::ListHousehold,
        true,
        move |db, actor, by| {
            let input = input?;
            // The paramedic's municipality's keys: a sticker of another is refused as not
            // genuine here.
            let ring = keys::load(db, &cfg.data_dir, &actor.municipality_id, false)?;
            svc::scan(db, &ring.trusted, &actor, &by, &input, now)
        },
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(out))
}

/// The page behind a household sticker's URL: the bystander's 119 page, nothing private.
#[utoipa::path(
    get,
    path = "/h/{sticker}",
    tag = "public",
    params(("sticker" = String, Path, description = "The sticker: its COSE bytes as decimal digits")),
    responses(
        (status = 200, description = "The sticker verifies and is not revoked", content_type = "text/html", body = String),
        (status = 404, description = "Not a genuine, unrevoked sticker: the page says so, and still to call 119", content_type = "text/html", body = String),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn sticker_page(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    sticker_page_for(state, path.into_inner()).await
}

/// The same page under the upper-cased base that QR codes carry.
#[utoipa::path(
    get,
    path = "/H/{sticker}",
    tag = "public",
    params(("sticker" = String, Path, description = "The sticker: its COSE bytes as decimal digits")),
    responses(
        (status = 200, description = "The sticker verifies and is not revoked", content_type = "text/html", body = String),
        (status = 404, description = "Not a genuine, unrevoked sticker", content_type = "text/html", body = String),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn sticker_page_upper(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    sticker_page_for(state, path.into_inner()).await
}

async fn sticker_page_for(
    state: web::Data<AppState>,
    digits: String,
) -> Result<HttpResponse, ApiError> {
    let (db, cfg) = (state.db.clone(), state.config.clone());
    let handoff =
        (!digits.is_empty() && digits.len() <= 2048 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| format!("household={digits}"));
    let genuine = web::block(move || {
        let Ok(cose) = kyukit_card::digits_to_bytes(&digits) else {
            return Ok(false);
        };
        // Its issuer: the owner of the key it names.
        let Some(muni) = keys::card_issuer(&db, &cose)? else {
            return Ok(false);
        };
        let ring = keys::load(&db, &cfg.data_dir, &muni, false)?;
        Ok::<_, ApiError>(match kyukit_card::verify_household(&cose, &ring.trusted) {
            Ok(_) => svc::is_active(&db, &muni, &cose)?,
            Err(_) => false,
        })
    })
    .await??;
    let mut resp = if genuine {
        HttpResponse::Ok()
    } else {
        HttpResponse::NotFound()
    };
    Ok(resp
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .content_type("text/html; charset=utf-8")
        .body(super::public::bystander_html(genuine, handoff.as_deref())))
}
