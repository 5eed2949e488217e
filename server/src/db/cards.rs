//! Cards (`service::cards`, `service::access`): issued cards, revocation, and the scan-time check
//! that a card read earlier still stands.
//!
//! Same rules as the other query modules: each query takes a connection and returns `QueryResult`,
//! "not found" is `Ok(None)` only where asked for with `optional()`, lookups by a unique key use
//! `get_result` (not `first`), and every query that reads or writes resident data is scoped by
//! municipality.

use super::DbConnection;
use super::schema::*;
use crate::domain::{CardStatus, ResidentStatus};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = cards)]
pub struct CardRow {
    pub id: String,
    pub municipality_id: String,
    pub resident_id: String,
    pub kid: String,
    pub cose: Vec<u8>,
    pub triage: bool,
    pub issued_at: i64,
    pub expires_at: i64,
    pub status: CardStatus,
    pub revoked_at: Option<i64>,
    pub revoke_reason: Option<String>,
    /// The consent version the card was issued under (its triage core came from that version's
    /// categories); `None` only for a card older than this column with no consent before it.
    pub consent_version: Option<i32>,
}

pub fn insert_card(conn: &mut DbConnection, row: &CardRow) -> QueryResult<usize> {
    diesel::insert_into(cards::table).values(row).execute(conn)
}

pub fn cards_of(conn: &mut DbConnection, resident_id: &str) -> QueryResult<Vec<CardRow>> {
    cards::table
        .filter(cards::resident_id.eq(resident_id))
        .order(cards::issued_at.desc())
        .select(CardRow::as_select())
        .load(conn)
}

pub fn card(conn: &mut DbConnection, muni: &str, id: &str) -> QueryResult<Option<CardRow>> {
    crate::native!(conn, c => {
        cards::table
            .filter(cards::municipality_id.eq(muni))
            .filter(cards::id.eq(id))
            .select(CardRow::as_select())
            .get_result(c)
            .optional()
    })
}

/// A scan's read of its card, in one statement: the card (by the id the card claims), its
/// resident, and that resident's latest consent version (granted or not; `None`: never
/// consented). `None`: no such card in this municipality.
pub fn card_for_scan(
    conn: &mut DbConnection,
    muni: &str,
    id: &str,
) -> QueryResult<
    Option<(
        CardRow,
        super::residents::ResidentRow,
        Option<super::residents::ConsentRow>,
    )>,
> {
    use super::residents::{ConsentRow, ResidentRow};
    let newer = diesel::alias!(consents as newer_consents);
    crate::native!(conn, c => {
        cards::table
            .inner_join(residents::table)
            .left_join(
                consents::table.on(consents::resident_id.eq(cards::resident_id).and(
                    diesel::dsl::not(diesel::dsl::exists(
                        newer
                            .filter(newer.field(consents::resident_id).eq(consents::resident_id))
                            .filter(newer.field(consents::version).gt(consents::version)),
                    )),
                )),
            )
            .filter(cards::municipality_id.eq(muni))
            .filter(cards::id.eq(id))
            .filter(residents::municipality_id.eq(muni))
            .select((
                CardRow::as_select(),
                ResidentRow::as_select(),
                Option::<ConsentRow>::as_select(),
            ))
            .get_result(c)
            .optional()
    })
}

/// Whether a scan read earlier still stands: the card is active, its resident active, and the
/// resident's latest consent is still `consent_version` (a grant when it was read).
pub fn still_scannable(
    conn: &mut DbConnection,
    muni: &str,
    card_id: &str,
    resident_id: &str,
    consent_version: i32,
) -> QueryResult<bool> {
    crate::native!(conn, c => {
        let card_active = cards::table
            .filter(cards::municipality_id.eq(muni))
            .filter(cards::id.eq(card_id))
            .filter(cards::resident_id.eq(resident_id))
            .filter(cards::status.eq(CardStatus::Active));
        let resident_active = residents::table
            .filter(residents::municipality_id.eq(muni))
            .filter(residents::id.eq(resident_id))
            .filter(residents::status.eq(ResidentStatus::Active));
        let newer_consent = consents::table
            .filter(consents::resident_id.eq(resident_id))
            .filter(consents::version.gt(consent_version));
        diesel::select(
            diesel::dsl::exists(card_active)
                .and(diesel::dsl::exists(resident_active))
                .and(diesel::dsl::not(diesel::dsl::exists(newer_consent))),
        )
        .get_result(c)
    })
}

/// Revokes one card if it is active; returns rows changed (0 if already revoked).
pub fn revoke_card(
    conn: &mut DbConnection,
    id: &str,
    reason: &str,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(
        cards::table
            .filter(cards::id.eq(id))
            .filter(cards::status.eq(CardStatus::Active)),
    )
    .set((
        cards::status.eq(CardStatus::Revoked),
        cards::revoked_at.eq(Some(now)),
        cards::revoke_reason.eq(Some(reason)),
    ))
    .execute(conn)
}

/// The resident's active cards that carry a triage core.
pub fn active_triage_cards(
    conn: &mut DbConnection,
    resident_id: &str,
) -> QueryResult<Vec<CardRow>> {
    cards::table
        .filter(cards::resident_id.eq(resident_id))
        .filter(cards::status.eq(CardStatus::Active))
        .filter(cards::triage.eq(true))
        .order(cards::issued_at.asc())
        .select(CardRow::as_select())
        .load(conn)
}

pub fn revoke_cards_of(
    conn: &mut DbConnection,
    resident_id: &str,
    reason: &str,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(
        cards::table
            .filter(cards::resident_id.eq(resident_id))
            .filter(cards::status.eq(CardStatus::Active)),
    )
    .set((
        cards::status.eq(CardStatus::Revoked),
        cards::revoked_at.eq(Some(now)),
        cards::revoke_reason.eq(Some(reason)),
    ))
    .execute(conn)
}

/// Ids of revoked cards signed by `kid` that have not yet expired (expired ones fail anyway).
pub fn revoked_card_ids(
    conn: &mut DbConnection,
    muni: &str,
    kid: &str,
    now: i64,
) -> QueryResult<Vec<String>> {
    cards::table
        .filter(cards::municipality_id.eq(muni))
        .filter(cards::kid.eq(kid))
        .filter(cards::status.eq(CardStatus::Revoked))
        .filter(cards::expires_at.gt(now))
        .order(cards::id.asc())
        .select(cards::id)
        .load(conn)
}
