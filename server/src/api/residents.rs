//! A resident's record, for the resident and their proxies: profile, dataset, consent, withdrawal.

use super::openapi::{
    BadBody, Internal, PayloadTooLarge, Unauthorized, Unavailable, UnsupportedMediaType,
};
use crate::api::error::{ApiError, ErrorBody};
use crate::auth::Authenticated;
use crate::service::{consent, dataset, residents};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemList {
    pub items: Vec<dataset::Item>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentList {
    pub consents: Vec<consent::Consent>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessHistory {
    pub entries: Vec<residents::AccessEntry>,
}

/// Who did what with this record, newest first (RULES R13), from the audit chain.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{rid}/access-history",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "Audited events about this resident, newest first", body = AccessHistory),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for, or a malformed id", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn access_history(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let entries = web::block(move || residents::access_history(&db, &a, &rid)).await??;
    Ok(HttpResponse::Ok().json(AccessHistory { entries }))
}

/// The resident's profile.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{rid}",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "The profile", body = residents::Profile),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for, or a malformed id", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn get_profile(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let p = web::block(move || residents::profile(&db, &a, &rid)).await??;
    Ok(HttpResponse::Ok().json(p))
}

/// Replaces the profile.
#[utoipa::path(
    put,
    path = "/api/v1/residents/{rid}",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    request_body = residents::ProfileInput,
    responses(
        (status = 200, description = "The updated profile", body = residents::Profile),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for, or a malformed id", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_field`, `invalid_date`, `invalid_phone`: a field breaks a rule; the message names it", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn put_profile(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
    body: web::Json<residents::ProfileInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let p = web::block(move || residents::update_profile(&db, &a, &rid, &body, now)).await??;
    Ok(HttpResponse::Ok().json(p))
}

/// The emergency dataset: every item.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{rid}/dataset",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "The items", body = ItemList),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for, or a malformed id", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn list_items(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let items = web::block(move || dataset::list(&db, &a, &rid)).await??;
    Ok(HttpResponse::Ok().json(ItemList { items }))
}

/// Adds a dataset item.
///
/// Its `body` is an object whose fields depend on the category (docs/data-model.md); it is
/// validated for that category, unknown fields refused.
#[utoipa::path(
    post,
    path = "/api/v1/residents/{rid}/dataset",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    request_body = dataset::ItemInput,
    responses(
        (status = 201, description = "The new item", body = dataset::Item),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for, or a malformed id", body = ErrorBody),
        (status = 409, description = "`single_item_category`: the category holds one item; update it instead", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`unknown_category`, `invalid_item`, `too_many_items`, `invalid_field`, `invalid_date`, `invalid_phone`: the message names the field", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn add_item(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
    body: web::Json<dataset::ItemInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let item = web::block(move || dataset::add(&db, &a, &rid, body.into_inner(), now)).await??;
    Ok(HttpResponse::Created().json(item))
}

/// Replaces an item's body (its category stays).
#[utoipa::path(
    put,
    path = "/api/v1/residents/{rid}/dataset/{item}",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters"), ("item" = String, Path, description = "Dataset item id: 32 lower-case hex characters")),
    request_body = dataset::ItemUpdate,
    responses(
        (status = 200, description = "The updated item", body = dataset::Item),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident or item, or a malformed id", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_item`, `invalid_field`, `invalid_date`, `invalid_phone`: the message names the field", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn update_item(
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

/// Deletes an item.
#[utoipa::path(
    delete,
    path = "/api/v1/residents/{rid}/dataset/{item}",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters"), ("item" = String, Path, description = "Dataset item id: 32 lower-case hex characters")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident or item, or a malformed id", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn delete_item(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let (rid, item) = path.into_inner();
    web::block(move || dataset::delete(&db, &a, &rid, &item, now)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Every consent version, oldest first, withdrawals included.
#[utoipa::path(
    get,
    path = "/api/v1/residents/{rid}/consents",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "The consent history", body = ConsentList),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for, or a malformed id", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn consents(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let list = web::block(move || consent::history(&db, &a, &rid)).await??;
    Ok(HttpResponse::Ok().json(ConsentList { consents: list }))
}

/// Records a new consent version (a grant); after 支援中止 it makes the resident active again.
#[utoipa::path(
    post,
    path = "/api/v1/residents/{rid}/consents",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    request_body = consent::ConsentInput,
    responses(
        (status = 201, description = "The new consent version", body = consent::Consent),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for, or a malformed id", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 409, description = "`purged`: the record was deleted after 支援中止; register again", body = ErrorBody),
        (status = 422, description = "`unknown_category`: not a dataset category", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn grant(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    rid: web::Path<String>,
    body: web::Json<consent::ConsentInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let c = web::block(move || consent::grant(&db, &a, &rid, body.into_inner(), now)).await??;
    Ok(HttpResponse::Created().json(c))
}

/// 支援中止: records a withdrawal, revokes every card and schedules the purge.
#[utoipa::path(
    post,
    path = "/api/v1/residents/{rid}/withdrawal",
    tag = "residents",
    security(("bearer" = [])),
    params(("rid" = String, Path, description = "Resident id: 32 lower-case hex characters")),
    request_body = consent::WithdrawalInput,
    responses(
        (status = 200, description = "Withdrawn", body = consent::Withdrawn),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such resident, or not one the caller acts for, or a malformed id", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_field`: the reason is too long or has control characters", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn withdraw(
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
