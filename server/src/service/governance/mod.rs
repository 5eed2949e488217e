//! Governance: facilities apply and the city decides (RULES R1), each facility names a system
//! manager (R6), the public directory (R15) and the city's notices (R17).
//!
//! - **Applications.** Anyone may apply for a facility (no login); the answer carries a 128-bit
//!   status token, stored only as its SHA-256, with which the applicant reads the status and the
//!   decision. A facility's manager asks for a change or a withdrawal; those are rows of the same
//!   table (`request_type`), decided the same way. Approving an application creates the facility
//!   (through `service::facilities`), a change is applied to it, a withdrawal ends it: status
//!   `withdrawn`, out of the directory, its staff IDs suspended and their sessions ended, its devices
//!   revoked and its unused enrollment codes expired. Every decision stores a notification row
//!   that the status endpoint shows; **e-mail is not sent** (`email_sent_at` stays empty).
//! - **Directory.** Listed, active facilities: kind, names, address, phone — nothing else.
//! - **Notices.** Service changes, planned suspensions and incidents, published by the city; a
//!   termination must be announced at least 30 days ahead.
//!
//! Every write is one transaction with its audit event.

use super::accounts::Actor;
use super::facilities::{self, Facility, FacilityInput, check_kind, require_city_admin};
use super::{check_id, new_id, opt_text, phone, text};
use crate::audit::{self, Action, Outcome};
use crate::db::facilities::FacilityRow;
use crate::db::governance::{
    ApplicationNotificationRow, FacilityApplicationRow, FacilityChanges, FacilityContactRow,
};
use crate::db::{self, Db, DbConnection, Tx};
use crate::domain::{self, Decision, FacilityKind, FacilityStatus, RequestType, Role};
use crate::service::error::DomainError;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod join;
mod notices;

pub use notices::{Notice, NoticeInput, notices, publish_notice, withdraw_notice};

/// Most pending requests a municipality holds; past it, new applications are refused (429) until
/// the city works through the queue. Public applications need no login, so this bounds a flood.
pub const MAX_PENDING: i64 = 1000;
/// Pending requests the city's list shows (oldest first), and decided ones after them.
const LIST_PENDING: i64 = 1000;
const LIST_DECIDED: i64 = 200;
/// Published notices shown.
pub const NOTICES_SHOWN: i64 = 100;
/// A termination is announced at least this long before it starts (RULES R17: one month).
pub const TERMINATION_NOTICE_SECS: i64 = 30 * 86_400;
/// Times accepted for notices: 2000-01-01 .. 2100-01-01 (UTC).
const MIN_TIME: i64 = 946_684_800;
const MAX_TIME: i64 = 4_102_444_800;

// ---- input and output types ---------------------------------------------------------------------

/// The facility's system manager (RULES R6), who oversees its users' correct handling.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemManager {
    /// 1–100 characters.
    pub name: String,
    pub phone: String,
}

/// An application to join.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    /// `fire_department` | `hospital` | `clinic` | `pharmacy` | `care_provider` |
    /// `support_center`.
    pub kind: String,
    /// 1–100 characters.
    pub name_ja: String,
    /// 1–100 characters.
    pub name_en: String,
    /// 1–200 characters.
    pub address: String,
    pub phone: String,
    /// Where the decision would be e-mailed (not sent yet: read it with the status token).
    pub contact_email: String,
    pub system_manager: SystemManager,
    /// The facility agrees to be listed in the public directory (RULES R15).
    #[serde(default)]
    pub listed: bool,
}

/// The fields a change request changes; absent = unchanged.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeFields {
    /// Must stay the facility's kind (a different kind is a withdrawal and a new application).
    pub kind: Option<String>,
    pub name_ja: Option<String>,
    pub name_en: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub contact_email: Option<String>,
    pub system_manager: Option<SystemManager>,
    pub listed: Option<bool>,
}

/// A facility manager's change or withdrawal request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequestInput {
    /// `change` | `withdrawal` | `join` (serve another municipality too: issue 22).
    #[serde(rename = "type")]
    pub request_type: String,
    /// For `change`: at least one field. Not for `withdrawal` or `join`.
    #[serde(default)]
    pub changes: Option<ChangeFields>,
    /// For `join`: the 6-digit code of the municipality to serve; the request goes to its
    /// city admin.
    #[serde(default)]
    pub municipality: Option<String>,
    /// The facility's note to the city (why), up to 500 characters.
    #[serde(default)]
    pub note: Option<String>,
}

/// The answer to a submitted request. The status token is shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Submitted {
    pub application_id: String,
    /// `application` | `change` | `withdrawal`.
    #[serde(rename = "type")]
    pub request_type: String,
    /// `pending`.
    pub status: String,
    /// 128 random bits (base64url): `GET /api/v1/facility-applications/{apid}?token=…`.
    pub status_token: String,
    pub submitted_at: i64,
}

/// The city's decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// `approve` | `reject`.
    pub decision: String,
    /// Required to reject (1–500 characters); optional note when approving.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The notification of a decision, as stored for the applicant.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Notification {
    /// `approved` | `rejected`.
    pub status: String,
    pub decided_at: i64,
    pub reason: Option<String>,
    pub facility_id: Option<String>,
    /// Always `false`: e-mail delivery is not implemented; the applicant reads this here.
    pub email_sent: bool,
}

/// What the status token shows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApplicationStatus {
    pub application_id: String,
    #[serde(rename = "type")]
    pub request_type: String,
    /// `pending` | `approved` | `rejected`.
    pub status: String,
    pub kind: Option<String>,
    pub name_ja: Option<String>,
    pub name_en: Option<String>,
    pub submitted_at: i64,
    pub decided_at: Option<i64>,
    pub reason: Option<String>,
    /// The facility created (approved application) or concerned (change, withdrawal).
    pub facility_id: Option<String>,
    /// Present once decided.
    pub notification: Option<Notification>,
}

/// A request as the city sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Application {
    pub id: String,
    #[serde(rename = "type")]
    pub request_type: String,
    pub status: String,
    pub facility_id: Option<String>,
    pub kind: Option<String>,
    pub name_ja: Option<String>,
    pub name_en: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub contact_email: Option<String>,
    pub system_manager: Option<SystemManager>,
    pub listed: Option<bool>,
    pub note: Option<String>,
    /// The manager's account (change, withdrawal); none for public applications.
    pub submitted_by: Option<String>,
    pub submitted_at: i64,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
}

impl From<FacilityApplicationRow> for Application {
    fn from(r: FacilityApplicationRow) -> Self {
        let system_manager = match (r.manager_name, r.manager_phone) {
            (Some(name), Some(phone)) => Some(SystemManager { name, phone }),
            _ => None,
        };
        Application {
            id: r.id,
            request_type: r.request_type.to_string(),
            status: r.status.to_string(),
            facility_id: r.facility_id,
            kind: r.kind.map(|k| k.to_string()),
            name_ja: r.name_ja,
            name_en: r.name_en,
            address: r.address,
            phone: r.phone,
            contact_email: r.contact_email,
            system_manager,
            listed: r.listed,
            note: r.note,
            submitted_by: r.submitted_by,
            submitted_at: r.created_at,
            decided_at: r.decided_at,
            decided_by: r.decided_by,
            reason: r.reason,
        }
    }
}

/// The decided request, and the facility as it is now (none for a rejection).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Decided {
    pub application: Application,
    pub facility: Option<Facility>,
}

/// One facility in the public directory.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DirectoryEntry {
    #[schema(value_type = String)]
    pub kind: FacilityKind,
    pub name_ja: String,
    pub name_en: String,
    pub address: String,
    pub phone: String,
}

impl From<FacilityRow> for DirectoryEntry {
    fn from(r: FacilityRow) -> Self {
        DirectoryEntry {
            kind: r.kind,
            name_ja: r.name_ja,
            name_en: r.name_en,
            address: r.address,
            phone: r.phone,
        }
    }
}

/// The public directory (RULES R15).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Directory {
    pub municipality_ja: String,
    pub municipality_en: String,
    /// Listed, active facilities, by kind and Japanese name.
    pub facilities: Vec<DirectoryEntry>,
}

// ---- validation ---------------------------------------------------------------------------------

/// An e-mail address: one `@`, a local part of 1–64 and a dotted domain, 3–254 characters in all,
/// no spaces or control characters.
fn email(field: &str, value: &str) -> Result<String, DomainError> {
    let v = value.trim();
    let bad =
        || DomainError::unprocessable("invalid_email", format!("{field}: not an e-mail address"));
    if !(3..=254).contains(&v.len()) || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    super::visible(field, v, "invalid_email")?;
    let (local, domain) = v.split_once('@').ok_or_else(bad)?;
    let domain_ok = domain.contains('.')
        && !domain.contains('@')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || local.len() > 64 || !domain_ok {
        return Err(bad());
    }
    Ok(v.to_string())
}

/// Multi-line free text: `1..=max` characters after trimming and NFC, line breaks (`\n`,
/// `\r\n`) and tabs allowed, no other control characters, no bidi controls or invisible
/// characters (`service::hidden_char`).
fn body_text(field: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let v = super::nfc(&value.replace("\r\n", "\n"));
    let v = v.trim();
    let n = v.chars().count();
    if n == 0 || n > max {
        return Err(DomainError::unprocessable(
            "invalid_field",
            format!("{field}: must be 1–{max} characters"),
        ));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(DomainError::unprocessable(
            "invalid_field",
            format!("{field}: control characters are not allowed"),
        ));
    }
    super::visible(field, v, "invalid_field")?;
    Ok(v.to_string())
}

fn time_field(field: &str, value: Option<i64>) -> Result<Option<i64>, DomainError> {
    match value {
        Some(t) if !(MIN_TIME..MAX_TIME).contains(&t) => Err(DomainError::unprocessable(
            "invalid_field",
            format!("{field}: Unix seconds between 2000 and 2100"),
        )),
        v => Ok(v),
    }
}

fn manager(m: &SystemManager) -> Result<(String, String), DomainError> {
    Ok((
        text("system_manager.name", &m.name, 1, 100)?,
        phone("system_manager.phone", &m.phone)?,
    ))
}

/// A fresh status token (128 bits, base64url) and its stored hash.
fn new_token() -> Result<(String, String), DomainError> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|e| DomainError::internal(format!("no randomness: {e}")))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let hash = token_hash(&token);
    Ok((token, hash))
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Equal strings, compared without an early exit.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

// ---- applications (R1, R6) ----------------------------------------------------------------------

/// A facility applies (public). Validated in full before anything is written.
pub fn apply(
    db: &Db,
    muni: &str,
    input: &ApplicationInput,
    now: i64,
) -> Result<Submitted, DomainError> {
    let (manager_name, manager_phone) = manager(&input.system_manager)?;
    let (token, token_hash) = new_token()?;
    let row = FacilityApplicationRow {
        id: new_id()?,
        municipality_id: muni.to_string(),
        request_type: RequestType::Application,
        status: domain::ApplicationStatus::Pending,
        facility_id: None,
        kind: Some(check_kind(&input.kind)?),
        name_ja: Some(text("name_ja", &input.name_ja, 1, 100)?),
        name_en: Some(text("name_en", &input.name_en, 1, 100)?),
        address: Some(text("address", &input.address, 1, 200)?),
        phone: Some(phone("phone", &input.phone)?),
        contact_email: Some(email("contact_email", &input.contact_email)?),
        manager_name: Some(manager_name),
        manager_phone: Some(manager_phone),
        listed: Some(input.listed),
        note: None,
        status_token_hash: token_hash,
        submitted_by: None,
        created_at: now,
        decided_at: None,
        decided_by: None,
        reason: None,
    };
    db.write(|c| {
        if db::governance::count_pending_facility_applications(c, muni)? >= MAX_PENDING {
            return Err(DomainError::new(
                crate::service::error::Kind::RateLimited,
                "rate_limited",
                "too many applications are waiting for the city; try again later",
            ));
        }
        db::governance::insert_facility_application(c, &row)?;
        let event = audit::Event::new(Action::ApplyFacility, Outcome::Ok).detail(format!(
            "application {} {}",
            row.id,
            row.kind.map_or("", FacilityKind::as_str)
        ));
        audit::append(c, muni, &event, now);
        Ok(())
    })?;
    Ok(Submitted {
        application_id: row.id,
        request_type: row.request_type.to_string(),
        status: row.status.to_string(),
        status_token: token,
        submitted_at: now,
    })
}

/// The status of a request, for the holder of its token. An unknown id and a wrong token get the
/// same 404.
pub fn status(
    db: &Db,
    muni: &str,
    id: &str,
    token: &str,
) -> Result<ApplicationStatus, DomainError> {
    let not_found = || DomainError::not_found("no such application, or the token does not match");
    if check_id(id).is_err() || token.is_empty() || token.len() > 64 {
        return Err(not_found());
    }
    let presented = token_hash(token);
    db.read(|c| {
        let app = db::governance::facility_application(c, muni, id)?.ok_or_else(not_found)?;
        if !same(&presented, &app.status_token_hash) {
            return Err(not_found());
        }
        let notification = db::governance::application_notification(c, id)?.map(|n| Notification {
            status: n.status.to_string(),
            decided_at: n.created_at,
            reason: n.reason,
            facility_id: n.facility_id,
            email_sent: n.email_sent_at.is_some(),
        });
        Ok(ApplicationStatus {
            application_id: app.id,
            request_type: app.request_type.to_string(),
            status: app.status.to_string(),
            kind: app.kind.map(|k| k.to_string()),
            name_ja: app.name_ja,
            name_en: app.name_en,
            submitted_at: app.created_at,
            decided_at: app.decided_at,
            reason: app.reason,
            facility_id: app.facility_id,
            notification,
        })
    })
}

/// The city's queue: pending requests (oldest first), then the last decided ones (newest first).
pub fn list(db: &Db, actor: &Actor) -> Result<Vec<Application>, DomainError> {
    require_city_admin(actor)?;
    db.read(|c| {
        let muni = &actor.municipality_id;
        let mut rows = db::governance::pending_facility_applications(c, muni, LIST_PENDING)?;
        rows.extend(db::governance::decided_facility_applications(
            c,
            muni,
            LIST_DECIDED,
        )?);
        Ok(rows.into_iter().map(Application::from).collect())
    })
}

/// A facility's manager asks to change or withdraw it.
pub fn request_change(
    db: &Db,
    actor: &Actor,
    facility_id: &str,
    input: &ChangeRequestInput,
    now: i64,
) -> Result<Submitted, DomainError> {
    check_id(facility_id)?;
    if !(actor.role == Role::FacilityManager && actor.facility_id.as_deref() == Some(facility_id)) {
        return Err(DomainError::forbidden(
            "only the facility's manager may ask to change or withdraw it",
        ));
    }
    if input.request_type == "join" {
        return join::request_join(db, actor, facility_id, input, now);
    }
    if input.municipality.is_some() {
        return Err(DomainError::unprocessable(
            "invalid_field",
            "municipality: only for a join",
        ));
    }
    let note = opt_text("note", &input.note, 500)?;
    let (token, token_hash) = new_token()?;
    let bad_type =
        || DomainError::unprocessable("invalid_field", "type: one of change, withdrawal, join");
    let request_type = match input.request_type.parse() {
        Ok(t @ (RequestType::Change | RequestType::Withdrawal)) => t,
        _ => return Err(bad_type()),
    };
    let mut row = FacilityApplicationRow {
        id: new_id()?,
        municipality_id: actor.municipality_id.clone(),
        request_type,
        status: domain::ApplicationStatus::Pending,
        facility_id: Some(facility_id.to_string()),
        kind: None,
        name_ja: None,
        name_en: None,
        address: None,
        phone: None,
        contact_email: None,
        manager_name: None,
        manager_phone: None,
        listed: None,
        note,
        status_token_hash: token_hash,
        submitted_by: Some(actor.account_id.clone()),
        created_at: now,
        decided_at: None,
        decided_by: None,
        reason: None,
    };
    match (request_type, &input.changes) {
        (RequestType::Withdrawal, None) => {}
        (RequestType::Withdrawal, Some(_)) => {
            return Err(DomainError::unprocessable(
                "invalid_field",
                "changes: not for a withdrawal",
            ));
        }
        (RequestType::Change, Some(ch)) => {
            row.kind = ch.kind.as_deref().map(check_kind).transpose()?;
            row.name_ja = ch
                .name_ja
                .as_deref()
                .map(|v| text("changes.name_ja", v, 1, 100))
                .transpose()?;
            row.name_en = ch
                .name_en
                .as_deref()
                .map(|v| text("changes.name_en", v, 1, 100))
                .transpose()?;
            row.address = ch
                .address
                .as_deref()
                .map(|v| text("changes.address", v, 1, 200))
                .transpose()?;
            row.phone = ch
                .phone
                .as_deref()
                .map(|v| phone("changes.phone", v))
                .transpose()?;
            row.contact_email = ch
                .contact_email
                .as_deref()
                .map(|v| email("changes.contact_email", v))
                .transpose()?;
            if let Some(m) = &ch.system_manager {
                let (name, phone) = manager(m)?;
                row.manager_name = Some(name);
                row.manager_phone = Some(phone);
            }
            row.listed = ch.listed;
            let nothing = row.kind.is_none()
                && row.name_ja.is_none()
                && row.name_en.is_none()
                && row.address.is_none()
                && row.phone.is_none()
                && row.contact_email.is_none()
                && row.manager_name.is_none()
                && row.listed.is_none();
            if nothing {
                return Err(DomainError::unprocessable(
                    "invalid_field",
                    "changes: name at least one field to change",
                ));
            }
        }
        (RequestType::Change, None) => {
            return Err(DomainError::unprocessable(
                "invalid_field",
                "changes: required for a change",
            ));
        }
        (RequestType::Application, _) => return Err(bad_type()),
    }
    db.write(|c| {
        let facility = db::facilities::facility(c, &actor.municipality_id, facility_id)?
            .ok_or_else(|| DomainError::not_found("no such facility"))?;
        if facility.status == FacilityStatus::Withdrawn {
            return Err(DomainError::conflict(
                "facility_withdrawn",
                "this facility has withdrawn",
            ));
        }
        if row.kind.is_some_and(|k| k != facility.kind) {
            return Err(DomainError::unprocessable(
                "invalid_field",
                "changes.kind: a facility's kind does not change; withdraw and apply again",
            ));
        }
        let touches_contacts = row.contact_email.is_some() || row.manager_name.is_some();
        let complete = row.contact_email.is_some() && row.manager_name.is_some();
        if touches_contacts && !complete && db::governance::facility_contact(c, facility_id)?.is_none() {
            return Err(DomainError::unprocessable(
                "invalid_field",
                "changes: this facility has no contacts on file yet: give both contact_email and system_manager",
            ));
        }
        if db::governance::count_pending_requests_of_facility(c, facility_id)? > 0 {
            return Err(DomainError::conflict(
                "request_pending",
                "this facility already has a request waiting for the city's decision",
            ));
        }
        db::governance::insert_facility_application(c, &row)?;
        let mut event = actor
            .event(Action::RequestFacilityChange, Outcome::Ok)
            .detail(format!("{} {}", row.request_type, row.id));
        event.facility_id = Some(facility_id.to_string());
        audit::append(c, &actor.municipality_id, &event, now);
        Ok(())
    })?;
    Ok(Submitted {
        application_id: row.id,
        request_type: row.request_type.to_string(),
        status: row.status.to_string(),
        status_token: token,
        submitted_at: now,
    })
}

/// The city approves or rejects a request (once).
pub fn decide(
    db: &Db,
    actor: &Actor,
    id: &str,
    input: &DecisionInput,
    now: i64,
) -> Result<Decided, DomainError> {
    require_city_admin(actor)?;
    check_id(id)?;
    let approve = match input.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            return Err(DomainError::unprocessable(
                "invalid_field",
                "decision: one of approve, reject",
            ));
        }
    };
    let reason = opt_text("reason", &input.reason, 500)?;
    if !approve && reason.is_none() {
        return Err(DomainError::unprocessable(
            "invalid_field",
            "reason: required to reject",
        ));
    }
    let muni = actor.municipality_id.clone();
    db.write(|c| {
        let app = db::governance::facility_application(c, &muni, id)?
            .ok_or_else(|| DomainError::not_found("no such application"))?;
        // The application's row lock first (then the audit head, in `approve_*` and below), so two
        // concurrent decisions queue here instead of deadlocking on PostgreSQL.
        if app.status != domain::ApplicationStatus::Pending
            || db::governance::lock_pending_application(c, id)? != 1
        {
            return Err(already_decided());
        }
        let facility_id = match (approve, app.request_type) {
            (false, _) => app.facility_id.clone(),
            // An application naming an existing facility (of another municipality): a join.
            (true, RequestType::Application) if app.facility_id.is_some() => {
                Some(join::approve_join(c, actor, &app, now)?)
            }
            (true, RequestType::Application) => Some(approve_application(c, actor, &app, now)?),
            (true, RequestType::Change) => Some(approve_change(c, actor, &app, now)?),
            (true, RequestType::Withdrawal) => Some(approve_withdrawal(c, actor, &app, now)?),
        };
        let status = if approve {
            Decision::Approved
        } else {
            Decision::Rejected
        };
        let claimed = db::governance::decide_facility_application(
            c,
            id,
            status,
            &actor.account_id,
            reason.as_deref(),
            facility_id.as_deref(),
            now,
        )?;
        if claimed != 1 {
            return Err(already_decided());
        }
        let recipient = match (&app.contact_email, &facility_id) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(f)) => db::governance::facility_contact(c, f)?.map(|r| r.contact_email),
            (None, None) => None,
        };
        db::governance::insert_application_notification(
            c,
            &ApplicationNotificationRow {
                id: new_id()?,
                municipality_id: muni.clone(),
                application_id: id.to_string(),
                status,
                reason: reason.clone(),
                facility_id: facility_id.clone(),
                recipient_email: recipient,
                created_at: now,
                email_sent_at: None,
            },
        )?;
        let mut event = actor
            .event(Action::DecideFacilityApplication, Outcome::Ok)
            .detail(format!("{} {} {status}", app.request_type, app.id));
        event.facility_id = facility_id.clone();
        audit::append(c, &muni, &event, now);
        let application = db::governance::facility_application(c, &muni, id)?
            .ok_or_else(|| DomainError::internal("decided application vanished"))?;
        let facility = match (approve, &facility_id) {
            (true, Some(f)) => db::facilities::facility(c, &muni, f)?.map(Facility::from),
            _ => None,
        };
        Ok(Decided {
            application: application.into(),
            facility,
        })
    })
}

fn already_decided() -> DomainError {
    DomainError::conflict("already_decided", "this request has already been decided")
}

/// The facility a change or withdrawal is about, which must not have withdrawn.
fn target_facility(
    c: &mut DbConnection,
    app: &FacilityApplicationRow,
) -> Result<FacilityRow, DomainError> {
    let id = app
        .facility_id
        .as_deref()
        .ok_or_else(|| DomainError::internal("change request without a facility"))?;
    let f = db::facilities::facility(c, &app.municipality_id, id)?
        .ok_or_else(|| DomainError::internal("change request for a missing facility"))?;
    if f.status == FacilityStatus::Withdrawn {
        return Err(DomainError::conflict(
            "facility_withdrawn",
            "this facility has withdrawn",
        ));
    }
    Ok(f)
}

/// Creates the facility of an approved application (and its contacts); returns its id.
fn approve_application(
    c: &mut Tx<'_>,
    actor: &Actor,
    app: &FacilityApplicationRow,
    now: i64,
) -> Result<String, DomainError> {
    let input = FacilityInput {
        kind: app.kind.map(|k| k.to_string()).unwrap_or_default(),
        name_ja: app.name_ja.clone().unwrap_or_default(),
        name_en: app.name_en.clone().unwrap_or_default(),
        address: app.address.clone().unwrap_or_default(),
        phone: app.phone.clone().unwrap_or_default(),
        listed: app.listed.unwrap_or(false),
    };
    let row = facilities::new_row(&actor.municipality_id, &input, now)?;
    facilities::insert(c, actor, &row, now)?;
    let (Some(contact_email), Some(manager_name), Some(manager_phone)) = (
        app.contact_email.clone(),
        app.manager_name.clone(),
        app.manager_phone.clone(),
    ) else {
        return Err(DomainError::internal("application without contacts"));
    };
    db::governance::put_facility_contact(
        c,
        &FacilityContactRow {
            facility_id: row.id.clone(),
            municipality_id: actor.municipality_id.clone(),
            contact_email,
            manager_name,
            manager_phone,
            updated_at: now,
        },
    )?;
    Ok(row.id)
}

/// Applies an approved change; returns the facility's id.
fn approve_change(
    c: &mut Tx<'_>,
    actor: &Actor,
    app: &FacilityApplicationRow,
    now: i64,
) -> Result<String, DomainError> {
    let f = target_facility(c, app)?;
    let changes = FacilityChanges {
        kind: None,
        name_ja: app.name_ja.clone(),
        name_en: app.name_en.clone(),
        address: app.address.clone(),
        phone: app.phone.clone(),
        listed: app.listed,
    };
    if !changes.is_empty() {
        db::governance::update_facility(c, &f.id, &changes)?;
    }
    if app.contact_email.is_some() || app.manager_name.is_some() {
        let old = db::governance::facility_contact(c, &f.id)?;
        let pick = |new: &Option<String>, old: Option<&String>| new.clone().or(old.cloned());
        let contact = FacilityContactRow {
            facility_id: f.id.clone(),
            municipality_id: f.municipality_id.clone(),
            contact_email: pick(&app.contact_email, old.as_ref().map(|o| &o.contact_email))
                .ok_or_else(conflict_contacts)?,
            manager_name: pick(&app.manager_name, old.as_ref().map(|o| &o.manager_name))
                .ok_or_else(conflict_contacts)?,
            manager_phone: pick(&app.manager_phone, old.as_ref().map(|o| &o.manager_phone))
                .ok_or_else(conflict_contacts)?,
            updated_at: now,
        };
        db::governance::put_facility_contact(c, &contact)?;
    }
    let mut event = actor
        .event(Action::UpdateFacility, Outcome::Ok)
        .detail(format!("change {}", app.id));
    event.facility_id = Some(f.id.clone());
    audit::append(c, &actor.municipality_id, &event, now);
    Ok(f.id)
}

fn conflict_contacts() -> DomainError {
    DomainError::conflict(
        "conflict",
        "the facility has no contacts on file to complete this change",
    )
}

/// Ends a facility on approved withdrawal: status `withdrawn`, out of the directory; its staff IDs
/// suspended and their sessions ended; its devices revoked; its unused enrollment codes expired.
fn approve_withdrawal(
    c: &mut Tx<'_>,
    actor: &Actor,
    app: &FacilityApplicationRow,
    now: i64,
) -> Result<String, DomainError> {
    let f = target_facility(c, app)?;
    db::governance::withdraw_facility(c, &f.id)?;
    let accounts = db::accounts::accounts_of_facility(c, &f.id)?;
    let mut sessions = 0;
    for account in &accounts {
        db::accounts::suspend_account(c, account, "facility withdrawn", None)?;
        sessions += db::accounts::delete_sessions_of(c, account)?;
    }
    db::webauthn::delete_of_facility(c, &f.id)?;
    let devices = db::facilities::revoke_devices_of_facility(
        c,
        &f.id,
        &actor.account_id,
        "facility withdrawn",
        now,
    )?;
    let codes = db::governance::expire_enrollment_codes_of_facility(c, &f.id, now)?;
    let mut event = actor
        .event(Action::WithdrawFacility, Outcome::Ok)
        .detail(format!(
            "withdrawal {}: {} accounts suspended, {sessions} sessions ended, {devices} devices revoked, {codes} codes expired",
            app.id,
            accounts.len()
        ));
    event.facility_id = Some(f.id.clone());
    audit::append(c, &actor.municipality_id, &event, now);
    Ok(f.id)
}

// ---- directory (R15) ----------------------------------------------------------------------------

pub fn directory(db: &Db, muni: &str) -> Result<Directory, DomainError> {
    db.read(|c| {
        let m = db::keys::municipality(c, muni)?
            .ok_or_else(|| DomainError::internal("municipality missing"))?;
        Ok(Directory {
            municipality_ja: m.name_ja,
            municipality_en: m.name_en,
            facilities: db::governance::directory(c, muni)?
                .into_iter()
                .map(DirectoryEntry::from)
                .collect(),
        })
    })
}

#[cfg(test)]
mod tests;
