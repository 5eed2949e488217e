//! Family told of a scan (issue 27): residents and proxies register their browsers for Web Push
//! (`push_subscriptions` rows without a facility), and when a resident who consented
//! (`notify_family` in the consent version in force) has their card scanned, or a hospital
//! accepts them, each current proxy's browsers get a push — through the one outbox and worker of
//! `service::push` / `crate::push`, in the transaction of the scan or the acceptance.
//!
//! **No medical details, no name**: the payload is a fixed text and a kind, and — for an
//! acceptance, only when the consent says `family_hospital_name` — the hospital's name. Which of
//! the people they act for it concerns, the proxy sees in the portal (each notice is an audit
//! event about the resident, so it is in the access history).

use super::accounts::Actor;
use super::push::{SubscriptionInput, check_auth, check_endpoint, check_p256dh};
use crate::audit::{self, Action, Outcome};
use crate::db::push::{self as q, OutboxRow, SubscriptionRow};
use crate::db::{self, Db, Tx};
use crate::domain::{OutboxStatus, Role};
use crate::service::error::DomainError;
use serde::Serialize;

/// What the family is told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice<'a> {
    /// The card was scanned by paramedics.
    Scanned,
    /// A hospital accepted the patient: its names (Japanese, English).
    Accepted { hospital: (&'a str, &'a str) },
}

/// The fixed texts of a notice (Japanese / English), at most 64 characters each way.
pub const SCANNED_TITLE: &str =
    "救急隊が情報を確認しました / Paramedics viewed the emergency information";
pub const ACCEPTED_TITLE: &str = "病院が受け入れました / A hospital accepted";
/// How long a family notice may wait in the push service (1 hour).
pub const TTL_SECS: i32 = 3600;

/// A resident-side subscription as its owner sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    pub id: String,
    pub endpoint: String,
    pub label: Option<String>,
    pub created_at: i64,
}

impl From<SubscriptionRow> for Subscription {
    fn from(r: SubscriptionRow) -> Self {
        Subscription {
            id: r.id,
            endpoint: r.endpoint,
            label: r.label,
            created_at: r.created_at,
        }
    }
}

fn require_family(db: &Db, actor: &Actor, action: Action, now: i64) -> Result<(), DomainError> {
    match actor.role {
        Role::Resident | Role::Proxy => Ok(()),
        _ => Err(super::deny(
            db,
            &actor.municipality_id,
            actor.event(action, Outcome::Denied),
            DomainError::forbidden("only residents and proxies register a browser here"),
            now,
        )),
    }
}

/// Registers (or replaces the keys of) the caller's browser. The same endpoint held by another
/// account (another person on the same browser) moves to the caller.
pub fn subscribe(
    db: &Db,
    actor: &Actor,
    input: &SubscriptionInput,
    allow_insecure_loopback: bool,
    now: i64,
) -> Result<Subscription, DomainError> {
    require_family(db, actor, Action::PushSubscribe, now)?;
    let endpoint = check_endpoint(&input.endpoint, allow_insecure_loopback)?;
    let p256dh = check_p256dh(&input.keys.p256dh)?;
    let auth = check_auth(&input.keys.auth)?;
    let label = super::opt_text("label", &input.label, 64)?;
    let new_id = super::new_id()?;
    db.write(|c| {
        let muni = &actor.municipality_id;
        let id = match q::subscription_by_endpoint(c, &endpoint)? {
            Some(old) if old.account_id == actor.account_id && old.municipality_id == *muni => {
                // Family browsers have no escalation tier; 1 is the column's default.
                q::update_subscription_keys(c, &old.id, &p256dh, &auth, label.as_deref(), 1)?;
                old.id
            }
            other => {
                if let Some(old) = &other {
                    q::delete_subscription(c, &old.id)?;
                }
                if q::count_subscriptions_of_account(c, &actor.account_id)?
                    >= super::push::MAX_SUBSCRIPTIONS_PER_ACCOUNT
                {
                    return Err(DomainError::conflict(
                        "too_many_subscriptions",
                        "at most 10 browsers per account: remove one first",
                    ));
                }
                q::insert_subscription(
                    c,
                    &SubscriptionRow {
                        id: new_id.clone(),
                        municipality_id: muni.clone(),
                        account_id: actor.account_id.clone(),
                        facility_id: None,
                        endpoint: endpoint.clone(),
                        p256dh: p256dh.clone(),
                        auth: auth.clone(),
                        label: label.clone(),
                        tier: 1,
                        created_at: now,
                    },
                )?;
                new_id.clone()
            }
        };
        let event = actor
            .event(Action::PushSubscribe, Outcome::Ok)
            .detail(format!("subscription {id} (family notices)"));
        audit::append(c, muni, &event, now);
        own(c, actor)?
            .into_iter()
            .find(|s| s.id == id)
            .map(Subscription::from)
            .ok_or_else(|| DomainError::internal("subscription vanished"))
    })
}

fn own(c: &mut db::DbConnection, actor: &Actor) -> Result<Vec<SubscriptionRow>, DomainError> {
    Ok(
        q::subscriptions_of_account(c, &actor.municipality_id, &actor.account_id)?
            .into_iter()
            .filter(|s| s.facility_id.is_none())
            .collect(),
    )
}

/// The caller's registered browsers.
pub fn list(db: &Db, actor: &Actor, now: i64) -> Result<Vec<Subscription>, DomainError> {
    require_family(db, actor, Action::PushSubscribe, now)?;
    db.read(|c| Ok(own(c, actor)?.into_iter().map(Subscription::from).collect()))
}

/// Removes one of the caller's browsers; anything else is 404.
pub fn unsubscribe(db: &Db, actor: &Actor, id: &str, now: i64) -> Result<(), DomainError> {
    require_family(db, actor, Action::PushUnsubscribe, now)?;
    super::check_id(id)?;
    let done = db.write(|c| {
        if !own(c, actor)?.iter().any(|s| s.id == id) {
            return Ok(false);
        }
        q::delete_subscription(c, id)?;
        let event = actor
            .event(Action::PushUnsubscribe, Outcome::Ok)
            .detail(format!("subscription {id} (family notices)"));
        audit::append(c, &actor.municipality_id, &event, now);
        Ok::<_, DomainError>(true)
    })?;
    if done {
        Ok(())
    } else {
        Err(DomainError::not_found("no such subscription"))
    }
}

/// At most `n` characters of `s`.
fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The push payload of a notice: allow-listed scalars only (`service::push::PAYLOAD_KEYS`).
pub fn payload(notice: Notice, name_hospital: bool) -> serde_json::Value {
    match notice {
        Notice::Scanned => serde_json::json!({"kind": "family_scan", "title": SCANNED_TITLE}),
        Notice::Accepted { hospital } if name_hospital => serde_json::json!({
            "kind": "family_accepted", "title": ACCEPTED_TITLE,
            "hospital": clip(hospital.0, 64), "hospital_en": clip(hospital.1, 64),
        }),
        Notice::Accepted { .. } => {
            serde_json::json!({"kind": "family_accepted", "title": ACCEPTED_TITLE})
        }
    }
}

/// In the transaction of a scan or an acceptance: if the consent in force says `notify_family`,
/// queues the notice for every browser of each current proxy of the resident, and audits one
/// `family.notify` event about the resident per proxy told (so it is in the access history).
/// Returns how many pushes were queued. The worker picks them up within its poll interval.
pub fn notify(
    c: &mut Tx<'_>,
    muni: &str,
    resident_id: &str,
    notice: Notice,
    now: i64,
) -> Result<usize, DomainError> {
    let Some(consent) = super::consent::current(c, resident_id)? else {
        return Ok(0);
    };
    if !consent.notify_family {
        return Ok(0);
    }
    let body = payload(notice, consent.family_hospital_name);
    if let Some(why) = super::push::payload_problem(&body) {
        return Err(DomainError::internal(why));
    }
    let body = body.to_string();
    let kind = match notice {
        Notice::Scanned => "scan",
        Notice::Accepted { .. } => "hospital accepted",
    };
    let mut queued = 0;
    for (proxy, _) in db::residents::current_proxies_with_names(c, resident_id)? {
        let subs: Vec<SubscriptionRow> = q::subscriptions_of_account(c, muni, &proxy.account_id)?
            .into_iter()
            .filter(|s| s.facility_id.is_none())
            .collect();
        if subs.is_empty() {
            continue;
        }
        let mut rows = Vec::with_capacity(subs.len());
        for s in &subs {
            rows.push(OutboxRow {
                id: super::new_id()?,
                municipality_id: muni.into(),
                subscription_id: s.id.clone(),
                incident_id: None,
                payload: body.clone(),
                ttl_secs: TTL_SECS,
                urgency: "high".into(),
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
        queued += q::insert_outbox(c, &rows)?;
        let event = audit::Event::new(Action::FamilyNotify, Outcome::Ok)
            .about(resident_id)
            .detail(format!(
                "{kind}: proxy {}, {} browser(s)",
                proxy.id,
                subs.len()
            ));
        audit::append(c, muni, &event, now);
    }
    Ok(queued)
}

/// After a hospital accepted an incident (its own transaction, right after the acceptance's:
/// the pre-arrival transaction is not this module's): the incident's resident — when it was
/// opened from a scan — is looked up and their family told. Returns how many pushes were queued.
pub fn hospital_accepted(
    db: &Db,
    muni: &str,
    incident_id: &str,
    hospital_id: &str,
    now: i64,
) -> Result<usize, DomainError> {
    db.write(|c| {
        let Some(access_id) =
            db::incidents::incident(c, muni, incident_id)?.and_then(|i| i.access_id)
        else {
            return Ok(0);
        };
        let Some(access) = db::access::access(c, muni, &access_id)? else {
            return Ok(0);
        };
        let Some(h) = db::facilities::facility(c, muni, hospital_id)? else {
            return Ok(0);
        };
        let notice = Notice::Accepted {
            hospital: (&h.name_ja, &h.name_en),
        };
        notify(c, muni, &access.resident_id, notice, now)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_allow_listed_and_name_the_hospital_only_if_allowed() {
        let h = ("常総中央病院", "Joso Central Hospital");
        for (notice, named) in [
            (Notice::Scanned, false),
            (Notice::Scanned, true),
            (Notice::Accepted { hospital: h }, false),
            (Notice::Accepted { hospital: h }, true),
        ] {
            let p = payload(notice, named);
            assert!(super::super::push::payload_problem(&p).is_none(), "{p}");
            let text = p.to_string();
            assert_eq!(
                text.contains("常総中央病院"),
                named && notice != Notice::Scanned,
                "{text}"
            );
        }
        assert!(SCANNED_TITLE.chars().count() <= 64 && ACCEPTED_TITLE.chars().count() <= 64);
    }
}
