//! Authentication extractor: a handler that takes `Authenticated` cannot run without a valid
//! session (`Authorization: Bearer <token>`).

use crate::api::error::ApiError;
use crate::service::accounts::{self, Actor};
use crate::state::AppState;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use std::future::Future;
use std::pin::Pin;

#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

/// The bearer token of a request, if any.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let h = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("AppState missing"))?;
            let token = token.ok_or_else(|| {
                ApiError::unauthorized("log in first (Authorization: Bearer <token>)")
            })?;
            let now = state.clock.now();
            let policy = state.config.session_policy;
            let db = state.db.clone();
            let actor =
                web::block(move || accounts::authenticate(&db, &token, now, policy)).await??;
            Ok(Authenticated(actor))
        })
    }
}
