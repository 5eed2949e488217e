//! What a crew needs besides incidents: the hospitals it may ask (their ids, names and phones).
//! Signed by an enrolled device like every field request (docs/device-protocol.md).

use super::extract::signed;
use super::openapi::{Internal, Unavailable};
use crate::api::error::{ApiError, ErrorBody};
use crate::audit::Action;
use crate::service::facilities::{self, CrewHospitalList};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// The municipality's active hospitals, for an acceptance inquiry (受入照会) or a destination.
/// Paramedics only, signed by their enrolled device; nothing medical.
#[utoipa::path(
    get,
    path = "/api/v1/hospitals",
    tag = "pre-arrival",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Active hospitals, by name", body = CrewHospitalList),
        (status = 401, description = "Device or session refused (as for scans)", body = ErrorBody),
        (status = 403, description = "`forbidden` (not a paramedic)", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn hospitals(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let list = signed(&state, &req, &[], Action::DeviceRequest, false, {
        let now = state.clock.now();
        move |db, actor, by| facilities::crew_hospitals(db, &actor, &by, now)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(list))
}
