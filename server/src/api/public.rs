//! Public, unauthenticated endpoints: health, the issuer JWKS, and the page behind a card's URL.
//!
//! The card page is what a bystander's phone camera opens. It tells them what the card is and to
//! call 119, and shows nothing private: not the card's claims, not even whether a triage core exists.

use super::openapi::{Internal, Unavailable};
use crate::api::error::ApiError;
use crate::domain::KeyStatus;
use crate::service::{cards, keys};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ready {
    /// Always `ready`.
    pub status: &'static str,
    /// `sqlite` | `postgresql`.
    pub backend: &'static str,
}

// Schema only, for the OpenAPI document: the body is written by `kyukit_card::KeySet::to_jwks`.
/// A JSON Web Key Set (RFC 7517) of P-256 signing keys.
#[derive(Debug, utoipa::ToSchema)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// One issuer public key.
#[derive(Debug, utoipa::ToSchema)]
pub struct Jwk {
    /// `EC`.
    pub kty: String,
    /// `P-256`.
    pub crv: String,
    /// base64url x coordinate.
    pub x: String,
    /// base64url y coordinate.
    pub y: String,
    /// The key id cards carry in their protected header.
    pub kid: String,
    /// `ES256`.
    pub alg: Option<String>,
    /// `sig`.
    #[schema(rename = "use")]
    pub key_use: Option<String>,
}

/// Liveness: 200 while the process serves.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "public",
    responses((status = 200, description = "The process serves", body = Health))
)]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness: the database answers and an issuer key is active.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "public",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (db, cfg, muni) = (
        state.db.clone(),
        state.config.clone(),
        state.default_municipality.clone(),
    );
    let ring = web::block(move || keys::load(&db, &cfg.data_dir, &muni, false)).await??;
    if ring.rows.iter().any(|r| r.status == KeyStatus::Active) {
        Ok(HttpResponse::Ok().json(Ready {
            status: "ready",
            backend: state.db.backend().name(),
        }))
    } else {
        Err(ApiError::unavailable("no active issuer key"))
    }
}

/// Every live public key: active and retired (their cards still verify), never compromised.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "public",
    responses(
        (status = 200, description = "The issuer keys a verifier should trust",
            content_type = "application/jwk-set+json", body = JwkSet,
            headers(("Cache-Control" = String, description = "`public, max-age=300`"))),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // Every municipality's keys: a card names its key, and the key's owner is its issuer.
    let (db, cfg) = (state.db.clone(), state.config.clone());
    let trusted = web::block(move || keys::all_trusted(&db, &cfg.data_dir)).await??;
    let jwks = trusted.to_jwks().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/jwk-set+json")
        .body(serde_json::to_string(&jwks).map_err(ApiError::internal)?))
}

/// The signed trust list (docs/card-format.md §10): the issuers a field device trusts offline,
/// their keys with status (a compromised key is listed as such), signed with this deployment's
/// trust-list key (`GET /api/v1/trust-list/key`, also given at enrollment).
#[utoipa::path(
    get,
    path = "/api/v1/trust-list",
    tag = "public",
    responses(
        (status = 200, description = "The trust list: a tagged COSE_Sign1 (ES256)",
            content_type = "application/cose", body = Vec<u8>,
            headers(("Cache-Control" = String, description = "`public, max-age=300`"))),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn trust_list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let bytes = signed_trust_list(&state).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/cose; cose-type=\"cose-sign1\"")
        .body(bytes.as_ref().clone()))
}

async fn signed_trust_list(state: &AppState) -> Result<std::sync::Arc<Vec<u8>>, ApiError> {
    let (db, cfg, muni, now, trust) = (
        state.db.clone(),
        state.config.clone(),
        state.default_municipality.clone(),
        state.clock.now(),
        state.trust.clone(),
    );
    web::block(move || trust.current(&db, &cfg, &muni, now)).await?
}

/// The trust-list key: the public key that signs `GET /api/v1/trust-list` (a P-256 JWK). Devices
/// pin it at enrollment; an operator compares its `kid` out of band (`kyukit keys list`).
#[utoipa::path(
    get,
    path = "/api/v1/trust-list/key",
    tag = "public",
    responses(
        (status = 200, description = "The trust-list public key", content_type = "application/jwk+json", body = Jwk),
        (status = 500, response = Internal),
    )
)]
pub(crate) async fn trust_list_key(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let jwk = state.trust.public().to_jwk().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/jwk+json")
        .body(serde_json::to_string(&jwk).map_err(ApiError::internal)?))
}

/// The current trust list as readable JSON (the same content as the signed list, decoded; for
/// people and dashboards — devices verify the signed list).
#[utoipa::path(
    get,
    path = "/api/v1/trust-list.json",
    tag = "public",
    responses(
        (status = 200, description = "The trust list decoded: version, issued_at, expires_at, signer, deployment, issuers (keys as JWKs with a status)",
            content_type = "application/json", body = Object),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn trust_list_json(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let bytes = signed_trust_list(&state).await?;
    let now = state.clock.now();
    let list = kyukit_card::verify_trust_list(&bytes, state.trust.public(), now)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(list))
}

/// The bystander page behind a card's URL (ja/en).
///
/// It says what the card is and to call 119, and shows nothing private: not the card's claims, not
/// even whether the card carries a triage core.
#[utoipa::path(
    get,
    path = "/c/{card}",
    tag = "public",
    params(("card" = String, Path, description = "The card: its COSE bytes as decimal digits (the QR's numeric part)")),
    responses(
        (status = 200, description = "The card verifies and is not revoked", content_type = "text/html", body = String),
        (status = 404, description = "Not a genuine, unrevoked card: the page says so, and still to call 119",
            content_type = "text/html", body = String),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn card_page(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    card_page_for(state, path.into_inner()).await
}

/// The same page under the upper-cased base that QR codes carry (alphanumeric mode).
#[utoipa::path(
    get,
    path = "/C/{card}",
    tag = "public",
    params(("card" = String, Path, description = "The card: its COSE bytes as decimal digits (the QR's numeric part)")),
    responses(
        (status = 200, description = "The card verifies and is not revoked", content_type = "text/html", body = String),
        (status = 404, description = "Not a genuine, unrevoked card: the page says so, and still to call 119",
            content_type = "text/html", body = String),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn card_page_upper(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    card_page_for(state, path.into_inner()).await
}

async fn card_page_for(
    state: web::Data<AppState>,
    digits: String,
) -> Result<HttpResponse, ApiError> {
    let (db, cfg, now) = (state.db.clone(), state.config.clone(), state.clock.now());
    // Only plain digits go into the hand-off link (they are the card itself, already in the URL).
    let handoff =
        (!digits.is_empty() && digits.len() <= 2048 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.clone());
    let genuine = web::block(move || {
        let Ok(cose) = kyukit_card::digits_to_bytes(&digits) else {
            return Ok(false);
        };
        // Verified against its issuer's keys only (the owner of the key it names).
        let Some(muni) = keys::card_issuer(&db, &cose)? else {
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
        .body(bystander_html(
            genuine,
            handoff.map(|d| format!("card={d}")).as_deref(),
        )))
}

/// The bystander page. `handoff`: `card=<digits>` (or `household=<digits>` for a household
/// sticker), for a small link that opens it in the paramedic app (`/pages/field#card=…`; a
/// fragment, so it never reaches a server or a log). On a device with the app installed, its
/// service worker takes card URLs to the app directly.
pub(crate) fn bystander_html(genuine: bool, handoff: Option<&str>) -> String {
    let paramedic = handoff
        .map(|d| {
            format!(
                r#"<p class="crew"><a href="/pages/field#{d}">救急隊の方：Kyukit 救急隊アプリで開く<br><span lang="en">Paramedics: open in the Kyukit paramedic app</span></a></p>"#
            )
        })
        .unwrap_or_default();
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
.crew {{ margin-top: 2rem; font-size: 1rem; }}
.crew a {{ display: inline-block; padding: .75rem 0; color: #0b3d91; }}
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
{paramedic}
</main>
</body>
</html>
"#
    )
}
