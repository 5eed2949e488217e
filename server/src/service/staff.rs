//! Staff IDs under the city's control (RULES R2, R4): list, suspend and reinstate an ID, stop a
//! lost or leaked ID and issue a new one, suspend a whole facility; users change their own
//! password. Suspension ends the sessions (and, for a facility, the device credentials) in the
//! same transaction, so it takes effect on the very next request.

use super::accounts::{self, Actor, NewStaff, TotpProvisioning};
use super::facilities::require_city_admin;
use super::{check_id, text};
use crate::audit::{self, Action, Outcome};
use crate::db::accounts::AccountRow;
use crate::db::{self, Db};
use crate::domain::{FacilityStatus, Role};
use crate::service::error::DomainError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffAccount {
    pub account_id: String,
    pub login_id: String,
    pub display_name: String,
    pub role: String,
    pub profession: Option<String>,
    pub facility_id: Option<String>,
    /// `active` | `suspended`.
    pub status: String,
    pub suspended_reason: Option<String>,
    /// For a stopped ID: the account issued in its place.
    pub replaced_by: Option<String>,
    /// Locked after failed logins until this time.
    pub locked_until: Option<i64>,
    pub created_at: i64,
    /// The caller's own account: nothing here may be done to it (no suspension, reinstatement or
    /// reissue of oneself), so the console offers no action on it.
    pub is_self: bool,
}

impl From<AccountRow> for StaffAccount {
    fn from(a: AccountRow) -> Self {
        StaffAccount {
            account_id: a.id,
            login_id: a.login_id,
            display_name: a.display_name,
            role: a.role.to_string(),
            profession: a.profession,
            facility_id: a.facility_id,
            status: a.status.to_string(),
            suspended_reason: a.suspended_reason,
            replaced_by: a.replaced_by,
            locked_until: a.locked_until,
            created_at: a.created_at,
            is_self: false,
        }
    }
}

/// City admins see every staff account; facility managers those of their facility.
pub fn list(db: &Db, actor: &Actor) -> Result<Vec<StaffAccount>, DomainError> {
    let facility = match actor.role {
        Role::CityAdmin => None,
        Role::FacilityManager => Some(
            actor
                .facility_id
                .clone()
                .ok_or_else(|| DomainError::forbidden("no facility"))?,
        ),
        _ => {
            return Err(DomainError::forbidden(
                "city administrators and facility managers only",
            ));
        }
    };
    db.read(|c| {
        Ok(
            db::accounts::staff_accounts(c, &actor.municipality_id, facility.as_deref())?
                .into_iter()
                .map(|a| {
                    let is_self = a.id == actor.account_id;
                    StaffAccount {
                        is_self,
                        ..StaffAccount::from(a)
                    }
                })
                .collect(),
        )
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonInput {
    /// Why (leak, misuse, left the facility, …); up to 200 characters.
    pub reason: String,
}

/// A staff account the actor may manage: a city admin any staff account, a facility manager the
/// paramedics and ED staff of their facility. Others (and residents' accounts) answer 404.
fn managed(
    c: &mut crate::db::DbConnection,
    actor: &Actor,
    account_id: &str,
) -> Result<AccountRow, DomainError> {
    let missing = || DomainError::not_found("no such staff account");
    let a = db::accounts::account(c, &actor.municipality_id, account_id)?.ok_or_else(missing)?;
    let staff = accounts::STAFF_ROLES.contains(&a.role);
    let allowed = staff
        && (actor.role == Role::CityAdmin
            || (actor.role == Role::FacilityManager
                && a.facility_id.is_some()
                && a.facility_id == actor.facility_id
                && [Role::Paramedic, Role::EdStaff].contains(&a.role)));
    if allowed && a.id != actor.account_id {
        Ok(a)
    } else {
        Err(missing())
    }
}

pub fn suspend(
    db: &Db,
    actor: &Actor,
    account_id: &str,
    input: &ReasonInput,
    now: i64,
) -> Result<StaffAccount, DomainError> {
    check_id(account_id)?;
    let reason = text("reason", &input.reason, 1, 200)?;
    db.write(|c| {
        let a = managed(c, actor, account_id)?;
        db::accounts::suspend_account(c, &a.id, &reason, None)?;
        db::accounts::delete_sessions_of(c, &a.id)?;
        db::webauthn::delete_of_account(c, &a.id)?;
        let event = actor
            .event(Action::SuspendAccount, Outcome::Ok)
            .detail(format!("{} {}", a.id, reason));
        audit::append(c, &actor.municipality_id, &event, now);
        let a = db::accounts::account(c, &actor.municipality_id, account_id)?
            .ok_or_else(|| DomainError::internal("suspended account vanished"))?;
        Ok(a.into())
    })
}

pub fn reinstate(
    db: &Db,
    actor: &Actor,
    account_id: &str,
    now: i64,
) -> Result<StaffAccount, DomainError> {
    require_city_admin(actor)?;
    check_id(account_id)?;
    db.write(|c| {
        let a = managed(c, actor, account_id)?;
        if a.replaced_by.is_some() {
            return Err(DomainError::conflict(
                "replaced",
                "this ID was stopped and replaced; it cannot come back",
            ));
        }
        db::accounts::reinstate_account(c, &a.id)?;
        let event = actor
            .event(Action::ReinstateAccount, Outcome::Ok)
            .detail(a.id.clone());
        audit::append(c, &actor.municipality_id, &event, now);
        let a = db::accounts::account(c, &actor.municipality_id, account_id)?
            .ok_or_else(|| DomainError::internal("account vanished"))?;
        Ok(a.into())
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReissueInput {
    pub reason: String,
    /// The new ID's login id (the old one stays reserved by the stopped account).
    pub new_login_id: String,
    /// The new ID's initial password (10–128 characters), handed over by the facility.
    pub new_password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Reissued {
    pub stopped_account_id: String,
    pub account: StaffAccount,
    /// The new ID's second factor, shown once.
    pub totp: TotpProvisioning,
}

/// RULES R2: a lost or leaked credential — stop the ID at once and issue a new one (same person,
/// role, facility and profession).
pub fn reissue(
    db: &Db,
    actor: &Actor,
    account_id: &str,
    input: &ReissueInput,
    now: i64,
) -> Result<Reissued, DomainError> {
    require_city_admin(actor)?;
    check_id(account_id)?;
    let reason = text("reason", &input.reason, 1, 200)?;
    let old = db.read(|c| managed(c, actor, account_id))?;
    let created = accounts::prepare_staff(
        &actor.municipality_id,
        &NewStaff {
            login_id: input.new_login_id.clone(),
            password: input.new_password.clone(),
            role: old.role.to_string(),
            display_name: old.display_name.clone(),
            facility_id: old.facility_id.clone(),
            profession: old.profession.clone(),
        },
        now,
    )?;
    // One transaction: the new ID exists exactly when the old one is stopped.
    db.write(|c| {
        let old = managed(c, actor, account_id)?;
        accounts::insert_staff(c, &created, Some(actor), now)?;
        db::accounts::suspend_account(c, &old.id, &reason, Some(&created.account.id))?;
        db::accounts::delete_sessions_of(c, &old.id)?;
        db::webauthn::delete_of_account(c, &old.id)?;
        let event = actor
            .event(Action::ReissueAccount, Outcome::Ok)
            .detail(format!("{} -> {}", old.id, created.account.id));
        audit::append(c, &actor.municipality_id, &event, now);
        Ok::<_, DomainError>(())
    })?;
    Ok(Reissued {
        stopped_account_id: old.id,
        account: created.account.into(),
        totp: created.totp,
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FacilitySuspended {
    pub facility_id: String,
    /// `active` | `suspended`.
    pub status: String,
    pub sessions_ended: usize,
    pub devices_revoked: usize,
}

/// RULES R4: suspend a facility — every session of its staff ends and every device it enrolled
/// is revoked, in one transaction. Its staff cannot log in while it is suspended.
pub fn suspend_facility(
    db: &Db,
    actor: &Actor,
    facility_id: &str,
    input: &ReasonInput,
    now: i64,
) -> Result<FacilitySuspended, DomainError> {
    require_city_admin(actor)?;
    check_id(facility_id)?;
    let reason = text("reason", &input.reason, 1, 200)?;
    db.write(|c| {
        let own = db::facilities::facility(c, &actor.municipality_id, facility_id)?;
        if own.is_none() {
            // Another municipality's facility serving this one (issue 22): this city suspends
            // the membership only; the facility, its staff and devices stay its home's.
            let n = db::memberships::suspend(
                c,
                &actor.municipality_id,
                facility_id,
                &actor.account_id,
                now,
            )?;
            if n == 0 {
                return Err(DomainError::not_found("no such facility"));
            }
            let mut event = actor
                .event(Action::SuspendFacility, Outcome::Ok)
                .detail(format!("membership: {reason}"));
            event.facility_id = Some(facility_id.to_string());
            audit::append(c, &actor.municipality_id, &event, now);
            return Ok(FacilitySuspended {
                facility_id: facility_id.to_string(),
                status: FacilityStatus::Suspended.to_string(),
                sessions_ended: 0,
                devices_revoked: 0,
            });
        }
        db::facilities::set_facility_status(c, facility_id, FacilityStatus::Suspended)?;
        let mut sessions_ended = 0;
        for account in db::accounts::accounts_of_facility(c, facility_id)? {
            sessions_ended += db::accounts::delete_sessions_of(c, &account)?;
        }
        db::webauthn::delete_of_facility(c, facility_id)?;
        let devices_revoked = db::facilities::revoke_devices_of_facility(
            c,
            facility_id,
            &actor.account_id,
            &format!("facility suspended: {reason}"),
            now,
        )?;
        let mut event = actor
            .event(Action::SuspendFacility, Outcome::Ok)
            .detail(reason.clone());
        event.facility_id = Some(facility_id.to_string());
        audit::append(c, &actor.municipality_id, &event, now);
        Ok(FacilitySuspended {
            facility_id: facility_id.to_string(),
            status: FacilityStatus::Suspended.to_string(),
            sessions_ended,
            devices_revoked,
        })
    })
}

pub fn reinstate_facility(
    db: &Db,
    actor: &Actor,
    facility_id: &str,
    now: i64,
) -> Result<FacilitySuspended, DomainError> {
    require_city_admin(actor)?;
    check_id(facility_id)?;
    db.write(|c| {
        let f = db::facilities::facility(c, &actor.municipality_id, facility_id)?
            .ok_or_else(|| DomainError::not_found("no such facility"))?;
        if f.status == FacilityStatus::Withdrawn {
            return Err(DomainError::conflict(
                "withdrawn",
                "this facility has withdrawn; it must apply again",
            ));
        }
        db::facilities::set_facility_status(c, facility_id, FacilityStatus::Active)?;
        let mut event = actor.event(Action::ReinstateFacility, Outcome::Ok);
        event.facility_id = Some(facility_id.to_string());
        audit::append(c, &actor.municipality_id, &event, now);
        Ok(FacilitySuspended {
            facility_id: facility_id.to_string(),
            status: FacilityStatus::Active.to_string(),
            sessions_ended: 0,
            devices_revoked: 0,
        })
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// RULES R2: users change their own secret. Other sessions of the account end. A wrong current
/// password counts towards the account's lockout, like a failed login, and is audited (a stolen
/// session must not be a way to guess the password); while the account is locked the current
/// password is not checked at all. The API also limits attempts per account.
pub fn change_password(
    db: &Db,
    actor: &Actor,
    token: &str,
    input: &PasswordChange,
    now: i64,
) -> Result<(), DomainError> {
    accounts::validate_password(&input.new_password)?;
    let account = db
        .read(|c| {
            db::accounts::account(c, &actor.municipality_id, &actor.account_id)
                .map_err(DomainError::from)
        })?
        .ok_or_else(|| DomainError::unauthorized("session expired or unknown; log in again"))?;
    let refused = |why: &'static str, counts: bool| -> Result<(), DomainError> {
        db.write(|c| {
            if counts {
                accounts::count_failure(c, &account, now)?;
            }
            let event = actor
                .event(Action::ChangePassword, Outcome::Denied)
                .detail(why);
            audit::append(c, &actor.municipality_id, &event, now);
            Ok(())
        })
    };
    if accounts::is_locked(&account, now) {
        refused("account_locked", false)?;
        return Err(DomainError::forbidden_code(
            "account_locked",
            "too many wrong passwords: this account is locked for 15 minutes",
        ));
    }
    if !accounts::verify_password(&input.current_password, &account.password_hash) {
        refused("wrong_password", true)?;
        return Err(DomainError::forbidden_code(
            "wrong_password",
            "the current password is not correct",
        ));
    }
    let hash = accounts::hash_password(&input.new_password)?;
    db.write(|c| {
        db::accounts::set_password(c, &account.id, &hash)?;
        // The right current password ends the run of failures, as a login does.
        db::accounts::record_login_success(c, &account.id, None, None)?;
        db::accounts::delete_sessions_except(c, &account.id, &accounts::token_hash(token))?;
        audit::append(
            c,
            &actor.municipality_id,
            &actor.event(Action::ChangePassword, Outcome::Ok),
            now,
        );
        Ok(())
    })
}

/// Whether an account may log in given its facility (a suspended facility's staff may not).
pub(crate) fn facility_allows_login(
    c: &mut crate::db::DbConnection,
    account: &AccountRow,
) -> Result<bool, DomainError> {
    match &account.facility_id {
        None => Ok(true),
        Some(f) => Ok(db::facilities::facility(c, &account.municipality_id, f)?
            .is_some_and(|f| f.status == FacilityStatus::Active)),
    }
}
