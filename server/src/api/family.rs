//! Family told of a scan (issue 27): residents and proxies register their browsers for Web Push
//! notices about the people they act for. Rules in `service::family`.

use super::openapi::{
    BadBody, Internal, PayloadTooLarge, Unauthorized, Unavailable, UnsupportedMediaType,
};
use crate::api::error::{ApiError, ErrorBody};
use crate::auth::Authenticated;
use crate::service::family::{self as svc, Subscription};
use crate::service::push::SubscriptionInput;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FamilySubscriptionList {
    pub subscriptions: Vec<Subscription>,
}

/// Register this browser for family notices (residents and proxies).
///
/// The caller's browser gets a Web Push when a resident they act for, who allowed it in their
/// consent (`notify_family`), has their card scanned or is accepted by a hospital. The VAPID key
/// is `GET /api/v1/push/vapid-public-key`.
#[utoipa::path(post, path = "/api/v1/me/push-subscriptions", tag = "accounts", request_body = SubscriptionInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered", body = Subscription),
        (status = 400, response = BadBody), (status = 401, response = Unauthorized),
        (status = 403, description = "Not a resident or proxy", body = ErrorBody),
        (status = 409, description = "`too_many_subscriptions`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge), (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_subscription` (endpoint, keys.p256dh, keys.auth), `invalid_field` (label)", body = ErrorBody),
        (status = 500, response = Internal), (status = 503, response = Unavailable),
    ))]
pub(crate) async fn subscribe(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: web::Json<SubscriptionInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let insecure = state.config.push_allow_insecure_loopback;
    let s = web::block(move || svc::subscribe(&db, &actor, &body, insecure, now)).await??;
    Ok(HttpResponse::Created().json(s))
}

/// The caller's browsers registered for family notices.
#[utoipa::path(get, path = "/api/v1/me/push-subscriptions", tag = "accounts", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's browsers", body = FamilySubscriptionList),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not a resident or proxy", body = ErrorBody),
        (status = 500, response = Internal), (status = 503, response = Unavailable),
    ))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let subscriptions = web::block(move || svc::list(&db, &actor, now)).await??;
    Ok(HttpResponse::Ok().json(FamilySubscriptionList { subscriptions }))
}

/// Remove one of the caller's browsers.
#[utoipa::path(delete, path = "/api/v1/me/push-subscriptions/{sid}", tag = "accounts",
    params(("sid" = String, Path, description = "Subscription id")), security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not a resident or proxy", body = ErrorBody),
        (status = 404, description = "No such subscription of the caller's", body = ErrorBody),
        (status = 500, response = Internal), (status = 503, response = Unavailable),
    ))]
pub(crate) async fn unsubscribe(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, sid) = (state.db.clone(), state.clock.now(), path.into_inner());
    web::block(move || svc::unsubscribe(&db, &actor, &sid, now)).await??;
    Ok(HttpResponse::NoContent().finish())
}
