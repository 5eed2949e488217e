//! Registrations held because their person is already registered (issue 19): the city's review.
//! (The registration itself is `accounts::register_resident` / `register_proxy`.)

use super::openapi::{
    BadBody, Internal, PayloadTooLarge, Unauthorized, Unavailable, UnsupportedMediaType,
};
use crate::api::error::{ApiError, ErrorBody};
use crate::auth::Authenticated;
use crate::service::registrations::{self, HoldDecision, HoldReview};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HoldList {
    pub registrations: Vec<HoldReview>,
}

/// Registrations held because they match an active resident, oldest first (city administrators).
#[utoipa::path(
    get,
    path = "/api/v1/reviews/registrations",
    tag = "reviews",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Open holds: what was typed and the record it matched", body = HoldList),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not a city administrator", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let registrations = web::block(move || registrations::pending(&db, &actor, now)).await??;
    Ok(HttpResponse::Ok().json(HoldList { registrations }))
}

/// The city decides a held registration: `link` (a proxy becomes a proxy of the matched record)
/// or `reject`.
#[utoipa::path(
    post,
    path = "/api/v1/reviews/registrations/{hid}",
    tag = "reviews",
    request_body = HoldDecision,
    params(("hid" = String, Path, description = "Hold id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Decided", body = HoldReview),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not a city administrator", body = ErrorBody),
        (status = 404, description = "No such held registration", body = ErrorBody),
        (status = 409, description = "`already_decided`, `withdrawn` (the matched record is no longer active)", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_field`, `not_a_proxy` (a self-registration cannot be linked)", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn decide(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
    body: web::Json<HoldDecision>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, hid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let r = web::block(move || registrations::decide(&db, &actor, &hid, &body, now)).await??;
    Ok(HttpResponse::Ok().json(r))
}
