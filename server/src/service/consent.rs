//! Consent: which categories paramedics may see, disaster-time use, whether the card carries the
//! triage core, whether printables show the name; who consented (self or proxy) and when. Every
//! version is kept. Withdrawal (支援中止) is a version too: it hides everything from every role but
//! the resident and their proxies, revokes every card and schedules a purge; only a new consent
//! undoes it.

use super::accounts::Actor;
use super::dataset::parse_category;
use super::new_id;
use super::residents::{Standing, for_actor};
use crate::audit;
use crate::db::residents::ConsentRow;
use crate::db::{self, Db, DbConnection};
use crate::domain::{Category, ConsentStatus, GivenBy, ResidentStatus};
use crate::service::error::DomainError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// Categories paramedics may see (a subset of the dataset categories).
    // Kept as text: an unknown one is refused in `grant` with `unknown_category` (a 422).
    pub categories: Vec<String>,
    pub disaster_use: bool,
    pub triage_on_card: bool,
    pub name_on_print: bool,
    /// Family told of a scan (issue 27): the resident's proxies who registered a browser get a
    /// Web Push, without any medical detail, when the card is scanned and when a hospital
    /// accepts. Default `false`.
    #[serde(default)]
    pub notify_family: bool,
    /// That push names the accepting hospital (only with `notify_family`). Default `false`.
    #[serde(default)]
    pub family_hospital_name: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalInput {
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Consent {
    pub version: i32,
    /// `granted` | `withdrawn`.
    #[schema(value_type = String)]
    pub status: ConsentStatus,
    #[schema(value_type = Vec<String>)]
    pub categories: Vec<Category>,
    pub disaster_use: bool,
    pub triage_on_card: bool,
    pub name_on_print: bool,
    /// The resident's proxies are told (Web Push) of a scan and of a hospital's acceptance.
    #[serde(default)]
    pub notify_family: bool,
    /// That push names the hospital.
    #[serde(default)]
    pub family_hospital_name: bool,
    /// `self` | `proxy`.
    #[schema(value_type = String)]
    pub given_by: GivenBy,
    pub proxy_id: Option<String>,
    pub recorded_at: i64,
}

impl TryFrom<ConsentRow> for Consent {
    type Error = DomainError;
    fn try_from(r: ConsentRow) -> Result<Self, DomainError> {
        Ok(Consent {
            categories: serde_json::from_str(&r.categories).map_err(DomainError::internal)?,
            version: r.version,
            status: r.status,
            disaster_use: r.disaster_use,
            triage_on_card: r.triage_on_card,
            name_on_print: r.name_on_print,
            notify_family: r.notify_family,
            family_hospital_name: r.family_hospital_name,
            given_by: r.given_by,
            proxy_id: r.proxy_id,
            recorded_at: r.created_at,
        })
    }
}

/// The consent in force, if it is a grant.
pub fn current(conn: &mut DbConnection, resident_id: &str) -> Result<Option<Consent>, DomainError> {
    granted(db::residents::latest_consent(conn, resident_id)?)
}

/// The consent in force given the resident's latest consent row, read already: a grant, or
/// `None` (withdrawn, or never given).
pub fn granted(latest: Option<db::residents::ConsentRow>) -> Result<Option<Consent>, DomainError> {
    match latest {
        Some(row) if row.status == ConsentStatus::Granted => Consent::try_from(row).map(Some),
        _ => Ok(None),
    }
}

pub fn history(db: &Db, actor: &Actor, resident_id: &str) -> Result<Vec<Consent>, DomainError> {
    db.read(|c| {
        for_actor(c, actor, resident_id)?;
        db::residents::consents(c, resident_id)?
            .into_iter()
            .map(Consent::try_from)
            .collect()
    })
}

/// What a consent version says (a grant's choices, or a withdrawal's empty terms).
struct Terms<'a> {
    status: ConsentStatus,
    categories: &'a [Category],
    disaster_use: bool,
    triage_on_card: bool,
    name_on_print: bool,
    notify_family: bool,
    family_hospital_name: bool,
}

fn next_row(
    conn: &mut DbConnection,
    actor: &Actor,
    resident_id: &str,
    standing: &Standing,
    terms: &Terms,
    now: i64,
) -> Result<ConsentRow, DomainError> {
    let version = db::residents::latest_consent(conn, resident_id)?.map_or(1, |r| r.version + 1);
    let (given_by, proxy_id) = match standing {
        Standing::Own => (GivenBy::SelfGiven, None),
        Standing::Proxy(p) => (GivenBy::Proxy, Some(p.id.clone())),
    };
    Ok(ConsentRow {
        id: new_id()?,
        municipality_id: actor.municipality_id.clone(),
        resident_id: resident_id.to_string(),
        version,
        status: terms.status,
        categories: serde_json::to_string(terms.categories).map_err(DomainError::internal)?,
        disaster_use: terms.disaster_use,
        triage_on_card: terms.triage_on_card,
        name_on_print: terms.name_on_print,
        given_by,
        proxy_id,
        recorded_by: actor.account_id.clone(),
        created_at: now,
        notify_family: terms.notify_family,
        family_hospital_name: terms.notify_family && terms.family_hospital_name,
    })
}

/// Records a new consent version. If the resident had withdrawn, this reactivates the record.
/// Cards whose triage core the new version no longer allows are revoked in the same
/// transaction (`cards::revoke_for_consent`, reason `consent_changed`).
pub fn grant(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    input: ConsentInput,
    now: i64,
) -> Result<Consent, DomainError> {
    let mut categories = Vec::new();
    for c in &input.categories {
        let c = parse_category(c)?;
        if !categories.contains(&c) {
            categories.push(c);
        }
    }
    db.write(|c| {
        db::residents::lock_resident(c, &actor.municipality_id, resident_id)?;
        let (mut resident, standing) = for_actor(c, actor, resident_id)?;
        if resident.status == ResidentStatus::Purged {
            return Err(DomainError::conflict(
                "purged",
                "this record was deleted after 支援中止; register again",
            ));
        }
        let terms = Terms {
            status: ConsentStatus::Granted,
            categories: &categories,
            disaster_use: input.disaster_use,
            triage_on_card: input.triage_on_card,
            name_on_print: input.name_on_print,
            notify_family: input.notify_family,
            family_hospital_name: input.family_hospital_name,
        };
        let row = next_row(c, actor, resident_id, &standing, &terms, now)?;
        db::residents::insert_consent(c, &row)?;
        // The identity photo is kept only while `photo` is consented.
        super::photo::drop_unconsented(c, actor, resident_id, &categories, now)?;
        let event = audit::Event::new(audit::Action::GrantConsent, audit::Outcome::Ok)
            .by(&actor.account_id, actor.role)
            .about(resident_id)
            .detail(format!("version {}", row.version));
        audit::append(c, &actor.municipality_id, &event, now);
        super::reconfirm::touch(
            c,
            &actor.municipality_id,
            resident_id,
            super::reconfirm::BY_EDIT,
            now,
        )?;
        if resident.status != ResidentStatus::Active {
            resident.status = ResidentStatus::Active;
            resident.withdrawn_at = None;
            resident.purge_after = None;
            resident.updated_at = now;
            db::residents::update_resident(c, &resident)?;
        }
        let consent = Consent::try_from(row)?;
        // Cards follow consent: a card whose triage core this version no longer allows is
        // revoked with it, in this transaction.
        super::cards::revoke_for_consent(c, actor, resident_id, &consent, now)?;
        Ok(consent)
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Withdrawn {
    pub consent_version: i32,
    pub cards_revoked: usize,
    pub purge_after: i64,
}

/// 支援中止: records the withdrawal, marks the resident withdrawn, revokes every card, schedules
/// the purge `retention_secs` from now. All in one transaction.
pub fn withdraw(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    input: WithdrawalInput,
    retention_secs: i64,
    now: i64,
) -> Result<Withdrawn, DomainError> {
    let reason = super::opt_text("reason", &input.reason, 200)?;
    db.write(|c| {
        db::residents::lock_resident(c, &actor.municipality_id, resident_id)?;
        let (mut resident, standing) = for_actor(c, actor, resident_id)?;
        let terms = Terms {
            status: ConsentStatus::Withdrawn,
            categories: &[],
            disaster_use: false,
            triage_on_card: false,
            name_on_print: false,
            notify_family: false,
            family_hospital_name: false,
        };
        let row = next_row(c, actor, resident_id, &standing, &terms, now)?;
        db::residents::insert_consent(c, &row)?;
        super::photo::drop_unconsented(c, actor, resident_id, &[], now)?;
        let revoke_reason = match &reason {
            Some(r) => format!("consent withdrawn: {r}"),
            None => "consent withdrawn".to_string(),
        };
        let cards_revoked = db::cards::revoke_cards_of(c, resident_id, &revoke_reason, now)?;
        let event = audit::Event::new(audit::Action::WithdrawConsent, audit::Outcome::Ok)
            .by(&actor.account_id, actor.role)
            .about(resident_id)
            .detail(format!(
                "version {}, {cards_revoked} cards revoked",
                row.version
            ));
        audit::append(c, &actor.municipality_id, &event, now);
        resident.status = ResidentStatus::Withdrawn;
        resident.withdrawn_at = Some(now);
        resident.purge_after = Some(now + retention_secs);
        resident.updated_at = now;
        db::residents::update_resident(c, &resident)?;
        Ok(Withdrawn {
            consent_version: row.version,
            cards_revoked,
            purge_after: now + retention_secs,
        })
    })
}
