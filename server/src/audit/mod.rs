//! The audit log: typed events in a per-municipality hash chain (RULES R19).
//!
//! Each event's `hash` = SHA-256 over a canonical JSON array of its fields and the previous event's
//! hash; the first event's previous hash is 64 zeros. Appending updates the chain head row first —
//! in PostgreSQL that locks it until commit — so concurrent appends are serialised and the chain
//! cannot fork. An event is appended in the same transaction as the write it records, so it is
//! durable exactly when the write is, before the response. `verify` recomputes the chain and names
//! the first bad entry: edited (hash mismatch), deleted (sequence gap), reordered (wrong previous
//! hash) or truncated (shorter than a published head).
//!
//! **Batched appends.** A write job ([`crate::db::Db::write`]) appends events to its transaction
//! value ([`append`] onto a [`Tx`]), and the writer thread appends them all just before
//! the batch's one commit ([`append_batch`]): one head update for the whole batch, in the order
//! the jobs ran, in the same transaction as their writes. A job that fails (its
//! savepoint rolled back) contributes no events. So the chain is exactly as if each event had
//! been appended on its own, but the head row is locked once per batch, for the length of one
//! append and one commit, instead of once per write until its commit.

//!
//! This module holds the event types and [`append`]; the chain's storage (rows, hashing,
//! the batch append, verification) is in [`chain`].

mod chain;

pub use chain::{
    AuditRow, ChainError, VerifyError, append_batch, event_hash, head, init_chain, verify,
};

use crate::db::Tx;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened. The string forms are stable: they are stored and hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    LoginOk,
    LoginFailed,
    RegisterResident,
    RegisterProxy,
    /// A registration matched an active resident and was held for the city (about that resident).
    HoldRegistration,
    /// The city read or decided held registrations (about the matched resident).
    ReviewRegistration,
    UpdateProfile,
    WriteDataset,
    GrantConsent,
    WithdrawConsent,
    IssueCard,
    RevokeCard,
    ReissueCard,
    RotateKey,
    CompromiseKey,
    CreateStaff,
    Purge,
    CreateFacility,
    CreateEnrollmentCode,
    EnrollDevice,
    RevokeDevice,
    /// A signed field request refused before it reached its endpoint (device, signature, session).
    DeviceRequest,
    /// A card scan: the consented dataset disclosed to a responder.
    Scan,
    /// A break-glass search and disclosure (flagged for the city's review).
    BreakGlass,
    /// A disclosure read again within its grant.
    ReadAccess,
    ReviewBreakGlass,
    /// A request refused by a rate limit.
    Throttled,
    // governance: applications, directory, notices (R1, R15, R17)
    /// A facility applies to join (public; no actor).
    ApplyFacility,
    /// A facility manager asks to change or withdraw their facility.
    RequestFacilityChange,
    /// The city approves or rejects an application, change or withdrawal.
    DecideFacilityApplication,
    /// An approved change applied to a facility.
    UpdateFacility,
    /// An approved withdrawal: the facility leaves the network and the directory.
    WithdrawFacility,
    /// The city publishes a notice.
    PublishNotice,
    /// The city withdraws a notice.
    WithdrawNotice,
    SuspendAccount,
    ReinstateAccount,
    ReissueAccount,
    SuspendFacility,
    ReinstateFacility,
    ChangePassword,
    // governance: disaster mode (R11) and disclosure on request (R13)
    /// The city declares a disaster (districts, period).
    DeclareDisaster,
    /// The city renews a declaration (a new period from now).
    RenewDisaster,
    /// The city ends a declaration early.
    EndDisaster,
    /// A disaster responder lists the consenting residents of the declared districts (one event
    /// per listed resident, and one for the request).
    DisasterList,
    /// A disaster responder reads one resident's consented dataset.
    DisasterRead,
    /// A resident (or proxy) exports everything held about them.
    ResidentDisclosure,
    // pre-arrival (DESIGN §4)
    OpenIncident,
    ReadIncident,
    /// The resident's dataset disclosed in an incident read (to the scanning crew within the
    /// scan's grant, or to the destination hospital during the hand-over).
    ReadIncidentDataset,
    /// The clinical picture of the resident's dataset (no name, address or contacts) disclosed
    /// to a hospital being asked to accept (受入照会).
    ReadIncidentClinical,
    SubmitReport,
    AddAttachment,
    ReadAttachment,
    SendInquiry,
    AnswerInquiry,
    Acknowledge,
    ChangeDestination,
    Arrive,
    ListIncidents,
    /// ED staff publish their hospital's capacity (応需情報).
    SetCapacity,
    /// An alert not acknowledged in time (the system, no actor).
    Escalate,
    // push
    /// ED staff register a browser for Web Push alerts (or replace its keys).
    PushSubscribe,
    /// ED staff remove one of their push subscriptions.
    PushUnsubscribe,
    /// The push service answered 404/410: the subscription is deleted (no actor; the detail
    /// names the subscription and its account).
    PushPrune,
    // identity photo (issue 19)
    /// A resident or proxy uploads, replaces or deletes the identity photo (or a consent version
    /// without `photo` deletes it).
    WritePhoto,
    /// The scanning paramedic views the identity photo within the scan's grant.
    ReadPhoto,
    // family and home (issue 27)
    /// A resident hands out a one-time code that makes its holder a proxy.
    InviteProxy,
    /// A resident cancels an unused invite.
    CancelProxyInvite,
    /// A proxy account accepts an invite (and the proxy statement): it acts for the resident.
    AcceptProxyInvite,
    /// The resident removes a proxy, or a proxy steps down: its access ends.
    RemoveProxy,
    /// The resident's proxies were told (Web Push) of a scan or a hospital's acceptance (no
    /// actor; the detail names the proxy link and how many browsers).
    FamilyNotify,
    // bulk onboarding and batch cards (issue 26)
    /// A resident created from a row of a paper-kit register (`kyukit residents import`).
    ImportResident,
    /// One import run, with its counts (no resident).
    ImportRun,
    /// One batch of printed cards (`kyukit cards batch`), with its counts (no resident).
    BatchCards,
    // biometric unlock on field devices (issue 21)
    /// A paramedic registers a platform authenticator (WebAuthn) on their device.
    WebauthnRegister,
    /// A paramedic unlocks a session on their device with its authenticator (success or refusal).
    WebauthnUnlock,
    // household sticker (issue 27)
    /// A resident (or proxy) creates a household and its sticker (about the first member).
    CreateHousehold,
    /// A member is listed on a household (their own consent, or their proxy's).
    JoinHousehold,
    /// A member leaves a household (by themself or a proxy): listed no more.
    LeaveHousehold,
    /// The household's sticker is revoked: it lists nobody.
    RevokeHousehold,
    /// A paramedic device scanned a household sticker: one event per listed member (about
    /// them), or a refusal.
    ListHousehold,
    // yearly re-confirmation (issue 26)
    /// The resident (or a proxy) confirms that the record is still true ("nothing has changed").
    Reconfirm,
    /// A city administrator lists the records past their re-confirmation period (no resident;
    /// the detail gives the district and the count).
    ReconfirmList,
    /// A reminder letter to the resident was printed (one event per letter, about the resident).
    ReconfirmLetter,
    /// The resident's and proxies' browsers were sent a Web Push reminder (about the resident).
    ReconfirmRemind,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::LoginOk => "login.ok",
            Action::LoginFailed => "login.failed",
            Action::RegisterResident => "resident.register",
            Action::RegisterProxy => "proxy.register",
            Action::HoldRegistration => "registration.held",
            Action::ReviewRegistration => "registration.review",
            Action::UpdateProfile => "resident.update",
            Action::WriteDataset => "dataset.write",
            Action::GrantConsent => "consent.grant",
            Action::WithdrawConsent => "consent.withdraw",
            Action::IssueCard => "card.issue",
            Action::RevokeCard => "card.revoke",
            Action::ReissueCard => "card.reissue",
            Action::RotateKey => "key.rotate",
            Action::CompromiseKey => "key.compromise",
            Action::CreateStaff => "staff.create",
            Action::Purge => "resident.purge",
            Action::CreateFacility => "facility.create",
            Action::CreateEnrollmentCode => "device.enrollment_code",
            Action::EnrollDevice => "device.enroll",
            Action::RevokeDevice => "device.revoke",
            Action::DeviceRequest => "device.request",
            Action::Scan => "record.scan",
            Action::BreakGlass => "record.break_glass",
            Action::ReadAccess => "record.read",
            Action::ReviewBreakGlass => "break_glass.review",
            Action::Throttled => "rate.throttled",
            Action::ApplyFacility => "facility.apply",
            Action::RequestFacilityChange => "facility.change_request",
            Action::DecideFacilityApplication => "facility.decide",
            Action::UpdateFacility => "facility.update",
            Action::WithdrawFacility => "facility.withdraw",
            Action::PublishNotice => "notice.publish",
            Action::WithdrawNotice => "notice.withdraw",
            Action::SuspendAccount => "account.suspend",
            Action::ReinstateAccount => "account.reinstate",
            Action::ReissueAccount => "account.reissue",
            Action::SuspendFacility => "facility.suspend",
            Action::ReinstateFacility => "facility.reinstate",
            Action::ChangePassword => "account.password",
            Action::DeclareDisaster => "disaster.declare",
            Action::RenewDisaster => "disaster.renew",
            Action::EndDisaster => "disaster.end",
            Action::DisasterList => "disaster.list",
            Action::DisasterRead => "disaster.read",
            Action::OpenIncident => "incident.open",
            Action::ReadIncident => "incident.read",
            Action::ReadIncidentDataset => "incident.dataset",
            Action::ReadIncidentClinical => "incident.clinical",
            Action::SubmitReport => "incident.report",
            Action::AddAttachment => "incident.attachment",
            Action::ReadAttachment => "incident.attachment.read",
            Action::SendInquiry => "incident.inquiry",
            Action::AnswerInquiry => "incident.answer",
            Action::Acknowledge => "incident.acknowledge",
            Action::ChangeDestination => "incident.destination",
            Action::Arrive => "incident.arrival",
            Action::ListIncidents => "incident.list",
            Action::SetCapacity => "hospital.capacity",
            Action::Escalate => "incident.escalate",
            Action::ResidentDisclosure => "resident.disclosure",
            Action::PushSubscribe => "push.subscribe", // push
            Action::PushUnsubscribe => "push.unsubscribe", // push
            Action::PushPrune => "push.prune",         // push
            Action::WritePhoto => "photo.write",
            Action::ReadPhoto => "record.photo",
            Action::InviteProxy => "proxy.invite",
            Action::CancelProxyInvite => "proxy.invite_cancel",
            Action::AcceptProxyInvite => "proxy.accept",
            Action::RemoveProxy => "proxy.remove",
            Action::FamilyNotify => "family.notify",
            Action::ImportResident => "resident.import",
            Action::ImportRun => "import.run",
            Action::BatchCards => "card.batch",
            Action::WebauthnRegister => "webauthn.register",
            Action::WebauthnUnlock => "login.webauthn",
            Action::CreateHousehold => "household.create",
            Action::JoinHousehold => "household.join",
            Action::LeaveHousehold => "household.leave",
            Action::RevokeHousehold => "household.revoke",
            Action::ListHousehold => "record.household",
            Action::Reconfirm => "resident.reconfirm",
            Action::ReconfirmList => "reconfirm.list",
            Action::ReconfirmLetter => "reconfirm.letter",
            Action::ReconfirmRemind => "reconfirm.remind",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Denied,
    Failed,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

/// One event to append (who, role, device, facility, resident, action, purpose, outcome).
#[derive(Debug, Clone)]
pub struct Event {
    pub actor_account_id: Option<String>,
    pub actor_role: Option<String>,
    pub device_id: Option<String>,
    pub facility_id: Option<String>,
    pub resident_id: Option<String>,
    pub action: Action,
    pub purpose: Option<String>,
    pub outcome: Outcome,
    /// Short, non-medical detail (an item id, a card id, a reason code). Never free medical text.
    pub detail: Option<String>,
}

impl Event {
    pub fn new(action: Action, outcome: Outcome) -> Self {
        Event {
            actor_account_id: None,
            actor_role: None,
            device_id: None,
            facility_id: None,
            resident_id: None,
            action,
            purpose: None,
            outcome,
            detail: None,
        }
    }
    pub fn by(mut self, account_id: &str, role: crate::domain::Role) -> Self {
        self.actor_account_id = Some(account_id.into());
        self.actor_role = Some(role.as_str().into());
        self
    }
    pub fn about(mut self, resident_id: &str) -> Self {
        self.resident_id = Some(resident_id.into());
        self
    }
    pub fn purpose(mut self, p: crate::domain::Purpose) -> Self {
        self.purpose = Some(p.as_str().to_string());
        self
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
}

/// An event waiting in a transaction for the chain (see [`append`]).
#[derive(Debug, Clone)]
pub struct Pending {
    pub(crate) muni: String,
    pub(crate) event: Event,
    pub(crate) at: i64,
}

impl Pending {
    pub fn new(muni: &str, event: Event, at: i64) -> Self {
        Pending {
            muni: muni.to_string(),
            event,
            at,
        }
    }

    /// Names the resident `resident` of municipality `muni` if the event names none and is on
    /// that municipality's chain (a resident is never named on another municipality's chain).
    pub fn about_if_unnamed(&mut self, muni: &str, resident: &str) {
        if self.event.resident_id.is_none() && self.muni == muni {
            self.event.resident_id = Some(resident.to_string());
        }
    }
}

/// Appends an event to the write job's transaction: the writer puts it on the chain just before
/// the batch commits, in the same transaction as the job's writes (never if the job fails).
pub fn append(tx: &mut Tx<'_>, muni: &str, event: &Event, now: i64) {
    tx.push_audit(Pending::new(muni, event.clone(), now));
}

/// Appends events held back elsewhere (denials held on an inline handle), in order.
pub fn append_held(tx: &mut Tx<'_>, events: Vec<Pending>) {
    for event in events {
        tx.push_audit(event);
    }
}
