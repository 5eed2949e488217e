//! Responders' access to a resident's emergency data (RULES R10, R13, R19): a card scan, a
//! break-glass search, a re-read within the grant, and the city's review of break-glass use.
//!
//! Each access checks, in one write transaction: the request's nonce (replay), the card (genuine,
//! unexpired, unrevoked), the resident (active) and the consent in force (a grant), then records
//! the access row and its audit event and returns only the consented categories. Every refusal is
//! an audit event of its own, appended before the answer.

use super::accounts::Actor;
use super::consent::{self, Consent};
use super::dataset::Item;
use super::deny;
use super::devices::{SignedBy, consume_nonce};
use super::disclosure::{Disclosure, Patient};
use super::{check_id, new_id, past_date, text};
use crate::audit::{self, Action, Event, Outcome};
use crate::db::access::AccessRow;
use crate::db::residents::ResidentRow;
use crate::db::{self, Db, DbConnection, Tx};
use crate::domain::{
    AccessKind, CardStatus, Category, Purpose, ResidentStatus, ReviewStatus, Role,
};
use crate::service::error::DomainError;
use base64::Engine;
use kyukit_card::{CardError, KeySet};
use serde::{Deserialize, Serialize};

/// How long a scan's grant lasts (re-reads allowed until then).
pub const SCAN_GRANT_SECS: i64 = 4 * 3600;
/// How long a break-glass grant lasts.
pub const BREAK_GLASS_GRANT_SECS: i64 = 3600;
/// What break-glass may disclose at most (intersected with the consent): the emergency
/// categories. The care team is not needed on scene.
pub const EMERGENCY_CATEGORIES: &[Category] = &[
    Category::Medications,
    Category::Conditions,
    Category::Allergies,
    Category::Devices,
    Category::BloodType,
    Category::AdvanceDirective,
    Category::EmergencyContacts,
];

/// A refusal inside the access transaction, with the resident it concerned (so the resident sees
/// refused attempts in their access history too).
pub(crate) struct Refusal(pub Option<String>, pub DomainError);

impl Refusal {
    /// A denial or a conflict is audited under `event` (with the resident it concerned) in a
    /// transaction of its own and returned; any other error passes through unaudited.
    pub(crate) fn audited(self, db: &Db, muni: &str, mut event: Event, now: i64) -> DomainError {
        let Refusal(resident, err) = self;
        if err.is_denial() || err.kind() == crate::service::error::Kind::Conflict {
            event.resident_id = resident;
            deny(db, muni, event, err, now)
        } else {
            err
        }
    }
}

impl<E: Into<DomainError>> From<E> for Refusal {
    fn from(e: E) -> Self {
        Refusal(None, e.into())
    }
}

fn require_responder(actor: &Actor) -> Result<(), DomainError> {
    if actor.role == Role::Paramedic && actor.device_id.is_some() {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "only paramedics on enrolled devices may read emergency data",
        ))
    }
}

fn base_event(actor: &Actor, action: Action) -> Event {
    actor.event(action, Outcome::Denied)
}

/// Runs `f` in a write transaction that first consumes the request's nonce. A refusal is
/// audited (in its own transaction) under `action`, with the resident if known.
fn guarded<T: Send>(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    action: Action,
    purpose: Purpose,
    now: i64,
    f: impl FnOnce(&mut Tx<'_>) -> Result<T, Refusal> + Send,
) -> Result<T, DomainError> {
    let outcome = db.write(|c| {
        consume_nonce(c, by)?;
        f(c)
    });
    outcome.map_err(|r| audit_refusal(db, actor, action, purpose, r, now))
}

/// [`guarded`] for async callers: the same write on the group-commit writer, awaited without
/// blocking a thread. A refusal (the write rolled back, the nonce with it) is then audited in
/// one more write that spends the nonce ([`crate::service::devices::Failed::settle`]): the
/// request is answered once, whatever the outcome. `about`: the resident the request concerns,
/// for refusals that name none.
#[allow(clippy::too_many_arguments)]
async fn guarded_async<T: Send + 'static>(
    db: &Db,
    actor: Actor,
    by: SignedBy,
    about: Option<Box<(String, String)>>,
    action: Action,
    purpose: Purpose,
    now: i64,
    f: impl FnOnce(&mut Tx<'_>) -> Result<T, Refusal> + Send + 'static,
) -> Result<T, DomainError> {
    let spender = by.clone();
    let outcome = db
        .write_async(move |c| {
            consume_nonce(c, &spender)?;
            f(c)
        })
        .await;
    match outcome {
        Ok(v) => Ok(v),
        Err(r) => {
            // On a holding handle the refusal's denial is only held, not written.
            let (err, held) = db.holding(|h| audit_refusal(h, &actor, action, purpose, r, now));
            let failed = crate::service::devices::Failed {
                err,
                by: Some(Box::new(by)),
                about,
                now,
            };
            match db.write_async(failed.settle(held)).await {
                Ok(err) | Err(err) => Err(err),
            }
        }
    }
}

/// A refusal of `action`, audited (blocking) with the resident if known.
fn audit_refusal(
    db: &Db,
    actor: &Actor,
    action: Action,
    purpose: Purpose,
    refusal: Refusal,
    now: i64,
) -> DomainError {
    let event = base_event(actor, action).purpose(purpose);
    refusal.audited(db, &actor.municipality_id, event, now)
}

/// Refuses before any transaction (e.g. a card that does not verify), audited.
fn refuse_early(
    db: &Db,
    actor: &Actor,
    action: Action,
    purpose: Purpose,
    err: DomainError,
    now: i64,
) -> DomainError {
    let event = base_event(actor, action).purpose(purpose);
    deny(db, &actor.municipality_id, event, err, now)
}

// ---- scan ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanInput {
    /// The card: its URL (what the QR code or NFC tag carries) or its COSE bytes as base64url.
    pub card: String,
    /// The crew's incident reference (1–64 characters), recorded with the access.
    pub incident_ref: String,
}

/// The card bytes from a URL or base64url.
pub(crate) fn card_bytes(card: &str) -> Result<Vec<u8>, DomainError> {
    let card = card.trim();
    let invalid = |m: String| DomainError::unprocessable("invalid_card", m);
    if card.len() > 4096 {
        return Err(invalid("card: too long to be a Kyukit card".into()));
    }
    if card
        .get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
    {
        return kyukit_card::parse_card_url(card)
            .map(|u| u.cose)
            .map_err(|e| invalid(format!("card: {e}")));
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(card)
        .map_err(|_| invalid("card: a card URL (https://…) or its COSE bytes as base64url".into()))
}

/// The resident whose card a scan presented, for a refused scan's audit event: the card this
/// municipality issued under the id the card claims, if the bytes presented are exactly the
/// ones it issued (cards decode canonically: one byte string per card). A forged or altered
/// card naming a real card id names no one, so no one can write into a resident's access
/// history without that resident's card. A read; `None` if anything fails.
pub fn card_resident(db: &Db, muni: &str, input: &ScanInput) -> Option<String> {
    let cose = card_bytes(&input.card).ok()?;
    let (_, claims) = kyukit_card::decode_unverified(&cose).ok()?;
    let id = claims.card_id.to_hex();
    let row = db
        .read(|c| db::cards::card(c, muni, &id).map_err(DomainError::from))
        .ok()??;
    (row.cose == cose).then_some(row.resident_id)
}

/// A scan whose card verified and whose reads found it scannable: what is left is the write
/// ([`PreparedScan::record`]). (Its `Debug` shows the access id only: no medical data.)
pub struct PreparedScan {
    actor: Actor,
    by: SignedBy,
    access: AccessRow,
    version: i32,
    seen: Seen,
    /// The triage core signed into the card presented (verified); `None`: a pointer card.
    card_core: Option<kyukit_card::TriageCore>,
    now: i64,
}

/// Everything of a scan before its write, blocking (database reads): the card's signature,
/// then the reads, outside the write, so that the group-commit writer (which runs every write
/// of the server one after another) only re-checks what could have changed since and records
/// the access. A refusal here is audited as one inside the write would be.
pub fn prepare_scan(
    db: &Db,
    trusted: &KeySet,
    actor: &Actor,
    by: &SignedBy,
    input: &ScanInput,
    now: i64,
) -> Result<PreparedScan, DomainError> {
    let purpose = Purpose::Scan;
    let early = |err: DomainError| refuse_early(db, actor, Action::Scan, purpose, err, now);
    require_responder(actor).map_err(early)?;
    let incident_ref = text("incident_ref", &input.incident_ref, 1, 64)?;
    let cose = card_bytes(&input.card)?;
    // The card's row under the id the card claims (not trusted yet), then the card checked
    // against it: when the card is exactly the bytes this municipality signed and kept, the
    // signature is not recomputed (one of the scan's two P-256 verifications; the other is the
    // device's request signature). A card that fails is refused before anything the row says.
    let claimed = kyukit_card::decode_unverified(&cose)
        .ok()
        .map(|(_, claims)| claims.card_id.to_hex());
    let read = db
        .read(|c| -> Result<_, Refusal> {
            // The card, its resident and their latest consent in one statement (on PostgreSQL
            // each statement is a round trip).
            let found = match &claimed {
                Some(id) => db::cards::card_for_scan(c, &actor.municipality_id, id)?,
                None => None,
            };
            let issued = found.as_ref().map(|(r, _, _)| &r.cose[..]);
            let card = match kyukit_card::verify_as_issuer(&cose, trusted, now, issued) {
                Ok(card) => card,
                Err(e) => return Ok(Err(e)),
            };
            let (row, resident, consent) = match found {
                Some((row, resident, consent)) => {
                    let (resident, consent) = consented(&row.resident_id, Some(resident), || {
                        consent::granted(consent)
                    })?;
                    active_card(row, resident, consent)?
                }
                None => scannable_row(c, actor, None)?,
            };
            let items = db::residents::items(c, &resident.id)?;
            let photo = scan_photo(c, &actor.municipality_id, &resident.id, &consent)?;
            Ok(Ok((card, row, resident, consent, (items, photo))))
        })
        .map_err(|r| audit_refusal(db, actor, Action::Scan, purpose, r, now))?;
    let (card, row, resident, consent, items) = read.map_err(|e| {
        early(match e {
            CardError::UnknownKid(_) => DomainError::forbidden_code(
                "untrusted_issuer",
                "this card was issued by a municipality this server has no trust rule for",
            ),
            CardError::Expired { .. } => DomainError::forbidden_code(
                "card_expired",
                "this card has expired; the resident needs a new one",
            ),
            CardError::BadSignature | CardError::WrongAlgorithm => DomainError::forbidden_code(
                "card_not_genuine",
                "this card is not genuine: its signature does not verify",
            ),
            other => DomainError::unprocessable("invalid_card", format!("card: {other}")),
        })
    })?;
    let card_id = card.claims.card_id.to_hex();
    let access = AccessRow {
        id: new_id()?,
        municipality_id: actor.municipality_id.clone(),
        kind: AccessKind::Scan,
        resident_id: row.resident_id,
        card_id: Some(card_id),
        account_id: actor.account_id.clone(),
        device_id: by.device.id.clone(),
        facility_id: by.device.facility_id.clone(),
        incident_ref,
        reason: None,
        categories: serde_json::to_string(&consent.categories).map_err(DomainError::internal)?,
        created_at: now,
        expires_at: now + SCAN_GRANT_SECS,
        review_status: None,
        reviewed_by: None,
        reviewed_at: None,
        review_note: None,
    };
    Ok(PreparedScan {
        actor: actor.clone(),
        by: by.clone(),
        version: consent.version,
        access,
        seen: (resident, consent, items),
        card_core: card.claims.triage,
        now,
    })
}

impl std::fmt::Debug for PreparedScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedScan")
            .field("access", &self.access.id)
            .finish_non_exhaustive()
    }
}

/// What a scan reads: the resident, the consent in force, the resident's items and whether the
/// identity photo is offered.
type Seen = (
    ResidentRow,
    Consent,
    (Vec<crate::db::residents::DatasetItemRow>, bool),
);

impl PreparedScan {
    /// Records the access ([`guarded_async`]: the nonce, a re-check, the access row, the audit
    /// event) without blocking a thread while the batch commits, and builds the disclosure.
    pub async fn record(self, db: &Db) -> Result<Disclosure, DomainError> {
        let PreparedScan {
            actor,
            by,
            access,
            version,
            seen,
            card_core,
            now,
        } = self;
        let about = (actor.municipality_id.clone(), access.resident_id.clone());
        let (who, about) = (actor.clone(), Some(Box::new(about)));
        let notify_seen = seen.1.notify_family;
        let (access, fresh) = guarded_async(
            db,
            who,
            by,
            about,
            Action::Scan,
            Purpose::Scan,
            now,
            move |c| {
                let muni = actor.municipality_id.as_str();
                let card_id = access.card_id.clone().unwrap_or_default();
                // Unchanged since the read (same card status, resident status, consent version)?
                // Else the reads again, inside the write: the scan answers from what is in force
                // now (or with the right refusal), never with what was read before the change.
                let mut access = access;
                let fresh =
                    if db::cards::still_scannable(c, muni, &card_id, &access.resident_id, version)?
                    {
                        None
                    } else {
                        let (_, resident, consent) = scannable(c, &actor, &card_id)?;
                        let items = db::residents::items(c, &resident.id)?;
                        let photo = scan_photo(c, muni, &resident.id, &consent)?;
                        let items = (items, photo);
                        access.categories = serde_json::to_string(&consent.categories)
                            .map_err(DomainError::internal)?;
                        Some((resident, consent, items))
                    };
                db::access::insert_access(c, &access)?;
                let event = actor
                    .event(Action::Scan, Outcome::Ok)
                    .about(&access.resident_id)
                    .purpose(Purpose::Scan)
                    .detail(format!("access {}", access.id));
                audit::append(c, muni, &event, now);
                // Family told of the scan (issue 27), if the consent says so.
                if fresh.as_ref().map_or(notify_seen, |f| f.1.notify_family) {
                    let notice = super::family::Notice::Scanned;
                    super::family::notify(c, muni, &access.resident_id, notice, now)?;
                }
                Ok((access, fresh))
            },
        )
        .await?;
        let (resident, consent, (items, photo)) = fresh.unwrap_or(seen);
        let categories = consent.categories.clone();
        // Cards follow data: the card against the triage core the data and consent give now.
        let (current, triage) = super::disclosure::currency(card_core.as_ref(), &items, &consent)?;
        let mut d = disclosure(&access, resident, consent, categories, items, photo, now)?;
        (d.card_current, d.triage) = (current, triage);
        Ok(d)
    }
}

/// The card's row, its resident (active) and the consent in force, or the refusal: unknown card,
/// consent withdrawn, card revoked (in that order: a withdrawn resident's cards are revoked too,
/// and "withdrawn" is the truer answer).
fn scannable(
    c: &mut DbConnection,
    actor: &Actor,
    card_id: &str,
) -> Result<(crate::db::cards::CardRow, ResidentRow, Consent), Refusal> {
    let row = db::cards::card(c, &actor.municipality_id, card_id)?;
    scannable_row(c, actor, row)
}

/// [`scannable`] for a card row already read (`None`: no such card).
fn scannable_row(
    c: &mut DbConnection,
    actor: &Actor,
    row: Option<crate::db::cards::CardRow>,
) -> Result<(crate::db::cards::CardRow, ResidentRow, Consent), Refusal> {
    let row =
        row.ok_or_else(|| DomainError::not_found("no such card").with_code("card_unknown"))?;
    let (resident, consent) = consented_resident(c, actor, &row.resident_id)?;
    active_card(row, resident, consent)
}

/// The last of [`scannable`]'s checks: the card is not revoked.
fn active_card(
    row: crate::db::cards::CardRow,
    resident: ResidentRow,
    consent: Consent,
) -> Result<(crate::db::cards::CardRow, ResidentRow, Consent), Refusal> {
    if row.status != CardStatus::Active {
        return Err(Refusal(
            Some(row.resident_id.clone()),
            DomainError::forbidden_code("card_revoked", "this card has been revoked"),
        ));
    }
    Ok((row, resident, consent))
}

/// Checks the resident and consent, records the access and its audit event, and builds the
/// disclosure. `limit` narrows the consented categories (break-glass).
#[allow(clippy::too_many_arguments)]
fn disclose_new(
    c: &mut Tx<'_>,
    actor: &Actor,
    mut access: AccessRow,
    (resident, consent): (ResidentRow, Consent),
    limit: Option<&[Category]>,
    action: Action,
    purpose: Purpose,
    now: i64,
) -> Result<Disclosure, Refusal> {
    let categories: Vec<Category> = consent
        .categories
        .iter()
        .filter(|cat| limit.is_none_or(|l| l.contains(cat)))
        .copied()
        .collect();
    access.categories = serde_json::to_string(&categories).map_err(DomainError::internal)?;
    db::access::insert_access(c, &access)?;
    let event = actor
        .event(action, Outcome::Ok)
        .about(&resident.id)
        .purpose(purpose)
        .detail(format!("access {}", access.id));
    audit::append(c, &actor.municipality_id, &event, now);
    build(c, &access, resident, consent, categories, now)
}

/// The resident, active, with a consent grant in force.
fn consented_resident(
    c: &mut DbConnection,
    actor: &Actor,
    resident_id: &str,
) -> Result<(ResidentRow, Consent), Refusal> {
    let resident = db::residents::resident(c, &actor.municipality_id, resident_id)?;
    consented(resident_id, resident, || consent::current(c, resident_id))
}

/// [`consented_resident`] on the resident read already; `consent` reads the consent in force
/// (only if the resident is active).
fn consented(
    resident_id: &str,
    resident: Option<ResidentRow>,
    consent: impl FnOnce() -> Result<Option<Consent>, DomainError>,
) -> Result<(ResidentRow, Consent), Refusal> {
    let resident = resident.ok_or_else(|| DomainError::not_found("no such resident"))?;
    let withdrawn = || {
        Refusal(
            Some(resident_id.to_string()),
            DomainError::forbidden_code(
                "consent_withdrawn",
                "the resident has not consented (or has withdrawn consent) to sharing with responders",
            ),
        )
    };
    if resident.status != ResidentStatus::Active {
        return Err(withdrawn());
    }
    let consent = consent()?.ok_or_else(withdrawn)?;
    Ok((resident, consent))
}

fn build(
    c: &mut DbConnection,
    access: &AccessRow,
    resident: ResidentRow,
    consent: Consent,
    categories: Vec<Category>,
    now: i64,
) -> Result<Disclosure, Refusal> {
    let items = db::residents::items(c, &resident.id)?;
    let photo = super::photo::offered(
        c,
        &access.municipality_id,
        &resident.id,
        access.kind,
        &categories,
    )?;
    Ok(disclosure(
        access, resident, consent, categories, items, photo, now,
    )?)
}

/// Whether a scan under this consent offers the identity photo.
fn scan_photo(
    c: &mut DbConnection,
    muni: &str,
    resident_id: &str,
    consent: &Consent,
) -> Result<bool, DomainError> {
    super::photo::offered(c, muni, resident_id, AccessKind::Scan, &consent.categories)
}

/// The disclosure of an access: the resident's items of the given categories only.
fn disclosure(
    access: &AccessRow,
    resident: ResidentRow,
    consent: Consent,
    categories: Vec<Category>,
    items: Vec<crate::db::residents::DatasetItemRow>,
    photo: bool,
    now: i64,
) -> Result<Disclosure, DomainError> {
    let items = items
        .into_iter()
        .filter(|i| categories.contains(&i.category))
        .map(Item::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Disclosure {
        access_id: access.id.clone(),
        kind: access.kind.into(),
        incident_ref: access.incident_ref.clone(),
        accessed_at: now,
        expires_at: access.expires_at,
        card_id: access.card_id.clone(),
        facility_id: access.facility_id.clone(),
        patient: Patient {
            age: age(&resident.date_of_birth, now),
            id: resident.id,
            family_name: resident.family_name,
            given_name: resident.given_name,
            family_name_kana: resident.family_name_kana,
            given_name_kana: resident.given_name_kana,
            date_of_birth: resident.date_of_birth,
            sex: resident.sex,
            preferred_language: resident.preferred_language,
        },
        consent,
        categories,
        items,
        card_current: None,
        triage: None,
        photo,
    })
}

/// Whole years between an ISO date of birth and `now`'s day in Japan (0 if unparsable).
pub fn age(date_of_birth: &str, now: i64) -> u32 {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let (Ok(dob), Ok(today)) = (
        time::Date::parse(date_of_birth, &format),
        crate::jst::date(now).ok_or(()),
    ) else {
        return 0;
    };
    let mut years = today.year() - dob.year();
    if (today.month() as u8, today.day()) < (dob.month() as u8, dob.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

// ---- break-glass ----------------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassInput {
    /// Family name in kanji or kana, as the patient or a bystander gives it.
    pub family_name: String,
    pub given_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// Part of the address, to tell apart residents with the same name and birthday.
    pub address: Option<String>,
    /// Why the card could not be used (10–500 characters). Reviewed by the city.
    pub reason: String,
    pub incident_ref: String,
}

/// Name comparison: without spaces (ASCII and ideographic), ASCII case-folded.
fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

fn name_matches(r: &ResidentRow, family: &str, given: &str) -> bool {
    let kanji = fold(&r.family_name) == family && fold(&r.given_name) == given;
    let kana = r.family_name_kana.as_deref().map(fold).as_deref() == Some(family)
        && r.given_name_kana.as_deref().map(fold).as_deref() == Some(given);
    kanji || kana
}

pub fn break_glass(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    input: &BreakGlassInput,
    now: i64,
) -> Result<Disclosure, DomainError> {
    let purpose = Purpose::BreakGlass;
    require_responder(actor)
        .map_err(|err| refuse_early(db, actor, Action::BreakGlass, purpose, err, now))?;
    let family = fold(&text("family_name", &input.family_name, 1, 60)?);
    let given = fold(&text("given_name", &input.given_name, 1, 60)?);
    let dob = past_date("date_of_birth", &input.date_of_birth, now)?;
    let address = input
        .address
        .as_deref()
        .map(|a| text("address", a, 1, 200).map(|a| fold(&a)))
        .transpose()?;
    let reason = text("reason", &input.reason, 10, 500)?;
    let incident_ref = text("incident_ref", &input.incident_ref, 1, 64)?;
    guarded(db, actor, by, Action::BreakGlass, purpose, now, |c| {
        let found: Vec<ResidentRow> =
            db::access::residents_born_on(c, &actor.municipality_id, &dob)?
                .into_iter()
                .filter(|r| name_matches(r, &family, &given))
                .filter(|r| {
                    address
                        .as_ref()
                        .is_none_or(|a| fold(&r.address).contains(a.as_str()))
                })
                .collect();
        let resident = match found.as_slice() {
            [] => {
                return Err(Refusal(
                    None,
                    DomainError::not_found("no resident matches this name and date of birth")
                        .with_code("no_match"),
                ));
            }
            [one] => one.id.clone(),
            _ => {
                return Err(Refusal(
                    None,
                    DomainError::conflict(
                        "ambiguous_match",
                        "several residents match; add part of the address",
                    ),
                ));
            }
        };
        let (resident, consent) = consented_resident(c, actor, &resident)?;
        let access = AccessRow {
            id: new_id()?,
            municipality_id: actor.municipality_id.clone(),
            kind: AccessKind::BreakGlass,
            resident_id: resident.id.clone(),
            card_id: None,
            account_id: actor.account_id.clone(),
            device_id: by.device.id.clone(),
            facility_id: by.device.facility_id.clone(),
            incident_ref: incident_ref.clone(),
            reason: Some(reason.clone()),
            categories: String::new(),
            created_at: now,
            expires_at: now + BREAK_GLASS_GRANT_SECS,
            review_status: Some(ReviewStatus::Pending),
            reviewed_by: None,
            reviewed_at: None,
            review_note: None,
        };
        disclose_new(
            c,
            actor,
            access,
            (resident, consent),
            Some(EMERGENCY_CATEGORIES),
            Action::BreakGlass,
            purpose,
            now,
        )
    })
}

// ---- re-reading a grant ---------------------------------------------------------------------------

/// Reads an access again within its grant: same paramedic, same device, consent still in force.
pub fn reread(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    access_id: &str,
    now: i64,
) -> Result<Disclosure, DomainError> {
    let purpose = Purpose::Reread;
    require_responder(actor)
        .map_err(|err| refuse_early(db, actor, Action::ReadAccess, purpose, err, now))?;
    check_id(access_id)?;
    let actor = &super::memberships::access_actor(db, actor, access_id)?;
    guarded(db, actor, by, Action::ReadAccess, purpose, now, |c| {
        let (d, event) = reread_in(c, actor, by, access_id, None, now)?;
        audit::append(c, &actor.municipality_id, &event, now);
        Ok(d)
    })
}

/// The identity photo of an access (issue 19): the same checks as a re-read (this paramedic's
/// access on this device, within its grant, card not revoked, consent in force), then a card
/// scan whose granted categories, as narrowed by the consent in force now, include `photo`, and
/// a photo on file. Audited as `record.photo`; a refusal is audited with the resident, so it is
/// in their access history.
pub fn photo(
    db: &Db,
    actor: &Actor,
    by: &SignedBy,
    access_id: &str,
    now: i64,
) -> Result<super::photo::Photo, DomainError> {
    let purpose = Purpose::Photo;
    require_responder(actor)
        .map_err(|err| refuse_early(db, actor, Action::ReadPhoto, purpose, err, now))?;
    check_id(access_id)?;
    let actor = &super::memberships::access_actor(db, actor, access_id)?;
    guarded(db, actor, by, Action::ReadPhoto, purpose, now, |c| {
        let (d, mut event) = reread_in(c, actor, by, access_id, Some(purpose), now)?;
        let resident = Some(d.patient.id.clone());
        let refuse = |e: DomainError| Refusal(resident.clone(), e);
        if d.kind != crate::domain::DisclosureKind::Scan {
            return Err(refuse(DomainError::forbidden_code(
                "photo_scan_only",
                "the photo for identity check is shown only after a card scan",
            )));
        }
        if !d.categories.contains(&Category::Photo) {
            return Err(refuse(DomainError::forbidden_code(
                "photo_not_consented",
                "the resident has not consented to showing a photo",
            )));
        }
        let photo = db::photos::photo(c, &actor.municipality_id, &d.patient.id)?
            .ok_or_else(|| refuse(super::photo::no_photo()))?;
        event.action = Action::ReadPhoto;
        audit::append(c, &actor.municipality_id, &event, now);
        Ok(super::photo::Photo::from(photo))
    })
}

/// The checks and disclosure of a re-read inside the caller's transaction (no nonce consumed):
/// this paramedic's access on this device, within its grant, card not revoked, consent in
/// force, never more than was granted nor more than is consented now. Returns the audit event
/// for the caller to append (`purpose` defaults to the access's kind).
pub(crate) fn reread_in(
    c: &mut Tx<'_>,
    actor: &Actor,
    by: &SignedBy,
    access_id: &str,
    purpose: Option<Purpose>,
    now: i64,
) -> Result<(Disclosure, Event), Refusal> {
    let access = db::access::access(c, &actor.municipality_id, access_id)?
        .filter(|a| a.account_id == actor.account_id && a.device_id == by.device.id)
        .ok_or_else(|| DomainError::not_found("no such access"))?;
    let resident = Some(access.resident_id.clone());
    if now >= access.expires_at {
        return Err(Refusal(
            resident,
            DomainError::forbidden_code("access_expired", "this access has expired; scan again"),
        ));
    }
    let mut card_core = None;
    if let Some(card_id) = &access.card_id {
        let row = db::cards::card(c, &actor.municipality_id, card_id)?
            .filter(|r| r.status == CardStatus::Active);
        let Some(row) = row else {
            return Err(Refusal(
                resident,
                DomainError::forbidden_code("card_revoked", "this card has been revoked"),
            ));
        };
        card_core = Some(super::cards::signed_core(&row)?);
    }
    let (resident, consent) = consented_resident(c, actor, &access.resident_id)?;
    let granted: Vec<Category> =
        serde_json::from_str(&access.categories).map_err(DomainError::internal)?;
    // Never more than the consent in force now, nor more than was granted then.
    let categories: Vec<Category> = granted
        .into_iter()
        .filter(|cat| consent.categories.contains(cat))
        .collect();
    let event = actor
        .event(Action::ReadAccess, Outcome::Ok)
        .about(&resident.id)
        .purpose(purpose.unwrap_or(access.kind.into()))
        .detail(format!("access {}", access.id));
    let items = db::residents::items(c, &resident.id)?;
    // The card's currency as a scan answers it, from the categories disclosed here only.
    let currency = match &card_core {
        Some(core) => {
            let within = Consent {
                categories: categories.clone(),
                ..consent.clone()
            };
            super::disclosure::currency(core.as_ref(), &items, &within)?
        }
        None => (None, None),
    };
    let photo = super::photo::offered(
        c,
        &access.municipality_id,
        &resident.id,
        access.kind,
        &categories,
    )?;
    let mut d = disclosure(&access, resident, consent, categories, items, photo, now)?;
    (d.card_current, d.triage) = currency;
    Ok((d, event))
}

// ---- the city's review of break-glass use ------------------------------------------------------

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BreakGlassRecord {
    pub access_id: String,
    pub resident_id: String,
    pub account_id: String,
    pub device_id: String,
    pub facility_id: String,
    pub incident_ref: String,
    pub reason: Option<String>,
    #[schema(value_type = Vec<String>)]
    pub categories: Vec<Category>,
    pub created_at: i64,
    /// `pending` | `justified` | `unjustified`.
    pub review_status: Option<String>,
}

impl TryFrom<AccessRow> for BreakGlassRecord {
    type Error = DomainError;
    fn try_from(a: AccessRow) -> Result<Self, DomainError> {
        Ok(BreakGlassRecord {
            categories: serde_json::from_str(&a.categories).map_err(DomainError::internal)?,
            access_id: a.id,
            resident_id: a.resident_id,
            account_id: a.account_id,
            device_id: a.device_id,
            facility_id: a.facility_id,
            incident_ref: a.incident_ref,
            reason: a.reason,
            created_at: a.created_at,
            review_status: a.review_status.map(|s| s.to_string()),
        })
    }
}

pub fn pending_reviews(db: &Db, actor: &Actor) -> Result<Vec<BreakGlassRecord>, DomainError> {
    super::facilities::require_city_admin(actor)?;
    db.read(|c| {
        db::access::accesses_for_review(c, &actor.municipality_id)?
            .into_iter()
            .map(BreakGlassRecord::try_from)
            .collect()
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// `justified` | `unjustified`.
    pub decision: String,
    pub note: Option<String>,
}

pub fn review(
    db: &Db,
    actor: &Actor,
    access_id: &str,
    input: &ReviewInput,
    now: i64,
) -> Result<BreakGlassRecord, DomainError> {
    super::facilities::require_city_admin(actor)?;
    check_id(access_id)?;
    let decision = match input.decision.parse() {
        Ok(d @ (ReviewStatus::Justified | ReviewStatus::Unjustified)) => d,
        _ => {
            return Err(DomainError::unprocessable(
                "invalid_field",
                "decision: justified or unjustified",
            ));
        }
    };
    let note = super::opt_text("note", &input.note, 500)?;
    db.write(|c| {
        let access = db::access::access(c, &actor.municipality_id, access_id)?
            .filter(|a| a.kind == AccessKind::BreakGlass)
            .ok_or_else(|| DomainError::not_found("no such break-glass access"))?;
        let n = db::access::review_access(
            c,
            &actor.municipality_id,
            access_id,
            decision,
            &actor.account_id,
            note.as_deref(),
            now,
        )?;
        if n == 0 {
            return Err(DomainError::conflict(
                "already_reviewed",
                "this break-glass access has already been reviewed",
            ));
        }
        let event = actor
            .event(Action::ReviewBreakGlass, Outcome::Ok)
            .about(&access.resident_id)
            .detail(format!("access {} {decision}", access.id));
        audit::append(c, &actor.municipality_id, &event, now);
        let updated = db::access::access(c, &actor.municipality_id, access_id)?
            .ok_or_else(|| DomainError::internal("reviewed access vanished"))?;
        BreakGlassRecord::try_from(updated)
    })
}
