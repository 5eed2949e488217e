//! Web Push (DESIGN §4 "Delivery"): the VAPID public key browsers subscribe with, and ED staff's
//! own push subscriptions.

use super::openapi::{
    BadBody, Internal, PayloadTooLarge, Unauthorized, Unavailable, UnsupportedMediaType,
};
use crate::api::error::{ApiError, ErrorBody};
use crate::auth::Authenticated;
use crate::service::push::{self, Subscription, SubscriptionInput};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VapidPublicKey {
    /// base64url of the server's P-256 VAPID public key (65-byte uncompressed point): the
    /// `applicationServerKey` for `PushManager.subscribe`.
    pub public_key: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubscriptionList {
    pub subscriptions: Vec<Subscription>,
}

/// The VAPID public key (RFC 8292) browsers subscribe with.
#[utoipa::path(get, path = "/api/v1/push/vapid-public-key", tag = "push",
    responses((status = 200, description = "The key", body = VapidPublicKey)))]
pub(crate) async fn vapid_public_key(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(VapidPublicKey {
        public_key: state.push.vapid_public_key().to_string(),
    })
}

/// Register this browser for push alerts to the caller's hospital (ED staff only). The same
/// endpoint again replaces the earlier registration.
#[utoipa::path(post, path = "/api/v1/push/subscriptions", tag = "push", request_body = SubscriptionInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered", body = Subscription),
        (status = 400, response = BadBody), (status = 401, response = Unauthorized),
        (status = 403, description = "Not ED staff", body = ErrorBody),
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
    let s = web::block(move || push::subscribe(&db, &actor, &body, insecure, now)).await??;
    Ok(HttpResponse::Created().json(s))
}

/// The caller's own push subscriptions (ED staff only).
#[utoipa::path(get, path = "/api/v1/push/subscriptions", tag = "push", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's subscriptions", body = SubscriptionList),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not ED staff", body = ErrorBody),
        (status = 500, response = Internal), (status = 503, response = Unavailable),
    ))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let subscriptions = web::block(move || push::list(&db, &actor, now)).await??;
    Ok(HttpResponse::Ok().json(SubscriptionList { subscriptions }))
}

/// Remove one of the caller's own push subscriptions.
#[utoipa::path(delete, path = "/api/v1/push/subscriptions/{sid}", tag = "push",
    params(("sid" = String, Path, description = "Subscription id")), security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not ED staff", body = ErrorBody),
        (status = 404, description = "No such subscription of the caller's", body = ErrorBody),
        (status = 500, response = Internal), (status = 503, response = Unavailable),
    ))]
pub(crate) async fn unsubscribe(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, sid) = (state.db.clone(), state.clock.now(), path.into_inner());
    web::block(move || push::unsubscribe(&db, &actor, &sid, now)).await??;
    Ok(HttpResponse::NoContent().finish())
}
