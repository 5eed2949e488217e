//! The crew's pre-arrival endpoints (`/api/v1/incidents…`): signed by an enrolled device like
//! scans.

use super::{attachment_response, incident_response};
use crate::api::RawBody;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{json_body, signed};
use crate::api::openapi::{BadBody, Internal, PayloadTooLarge, Unavailable, UnsupportedMediaType};
use crate::audit::Action;
use crate::service::idempotency::{Answer, IdemKey};
use crate::service::incidents::{
    self as svc, AttachmentView, DestinationInput, IncidentView, InquiryInput, OpenInput,
};
use crate::service::report::{Report, ReportInput};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

/// A crew request ([`signed`]): authenticated, then `$call` on the blocking pool with the
/// actor and the signature; its nonce is spent whatever the outcome. A change names a fifth
/// argument, `wake`: what to wake once it has committed.
macro_rules! crew_call {
    ($state:expr, $req:expr, $body:expr, $action:expr, |$actor:ident, $by:ident, $db:ident, $now:ident $(, $wake:ident)?| $call:expr) => {{
        let $now = $state.clock.now();
        $(let $wake = $state.wakers();)?
        signed(
            &$state,
            &$req,
            &$body,
            $action,
            false,
            move |$db, $actor, $by| $call,
        )
        .await?
    }};
}

/// The request's `Idempotency-Key` (docs/api.md *Idempotency*), bound to its method, path and body.
fn idem_key(req: &HttpRequest, body: &[u8]) -> Result<Option<IdemKey>, ApiError> {
    let value = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    IdemKey::from_header(value, &format!("{} {}", req.method(), req.path()), body)
}

/// A change's answer: the incident now, or the first answer of a repeated `Idempotency-Key`
/// (as it was sent then, JSON, marked `Idempotent-Replayed: true`).
fn change_response(state: &AppState, req: &HttpRequest, a: Answer<IncidentView>) -> HttpResponse {
    match a {
        Answer::Fresh(v) => incident_response(state, req, StatusCode::CREATED, &v),
        Answer::Replay(json) => HttpResponse::Created()
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .insert_header(("Idempotent-Replayed", "true"))
            .content_type("application/json")
            .body(json),
    }
}

/// Open an incident (optionally from a scan: its consented dataset seeds the report).
#[utoipa::path(
    post,
    path = "/api/v1/incidents",
    tag = "pre-arrival",
    params(("Idempotency-Key" = Option<String>, Header, description = "Optional: a repeat with the same key gets the first answer (docs/api.md *Idempotency*)")),
    request_body = OpenInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The incident", body = IncidentView),
        (status = 400, response = BadBody),
        (status = 401, description = "Device or session refused (as for scans)", body = ErrorBody),
        (status = 403, description = "`forbidden` (not a paramedic), `access_expired`, `card_revoked`, `consent_withdrawn`", body = ErrorBody),
        (status = 404, description = "The access is not this paramedic's", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 409, description = "`idempotency_in_progress` (a repeat of an `Idempotency-Key` still being processed)", body = ErrorBody),
        (status = 422, description = "`invalid_field`, `idempotency_key_reused`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn open(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: RawBody,
) -> Result<HttpResponse, ApiError> {
    let input: Result<OpenInput, _> = json_body(&req, &body);
    let idem = idem_key(&req, &body);
    let v = crew_call!(
        state,
        req,
        body,
        Action::OpenIncident,
        |actor, by, db, now, wake| {
            svc::open(db, &actor, &by, &input?, now, &wake, idem?.as_ref())
        }
    );
    Ok(change_response(&state, &req, v))
}

/// The crew reads its incident (JSON, or FHIR with `Accept: application/fhir+json`).
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{iid}",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The incident, or a FHIR R4 Bundle", body = IncidentView),
        (status = 401, description = "Device or session refused", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "Not this crew's incident", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn crew_read(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let iid = path.into_inner();
    let v = crew_call!(
        state,
        req,
        [],
        Action::ReadIncident,
        |actor, by, db, now| { svc::crew_read(db, &actor, &by, &iid, now) }
    );
    Ok(incident_response(&state, &req, StatusCode::OK, &v))
}

/// Every version of the report, oldest first: each the whole record as of that version, with
/// `changed` naming what its patch changed.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{iid}/reports",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report versions, oldest first (empty before the first report)", body = [Report]),
        (status = 401, description = "Device or session refused", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "Not this crew's incident", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn crew_reports(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let iid = path.into_inner();
    let v = crew_call!(
        state,
        req,
        [],
        Action::ReadIncident,
        |actor, by, db, now| { svc::crew_reports(db, &actor, &by, &iid, now) }
    );
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(v))
}

/// A patch on the report: what is sent changes, what is not is kept; observations (`vitals`,
/// `jcs`, `gcs`) join their time-stamped series. Each patch makes a new version.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{iid}/reports",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id"), ("Idempotency-Key" = Option<String>, Header, description = "Optional: a repeat with the same key gets the first answer (docs/api.md *Idempotency*)")),
    request_body = ReportInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The incident with the new report version", body = IncidentView),
        (status = 400, response = BadBody),
        (status = 401, description = "Device or session refused", body = ErrorBody),
        (status = 404, description = "Not this crew's incident", body = ErrorBody),
        (status = 409, description = "`version_conflict`, `incident_closed`, `idempotency_in_progress`", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`implausible_vital`, `invalid_jcs`, `invalid_gcs`, `invalid_activation`, `invalid_eta`, `invalid_time`, `invalid_field`, `idempotency_key_reused`, `contradiction` (the message names both sides, e.g. JCS 0 with GCS E1V1M1; JCS III-300A; stroke without last known well; paediatric for an adult)", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn report(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: RawBody,
) -> Result<HttpResponse, ApiError> {
    let iid = path.into_inner();
    let input: Result<ReportInput, _> = json_body(&req, &body);
    let idem = idem_key(&req, &body);
    let v = crew_call!(
        state,
        req,
        body,
        Action::SubmitReport,
        |actor, by, db, now, wake| {
            svc::submit_report(db, &actor, &by, &iid, &input?, now, &wake, idem?.as_ref())
        }
    );
    Ok(change_response(&state, &req, v))
}

/// Attach a photo (e.g. an ECG strip) or a PDF: the raw bytes, `Content-Type` image/jpeg,
/// image/png or application/pdf, at most 2 MiB.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{iid}/attachments",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id")),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The attachment", body = AttachmentView),
        (status = 401, description = "Device or session refused", body = ErrorBody),
        (status = 404, description = "Not this crew's incident", body = ErrorBody),
        (status = 409, description = "`incident_closed`, `too_many_attachments`", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`content_mismatch`: the bytes are not of the declared type", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn attach(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let iid = path.into_inner();
    // Its own limit (the server-wide one is 64 KiB); one byte more than allowed is enough to
    // know it is too large.
    let body = read_limited(payload, svc::MAX_ATTACHMENT_BYTES + 1).await?;
    let ct = crate::api::extract::header_str(&req, "content-type")
        .unwrap_or_default()
        .to_string();
    let (now, wake, signed_body) = (state.clock.now(), state.wakers(), body.clone());
    let a = signed(
        &state,
        &req,
        &signed_body,
        Action::AddAttachment,
        false,
        move |db, actor, by| svc::add_attachment(db, &actor, &by, &iid, &ct, &body, now, &wake),
    )
    .await?;
    Ok(HttpResponse::Created().json(a))
}

/// Reads a body of at most `limit` bytes (`413 payload_too_large` beyond).
async fn read_limited(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    use futures_util::StreamExt;
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::bad_request("invalid_body", "the request body could not be read")
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::too_large(
                "payload_too_large",
                format!(
                    "an attachment is at most {} bytes",
                    svc::MAX_ATTACHMENT_BYTES
                ),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The crew downloads an attachment.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{iid}/attachments/{atid}",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id"), ("atid" = String, Path, description = "Attachment id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The bytes, with their content type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, description = "Device or session refused", body = ErrorBody),
        (status = 404, description = "No such attachment of this crew's incident", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn crew_attachment(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (iid, atid) = path.into_inner();
    let a = crew_call!(
        state,
        req,
        [],
        Action::ReadAttachment,
        |actor, by, db, now| { svc::crew_attachment(db, &actor, &by, &iid, &atid, now) }
    );
    Ok(attachment_response(a))
}

/// Ask one or several hospitals at once (受入照会).
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{iid}/inquiries",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id"), ("Idempotency-Key" = Option<String>, Header, description = "Optional: a repeat with the same key gets the first answer (docs/api.md *Idempotency*)")),
    request_body = InquiryInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The incident with its targets", body = IncidentView),
        (status = 400, response = BadBody),
        (status = 401, description = "Device or session refused", body = ErrorBody),
        (status = 404, description = "Not this crew's incident", body = ErrorBody),
        (status = 409, description = "`report_required`, `already_accepted`, `incident_closed`, `idempotency_in_progress`", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`unknown_hospital` (not an active hospital of this municipality), `invalid_field`, `idempotency_key_reused`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn inquire(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: RawBody,
) -> Result<HttpResponse, ApiError> {
    let iid = path.into_inner();
    let input: Result<InquiryInput, _> = json_body(&req, &body);
    let idem = idem_key(&req, &body);
    let v = crew_call!(
        state,
        req,
        body,
        Action::SendInquiry,
        |actor, by, db, now, wake| {
            svc::inquire(db, &actor, &by, &iid, &input?, now, &wake, idem?.as_ref())
        }
    );
    Ok(change_response(&state, &req, v))
}

/// Change the destination hospital (the old and the new one are told).
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{iid}/destination",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id")),
    request_body = DestinationInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The incident", body = IncidentView),
        (status = 400, response = BadBody),
        (status = 401, description = "Device or session refused", body = ErrorBody),
        (status = 404, description = "Not this crew's incident", body = ErrorBody),
        (status = 409, description = "`incident_closed`", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`unknown_hospital`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn destination(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: RawBody,
) -> Result<HttpResponse, ApiError> {
    let iid = path.into_inner();
    let input: Result<DestinationInput, _> = json_body(&req, &body);
    let v = crew_call!(
        state,
        req,
        body,
        Action::ChangeDestination,
        |actor, by, db, now, wake| svc::change_destination(
            db, &actor, &by, &iid, &input?, now, &wake
        )
    );
    Ok(incident_response(&state, &req, StatusCode::OK, &v))
}

/// Arrived at the destination: closes the incident.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{iid}/arrival",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The closed incident", body = IncidentView),
        (status = 401, description = "Device or session refused", body = ErrorBody),
        (status = 404, description = "Not this crew's incident", body = ErrorBody),
        (status = 409, description = "`no_destination`, `incident_closed`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn arrive(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: RawBody,
) -> Result<HttpResponse, ApiError> {
    let iid = path.into_inner();
    let v = crew_call!(
        state,
        req,
        body,
        Action::Arrive,
        |actor, by, db, now, wake| { svc::arrive(db, &actor, &by, &iid, now, &wake) }
    );
    Ok(incident_response(&state, &req, StatusCode::OK, &v))
}
