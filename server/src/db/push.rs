//! Web Push rows and queries: `push_subscriptions` (one row per browser subscription of an ED
//! staff account) and `push_outbox` (one row per delivery to one subscription). In a module of
//! its own so the push worker's SQL (leasing with `FOR UPDATE SKIP LOCKED` on PostgreSQL) is
//! in one place.

use super::DbConnection;
use super::schema::{accounts, facilities, push_outbox, push_subscriptions};
use crate::domain::{AccountStatus, FacilityStatus, OutboxStatus};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = push_subscriptions)]
pub struct SubscriptionRow {
    pub id: String,
    pub municipality_id: String,
    pub account_id: String,
    /// The ED staff member's hospital; `None` for a resident's or proxy's browser
    /// (`service::family`).
    pub facility_id: Option<String>,
    /// The push service URL (a capability: whoever knows it can post to the browser).
    pub endpoint: String,
    /// The browser's P-256 key, base64url of the 65-byte uncompressed point.
    pub p256dh: String,
    /// The 16-byte authentication secret, base64url.
    pub auth: String,
    pub label: Option<String>,
    pub created_at: i64,
    /// Who is called when (1: first call, 2: ED backup from escalation level 2, 3: the facility
    /// manager from level 3).
    pub tier: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = push_outbox)]
pub struct OutboxRow {
    pub id: String,
    pub municipality_id: String,
    pub subscription_id: String,
    pub incident_id: Option<String>,
    pub payload: String,
    pub ttl_secs: i32,
    pub urgency: String,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub done_at: Option<i64>,
}

// ---- subscriptions ----------------------------------------------------------------------------

pub fn subscription_by_endpoint(
    c: &mut DbConnection,
    endpoint: &str,
) -> QueryResult<Option<SubscriptionRow>> {
    push_subscriptions::table
        .filter(push_subscriptions::endpoint.eq(endpoint))
        .select(SubscriptionRow::as_select())
        .get_result(c)
        .optional()
}

pub fn insert_subscription(c: &mut DbConnection, row: &SubscriptionRow) -> QueryResult<usize> {
    diesel::insert_into(push_subscriptions::table)
        .values(row)
        .execute(c)
}

/// Replaces the keys, label and tier of a subscription (the same account subscribing the same
/// endpoint again, e.g. after the browser rotated its keys).
pub fn update_subscription_keys(
    c: &mut DbConnection,
    id: &str,
    p256dh: &str,
    auth: &str,
    label: Option<&str>,
    tier: i32,
) -> QueryResult<usize> {
    diesel::update(push_subscriptions::table.filter(push_subscriptions::id.eq(id)))
        .set((
            push_subscriptions::p256dh.eq(p256dh),
            push_subscriptions::auth.eq(auth),
            push_subscriptions::label.eq(label),
            push_subscriptions::tier.eq(tier),
        ))
        .execute(c)
}

pub fn delete_subscription(c: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::delete(push_subscriptions::table.filter(push_subscriptions::id.eq(id))).execute(c)
}

/// Deletes a subscription only if it still has the endpoint and key a push was sent to (a
/// re-subscription in between keeps the new keys).
pub fn delete_subscription_if_unchanged(
    c: &mut DbConnection,
    id: &str,
    endpoint: &str,
    p256dh: &str,
) -> QueryResult<usize> {
    diesel::delete(
        push_subscriptions::table
            .filter(push_subscriptions::id.eq(id))
            .filter(push_subscriptions::endpoint.eq(endpoint))
            .filter(push_subscriptions::p256dh.eq(p256dh)),
    )
    .execute(c)
}

pub fn subscriptions_of_account(
    c: &mut DbConnection,
    muni: &str,
    account_id: &str,
) -> QueryResult<Vec<SubscriptionRow>> {
    push_subscriptions::table
        .filter(push_subscriptions::municipality_id.eq(muni))
        .filter(push_subscriptions::account_id.eq(account_id))
        .order((
            push_subscriptions::created_at.asc(),
            push_subscriptions::id.asc(),
        ))
        .select(SubscriptionRow::as_select())
        .load(c)
}

pub fn count_subscriptions_of_account(c: &mut DbConnection, account_id: &str) -> QueryResult<i64> {
    push_subscriptions::table
        .filter(push_subscriptions::account_id.eq(account_id))
        .count()
        .get_result(c)
}

/// The subscriptions a facility's alerts of tier `max_tier` go to: those of tier 1 to `max_tier`
/// of its **active** accounts (not suspended, not replaced), and none while the facility itself
/// is not active.
pub fn deliverable_subscriptions(
    c: &mut DbConnection,
    muni: &str,
    facility_id: &str,
    max_tier: i32,
) -> QueryResult<Vec<SubscriptionRow>> {
    let facility_active = facilities::table
        .filter(facilities::id.eq(facility_id))
        .filter(facilities::municipality_id.eq(muni))
        .select(facilities::status)
        .get_result::<FacilityStatus>(c)
        .optional()?
        .is_some_and(|s| s == FacilityStatus::Active);
    if !facility_active {
        return Ok(Vec::new());
    }
    let subs: Vec<SubscriptionRow> = push_subscriptions::table
        .filter(push_subscriptions::municipality_id.eq(muni))
        .filter(push_subscriptions::facility_id.eq(facility_id))
        .filter(push_subscriptions::tier.le(max_tier))
        .order(push_subscriptions::id.asc())
        .select(SubscriptionRow::as_select())
        .load(c)?;
    if subs.is_empty() {
        return Ok(subs);
    }
    let ids: Vec<&str> = subs.iter().map(|s| s.account_id.as_str()).collect();
    let active: std::collections::HashSet<String> = accounts::table
        .filter(accounts::id.eq_any(ids))
        .filter(accounts::municipality_id.eq(muni))
        .filter(accounts::facility_id.eq(facility_id))
        .filter(accounts::status.eq(AccountStatus::Active))
        .select(accounts::id)
        .load::<String>(c)?
        .into_iter()
        .collect();
    Ok(subs
        .into_iter()
        .filter(|s| active.contains(&s.account_id))
        .collect())
}

// ---- outbox -----------------------------------------------------------------------------------

pub fn insert_outbox(c: &mut DbConnection, rows: &[OutboxRow]) -> QueryResult<usize> {
    let mut n = 0;
    // One statement per row: SQLite and PostgreSQL both take it, and a facility has few devices.
    for row in rows {
        n += diesel::insert_into(push_outbox::table)
            .values(row)
            .execute(c)?;
    }
    Ok(n)
}

/// Whether any row is due at `now` (a cheap read before the worker opens a write transaction).
pub fn any_due(c: &mut DbConnection, now: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        push_outbox::table
            .filter(push_outbox::status.eq(OutboxStatus::Pending))
            .filter(push_outbox::next_attempt_at.le(now))
            .filter(
                push_outbox::lease_until
                    .is_null()
                    .or(push_outbox::lease_until.lt(now)),
            ),
    ))
    .get_result(c)
}

/// Leases up to `limit` due rows to `owner` until `lease_until`; returns them with their
/// subscriptions (`None`: the subscription was deleted since). Call inside a write transaction:
/// on PostgreSQL the due rows are selected `FOR UPDATE SKIP LOCKED`, so concurrent instances
/// claim disjoint rows; on SQLite the write lock serialises claims.
pub fn lease_due(
    c: &mut DbConnection,
    owner: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> QueryResult<Vec<(OutboxRow, Option<SubscriptionRow>)>> {
    let due = push_outbox::table
        .filter(push_outbox::status.eq(OutboxStatus::Pending))
        .filter(push_outbox::next_attempt_at.le(now))
        .filter(
            push_outbox::lease_until
                .is_null()
                .or(push_outbox::lease_until.lt(now)),
        )
        .order((push_outbox::next_attempt_at.asc(), push_outbox::id.asc()))
        .limit(limit)
        .select(push_outbox::id);
    let ids: Vec<String> = match c {
        DbConnection::Pg(pg) => due.for_update().skip_locked().load(pg)?,
        DbConnection::Sqlite(lite) => due.load(lite)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(push_outbox::table.filter(push_outbox::id.eq_any(&ids)))
        .set((
            push_outbox::lease_owner.eq(owner),
            push_outbox::lease_until.eq(lease_until),
        ))
        .execute(c)?;
    push_outbox::table
        .left_join(push_subscriptions::table)
        .filter(push_outbox::id.eq_any(&ids))
        .order((push_outbox::next_attempt_at.asc(), push_outbox::id.asc()))
        .select((
            OutboxRow::as_select(),
            Option::<SubscriptionRow>::as_select(),
        ))
        .load(c)
}

/// The end state, or the next attempt, of one leased row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxUpdate {
    /// `pending` (retry later), `sent`, `gone` or `failed`.
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub done_at: Option<i64>,
    /// `Some`: the row stays leased to the same owner until then (it retries the row itself).
    pub lease_until: Option<i64>,
}

/// Records an outcome on a row this `owner` still leases (a row whose lease another instance
/// took over in the meantime is left alone: returns 0).
pub fn finish_outbox(
    c: &mut DbConnection,
    id: &str,
    owner: &str,
    u: &OutboxUpdate,
) -> QueryResult<usize> {
    diesel::update(
        push_outbox::table
            .filter(push_outbox::id.eq(id))
            .filter(push_outbox::lease_owner.eq(owner))
            .filter(push_outbox::status.eq(OutboxStatus::Pending)),
    )
    .set((
        push_outbox::status.eq(u.status),
        push_outbox::attempts.eq(u.attempts),
        push_outbox::next_attempt_at.eq(u.next_attempt_at),
        push_outbox::lease_owner.eq(u.lease_until.map(|_| owner)),
        push_outbox::lease_until.eq(u.lease_until),
        push_outbox::last_status.eq(u.last_status),
        push_outbox::last_error.eq(u.last_error.as_deref()),
        push_outbox::done_at.eq(u.done_at),
    ))
    .execute(c)
}

/// Deletes finished rows (sent, gone, failed) that finished before `before`.
pub fn purge_finished(c: &mut DbConnection, before: i64) -> QueryResult<usize> {
    diesel::delete(
        push_outbox::table
            .filter(push_outbox::status.ne(OutboxStatus::Pending))
            .filter(push_outbox::done_at.lt(before)),
    )
    .execute(c)
}
