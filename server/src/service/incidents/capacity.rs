//! Hospital capacity (応需情報): what an ED can take now, per category, published by its staff
//! and shown to crews choosing whom to ask (`GET /api/v1/hospitals`). Nothing about a patient:
//! the change is audited as an operation of the hospital.

use super::require_ed;
use crate::audit::{self, Action, Outcome};
use crate::db::incidents::{self as q, CapacityRow};
use crate::db::{Db, DbConnection};
use crate::domain::{CapacityCategory, CapacityStatus, DeclineReason};
use crate::service::accounts::Actor;
use crate::service::deny;
use crate::service::error::DomainError;
use crate::service::words::{self, Coded, Label};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// After this long an ED's published capacity is shown as stale (`stale: true`): it says what
/// was true then, and a crew should phone rather than trust it.
pub const CAPACITY_STALE_SECS: i64 = 12 * 3600;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityItemInput {
    /// `stroke`, `cardiac`, `trauma`, `paediatric`, `obstetric`, `burns`, `psychiatric`, `general`.
    pub category: String,
    /// `available` (受入可), `limited` (条件付き), `unavailable` (受入不可).
    pub status: String,
    /// A short note for crews (at most 200 characters), e.g. 「CT 1台停止中」; `null` clears.
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityInput {
    /// The categories to set (1–8, each at most once); categories not sent keep what they said.
    pub categories: Vec<CapacityItemInput>,
}

/// One category of a hospital's capacity, with its words.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CapacityView {
    #[schema(value_type = String)]
    pub category: CapacityCategory,
    pub category_words: Label,
    #[schema(value_type = String)]
    pub status: CapacityStatus,
    pub status_words: Label,
    pub note: Option<String>,
    pub updated_at: i64,
    /// Older than 12 hours: phone before relying on it.
    pub stale: bool,
}

impl CapacityView {
    fn of(r: CapacityRow, now: i64) -> Self {
        CapacityView {
            category_words: words::capacity_category(r.category).into(),
            category: r.category,
            status_words: words::capacity_status(r.status).into(),
            status: r.status,
            note: r.note,
            updated_at: r.updated_at,
            stale: now - r.updated_at > CAPACITY_STALE_SECS,
        }
    }
}

/// The codes a client offers, with their words (no raw code need ever be shown).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InquiryCodes {
    pub decline_reasons: Vec<Coded>,
    pub capacity_categories: Vec<Coded>,
    pub capacity_statuses: Vec<Coded>,
}

pub fn codes() -> InquiryCodes {
    InquiryCodes {
        decline_reasons: DeclineReason::ALL
            .iter()
            .map(|r| Coded::of(r.as_str(), words::decline_reason(*r)))
            .collect(),
        capacity_categories: CapacityCategory::ALL
            .iter()
            .map(|c| Coded::of(c.as_str(), words::capacity_category(*c)))
            .collect(),
        capacity_statuses: CapacityStatus::ALL
            .iter()
            .map(|s| Coded::of(s.as_str(), words::capacity_status(*s)))
            .collect(),
    }
}

/// Every hospital's published capacity, by hospital id (for the crew's list).
pub fn by_hospital(
    c: &mut DbConnection,
    muni: &str,
    now: i64,
) -> Result<HashMap<String, Vec<CapacityView>>, DomainError> {
    let mut out: HashMap<String, Vec<CapacityView>> = HashMap::new();
    for r in q::capacities(c, muni)? {
        out.entry(r.facility_id.clone())
            .or_default()
            .push(CapacityView::of(r, now));
    }
    for list in out.values_mut() {
        list.sort_by_key(|v| CapacityCategory::ALL.iter().position(|c| *c == v.category));
    }
    Ok(out)
}

fn own(
    c: &mut DbConnection,
    actor: &Actor,
    hospital: &str,
    now: i64,
) -> Result<Vec<CapacityView>, DomainError> {
    Ok(by_hospital(c, &actor.municipality_id, now)?
        .remove(hospital)
        .unwrap_or_default())
}

/// The ED's own published capacity.
pub fn capacity(db: &Db, actor: &Actor, now: i64) -> Result<Vec<CapacityView>, DomainError> {
    let hospital = require_ed(actor)?;
    db.read(|c| own(c, actor, &hospital, now))
}

/// ED staff publish their hospital's capacity (the categories sent; the others keep theirs).
pub fn set_capacity(
    db: &Db,
    actor: &Actor,
    input: &CapacityInput,
    now: i64,
) -> Result<Vec<CapacityView>, DomainError> {
    let muni = actor.municipality_id.as_str();
    let hospital = match require_ed(actor) {
        Ok(h) => h,
        Err(err) => {
            return Err(deny(
                db,
                muni,
                actor.event(Action::SetCapacity, Outcome::Denied),
                err,
                now,
            ));
        }
    };
    if input.categories.is_empty() || input.categories.len() > CapacityCategory::ALL.len() {
        return Err(DomainError::unprocessable(
            "invalid_field",
            format!("categories: 1–{} entries", CapacityCategory::ALL.len()),
        ));
    }
    let mut rows = Vec::with_capacity(input.categories.len());
    for item in &input.categories {
        let category: CapacityCategory = item.category.trim().parse().map_err(|_| {
            DomainError::unprocessable(
                "invalid_capacity",
                format!(
                    "category: one of {} / 診療区分が不正です",
                    CapacityCategory::TEXTS.join(", ")
                ),
            )
        })?;
        let status: CapacityStatus = item.status.trim().parse().map_err(|_| {
            DomainError::unprocessable(
                "invalid_capacity",
                format!(
                    "status: one of {} / 受入可否が不正です",
                    CapacityStatus::TEXTS.join(", ")
                ),
            )
        })?;
        if rows.iter().any(|r: &CapacityRow| r.category == category) {
            return Err(DomainError::unprocessable(
                "invalid_capacity",
                format!("category {category} is listed twice"),
            ));
        }
        rows.push(CapacityRow {
            facility_id: hospital.clone(),
            category,
            municipality_id: muni.to_string(),
            status,
            note: crate::service::opt_text("note", &item.note, 200)?,
            updated_by: actor.account_id.clone(),
            updated_at: now,
        });
    }
    db.write(|c| {
        for r in &rows {
            q::set_capacity(c, r)?;
        }
        let summary: Vec<String> = rows
            .iter()
            .map(|r| format!("{}={}", r.category, r.status))
            .collect();
        audit::append(
            c,
            muni,
            &actor
                .event(Action::SetCapacity, Outcome::Ok)
                .detail(format!("capacity {}", summary.join(","))),
            now,
        );
        own(c, actor, &hospital, now)
    })
}
