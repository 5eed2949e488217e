//! Batch cards (issue 26; docs/operations.md *Batch cards*): the cards of a district or of an
//! import, issued (or the current one reused) and printed as one PDF — fridge sheets or wallet
//! cards — sorted by district and address, for mailing or for 民生委員 visits.
//!
//! A resident's current card is reused when it is active, not expiring within
//! [`REUSE_MIN_VALIDITY_SECS`], and still says what a card issued now would say
//! (`cards::is_current`); otherwise a new card is issued from the consent in force, and an active
//! card it replaces is revoked (`reissued`), as a reissue in the portal does. A resident with no
//! consent in force (never given, or withdrawn) gets no card and is listed as skipped. The
//! printables are `kyukit_print`'s; the name is printed only where the consent says so.

use super::accounts::Actor;
use super::cards::{self, IssuePolicy};
use super::consent;
use super::error::DomainError;
use super::facilities::require_city_admin;
use super::registrations::match_key;
use crate::audit::{self, Action, Event, Outcome};
use crate::db::cards::CardRow;
use crate::db::residents::ResidentRow;
use crate::db::{self, Db};
use crate::domain::CardStatus;
use serde::Serialize;

/// A card expiring sooner than this (90 days) is not reused: a new one goes in the envelope.
pub const REUSE_MIN_VALIDITY_SECS: i64 = 90 * 86_400;
/// Residents per write transaction.
const CHUNK: usize = 100;

/// Which residents.
#[derive(Debug, Clone)]
pub enum Selection {
    District(String),
    Import(String),
}

/// Fridge sheets (A4) or wallet cards (ID-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Fridge,
    Wallet,
}

/// One printed card.
#[derive(Debug, Clone, Serialize)]
pub struct Printed {
    pub resident_id: String,
    pub card_id: String,
    pub district: Option<String>,
    pub address: String,
    /// `true`: the resident's current card; `false`: issued by this batch.
    pub reused: bool,
    /// The card's URL (what the QR code holds).
    pub url: String,
}

/// A resident of the selection without a card in the PDF, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub resident_id: String,
    pub district: Option<String>,
    pub address: String,
    pub reason: String,
}

#[derive(Debug)]
pub struct Batch {
    /// In page order.
    pub printed: Vec<Printed>,
    pub skipped: Vec<Skipped>,
    /// The PDF (empty when nothing was printed).
    pub pdf: Vec<u8>,
}

/// Text with its digit runs as numbers, so that 1-2 sorts before 1-10.
fn natural(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for c in match_key(s).chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                out.push((
                    std::mem::take(&mut text),
                    digits.parse().unwrap_or(u64::MAX),
                ));
                digits.clear();
            }
            text.push(c);
        }
    }
    out.push((text, digits.parse().unwrap_or(0)));
    out
}

/// The page-order key of a resident: district (none last), then address, then name.
pub(crate) type OrderKey = (
    bool,
    Option<String>,
    Vec<(String, u64)>,
    Option<String>,
    String,
);

/// Page order (also of the re-confirmation list and letters): district (none last), then
/// address, then name.
pub(crate) fn page_order(r: &ResidentRow) -> OrderKey {
    (
        r.district.is_none(),
        r.district.as_deref().map(match_key),
        natural(&r.address),
        r.family_name_kana.as_deref().map(match_key),
        r.id.clone(),
    )
}

fn sort(residents: &mut [ResidentRow]) {
    residents.sort_by_cached_key(page_order);
}

/// What happened to one resident in the write.
enum Done {
    Card(CardRow, bool),
    Skip(String),
}

/// Issues or reuses the cards of the selection and prints them as one PDF.
pub fn run(
    db: &Db,
    actor: &Actor,
    selection: &Selection,
    format: Format,
    policy: &IssuePolicy,
    now: i64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Batch, DomainError> {
    require_city_admin(actor)?;
    let muni = actor.municipality_id.clone();
    let mut residents = db.read(|c| {
        Ok::<_, DomainError>(match selection {
            Selection::District(d) => db::imports::active_in_district(c, &muni, d)?,
            Selection::Import(id) => {
                super::check_id(id)?;
                if db::imports::import(c, &muni, id)?.is_none() {
                    return Err(DomainError::not_found(format!("no import {id}")));
                }
                db::imports::active_of_import(c, &muni, id)?
            }
        })
    })?;
    if residents.len() > kyukit_print::BATCH_MAX_CARDS {
        return Err(DomainError::unprocessable(
            "batch_too_large",
            format!(
                "{} residents; at most {} cards in one PDF: print by district",
                residents.len(),
                kyukit_print::BATCH_MAX_CARDS
            ),
        ));
    }
    sort(&mut residents);
    let key = cards::active_key(db, actor, policy)?;
    let total = residents.len();
    let mut outcomes: Vec<(ResidentRow, Done)> = Vec::with_capacity(total);
    progress(0, total);
    for part in residents.chunks(CHUNK) {
        let done = db.write(|c| {
            let mut done = Vec::with_capacity(part.len());
            for r in part {
                db::residents::lock_resident(c, &muni, &r.id)?;
                let Some(resident) = db::residents::resident(c, &muni, &r.id)? else {
                    continue;
                };
                if consent::current(c, &r.id)?.is_none() {
                    done.push((resident, Done::Skip("no consent in force".into())));
                    continue;
                }
                let now_core = cards::core_now(c, &r.id)?;
                let mut current = None;
                for card in db::cards::cards_of(c, &r.id)? {
                    if card.status != CardStatus::Active {
                        continue;
                    }
                    let fresh = card.expires_at > now + REUSE_MIN_VALIDITY_SECS
                        && !cards::stale(&card, now_core.as_ref())?;
                    if fresh && current.is_none() {
                        current = Some(card);
                    } else if db::cards::revoke_card(c, &card.id, "reissued", now)? == 1 {
                        let event = Event::new(Action::ReissueCard, Outcome::Ok)
                            .by(&actor.account_id, actor.role)
                            .about(&r.id)
                            .detail(card.id.clone());
                        audit::append(c, &muni, &event, now);
                    }
                }
                let outcome = match current {
                    Some(card) => Done::Card(card, true),
                    None => Done::Card(
                        cards::issue_for(c, actor, resident.clone(), policy, &key, now)?,
                        false,
                    ),
                };
                done.push((resident, outcome));
            }
            Ok::<_, DomainError>(done)
        })?;
        outcomes.extend(done);
        progress(outcomes.len(), total);
    }
    print(db, actor, policy, format, outcomes, now)
}

/// Prints the cards of the batch (the name where the consent says so) and audits the batch.
fn print(
    db: &Db,
    actor: &Actor,
    policy: &IssuePolicy,
    format: Format,
    outcomes: Vec<(ResidentRow, Done)>,
    now: i64,
) -> Result<Batch, DomainError> {
    let muni = db
        .read(|c| Ok::<_, DomainError>(db::keys::municipality(c, &actor.municipality_id)?))?
        .ok_or_else(|| DomainError::internal("municipality row missing"))?;
    let mut printed = Vec::new();
    let mut skipped = Vec::new();
    let mut pages = Vec::new(); // (qr, name, card_ref, issued, expires)
    for (r, outcome) in outcomes {
        let card = match outcome {
            Done::Skip(reason) => {
                skipped.push(Skipped {
                    resident_id: r.id,
                    district: r.district,
                    address: r.address,
                    reason,
                });
                continue;
            }
            Done::Card(card, reused) => (card, reused),
        };
        let (row, reused) = card;
        let show_name = db
            .read(|c| consent::current(c, &r.id))?
            .is_some_and(|k| k.name_on_print);
        let url = kyukit_card::card_url(policy.card_base_url, &row.cose)
            .map_err(DomainError::internal)?;
        let qr = kyukit_card::CardQr::encode(&url, kyukit_card::EcLevel::Q)
            .map_err(DomainError::internal)?;
        let name = show_name.then(|| format!("{} {}", r.family_name, r.given_name));
        let page = (
            qr,
            name,
            row.id[..8].to_string(),
            super::today(row.issued_at),
            super::today(row.expires_at),
        );
        let check = kyukit_print::PrintCard {
            qr: &page.0,
            name: page.1.as_deref(),
            municipality_ja: &muni.name_ja,
            municipality_en: &muni.name_en,
            card_ref: &page.2,
            issued_on: &page.3,
            expires_on: &page.4,
        };
        if let Err(e) = kyukit_print::printable(&check) {
            skipped.push(Skipped {
                resident_id: r.id,
                district: r.district,
                address: r.address,
                reason: format!(
                    "card {} issued but not printable: {e} (print it from the portal without the name)",
                    &row.id[..8]
                ),
            });
            continue;
        }
        pages.push(page);
        printed.push(Printed {
            resident_id: r.id,
            card_id: row.id,
            district: r.district,
            address: r.address,
            reused,
            url,
        });
    }
    let cards: Vec<kyukit_print::PrintCard> = pages
        .iter()
        .map(|p| kyukit_print::PrintCard {
            qr: &p.0,
            name: p.1.as_deref(),
            municipality_ja: &muni.name_ja,
            municipality_en: &muni.name_en,
            card_ref: &p.2,
            issued_on: &p.3,
            expires_on: &p.4,
        })
        .collect();
    let title = format!("救急医療情報キット {}", muni.name_ja);
    let pdf = if cards.is_empty() {
        Vec::new()
    } else {
        match format {
            Format::Fridge => kyukit_print::fridge_sheets_pdf(&cards, &title),
            Format::Wallet => kyukit_print::wallet_cards_pdf(&cards, &title),
        }
        .map_err(DomainError::internal)?
    };
    let issued = printed.iter().filter(|p| !p.reused).count();
    db.write(|c| {
        let event = Event::new(Action::BatchCards, Outcome::Ok)
            .by(&actor.account_id, actor.role)
            .detail(format!(
                "{} printed ({} issued, {} reused), {} skipped",
                printed.len(),
                issued,
                printed.len() - issued,
                skipped.len()
            ));
        audit::append(c, &actor.municipality_id, &event, now);
        Ok::<_, DomainError>(())
    })?;
    Ok(Batch {
        printed,
        skipped,
        pdf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_sort_by_their_numbers() {
        let mut v = [
            "水海道町1-10-2",
            "水海道町1-2-30",
            "水海道町１－２－３",
            "水海道町10-1-1",
        ]
        .map(String::from)
        .to_vec();
        v.sort_by_cached_key(|a| natural(a));
        assert_eq!(
            v,
            [
                "水海道町１－２－３",
                "水海道町1-2-30",
                "水海道町1-10-2",
                "水海道町10-1-1"
            ]
        );
    }
}
