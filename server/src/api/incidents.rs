//! Pre-arrival endpoints (DESIGN §4). The crew's (`/api/v1/incidents…`, `/api/v1/crew/feed`) are
//! signed by an enrolled device like scans; the emergency department's
//! (`/api/v1/hospital/…`) take an ED staff member's bearer session. Both feeds are Server-Sent
//! Events: `id:` is the facility's sequence number, so a client that reconnects with
//! `Last-Event-ID` (header, or `?last_event_id=` for clients that cannot set headers) gets every
//! event it missed, in order.

use super::field::{field_actor, json_body, wants_fhir};
use super::openapi::{BadBody, Internal, PayloadTooLarge, Unavailable, UnsupportedMediaType};
use crate::audit::Action;
use crate::auth::{Authenticated, bearer};
use crate::domain::Role;
use crate::error::{ApiError, ErrorBody};
use crate::service::accounts::{self, Actor};
use crate::service::incidents::{
    self as svc, AnswerInput, AttachmentView, DestinationInput, Effects, IncidentView,
    IncomingView, InquiryInput, OpenInput,
};
use crate::service::report::ReportInput;
use crate::service::{feed, fhir_report};
use crate::state::AppState;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use std::time::Duration;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/incidents", web::post().to(open))
        .route("/api/v1/incidents/{iid}", web::get().to(crew_read))
        .route("/api/v1/incidents/{iid}/reports", web::post().to(report))
        .route(
            "/api/v1/incidents/{iid}/attachments",
            web::post().to(attach),
        )
        .route(
            "/api/v1/incidents/{iid}/attachments/{atid}",
            web::get().to(crew_attachment),
        )
        .route("/api/v1/incidents/{iid}/inquiries", web::post().to(inquire))
        .route(
            "/api/v1/incidents/{iid}/destination",
            web::post().to(destination),
        )
        .route("/api/v1/incidents/{iid}/arrival", web::post().to(arrive))
        .route("/api/v1/crew/feed", web::get().to(crew_feed))
        .route("/api/v1/hospital/incidents", web::get().to(incoming))
        .route("/api/v1/hospital/incidents/{iid}", web::get().to(ed_read))
        .route(
            "/api/v1/hospital/incidents/{iid}/acknowledge",
            web::post().to(acknowledge),
        )
        .route(
            "/api/v1/hospital/incidents/{iid}/answer",
            web::post().to(answer),
        )
        .route(
            "/api/v1/hospital/incidents/{iid}/attachments/{atid}",
            web::get().to(ed_attachment),
        )
        .route("/api/v1/hospital/feed", web::get().to(hospital_feed));
}

/// Wakes the feeds (and the push worker) after a committed change.
pub fn publish(state: &AppState, fx: &Effects) {
    state.feed.publish(&fx.notes);
    if fx.pushed {
        state.push.wake();
    }
}

fn incident_response(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    v: &IncidentView,
) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    resp.insert_header((header::CACHE_CONTROL, "no-store"));
    if wants_fhir(req) {
        resp.content_type(super::field::FHIR_JSON)
            .json(fhir_report::report_bundle(v, &state.config.public_url))
    } else {
        resp.json(v)
    }
}

fn attachment_response(a: svc::Attachment) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(a.content_type)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_DISPOSITION, "attachment"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ))
        .insert_header(("Repr-Digest", format!("sha-256=:{}:", b64(&a.sha256))))
        .body(a.data)
}

fn b64(hex_digest: &str) -> String {
    use base64::Engine;
    hex::decode(hex_digest)
        .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
        .unwrap_or_default()
}

macro_rules! crew_call {
    ($state:expr, $req:expr, $body:expr, $action:expr, |$actor:ident, $by:ident, $db:ident, $now:ident| $call:expr) => {{
        let ($actor, $by) = field_actor(&$state, &$req, &$body, $action, false).await?;
        let ($db, $now) = ($state.db.clone(), $state.clock.now());
        web::block(move || $call).await??
    }};
}

/// Open an incident (optionally from a scan: its consented dataset seeds the report).
#[utoipa::path(
    post,
    path = "/api/v1/incidents",
    tag = "pre-arrival",
    request_body = OpenInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The incident", body = IncidentView),
        (status = 400, response = BadBody),
        (status = 401, description = "Device or session refused (as for scans)", body = ErrorBody),
        (status = 403, description = "`forbidden` (not a paramedic), `access_expired`, `card_revoked`, `consent_withdrawn`", body = ErrorBody),
        (status = 404, description = "The access is not this paramedic's", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_field`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn open(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: super::RawBody,
) -> Result<HttpResponse, ApiError> {
    let input: Result<OpenInput, _> = json_body(&req, &body);
    let (v, fx) = crew_call!(
        state,
        req,
        body,
        Action::OpenIncident,
        |actor, by, db, now| { svc::open(&db, &actor, &by, &input?, now) }
    );
    publish(&state, &fx);
    Ok(incident_response(&state, &req, StatusCode::CREATED, &v))
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
        |actor, by, db, now| { svc::crew_read(&db, &actor, &by, &iid, now) }
    );
    Ok(incident_response(&state, &req, StatusCode::OK, &v))
}

/// A new version of the report (vitals, JCS/GCS, activation, ETA …).
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{iid}/reports",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id")),
    request_body = ReportInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The incident with the new report version", body = IncidentView),
        (status = 400, response = BadBody),
        (status = 401, description = "Device or session refused", body = ErrorBody),
        (status = 404, description = "Not this crew's incident", body = ErrorBody),
        (status = 409, description = "`version_conflict`, `incident_closed`", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`implausible_vital`, `invalid_jcs`, `invalid_gcs`, `invalid_activation`, `invalid_eta`, `invalid_time`, `invalid_field`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn report(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: super::RawBody,
) -> Result<HttpResponse, ApiError> {
    let iid = path.into_inner();
    let input: Result<ReportInput, _> = json_body(&req, &body);
    let (v, fx) = crew_call!(
        state,
        req,
        body,
        Action::SubmitReport,
        |actor, by, db, now| { svc::submit_report(&db, &actor, &by, &iid, &input?, now) }
    );
    publish(&state, &fx);
    Ok(incident_response(&state, &req, StatusCode::CREATED, &v))
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
    let ct = super::field::header_str(&req, "content-type")
        .unwrap_or_default()
        .to_string();
    let (actor, by) = field_actor(&state, &req, &body, Action::AddAttachment, false).await?;
    let (db, now) = (state.db.clone(), state.clock.now());
    let (a, fx) =
        web::block(move || svc::add_attachment(&db, &actor, &by, &iid, &ct, &body, now)).await??;
    publish(&state, &fx);
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
        |actor, by, db, now| { svc::crew_attachment(&db, &actor, &by, &iid, &atid, now) }
    );
    Ok(attachment_response(a))
}

/// Ask one or several hospitals at once (受入照会).
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{iid}/inquiries",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id")),
    request_body = InquiryInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The incident with its targets", body = IncidentView),
        (status = 400, response = BadBody),
        (status = 401, description = "Device or session refused", body = ErrorBody),
        (status = 404, description = "Not this crew's incident", body = ErrorBody),
        (status = 409, description = "`report_required`, `already_accepted`, `incident_closed`", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`unknown_hospital` (not an active hospital of this municipality), `invalid_field`", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn inquire(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: super::RawBody,
) -> Result<HttpResponse, ApiError> {
    let iid = path.into_inner();
    let input: Result<InquiryInput, _> = json_body(&req, &body);
    let (v, fx) = crew_call!(
        state,
        req,
        body,
        Action::SendInquiry,
        |actor, by, db, now| { svc::inquire(&db, &actor, &by, &iid, &input?, now) }
    );
    publish(&state, &fx);
    Ok(incident_response(&state, &req, StatusCode::CREATED, &v))
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
    body: super::RawBody,
) -> Result<HttpResponse, ApiError> {
    let iid = path.into_inner();
    let input: Result<DestinationInput, _> = json_body(&req, &body);
    let (v, fx) = crew_call!(
        state,
        req,
        body,
        Action::ChangeDestination,
        |actor, by, db, now| svc::change_destination(&db, &actor, &by, &iid, &input?, now)
    );
    publish(&state, &fx);
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
    body: super::RawBody,
) -> Result<HttpResponse, ApiError> {
    let iid = path.into_inner();
    let (v, fx) = crew_call!(state, req, body, Action::Arrive, |actor, by, db, now| {
        svc::arrive(&db, &actor, &by, &iid, now)
    });
    publish(&state, &fx);
    Ok(incident_response(&state, &req, StatusCode::OK, &v))
}

/// The hospital's incoming list (no names).
#[utoipa::path(
    get,
    path = "/api/v1/hospital/incidents",
    tag = "pre-arrival",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Incidents this hospital is asked about, has accepted or is assigned, newest first", body = [IncomingView]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not ED staff", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn incoming(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let list = web::block(move || svc::incoming(&db, &auth.0, now)).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(list))
}

/// An involved hospital reads the incident (JSON, or FHIR with `Accept: application/fhir+json`).
#[utoipa::path(
    get,
    path = "/api/v1/hospital/incidents/{iid}",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The incident (this hospital's target only), or a FHIR R4 Bundle", body = IncidentView),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "`forbidden` (not ED staff), `not_involved` (declined, or the patient went elsewhere)", body = ErrorBody),
        (status = 404, description = "This hospital was never asked", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn ed_read(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, iid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let v = web::block(move || svc::ed_read(&db, &auth.0, &iid, now)).await??;
    Ok(incident_response(&state, &req, StatusCode::OK, &v))
}

/// The ED has seen the alert: stops escalation, tells the crew.
#[utoipa::path(
    post,
    path = "/api/v1/hospital/incidents/{iid}/acknowledge",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The incident", body = IncidentView),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "`forbidden`, `not_involved`", body = ErrorBody),
        (status = 404, description = "This hospital was never asked", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn acknowledge(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, iid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let (v, fx) = web::block(move || svc::acknowledge(&db, &auth.0, &iid, now)).await??;
    publish(&state, &fx);
    Ok(HttpResponse::Ok().json(v))
}

/// Accept or decline; the first acceptance wins.
#[utoipa::path(
    post,
    path = "/api/v1/hospital/incidents/{iid}/answer",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id")),
    request_body = AnswerInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The incident", body = IncidentView),
        (status = 400, response = BadBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "This hospital was never asked", body = ErrorBody),
        (status = 409, description = "`already_accepted` (another hospital was first), `already_answered`, `not_pending`, `incident_closed`", body = ErrorBody),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`invalid_field` (a decline needs a reason)", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn answer(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<String>,
    input: web::Json<AnswerInput>,
) -> Result<HttpResponse, ApiError> {
    let (db, now, iid) = (state.db.clone(), state.clock.now(), path.into_inner());
    let (v, fx) = web::block(move || svc::answer(&db, &auth.0, &iid, &input, now)).await??;
    publish(&state, &fx);
    Ok(HttpResponse::Ok().json(v))
}

/// An involved hospital downloads an attachment.
#[utoipa::path(
    get,
    path = "/api/v1/hospital/incidents/{iid}/attachments/{atid}",
    tag = "pre-arrival",
    params(("iid" = String, Path, description = "Incident id"), ("atid" = String, Path, description = "Attachment id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The bytes, with their content type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "`forbidden`, `not_involved`", body = ErrorBody),
        (status = 404, description = "No such attachment", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
pub(crate) async fn ed_attachment(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (db, now) = (state.db.clone(), state.clock.now());
    let (iid, atid) = path.into_inner();
    let a = web::block(move || svc::ed_attachment(&db, &auth.0, &iid, &atid, now)).await??;
    Ok(attachment_response(a))
}

// ---- Server-Sent Events ------------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Resume after this event id (same as the `Last-Event-ID` header, which wins).
    pub last_event_id: Option<i64>,
}

/// Where a stream starts: after `Last-Event-ID` (header or query), else at the current head.
fn resume_from(req: &HttpRequest, q: &FeedQuery) -> Result<Option<i64>, ApiError> {
    match super::field::header_str(req, "last-event-id") {
        Some(h) => h.trim().parse::<i64>().map(Some).map_err(|_| {
            ApiError::bad_request(
                "invalid_last_event_id",
                "Last-Event-ID: an event id (integer)",
            )
        }),
        None => Ok(q.last_event_id),
    }
}

/// Who is watching: a hospital (all its events) or a crew member (their incidents only).
#[derive(Clone, Debug)]
enum Watcher {
    Hospital,
    Crew { device_id: String },
}

/// How often a stream sends a comment line (keeps proxies from closing it) and re-checks the
/// session (a stream ends when its session does).
const HEARTBEAT: Duration = Duration::from_secs(15);

fn stream(
    state: web::Data<AppState>,
    actor: Actor,
    token: String,
    facility: String,
    watcher: Watcher,
    after: Option<i64>,
) -> HttpResponse {
    let (tx, mut rx) =
        tokio::sync::mpsc::channel::<Result<web::Bytes, std::convert::Infallible>>(64);
    let mut wake = state.feed.subscribe();
    tokio::spawn(async move {
        let db = state.db.clone();
        let start = {
            let (db, facility) = (db.clone(), facility.clone());
            web::block(move || feed::head(&db, &facility)).await
        };
        let mut cursor = match (after, start) {
            (Some(a), _) => a,
            (None, Ok(Ok(h))) => h,
            _ => return,
        };
        // The retry hint, and an opening comment so clients see the stream is live.
        if tx
            .send(Ok(web::Bytes::from(format!(
                "retry: 2000\n: connected at {cursor}\n\n"
            ))))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let batch = {
                let (db, facility) = (db.clone(), facility.clone());
                web::block(move || feed::since(&db, &facility, cursor, FEED_PAGE)).await
            };
            let Ok(Ok(rows)) = batch else { return };
            let full = rows.len() as i64 >= FEED_PAGE;
            for row in rows {
                cursor = row.seq;
                if let Watcher::Crew { device_id } = &watcher {
                    let (db, a, d, i) = (
                        db.clone(),
                        actor.clone(),
                        device_id.clone(),
                        row.incident_id.clone(),
                    );
                    let mine = web::block(move || svc::crew_owns(&db, &a, &d, &i)).await;
                    if !matches!(mine, Ok(Ok(true))) {
                        continue;
                    }
                }
                let msg = format!(
                    "id: {}\nevent: {}\ndata: {}\n\n",
                    row.seq, row.kind, row.data
                );
                if tx.send(Ok(web::Bytes::from(msg))).await.is_err() {
                    return;
                }
            }
            if full {
                continue;
            }
            tokio::select! {
                note = wake.recv() => match note {
                    Ok(n) if n.facility_id != facility => {}
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = tokio::time::sleep(HEARTBEAT) => {
                    let (db, token, now, policy) = (
                        db.clone(),
                        token.clone(),
                        state.clock.now(),
                        state.config.session_policy,
                    );
                    // The session itself (`authenticate` refuses device-bound sessions, which
                    // would end every crew feed at its first heartbeat).
                    let alive = web::block(move || accounts::session_account(&db, &token, now, policy)).await;
                    if !matches!(alive, Ok(Ok(_))) {
                        let _ = tx.send(Ok(web::Bytes::from_static(b"event: session_ended\ndata: {}\n\n"))).await;
                        return;
                    }
                    if tx.send(Ok(web::Bytes::from_static(b": keep-alive\n\n"))).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}

const FEED_PAGE: i64 = 200;

/// The hospital's live feed (Server-Sent Events).
#[utoipa::path(
    get,
    path = "/api/v1/hospital/feed",
    tag = "pre-arrival",
    params(FeedQuery, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`text/event-stream`: events `inquiry`, `report_updated`, `attachment_added`, `accepted_elsewhere`, `withdrawn`, `destination_assigned`, `destination_released`, `acknowledged`, `answered`, `escalated`, `arrived`; `data` is JSON with `incident_id`, `status`, `version`, `activation`, `eta_at`, `hospital_id`, `target_status`, `kind`, `at`", content_type = "text/event-stream", body = String),
        (status = 400, description = "`invalid_last_event_id`", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not ED staff", body = ErrorBody),
    )
)]
pub(crate) async fn hospital_feed(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Authenticated,
    q: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let after = resume_from(&req, &q)?;
    let actor = auth.0;
    let facility = match (actor.role, &actor.facility_id) {
        (Role::EdStaff, Some(f)) => f.clone(),
        _ => {
            return Err(ApiError::forbidden(
                "only emergency department staff may watch a hospital's feed",
            ));
        }
    };
    let token = bearer(&req).unwrap_or_default();
    Ok(stream(
        state,
        actor,
        token,
        facility,
        Watcher::Hospital,
        after,
    ))
}

/// The crew's live feed (Server-Sent Events): answers, acknowledgements, escalations of this
/// paramedic's incidents. Signed like every field request.
#[utoipa::path(
    get,
    path = "/api/v1/crew/feed",
    tag = "pre-arrival",
    params(FeedQuery, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`text/event-stream`: events `inquiry_sent`, `report_updated`, `acknowledged`, `accepted`, `declined` (with `reason`), `escalated` (with the hospital's `phone`), `destination_changed`, `arrived`", content_type = "text/event-stream", body = String),
        (status = 400, description = "`invalid_last_event_id`", body = ErrorBody),
        (status = 401, description = "Device or session refused", body = ErrorBody),
        (status = 403, description = "Not a paramedic", body = ErrorBody),
    )
)]
pub(crate) async fn crew_feed(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let after = resume_from(&req, &q)?;
    let (actor, by) = field_actor(&state, &req, &[], Action::ReadIncident, false).await?;
    if actor.role != Role::Paramedic {
        return Err(ApiError::forbidden("only paramedics may watch a crew feed"));
    }
    // The nonce is spent like any signed request's (a replayed stream request is refused).
    let (db, by2) = (state.db.clone(), by.clone());
    web::block(move || crate::service::devices::spend_nonce(&db, &by2)).await??;
    let token = bearer(&req).unwrap_or_default();
    let watcher = Watcher::Crew {
        device_id: by.device.id.clone(),
    };
    Ok(stream(
        state,
        actor,
        token,
        by.device.facility_id.clone(),
        watcher,
        after,
    ))
}
