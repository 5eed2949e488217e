//! Residents and proxies: self-registration, registration by a proxy (family, care manager) with the
//! relation and the proxy's own consent statement recorded, the profile, and who may act for whom.

use super::accounts::{self, Actor, SessionPolicy};
use super::registrations;
use super::{new_id, opt_text, past_date, phone, text};
use crate::audit;
use crate::db::accounts::AccountRow;
use crate::db::residents::{ProxyRow, ResidentRow};
use crate::db::{self, Db, DbConnection};
use crate::domain::{AccountStatus, ProxyRelation, ResidentStatus, Role};
use crate::service::error::DomainError;
use serde::{Deserialize, Serialize};

/// The statement a proxy accepts when registering someone (kept verbatim with the record).
pub const PROXY_STATEMENT_JA: &str = "私は本人の家族・親族または支援者として、本人の同意を得て（本人が同意できない場合は家族として）、本人の救急医療情報を登録します。";

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    pub family_name: String,
    pub given_name: String,
    pub family_name_kana: Option<String>,
    pub given_name_kana: Option<String>,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// `female` | `male` | `other` | `unknown`.
    pub sex: String,
    pub address: String,
    pub district: Option<String>,
    pub phone: Option<String>,
    /// `ja` | `en`.
    pub preferred_language: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterResident {
    pub login_id: String,
    pub password: String,
    pub profile: ProfileInput,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterProxy {
    pub login_id: String,
    pub password: String,
    pub display_name: String,
    /// `family` | `relative` | `care_manager` | `guardian` | `other`.
    pub relation: String,
    pub relation_detail: Option<String>,
    /// Must be true: the proxy accepts [`PROXY_STATEMENT_JA`].
    pub accept_proxy_statement: bool,
    pub resident: ProfileInput,
}

/// What the resident and their proxies see of the profile.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Profile {
    pub id: String,
    pub family_name: String,
    pub given_name: String,
    pub family_name_kana: Option<String>,
    pub given_name_kana: Option<String>,
    pub date_of_birth: String,
    pub sex: String,
    pub address: String,
    pub district: Option<String>,
    pub phone: Option<String>,
    pub preferred_language: String,
    /// `active` or `withdrawn` (支援中止).
    pub status: String,
    pub withdrawn_at: Option<i64>,
    pub purge_after: Option<i64>,
}

impl From<ResidentRow> for Profile {
    fn from(r: ResidentRow) -> Self {
        Profile {
            id: r.id,
            family_name: r.family_name,
            given_name: r.given_name,
            family_name_kana: r.family_name_kana,
            given_name_kana: r.given_name_kana,
            date_of_birth: r.date_of_birth,
            sex: r.sex,
            address: r.address,
            district: r.district,
            phone: r.phone,
            preferred_language: r.preferred_language,
            status: r.status.to_string(),
            withdrawn_at: r.withdrawn_at,
            purge_after: r.purge_after,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Registered {
    pub resident_id: String,
    pub account_id: String,
    pub token: String,
}

fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<String, DomainError> {
    if allowed.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(DomainError::unprocessable(
            "invalid_field",
            format!("{field}: one of {}", allowed.join(", ")),
        ))
    }
}

/// Validates a profile into a row (ids and times filled by the caller): the first error.
fn profile_row(p: &ProfileInput, now: i64) -> Result<ResidentRow, DomainError> {
    profile_fields(p, now).map_err(|mut errors| errors.swap_remove(0).1)
}

fn take<T>(
    errors: &mut Vec<(&'static str, DomainError)>,
    field: &'static str,
    result: Result<T, DomainError>,
) -> Option<T> {
    result.map_err(|e| errors.push((field, e))).ok()
}

/// Validates a profile into a row (ids and times filled by the caller), naming every field that
/// fails (in form order) with its error: the one set of rules for the API and the bulk import
/// (`service::import`).
pub(crate) fn profile_fields(
    p: &ProfileInput,
    now: i64,
) -> Result<ResidentRow, Vec<(&'static str, DomainError)>> {
    let e = &mut Vec::new();
    let family_name = take(e, "family_name", text("family_name", &p.family_name, 1, 50));
    let given_name = take(e, "given_name", text("given_name", &p.given_name, 1, 50));
    let family_name_kana = take(
        e,
        "family_name_kana",
        opt_text("family_name_kana", &p.family_name_kana, 50),
    );
    let given_name_kana = take(
        e,
        "given_name_kana",
        opt_text("given_name_kana", &p.given_name_kana, 50),
    );
    let date_of_birth = take(
        e,
        "date_of_birth",
        past_date("date_of_birth", &p.date_of_birth, now),
    );
    let sex = take(
        e,
        "sex",
        one_of("sex", &p.sex, &["female", "male", "other", "unknown"]),
    );
    let address = take(e, "address", text("address", &p.address, 1, 200));
    let district = take(e, "district", opt_text("district", &p.district, 50));
    let phone = take(
        e,
        "phone",
        p.phone
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| phone("phone", s))
            .transpose(),
    );
    let preferred_language = take(
        e,
        "preferred_language",
        one_of("preferred_language", &p.preferred_language, &["ja", "en"]),
    );
    if !e.is_empty() {
        return Err(std::mem::take(e));
    }
    Ok(ResidentRow {
        id: String::new(),
        municipality_id: String::new(),
        account_id: None,
        family_name: family_name.unwrap_or_default(),
        given_name: given_name.unwrap_or_default(),
        family_name_kana: family_name_kana.flatten(),
        given_name_kana: given_name_kana.flatten(),
        date_of_birth: date_of_birth.unwrap_or_default(),
        sex: sex.unwrap_or_default(),
        address: address.unwrap_or_default(),
        district: district.flatten(),
        phone: phone.flatten(),
        preferred_language: preferred_language.unwrap_or_default(),
        status: ResidentStatus::Active,
        withdrawn_at: None,
        purge_after: None,
        created_at: now,
        updated_at: now,
    })
}

pub(crate) fn new_account(
    muni: &str,
    login_id: &str,
    password: &str,
    role: Role,
    display_name: String,
    now: i64,
) -> Result<AccountRow, DomainError> {
    let login_id = accounts::validate_login_id(login_id)?;
    accounts::validate_password(password)?;
    Ok(AccountRow {
        id: new_id()?,
        municipality_id: muni.to_string(),
        login_id,
        password_hash: accounts::hash_password(password)?,
        role,
        display_name,
        status: AccountStatus::Active,
        created_at: now,
        facility_id: None,
        totp_secret: None,
        totp_last_step: None,
        failed_logins: 0,
        locked_until: None,
        profession: None,
        replaced_by: None,
        suspended_reason: None,
    })
}

pub(crate) fn insert_account(
    conn: &mut DbConnection,
    account: &AccountRow,
) -> Result<(), DomainError> {
    if db::accounts::account_by_login(conn, &account.municipality_id, &account.login_id)?.is_some()
    {
        return Err(DomainError::conflict(
            "login_id_taken",
            "that login id is already in use",
        ));
    }
    db::accounts::insert_account(conn, account)?;
    Ok(())
}

/// Checks a self-registration's fields, without the database and before the slow hashing: what
/// [`register_self`] would refuse before it looks the login id up. A registration that passes
/// tells whether its id is taken (`409 login_id_taken`), so the API limits these per address.
pub fn check_self(req: &RegisterResident, now: i64) -> Result<(), DomainError> {
    profile_row(&req.profile, now)?;
    check_credentials(&req.login_id, &req.password)
}

/// The same for a proxy registration ([`register_by_proxy`]).
pub fn check_proxy(req: &RegisterProxy, now: i64) -> Result<(), DomainError> {
    proxy_fields(req, now)?;
    check_credentials(&req.login_id, &req.password)
}

fn check_credentials(login_id: &str, password: &str) -> Result<(), DomainError> {
    accounts::validate_login_id(login_id)?;
    accounts::validate_password(password)
}

pub fn register_self(
    db: &Db,
    muni: &str,
    req: RegisterResident,
    now: i64,
    policy: SessionPolicy,
) -> Result<Registered, DomainError> {
    let mut row = profile_row(&req.profile, now)?;
    let display = format!("{} {}", row.family_name, row.given_name);
    let account = new_account(
        muni,
        &req.login_id,
        &req.password,
        Role::Resident,
        display,
        now,
    )?;
    row.id = new_id()?;
    row.municipality_id = muni.to_string();
    row.account_id = Some(account.id.clone());
    db.write(|c| {
        insert_account(c, &account)?;
        // The same person already registered: held for the city, answered the same (issue 19).
        if let Some(existing) = registrations::matching(c, muni, &row)? {
            let held = registrations::hold(
                c,
                muni,
                (&account.id, Role::Resident),
                &existing,
                &row,
                None,
                now,
            )?;
            let token = accounts::create_session(c, &account, None, now, policy)?;
            return Ok(Registered {
                resident_id: held,
                account_id: account.id.clone(),
                token,
            });
        }
        db::residents::insert_resident(c, &row)?;
        let event = audit::Event::new(audit::Action::RegisterResident, audit::Outcome::Ok)
            .by(&account.id, Role::Resident)
            .about(&row.id);
        audit::append(c, muni, &event, now);
        super::reconfirm::touch(c, muni, &row.id, super::reconfirm::BY_REGISTRATION, now)?;
        let token = accounts::create_session(c, &account, None, now, policy)?;
        Ok(Registered {
            resident_id: row.id.clone(),
            account_id: account.id.clone(),
            token,
        })
    })
}

/// A proxy registration's own fields, checked: relation, its detail, the display name, and the
/// resident's profile as a row.
fn proxy_fields(
    req: &RegisterProxy,
    now: i64,
) -> Result<(ProxyRelation, Option<String>, String, ResidentRow), DomainError> {
    if !req.accept_proxy_statement {
        return Err(DomainError::unprocessable(
            "proxy_statement_required",
            "the proxy must accept the proxy statement",
        ));
    }
    let relation: ProxyRelation = req.relation.parse().map_err(|_| {
        DomainError::unprocessable(
            "invalid_field",
            format!("relation: one of {}", ProxyRelation::TEXTS.join(", ")),
        )
    })?;
    let relation_detail = opt_text("relation_detail", &req.relation_detail, 50)?;
    let display = text("display_name", &req.display_name, 1, 60)?;
    let row = profile_row(&req.resident, now)?;
    Ok((relation, relation_detail, display, row))
}

pub fn register_by_proxy(
    db: &Db,
    muni: &str,
    req: RegisterProxy,
    now: i64,
    policy: SessionPolicy,
) -> Result<Registered, DomainError> {
    let (relation, relation_detail, display, mut row) = proxy_fields(&req, now)?;
    let account = new_account(
        muni,
        &req.login_id,
        &req.password,
        Role::Proxy,
        display,
        now,
    )?;
    row.id = new_id()?;
    row.municipality_id = muni.to_string();
    let proxy = ProxyRow {
        id: new_id()?,
        municipality_id: muni.to_string(),
        resident_id: row.id.clone(),
        account_id: account.id.clone(),
        relation,
        relation_detail,
        consent_statement: PROXY_STATEMENT_JA.into(),
        consented_at: now,
        removed_at: None,
        removed_by: None,
    };
    db.write(|c| {
        insert_account(c, &account)?;
        // The person is already registered (e.g. by themself): no second record; held for the
        // city, which may link this proxy to it; answered the same (issue 19).
        if let Some(existing) = registrations::matching(c, muni, &row)? {
            let part = registrations::ProxyPart {
                relation: proxy.relation,
                relation_detail: proxy.relation_detail.clone(),
                consent_statement: proxy.consent_statement.clone(),
            };
            let held = registrations::hold(
                c,
                muni,
                (&account.id, Role::Proxy),
                &existing,
                &row,
                Some(part),
                now,
            )?;
            let token = accounts::create_session(c, &account, None, now, policy)?;
            return Ok(Registered {
                resident_id: held,
                account_id: account.id.clone(),
                token,
            });
        }
        db::residents::insert_resident(c, &row)?;
        db::residents::insert_proxy(c, &proxy)?;
        let event = audit::Event::new(audit::Action::RegisterProxy, audit::Outcome::Ok)
            .by(&account.id, Role::Proxy)
            .about(&row.id)
            .detail(proxy.relation.to_string());
        audit::append(c, muni, &event, now);
        super::reconfirm::touch(c, muni, &row.id, super::reconfirm::BY_REGISTRATION, now)?;
        let token = accounts::create_session(c, &account, None, now, policy)?;
        Ok(Registered {
            resident_id: row.id.clone(),
            account_id: account.id.clone(),
            token,
        })
    })
}

/// How the actor stands to the resident.
#[derive(Debug, Clone)]
pub enum Standing {
    /// The resident themself.
    Own,
    /// A registered proxy (family, care manager).
    Proxy(ProxyRow),
}

/// Loads a resident the actor may act for (the resident themself or a registered proxy). Anyone
/// else gets 404, so the existence of a record is not revealed.
pub fn for_actor(
    conn: &mut DbConnection,
    actor: &Actor,
    resident_id: &str,
) -> Result<(ResidentRow, Standing), DomainError> {
    super::check_id(resident_id)?;
    let missing = || DomainError::not_found("no such resident");
    let resident =
        db::residents::resident(conn, &actor.municipality_id, resident_id)?.ok_or_else(missing)?;
    match actor.role {
        Role::Resident if resident.account_id.as_deref() == Some(actor.account_id.as_str()) => {
            Ok((resident, Standing::Own))
        }
        Role::Proxy => match db::residents::proxy_for(conn, resident_id, &actor.account_id)? {
            Some(p) => Ok((resident, Standing::Proxy(p))),
            None => Err(missing()),
        },
        _ => Err(missing()),
    }
}

/// The residents the actor may act for (filtered: `service::proxies::ListFilter`), and the
/// registrations of this login the city is checking (`service::registrations`).
pub fn mine(
    db: &Db,
    actor: &Actor,
    filter: &super::proxies::ListFilter,
    now: i64,
) -> Result<
    (
        Vec<super::proxies::Listed>,
        Vec<registrations::HeldRegistration>,
    ),
    DomainError,
> {
    db.read(|c| {
        let held = registrations::held_for(c, actor)?;
        let rows = match actor.role {
            Role::Resident => db::residents::resident_of_account(c, &actor.account_id)?
                .into_iter()
                .collect(),
            Role::Proxy => db::residents::residents_of_proxy(c, &actor.account_id)?,
            _ => Vec::new(),
        };
        let list = super::proxies::listed(c, rows, filter, now)?;
        Ok((list, held))
    })
}

pub fn profile(db: &Db, actor: &Actor, resident_id: &str) -> Result<Profile, DomainError> {
    db.read(|c| for_actor(c, actor, resident_id).map(|(r, _)| r.into()))
}

pub fn update_profile(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    input: &ProfileInput,
    now: i64,
) -> Result<Profile, DomainError> {
    let fresh = profile_row(input, now)?;
    db.write(|c| {
        let (current, _) = for_actor(c, actor, resident_id)?;
        let row = ResidentRow {
            id: current.id,
            municipality_id: current.municipality_id,
            account_id: current.account_id,
            status: current.status,
            withdrawn_at: current.withdrawn_at,
            purge_after: current.purge_after,
            created_at: current.created_at,
            updated_at: now,
            ..fresh
        };
        db::residents::update_resident(c, &row)?;
        let event = audit::Event::new(audit::Action::UpdateProfile, audit::Outcome::Ok)
            .by(&actor.account_id, actor.role)
            .about(&row.id);
        audit::append(c, &actor.municipality_id, &event, now);
        super::reconfirm::touch(
            c,
            &actor.municipality_id,
            &row.id,
            super::reconfirm::BY_EDIT,
            now,
        )?;
        Ok(row.into())
    })
}

/// One entry of a resident's access history (RULES R13): when, who (role, facility), what, why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessEntry {
    pub at: i64,
    /// Audit action, e.g. `dataset.write`, `card.issue`, `consent.withdraw`.
    pub action: String,
    pub outcome: String,
    /// `resident`, `proxy`, `paramedic`, … (absent for system actions such as the purge).
    pub role: Option<String>,
    pub facility_id: Option<String>,
    /// The facility's name (Japanese, English), when the actor belongs to one.
    pub facility_name: Option<String>,
    pub facility_name_en: Option<String>,
    /// The Kyukit deployment of a fire department of another deployment (a federated scan:
    /// docs/federation.md); absent for this deployment's own facilities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    pub purpose: Option<String>,
    /// Whether the resident themself did it.
    pub by_self: bool,
    /// The audit entry's sequence number (so an entry can be checked against the chain).
    pub audit_seq: i64,
}

/// Every audited event about the resident, newest first (at most 1,000).
pub fn access_history(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
) -> Result<Vec<AccessEntry>, DomainError> {
    db.read(|c| {
        for_actor(c, actor, resident_id)?;
        let events = db::audit::audit_events_about(c, &actor.municipality_id, resident_id, 1000)?;
        let names = facility_names(
            c,
            &actor.municipality_id,
            resident_id,
            events.iter().filter_map(|e| e.facility_id.as_deref()),
        )?;
        Ok(access_entries(events, &names, actor))
    })
}

/// Facility names (ja, en) by id, for what a resident's access history and disclosure export
/// name: the municipality's own facilities, peer deployments' fire departments (under their
/// qualified ids, the latest names), and the facilities of other municipalities among `named`
/// (one serving this municipality, or one refused).
pub(crate) fn facility_names<'a>(
    c: &mut DbConnection,
    muni: &str,
    resident_id: &str,
    named: impl IntoIterator<Item = &'a str>,
) -> Result<std::collections::HashMap<String, (String, String)>, DomainError> {
    let mut names: std::collections::HashMap<String, (String, String)> =
        db::facilities::facilities(c, muni)?
            .into_iter()
            .map(|f| (f.id, (f.name_ja, f.name_en)))
            .collect();
    for (dep, fid, ja, en) in db::peers::facility_names(c, muni, resident_id)? {
        names.insert(super::federation::qualified_facility(&dep, &fid), (ja, en));
    }
    let mut others: Vec<String> = named
        .into_iter()
        .filter(|f| !names.contains_key(*f))
        .map(str::to_string)
        .collect();
    others.sort();
    others.dedup();
    if !others.is_empty() {
        for (id, ja, en) in db::facilities::names_by_id(c, &others)? {
            names.insert(id, (ja, en));
        }
    }
    Ok(names)
}

/// The audited events about a resident as access-history entries, facilities by name.
pub(crate) fn access_entries(
    events: Vec<crate::audit::AuditRow>,
    names: &std::collections::HashMap<String, (String, String)>,
    actor: &Actor,
) -> Vec<AccessEntry> {
    events
        .into_iter()
        .map(|e| {
            let name = e.facility_id.as_ref().and_then(|f| names.get(f));
            AccessEntry {
                facility_name: name.map(|n| n.0.clone()),
                facility_name_en: name.map(|n| n.1.clone()),
                deployment: super::federation::deployment_of(e.facility_id.as_deref()),
                at: e.at,
                by_self: e.actor_account_id.as_deref() == Some(actor.account_id.as_str())
                    && actor.role == Role::Resident,
                action: e.action,
                outcome: e.outcome,
                role: e.actor_role,
                facility_id: e.facility_id,
                purpose: e.purpose,
                audit_seq: e.seq,
            }
        })
        .collect()
}
