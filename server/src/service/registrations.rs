//! No silent duplicate person (issue 19, docs/registration.md). A registration — self or by a
//! proxy — whose person matches an **active** resident (name in kana, or in kanji when either
//! side has no kana; date of birth; address) creates no second record: the registrant's account
//! and session are created as always, and the answer has the same status and shape as a new
//! record's (a random id where the resident id would be), so a stranger typing someone's details
//! cannot tell from it whether that person is registered. What they entered is held
//! (`registration_holds`) until the city decides: a proxy is **linked** to the existing record
//! (becomes its proxy), or the hold is **rejected**. The attempt is an audit event about the
//! existing resident, so it is in their access history.

use super::accounts::Actor;
use super::check_id;
use super::error::DomainError;
use super::facilities::require_city_admin;
use super::residents::Profile;
use crate::audit::{self, Action, Event, Outcome};
use crate::db::registrations::{self as q, HoldRow};
use crate::db::residents::{ProxyRow, ResidentRow};
use crate::db::{self, Db, DbConnection, Tx};
use crate::domain::{HoldKind, HoldStatus};
use crate::service::deny;
use serde::{Deserialize, Serialize};

/// A text as compared for a match: compatibility-normalised (NFKC: half-width kana, full-width
/// digits and letters unified), without spaces, hiragana read as katakana, dash-like marks as
/// `-`, lower case.
pub fn match_key(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfkc()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            // Hiragana → katakana (ぁ..ゖ, ゝ, ゞ): one name typed either way.
            '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => {
                char::from_u32(c as u32 + 0x60).unwrap_or(c)
            }
            '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | 'ー' | '－' | 'ｰ' => '-',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

pub(crate) fn same_person(a: &ResidentRow, b: &ResidentRow) -> bool {
    let names = match (
        (&a.family_name_kana, &a.given_name_kana),
        (&b.family_name_kana, &b.given_name_kana),
    ) {
        ((Some(af), Some(ag)), (Some(bf), Some(bg))) => {
            match_key(af) == match_key(bf) && match_key(ag) == match_key(bg)
        }
        _ => {
            match_key(&a.family_name) == match_key(&b.family_name)
                && match_key(&a.given_name) == match_key(&b.given_name)
        }
    };
    names && a.date_of_birth == b.date_of_birth && match_key(&a.address) == match_key(&b.address)
}

/// The active resident of the municipality this profile matches, if any.
pub(crate) fn matching(
    c: &mut DbConnection,
    muni: &str,
    row: &ResidentRow,
) -> Result<Option<ResidentRow>, DomainError> {
    Ok(q::active_born_on(c, muni, &row.date_of_birth)?
        .into_iter()
        .find(|r| same_person(r, row)))
}

/// A proxy's part of a held registration.
pub(crate) struct ProxyPart {
    pub relation: crate::domain::ProxyRelation,
    pub relation_detail: Option<String>,
    pub consent_statement: String,
}

/// Holds a registration that matched `existing`; returns the hold's id (answered where a new
/// record's id would be). Audited about the existing resident.
pub(crate) fn hold(
    c: &mut Tx<'_>,
    muni: &str,
    account: (&str, crate::domain::Role),
    existing: &ResidentRow,
    typed: &ResidentRow,
    proxy: Option<ProxyPart>,
    now: i64,
) -> Result<String, DomainError> {
    let profile: Profile = typed.clone().into();
    let kind = if proxy.is_some() {
        HoldKind::Proxy
    } else {
        HoldKind::SelfRegistration
    };
    let row = HoldRow {
        id: super::new_id()?,
        municipality_id: muni.into(),
        account_id: account.0.into(),
        kind,
        matched_resident_id: existing.id.clone(),
        relation: proxy.as_ref().map(|p| p.relation),
        relation_detail: proxy.as_ref().and_then(|p| p.relation_detail.clone()),
        consent_statement: proxy.map(|p| p.consent_statement),
        profile: Some(serde_json::to_string(&profile).map_err(DomainError::internal)?),
        status: HoldStatus::Pending,
        created_at: now,
        decided_by: None,
        decided_at: None,
    };
    q::insert_hold(c, &row)?;
    let event = Event::new(Action::HoldRegistration, Outcome::Ok)
        .by(account.0, account.1)
        .about(&existing.id)
        .purpose(crate::domain::Purpose::Registration)
        .detail(format!("hold {} ({kind})", row.id));
    audit::append(c, muni, &event, now);
    Ok(row.id)
}

// ---- the registrant's view ----------------------------------------------------------------------

/// A registration of this login that the city is checking (its registrant's view: nothing about
/// the matched record).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HeldRegistration {
    pub id: String,
    /// `self` or `proxy`.
    pub kind: String,
    /// `pending` (the city is checking), `linked` (now in `residents`), `rejected`.
    pub status: String,
    pub created_at: i64,
}

pub fn held_for(c: &mut DbConnection, actor: &Actor) -> Result<Vec<HeldRegistration>, DomainError> {
    Ok(q::of_account(c, &actor.account_id)?
        .into_iter()
        .map(|h| HeldRegistration {
            id: h.id,
            kind: h.kind.to_string(),
            status: h.status.to_string(),
            created_at: h.created_at,
        })
        .collect())
}

// ---- the city's review --------------------------------------------------------------------------

/// A held registration as the city reviews it: what was typed, and the record it matched.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HoldReview {
    pub id: String,
    /// `self` or `proxy`.
    pub kind: String,
    /// The registrant's login id and display name.
    pub login_id: String,
    pub display_name: String,
    /// A proxy's relation (`family`, …) and its detail.
    pub relation: Option<String>,
    pub relation_detail: Option<String>,
    /// The person as the registrant typed them.
    pub typed: Option<Profile>,
    /// The active record it matched.
    pub matched: Profile,
    /// How many proxies the matched record has already.
    pub matched_proxies: usize,
    pub created_at: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldDecision {
    /// `link` (a proxy registration: the registrant becomes a proxy of the matched record) or
    /// `reject`.
    pub decision: String,
}

fn review_of(c: &mut DbConnection, muni: &str, h: HoldRow) -> Result<HoldReview, DomainError> {
    let account = db::accounts::account(c, muni, &h.account_id)?
        .ok_or_else(|| DomainError::internal("hold without its account"))?;
    let matched = db::residents::resident(c, muni, &h.matched_resident_id)?
        .ok_or_else(|| DomainError::internal("hold without its resident"))?;
    let typed = h
        .profile
        .as_deref()
        .map(serde_json::from_str::<Profile>)
        .transpose()
        .map_err(DomainError::internal)?;
    Ok(HoldReview {
        matched_proxies: db::residents::current_proxies_with_names(c, &matched.id)?.len(),
        id: h.id,
        kind: h.kind.to_string(),
        login_id: account.login_id,
        display_name: account.display_name,
        relation: h.relation.map(|r| r.to_string()),
        relation_detail: h.relation_detail,
        typed,
        matched: matched.into(),
        created_at: h.created_at,
    })
}

/// Open holds, oldest first (city administrators). Reading them is audited per matched resident.
pub fn pending(db: &Db, actor: &Actor, now: i64) -> Result<Vec<HoldReview>, DomainError> {
    let muni = actor.municipality_id.as_str();
    require_city_admin(actor).map_err(|err| {
        deny(
            db,
            muni,
            actor.event(Action::ReviewRegistration, Outcome::Denied),
            err,
            now,
        )
    })?;
    db.write(|c| {
        let rows = q::pending(c, muni)?;
        let mut out = Vec::with_capacity(rows.len());
        for h in rows {
            let about = h.matched_resident_id.clone();
            out.push(review_of(c, muni, h)?);
            let event = actor
                .event(Action::ReviewRegistration, Outcome::Ok)
                .about(&about)
                .purpose(crate::domain::Purpose::Registration)
                .detail("read");
            audit::append(c, muni, &event, now);
        }
        Ok(out)
    })
}

/// The city decides an open hold.
pub fn decide(
    db: &Db,
    actor: &Actor,
    hold_id: &str,
    input: &HoldDecision,
    now: i64,
) -> Result<HoldReview, DomainError> {
    let muni = actor.municipality_id.as_str();
    let denied = || actor.event(Action::ReviewRegistration, Outcome::Denied);
    if let Err(err) = require_city_admin(actor) {
        return Err(deny(db, muni, denied(), err, now));
    }
    check_id(hold_id)?;
    let status = match input.decision.as_str() {
        "link" => HoldStatus::Linked,
        "reject" => HoldStatus::Rejected,
        _ => {
            return Err(DomainError::unprocessable(
                "invalid_field",
                "decision: link or reject",
            ));
        }
    };
    db.write(|c| {
        let h = q::hold(c, muni, hold_id)?
            .ok_or_else(|| DomainError::not_found("no such registration"))?;
        if h.status != HoldStatus::Pending {
            return Err(DomainError::conflict(
                "already_decided",
                format!("this registration was already decided ({})", h.status),
            ));
        }
        let mut review = review_of(c, muni, h.clone())?;
        if status == HoldStatus::Linked {
            let (HoldKind::Proxy, Some(relation), Some(statement)) =
                (h.kind, h.relation, h.consent_statement.clone())
            else {
                return Err(DomainError::unprocessable(
                    "not_a_proxy",
                    "only a proxy registration can be linked; a person registered twice keeps the first login (reject this one)",
                ));
            };
            let matched = db::residents::resident(c, muni, &h.matched_resident_id)?
                .filter(|r| r.status == crate::domain::ResidentStatus::Active)
                .ok_or_else(|| {
                    DomainError::conflict("withdrawn", "the matched record is no longer active")
                })?;
            if db::residents::proxy_for(c, &matched.id, &h.account_id)?.is_none() {
                db::residents::link_proxy(
                    c,
                    &ProxyRow {
                        id: super::new_id()?,
                        municipality_id: muni.into(),
                        resident_id: matched.id.clone(),
                        account_id: h.account_id.clone(),
                        relation,
                        relation_detail: h.relation_detail.clone(),
                        consent_statement: statement,
                        consented_at: h.created_at,
                        removed_at: None,
                        removed_by: None,
                    },
                )?;
            }
        }
        if !q::decide(c, &h.id, status, &actor.account_id, now)? {
            return Err(DomainError::conflict(
                "already_decided",
                "this registration was decided meanwhile",
            ));
        }
        let event = actor
            .event(Action::ReviewRegistration, Outcome::Ok)
            .about(&h.matched_resident_id)
            .purpose(crate::domain::Purpose::Registration)
            .detail(format!("hold {} {status}", h.id));
        audit::append(c, muni, &event, now);
        review.typed = None;
        Ok(review)
    })
    .map_err(|err| {
        if err.kind().audited() {
            deny(db, muni, denied(), err, now)
        } else {
            err
        }
    })
}
