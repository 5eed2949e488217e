//! Disaster mode (RULES R11): in a disaster the city declares, shared information may be used to
//! protect residents' lives — only for residents who consented to disaster-time use in advance.
//!
//! A city administrator declares a disaster for some districts (or the whole municipality) for at
//! most 14 days, may renew it (a new period of at most 14 days from the renewal, recorded as a new
//! declaration that continues the old one) and may end it early. A declaration ends by itself: it
//! is in force only while `starts_at <= now < min(ends_at, ended_at)`, by the injected clock.
//!
//! While a declaration is in force, accounts with the role `disaster_responder` (password login, no
//! device, no facility) may list the residents of the declared districts whose consent in force
//! grants `disaster_use` (identity and address only) and read one such resident's consented dataset
//! (a [`Disclosure`] of kind `disaster`). Every listed resident and every read is an audit event
//! about that resident with purpose `disaster`, so it appears in their access history; every
//! refusal is an audit event of its own, appended before the answer. Reads are also recorded in
//! `disaster_accesses` (the `accesses` table needs a device and a facility, which responders do
//! not have).

use super::accounts::Actor;
use super::consent::{self, Consent};
use super::dataset::Item;
use super::deny;
use super::disclosure::{Disclosure, Patient};
use super::facilities::require_city_admin;
use super::{check_id, new_id, text};
use crate::audit::{self, Action, Outcome};
use crate::db::disasters::{DisasterAccessRow, DisasterDeclarationRow};
use crate::db::residents::ResidentRow;
use crate::db::{self, Db, DbConnection, Tx};
use crate::domain::{Category, ConsentStatus, DisclosureKind, Purpose, ResidentStatus, Role};
use crate::service::error::DomainError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The longest period of one declaration (and of a renewal, counted from the renewal).
pub const MAX_PERIOD_SECS: i64 = 14 * 24 * 3600;
/// How far in the past a declaration may start (clock skew, the time it takes to fill in the form).
pub const START_GRACE_SECS: i64 = 5 * 60;
/// Most districts in one declaration.
pub const MAX_DISTRICTS: usize = 100;
/// The audit purpose of every disaster-time list and read.
pub const PURPOSE: Purpose = Purpose::Disaster;
/// The role that may use disaster mode.
pub const RESPONDER_ROLE: Role = Role::DisasterResponder;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclareInput {
    /// Districts covered, as residents record them (`residents.district`, matched exactly after
    /// trimming); empty or absent = the whole municipality. At most 100, each 1–50 characters.
    #[serde(default)]
    pub districts: Vec<String>,
    /// Unix seconds; not more than 5 minutes in the past.
    pub starts_at: i64,
    /// Unix seconds; after `starts_at` and at most 14 days after it.
    pub ends_at: i64,
    /// What happened (1–500 characters), e.g. 「鬼怒川氾濫（水海道地区）」.
    pub reason: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewInput {
    /// The new end (Unix seconds): later than the current end and at most 14 days from now.
    pub ends_at: i64,
}

/// A declaration as the city and responders see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Declaration {
    pub id: String,
    /// Declared districts; empty = the whole municipality.
    pub districts: Vec<String>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub reason: String,
    /// The city administrator's account.
    pub declared_by: String,
    pub created_at: i64,
    /// The declaration this one renews (continues).
    pub renewed_from: Option<String>,
    /// The declaration that renewed this one, if any.
    pub renewed_by: Option<String>,
    /// When it was ended early (or superseded by its renewal).
    pub ended_at: Option<i64>,
    /// Whether it is in force now: `starts_at <= now < min(ends_at, ended_at)`.
    pub active: bool,
    /// `scheduled` | `active` | `renewed` | `ended` (early, by the city) | `expired` (by itself).
    pub status: String,
}

impl Declaration {
    fn from_row(
        r: DisasterDeclarationRow,
        renewed_by: Option<String>,
        now: i64,
    ) -> Result<Self, DomainError> {
        let active = in_force(&r, now);
        let status = if active {
            "active"
        } else if renewed_by.is_some() {
            "renewed"
        } else if r.ended_at.is_some_and(|e| e < r.ends_at) {
            "ended"
        } else if now < r.starts_at {
            "scheduled"
        } else {
            "expired"
        };
        Ok(Declaration {
            districts: serde_json::from_str(&r.districts).map_err(DomainError::internal)?,
            active,
            status: status.into(),
            id: r.id,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            reason: r.reason,
            declared_by: r.declared_by,
            created_at: r.created_at,
            renewed_from: r.renewed_from,
            renewed_by,
            ended_at: r.ended_at,
        })
    }
}

/// When the declaration stops being in force.
fn effective_end(r: &DisasterDeclarationRow) -> i64 {
    r.ended_at.map_or(r.ends_at, |e| e.min(r.ends_at))
}

fn in_force(r: &DisasterDeclarationRow, now: i64) -> bool {
    r.starts_at <= now && now < effective_end(r)
}

fn invalid_period(message: impl Into<String>) -> DomainError {
    DomainError::unprocessable("invalid_period", message)
}

fn over() -> DomainError {
    DomainError::conflict(
        "disaster_over",
        "this declaration has already ended (by itself, by the city, or by its renewal); declare a new one",
    )
}

/// Trimmed, distinct, bounded district names.
fn districts(input: &[String]) -> Result<Vec<String>, DomainError> {
    if input.len() > MAX_DISTRICTS {
        return Err(DomainError::unprocessable(
            "invalid_field",
            format!("districts: at most {MAX_DISTRICTS}"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for d in input {
        let d = text("districts", d, 1, 50)?;
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

// ---- the city's declarations --------------------------------------------------------------------

pub fn declare(
    db: &Db,
    actor: &Actor,
    input: &DeclareInput,
    now: i64,
) -> Result<Declaration, DomainError> {
    require_city_admin(actor)?;
    let districts = districts(&input.districts)?;
    let reason = text("reason", &input.reason, 1, 500)?;
    if input.starts_at < now - START_GRACE_SECS {
        return Err(invalid_period(
            "starts_at: not more than 5 minutes in the past",
        ));
    }
    if input.ends_at <= input.starts_at {
        return Err(invalid_period("ends_at: must be after starts_at"));
    }
    if input.ends_at - input.starts_at > MAX_PERIOD_SECS {
        return Err(invalid_period(
            "ends_at: a declaration lasts at most 14 days; renew it to continue",
        ));
    }
    let row = DisasterDeclarationRow {
        id: new_id()?,
        municipality_id: actor.municipality_id.clone(),
        districts: serde_json::to_string(&districts).map_err(DomainError::internal)?,
        starts_at: input.starts_at,
        ends_at: input.ends_at,
        reason,
        declared_by: actor.account_id.clone(),
        created_at: now,
        renewed_from: None,
        ended_at: None,
    };
    db.write(|c| {
        db::disasters::insert_disaster_declaration(c, &row)?;
        let event = actor
            .event(Action::DeclareDisaster, Outcome::Ok)
            .detail(format!("declaration {}", row.id));
        audit::append(c, &actor.municipality_id, &event, now);
        Ok::<_, DomainError>(())
    })?;
    Declaration::from_row(row, None, now)
}

pub fn renew(
    db: &Db,
    actor: &Actor,
    declaration_id: &str,
    input: &RenewInput,
    now: i64,
) -> Result<Declaration, DomainError> {
    require_city_admin(actor)?;
    check_id(declaration_id)?;
    if input.ends_at - now > MAX_PERIOD_SECS {
        return Err(invalid_period(
            "ends_at: a renewal lasts at most 14 days from now",
        ));
    }
    let row = db.write(|c| {
        let old = db::disasters::disaster_declaration(c, &actor.municipality_id, declaration_id)?
            .ok_or_else(|| DomainError::not_found("no such declaration"))?;
        if old.ended_at.is_some() || now >= old.ends_at {
            return Err(over());
        }
        if input.ends_at <= old.ends_at {
            return Err(invalid_period(
                "ends_at: a renewal must end later than the declaration it renews",
            ));
        }
        let row = DisasterDeclarationRow {
            id: new_id()?,
            municipality_id: actor.municipality_id.clone(),
            districts: old.districts.clone(),
            // Continues the old period without a gap (or replaces it before it has begun).
            starts_at: old.starts_at.max(now),
            ends_at: input.ends_at,
            reason: old.reason.clone(),
            declared_by: actor.account_id.clone(),
            created_at: now,
            renewed_from: Some(old.id.clone()),
            ended_at: None,
        };
        if db::disasters::end_disaster_declaration(c, &actor.municipality_id, &old.id, now)? == 0 {
            return Err(over());
        }
        db::disasters::insert_disaster_declaration(c, &row)?;
        let event = actor
            .event(Action::RenewDisaster, Outcome::Ok)
            .detail(format!("declaration {} renews {}", row.id, old.id));
        audit::append(c, &actor.municipality_id, &event, now);
        Ok(row)
    })?;
    Declaration::from_row(row, None, now)
}

pub fn end(
    db: &Db,
    actor: &Actor,
    declaration_id: &str,
    now: i64,
) -> Result<Declaration, DomainError> {
    require_city_admin(actor)?;
    check_id(declaration_id)?;
    let row = db.write(|c| {
        let row = db::disasters::disaster_declaration(c, &actor.municipality_id, declaration_id)?
            .ok_or_else(|| DomainError::not_found("no such declaration"))?;
        if row.ended_at.is_some() || now >= row.ends_at {
            return Err(over());
        }
        if db::disasters::end_disaster_declaration(c, &actor.municipality_id, &row.id, now)? == 0 {
            return Err(over());
        }
        let event = actor
            .event(Action::EndDisaster, Outcome::Ok)
            .detail(format!("declaration {}", row.id));
        audit::append(c, &actor.municipality_id, &event, now);
        Ok(DisasterDeclarationRow {
            ended_at: Some(now),
            ..row
        })
    })?;
    Declaration::from_row(row, None, now)
}

/// Every declaration, newest first (at most 1,000): city administrators and disaster responders.
pub fn list(db: &Db, actor: &Actor, now: i64) -> Result<Vec<Declaration>, DomainError> {
    if actor.role != Role::CityAdmin && actor.role != RESPONDER_ROLE {
        return Err(DomainError::forbidden(
            "only city administrators and disaster responders may see declarations",
        ));
    }
    let rows = db.read(|c| {
        db::disasters::disaster_declarations(c, &actor.municipality_id, 1000)
            .map_err(DomainError::from)
    })?;
    let renewals: HashMap<String, String> = rows
        .iter()
        .filter_map(|r| r.renewed_from.clone().map(|from| (from, r.id.clone())))
        .collect();
    rows.into_iter()
        .map(|r| {
            let by = renewals.get(&r.id).cloned();
            Declaration::from_row(r, by, now)
        })
        .collect()
}

// ---- responders -----------------------------------------------------------------------------------

/// A refusal inside a responder's transaction, with the resident it concerned (so the resident
/// sees refused attempts in their access history too).
struct Refusal(Option<String>, DomainError);

impl<E: Into<DomainError>> From<E> for Refusal {
    fn from(e: E) -> Self {
        Refusal(None, e.into())
    }
}

/// Runs `f` in a write transaction for a disaster responder. A wrong role, and every denial `f`
/// returns (401/403/404/429), is audited under `action` with purpose `disaster`, in its own
/// transaction, before the answer.
fn guarded<T: Send>(
    db: &Db,
    actor: &Actor,
    action: Action,
    now: i64,
    f: impl FnOnce(&mut Tx<'_>) -> Result<T, Refusal> + Send,
) -> Result<T, DomainError> {
    let refuse = |resident: Option<String>, err: DomainError| {
        let mut event = actor.event(action, Outcome::Denied).purpose(PURPOSE);
        event.resident_id = resident;
        deny(db, &actor.municipality_id, event, err, now)
    };
    if actor.role != RESPONDER_ROLE {
        return Err(refuse(
            None,
            DomainError::forbidden("only disaster responders may use disaster mode"),
        ));
    }
    match db.write(f) {
        Ok(v) => Ok(v),
        Err(Refusal(resident, err)) if err.is_denial() => Err(refuse(resident, err)),
        Err(Refusal(_, err)) => Err(err),
    }
}

fn no_disaster() -> DomainError {
    DomainError::forbidden_code(
        "no_active_disaster",
        "no disaster declaration is in force now",
    )
}

/// The first declaration in force that covers `district` (a declaration without districts covers
/// the whole municipality; a resident without a district only such a declaration).
fn covering<'d>(
    declarations: &'d [DisasterDeclarationRow],
    district: Option<&str>,
) -> Result<Option<&'d DisasterDeclarationRow>, DomainError> {
    for d in declarations {
        let names: Vec<String> =
            serde_json::from_str(&d.districts).map_err(DomainError::internal)?;
        if names.is_empty() || district.is_some_and(|x| names.iter().any(|n| n == x)) {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

/// What a responder's list shows of a resident: who and where, nothing medical.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DisasterResident {
    pub id: String,
    pub family_name: String,
    pub given_name: String,
    pub family_name_kana: Option<String>,
    pub given_name_kana: Option<String>,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    pub district: Option<String>,
    pub address: String,
    /// The declaration that covers this resident.
    pub declaration_id: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DisasterResidentList {
    /// The declarations in force now.
    pub declarations: Vec<String>,
    /// Residents of the declared districts whose consent in force grants disaster-time use, by
    /// district and kana.
    pub residents: Vec<DisasterResident>,
}

/// The consenting residents of the declared districts. Each listed resident gets an audit event
/// (`disaster.list`, purpose `disaster`), and the request one more without a resident.
pub fn residents(db: &Db, actor: &Actor, now: i64) -> Result<DisasterResidentList, DomainError> {
    guarded(db, actor, Action::DisasterList, now, |c| {
        let muni = &actor.municipality_id;
        let declarations = db::disasters::disaster_declarations_in_force(c, muni, now)?;
        if declarations.is_empty() {
            return Err(Refusal(None, no_disaster()));
        }
        let mut districts: Vec<String> = Vec::new();
        let mut whole = false;
        for d in &declarations {
            let names: Vec<String> =
                serde_json::from_str(&d.districts).map_err(DomainError::internal)?;
            whole |= names.is_empty();
            districts.extend(names);
        }
        let candidates =
            db::disasters::active_residents_in(c, muni, (!whole).then_some(districts.as_slice()))?;
        // The consent in force of each resident: the last version.
        let mut latest: HashMap<String, (ConsentStatus, bool)> = HashMap::new();
        for (resident, _, status, disaster_use) in db::disasters::consent_disaster_flags(c, muni)? {
            latest.insert(resident, (status, disaster_use));
        }
        let mut listed = Vec::new();
        for r in candidates {
            let consents = latest
                .get(&r.id)
                .is_some_and(|(status, use_)| *status == ConsentStatus::Granted && *use_);
            if !consents {
                continue;
            }
            let Some(d) = covering(&declarations, r.district.as_deref())? else {
                continue;
            };
            listed.push(DisasterResident {
                declaration_id: d.id.clone(),
                id: r.id,
                family_name: r.family_name,
                given_name: r.given_name,
                family_name_kana: r.family_name_kana,
                given_name_kana: r.given_name_kana,
                date_of_birth: r.date_of_birth,
                district: r.district,
                address: r.address,
            });
        }
        listed.sort_by(|a, b| {
            (&a.district, &a.family_name_kana, &a.given_name_kana, &a.id).cmp(&(
                &b.district,
                &b.family_name_kana,
                &b.given_name_kana,
                &b.id,
            ))
        });
        for r in &listed {
            let event = actor
                .event(Action::DisasterList, Outcome::Ok)
                .about(&r.id)
                .purpose(PURPOSE)
                .detail(format!("declaration {}", r.declaration_id));
            audit::append(c, muni, &event, now);
        }
        let event = actor
            .event(Action::DisasterList, Outcome::Ok)
            .purpose(PURPOSE)
            .detail(format!("{} residents listed", listed.len()));
        audit::append(c, muni, &event, now);
        Ok(DisasterResidentList {
            declarations: declarations.into_iter().map(|d| d.id).collect(),
            residents: listed,
        })
    })
}

/// One consenting resident's consented dataset, as a disclosure of kind `disaster`: recorded in
/// `disaster_accesses` and audited (`disaster.read`, purpose `disaster`).
pub fn read(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    now: i64,
) -> Result<Disclosure, DomainError> {
    guarded(db, actor, Action::DisasterRead, now, |c| {
        check_id(resident_id)?;
        let muni = &actor.municipality_id;
        let resident = db::residents::resident(c, muni, resident_id)?;
        let known = resident.as_ref().map(|r| r.id.clone());
        // Outside a declaration, the answer does not tell whether the resident exists.
        let declarations = db::disasters::disaster_declarations_in_force(c, muni, now)?;
        if declarations.is_empty() {
            return Err(Refusal(known, no_disaster()));
        }
        let resident = resident.ok_or_else(|| DomainError::not_found("no such resident"))?;
        let no_consent = || {
            Refusal(
                known.clone(),
                DomainError::forbidden_code(
                    "no_disaster_consent",
                    "this resident has not consented to disaster-time use",
                ),
            )
        };
        if resident.status != ResidentStatus::Active {
            return Err(no_consent());
        }
        let consent = consent::current(c, &resident.id)?
            .filter(|c| c.disaster_use)
            .ok_or_else(no_consent)?;
        let declaration = covering(&declarations, resident.district.as_deref())?
            .ok_or_else(|| {
                Refusal(
                    known.clone(),
                    DomainError::forbidden_code(
                        "outside_declared_area",
                        "this resident lives outside the declared districts",
                    ),
                )
            })?
            .clone();
        // The identity photo is shown only to the paramedic who scanned the card (service::photo).
        let categories: Vec<Category> = consent
            .categories
            .iter()
            .copied()
            .filter(|c| *c != Category::Photo)
            .collect();
        let access = DisasterAccessRow {
            id: new_id()?,
            municipality_id: muni.clone(),
            declaration_id: declaration.id.clone(),
            resident_id: resident.id.clone(),
            account_id: actor.account_id.clone(),
            categories: serde_json::to_string(&categories).map_err(DomainError::internal)?,
            created_at: now,
        };
        db::disasters::insert_disaster_access(c, &access)?;
        let event = actor
            .event(Action::DisasterRead, Outcome::Ok)
            .about(&resident.id)
            .purpose(PURPOSE)
            .detail(format!(
                "access {}, declaration {}",
                access.id, declaration.id
            ));
        audit::append(c, muni, &event, now);
        Ok(build(
            c,
            &access,
            &declaration,
            resident,
            consent,
            categories,
            now,
        )?)
    })
}

fn build(
    c: &mut DbConnection,
    access: &DisasterAccessRow,
    declaration: &DisasterDeclarationRow,
    resident: ResidentRow,
    consent: Consent,
    categories: Vec<Category>,
    now: i64,
) -> Result<Disclosure, DomainError> {
    let items = db::residents::items(c, &resident.id)?
        .into_iter()
        .filter(|i| categories.contains(&i.category))
        .map(Item::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Disclosure {
        access_id: access.id.clone(),
        kind: DisclosureKind::Disaster,
        incident_ref: declaration.id.clone(),
        accessed_at: now,
        expires_at: effective_end(declaration),
        card_id: None,
        facility_id: String::new(),
        patient: Patient {
            age: super::access::age(&resident.date_of_birth, now),
            id: resident.id,
            family_name: resident.family_name,
            given_name: resident.given_name,
            family_name_kana: resident.family_name_kana,
            given_name_kana: resident.given_name_kana,
            date_of_birth: resident.date_of_birth,
            sex: resident.sex,
            preferred_language: resident.preferred_language,
        },
        consent,
        categories,
        items,
        card_current: None,
        triage: None,
        photo: false,
    })
}
