//! Facilities serving several municipalities (issue 22): a fire department run jointly by
//! several towns (広域消防) or a hospital of a 二次医療圏 belongs to one municipality (its home)
//! and serves others, each by that municipality's admin's approval of its application
//! (`service::governance`). While a membership is active, its staff and devices work in that
//! municipality too: a paramedic's scan of its cards acts in it (`access::scan_actor`), audited
//! on its chain, and its resident's access history names the facility. Its admin may suspend the
//! membership; the facility stays its home's.

use super::access::{ScanInput, card_bytes, card_resident};
use super::accounts::Actor;
use super::{deny, keys};
use crate::audit::{Action, Outcome};
use crate::db::{self, Db};
use crate::domain::{MembershipStatus, Purpose};
use crate::service::error::DomainError;

/// Whether `facility` (of another municipality) actively serves `muni`.
pub fn serves(db: &Db, facility: Option<&str>, muni: &str) -> Result<bool, DomainError> {
    let Some(facility) = facility else {
        return Ok(false);
    };
    let row =
        db.read(|c| db::memberships::membership(c, muni, facility).map_err(DomainError::from))?;
    Ok(row.is_some_and(|m| m.status == MembershipStatus::Active))
}

/// The municipality a card belongs to and its resident there, if the card is exactly what that
/// municipality issued (nothing verified: used only to name the resident on refusals, on the
/// resident's own municipality's chain).
pub fn card_subject(db: &Db, input: &ScanInput) -> Option<(String, String)> {
    let cose = card_bytes(&input.card).ok()?;
    let muni = keys::card_issuer(db, &cose).ok()??;
    let resident = card_resident(db, &muni, input)?;
    Some((muni, resident))
}

/// Who a scan acts as. A card belongs to the municipality that owns the key it names (a card
/// carries no issuer). The actor's own municipality's cards: the actor as is. Another
/// municipality's card: refused `untrusted_issuer` unless the paramedic's fire department serves
/// that municipality (an approved membership, [`serves`]); then the actor acts in
/// that municipality, so the access, its audit event and the resident's history are that
/// municipality's. A refusal is audited on both chains: the paramedic's municipality's (without
/// the resident) and the card's (naming the resident, so it is in their access history).
pub fn scan_actor(
    db: &Db,
    actor: &Actor,
    input: &ScanInput,
    action: Action,
    now: i64,
) -> Result<Actor, DomainError> {
    let Ok(cose) = card_bytes(&input.card) else {
        return Ok(actor.clone());
    };
    let Some(issuer) = keys::card_issuer(db, &cose)? else {
        return Ok(actor.clone());
    };
    if issuer == actor.municipality_id {
        return Ok(actor.clone());
    }
    if serves(db, actor.facility_id.as_deref(), &issuer)? {
        return Ok(Actor {
            municipality_id: issuer,
            ..actor.clone()
        });
    }
    let err = || {
        DomainError::forbidden_code(
            "untrusted_issuer",
            "this card was issued by a municipality your fire department does not serve",
        )
    };
    let event = actor.event(action, Outcome::Denied).purpose(Purpose::Scan);
    let mut theirs = event.clone();
    theirs.resident_id = card_resident(db, &issuer, input);
    let _ = deny(db, &issuer, theirs, err(), now);
    Err(deny(db, &actor.municipality_id, event, err(), now))
}

/// Who a paramedic's re-read of access `access_id` acts as: an access of another municipality
/// that the fire department serves is read as that municipality's (its chain, its resident's
/// history); anything else as the actor (the access is then found only in their own).
pub fn access_actor(db: &Db, actor: &Actor, access_id: &str) -> Result<Actor, DomainError> {
    let found =
        db.read(|c| db::access::access_municipality(c, access_id).map_err(DomainError::from))?;
    match found {
        Some(muni)
            if muni != actor.municipality_id
                && serves(db, actor.facility_id.as_deref(), &muni)? =>
        {
            Ok(Actor {
                municipality_id: muni,
                ..actor.clone()
            })
        }
        _ => Ok(actor.clone()),
    }
}
