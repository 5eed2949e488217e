//! Public, unauthenticated endpoints: health, the issuer JWKS, and the page behind a card's URL.
//!
//! The card page is what a bystander's phone camera opens. It tells them what the card is and to
//! call 119, and shows nothing private: not the card's claims, not even whether a triage core exists.

use crate::error::ApiError;
use crate::service::{cards, keys};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpResponse, web};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/.well-known/jwks.json", web::get().to(jwks))
        // Card URLs carry an upper-cased base in QR codes (alphanumeric mode): accept both cases.
        .route("/c/{card}", web::get().to(card_page))
        .route("/C/{card}", web::get().to(card_page));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Ready when the database answers and an issuer key is usable.
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (db, cfg, muni) = (
        state.db.clone(),
        state.config.clone(),
        state.municipality_id.clone(),
    );
    let ring = web::block(move || keys::load(&db, &cfg.data_dir, &muni, false)).await??;
    if ring.rows.iter().any(|r| r.status == "active") {
        Ok(HttpResponse::Ok()
            .json(serde_json::json!({"status": "ready", "backend": state.db.backend().name()})))
    } else {
        Err(ApiError::unavailable("no active issuer key"))
    }
}

/// Every live public key: active and retired (their cards still verify), never compromised.
async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (db, cfg, muni) = (
        state.db.clone(),
        state.config.clone(),
        state.municipality_id.clone(),
    );
    let ring = web::block(move || keys::load(&db, &cfg.data_dir, &muni, false)).await??;
    let jwks = ring.trusted.to_jwks().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/jwk-set+json")
        .body(serde_json::to_string(&jwks).map_err(ApiError::internal)?))
}

async fn card_page(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let digits = path.into_inner();
    let (db, cfg, muni, now) = (
        state.db.clone(),
        state.config.clone(),
        state.municipality_id.clone(),
        state.clock.now(),
    );
    let genuine = web::block(move || {
        let Ok(cose) = kyukit_card::digits_to_bytes(&digits) else {
            return Ok(false);
        };
        let ring = keys::load(&db, &cfg.data_dir, &muni, false)?;
        match kyukit_card::verify(&cose, &ring.trusted, now) {
            Ok(card) => Ok(!cards::is_revoked(&db, &muni, &card.claims.card_id)?),
            Err(_) => Ok::<_, ApiError>(false),
        }
    })
    .await??;
    let mut resp = if genuine {
        HttpResponse::Ok()
    } else {
        HttpResponse::NotFound()
    };
    Ok(resp
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // The URL is the card: never send it onwards as a Referer.
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .content_type("text/html; charset=utf-8")
        .body(bystander_html(genuine)))
}

fn bystander_html(genuine: bool) -> String {
    let (ja_status, en_status) = if genuine {
        (
            "これは救急医療情報キット（Kyukit）のカードです。",
            "This is a Kyukit emergency information card.",
        )
    } else {
        (
            "このコードは有効な救急医療情報カードとして確認できませんでした。",
            "This code could not be confirmed as a valid Kyukit emergency card.",
        )
    };
    format!(
        r#"<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>救急医療情報キット / Emergency information card</title>
<style>
body {{ font-family: system-ui, "Hiragino Sans", "Noto Sans JP", sans-serif; margin: 0; padding: 1.25rem; background: #fff; color: #111; font-size: 1.2rem; line-height: 1.6; max-width: 40rem; }}
h1 {{ font-size: 1.6rem; margin: 0 0 1rem; }}
.call {{ display: block; text-align: center; background: #b00020; color: #fff; font-size: 1.8rem; font-weight: 700; padding: 1.1rem; border-radius: .75rem; text-decoration: none; margin: 1.25rem 0; }}
.en {{ color: #333; border-top: 2px solid #ddd; margin-top: 1.5rem; padding-top: 1rem; }}
.note {{ font-size: 1rem; color: #444; }}
</style>
</head>
<body>
<main>
<h1>救急医療情報キット</h1>
<p><strong>{ja_status}</strong></p>
<p>この方が倒れている・具合が悪いときは、すぐに <strong>119番</strong> に電話してください。</p>
<a class="call" href="tel:119">119 に電話する / Call 119</a>
<p class="note">救急隊は専用の端末でこのカードを読み取り、必要な医療情報を確認します。このページに個人の情報は表示されません。</p>
<section class="en" lang="en">
<h2>Emergency information card</h2>
<p><strong>{en_status}</strong></p>
<p>If this person has collapsed or is unwell, call <strong>119</strong> (ambulance, Japan) now.</p>
<p class="note">Paramedics read this card with their own devices to see the medical information they need. No personal information is shown on this page.</p>
</section>
</main>
</body>
</html>
"#
    )
}
