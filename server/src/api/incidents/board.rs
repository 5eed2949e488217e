//! The ED board's summary (`GET /api/v1/hospital/board`, issue 25): key vitals and JCS/GCS
//! of the open inquiries, the inquiries another hospital took, the last 24 hours' arrivals.

use crate::api::error::{ApiError, ErrorBody};
use crate::api::openapi::{Internal, Unavailable};
use crate::auth::Authenticated;
use crate::service::board::{self as svc, BoardView};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// What the board shows on each card without opening it, and the last 24 hours.
#[utoipa::path(
    get,
    path = "/api/v1/hospital/board",
    tag = "pre-arrival",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Summaries of the open inquiries (latest vitals with the previous value, JCS, GCS, stroke times), the inquiries another hospital accepted and the arrivals of the last 24 hours; no names or contacts", body = BoardView),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not ED staff", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn board(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let v = web::block(move || svc::board(&db, &auth.0, now)).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(v))
}
