//! The city's break-glass review list in words (issue 26): each pending break-glass access with
//! who searched (the paramedic's name and login id), on which device, from which fire department,
//! for whom (the resident's name, kana and date of birth) and why — so the reviewer need not look
//! anything up. Identity only; no medical data.

use super::access::{self, BreakGlassRecord};
use super::accounts::Actor;
use super::error::DomainError;
use crate::db::{self, Db};
use serde::Serialize;

/// One pending review with its names.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReviewEntry {
    #[serde(flatten)]
    pub record: BreakGlassRecord,
    pub paramedic_name: Option<String>,
    pub paramedic_login_id: Option<String>,
    pub device_label: Option<String>,
    pub facility_name: Option<String>,
    pub facility_name_en: Option<String>,
    pub resident_name: Option<String>,
    pub resident_kana: Option<String>,
    pub resident_date_of_birth: Option<String>,
}

/// The pending break-glass reviews (city administrators), oldest first, with their names.
pub fn pending(db: &Db, actor: &Actor) -> Result<Vec<ReviewEntry>, DomainError> {
    let records = access::pending_reviews(db, actor)?;
    let muni = &actor.municipality_id;
    db.read(|c| {
        records
            .into_iter()
            .map(|r| {
                let who = db::accounts::account(c, muni, &r.account_id)?;
                let device = db::facilities::device(c, muni, &r.device_id)?;
                let facility = db::facilities::facility(c, muni, &r.facility_id)?;
                let resident = db::residents::resident(c, muni, &r.resident_id)?;
                let kana = resident.as_ref().and_then(|p| {
                    match (&p.family_name_kana, &p.given_name_kana) {
                        (None, None) => None,
                        (f, g) => Some(
                            format!(
                                "{} {}",
                                f.as_deref().unwrap_or(""),
                                g.as_deref().unwrap_or("")
                            )
                            .trim()
                            .to_string(),
                        ),
                    }
                });
                Ok(ReviewEntry {
                    paramedic_name: who.as_ref().map(|a| a.display_name.clone()),
                    paramedic_login_id: who.map(|a| a.login_id),
                    device_label: device.map(|d| d.label),
                    facility_name: facility.as_ref().map(|f| f.name_ja.clone()),
                    facility_name_en: facility.map(|f| f.name_en),
                    resident_name: resident
                        .as_ref()
                        .map(|p| format!("{} {}", p.family_name, p.given_name)),
                    resident_kana: kana,
                    resident_date_of_birth: resident.map(|p| p.date_of_birth),
                    record: r,
                })
            })
            .collect()
    })
}
