//! Registration (resident, proxy), login and logout.

use crate::auth::{Authenticated, bearer};
use crate::error::ApiError;
use crate::service::{accounts, residents};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/residents", web::post().to(register_resident))
        .route("/api/v1/proxies", web::post().to(register_proxy))
        .route("/api/v1/sessions", web::post().to(login))
        .route("/api/v1/sessions/current", web::delete().to(logout))
        .route("/api/v1/me/residents", web::get().to(my_residents));
}

async fn register_resident(
    state: web::Data<AppState>,
    body: web::Json<residents::RegisterResident>,
) -> Result<HttpResponse, ApiError> {
    let (db, muni, now, policy) = (
        state.db.clone(),
        state.municipality_id.clone(),
        state.clock.now(),
        state.config.session_policy,
    );
    let out =
        web::block(move || residents::register_self(&db, &muni, body.into_inner(), now, policy))
            .await??;
    Ok(HttpResponse::Created().json(out))
}

async fn register_proxy(
    state: web::Data<AppState>,
    body: web::Json<residents::RegisterProxy>,
) -> Result<HttpResponse, ApiError> {
    let (db, muni, now, policy) = (
        state.db.clone(),
        state.municipality_id.clone(),
        state.clock.now(),
        state.config.session_policy,
    );
    let out = web::block(move || {
        residents::register_by_proxy(&db, &muni, body.into_inner(), now, policy)
    })
    .await??;
    Ok(HttpResponse::Created().json(out))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginInput {
    login_id: String,
    password: String,
}

async fn login(
    state: web::Data<AppState>,
    body: web::Json<LoginInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, muni, now, policy) = (
        state.db.clone(),
        state.municipality_id.clone(),
        state.clock.now(),
        state.config.session_policy,
    );
    let LoginInput { login_id, password } = body.into_inner();
    let token = web::block(move || accounts::login(&db, &muni, &login_id, &password, now, policy))
        .await??;
    Ok(HttpResponse::Created().json(serde_json::json!({ "token": token })))
}

async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    _auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let token = bearer(&req).unwrap_or_default();
    let db = state.db.clone();
    web::block(move || accounts::logout(&db, &token)).await??;
    Ok(HttpResponse::NoContent().finish())
}

async fn my_residents(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let list = web::block(move || residents::mine(&db, &actor)).await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "residents": list })))
}
