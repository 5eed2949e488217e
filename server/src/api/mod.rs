//! HTTP handlers, grouped by resource. Handlers validate input, call services and map errors to
//! `ApiError`; they never touch storage directly.

pub mod public;

use crate::error::ApiError;
use actix_web::web;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    public::configure(cfg);
}

/// Unknown paths get the JSON error body too.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found("no such endpoint"))
}
