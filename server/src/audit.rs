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
//! **Batched appends.** Inside a group-committed write ([`crate::db::Db::write`]) the events a
//! job appends are held back (`deferring`) and the writer thread appends them all just before
//! the batch's one commit ([`append_batch`]): one head update for the whole batch, in the order
//! the jobs ran, in the same transaction as their writes. A job that fails (its
//! savepoint rolled back) contributes no events. So the chain is exactly as if each event had
//! been appended on its own, but the head row is locked once per batch, for the length of one
//! append and one commit, instead of once per write until its commit.

use crate::db::DbConnection;
use crate::db::schema::{audit_events, audit_heads};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::cell::RefCell;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened. The string forms are stable: they are stored and hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    LoginOk,
    LoginFailed,
    RegisterResident,
    RegisterProxy,
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
    SubmitReport,
    AddAttachment,
    ReadAttachment,
    SendInquiry,
    AnswerInquiry,
    Acknowledge,
    ChangeDestination,
    Arrive,
    ListIncidents,
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
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::LoginOk => "login.ok",
            Action::LoginFailed => "login.failed",
            Action::RegisterResident => "resident.register",
            Action::RegisterProxy => "proxy.register",
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
            Action::SubmitReport => "incident.report",
            Action::AddAttachment => "incident.attachment",
            Action::ReadAttachment => "incident.attachment.read",
            Action::SendInquiry => "incident.inquiry",
            Action::AnswerInquiry => "incident.answer",
            Action::Acknowledge => "incident.acknowledge",
            Action::ChangeDestination => "incident.destination",
            Action::Arrive => "incident.arrival",
            Action::ListIncidents => "incident.list",
            Action::Escalate => "incident.escalate",
            Action::ResidentDisclosure => "resident.disclosure",
            Action::PushSubscribe => "push.subscribe", // push
            Action::PushUnsubscribe => "push.unsubscribe", // push
            Action::PushPrune => "push.prune",         // push
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
    fn as_str(self) -> &'static str {
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
    pub fn by(mut self, account_id: &str, role: &str) -> Self {
        self.actor_account_id = Some(account_id.into());
        self.actor_role = Some(role.into());
        self
    }
    pub fn about(mut self, resident_id: &str) -> Self {
        self.resident_id = Some(resident_id.into());
        self
    }
    pub fn purpose(mut self, p: impl Into<String>) -> Self {
        self.purpose = Some(p.into());
        self
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
}

/// A stored event.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = audit_events)]
pub struct AuditRow {
    pub municipality_id: String,
    pub seq: i64,
    pub at: i64,
    pub actor_account_id: Option<String>,
    pub actor_role: Option<String>,
    pub device_id: Option<String>,
    pub facility_id: Option<String>,
    pub resident_id: Option<String>,
    pub action: String,
    pub purpose: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of an event: SHA-256 over the JSON array of every field but `hash`, in column order.
pub fn event_hash(r: &AuditRow) -> String {
    let canonical = serde_json::json!([
        r.municipality_id,
        r.seq,
        r.at,
        r.actor_account_id,
        r.actor_role,
        r.device_id,
        r.facility_id,
        r.resident_id,
        r.action,
        r.purpose,
        r.outcome,
        r.detail,
        r.prev_hash
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Creates the chain head for a municipality (at bootstrap).
pub fn init_chain(conn: &mut DbConnection, muni: &str) -> QueryResult<()> {
    let exists = audit_heads::table
        .filter(audit_heads::municipality_id.eq(muni))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !exists {
        diesel::insert_into(audit_heads::table)
            .values((
                audit_heads::municipality_id.eq(muni),
                audit_heads::seq.eq(0i64),
                audit_heads::hash.eq(GENESIS),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// An event held back by `deferring`, appended later by [`append_batch`].
#[derive(Debug, Clone)]
pub struct Pending {
    muni: String,
    event: Event,
    at: i64,
}

thread_local! {
    /// Events appended on this thread while [`deferring`] runs.
    static DEFERRED: RefCell<Option<Vec<Pending>>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's audit appends held back; returns its result and the events it
/// appended, in order, for [`append_batch`] in the same transaction. Not reentrant: an inner
/// call collects nothing of its own (the outer one gets the events).
pub(crate) fn deferring<T>(f: impl FnOnce() -> T) -> (T, Vec<Pending>) {
    /// Ends the deferral even if `f` panics, so this thread's later appends are not lost.
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            if self.0 {
                DEFERRED.with(|d| d.borrow_mut().take());
            }
        }
    }
    let outer = DEFERRED.with(|d| {
        let mut d = d.borrow_mut();
        let outer = d.is_some();
        if !outer {
            *d = Some(Vec::new());
        }
        outer
    });
    let reset = Reset(!outer);
    let out = f();
    let events = if outer {
        Vec::new()
    } else {
        DEFERRED.with(|d| d.borrow_mut().take()).unwrap_or_default()
    };
    drop(reset);
    (out, events)
}

/// Appends an event in the caller's transaction (inside a group-committed write: just before
/// that transaction commits, see `deferring`).
pub fn append(conn: &mut DbConnection, muni: &str, event: &Event, now: i64) -> QueryResult<()> {
    let deferred = DEFERRED.with(|d| match d.borrow_mut().as_mut() {
        Some(pending) => {
            pending.push(Pending {
                muni: muni.to_string(),
                event: event.clone(),
                at: now,
            });
            true
        }
        None => false,
    });
    if deferred {
        return Ok(());
    }
    append_batch(
        conn,
        &[Pending {
            muni: muni.to_string(),
            event: event.clone(),
            at: now,
        }],
    )
}

/// Appends events in the caller's transaction, in order: per municipality, one head update
/// (which locks the head row on PostgreSQL until commit), the rows, and the new head hash.
pub fn append_batch(conn: &mut DbConnection, events: &[Pending]) -> QueryResult<()> {
    let mut munis: Vec<&str> = Vec::new();
    for p in events {
        if !munis.contains(&p.muni.as_str()) {
            munis.push(&p.muni);
        }
    }
    // One lock order for every batch: PostgreSQL writers commit batches side by side, and two
    // batches locking two municipalities' heads in opposite orders would deadlock.
    munis.sort_unstable();
    for muni in munis {
        let mine: Vec<&Pending> = events.iter().filter(|p| p.muni == muni).collect();
        let n = i64::try_from(mine.len()).unwrap_or(i64::MAX);
        let (last_seq, mut prev_hash): (i64, String) = crate::native!(conn, c => {
            diesel::update(audit_heads::table.filter(audit_heads::municipality_id.eq(muni)))
                .set(audit_heads::seq.eq(audit_heads::seq + n))
                .returning((audit_heads::seq, audit_heads::hash))
                .get_result(c)?
        });
        let mut rows = Vec::with_capacity(mine.len());
        for (seq, p) in (last_seq - n + 1..).zip(mine) {
            let e = &p.event;
            let mut row = AuditRow {
                municipality_id: muni.into(),
                seq,
                at: p.at,
                actor_account_id: e.actor_account_id.clone(),
                actor_role: e.actor_role.clone(),
                device_id: e.device_id.clone(),
                facility_id: e.facility_id.clone(),
                resident_id: e.resident_id.clone(),
                action: e.action.as_str().into(),
                purpose: e.purpose.clone(),
                outcome: e.outcome.as_str().into(),
                detail: e.detail.clone(),
                prev_hash,
                hash: String::new(),
            };
            row.hash = event_hash(&row);
            prev_hash = row.hash.clone();
            rows.push(row);
        }
        match conn {
            // One round trip for the batch.
            DbConnection::Pg(pg) => {
                for chunk in rows.chunks(256) {
                    diesel::insert_into(audit_events::table)
                        .values(chunk)
                        .execute(pg)?;
                }
            }
            // In-process: one cached statement per row.
            DbConnection::Sqlite(sqlite) => {
                for row in &rows {
                    diesel::insert_into(audit_events::table)
                        .values(row)
                        .execute(sqlite)?;
                }
            }
        }
        crate::native!(conn, c => {
            diesel::update(audit_heads::table.filter(audit_heads::municipality_id.eq(muni)))
                .set(audit_heads::hash.eq(&prev_hash))
                .execute(c)?
        });
    }
    Ok(())
}

/// The current chain head (what an administrator publishes).
pub fn head(conn: &mut DbConnection, muni: &str) -> QueryResult<(i64, String)> {
    audit_heads::table
        .filter(audit_heads::municipality_id.eq(muni))
        .select((audit_heads::seq, audit_heads::hash))
        .get_result(conn)
}

/// Why the chain does not verify, naming the first bad entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("entry {seq}: missing (deleted, or the log was reordered)")]
    Missing { seq: i64 },
    #[error("entry {seq}: content does not match its hash (edited)")]
    Edited { seq: i64 },
    #[error("entry {seq}: does not follow the entry before it (reordered or replaced)")]
    Broken { seq: i64 },
    #[error("the log ends at entry {last} but the published head is entry {published}: truncated")]
    Truncated { last: i64, published: i64 },
    #[error("entry {seq}: hash differs from the published head")]
    HeadMismatch { seq: i64 },
}

/// Verifies a municipality's chain; with `published`, also that it still contains that head.
/// Returns the number of entries checked.
pub fn verify(
    conn: &mut DbConnection,
    muni: &str,
    published: Option<(i64, &str)>,
) -> Result<i64, VerifyError> {
    let rows: Vec<AuditRow> = audit_events::table
        .filter(audit_events::municipality_id.eq(muni))
        .order(audit_events::seq.asc())
        .select(AuditRow::as_select())
        .load(conn)?;
    let mut prev = GENESIS.to_string();
    for (i, r) in rows.iter().enumerate() {
        let expected_seq = i64::try_from(i).unwrap_or(i64::MAX) + 1;
        if r.seq != expected_seq {
            return Err(ChainError::Missing { seq: expected_seq }.into());
        }
        if event_hash(r) != r.hash {
            return Err(ChainError::Edited { seq: r.seq }.into());
        }
        if r.prev_hash != prev {
            return Err(ChainError::Broken { seq: r.seq }.into());
        }
        prev = r.hash.clone();
    }
    let last = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let (head_seq, head_hash) = head(conn, muni)?;
    if head_seq != last {
        return Err(ChainError::Truncated {
            last,
            published: head_seq,
        }
        .into());
    }
    if head_hash != prev {
        return Err(ChainError::HeadMismatch { seq: head_seq }.into());
    }
    if let Some((seq, hash)) = published {
        if seq > last {
            return Err(ChainError::Truncated {
                last,
                published: seq,
            }
            .into());
        }
        let at = usize::try_from(seq)
            .ok()
            .and_then(|s| s.checked_sub(1))
            .and_then(|i| rows.get(i));
        if seq > 0 && at.is_none_or(|r| r.hash != hash) {
            return Err(ChainError::HeadMismatch { seq }.into());
        }
    }
    Ok(last)
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("cannot read the audit log: {0}")]
    Db(#[from] diesel::result::Error),
}
