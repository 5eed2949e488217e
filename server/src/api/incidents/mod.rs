//! Pre-arrival endpoints (DESIGN §4). The crew's (`/api/v1/incidents…`, `/api/v1/crew/feed`) are
//! signed by an enrolled device like scans; the emergency department's
//! (`/api/v1/hospital/…`) take an ED staff member's bearer session. Both feeds are Server-Sent
//! Events: `id:` is the facility's sequence number, so a client that reconnects with
//! `Last-Event-ID` (header, or `?last_event_id=` for clients that cannot set headers) gets every
//! event it missed, in order.
//!
//! Split by who calls: `crew` (the paramedic's signed requests), `hospital` (the ED's bearer
//! requests) and `feed` (both live feeds). This file holds what they share: waking the feeds after
//! a change (also used by the escalation loop in `startup`) and the incident and attachment
//! responses.

pub mod board;
pub mod crew;
pub mod feed;
pub mod hospital;

use super::extract::wants_fhir;
use crate::service::fhir_report;
use crate::service::incidents::{self as svc, IncidentView};
use crate::state::AppState;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};

fn incident_response(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    v: &IncidentView,
) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    resp.insert_header((header::CACHE_CONTROL, "no-store"));
    if wants_fhir(req) {
        resp.content_type(super::extract::FHIR_JSON)
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
