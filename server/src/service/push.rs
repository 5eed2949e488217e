//! Web Push to ED staff devices (DESIGN §4 "Delivery"): browser subscriptions of `ed_staff`
//! accounts, the outbox written in the transaction that causes an alert
//! ([`enqueue_for_facility`]), and the bookkeeping of the delivery worker (`crate::push`): leasing
//! due rows and recording each outcome.
//!
//! Payloads are minimal by design: a JSON object of a few allow-listed scalar fields
//! ([`PAYLOAD_KEYS`]) — never names or medical details; the dashboard fetches the details with
//! authentication.

use crate::audit::{self, Action, Outcome};
use crate::db::push::{self as q, OutboxRow, OutboxUpdate, SubscriptionRow};
use crate::db::{Db, DbConnection};
use crate::domain::{OutboxStatus, Role};
use crate::service::accounts::Actor;
use crate::service::error::DomainError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::QueryResult;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Longest subscription endpoint accepted.
pub const MAX_ENDPOINT_LEN: usize = 2048;
/// Subscriptions one account may hold (one per browser or device).
pub const MAX_SUBSCRIPTIONS_PER_ACCOUNT: i64 = 10;
/// Longest back-off between two sends of one row.
pub const MAX_BACKOFF_SECS: i64 = 600;
/// Longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER_SECS: i64 = 3600;
/// Largest serialized payload: one aes128gcm record must stay within the 4096 bytes push services
/// accept (RFC 8291 §4: 86 bytes of header, key id, padding delimiter and tag).
pub const MAX_PAYLOAD_BYTES: usize = 3072;
/// The top-level fields a push payload may carry, each a scalar (string ≤ 64 characters, number,
/// boolean or null). Extend deliberately: nothing identifying or medical belongs here.
pub const PAYLOAD_KEYS: [&str; 11] = [
    "incident_id",
    "kind",
    "activation",
    "age_band",
    "eta_at",
    "facility_id",
    "version",
    "escalation",
    // Family notices (`service::family`): a fixed text, and the accepting hospital's name.
    "title",
    "hospital",
    "hospital_en",
];
/// The urgencies of RFC 8030 §5.3.
pub const URGENCIES: [&str; 4] = ["very-low", "low", "normal", "high"];

/// A browser's `PushSubscription.toJSON()` plus an optional label.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionInput {
    /// The push service URL (`https://`).
    pub endpoint: String,
    /// Sent by browsers; ignored (push services report expiry with 404/410).
    #[serde(default, rename = "expirationTime")]
    #[schema(value_type = Option<f64>)]
    pub expiration_time: Option<serde_json::Value>,
    pub keys: SubscriptionKeys,
    /// A name for the device, at most 64 characters (e.g. "ER desk tablet").
    #[serde(default)]
    pub label: Option<String>,
    /// ED staff: `1` (default) — called for every alert; `2` — backup, called only once an
    /// unacknowledged alert reaches escalation level 2. A facility manager's devices are always
    /// tier 3 (called from level 3); they may omit it or send `3`.
    #[serde(default)]
    pub tier: Option<i32>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    /// base64url of the browser's P-256 public key (65-byte uncompressed point).
    pub p256dh: String,
    /// base64url of the 16-byte authentication secret.
    pub auth: String,
}

/// A subscription as its owner sees it (the keys are not returned).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    pub id: String,
    pub endpoint: String,
    pub label: Option<String>,
    pub created_at: i64,
    /// 1: first call; 2: ED backup (from escalation level 2); 3: facility manager (from level 3).
    pub tier: i32,
}

impl From<SubscriptionRow> for Subscription {
    fn from(r: SubscriptionRow) -> Self {
        Subscription {
            id: r.id,
            endpoint: r.endpoint,
            label: r.label,
            created_at: r.created_at,
            tier: r.tier,
        }
    }
}

fn invalid(message: impl Into<String>) -> DomainError {
    DomainError::unprocessable("invalid_subscription", message)
}

/// Decodes base64url, with or without padding.
fn b64url(value: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('=').as_bytes())
        .ok()
}

/// Whether an address is loopback.
fn loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
    }
}

/// Whether an address must not be a push endpoint on the public network: loopback, private,
/// link-local, unspecified, multicast, documentation, unique-local and the like.
fn non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || v4.octets()[0] == 0
                || (v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]))
        }
        IpAddr::V6(v6) => {
            let seg0 = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00
                || (seg0 & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|m| non_public(IpAddr::V4(m)))
        }
    }
}

/// Checks a subscription endpoint: an `https://` URL of at most 2048 characters on a public host;
/// `http://` (or `https://`) to a loopback host only when `allow_insecure_loopback`. Returns the
/// URL in its normalized form (the form stored and compared on re-subscription).
pub fn check_endpoint(
    endpoint: &str,
    allow_insecure_loopback: bool,
) -> Result<String, DomainError> {
    if endpoint.len() > MAX_ENDPOINT_LEN {
        return Err(invalid(format!(
            "endpoint: at most {MAX_ENDPOINT_LEN} characters"
        )));
    }
    // The URL parser maps an international name to its ASCII (IDNA) form and lower-cases it;
    // trailing dots (`localhost.`, a fully qualified name) are removed here, so every spelling of
    // a host meets the same checks and is stored in one form.
    let mut url =
        reqwest::Url::parse(endpoint).map_err(|_| invalid("endpoint: not an absolute URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("endpoint: must not carry credentials"));
    }
    let raw_host = url
        .host_str()
        .ok_or_else(|| invalid("endpoint: no host"))?
        .to_ascii_lowercase();
    let host = raw_host.trim_end_matches('.').to_string();
    if host.is_empty() {
        return Err(invalid("endpoint: no host"));
    }
    if host != raw_host {
        url.set_host(Some(&host))
            .map_err(|_| invalid("endpoint: not an absolute URL"))?;
    }
    let literal = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    let (is_loopback, is_non_public) = match literal {
        Some(ip) => (loopback(ip), non_public(ip)),
        None => {
            let local = host == "localhost" || host.ends_with(".localhost");
            (local, local || !host.contains('.'))
        }
    };
    let ok = match url.scheme() {
        "https" => !is_non_public || (allow_insecure_loopback && is_loopback),
        "http" => allow_insecure_loopback && is_loopback,
        _ => false,
    };
    if !ok {
        return Err(invalid(
            "endpoint: must be an https:// URL of a public push service",
        ));
    }
    let normalized = url.to_string();
    if normalized.len() > MAX_ENDPOINT_LEN {
        return Err(invalid(format!(
            "endpoint: at most {MAX_ENDPOINT_LEN} characters"
        )));
    }
    Ok(normalized)
}

/// Checks a `p256dh` key: base64url of a 65-byte uncompressed point on P-256. Returns the
/// unpadded base64url form.
pub fn check_p256dh(value: &str) -> Result<String, DomainError> {
    let bad =
        || invalid("keys.p256dh: must be base64url of an uncompressed P-256 point (65 bytes)");
    let bytes = b64url(value).ok_or_else(bad)?;
    if bytes.len() != 65 || bytes[0] != 0x04 {
        return Err(bad());
    }
    web_push_native::p256::PublicKey::from_sec1_bytes(&bytes)
        .map_err(|_| invalid("keys.p256dh: not a point on the P-256 curve"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Checks an `auth` secret: base64url of 16 bytes. Returns the unpadded base64url form.
pub fn check_auth(value: &str) -> Result<String, DomainError> {
    match b64url(value) {
        Some(b) if b.len() == 16 => Ok(URL_SAFE_NO_PAD.encode(b)),
        _ => Err(invalid("keys.auth: must be base64url of 16 bytes")),
    }
}

/// The escalation tier of a facility manager's devices.
pub const MANAGER_TIER: i32 = 3;

/// Only ED staff and facility managers subscribe (their account's facility is their hospital);
/// returns the facility and the tier an input may ask for (ED staff: 1 or 2; managers: 3).
fn require_subscriber(
    db: &Db,
    actor: &Actor,
    action: Action,
    now: i64,
) -> Result<(String, std::ops::RangeInclusive<i32>), DomainError> {
    match (actor.role, &actor.facility_id) {
        (Role::EdStaff, Some(f)) => Ok((f.clone(), 1..=2)),
        (Role::FacilityManager, Some(f)) => Ok((f.clone(), MANAGER_TIER..=MANAGER_TIER)),
        _ => Err(super::deny(
            db,
            &actor.municipality_id,
            actor.event(action, Outcome::Denied),
            DomainError::forbidden(
                "only ED staff and facility managers of a hospital receive push alerts",
            ),
            now,
        )),
    }
}

/// Registers (or replaces) the caller's subscription. The same endpoint again replaces the old
/// row: for the same account its keys and label are updated in place (pending alerts then go out
/// with the new keys); a row of another account (another user on the same browser) is deleted
/// first, so that device gets only the new account's hospital's alerts.
pub fn subscribe(
    db: &Db,
    actor: &Actor,
    input: &SubscriptionInput,
    allow_insecure_loopback: bool,
    now: i64,
) -> Result<Subscription, DomainError> {
    let (facility_id, tiers) = require_subscriber(db, actor, Action::PushSubscribe, now)?;
    let tier = input.tier.unwrap_or(*tiers.start());
    if !tiers.contains(&tier) {
        return Err(invalid(format!(
            "tier: {} for this role",
            if tiers.start() == tiers.end() {
                format!("must be {}", tiers.start())
            } else {
                format!("must be {} to {}", tiers.start(), tiers.end())
            }
        )));
    }
    let endpoint = check_endpoint(&input.endpoint, allow_insecure_loopback)?;
    let p256dh = check_p256dh(&input.keys.p256dh)?;
    let auth = check_auth(&input.keys.auth)?;
    let label = super::opt_text("label", &input.label, 64)?;
    let new_id = super::new_id()?;
    db.write(|c| {
        let muni = &actor.municipality_id;
        let existing = q::subscription_by_endpoint(c, &endpoint)?;
        let (id, detail) = match existing {
            Some(old) if old.account_id == actor.account_id && old.municipality_id == *muni => {
                q::update_subscription_keys(c, &old.id, &p256dh, &auth, label.as_deref(), tier)?;
                (old.id.clone(), format!("subscription {} (keys replaced)", old.id))
            }
            other => {
                if let Some(old) = &other {
                    q::delete_subscription(c, &old.id)?;
                }
                if q::count_subscriptions_of_account(c, &actor.account_id)?
                    >= MAX_SUBSCRIPTIONS_PER_ACCOUNT
                {
                    return Err(DomainError::conflict(
                        "too_many_subscriptions",
                        format!(
                            "at most {MAX_SUBSCRIPTIONS_PER_ACCOUNT} subscriptions per account: remove one first"
                        ),
                    ));
                }
                q::insert_subscription(
                    c,
                    &SubscriptionRow {
                        id: new_id.clone(),
                        municipality_id: muni.clone(),
                        account_id: actor.account_id.clone(),
                        facility_id: Some(facility_id.clone()),
                        endpoint: endpoint.clone(),
                        p256dh: p256dh.clone(),
                        auth: auth.clone(),
                        label: label.clone(),
                        created_at: now,
                        tier,
                    },
                )?;
                let detail = match &other {
                    Some(old) => format!("subscription {new_id} (replaces {})", old.id),
                    None => format!("subscription {new_id}"),
                };
                (new_id.clone(), detail)
            }
        };
        let event = actor
            .event(Action::PushSubscribe, Outcome::Ok)
            .detail(detail);
        audit::append(c, muni, &event, now);
        q::subscriptions_of_account(c, muni, &actor.account_id)?
            .into_iter()
            .find(|s| s.id == id)
            .map(Subscription::from)
            .ok_or_else(|| DomainError::internal("subscription vanished"))
    })
}

/// The caller's own subscriptions.
pub fn list(db: &Db, actor: &Actor, now: i64) -> Result<Vec<Subscription>, DomainError> {
    require_subscriber(db, actor, Action::PushSubscribe, now)?;
    db.read(|c| {
        Ok::<_, DomainError>(
            q::subscriptions_of_account(c, &actor.municipality_id, &actor.account_id)?
                .into_iter()
                .map(Subscription::from)
                .collect(),
        )
    })
}

/// Removes one of the caller's own subscriptions; anyone else's (or an unknown id) is 404.
pub fn unsubscribe(db: &Db, actor: &Actor, id: &str, now: i64) -> Result<(), DomainError> {
    require_subscriber(db, actor, Action::PushUnsubscribe, now)?;
    let not_found = || {
        super::deny(
            db,
            &actor.municipality_id,
            actor.event(Action::PushUnsubscribe, Outcome::Denied),
            DomainError::not_found("no such subscription"),
            now,
        )
    };
    if super::check_id(id).is_err() {
        return Err(not_found());
    }
    let done = db.write(|c| {
        let own = q::subscriptions_of_account(c, &actor.municipality_id, &actor.account_id)?
            .into_iter()
            .any(|s| s.id == id);
        if !own {
            return Ok(false);
        }
        q::delete_subscription(c, id)?;
        let event = actor
            .event(Action::PushUnsubscribe, Outcome::Ok)
            .detail(format!("subscription {id}"));
        audit::append(c, &actor.municipality_id, &event, now);
        Ok::<_, DomainError>(true)
    })?;
    if done { Ok(()) } else { Err(not_found()) }
}

/// Why a payload may not be pushed.
pub(crate) fn payload_problem(payload: &serde_json::Value) -> Option<String> {
    let Some(obj) = payload.as_object() else {
        return Some("push payload must be a JSON object".into());
    };
    for (k, v) in obj {
        if !PAYLOAD_KEYS.contains(&k.as_str()) {
            return Some(format!("push payload field {k:?} is not allow-listed"));
        }
        let scalar = match v {
            serde_json::Value::String(s) => s.chars().count() <= 64,
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) | serde_json::Value::Null => {
                true
            }
            _ => false,
        };
        if !scalar {
            return Some(format!(
                "push payload field {k:?} must be a short scalar (string ≤ 64 characters, number, boolean, null)"
            ));
        }
    }
    None
}

/// Queues a push of `payload` to every tier-1 device of `facility_id`'s active ED staff (one
/// `pending` outbox row per subscription, due now), in the caller's transaction; returns how many.
/// [`enqueue_for_tiers`] reaches tiers 2 and 3 too (the escalation chain). The
/// caller wakes the push worker once it commits (`Tx::after_commit` with `feed::Wakers`), so it
/// sends at once (it also polls).
///
/// The payload must be a JSON object of allow-listed scalar fields ([`PAYLOAD_KEYS`], at most
/// [`MAX_PAYLOAD_BYTES`] serialized) and `urgency` one of [`URGENCIES`]; otherwise nothing is
/// queued and a `QueryBuilderError` is returned (a programming error, not user input).
#[allow(clippy::too_many_arguments)]
pub fn enqueue_for_facility(
    c: &mut DbConnection,
    muni: &str,
    facility_id: &str,
    incident_id: Option<&str>,
    payload: &serde_json::Value,
    urgency: &str,
    ttl_secs: i32,
    now: i64,
) -> QueryResult<usize> {
    enqueue_for_tiers(
        c,
        muni,
        facility_id,
        incident_id,
        payload,
        urgency,
        ttl_secs,
        now,
        1,
    )
}

/// [`enqueue_for_facility`] to the devices of tiers 1 to `max_tier` (1: first call, 2: ED backup,
/// 3: the facility manager).
#[allow(clippy::too_many_arguments)]
pub fn enqueue_for_tiers(
    c: &mut DbConnection,
    muni: &str,
    facility_id: &str,
    incident_id: Option<&str>,
    payload: &serde_json::Value,
    urgency: &str,
    ttl_secs: i32,
    now: i64,
    max_tier: i32,
) -> QueryResult<usize> {
    let refuse = |why: String| Err(diesel::result::Error::QueryBuilderError(why.into()));
    if let Some(why) = payload_problem(payload) {
        return refuse(why);
    }
    let body = payload.to_string();
    if body.len() > MAX_PAYLOAD_BYTES {
        return refuse(format!("push payload over {MAX_PAYLOAD_BYTES} bytes"));
    }
    if !URGENCIES.contains(&urgency) {
        return refuse(format!(
            "push urgency {urgency:?} is not one of {URGENCIES:?}"
        ));
    }
    if ttl_secs < 0 {
        return refuse("push TTL must not be negative".into());
    }
    // A hospital serving another municipality (issue 22) registered its browsers at home: an
    // alert of an incident of that other municipality goes to them, queued as the home's.
    let home = match crate::db::facilities::facility(c, muni, facility_id)? {
        Some(_) => muni.to_string(),
        None if crate::db::memberships::membership(c, muni, facility_id)?.is_some() => {
            crate::db::facilities::facility_by_id(c, facility_id)?
                .map_or_else(|| muni.to_string(), |f| f.municipality_id)
        }
        None => muni.to_string(),
    };
    let muni = home.as_str();
    let subs = q::deliverable_subscriptions(c, muni, facility_id, max_tier)?;
    let mut rows = Vec::with_capacity(subs.len());
    for s in subs {
        let id = super::new_id()
            .map_err(|e| diesel::result::Error::QueryBuilderError(e.to_string().into()))?;
        rows.push(OutboxRow {
            id,
            municipality_id: muni.into(),
            subscription_id: s.id,
            incident_id: incident_id.map(str::to_string),
            payload: body.clone(),
            ttl_secs,
            urgency: urgency.into(),
            status: OutboxStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            lease_owner: None,
            lease_until: None,
            last_status: None,
            last_error: None,
            created_at: now,
            done_at: None,
        });
    }
    q::insert_outbox(c, &rows)
}

/// A leased outbox row and where it goes (`None`: the subscription was removed since).
#[derive(Debug, Clone)]
pub struct Leased {
    pub row: OutboxRow,
    pub subscription: Option<SubscriptionRow>,
}

/// Leases up to `limit` due rows to `owner` for `lease_secs`. A cheap read first, so an idle
/// worker does not open write transactions.
pub fn lease_due(
    db: &Db,
    owner: &str,
    now: i64,
    lease_secs: i64,
    limit: i64,
) -> Result<Vec<Leased>, DomainError> {
    if !db.read(|c| q::any_due(c, now).map_err(DomainError::from))? {
        return Ok(Vec::new());
    }
    let rows = db.write(|c| {
        q::lease_due(c, owner, now, now + lease_secs, limit).map_err(DomainError::from)
    })?;
    Ok(rows
        .into_iter()
        .map(|(row, subscription)| Leased { row, subscription })
        .collect())
}

/// What one send attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// 2xx: the push service accepted the message.
    Delivered { status: u16 },
    /// 404 or 410: the subscription has expired or was removed by the browser.
    Gone { status: u16 },
    /// 429, 5xx or no answer: try again later (after `retry_after` seconds at the earliest).
    Transient {
        status: Option<u16>,
        error: String,
        retry_after: Option<i64>,
    },
    /// Any other answer, or a message that cannot be sent (bad stored key): give up.
    Rejected { status: Option<u16>, error: String },
    /// The alert's TTL was spent before it could be sent.
    Expired,
    /// The subscription was deleted after the alert was queued.
    Unsubscribed,
}

impl Attempt {
    /// Classifies a push service's answer (RFC 8030 §5, RFC 8292 §5).
    pub fn from_status(status: u16, retry_after: Option<i64>) -> Self {
        match status {
            200..=299 => Attempt::Delivered { status },
            404 | 410 => Attempt::Gone { status },
            429 | 500..=599 => Attempt::Transient {
                status: Some(status),
                error: format!("HTTP {status}"),
                retry_after,
            },
            _ => Attempt::Rejected {
                status: Some(status),
                error: format!("HTTP {status}"),
            },
        }
    }

    /// What kind of answer this was: `sent`, `gone`, `retry` or `failed` (the row's fate also
    /// depends on its attempts: see [`update_for`]).
    pub fn outcome(&self) -> &'static str {
        match self {
            Attempt::Delivered { .. } => "sent",
            Attempt::Gone { .. } | Attempt::Unsubscribed => "gone",
            Attempt::Transient { .. } => "retry",
            Attempt::Rejected { .. } => "failed",
            Attempt::Expired => "expired",
        }
    }
}

/// Seconds to wait before send number `attempts + 1`, after `attempts` failed sends: 1, 2, 4, …
/// capped at 10 minutes; a `Retry-After` is honoured (up to an hour) when it asks for longer.
pub fn backoff_secs(attempts: i32, retry_after: Option<i64>) -> i64 {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let backoff = (1i64 << exp).min(MAX_BACKOFF_SECS);
    match retry_after {
        Some(r) => backoff.max(r.clamp(0, MAX_RETRY_AFTER_SECS)),
        None => backoff,
    }
}

/// When the next send of `row` (after `attempts` failed sends ending at `now`) is due: after the
/// back-off ([`backoff_secs`]), or, when that would be at or past the end of the alert's TTL, one
/// last time a second before the end. `None`: the TTL is spent (the row expires).
pub fn next_attempt(
    row: &OutboxRow,
    attempts: i32,
    retry_after: Option<i64>,
    now: i64,
) -> Option<i64> {
    let deadline = row.created_at + i64::from(row.ttl_secs);
    let next = (now + backoff_secs(attempts, retry_after)).min(deadline - 1);
    (next > now).then_some(next)
}

/// The `last_error` of an expired row (it is recorded as `failed`).
pub fn expired_error(attempts: i32) -> String {
    format!("expired: the TTL was spent after {attempts} attempts")
}

/// The row update an attempt leads to. A row to retry stays leased until its next attempt is
/// due (plus [`crate::push::LEASE_SECS`]): the instance that sent it sends it again.
pub fn update_for(row: &OutboxRow, attempt: &Attempt, now: i64) -> OutboxUpdate {
    let attempts = match attempt {
        Attempt::Unsubscribed | Attempt::Expired => row.attempts,
        _ => row.attempts.saturating_add(1),
    };
    let status_of = |s: &Option<u16>| s.map(i32::from);
    let done =
        |status: OutboxStatus, last_status: Option<i32>, last_error: Option<String>| OutboxUpdate {
            status,
            attempts,
            next_attempt_at: row.next_attempt_at,
            last_status,
            last_error,
            done_at: Some(now),
            lease_until: None,
        };
    match attempt {
        Attempt::Delivered { status } => done(OutboxStatus::Sent, Some(i32::from(*status)), None),
        Attempt::Gone { status } => done(
            OutboxStatus::Gone,
            Some(i32::from(*status)),
            Some(format!("HTTP {status}: subscription expired; removed")),
        ),
        Attempt::Unsubscribed => done(
            OutboxStatus::Gone,
            None,
            Some("subscription removed".into()),
        ),
        Attempt::Rejected { status, error } => {
            done(OutboxStatus::Failed, status_of(status), Some(error.clone()))
        }
        Attempt::Expired => done(
            OutboxStatus::Failed,
            row.last_status,
            Some(expired_error(attempts)),
        ),
        Attempt::Transient {
            status,
            error,
            retry_after,
        } => match next_attempt(row, attempts, *retry_after, now) {
            None => done(
                OutboxStatus::Failed,
                status_of(status),
                Some(format!("{error}; {}", expired_error(attempts))),
            ),
            Some(next) => OutboxUpdate {
                status: OutboxStatus::Pending,
                attempts,
                next_attempt_at: next,
                last_status: status_of(status),
                last_error: Some(error.clone()),
                done_at: None,
                lease_until: Some(next + crate::push::LEASE_SECS),
            },
        },
    }
}

/// Records the outcomes of one batch in one transaction: each row still leased by `owner` gets
/// its update; a subscription the push service called gone is deleted (audited as
/// `push.prune`). Returns how many rows were updated.
pub fn record(
    db: &Db,
    owner: &str,
    results: &[(Leased, Attempt)],
    now: i64,
) -> Result<usize, DomainError> {
    db.write(|c| {
        let mut n = 0;
        for (leased, attempt) in results {
            let u = update_for(&leased.row, attempt, now);
            let updated = q::finish_outbox(c, &leased.row.id, owner, &u)?;
            n += updated;
            if let (1, Attempt::Gone { status }, Some(sub)) =
                (updated, attempt, &leased.subscription)
                && q::delete_subscription_if_unchanged(c, &sub.id, &sub.endpoint, &sub.p256dh)? == 1
            {
                let mut event = audit::Event::new(Action::PushPrune, Outcome::Ok).detail(format!(
                    "subscription {} of account {} (HTTP {status})",
                    sub.id, sub.account_id
                ));
                event.facility_id = sub.facility_id.clone();
                audit::append(c, &sub.municipality_id, &event, now);
            }
        }
        Ok(n)
    })
}

/// Deletes outbox rows finished more than `keep_secs` ago.
pub fn purge_finished(db: &Db, now: i64, keep_secs: i64) -> Result<usize, DomainError> {
    db.write(|c| q::purge_finished(c, now - keep_secs).map_err(DomainError::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        for ok in [
            "https://fcm.googleapis.com/fcm/send/abc:def",
            "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
            "https://web.push.apple.com/QGx",
        ] {
            assert_eq!(check_endpoint(ok, false).unwrap(), ok);
        }
        for bad in [
            "http://fcm.googleapis.com/x",
            "http://127.0.0.1:8080/x",
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://192.168.0.1/x",
            "https://169.254.169.254/latest",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://localhost/x",
            "https://localhost./x",
            "https://LOCALHOST../x",
            "https://ｌｏｃａｌｈｏｓｔ/x",
            "https://a.localhost./x",
            "https://127.0.0.1./x",
            "https://intranet/x",
            "https://intranet./x",
            "https://.../x",
            "https://user:pw@push.example.com/x",
            "ftp://push.example.com/x",
            "/relative",
            "",
        ] {
            let e = check_endpoint(bad, false).unwrap_err();
            assert_eq!(e.code(), "invalid_subscription", "{bad}");
        }
        // One stored form for every spelling of a host.
        assert_eq!(
            check_endpoint("https://Push.Example.COM./p", false).unwrap(),
            "https://push.example.com/p"
        );
        assert_eq!(
            check_endpoint("https://プッシュ.example.jp/p", false).unwrap(),
            "https://xn--xckxa3dwc.example.jp/p"
        );
        let long = format!("https://push.example.com/{}", "a".repeat(2048));
        assert!(check_endpoint(&long, false).is_err());
        // Loopback only with the flag, and only loopback.
        assert!(check_endpoint("http://127.0.0.1:8080/x", true).is_ok());
        assert!(check_endpoint("http://[::1]:8080/x", true).is_ok());
        assert!(check_endpoint("http://localhost:8080/x", true).is_ok());
        assert!(check_endpoint("http://localhost.:8080/x", true).is_ok());
        assert!(check_endpoint("http://10.0.0.1/x", true).is_err());
        assert!(check_endpoint("http://push.example.com/x", true).is_err());
    }

    #[test]
    fn keys() {
        // The P-256 generator: on the curve.
        let g = "BGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU";
        assert_eq!(check_p256dh(g).unwrap(), g);
        assert_eq!(check_p256dh(&format!("{g}=")).unwrap(), g);
        let mut off = URL_SAFE_NO_PAD.decode(g).unwrap();
        off[64] ^= 1;
        let e = check_p256dh(&URL_SAFE_NO_PAD.encode(&off)).unwrap_err();
        assert!(e.message().contains("curve"), "{}", e.message());
        let mut compressed = URL_SAFE_NO_PAD.decode(g).unwrap()[..33].to_vec();
        compressed[0] = 0x02;
        assert!(check_p256dh(&URL_SAFE_NO_PAD.encode(&compressed)).is_err());
        assert!(check_p256dh("not base64!").is_err());
        assert!(check_auth("AAAAAAAAAAAAAAAAAAAAAA").is_ok());
        assert!(check_auth("AAAAAAAAAAAAAAAAAAAA").is_err());
    }

    #[test]
    fn backoff_doubles_to_ten_minutes_and_honours_retry_after() {
        let seq: Vec<i64> = (1..=12).map(|a| backoff_secs(a, None)).collect();
        assert_eq!(seq, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(backoff_secs(1, Some(30)), 30);
        assert_eq!(backoff_secs(5, Some(3)), 16);
        assert_eq!(backoff_secs(1, Some(86_400)), MAX_RETRY_AFTER_SECS);
    }

    #[test]
    fn payloads_are_minimal() {
        let ok = serde_json::json!({"incident_id": "ab", "kind": "new_patient", "activation": "stroke",
            "age_band": "80-89", "eta_at": 1_795_219_800});
        assert!(payload_problem(&ok).is_none());
        for bad in [
            serde_json::json!({"name": "山田 花子"}),
            serde_json::json!({"kind": {"nested": 1}}),
            serde_json::json!({"kind": "x".repeat(65)}),
            serde_json::json!(["kind"]),
        ] {
            assert!(payload_problem(&bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn outcomes() {
        assert_eq!(Attempt::from_status(201, None).outcome(), "sent");
        assert_eq!(Attempt::from_status(410, None).outcome(), "gone");
        assert_eq!(Attempt::from_status(404, None).outcome(), "gone");
        assert_eq!(Attempt::from_status(429, Some(5)).outcome(), "retry");
        assert_eq!(Attempt::from_status(503, None).outcome(), "retry");
        assert_eq!(Attempt::from_status(400, None).outcome(), "failed");
        assert_eq!(Attempt::from_status(413, None).outcome(), "failed");
        assert_eq!(Attempt::from_status(301, None).outcome(), "failed");
    }
}
