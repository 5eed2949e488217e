//! Which municipality (tenant) a request is about, when nothing it carries says so: the public
//! and anonymous routes (registration, login, the directory and notices, facility applications)
//! take `?municipality=CODE` (the 6-digit 全国地方公共団体コード); without it, the deployment's
//! default municipality. Authenticated requests never use this: their municipality is their
//! account's (staff, residents, proxies), their enrolled device's, or, for a card, its key's owner
//! (docs/data-model.md, "Tenancy").

use crate::api::error::ApiError;
use crate::service::keys;
use crate::state::AppState;
use actix_web::{HttpRequest, web};
use serde::Deserialize;

/// `?municipality=CODE` on a public route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MunicipalityQuery {
    /// The municipality's 6-digit code (全国地方公共団体コード, e.g. `082171`); default: the
    /// deployment's default municipality. An unknown code is `404 municipality_unknown`.
    pub municipality: Option<String>,
}

/// The code a request names, if any (other query parameters are left to their handler).
pub(crate) fn named(req: &HttpRequest) -> Option<String> {
    web::Query::<MunicipalityQuery>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.into_inner().municipality)
}

/// The municipality id of a public request: `?municipality=CODE`, else the default.
pub(crate) async fn public(state: &AppState, req: &HttpRequest) -> Result<String, ApiError> {
    let Some(code) = named(req) else {
        return Ok(state.default_municipality.clone());
    };
    let (db, default) = (state.db.clone(), state.default_municipality.clone());
    web::block(move || keys::municipality_by_code(&db, &default, Some(&code))).await?
}
