//! Cards of a resident (issue, list, reissue, revoke, QR and NDEF renderings) and the public
//! per-key revocation list.

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::service::cards::{self, IssuePolicy};
use crate::state::AppState;
use actix_web::{HttpResponse, http::header, web};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/residents/{rid}/cards", web::get().to(list))
        .route("/api/v1/residents/{rid}/cards", web::post().to(issue))
        .route("/api/v1/residents/{rid}/cards/{cid}", web::get().to(get))
        .route(
            "/api/v1/residents/{rid}/cards/{cid}/revoke",
            web::post().to(revoke),
        )
        .route(
            "/api/v1/residents/{rid}/cards/{cid}/reissue",
            web::post().to(reissue),
        )
        .route(
            "/api/v1/residents/{rid}/cards/{cid}/qr.{ext}",
            web::get().to(qr),
        )
        .route(
            "/api/v1/residents/{rid}/cards/{cid}/card.ndef",
            web::get().to(ndef),
        )
        .route(
            "/api/v1/residents/{rid}/cards/{cid}/print/{doc}",
            web::get().to(printable),
        )
        .route("/api/v1/revocations/{kid}", web::get().to(revocations));
}

async fn issue(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, cfg) = (state.db.clone(), state.clock.now(), state.config.clone());
    let card = web::block(move || {
        let base = cfg.card_base_url();
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

async fn list(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, base) = (state.db.clone(), state.config.card_base_url());
    let list = web::block(move || cards::list(&db, &a, &rid, &base)).await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "cards": list })))
}

async fn get(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (db, base) = (state.db.clone(), state.config.card_base_url());
    let (rid, cid) = path.into_inner();
    let card = web::block(move || cards::get(&db, &a, &rid, &cid, &base)).await??;
    Ok(HttpResponse::Ok().json(card))
}

async fn revoke(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    path: web::Path<(String, String)>,
    body: web::Json<cards::RevokeInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, base, now) = (
        state.db.clone(),
        state.config.card_base_url(),
        state.clock.now(),
    );
    let (rid, cid) = path.into_inner();
    let card =
        web::block(move || cards::revoke(&db, &a, &rid, &cid, body.into_inner(), &base, now))
            .await??;
    Ok(HttpResponse::Ok().json(card))
}

async fn reissue(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, cfg) = (state.db.clone(), state.clock.now(), state.config.clone());
    let (rid, cid) = path.into_inner();
    let card = web::block(move || {
        let base = cfg.card_base_url();
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Render {
    module_px: Option<u32>,
    quiet_zone: Option<u32>,
}

async fn card_qr(
    state: &web::Data<AppState>,
    a: crate::service::accounts::Actor,
    rid: String,
    cid: String,
) -> Result<(kyukit_card::CardQr, Vec<u8>, String), ApiError> {
    let (db, base) = (state.db.clone(), state.config.card_base_url());
    web::block(move || {
        let row = cards::get_row(&db, &a, &rid, &cid)?;
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
async fn qr(
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

async fn ndef(
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

async fn revocations(
    state: web::Data<AppState>,
    kid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, muni, now) = (
        state.db.clone(),
        state.municipality_id.clone(),
        state.clock.now(),
    );
    let list = web::block(move || cards::revocation_list(&db, &muni, &kid, now)).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(list))
}

/// Printables: `fridge-sheet.png|pdf`, `wallet-card.png|pdf`.
async fn printable(
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
    let (db, base) = (state.db.clone(), state.config.card_base_url());
    let bytes = web::block(move || {
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
