//! Accounts and sessions (`service::accounts`, `service::residents`, `service::staff`): logins and
//! sessions, login security (second factor, lockout), and suspension, reinstatement and password
//! changes of staff accounts.
//!
//! Same rules as the other query modules: each query takes a connection and returns `QueryResult`,
//! "not found" is `Ok(None)` only where asked for with `optional()`, lookups by a unique key use
//! `get_result` (not `first`), and every query that reads or writes resident data is scoped by
//! municipality.

use super::DbConnection;
use super::schema::*;
use crate::domain::{AccountStatus, Role};
use diesel::prelude::*;

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts)]
pub struct AccountRow {
    pub id: String,
    pub municipality_id: String,
    pub login_id: String,
    pub password_hash: String,
    pub role: Role,
    pub display_name: String,
    pub status: AccountStatus,
    pub created_at: i64,
    /// The facility a staff member belongs to (paramedics: their fire department).
    pub facility_id: Option<String>,
    /// Staff: the TOTP secret (base32), and the last time step accepted (no code is used twice).
    pub totp_secret: Option<String>,
    pub totp_last_step: Option<i64>,
    /// Consecutive failed logins; at the limit the account is locked until `locked_until`.
    pub failed_logins: i32,
    pub locked_until: Option<i64>,
    /// RULES R3: the user's profession.
    pub profession: Option<String>,
    /// A stopped ID (lost credential) points to the one issued in its place.
    pub replaced_by: Option<String>,
    pub suspended_reason: Option<String>,
}

impl std::fmt::Debug for AccountRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRow")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub token_hash: String,
    pub municipality_id: String,
    pub account_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    /// The device that signed the login, for sessions of field devices.
    pub device_id: Option<String>,
}

// ---- accounts and sessions -------------------------------------------------------------------

pub fn insert_account(conn: &mut DbConnection, row: &AccountRow) -> QueryResult<usize> {
    diesel::insert_into(accounts::table)
        .values(row)
        .execute(conn)
}

pub fn account_by_login(
    conn: &mut DbConnection,
    muni: &str,
    login_id: &str,
) -> QueryResult<Option<AccountRow>> {
    accounts::table
        .filter(accounts::municipality_id.eq(muni))
        .filter(accounts::login_id.eq(login_id))
        .select(AccountRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn insert_session(conn: &mut DbConnection, row: &SessionRow) -> QueryResult<usize> {
    diesel::insert_into(sessions::table)
        .values(row)
        .execute(conn)
}

pub fn session_with_account(
    conn: &mut DbConnection,
    token_hash: &str,
) -> QueryResult<Option<(SessionRow, AccountRow)>> {
    crate::native!(conn, c => {
        sessions::table
            .inner_join(accounts::table)
            .filter(sessions::token_hash.eq(token_hash))
            .select((SessionRow::as_select(), AccountRow::as_select()))
            .get_result(c)
            .optional()
    })
}

/// Moves a session's `last_seen_at` forward. **Never waits for a row lock** (PostgreSQL): a
/// session row another transaction holds is being touched by it already (every request of a
/// session touches it when due, and a board's dozen feeds re-check it together), so this one
/// skips it (`FOR UPDATE SKIP LOCKED`) and returns 0. Waiting was a deadlock: the group-commit
/// writers' batches touched the same sessions in different orders, each PostgreSQL deadlock
/// detection (1 s) failed one touch, and every write of the server queued behind them
/// (docs/scaling.md "National shape"). SQLite has one writer: no lock to wait for.
pub fn touch_session(conn: &mut DbConnection, token_hash: &str, now: i64) -> QueryResult<usize> {
    let target = sessions::table.filter(sessions::token_hash.eq(token_hash));
    match conn {
        DbConnection::Pg(pg) => {
            let free: Option<String> = target
                .select(sessions::token_hash)
                .for_update()
                .skip_locked()
                .get_result(pg)
                .optional()?;
            if free.is_none() {
                return Ok(0);
            }
            diesel::update(target)
                .set(sessions::last_seen_at.eq(now))
                .execute(pg)
        }
        DbConnection::Sqlite(lite) => diesel::update(target)
            .set(sessions::last_seen_at.eq(now))
            .execute(lite),
    }
}

pub fn delete_session(conn: &mut DbConnection, token_hash: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::token_hash.eq(token_hash))).execute(conn)
}

pub fn set_account_status(
    conn: &mut DbConnection,
    account_id: &str,
    status: AccountStatus,
) -> QueryResult<usize> {
    diesel::update(accounts::table.filter(accounts::id.eq(account_id)))
        .set(accounts::status.eq(status))
        .execute(conn)
}

pub fn delete_sessions_of(conn: &mut DbConnection, account_id: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::account_id.eq(account_id))).execute(conn)
}

pub fn count_accounts_with_role(
    conn: &mut DbConnection,
    muni: &str,
    role: Role,
) -> QueryResult<i64> {
    accounts::table
        .filter(accounts::municipality_id.eq(muni))
        .filter(accounts::role.eq(role))
        .count()
        .get_result(conn)
}

// ---- login security (second factor, lockout, suspension) and staff ---------------------------

/// One more consecutive failure; `lock_until` locks the account (and restarts the count).
pub fn record_login_failure(
    conn: &mut DbConnection,
    account_id: &str,
    lock_until: Option<i64>,
) -> QueryResult<usize> {
    let target = accounts::table.filter(accounts::id.eq(account_id));
    match lock_until {
        Some(t) => diesel::update(target)
            .set((accounts::failed_logins.eq(0), accounts::locked_until.eq(t)))
            .execute(conn),
        None => diesel::update(target)
            .set(accounts::failed_logins.eq(accounts::failed_logins + 1))
            .execute(conn),
    }
}

/// Resets the failure count and records the TOTP step used — only if the stored step is still the
/// one the caller checked against (so two logins cannot use one code). Returns rows updated.
pub fn record_login_success(
    conn: &mut DbConnection,
    account_id: &str,
    step: Option<i64>,
    previous_step: Option<i64>,
) -> QueryResult<usize> {
    let target = accounts::table.filter(accounts::id.eq(account_id));
    match (step, previous_step) {
        (None, _) => diesel::update(target)
            .set((
                accounts::failed_logins.eq(0),
                accounts::locked_until.eq(None::<i64>),
            ))
            .execute(conn),
        (Some(s), None) => diesel::update(target.filter(accounts::totp_last_step.is_null()))
            .set((
                accounts::failed_logins.eq(0),
                accounts::locked_until.eq(None::<i64>),
                accounts::totp_last_step.eq(s),
            ))
            .execute(conn),
        (Some(s), Some(p)) => diesel::update(target.filter(accounts::totp_last_step.eq(p)))
            .set((
                accounts::failed_logins.eq(0),
                accounts::locked_until.eq(None::<i64>),
                accounts::totp_last_step.eq(s),
            ))
            .execute(conn),
    }
}

pub fn account(conn: &mut DbConnection, muni: &str, id: &str) -> QueryResult<Option<AccountRow>> {
    accounts::table
        .filter(accounts::municipality_id.eq(muni))
        .filter(accounts::id.eq(id))
        .select(AccountRow::as_select())
        .get_result(conn)
        .optional()
}

pub fn staff_accounts(
    conn: &mut DbConnection,
    muni: &str,
    facility_id: Option<&str>,
) -> QueryResult<Vec<AccountRow>> {
    let mut q = accounts::table
        .filter(accounts::municipality_id.eq(muni))
        .filter(accounts::role.ne_all([Role::Resident, Role::Proxy]))
        .into_boxed();
    if let Some(f) = facility_id {
        q = q.filter(accounts::facility_id.eq(f));
    }
    q.order(accounts::login_id)
        .select(AccountRow::as_select())
        .load(conn)
}

pub fn suspend_account(
    conn: &mut DbConnection,
    account_id: &str,
    reason: &str,
    replaced_by: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(accounts::table.filter(accounts::id.eq(account_id)))
        .set((
            accounts::status.eq(AccountStatus::Suspended),
            accounts::suspended_reason.eq(reason),
            accounts::replaced_by.eq(replaced_by),
        ))
        .execute(conn)
}

pub fn reinstate_account(conn: &mut DbConnection, account_id: &str) -> QueryResult<usize> {
    diesel::update(accounts::table.filter(accounts::id.eq(account_id)))
        .set((
            accounts::status.eq(AccountStatus::Active),
            accounts::suspended_reason.eq(None::<String>),
            accounts::failed_logins.eq(0),
            accounts::locked_until.eq(None::<i64>),
        ))
        .execute(conn)
}

pub fn set_password(conn: &mut DbConnection, account_id: &str, hash: &str) -> QueryResult<usize> {
    diesel::update(accounts::table.filter(accounts::id.eq(account_id)))
        .set(accounts::password_hash.eq(hash))
        .execute(conn)
}

pub fn delete_sessions_except(
    conn: &mut DbConnection,
    account_id: &str,
    keep_token_hash: &str,
) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::account_id.eq(account_id))
            .filter(sessions::token_hash.ne(keep_token_hash)),
    )
    .execute(conn)
}

pub fn accounts_of_facility(
    conn: &mut DbConnection,
    facility_id: &str,
) -> QueryResult<Vec<String>> {
    accounts::table
        .filter(accounts::facility_id.eq(facility_id))
        .select(accounts::id)
        .load(conn)
}
