//! The city's notices (RULES R17): service changes, planned suspensions and incidents; a
//! termination announced at least 30 days ahead.

use super::{NOTICES_SHOWN, TERMINATION_NOTICE_SECS, body_text, time_field};
use crate::audit::{self, Action, Outcome};
use crate::db;
use crate::db::Db;
use crate::db::governance::NoticeRow;
use crate::domain::{NoticeKind, NoticeStatus};
use crate::service::accounts::Actor;
use crate::service::error::DomainError;
use crate::service::facilities::require_city_admin;
use crate::service::{check_id, new_id, text};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeInput {
    /// `service_change` | `planned_suspension` | `incident`.
    pub kind: String,
    /// 1–200 characters.
    pub title_ja: String,
    pub title_en: String,
    /// 1–4000 characters; line breaks allowed.
    pub body_ja: String,
    pub body_en: String,
    /// Unix seconds. Required for a planned suspension (not in the past).
    #[serde(default)]
    pub starts_at: Option<i64>,
    /// Unix seconds, after `starts_at`.
    #[serde(default)]
    pub ends_at: Option<i64>,
    /// The service ends for good (planned suspensions only): `starts_at` at least 30 days ahead.
    #[serde(default)]
    pub termination: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Notice {
    pub id: String,
    #[schema(value_type = String)]
    pub kind: NoticeKind,
    pub title_ja: String,
    pub title_en: String,
    pub body_ja: String,
    pub body_en: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub termination: bool,
    /// `published` | `withdrawn`.
    pub status: String,
    pub published_at: i64,
    pub withdrawn_at: Option<i64>,
}

impl From<NoticeRow> for Notice {
    fn from(r: NoticeRow) -> Self {
        Notice {
            id: r.id,
            kind: r.kind,
            title_ja: r.title_ja,
            title_en: r.title_en,
            body_ja: r.body_ja,
            body_en: r.body_en,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            termination: r.termination,
            status: r.status.to_string(),
            published_at: r.created_at,
            withdrawn_at: r.withdrawn_at,
        }
    }
}

// ---- notices (R17) ------------------------------------------------------------------------------

pub fn publish_notice(
    db: &Db,
    actor: &Actor,
    input: &NoticeInput,
    now: i64,
) -> Result<Notice, DomainError> {
    require_city_admin(actor)?;
    let Ok(kind) = input.kind.parse::<NoticeKind>() else {
        return Err(DomainError::unprocessable(
            "invalid_field",
            format!("kind: one of {}", NoticeKind::TEXTS.join(", ")),
        ));
    };
    let starts_at = time_field("starts_at", input.starts_at)?;
    let ends_at = time_field("ends_at", input.ends_at)?;
    if let (Some(s), Some(e)) = (starts_at, ends_at)
        && e <= s
    {
        return Err(DomainError::unprocessable(
            "invalid_field",
            "ends_at: must be after starts_at",
        ));
    }
    if kind == NoticeKind::PlannedSuspension {
        match starts_at {
            None => {
                return Err(DomainError::unprocessable(
                    "invalid_field",
                    "starts_at: required for a planned suspension",
                ));
            }
            Some(s) if s < now => {
                return Err(DomainError::unprocessable(
                    "invalid_field",
                    "starts_at: a planned suspension starts in the future (an emergency suspension is an incident notice)",
                ));
            }
            Some(_) => {}
        }
    }
    if input.termination {
        if kind != NoticeKind::PlannedSuspension {
            return Err(DomainError::unprocessable(
                "invalid_field",
                "termination: only a planned suspension can be a termination",
            ));
        }
        if starts_at.is_none_or(|s| s - now < TERMINATION_NOTICE_SECS) {
            return Err(DomainError::unprocessable(
                "insufficient_notice",
                "starts_at: a termination is announced at least 30 days ahead",
            ));
        }
    }
    let row = NoticeRow {
        id: new_id()?,
        municipality_id: actor.municipality_id.clone(),
        kind,
        title_ja: text("title_ja", &input.title_ja, 1, 200)?,
        title_en: text("title_en", &input.title_en, 1, 200)?,
        body_ja: body_text("body_ja", &input.body_ja, 4000)?,
        body_en: body_text("body_en", &input.body_en, 4000)?,
        starts_at,
        ends_at,
        termination: input.termination,
        status: NoticeStatus::Published,
        created_by: actor.account_id.clone(),
        created_at: now,
        withdrawn_by: None,
        withdrawn_at: None,
    };
    db.write(|c| {
        db::governance::insert_notice(c, &row)?;
        let event = actor
            .event(Action::PublishNotice, Outcome::Ok)
            .detail(format!("{} {}", row.kind, row.id));
        audit::append(c, &actor.municipality_id, &event, now);
        Ok(row.clone().into())
    })
}

/// Published notices, newest first (public).
pub fn notices(db: &Db, muni: &str) -> Result<Vec<Notice>, DomainError> {
    db.read(|c| {
        Ok(db::governance::published_notices(c, muni, NOTICES_SHOWN)?
            .into_iter()
            .map(Notice::from)
            .collect())
    })
}

pub fn withdraw_notice(db: &Db, actor: &Actor, id: &str, now: i64) -> Result<Notice, DomainError> {
    require_city_admin(actor)?;
    check_id(id)?;
    db.write(|c| {
        db::governance::notice(c, &actor.municipality_id, id)?
            .ok_or_else(|| DomainError::not_found("no such notice"))?;
        if db::governance::withdraw_notice(c, id, &actor.account_id, now)? != 1 {
            return Err(DomainError::conflict(
                "already_withdrawn",
                "this notice has already been withdrawn",
            ));
        }
        let event = actor
            .event(Action::WithdrawNotice, Outcome::Ok)
            .detail(format!("notice {id}"));
        audit::append(c, &actor.municipality_id, &event, now);
        db::governance::notice(c, &actor.municipality_id, id)?
            .map(Notice::from)
            .ok_or_else(|| DomainError::internal("withdrawn notice vanished"))
    })
}
