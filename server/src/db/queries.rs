//! Queries. Each takes a connection and returns `QueryResult`; lookups by a unique key use
//! `get_result`, not `first`: `first` binds `LIMIT ?`, which makes SQLite re-prepare the statement
//! on every execution (measured 4.7 µs vs 0.7 µs per lookup; ≈16% of server CPU under scan load).
//! "Not found" is `Ok(None)` only where the caller asked with `optional()`, never a swallowed
//! error. Every query that reads or writes
//! resident data is scoped by municipality.
//!
//! The queries live in one module per aggregate (`accounts`, `residents`, `cards`, …), each with its
//! row types; this module only re-exports them, so that `db::queries::NAME` keeps working.

pub use super::access::{
    access, accesses_for_review, accesses_of_resident, insert_access, residents_born_on,
    review_access,
};
pub use super::accounts::{
    account, account_by_login, accounts_of_facility, count_accounts_with_role, delete_session,
    delete_sessions_except, delete_sessions_of, insert_account, insert_session,
    record_login_failure, record_login_success, reinstate_account, session_with_account,
    set_account_status, set_password, staff_accounts, suspend_account, touch_session,
};
pub use super::audit::audit_events_about;
pub use super::cards::{
    card, cards_of, insert_card, revoke_card, revoke_cards_of, revoked_card_ids, still_scannable,
};
pub use super::disasters::{
    active_residents_in, consent_disaster_flags, disaster_accesses_of_resident,
    disaster_declaration, disaster_declarations, disaster_declarations_in_force,
    end_disaster_declaration, insert_disaster_access, insert_disaster_declaration,
};
pub use super::facilities::{
    delete_nonces_created_before, delete_sessions_of_device, device, devices_of, enrollment_code,
    facilities, facility, insert_device, insert_enrollment_code, insert_facility, insert_nonce,
    revoke_device, revoke_devices_of_facility, set_facility_status, use_enrollment_code,
};
pub use super::governance::{
    application_notification, count_pending_facility_applications,
    count_pending_requests_of_facility, decide_facility_application, decided_facility_applications,
    directory, expire_enrollment_codes_of_facility, facility_application, facility_contact,
    insert_application_notification, insert_facility_application, insert_notice,
    lock_pending_application, notice, pending_facility_applications, published_notices,
    put_facility_contact, update_facility, withdraw_facility, withdraw_notice,
};
pub use super::keys::{
    first_municipality, insert_issuer_key, insert_municipality, issuer_keys, municipality,
    set_issuer_key_status,
};
pub use super::residents::{
    any_resident, consents, delete_item, delete_items_of, insert_consent, insert_item,
    insert_proxy, insert_resident, item, items, latest_consent, proxies_with_names, proxy_for,
    resident, resident_of_account, residents_due_for_purge, residents_of_proxy, update_item,
    update_resident,
};
