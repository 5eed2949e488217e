//! Cards: issue (signed with the municipality's active key via `kyukit-card`), list, reissue,
//! revoke; the per-kid revocation list; renderings (QR, NDEF). The triage core goes on a card only
//! if the resident opted in, and only from categories they consented to share.

use super::accounts::Actor;
use super::consent::{self, Consent};
use super::dataset::{AdvanceDirective, Allergy, BloodTypeItem, Condition, Device, Medication};
use super::keys;
use super::residents::for_actor;
use crate::audit;
use crate::db::cards::CardRow;
use crate::db::residents::DatasetItemRow;
use crate::db::{self, Db, DbConnection, Tx};
use crate::domain::{CardStatus, Category, DirectiveStatus, KeyStatus, ResidentStatus};
use crate::service::error::DomainError;
use kyukit_card::{Abo, BloodType, CardId, Claims, Rh, TriageCore, TriageFlag, TriageFlags};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What issuing needs from configuration.
#[derive(Debug, Clone)]
pub struct IssuePolicy<'a> {
    pub data_dir: &'a Path,
    pub card_base_url: &'a str,
    pub validity_secs: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CardInfo {
    pub id: String,
    pub kid: String,
    pub url: String,
    pub triage: bool,
    pub issued_at: i64,
    pub expires_at: i64,
    /// `active` | `revoked`.
    pub status: String,
    pub revoked_at: Option<i64>,
    /// Free text, or `consent_changed`: a consent version no longer allowed its triage core
    /// ([`CONSENT_CHANGED`]); make a new card.
    pub revoke_reason: Option<String>,
    /// An active card whose triage core is no longer what the dataset and consent give now
    /// (computed at read time): it still works, but make a new card. Always `false` for a
    /// card without a triage core and for a revoked card.
    pub stale: bool,
}

/// The revocation reason of cards a consent version revoked.
pub const CONSENT_CHANGED: &str = "consent_changed";

fn info(row: &CardRow, base: &str, stale: bool) -> Result<CardInfo, DomainError> {
    Ok(CardInfo {
        stale,
        id: row.id.clone(),
        kid: row.kid.clone(),
        url: kyukit_card::card_url(base, &row.cose).map_err(DomainError::internal)?,
        triage: row.triage,
        issued_at: row.issued_at,
        expires_at: row.expires_at,
        status: row.status.to_string(),
        revoked_at: row.revoked_at,
        revoke_reason: row.revoke_reason.clone(),
    })
}

fn body<T: for<'de> Deserialize<'de>>(items: &[DatasetItemRow], category: Category) -> Vec<T> {
    items
        .iter()
        .filter(|i| i.category == category)
        .filter_map(|i| serde_json::from_str(&i.body).ok())
        .collect()
}

/// Derives the triage core from the consented categories of the dataset.
pub fn triage_core(items: &[DatasetItemRow], consent: &Consent) -> TriageCore {
    let shared = |c: Category| consent.categories.contains(&c);
    let mut flags = TriageFlags::empty();
    let mut blood_type = BloodType::UNKNOWN;
    if shared(Category::BloodType)
        && let Some(b) = body::<BloodTypeItem>(items, Category::BloodType).first()
    {
        {
            let abo = match b.abo.as_str() {
                "A" => Abo::A,
                "B" => Abo::B,
                "O" => Abo::O,
                "AB" => Abo::AB,
                _ => Abo::Unknown,
            };
            let rh = match b.rh.as_str() {
                "+" => Rh::Positive,
                "-" => Rh::Negative,
                _ => Rh::Unknown,
            };
            blood_type = BloodType { abo, rh };
        }
    }
    if shared(Category::Medications) {
        let meds = body::<Medication>(items, Category::Medications);
        if meds.iter().any(|m| m.anticoagulant) {
            flags = flags.with(TriageFlag::Anticoagulant);
        }
        if meds.iter().any(|m| m.insulin) {
            flags = flags.with(TriageFlag::Insulin);
        }
    }
    if shared(Category::Allergies)
        && body::<Allergy>(items, Category::Allergies)
            .iter()
            .any(|a| a.severity == "severe" || a.severity == "anaphylaxis")
    {
        flags = flags.with(TriageFlag::SevereAllergy);
    }
    // DNAR and ACP each have their own flag: an ACP document is not a DNAR order, and a card must
    // never suggest one (issue 19). The legacy "DNAR or ACP" bit is never set on a new card.
    if shared(Category::AdvanceDirective) {
        for directive in body::<AdvanceDirective>(items, Category::AdvanceDirective) {
            match directive.status() {
                Some(DirectiveStatus::Dnar) => flags = flags.with(TriageFlag::Dnar),
                Some(DirectiveStatus::Acp) => flags = flags.with(TriageFlag::Acp),
                Some(DirectiveStatus::None) | None => {}
            }
        }
    }
    if shared(Category::Devices) {
        let devices = body::<Device>(items, Category::Devices);
        if !devices.is_empty() {
            flags = flags.with(TriageFlag::ImplantedDevice);
        }
        if devices.iter().any(|d| d.kind == "insulin_pump") {
            flags = flags.with(TriageFlag::Insulin);
        }
    }
    let epileptic = |c: &Condition| {
        c.icd10
            .as_deref()
            .is_some_and(|x| x.starts_with("G40") || x.starts_with("G41"))
            || c.name.contains("てんかん")
            || c.name.to_lowercase().contains("epilep")
    };
    if shared(Category::Conditions)
        && body::<Condition>(items, Category::Conditions)
            .iter()
            .any(epileptic)
    {
        flags = flags.with(TriageFlag::Epilepsy);
    }
    TriageCore { blood_type, flags }
}

fn issue_in(
    conn: &mut Tx<'_>,
    actor: &Actor,
    resident_id: &str,
    policy: &IssuePolicy,
    key: &kyukit_card::IssuerKey,
    now: i64,
) -> Result<CardRow, DomainError> {
    // After a consent version being written for this resident, never beside it: the card is
    // made from the version in force, and a version written after it sees the card to revoke.
    db::residents::lock_resident(conn, &actor.municipality_id, resident_id)?;
    let (resident, _) = for_actor(conn, actor, resident_id)?;
    issue_for(conn, actor, resident, policy, key, now)
}

/// Issues a card for `resident` (locked by the caller, who has checked the actor may: the
/// resident, a proxy, or the city for a batch) from the consent in force and the dataset.
pub(crate) fn issue_for(
    conn: &mut Tx<'_>,
    actor: &Actor,
    resident: crate::db::residents::ResidentRow,
    policy: &IssuePolicy,
    key: &kyukit_card::IssuerKey,
    now: i64,
) -> Result<CardRow, DomainError> {
    let resident_id = resident.id.clone();
    let resident_id = resident_id.as_str();
    if resident.status != ResidentStatus::Active {
        return Err(DomainError::conflict(
            "withdrawn",
            "support is stopped (支援中止): give consent again to get a card",
        ));
    }
    let consent = consent::current(conn, resident_id)?.ok_or_else(|| {
        DomainError::conflict("consent_required", "record consent before issuing a card")
    })?;
    let triage = if consent.triage_on_card {
        Some(triage_core(
            &db::residents::items(conn, resident_id)?,
            &consent,
        ))
    } else {
        None
    };
    let card_id = crate::secrets::new_card_id().map_err(DomainError::internal)?;
    let claims = Claims {
        card_id,
        issuer: None,
        issued_at: Some(now),
        expires_at: now + policy.validity_secs,
        triage,
    };
    let cose = kyukit_card::sign(&claims, key).map_err(DomainError::internal)?;
    let row = CardRow {
        id: card_id.to_hex(),
        municipality_id: resident.municipality_id,
        resident_id: resident.id,
        kid: key.kid().to_b64(),
        cose,
        triage: claims.triage.is_some(),
        issued_at: now,
        expires_at: claims.expires_at,
        status: CardStatus::Active,
        revoked_at: None,
        revoke_reason: None,
        consent_version: Some(consent.version),
    };
    db::cards::insert_card(conn, &row)?;
    let event = audit::Event::new(audit::Action::IssueCard, audit::Outcome::Ok)
        .by(&actor.account_id, actor.role)
        .about(resident_id)
        .detail(row.id.clone());
    audit::append(conn, &actor.municipality_id, &event, now);
    Ok(row)
}

pub(crate) fn active_key(
    db: &Db,
    actor: &Actor,
    policy: &IssuePolicy,
) -> Result<kyukit_card::IssuerKey, DomainError> {
    keys::load(db, policy.data_dir, &actor.municipality_id, true)?
        .active
        .ok_or_else(|| {
            DomainError::unavailable("no active issuer key (all keys retired or compromised)")
        })
}

pub fn issue(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    policy: &IssuePolicy,
    now: i64,
) -> Result<CardInfo, DomainError> {
    let key = active_key(db, actor, policy)?;
    let row = db.write(|c| issue_in(c, actor, resident_id, policy, &key, now))?;
    // Issued from the data and consent of this transaction: current by construction.
    info(&row, policy.card_base_url, false)
}

/// The triage core a card issued now would carry (`None`: the consent in force puts none on a
/// card, or there is no grant in force).
pub(crate) fn core_now(
    conn: &mut DbConnection,
    resident_id: &str,
) -> Result<Option<TriageCore>, DomainError> {
    let Some(consent) = consent::current(conn, resident_id)? else {
        return Ok(None);
    };
    let items = db::residents::items(conn, resident_id)?;
    Ok(current_core(&items, &consent))
}

/// The triage core a card issued now from `items` under `consent` would carry.
pub fn current_core(items: &[DatasetItemRow], consent: &Consent) -> Option<TriageCore> {
    consent.triage_on_card.then(|| triage_core(items, consent))
}

/// Whether a card whose signed triage core is `card_core` (`None`: a pointer card) still says
/// what a card issued now would say (`now`, from [`current_core`]). A pointer card carries
/// nothing that can go out of date.
pub fn is_current(card_core: Option<&TriageCore>, now: Option<&TriageCore>) -> bool {
    card_core.is_none_or(|card| now == Some(card))
}

/// The triage core signed into a card this server issued (its own stored bytes).
pub fn signed_core(row: &CardRow) -> Result<Option<TriageCore>, DomainError> {
    let (_, claims) = kyukit_card::decode_unverified(&row.cose).map_err(DomainError::internal)?;
    Ok(claims.triage)
}

/// Whether an active card has gone out of date (see [`CardInfo::stale`]).
pub(crate) fn stale(row: &CardRow, now: Option<&TriageCore>) -> Result<bool, DomainError> {
    Ok(row.status == CardStatus::Active && !is_current(signed_core(row)?.as_ref(), now))
}

/// Whether any active card of the resident has gone out of date ([`CardInfo::stale`]).
pub fn any_stale(conn: &mut DbConnection, resident_id: &str) -> Result<bool, DomainError> {
    let now = core_now(conn, resident_id)?;
    for r in db::cards::cards_of(conn, resident_id)? {
        if stale(&r, now.as_ref())? {
            return Ok(true);
        }
    }
    Ok(false)
}

pub fn list(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    base: &str,
) -> Result<Vec<CardInfo>, DomainError> {
    db.read(|c| {
        for_actor(c, actor, resident_id)?;
        let now = core_now(c, resident_id)?;
        db::cards::cards_of(c, resident_id)?
            .iter()
            .map(|r| info(r, base, stale(r, now.as_ref())?))
            .collect()
    })
}

/// The categories [`triage_core`] reads: a card's core came from those of them its consent
/// version shared. (A unit test keeps this list true: no other category changes the core.)
pub const TRIAGE_SOURCES: [Category; 6] = [
    Category::BloodType,
    Category::Medications,
    Category::Allergies,
    Category::AdvanceDirective,
    Category::Devices,
    Category::Conditions,
];

/// Inside a consent grant's transaction: revokes (reason [`CONSENT_CHANGED`]) every active card
/// whose triage core the new consent no longer allows — all of them if the new consent turns
/// `triage_on_card` off, else those issued under a version that shared a category the core
/// comes from ([`TRIAGE_SOURCES`]) which the new one drops. A pointer card (no core) stays.
/// Returns the ids revoked.
pub(crate) fn revoke_for_consent(
    c: &mut Tx<'_>,
    actor: &Actor,
    resident_id: &str,
    new: &Consent,
    now: i64,
) -> Result<Vec<String>, DomainError> {
    let cards = db::cards::active_triage_cards(c, resident_id)?;
    if cards.is_empty() {
        return Ok(Vec::new());
    }
    let versions = db::residents::consents(c, resident_id)?
        .into_iter()
        .map(Consent::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let dropped = |shared: &[Category]| {
        TRIAGE_SOURCES
            .iter()
            .any(|s| shared.contains(s) && !new.categories.contains(s))
    };
    let mut revoked = Vec::new();
    for card in cards {
        // The version the card was issued under; unknown (a card older than the record of
        // it with no consent before it): assume it shared every category.
        let under = versions
            .iter()
            .find(|v| Some(v.version) == card.consent_version);
        let shared = under.map_or(&TRIAGE_SOURCES[..], |v| &v.categories[..]);
        let affected = !new.triage_on_card || dropped(shared);
        if affected && db::cards::revoke_card(c, &card.id, CONSENT_CHANGED, now)? == 1 {
            let event = audit::Event::new(audit::Action::RevokeCard, audit::Outcome::Ok)
                .by(&actor.account_id, actor.role)
                .about(resident_id)
                .detail(format!("{} {CONSENT_CHANGED}", card.id));
            audit::append(c, &actor.municipality_id, &event, now);
            revoked.push(card.id);
        }
    }
    Ok(revoked)
}

/// The card `card_id` of `resident_id` in the actor's municipality, or 404. The caller has already
/// checked, with `for_actor`, that the actor may act for the resident.
fn owned_card(
    conn: &mut DbConnection,
    actor: &Actor,
    resident_id: &str,
    card_id: &str,
) -> Result<CardRow, DomainError> {
    db::cards::card(conn, &actor.municipality_id, card_id)?
        .filter(|r| r.resident_id == resident_id)
        .ok_or_else(|| DomainError::not_found("no such card"))
}

/// A card of a resident the actor may act for.
pub fn get_row(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    card_id: &str,
) -> Result<CardRow, DomainError> {
    super::check_id(card_id)?;
    db.read(|c| {
        for_actor(c, actor, resident_id)?;
        owned_card(c, actor, resident_id, card_id)
    })
}

/// An active card of a resident the actor may act for, to be handed out again as its QR code or
/// NFC tag: a revoked card is refused (409 `card_revoked`), as for the printables.
pub fn active_row(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    card_id: &str,
) -> Result<CardRow, DomainError> {
    let row = get_row(db, actor, resident_id, card_id)?;
    if row.status != CardStatus::Active {
        return Err(card_revoked());
    }
    Ok(row)
}

fn card_revoked() -> DomainError {
    DomainError::conflict("card_revoked", "this card is revoked; use the current card")
}

pub fn get(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    card_id: &str,
    base: &str,
) -> Result<CardInfo, DomainError> {
    super::check_id(card_id)?;
    db.read(|c| {
        for_actor(c, actor, resident_id)?;
        let row = owned_card(c, actor, resident_id, card_id)?;
        let now = core_now(c, resident_id)?;
        info(&row, base, stale(&row, now.as_ref())?)
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeInput {
    pub reason: String,
}

pub fn revoke(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    card_id: &str,
    input: RevokeInput,
    base: &str,
    now: i64,
) -> Result<CardInfo, DomainError> {
    let reason = super::text("reason", &input.reason, 1, 200)?;
    super::check_id(card_id)?;
    let row = db.write(|c| {
        for_actor(c, actor, resident_id)?;
        let row = owned_card(c, actor, resident_id, card_id)?;
        if row.status != CardStatus::Active {
            return Err(DomainError::conflict(
                "already_revoked",
                "this card is already revoked",
            ));
        }
        db::cards::revoke_card(c, card_id, &reason, now)?;
        let event = audit::Event::new(audit::Action::RevokeCard, audit::Outcome::Ok)
            .by(&actor.account_id, actor.role)
            .about(resident_id)
            .detail(card_id);
        audit::append(c, &actor.municipality_id, &event, now);
        db::cards::card(c, &actor.municipality_id, card_id)?
            .ok_or_else(|| DomainError::not_found("no such card"))
    })?;
    info(&row, base, false)
}

/// Revokes a card and issues its replacement in one transaction.
pub fn reissue(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    card_id: &str,
    policy: &IssuePolicy,
    now: i64,
) -> Result<CardInfo, DomainError> {
    super::check_id(card_id)?;
    let key = active_key(db, actor, policy)?;
    let row = db.write(|c| {
        for_actor(c, actor, resident_id)?;
        let old = owned_card(c, actor, resident_id, card_id)?;
        if old.status == CardStatus::Active {
            db::cards::revoke_card(c, card_id, "reissued", now)?;
            let event = audit::Event::new(audit::Action::ReissueCard, audit::Outcome::Ok)
                .by(&actor.account_id, actor.role)
                .about(resident_id)
                .detail(card_id);
            audit::append(c, &actor.municipality_id, &event, now);
        }
        issue_in(c, actor, resident_id, policy, &key, now)
    })?;
    info(&row, policy.card_base_url, false)
}

/// The published revocation list of one key.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RevocationList {
    pub kid: String,
    /// `active` | `retired` | `compromised` (a compromised key's cards are all invalid).
    #[schema(value_type = String)]
    pub key_status: KeyStatus,
    /// Revoked, unexpired card ids (`cti`, hex).
    pub revoked: Vec<String>,
    pub generated_at: i64,
}

impl RevocationList {
    /// What an offline verifier does with a list after the signature: refuse the card if its key
    /// is compromised or its id is listed. `Err` says why, in one line.
    pub fn check(&self, card: &kyukit_card::VerifiedCard) -> Result<(), String> {
        if self.kid != card.kid.to_b64() {
            return Err(format!(
                "the revocation list is for key {}, the card is signed by {}",
                self.kid, card.kid
            ));
        }
        if self.key_status == KeyStatus::Compromised {
            return Err(format!("its signing key {} is compromised", card.kid));
        }
        if self
            .revoked
            .iter()
            .any(|c| *c == card.claims.card_id.to_hex())
        {
            return Err(format!("card {} is revoked", card.claims.card_id));
        }
        Ok(())
    }
}

pub fn revocation_list(
    db: &Db,
    muni: &str,
    kid: &str,
    now: i64,
) -> Result<RevocationList, DomainError> {
    if kid.len() > 16
        || !kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(DomainError::not_found("no such key"));
    }
    db.read(|c| {
        let key = db::keys::issuer_keys(c, muni)?
            .into_iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| DomainError::not_found("no such key"))?;
        let revoked = db::cards::revoked_card_ids(c, muni, kid, now)?;
        Ok(RevocationList {
            kid: kid.into(),
            key_status: key.status,
            revoked,
            generated_at: now,
        })
    })
}

/// Whether a verified card is revoked (or its resident withdrew).
pub fn is_revoked(db: &Db, muni: &str, card: &CardId) -> Result<bool, DomainError> {
    db.read(|c| {
        Ok(
            db::cards::card(c, muni, &card.to_hex())?
                .is_none_or(|r| r.status != CardStatus::Active),
        )
    })
}

/// Everything a printable needs, with the name only if the resident's consent says so.
#[derive(Debug)]
pub struct PrintData {
    pub url: String,
    pub name: Option<String>,
    pub municipality_ja: String,
    pub municipality_en: String,
    pub card_ref: String,
    pub issued_on: String,
    pub expires_on: String,
}

pub fn print_data(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    card_id: &str,
    base: &str,
) -> Result<PrintData, DomainError> {
    super::check_id(card_id)?;
    db.read(|c| {
        let (resident, _) = for_actor(c, actor, resident_id)?;
        let row = owned_card(c, actor, resident_id, card_id)?;
        if row.status != CardStatus::Active {
            return Err(card_revoked());
        }
        let show_name = consent::current(c, resident_id)?.is_some_and(|k| k.name_on_print);
        let muni = db::keys::municipality(c, &actor.municipality_id)?
            .ok_or_else(|| DomainError::internal("municipality row missing"))?;
        Ok(PrintData {
            url: kyukit_card::card_url(base, &row.cose).map_err(DomainError::internal)?,
            name: show_name.then(|| format!("{} {}", resident.family_name, resident.given_name)),
            municipality_ja: muni.name_ja,
            municipality_en: muni.name_en,
            card_ref: row.id[..8].to_string(),
            issued_on: super::today(row.issued_at),
            expires_on: super::today(row.expires_at),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConsentStatus, GivenBy, Provenance};
    use serde_json::json;

    fn item(category: Category, body: serde_json::Value) -> DatasetItemRow {
        DatasetItemRow {
            id: "i".into(),
            municipality_id: "m".into(),
            resident_id: "r".into(),
            category,
            body: body.to_string(),
            provenance: Provenance::SelfEntered,
            last_verified: None,
            updated_by: "a".into(),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn consent(categories: &[Category]) -> Consent {
        Consent {
            version: 1,
            status: ConsentStatus::Granted,
            categories: categories.to_vec(),
            disaster_use: false,
            triage_on_card: true,
            name_on_print: false,
            notify_family: false,
            family_hospital_name: false,
            given_by: GivenBy::SelfGiven,
            proxy_id: None,
            recorded_at: 0,
        }
    }

    /// Every body that sets something in the core, filed under every category: whatever
    /// category `triage_core` reads, it finds a flag there.
    fn everything_everywhere() -> Vec<DatasetItemRow> {
        let bodies = [
            json!({"abo": "AB", "rh": "-"}),
            json!({"name": "ワルファリン", "anticoagulant": true, "insulin": true}),
            json!({"substance": "ペニシリン", "severity": "anaphylaxis"}),
            json!({"status": "dnar"}),
            json!({"status": "acp"}),
            json!({"kind": "insulin_pump"}),
            json!({"name": "てんかん", "icd10": "G40.9"}),
        ];
        Category::ALL
            .iter()
            .flat_map(|c| bodies.iter().map(|b| item(*c, b.clone())))
            .collect()
    }

    #[test]
    fn triage_sources_are_every_category_the_core_reads() {
        let items = everything_everywhere();
        let all = triage_core(&items, &consent(Category::ALL));
        assert_eq!(triage_core(&items, &consent(&TRIAGE_SOURCES)), all);
        // And each source does count: without it, the core changes.
        for s in TRIAGE_SOURCES {
            let without: Vec<Category> = TRIAGE_SOURCES.into_iter().filter(|c| *c != s).collect();
            assert_ne!(triage_core(&items, &consent(&without)), all, "{s}");
        }
    }

    #[test]
    fn a_pointer_card_is_always_current_a_triage_card_only_with_the_same_core() {
        let items = everything_everywhere();
        let core = triage_core(&items, &consent(&TRIAGE_SOURCES));
        let other = triage_core(&items, &consent(&[Category::BloodType]));
        assert!(is_current(None, None));
        assert!(is_current(None, Some(&core)));
        assert!(is_current(Some(&core), Some(&core)));
        assert!(!is_current(Some(&core), Some(&other)));
        assert!(!is_current(Some(&core), None));
        let mut off = consent(&TRIAGE_SOURCES);
        off.triage_on_card = false;
        assert_eq!(current_core(&items, &off), None);
    }
}
