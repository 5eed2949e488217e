//! The city console's upload of a paper-kit register (issue 26; `service::import_jobs`): the CSV
//! as the raw body (`text/csv`, UTF-8, at most 64 MB, as for the CLI). A dry run answers with the per-row report;
//! an import answers `202` with a job the console polls for its progress and report.

use super::extract::header_str;
use super::openapi::{BadBody, Internal, PayloadTooLarge, Unauthorized, Unavailable};
use crate::api::error::{ApiError, ErrorBody};
use crate::auth::Authenticated;
use crate::service::error::DomainError;
use crate::service::import_jobs::{self, Job};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

/// The largest register accepted in one upload (about 100,000 rows).
pub const MAX_CSV_BYTES: usize = 64 << 20;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `true`: check every row and report, write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

fn too_large() -> DomainError {
    DomainError::too_large(
        "payload_too_large",
        format!("a register is at most {} MB", MAX_CSV_BYTES >> 20),
    )
}

async fn read_csv(req: &HttpRequest, mut payload: web::Payload) -> Result<Vec<u8>, ApiError> {
    use futures_util::StreamExt;
    let ct = header_str(req, "content-type").unwrap_or_default();
    if !ct.trim().to_ascii_lowercase().starts_with("text/csv") {
        return Err(DomainError::unsupported_media(
            "unsupported_media_type",
            "send the register as text/csv (UTF-8)",
        ));
    }
    let declared = header_str(req, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_CSV_BYTES as u64) {
        return Err(too_large());
    }
    let mut buf = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::bad_request("invalid_body", "the request body could not be read")
        })?;
        if buf.len() + chunk.len() > MAX_CSV_BYTES {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Uploads a paper-kit register (the columns of docs/operations.md *Importing a paper-kit
/// register*). `?dry_run=true`: `200` with the report — every rejected row with its line, column
/// and reason — and nothing written. Otherwise `202` with a running job (`GET
/// /api/v1/imports/jobs/{jid}` for its progress and report); a re-run imports nothing twice.
/// City administrators. Audited.
#[utoipa::path(
    post,
    path = "/api/v1/imports",
    tag = "residents",
    security(("bearer" = [])),
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv"),
    responses(
        (status = 200, description = "The dry run's report", body = Object),
        (status = 202, description = "The import started: the job", body = Job),
        (status = 400, response = BadBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: not a city administrator", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, description = "`unsupported_media_type`: not `text/csv`", body = ErrorBody),
        (status = 422, description = "`invalid_file`: not a CSV register (encoding, header, a missing column)", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    Authenticated(a): Authenticated,
    q: web::Query<ImportQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (db, now, jobs) = (state.db.clone(), state.clock.now(), state.imports.clone());
    {
        let (db, a) = (db.clone(), a.clone());
        web::block(move || import_jobs::admin_only(&db, &a, now)).await??;
    }
    let csv = read_csv(&req, payload).await?;
    if q.dry_run {
        let report = web::block(move || import_jobs::dry_run(&db, &a, &csv, now)).await??;
        return Ok(HttpResponse::Ok().json(report));
    }
    let job = web::block(move || import_jobs::start(&jobs, &db, &a, csv, now)).await??;
    Ok(HttpResponse::Accepted().json(job))
}

/// An import job's progress (rows written of rows to write) and, once done, its report.
#[utoipa::path(
    get,
    path = "/api/v1/imports/jobs/{jid}",
    tag = "residents",
    security(("bearer" = [])),
    params(("jid" = String, Path, description = "Job id: 32 lower-case hex characters")),
    responses(
        (status = 200, description = "The job", body = Job),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: not a city administrator", body = ErrorBody),
        (status = 404, description = "`not_found`: no such job on this server (jobs are kept an hour after they end)", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn job(
    state: web::Data<AppState>,
    Authenticated(a): Authenticated,
    jid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, jobs) = (state.db.clone(), state.clock.now(), state.imports.clone());
    let j = web::block(move || import_jobs::status(&jobs, &db, &a, &jid, now)).await??;
    Ok(HttpResponse::Ok().json(j))
}
