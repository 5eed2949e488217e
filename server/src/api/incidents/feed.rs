//! The live feeds (Server-Sent Events): the hospital's (`/api/v1/hospital/feed`, bearer session)
//! and the crew's (`/api/v1/crew/feed`, signed). `id:` is the facility's sequence number, so a
//! client that reconnects with `Last-Event-ID` gets every event it missed, in order; an id above
//! the head (a restore, another deployment) gets a `reset` event: reload, then new events follow.

use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::signed;
use crate::audit::Action;
use crate::auth::{Authenticated, bearer};
use crate::domain::Role;
use crate::service::accounts::{self, Actor};
use crate::service::feed;
use crate::service::incidents as svc;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Resume after this event id (same as the `Last-Event-ID` header, which wins).
    pub last_event_id: Option<i64>,
}

/// Where a stream starts: after `Last-Event-ID` (header or query), else at the current head.
fn resume_from(req: &HttpRequest, q: &FeedQuery) -> Result<Option<i64>, ApiError> {
    match crate::api::extract::header_str(req, "last-event-id") {
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
    // Subscribed before the head is read: a note committed meanwhile still wakes the stream.
    let mut wake = state.feed.subscribe(&facility);
    let mut closing = state.feed.closing();
    let guard = state.feed.client();
    tokio::spawn(async move {
        let _guard = guard;
        if *closing.borrow_and_update() {
            return;
        }
        let db = state.db.clone();
        let start = {
            let (db, facility) = (db.clone(), facility.clone());
            web::block(move || feed::head(&db, &facility)).await
        };
        let Ok(Ok(head)) = start else { return };
        // A `Last-Event-ID` above the head cannot be resumed from: the data were restored from a
        // backup, or the id comes from another deployment. The client is told to reload its
        // state (`reset`, whose `id:` is the head) and the stream goes on from the head.
        let (mut cursor, reset) = match after {
            Some(a) if a > head => (head, Some(a)),
            Some(a) => (a, None),
            None => (head, None),
        };
        // The retry hint, and an opening comment so clients see the stream is live.
        let mut opening = format!("retry: 2000\n: connected at {cursor}\n\n");
        if let Some(asked) = reset {
            opening.push_str(&format!(
                "id: {head}\nevent: reset\ndata: {}\n\n",
                serde_json::json!({"reason": "last_event_id_ahead", "last_event_id": asked, "head": head})
            ));
        }
        if tx.send(Ok(web::Bytes::from(opening))).await.is_err() {
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
                // Shutdown: the stream ends now (the client reconnects, to another instance).
                _ = closing.changed() => return,
                // A note of this facility: read what is new.
                () = wake.changed() => {}
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
        (status = 200, description = "`text/event-stream`: events `inquiry`, `report_updated`, `attachment_added`, `accepted_elsewhere`, `withdrawn`, `destination_assigned`, `destination_released`, `acknowledged`, `answered`, `escalated`, `arrived`, and `reset` (the `Last-Event-ID` was above the head, e.g. after a restore: reload the incidents; its `id` is the head); `data` is JSON with `incident_id`, `status`, `version`, `activation`, `eta_at`, `hospital_id`, `target_status`, `kind`, `at`", content_type = "text/event-stream", body = String),
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
        (status = 200, description = "`text/event-stream`: events `inquiry_sent`, `report_updated`, `acknowledged`, `accepted`, `declined` (with `reason`), `escalated` (with the hospital's `phone`), `destination_changed`, `arrived`, `reset` (the `Last-Event-ID` was above the head: reload)", content_type = "text/event-stream", body = String),
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
    // The nonce is spent like any signed request's (a replayed stream request is refused),
    // whatever the outcome.
    let (actor, by) = signed(
        &state,
        &req,
        &[],
        Action::ReadIncident,
        false,
        |db, actor, by| {
            if actor.role != Role::Paramedic {
                return Err(ApiError::forbidden("only paramedics may watch a crew feed"));
            }
            crate::service::devices::spend_nonce(db, &by)?;
            Ok((actor, by))
        },
    )
    .await?;
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
