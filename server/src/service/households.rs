//! The household sticker (玄関ステッカー, issue 27): one signed pointer at a home's entrance
//! (docs/card-format.md §9) that leads a paramedic to the cards of the people who live there.
//!
//! The sticker carries no personal data. Who is listed is on the server: residents who
//! consented to be listed, each by themself or a proxy (the member's own consent decides; a
//! member who leaves, or whose consent to share with responders is withdrawn, is listed no
//! more, at once — the list is read at every scan). A sticker is created by someone who acts for
//! its first member; a member is added by someone who acts for that member *and* for a current
//! member (a daughter for both parents, a care manager, a resident who is her husband's proxy).
//! Revoking the sticker makes it list nobody.
//!
//! A paramedic device that scans the sticker (`POST /api/v1/household-scans`, signed) gets the
//! listed members — name, kana, age, sex, photo if the member's consent shares it — and each
//! member's active card, so that picking the patient is an ordinary scan of that card
//! (`POST /api/v1/scans`: the grant, the disclosure and the access history as for any scan).
//! Each listing is an audit event about each listed member (their access history).

use super::accounts::Actor;
use super::cards::{IssuePolicy, active_key};
use super::consent;
use super::devices::{SignedBy, consume_nonce};
use super::residents::for_actor;
use super::{check_id, deny};
use crate::audit::{self, Action, Event, Outcome};
use crate::db::households::{self as q, HouseholdRow};
use crate::db::residents::ResidentRow;
use crate::db::{self, Db, DbConnection};
use crate::domain::{CardStatus, Category, HouseholdStatus, Purpose, ResidentStatus, Role};
use crate::service::error::DomainError;
use base64::Engine;
use kyukit_card::{CardId, HouseholdClaims, KeySet};
use serde::{Deserialize, Serialize};

/// Most current members a household may have.
pub const MAX_MEMBERS: usize = 12;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    /// The resident to list (the caller acts for them: their consent to be listed).
    pub resident_id: String,
}

/// A member as the household's managers see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Member {
    pub resident_id: String,
    pub name: String,
    pub consented_at: i64,
    /// Whether a paramedic scanning the sticker now lists them (active record, consent to share
    /// with responders in force, an active card).
    pub listed: bool,
    /// Whether the caller acts for this member (may take them off).
    pub mine: bool,
}

/// A household and its sticker.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Household {
    /// The household id: the sticker's `cti` (32 hex).
    pub id: String,
    /// `active` | `revoked`.
    pub status: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// The sticker's URL (what its QR code and NFC tag carry).
    pub url: String,
    pub members: Vec<Member>,
}

fn info(
    c: &mut DbConnection,
    actor: &Actor,
    row: &HouseholdRow,
    base: &str,
    now: i64,
) -> Result<Household, DomainError> {
    let mut members = Vec::new();
    for m in q::members(c, &row.id)? {
        let Some(r) = db::residents::resident(c, &actor.municipality_id, &m.resident_id)? else {
            continue;
        };
        let mine = for_actor(c, actor, &r.id).is_ok();
        let listed = listable(c, &r, now)?.is_some();
        members.push(Member {
            name: format!("{} {}", r.family_name, r.given_name),
            resident_id: r.id,
            consented_at: m.consented_at,
            listed,
            mine,
        });
    }
    Ok(Household {
        id: row.id.clone(),
        status: row.status.to_string(),
        created_at: row.created_at,
        revoked_at: row.revoked_at,
        url: kyukit_card::household_url(base, &row.cose).map_err(DomainError::internal)?,
        members,
    })
}

/// A member's card to list if they may be listed now: the record active, consent to share
/// with responders in force, and an active, unexpired card (the newest).
fn listable(
    c: &mut DbConnection,
    r: &ResidentRow,
    now: i64,
) -> Result<Option<(consent::Consent, Vec<u8>)>, DomainError> {
    if r.status != ResidentStatus::Active {
        return Ok(None);
    }
    let Some(consent) = consent::current(c, &r.id)? else {
        return Ok(None);
    };
    let card = db::cards::cards_of(c, &r.id)?
        .into_iter()
        .find(|k| k.status == CardStatus::Active && k.expires_at > now);
    Ok(card.map(|k| (consent, k.cose)))
}

/// The household, if the caller acts for one of its current members (else 404: its existence
/// is not revealed).
fn managed(
    c: &mut DbConnection,
    actor: &Actor,
    household_id: &str,
) -> Result<HouseholdRow, DomainError> {
    check_id(household_id)?;
    let missing = || DomainError::not_found("no such household");
    let row = q::household(c, &actor.municipality_id, household_id)?.ok_or_else(missing)?;
    let manages = q::members(c, &row.id)?
        .iter()
        .any(|m| for_actor(c, actor, &m.resident_id).is_ok());
    if manages { Ok(row) } else { Err(missing()) }
}

fn refused(
    db: &Db,
    actor: &Actor,
    action: Action,
    about: Option<&str>,
    err: DomainError,
    now: i64,
) -> DomainError {
    let mut event = actor.event(action, Outcome::Denied);
    if let Some(r) = about.filter(|r| check_id(r).is_ok()) {
        event = event.about(r);
    }
    deny(db, &actor.municipality_id, event, err, now)
}

/// Creates a household with `input.resident_id` as its first member and signs its sticker.
pub fn create(
    db: &Db,
    actor: &Actor,
    input: &MemberInput,
    policy: &IssuePolicy,
    now: i64,
) -> Result<Household, DomainError> {
    let rid = input.resident_id.as_str();
    let (resident, _) = db
        .read(|c| for_actor(c, actor, rid))
        .map_err(|e| refused(db, actor, Action::CreateHousehold, None, e, now))?;
    if resident.status != ResidentStatus::Active {
        return Err(DomainError::conflict(
            "withdrawn",
            "the record is withdrawn (支援中止)",
        ));
    }
    let key = active_key(db, actor, policy)?;
    let id = crate::secrets::new_card_id().map_err(DomainError::internal)?;
    let row = db.write(|c| {
        let issuer = db::keys::municipality(c, &actor.municipality_id)?
            .map(|m| format!("jp-{}", m.code))
            .filter(|i| i.len() <= 32 && i.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        let claims = HouseholdClaims {
            household_id: id,
            issuer,
            issued_at: now,
        };
        let cose = kyukit_card::sign_household(&claims, &key).map_err(DomainError::internal)?;
        let row = HouseholdRow {
            id: id.to_hex(),
            municipality_id: actor.municipality_id.clone(),
            created_by: actor.account_id.clone(),
            created_at: now,
            kid: key.kid().to_b64(),
            cose,
            status: HouseholdStatus::Active,
            revoked_at: None,
            revoked_by: None,
        };
        q::insert(c, &row)?;
        q::join(c, &row.id, &resident.id, &actor.account_id, now)?;
        let event = actor
            .event(Action::CreateHousehold, Outcome::Ok)
            .about(&resident.id)
            .detail(format!("household {}", row.id));
        audit::append(c, &actor.municipality_id, &event, now);
        Ok::<_, DomainError>(row)
    })?;
    db.read(|c| info(c, actor, &row, policy.card_base_url, now))
}

/// The households a resident is listed on.
pub fn of_resident(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    base: &str,
    now: i64,
) -> Result<Vec<Household>, DomainError> {
    db.read(|c| {
        for_actor(c, actor, resident_id)?;
        q::of_resident(c, &actor.municipality_id, resident_id)?
            .iter()
            .map(|h| info(c, actor, h, base, now))
            .collect()
    })
}

/// One household the caller manages.
pub fn get(
    db: &Db,
    actor: &Actor,
    household_id: &str,
    base: &str,
    now: i64,
) -> Result<Household, DomainError> {
    db.read(|c| {
        let row = managed(c, actor, household_id)?;
        info(c, actor, &row, base, now)
    })
}

/// Lists another member: the caller acts for them (their consent) and for a current member.
pub fn add_member(
    db: &Db,
    actor: &Actor,
    household_id: &str,
    input: &MemberInput,
    base: &str,
    now: i64,
) -> Result<Household, DomainError> {
    let rid = input.resident_id.as_str();
    let found = db.read(|c| {
        let row = managed(c, actor, household_id)?;
        let (resident, _) = for_actor(c, actor, rid)?;
        Ok::<_, DomainError>((row, resident))
    });
    let (row, resident) =
        found.map_err(|e| refused(db, actor, Action::JoinHousehold, Some(rid), e, now))?;
    if row.status != HouseholdStatus::Active {
        return Err(DomainError::conflict(
            "household_revoked",
            "this sticker is revoked",
        ));
    }
    if resident.status != ResidentStatus::Active {
        return Err(DomainError::conflict(
            "withdrawn",
            "the record is withdrawn (支援中止)",
        ));
    }
    db.write(|c| {
        let members = q::members(c, &row.id)?;
        if members.iter().any(|m| m.resident_id == resident.id) {
            return Err(DomainError::conflict(
                "already_member",
                "already listed on this household",
            ));
        }
        if members.len() >= MAX_MEMBERS {
            return Err(DomainError::conflict(
                "too_many_members",
                format!("at most {MAX_MEMBERS} members"),
            ));
        }
        q::join(c, &row.id, &resident.id, &actor.account_id, now)?;
        let event = actor
            .event(Action::JoinHousehold, Outcome::Ok)
            .about(&resident.id)
            .detail(format!("household {}", row.id));
        audit::append(c, &actor.municipality_id, &event, now);
        Ok(())
    })?;
    db.read(|c| info(c, actor, &row, base, now))
}

/// A member leaves: the caller acts for them (or for another current member). Listed no more
/// from this moment.
pub fn remove_member(
    db: &Db,
    actor: &Actor,
    household_id: &str,
    resident_id: &str,
    now: i64,
) -> Result<(), DomainError> {
    let row = db
        .read(|c| managed(c, actor, household_id))
        .map_err(|e| refused(db, actor, Action::LeaveHousehold, Some(resident_id), e, now))?;
    check_id(resident_id)?;
    let left = db.write(|c| {
        if !q::leave(c, &row.id, resident_id, &actor.account_id, now)? {
            return Ok(false);
        }
        let event = actor
            .event(Action::LeaveHousehold, Outcome::Ok)
            .about(resident_id)
            .detail(format!("household {}", row.id));
        audit::append(c, &actor.municipality_id, &event, now);
        Ok::<_, DomainError>(true)
    })?;
    if left {
        Ok(())
    } else {
        Err(DomainError::not_found("not a member of this household"))
    }
}

/// Revokes the sticker: it lists nobody from now on (a new household makes a new sticker).
pub fn revoke(db: &Db, actor: &Actor, household_id: &str, now: i64) -> Result<(), DomainError> {
    let row = db
        .read(|c| managed(c, actor, household_id))
        .map_err(|e| refused(db, actor, Action::RevokeHousehold, None, e, now))?;
    let done = db.write(|c| {
        if !q::revoke(c, &actor.municipality_id, &row.id, &actor.account_id, now)? {
            return Ok(false);
        }
        for m in q::members(c, &row.id)? {
            let event = actor
                .event(Action::RevokeHousehold, Outcome::Ok)
                .about(&m.resident_id)
                .detail(format!("household {}", row.id));
            audit::append(c, &actor.municipality_id, &event, now);
        }
        Ok::<_, DomainError>(true)
    })?;
    if done {
        Ok(())
    } else {
        Err(DomainError::conflict(
            "household_revoked",
            "this sticker is revoked already",
        ))
    }
}

/// The sticker's bytes for printing, if the caller manages the household and it is active.
pub fn sticker(db: &Db, actor: &Actor, household_id: &str) -> Result<HouseholdRow, DomainError> {
    let row = db.read(|c| managed(c, actor, household_id))?;
    if row.status != HouseholdStatus::Active {
        return Err(DomainError::conflict(
            "household_revoked",
            "this sticker is revoked",
        ));
    }
    Ok(row)
}

// ---- the paramedic's scan of a sticker ----------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseholdScanInput {
    /// The sticker: its URL (what the QR code or NFC tag carries) or its COSE bytes as base64url.
    pub sticker: String,
    /// The crew's incident reference (1–64 characters), recorded with each listing.
    pub incident_ref: String,
}

/// One listed member: enough to pick the patient, and their card to scan.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Listed {
    pub family_name: String,
    pub given_name: String,
    pub family_name_kana: Option<String>,
    pub given_name_kana: Option<String>,
    /// Whole years today (Japan).
    pub age: u32,
    /// `female` | `male` | `other` | `unknown`.
    pub sex: String,
    /// The identity photo as base64 JPEG, only if the member's consent shares `photo`.
    pub photo_jpeg: Option<String>,
    /// The member's active card (COSE bytes, base64url): scan it (`POST /api/v1/scans`) to pick
    /// this member.
    pub card: String,
}

/// What a paramedic sees after scanning a household sticker.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HouseholdListing {
    pub household_id: String,
    pub members: Vec<Listed>,
}

fn sticker_bytes(s: &str) -> Result<Vec<u8>, DomainError> {
    let s = s.trim();
    let invalid = |m: String| DomainError::unprocessable("invalid_sticker", m);
    if s.len() > 4096 {
        return Err(invalid("sticker: too long".into()));
    }
    if s.get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
    {
        return kyukit_card::parse_household_url(s).map_err(|e| invalid(format!("sticker: {e}")));
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| {
            invalid("sticker: a sticker URL (https://…/h/…) or its COSE bytes as base64url".into())
        })
}

/// A paramedic's scan of a sticker: verified, then its listed members, each listing audited
/// about the member, in one write with the request's nonce. Refusals are audited.
pub fn scan(
    db: &Db,
    trusted: &KeySet,
    actor: &Actor,
    by: &SignedBy,
    input: &HouseholdScanInput,
    now: i64,
) -> Result<HouseholdListing, DomainError> {
    let base = || {
        actor
            .event(Action::ListHousehold, Outcome::Denied)
            .purpose(Purpose::Scan)
    };
    let refuse = |err: DomainError| deny(db, &actor.municipality_id, base(), err, now);
    if !(actor.role == Role::Paramedic && actor.device_id.is_some()) {
        return Err(refuse(DomainError::forbidden(
            "only paramedics on enrolled devices may read emergency data",
        )));
    }
    let incident_ref = super::text("incident_ref", &input.incident_ref, 1, 64)?;
    let cose = sticker_bytes(&input.sticker)?;
    let verified = kyukit_card::verify_household(&cose, trusted).map_err(|e| {
        refuse(DomainError::forbidden_code(
            "sticker_not_genuine",
            format!("not a genuine household sticker: {e}"),
        ))
    })?;
    let id: CardId = verified.claims.household_id;
    let row = db
        .read(|c| q::household(c, &actor.municipality_id, &id.to_hex()).map_err(DomainError::from))?
        .filter(|r| r.cose == cose)
        .ok_or_else(|| {
            refuse(
                DomainError::not_found("this sticker was not issued here")
                    .with_code("sticker_unknown"),
            )
        })?;
    if row.status != HouseholdStatus::Active {
        return Err(refuse(DomainError::forbidden_code(
            "sticker_revoked",
            "this household sticker is revoked",
        )));
    }
    let listed = db.read(|c| {
        let mut out = Vec::new();
        for m in q::members(c, &row.id)? {
            let Some(r) = db::residents::resident(c, &actor.municipality_id, &m.resident_id)?
            else {
                continue;
            };
            let Some((consent, card)) = listable(c, &r, now)? else {
                continue;
            };
            let photo = if consent.categories.contains(&Category::Photo) {
                db::photos::photo(c, &actor.municipality_id, &r.id)?
                    .map(|p| base64::engine::general_purpose::STANDARD.encode(p.jpeg))
            } else {
                None
            };
            out.push((r, card, photo));
        }
        Ok::<_, DomainError>(out)
    })?;
    db.write(|c| {
        consume_nonce(c, by)?;
        let ok = || {
            actor
                .event(Action::ListHousehold, Outcome::Ok)
                .purpose(Purpose::Scan)
        };
        let detail = |photo: bool| {
            format!(
                "household {} incident {incident_ref} device {}{}",
                row.id,
                by.device.id,
                if photo { " photo" } else { "" }
            )
        };
        if listed.is_empty() {
            audit::append(c, &actor.municipality_id, &ok().detail(detail(false)), now);
        }
        for (r, _, photo) in &listed {
            let event: Event = ok().about(&r.id).detail(detail(photo.is_some()));
            audit::append(c, &actor.municipality_id, &event, now);
        }
        Ok::<_, DomainError>(())
    })?;
    Ok(HouseholdListing {
        household_id: row.id.clone(),
        members: listed
            .into_iter()
            .map(|(r, card, photo)| Listed {
                age: super::access::age(&r.date_of_birth, now),
                family_name: r.family_name,
                given_name: r.given_name,
                family_name_kana: r.family_name_kana,
                given_name_kana: r.given_name_kana,
                sex: r.sex,
                photo_jpeg: photo,
                card: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(card),
            })
            .collect(),
    })
}

/// Whether these exact sticker bytes are an active household's (the bystander page).
pub fn is_active(db: &Db, muni: &str, cose: &[u8]) -> Result<bool, DomainError> {
    let Ok((_, claims)) = kyukit_card::decode_household_unverified(cose) else {
        return Ok(false);
    };
    let row = db.read(|c| {
        q::household(c, muni, &claims.household_id.to_hex()).map_err(DomainError::from)
    })?;
    Ok(row.is_some_and(|r| r.cose == cose && r.status == HouseholdStatus::Active))
}
