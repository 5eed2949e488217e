//! A resident's record, for the resident and their proxies: profile, dataset, consent, withdrawal.

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::service::{consent, dataset, residents};
use crate::state::AppState;
use actix_web::{HttpResponse, web};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/residents/{rid}", web::get().to(get_profile))
        .route("/api/v1/residents/{rid}", web::put().to(put_profile))
        .route("/api/v1/residents/{rid}/dataset", web::get().to(list_items))
        .route("/api/v1/residents/{rid}/dataset", web::post().to(add_item))
        .route(
            "/api/v1/residents/{rid}/dataset/{item}",
            web::put().to(update_item),
        )
        .route(
            "/api/v1/residents/{rid}/dataset/{item}",
            web::delete().to(delete_item),
        )
        .route("/api/v1/residents/{rid}/consents", web::get().to(consents))
        .route("/api/v1/residents/{rid}/consents", web::post().to(grant))
        .route(
            "/api/v1/residents/{rid}/withdrawal",
            web::post().to(withdraw),
        );
}

async fn get_profile(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let p = web::block(move || residents::profile(&db, &a, &rid)).await??;
    Ok(HttpResponse::Ok().json(p))
}

async fn put_profile(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
    body: web::Json<residents::ProfileInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let p = web::block(move || residents::update_profile(&db, &a, &rid, &body, now)).await??;
    Ok(HttpResponse::Ok().json(p))
}

async fn list_items(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let items = web::block(move || dataset::list(&db, &a, &rid)).await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

async fn add_item(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
    body: web::Json<dataset::ItemInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let item = web::block(move || dataset::add(&db, &a, &rid, body.into_inner(), now)).await??;
    Ok(HttpResponse::Created().json(item))
}

async fn update_item(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    path: web::Path<(String, String)>,
    body: web::Json<dataset::ItemUpdate>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let (rid, item) = path.into_inner();
    let item =
        web::block(move || dataset::update(&db, &a, &rid, &item, body.into_inner(), now)).await??;
    Ok(HttpResponse::Ok().json(item))
}

async fn delete_item(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let (rid, item) = path.into_inner();
    web::block(move || dataset::delete(&db, &a, &rid, &item)).await??;
    Ok(HttpResponse::NoContent().finish())
}

async fn consents(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let list = web::block(move || consent::history(&db, &a, &rid)).await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "consents": list })))
}

async fn grant(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
    body: web::Json<consent::ConsentInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let c = web::block(move || consent::grant(&db, &a, &rid, body.into_inner(), now)).await??;
    Ok(HttpResponse::Created().json(c))
}

async fn withdraw(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
    body: web::Json<consent::WithdrawalInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, retention) = (
        state.db.clone(),
        state.clock.now(),
        state.config.withdrawal_retention_secs,
    );
    let w = web::block(move || consent::withdraw(&db, &a, &rid, body.into_inner(), retention, now))
        .await??;
    Ok(HttpResponse::Ok().json(w))
}
