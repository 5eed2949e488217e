//! A facility joining another municipality (issue 22): its manager asks (`type: join` with the
//! municipality's code, `POST /api/v1/facilities/{fid}/change-requests`); the request is a row of
//! that municipality's application queue (an `application` naming the existing facility), decided
//! by its city admin like any other; approval makes a `facility_municipalities` row
//! (`service::memberships`). The facility stays its home municipality's.

use super::{ChangeRequestInput, Submitted, new_token};
use crate::audit::{self, Action, Outcome};
use crate::db::governance::FacilityApplicationRow;
use crate::db::memberships::MembershipRow;
use crate::db::{self, Db, Tx};
use crate::domain::{self, FacilityStatus, MembershipStatus, RequestType};
use crate::service::accounts::Actor;
use crate::service::error::DomainError;
use crate::service::{keys, new_id, opt_text};

/// The manager's request to serve municipality `input.municipality` too.
pub(super) fn request_join(
    db: &Db,
    actor: &Actor,
    facility_id: &str,
    input: &ChangeRequestInput,
    now: i64,
) -> Result<Submitted, DomainError> {
    if input.changes.is_some() {
        return Err(DomainError::unprocessable(
            "invalid_field",
            "changes: not for a join",
        ));
    }
    let code = input.municipality.as_deref().ok_or_else(|| {
        DomainError::unprocessable(
            "invalid_field",
            "municipality: the code of the municipality to serve",
        )
    })?;
    let target = keys::municipality_by_code(db, &actor.municipality_id, Some(code))?;
    if target == actor.municipality_id {
        return Err(DomainError::unprocessable(
            "invalid_field",
            "municipality: this facility's own municipality",
        ));
    }
    let note = opt_text("note", &input.note, 500)?;
    let (token, token_hash) = new_token()?;
    let id = new_id()?;
    db.write(|c| {
        let facility = db::facilities::facility(c, &actor.municipality_id, facility_id)?
            .ok_or_else(|| DomainError::not_found("no such facility"))?;
        if facility.status != FacilityStatus::Active {
            return Err(DomainError::conflict(
                "facility_not_active",
                "only an active facility may serve another municipality",
            ));
        }
        if db::memberships::membership(c, &target, facility_id)?
            .is_some_and(|m| m.status == MembershipStatus::Active)
        {
            return Err(DomainError::conflict(
                "already_serving",
                "this facility already serves that municipality",
            ));
        }
        if db::governance::count_pending_requests_of_facility(c, facility_id)? > 0 {
            return Err(DomainError::conflict(
                "request_pending",
                "this facility already has a request waiting for a city's decision",
            ));
        }
        let row = FacilityApplicationRow {
            id: id.clone(),
            municipality_id: target.clone(),
            request_type: RequestType::Application,
            status: domain::ApplicationStatus::Pending,
            facility_id: Some(facility_id.to_string()),
            kind: Some(facility.kind),
            name_ja: Some(facility.name_ja.clone()),
            name_en: Some(facility.name_en.clone()),
            address: Some(facility.address.clone()),
            phone: Some(facility.phone.clone()),
            contact_email: None,
            manager_name: None,
            manager_phone: None,
            listed: Some(false),
            note: note.clone(),
            status_token_hash: token_hash.clone(),
            submitted_by: Some(actor.account_id.clone()),
            created_at: now,
            decided_at: None,
            decided_by: None,
            reason: None,
        };
        db::governance::insert_facility_application(c, &row)?;
        // On both chains: the home municipality's (its manager asked) and the one asked.
        let mut event = actor
            .event(Action::RequestFacilityChange, Outcome::Ok)
            .detail(format!("join {code} {id}"));
        event.facility_id = Some(facility_id.to_string());
        audit::append(c, &actor.municipality_id, &event, now);
        audit::append(c, &target, &event, now);
        Ok(())
    })?;
    Ok(Submitted {
        application_id: id,
        request_type: "join".into(),
        status: domain::ApplicationStatus::Pending.to_string(),
        status_token: token,
        submitted_at: now,
    })
}

/// Approves a join: the facility serves the deciding admin's municipality from now on.
pub(super) fn approve_join(
    c: &mut Tx<'_>,
    actor: &Actor,
    app: &FacilityApplicationRow,
    now: i64,
) -> Result<String, DomainError> {
    let facility_id = app
        .facility_id
        .clone()
        .ok_or_else(|| DomainError::internal("a join without its facility"))?;
    db::memberships::upsert(
        c,
        &MembershipRow {
            facility_id: facility_id.clone(),
            municipality_id: actor.municipality_id.clone(),
            status: MembershipStatus::Active,
            application_id: Some(app.id.clone()),
            approved_by: Some(actor.account_id.clone()),
            approved_at: Some(now),
            suspended_by: None,
            suspended_at: None,
        },
    )?;
    Ok(facility_id)
}
