//! Facilities of a municipality: fire departments, hospitals, clinics, pharmacies, care providers
//! and community support centres. They join by application and the city's approval (RULES R1,
//! `service::governance`, which creates them through `new_row` and `insert` here), or a city
//! administrator creates them directly; city administrators add their staff; facility managers add
//! staff to their own facility.

use super::accounts::{self, Actor, NewStaff};
use super::{check_id, new_id, phone, text};
use crate::audit;
use crate::db::facilities::FacilityRow;
use crate::db::{self, Db, Tx};
use crate::domain::{FacilityKind, FacilityStatus, Role};
use crate::service::error::DomainError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FacilityInput {
    /// `fire_department` | `hospital` | `clinic` | `pharmacy` | `care_provider` |
    /// `support_center`.
    pub kind: String,
    pub name_ja: String,
    pub name_en: String,
    pub address: String,
    pub phone: String,
    /// Whether it appears in the public directory (RULES R15).
    #[serde(default)]
    pub listed: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Facility {
    pub id: String,
    pub kind: String,
    pub name_ja: String,
    pub name_en: String,
    pub address: String,
    pub phone: String,
    /// `active` | `suspended` | `withdrawn` (an approved withdrawal; final).
    pub status: String,
    pub listed: bool,
    pub created_at: i64,
}

impl From<FacilityRow> for Facility {
    fn from(r: FacilityRow) -> Self {
        Facility {
            id: r.id,
            kind: r.kind.to_string(),
            name_ja: r.name_ja,
            name_en: r.name_en,
            address: r.address,
            phone: r.phone,
            status: r.status.to_string(),
            listed: r.listed,
            created_at: r.created_at,
        }
    }
}

/// Only a city administrator may do this.
pub(crate) fn require_city_admin(actor: &Actor) -> Result<(), DomainError> {
    if actor.role == Role::CityAdmin {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "only a city administrator may do this",
        ))
    }
}

/// A city administrator, or a facility manager of `facility_id`.
pub(crate) fn require_manager_of(actor: &Actor, facility_id: &str) -> Result<(), DomainError> {
    let ok = actor.role == Role::CityAdmin
        || (actor.role == Role::FacilityManager
            && actor.facility_id.as_deref() == Some(facility_id));
    if ok {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "only the facility's manager or a city administrator may do this",
        ))
    }
}

/// Checks a facility kind (RULES R1: the kinds of facility are `FacilityKind`).
pub(crate) fn check_kind(kind: &str) -> Result<FacilityKind, DomainError> {
    kind.parse().map_err(|_| {
        DomainError::unprocessable(
            "invalid_field",
            format!("kind: one of {}", FacilityKind::TEXTS.join(", ")),
        )
    })
}

/// A new, active facility of `muni` from validated input.
pub(crate) fn new_row(
    muni: &str,
    input: &FacilityInput,
    now: i64,
) -> Result<FacilityRow, DomainError> {
    Ok(FacilityRow {
        id: new_id()?,
        municipality_id: muni.to_string(),
        kind: check_kind(&input.kind)?,
        name_ja: text("name_ja", &input.name_ja, 1, 100)?,
        name_en: text("name_en", &input.name_en, 1, 100)?,
        address: text("address", &input.address, 1, 200)?,
        phone: phone("phone", &input.phone)?,
        status: FacilityStatus::Active,
        listed: input.listed,
        created_at: now,
    })
}

/// Inserts a facility and audits its creation by `actor`, in the caller's transaction.
pub(crate) fn insert(
    c: &mut Tx<'_>,
    actor: &Actor,
    row: &FacilityRow,
    now: i64,
) -> Result<Facility, DomainError> {
    db::facilities::insert_facility(c, row)?;
    let event = actor
        .event(audit::Action::CreateFacility, audit::Outcome::Ok)
        .detail(format!("{} {}", row.kind, row.id));
    audit::append(c, &actor.municipality_id, &event, now);
    Ok(row.clone().into())
}

pub fn create(
    db: &Db,
    actor: &Actor,
    input: &FacilityInput,
    now: i64,
) -> Result<Facility, DomainError> {
    require_city_admin(actor)?;
    let row = new_row(&actor.municipality_id, input, now)?;
    db.write(|c| insert(c, actor, &row, now))
}

/// The municipality's facilities (staff only; the public directory is `governance::directory`).
pub fn list(db: &Db, actor: &Actor) -> Result<Vec<Facility>, DomainError> {
    if matches!(actor.role, Role::Resident | Role::Proxy) {
        return Err(DomainError::forbidden("staff only"));
    }
    db.read(|c| {
        Ok(db::facilities::facilities(c, &actor.municipality_id)?
            .into_iter()
            .map(Facility::from)
            .collect())
    })
}

/// A staff account created by a city administrator (any staff role) or by a facility manager
/// (paramedics and ED staff of their own facility).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Staff {
    pub account_id: String,
    pub login_id: String,
    pub role: String,
    pub facility_id: Option<String>,
    /// The second factor, shown once: hand it over with the password (RULES R2, R7).
    pub totp: accounts::TotpProvisioning,
}

pub fn add_staff(
    db: &Db,
    actor: &Actor,
    facility_id: &str,
    input: &NewStaff,
    now: i64,
) -> Result<Staff, DomainError> {
    check_id(facility_id)?;
    require_manager_of(actor, facility_id)?;
    if actor.role == Role::FacilityManager
        && !matches!(input.role.parse(), Ok(Role::Paramedic | Role::EdStaff))
    {
        return Err(DomainError::forbidden(
            "a facility manager adds paramedics and ED staff only",
        ));
    }
    if input
        .facility_id
        .as_deref()
        .is_some_and(|f| f != facility_id)
    {
        return Err(DomainError::unprocessable(
            "invalid_facility",
            "facility_id in the body differs from the path",
        ));
    }
    let staff = NewStaff {
        facility_id: Some(facility_id.to_string()),
        ..input.clone()
    };
    tracing::info!(staff = %staff.redacted(), "creating staff account");
    let created = accounts::create_staff(db, &actor.municipality_id, &staff, Some(actor), now)?;
    let row = created.account;
    Ok(Staff {
        account_id: row.id,
        login_id: row.login_id,
        role: row.role.to_string(),
        facility_id: row.facility_id,
        totp: created.totp,
    })
}

/// A hospital as a crew sees it when choosing where to ask (`GET /api/v1/hospitals`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CrewHospital {
    pub id: String,
    pub name_ja: String,
    pub name_en: String,
    pub address: String,
    /// The ED's number, for a call when an inquiry is not answered.
    pub phone: String,
    /// Always `active`: suspended and withdrawn hospitals cannot be asked (`422 unknown_hospital`).
    pub status: String,
    /// What its ED published it can take now (応需情報), by category; empty if nothing was
    /// published. `stale` after 12 hours.
    pub capacity: Vec<super::incidents::CapacityView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CrewHospitalList {
    pub hospitals: Vec<CrewHospital>,
}

/// The active hospitals of the paramedic's municipality, listed or not: the ids a crew needs
/// for an acceptance inquiry or a destination. The signed request's nonce is spent (a replay is
/// refused like any field request); nothing medical is read, so nothing is audited.
pub fn crew_hospitals(
    db: &Db,
    actor: &Actor,
    by: &super::devices::SignedBy,
    now: i64,
) -> Result<CrewHospitalList, DomainError> {
    if actor.role != Role::Paramedic {
        return Err(DomainError::forbidden(
            "only paramedics may list hospitals here",
        ));
    }
    db.write(|c| {
        super::devices::consume_nonce(c, by)?;
        let mut capacity = super::incidents::capacity_by_hospital(c, &actor.municipality_id, now)?;
        let mut list: Vec<_> = db::facilities::facilities(c, &actor.municipality_id)?
            .into_iter()
            .filter(|f| f.kind == FacilityKind::Hospital && f.status == FacilityStatus::Active)
            .collect();
        // Hospitals of other municipalities serving this one (active memberships only), with
        // their capacity as their home municipality keeps it.
        for m in db::memberships::memberships_of(c, &actor.municipality_id)? {
            if let Some(f) =
                super::incidents::askable_hospital(c, &actor.municipality_id, &m.facility_id)?
            {
                let home = super::incidents::capacity_by_hospital(c, &f.municipality_id, now)?;
                capacity.extend(home.into_iter().filter(|(id, _)| *id == f.id));
                list.push(f);
            }
        }
        let hospitals = list
            .into_iter()
            .map(|f| CrewHospital {
                capacity: capacity.remove(&f.id).unwrap_or_default(),
                id: f.id,
                name_ja: f.name_ja,
                name_en: f.name_en,
                address: f.address,
                phone: f.phone,
                status: f.status.to_string(),
            })
            .collect();
        Ok(CrewHospitalList { hospitals })
    })
}
