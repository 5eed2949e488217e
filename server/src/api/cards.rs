//! Cards of a resident (issue, list, reissue, revoke, QR and NDEF renderings) and the public
//! per-key revocation list.

use super::openapi::{
    BadBody, Internal, PayloadTooLarge, Unauthorized, Unavailable, UnsupportedMediaType,
};
use crate::api::error::{ApiError, ErrorBody};
use crate::auth::Authenticated;
use crate::service::cards::{self, IssuePolicy};
use crate::service::keys;
use crate::state::AppState;
use actix_web::{HttpResponse, http::header, web};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CardList {
    pub cards: Vec<cards::CardInfo>,
}

/// Issues a card under the active issuer key, with the triage core if the consent says so.
#[utoipa::path(
    post,
    path = "/api/v1/residents/{rid}/cards",
    tag = "cards",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    responses(
        (status = 201, description = "The new card", body = cards::CardInfo),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for, or a malformed id", body = ErrorBody),
        (status = 409, description = "`consent_required`: no consent is in force; `withdrawn`: support is stopped (支援中止)", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn issue(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, cfg) = (state.db.clone(), state.clock.now(), state.config.clone());
    let card = web::block(move || {
        let base = keys::card_base(&db, &cfg, &a.municipality_id)?;
        let policy = IssuePolicy {
            data_dir: &cfg.data_dir,
            card_base_url: &base,
            validity_secs: cfg.card_validity_secs,
        };
        cards::issue(&db, &a, &rid, &policy, now)
    })
    .await??;
    Ok(HttpResponse::Created().json(card))
}

/// Every card of the resident, revoked ones included.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{rid}/cards",
    tag = "cards",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "The cards", body = CardList),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for, or a malformed id", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, cfg) = (state.db.clone(), state.config.clone());
    let list = web::block(move || {
        let base = keys::card_base(&db, &cfg, &a.municipality_id)?;
        cards::list(&db, &a, &rid, &base)
    })
    .await??;
    Ok(HttpResponse::Ok().json(CardList { cards: list }))
}

/// One card.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{rid}/cards/{cid}",
    tag = "cards",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters"), ("cid" = String, Path, description = "Card id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "The card", body = cards::CardInfo),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident or card, or a malformed id", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn get(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (db, cfg) = (state.db.clone(), state.config.clone());
    let (rid, cid) = path.into_inner();
    let card = web::block(move || {
        let base = keys::card_base(&db, &cfg, &a.municipality_id)?;
        cards::get(&db, &a, &rid, &cid, &base)
    })
    .await??;
    Ok(HttpResponse::Ok().json(card))
}

/// Revokes a card: it joins its key's revocation list.
#[utoipa::path(
    post,
    path = "/api/v1/residents/{rid}/cards/{cid}/revoke",
    tag = "cards",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters"), ("cid" = String, Path, description = "Card id: 32 lower-case hex characters")),
    request_body = cards::RevokeInput,
    responses(
        (status = 200, description = "The revoked card", body = cards::CardInfo),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident or card, or a malformed id", body = ErrorBody),
        (status = 409, description = "`already_revoked`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_field`: the reason must be 1–200 characters without control characters", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn revoke(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    path: web::Path<(String, String)>,
    body: web::Json<cards::RevokeInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, cfg, now) = (state.db.clone(), state.config.clone(), state.clock.now());
    let (rid, cid) = path.into_inner();
    let card = web::block(move || {
        let base = keys::card_base(&db, &cfg, &a.municipality_id)?;
        cards::revoke(&db, &a, &rid, &cid, body.into_inner(), &base, now)
    })
    .await??;
    Ok(HttpResponse::Ok().json(card))
}

/// Revokes a card (reason `reissued`, if still active) and issues its replacement, in one transaction.
#[utoipa::path(
    post,
    path = "/api/v1/residents/{rid}/cards/{cid}/reissue",
    tag = "cards",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters"), ("cid" = String, Path, description = "Card id: 32 lower-case hex characters")),
    responses(
        (status = 201, description = "The new card", body = cards::CardInfo),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident or card, or a malformed id", body = ErrorBody),
        (status = 409, description = "`consent_required`: no consent is in force; `withdrawn`: support is stopped (支援中止)", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn reissue(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, cfg) = (state.db.clone(), state.clock.now(), state.config.clone());
    let (rid, cid) = path.into_inner();
    let card = web::block(move || {
        let base = keys::card_base(&db, &cfg, &a.municipality_id)?;
        let policy = IssuePolicy {
            data_dir: &cfg.data_dir,
            card_base_url: &base,
            validity_secs: cfg.card_validity_secs,
        };
        cards::reissue(&db, &a, &rid, &cid, &policy, now)
    })
    .await??;
    Ok(HttpResponse::Created().json(card))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Render {
    /// Pixels per QR module, 1–32 (default 8).
    #[param(minimum = 1, maximum = 32)]
    module_px: Option<u32>,
    /// Quiet zone in modules, 4–16 (default 4).
    #[param(minimum = 4, maximum = 16)]
    quiet_zone: Option<u32>,
}

async fn card_qr(
    state: &web::Data<AppState>,
    a: crate::service::accounts::Actor,
    rid: String,
    cid: String,
) -> Result<(kyukit_card::CardQr, Vec<u8>, String), ApiError> {
    let (db, cfg) = (state.db.clone(), state.config.clone());
    web::block(move || {
        let row = cards::active_row(&db, &a, &rid, &cid)?;
        let base = keys::card_base(&db, &cfg, &a.municipality_id)?;
        let url = kyukit_card::card_url(&base, &row.cose).map_err(ApiError::internal)?;
        let qr = kyukit_card::CardQr::encode(&url, kyukit_card::EcLevel::Q)
            .map_err(ApiError::internal)?;
        Ok::<_, ApiError>((qr, row.cose, url))
    })
    .await?
}

fn render_args(r: &Render) -> Result<(u32, u32), ApiError> {
    let (px, qz) = (r.module_px.unwrap_or(8), r.quiet_zone.unwrap_or(4));
    if !(1..=32).contains(&px) || !(4..=16).contains(&qz) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "module_px must be 1–32 and quiet_zone 4–16",
        ));
    }
    Ok((px, qz))
}

/// The card's QR as `qr.png` or `qr.svg`.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{rid}/cards/{cid}/qr.{ext}",
    tag = "cards",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters"), ("cid" = String, Path, description = "Card id: 32 lower-case hex characters"), ("ext" = String, Path, description = "`png` or `svg`", pattern = "^(png|svg)$"), Render),
    responses(
        (status = 200, description = "The card's QR code (its URL, error correction level Q)", headers(("Cache-Control" = String, description = "`private, no-store`")), content(("image/png"), (String = "image/svg+xml"))),
        (status = 400, description = "`invalid_query`: module_px must be 1–32 and quiet_zone 4–16, or an unknown parameter", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident or card, a malformed id, or an extension other than png and svg", body = ErrorBody),
        (status = 409, description = "`card_revoked`: a revoked card's QR code is not handed out", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn qr(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    path: web::Path<(String, String, String)>,
    q: web::Query<Render>,
) -> Result<HttpResponse, ApiError> {
    let (rid, cid, ext) = path.into_inner();
    let (px, qz) = render_args(&q)?;
    let (qr, _, _) = card_qr(&state, a, rid, cid).await?;
    let (body, content_type) = match ext.as_str() {
        "png" => (qr.to_png(px, qz).map_err(ApiError::internal)?, "image/png"),
        "svg" => (
            qr.to_svg(px, qz).map_err(ApiError::internal)?.into_bytes(),
            "image/svg+xml",
        ),
        _ => return Err(ApiError::not_found("qr.png or qr.svg")),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(body))
}

/// The card as an NDEF message (URI record and the card bytes) for writing to an NFC tag.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{rid}/cards/{cid}/card.ndef",
    tag = "cards",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters"), ("cid" = String, Path, description = "Card id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "NDEF message bytes", content(("application/octet-stream")), headers(("Cache-Control" = String, description = "`private, no-store`"), ("Content-Disposition" = String, description = "`attachment; filename=\"card.ndef\"`"))),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident or card, or a malformed id", body = ErrorBody),
        (status = 409, description = "`card_revoked`: a revoked card is not written to a tag", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn ndef(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (rid, cid) = path.into_inner();
    let (_, cose, url) = card_qr(&state, a, rid, cid).await?;
    let bytes = kyukit_card::build_ndef(&url, &cose).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"card.ndef\"",
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
}

/// The published revocation list of one issuer key: revoked, unexpired card ids.
#[utoipa::path(
    get,
    path = "/api/v1/revocations/{kid}",
    tag = "public",
    params(("kid" = String, Path, description = "Issuer key id (at most 16 characters of A–Z a–z 0–9 - _)")),
    responses(
        (status = 200, description = "The list", body = cards::RevocationList, headers(("Cache-Control" = String, description = "`public, max-age=60`"))),
        (status = 404, description = "`not_found`: no such key", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn revocations(
    state: web::Data<AppState>,
    kid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    // Per kid: the key's owner is the municipality whose list it is.
    let list = web::block(move || {
        let muni = crate::service::keys::kid_owner(&db, &kid)?
            .ok_or_else(|| ApiError::not_found("no such key"))?;
        cards::revocation_list(&db, &muni, &kid, now)
    })
    .await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(list))
}

/// Printables: `fridge-sheet.png|pdf`, `wallet-card.png|pdf`.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{rid}/cards/{cid}/print/{doc}",
    tag = "cards",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters"), ("cid" = String, Path, description = "Card id: 32 lower-case hex characters"), ("doc" = String, Path, description = "`fridge-sheet.png`, `fridge-sheet.pdf`, `wallet-card.png` or `wallet-card.pdf`", pattern = "^(fridge-sheet|wallet-card)\\.(png|pdf)$")),
    responses(
        (status = 200, description = "The printable; the name only if the consent says `name_on_print`", headers(("Cache-Control" = String, description = "`private, no-store`"), ("Content-Disposition" = String, description = "`inline; filename=\"<doc>\"`")), content(("image/png"), ("application/pdf"))),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident or card, a malformed id, or not one of the four printables", body = ErrorBody),
        (status = 409, description = "`card_revoked`: revoked cards are not printed", body = ErrorBody),
        (status = 422, description = "`cannot_print`: the name has a glyph the font lacks or is too long; turn off printing the name or edit it", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn printable(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (rid, cid, doc) = path.into_inner();
    type Render = fn(&kyukit_print::PrintCard) -> Result<Vec<u8>, kyukit_print::PrintError>;
    let (render, content_type): (Render, &str) = match doc.as_str() {
        "fridge-sheet.png" => (kyukit_print::fridge_sheet_png, "image/png"),
        "fridge-sheet.pdf" => (kyukit_print::fridge_sheet_pdf, "application/pdf"),
        "wallet-card.png" => (kyukit_print::wallet_card_png, "image/png"),
        "wallet-card.pdf" => (kyukit_print::wallet_card_pdf, "application/pdf"),
        _ => {
            return Err(ApiError::not_found(
                "printables: fridge-sheet.png|pdf, wallet-card.png|pdf",
            ));
        }
    };
    let (db, cfg) = (state.db.clone(), state.config.clone());
    let bytes = web::block(move || {
        let base = keys::card_base(&db, &cfg, &a.municipality_id)?;
        let d = cards::print_data(&db, &a, &rid, &cid, &base)?;
        let qr = kyukit_card::CardQr::encode(&d.url, kyukit_card::EcLevel::Q)
            .map_err(ApiError::internal)?;
        let card = kyukit_print::PrintCard {
            qr: &qr,
            name: d.name.as_deref(),
            municipality_ja: &d.municipality_ja,
            municipality_en: &d.municipality_en,
            card_ref: &d.card_ref,
            issued_on: &d.issued_on,
            expires_on: &d.expires_on,
        };
        render(&card).map_err(|e| match e {
            kyukit_print::PrintError::MissingGlyph { .. }
            | kyukit_print::PrintError::TextTooLong { .. } => ApiError::unprocessable(
                "cannot_print",
                format!("{e}; turn off printing the name or edit it"),
            ),
            other => ApiError::internal(other),
        })
    })
    .await??;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{doc}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
}
