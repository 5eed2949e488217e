//! Facilities of a municipality: fire departments and hospitals. City administrators create them
//! (the application-and-approval workflow of RULES R1 comes with the governance issue) and add
//! their staff; facility managers add staff to their own facility.

use super::accounts::{self, Actor, NewStaff};
use super::{check_id, new_id, phone, text};
use crate::audit;
use crate::db::models::FacilityRow;
use crate::db::{Db, queries};
use crate::error::ApiError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FacilityInput {
    /// `fire_department` | `hospital`.
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
    /// `active` | `suspended`.
    pub status: String,
    pub listed: bool,
    pub created_at: i64,
}

impl From<FacilityRow> for Facility {
    fn from(r: FacilityRow) -> Self {
        Facility {
            id: r.id,
            kind: r.kind,
            name_ja: r.name_ja,
            name_en: r.name_en,
            address: r.address,
            phone: r.phone,
            status: r.status,
            listed: r.listed,
            created_at: r.created_at,
        }
    }
}

/// Only a city administrator may do this.
pub(crate) fn require_city_admin(actor: &Actor) -> Result<(), ApiError> {
    if actor.role == "city_admin" {
        Ok(())
    } else {
        Err(ApiError::forbidden("only a city administrator may do this"))
    }
}

/// A city administrator, or a facility manager of `facility_id`.
pub(crate) fn require_manager_of(actor: &Actor, facility_id: &str) -> Result<(), ApiError> {
    let ok = actor.role == "city_admin"
        || (actor.role == "facility_manager" && actor.facility_id.as_deref() == Some(facility_id));
    if ok {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the facility's manager or a city administrator may do this",
        ))
    }
}

pub fn create(
    db: &Db,
    actor: &Actor,
    input: &FacilityInput,
    now: i64,
) -> Result<Facility, ApiError> {
    require_city_admin(actor)?;
    if !["fire_department", "hospital"].contains(&input.kind.as_str()) {
        return Err(ApiError::unprocessable(
            "invalid_field",
            "kind: one of fire_department, hospital",
        ));
    }
    let row = FacilityRow {
        id: new_id()?,
        municipality_id: actor.municipality_id.clone(),
        kind: input.kind.clone(),
        name_ja: text("name_ja", &input.name_ja, 1, 100)?,
        name_en: text("name_en", &input.name_en, 1, 100)?,
        address: text("address", &input.address, 1, 200)?,
        phone: phone("phone", &input.phone)?,
        status: "active".into(),
        listed: input.listed,
        created_at: now,
    };
    db.write(|c| {
        queries::insert_facility(c, &row)?;
        let event = actor
            .event(audit::Action::CreateFacility, audit::Outcome::Ok)
            .detail(format!("{} {}", row.kind, row.id));
        audit::append(c, &actor.municipality_id, &event, now)?;
        Ok(row.clone().into())
    })
}

/// The municipality's facilities (staff only; the public directory comes with governance).
pub fn list(db: &Db, actor: &Actor) -> Result<Vec<Facility>, ApiError> {
    if ["resident", "proxy"].contains(&actor.role.as_str()) {
        return Err(ApiError::forbidden("staff only"));
    }
    db.read(|c| {
        Ok(queries::facilities(c, &actor.municipality_id)?
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
}

pub fn add_staff(
    db: &Db,
    actor: &Actor,
    facility_id: &str,
    input: &NewStaff,
    now: i64,
) -> Result<Staff, ApiError> {
    check_id(facility_id)?;
    require_manager_of(actor, facility_id)?;
    if actor.role == "facility_manager" && !["paramedic", "ed_staff"].contains(&input.role.as_str())
    {
        return Err(ApiError::forbidden(
            "a facility manager adds paramedics and ED staff only",
        ));
    }
    if input
        .facility_id
        .as_deref()
        .is_some_and(|f| f != facility_id)
    {
        return Err(ApiError::unprocessable(
            "invalid_facility",
            "facility_id in the body differs from the path",
        ));
    }
    let staff = NewStaff {
        facility_id: Some(facility_id.to_string()),
        ..input.clone()
    };
    tracing::info!(staff = %staff.redacted(), "creating staff account");
    let row = accounts::create_staff(db, &actor.municipality_id, &staff, Some(actor), now)?;
    Ok(Staff {
        account_id: row.id,
        login_id: row.login_id,
        role: row.role,
        facility_id: row.facility_id,
    })
}
