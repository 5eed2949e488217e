//! Yearly re-confirmation (issue 26; docs/operations.md *Yearly re-confirmation*). The paper
//! kit's known failure is that its contents go stale, so each record carries the day it was last
//! confirmed as true (`resident_confirmations`): set at registration, import, any edit of the
//! profile, dataset or consent, and by an explicit "nothing has changed". Once the configured
//! period (`--reconfirm-after-months`, default 12) has passed, in Japan's calendar, the record is
//! **stale**: the portal asks the resident or a proxy to re-confirm (one tap) or edit; the city
//! lists stale records by district, prints reminder letters as one PDF, and sends a Web Push
//! reminder to the browsers the resident and their proxies registered (no medical detail, no
//! name; once per period). Every step is audited.

use super::accounts::Actor;
use super::error::DomainError;
use super::facilities::require_city_admin;
use super::residents::for_actor;
use crate::audit::{self, Action, Outcome};
use crate::db::confirmations::{self as q, ConfirmationRow};
use crate::db::push::{self as pushq, OutboxRow};
use crate::db::residents::ResidentRow;
use crate::db::{self, Db, Tx};
use crate::domain::OutboxStatus;
use serde::Serialize;
use time::{Date, Month};

/// The default period: a year.
pub const DEFAULT_MONTHS: u32 = 12;
/// The push reminder's fixed text (no name, nothing medical), at most 64 characters.
pub const REMIND_TITLE: &str = "登録内容のご確認をお願いします / Please check your information";
/// How long a reminder may wait in the push service (a day).
const REMIND_TTL_SECS: i32 = 86_400;

/// How a confirmation came about (`resident_confirmations.how`).
pub const BY_REGISTRATION: &str = "registration";
pub const BY_IMPORT: &str = "import";
pub const BY_EDIT: &str = "edit";
pub const BY_RECONFIRM: &str = "reconfirm";

/// `date` plus `months`, the day clamped to the month's last (Jan 31 + 1 → Feb 28/29).
pub fn add_months(date: Date, months: u32) -> Date {
    let total = date.year() * 12 + i32::from(u8::from(date.month())) - 1 + months as i32;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let month = Month::try_from(u8::try_from(month0 + 1).unwrap_or(1)).unwrap_or(Month::January);
    let last = month.length(year);
    Date::from_calendar_date(year, month, date.day().min(last)).unwrap_or(date)
}

/// The day (Japan time) re-confirmation falls due for a record confirmed at `confirmed_at`.
pub fn due_on(confirmed_at: i64, months: u32) -> Option<Date> {
    crate::jst::date(confirmed_at).map(|d| add_months(d, months))
}

/// Whether a record confirmed at `confirmed_at` is stale at `now`: its due day has come (Japan).
pub fn is_stale(confirmed_at: i64, months: u32, now: i64) -> bool {
    match (due_on(confirmed_at, months), crate::jst::date(now)) {
        (Some(due), Some(today)) => today >= due,
        _ => false,
    }
}

/// A record's re-confirmation state, as the portal shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Confirmation {
    /// When the record was last confirmed (Unix seconds).
    pub confirmed_at: i64,
    /// `registration`, `import`, `edit`, `reconfirm` or `backfill`.
    pub how: String,
    /// The day (Japan time, `YYYY-MM-DD`) re-confirmation falls due.
    pub due_on: String,
    /// The due day has come: the portal asks for a re-confirmation.
    pub stale: bool,
    /// The configured period.
    pub period_months: u32,
}

fn state(r: &ResidentRow, k: Option<&ConfirmationRow>, months: u32, now: i64) -> Confirmation {
    let at = k.map_or(r.created_at, |k| k.confirmed_at);
    Confirmation {
        confirmed_at: at,
        how: k.map_or("backfill", |k| k.how.as_str()).to_string(),
        due_on: due_on(at, months)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        stale: is_stale(at, months, now),
        period_months: months,
    }
}

/// In a write that changed the resident's data: it was confirmed now (`how`).
pub fn touch(
    c: &mut Tx<'_>,
    muni: &str,
    resident_id: &str,
    how: &str,
    now: i64,
) -> Result<(), DomainError> {
    Ok(q::confirm(c, muni, resident_id, how, now)?)
}

/// The record's re-confirmation state, for the resident or a proxy.
pub fn get(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    months: u32,
    now: i64,
) -> Result<Confirmation, DomainError> {
    db.read(|c| {
        let (r, _) = for_actor(c, actor, resident_id)?;
        let k = q::of(c, &actor.municipality_id, &r.id)?;
        Ok(state(&r, k.as_ref(), months, now))
    })
}

/// "Nothing has changed": the resident or a proxy confirms the record as it stands. Audited.
pub fn reconfirm(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    months: u32,
    now: i64,
) -> Result<Confirmation, DomainError> {
    db.write(|c| {
        let (r, _) = for_actor(c, actor, resident_id)?;
        if r.status != crate::domain::ResidentStatus::Active {
            return Err(DomainError::conflict(
                "not_active",
                "this record was withdrawn (支援中止): there is nothing to confirm",
            ));
        }
        q::confirm(c, &actor.municipality_id, &r.id, BY_RECONFIRM, now)?;
        let event = actor.event(Action::Reconfirm, Outcome::Ok).about(&r.id);
        audit::append(c, &actor.municipality_id, &event, now);
        let k = q::of(c, &actor.municipality_id, &r.id)?;
        Ok(state(&r, k.as_ref(), months, now))
    })
}

/// A stale record in the city's list (no medical data).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StaleRecord {
    pub resident_id: String,
    pub family_name: String,
    pub given_name: String,
    pub family_name_kana: Option<String>,
    pub given_name_kana: Option<String>,
    pub address: String,
    pub district: Option<String>,
    pub confirmed_at: i64,
    /// `YYYY-MM-DD` (Japan time).
    pub due_on: String,
    /// When the resident's and proxies' browsers were last reminded (this period).
    pub reminded_at: Option<i64>,
}

/// How many stale records a district has.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DistrictCount {
    /// `null`: no district recorded.
    pub district: Option<String>,
    pub stale: usize,
}

/// The city's view: stale records (of one district, or all) sorted by district, address and
/// name, and the count per district.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StaleList {
    pub period_months: u32,
    pub records: Vec<StaleRecord>,
    pub districts: Vec<DistrictCount>,
}

fn stale_rows(
    c: &mut db::DbConnection,
    muni: &str,
    district: Option<&str>,
    months: u32,
    now: i64,
) -> Result<Vec<(ResidentRow, Option<ConfirmationRow>)>, DomainError> {
    let mut rows: Vec<_> = q::active_with_confirmations(c, muni, district)?
        .into_iter()
        .filter(|(r, k)| {
            is_stale(
                k.as_ref().map_or(r.created_at, |k| k.confirmed_at),
                months,
                now,
            )
        })
        .collect();
    rows.sort_by_cached_key(|(r, _)| super::batch::page_order(r));
    Ok(rows)
}

fn record(r: &ResidentRow, k: Option<&ConfirmationRow>, months: u32) -> StaleRecord {
    let at = k.map_or(r.created_at, |k| k.confirmed_at);
    StaleRecord {
        resident_id: r.id.clone(),
        family_name: r.family_name.clone(),
        given_name: r.given_name.clone(),
        family_name_kana: r.family_name_kana.clone(),
        given_name_kana: r.given_name_kana.clone(),
        address: r.address.clone(),
        district: r.district.clone(),
        confirmed_at: at,
        due_on: due_on(at, months)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        reminded_at: k.and_then(|k| k.reminded_at),
    }
}

fn admin_only(db: &Db, actor: &Actor, action: Action, now: i64) -> Result<(), DomainError> {
    require_city_admin(actor).map_err(|err| {
        super::deny(
            db,
            &actor.municipality_id,
            actor.event(action, Outcome::Denied),
            err,
            now,
        )
    })
}

fn check_district(district: Option<&str>) -> Result<Option<String>, DomainError> {
    match district.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(None),
        Some(d) => super::text("district", d, 1, 40).map(Some),
    }
}

/// Stale records for the city (a city administrator only). Audited as one listing.
pub fn list(
    db: &Db,
    actor: &Actor,
    district: Option<&str>,
    months: u32,
    now: i64,
) -> Result<StaleList, DomainError> {
    admin_only(db, actor, Action::ReconfirmList, now)?;
    let district = check_district(district)?;
    let muni = actor.municipality_id.clone();
    let (records, districts) = db.read(|c| {
        let all = stale_rows(c, &muni, None, months, now)?;
        let mut districts: Vec<DistrictCount> = Vec::new();
        for (r, _) in &all {
            match districts.iter_mut().find(|d| d.district == r.district) {
                Some(d) => d.stale += 1,
                None => districts.push(DistrictCount {
                    district: r.district.clone(),
                    stale: 1,
                }),
            }
        }
        let records = all
            .iter()
            .filter(|(r, _)| district.is_none() || r.district == district)
            .map(|(r, k)| record(r, k.as_ref(), months))
            .collect::<Vec<_>>();
        Ok::<_, DomainError>((records, districts))
    })?;
    db.write(|c| {
        let event = actor
            .event(Action::ReconfirmList, Outcome::Ok)
            .detail(format!(
                "district {}: {} stale record(s)",
                district.as_deref().unwrap_or("(all)"),
                records.len()
            ));
        audit::append(c, &muni, &event, now);
        Ok::<_, DomainError>(())
    })?;
    Ok(StaleList {
        period_months: months,
        records,
        districts,
    })
}

/// The reminder letters of the stale records (of one district, or all) as one PDF, a letter a
/// page in district and address order; one audit event per letter, about its resident.
/// `portal_url` is where residents log in.
pub fn letters(
    db: &Db,
    actor: &Actor,
    district: Option<&str>,
    months: u32,
    portal_url: &str,
    now: i64,
) -> Result<(usize, Vec<u8>), DomainError> {
    admin_only(db, actor, Action::ReconfirmLetter, now)?;
    let district = check_district(district)?;
    let muni = actor.municipality_id.clone();
    let (town, rows) = db.read(|c| {
        let town = db::keys::municipality(c, &muni)?
            .ok_or_else(|| DomainError::internal("municipality row missing"))?;
        Ok::<_, DomainError>((
            town,
            stale_rows(c, &muni, district.as_deref(), months, now)?,
        ))
    })?;
    if rows.is_empty() {
        return Err(DomainError::conflict(
            "nothing_to_print",
            "no record is due for re-confirmation (in that district)",
        ));
    }
    if rows.len() > kyukit_print::REMINDER_MAX_LETTERS {
        return Err(DomainError::unprocessable(
            "batch_too_large",
            format!(
                "{} letters; at most {} in one PDF: print by district",
                rows.len(),
                kyukit_print::REMINDER_MAX_LETTERS
            ),
        ));
    }
    let doc = kyukit_print::ReminderLetters {
        municipality_ja: town.name_ja.clone(),
        municipality_en: town.name_en.clone(),
        dated: super::today(now),
        portal_url: portal_url.to_string(),
        letters: rows
            .iter()
            .map(|(r, k)| {
                let s = record(r, k.as_ref(), months);
                kyukit_print::ReminderLetter {
                    name: format!("{} {}", r.family_name, r.given_name),
                    address: r.address.clone(),
                    district: r.district.clone(),
                    last_confirmed: super::today(s.confirmed_at),
                    due_on: s.due_on,
                }
            })
            .collect(),
    };
    let pdf = kyukit_print::reminder_letters_pdf(&doc).map_err(DomainError::internal)?;
    db.write(|c| {
        for (r, _) in &rows {
            let event = actor
                .event(Action::ReconfirmLetter, Outcome::Ok)
                .about(&r.id);
            audit::append(c, &muni, &event, now);
        }
        Ok::<_, DomainError>(())
    })?;
    Ok((rows.len(), pdf))
}

/// What a push reminder run did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Reminded {
    /// Stale records whose people were reminded now.
    pub residents: usize,
    /// Pushes queued (one per registered browser).
    pub pushes: usize,
    /// Stale records already reminded this period, or whose people registered no browser.
    pub skipped: usize,
}

/// The push payload of a reminder: a kind and a fixed text (`service::push::PAYLOAD_KEYS`).
pub fn payload() -> serde_json::Value {
    serde_json::json!({"kind": "reconfirm", "title": REMIND_TITLE})
}

/// Sends a Web Push reminder to every browser the resident and their current proxies registered,
/// for each stale record (of one district, or all) not yet reminded since it was last confirmed.
/// One audit event per resident reminded. The caller wakes the push worker.
pub fn remind(
    db: &Db,
    actor: &Actor,
    district: Option<&str>,
    months: u32,
    now: i64,
) -> Result<Reminded, DomainError> {
    admin_only(db, actor, Action::ReconfirmRemind, now)?;
    let district = check_district(district)?;
    let muni = actor.municipality_id.clone();
    let body = payload();
    if let Some(why) = super::push::payload_problem(&body) {
        return Err(DomainError::internal(why));
    }
    let body = body.to_string();
    let rows = db.read(|c| stale_rows(c, &muni, district.as_deref(), months, now))?;
    let mut done = Reminded::default();
    for part in rows.chunks(100) {
        let (r, p, s) = db.write(|c| {
            let (mut residents, mut pushes, mut skipped) = (0, 0, 0);
            for (r, k) in part {
                let at = k.as_ref().map_or(r.created_at, |k| k.confirmed_at);
                // Fresh state in the write: confirmed or reminded meanwhile → nothing to do.
                let now_k = q::of(c, &muni, &r.id)?;
                let at_now = now_k.as_ref().map_or(at, |k| k.confirmed_at);
                let reminded = now_k.as_ref().and_then(|k| k.reminded_at);
                if !is_stale(at_now, months, now) || reminded.is_some_and(|t| t >= at_now) {
                    skipped += 1;
                    continue;
                }
                let mut accounts: Vec<String> = r.account_id.iter().cloned().collect();
                for (proxy, _) in db::residents::current_proxies_with_names(c, &r.id)? {
                    accounts.push(proxy.account_id);
                }
                let mut outbox = Vec::new();
                for account in &accounts {
                    for sub in pushq::subscriptions_of_account(c, &muni, account)? {
                        if sub.facility_id.is_some() {
                            continue;
                        }
                        outbox.push(OutboxRow {
                            id: super::new_id()?,
                            municipality_id: muni.clone(),
                            subscription_id: sub.id,
                            incident_id: None,
                            payload: body.clone(),
                            ttl_secs: REMIND_TTL_SECS,
                            urgency: "normal".into(),
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
                }
                if outbox.is_empty() {
                    skipped += 1;
                    continue;
                }
                let n = pushq::insert_outbox(c, &outbox)?;
                q::mark_reminded(c, &muni, &r.id, at_now, now)?;
                let event = actor
                    .event(Action::ReconfirmRemind, Outcome::Ok)
                    .about(&r.id)
                    .detail(format!("{n} browser(s)"));
                audit::append(c, &muni, &event, now);
                residents += 1;
                pushes += n;
            }
            Ok::<_, DomainError>((residents, pushes, skipped))
        })?;
        done.residents += r;
        done.pushes += p;
        done.skipped += s;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn months_are_calendar_months_clamped_to_the_month_end() {
        assert_eq!(add_months(date!(2025 - 12 - 07), 12), date!(2026 - 12 - 07));
        assert_eq!(add_months(date!(2026 - 01 - 31), 1), date!(2026 - 02 - 28));
        assert_eq!(add_months(date!(2023 - 02 - 28), 12), date!(2024 - 02 - 28));
        assert_eq!(add_months(date!(2026 - 11 - 30), 3), date!(2027 - 02 - 28));
    }

    #[test]
    fn stale_from_the_due_day_in_japan() {
        // 2025-12-07 10:00 JST confirmed; due 2026-12-07 (JST).
        let confirmed = 1_765_069_200;
        assert_eq!(due_on(confirmed, 12).unwrap(), date!(2026 - 12 - 07));
        let midnight_due = 1_796_569_200; // 2026-12-07 00:00 JST
        assert!(!is_stale(confirmed, 12, midnight_due - 1));
        assert!(is_stale(confirmed, 12, midnight_due));
        assert!(REMIND_TITLE.chars().count() <= 64);
        assert!(super::super::push::payload_problem(&payload()).is_none());
    }
}
