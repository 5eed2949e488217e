//! Row types: one `…Row` (read) per table, and insert forms where they differ.

use super::schema::*;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = municipalities)]
pub struct MunicipalityRow {
    pub id: String,
    pub municipality_id: String,
    pub code: String,
    pub name_ja: String,
    pub name_en: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = issuer_keys)]
pub struct IssuerKeyRow {
    pub municipality_id: String,
    pub kid: String,
    pub status: String,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts)]
pub struct AccountRow {
    pub id: String,
    pub municipality_id: String,
    pub login_id: String,
    pub password_hash: String,
    pub role: String,
    pub display_name: String,
    pub status: String,
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

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = residents, treat_none_as_null = true)]
pub struct ResidentRow {
    pub id: String,
    pub municipality_id: String,
    pub account_id: Option<String>,
    pub family_name: String,
    pub given_name: String,
    pub family_name_kana: Option<String>,
    pub given_name_kana: Option<String>,
    pub date_of_birth: String,
    pub sex: String,
    pub address: String,
    pub district: Option<String>,
    pub phone: Option<String>,
    pub preferred_language: String,
    pub status: String,
    pub withdrawn_at: Option<i64>,
    pub purge_after: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = proxies)]
pub struct ProxyRow {
    pub id: String,
    pub municipality_id: String,
    pub resident_id: String,
    pub account_id: String,
    pub relation: String,
    pub relation_detail: Option<String>,
    pub consent_statement: String,
    pub consented_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = dataset_items)]
pub struct DatasetItemRow {
    pub id: String,
    pub municipality_id: String,
    pub resident_id: String,
    pub category: String,
    pub body: String,
    pub provenance: String,
    pub last_verified: Option<String>,
    pub updated_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = consents)]
pub struct ConsentRow {
    pub id: String,
    pub municipality_id: String,
    pub resident_id: String,
    pub version: i32,
    pub status: String,
    pub categories: String,
    pub disaster_use: bool,
    pub triage_on_card: bool,
    pub name_on_print: bool,
    pub given_by: String,
    pub proxy_id: Option<String>,
    pub recorded_by: String,
    pub created_at: i64,
}

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
    pub status: String,
    pub revoked_at: Option<i64>,
    pub revoke_reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = facilities)]
pub struct FacilityRow {
    pub id: String,
    pub municipality_id: String,
    pub kind: String,
    pub name_ja: String,
    pub name_en: String,
    pub address: String,
    pub phone: String,
    pub status: String,
    pub listed: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = devices)]
pub struct DeviceRow {
    pub id: String,
    pub municipality_id: String,
    pub facility_id: String,
    pub label: String,
    pub public_jwk: String,
    pub status: String,
    pub enrolled_at: i64,
    pub enrolled_by: String,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = enrollment_codes)]
pub struct EnrollmentCodeRow {
    pub code_hash: String,
    pub municipality_id: String,
    pub facility_id: String,
    pub label: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub device_id: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = spent_nonces)]
pub struct SpentNonceRow {
    pub created: i64,
    pub device_id: String,
    pub nonce: String,
    pub municipality_id: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = accesses)]
pub struct AccessRow {
    pub id: String,
    pub municipality_id: String,
    pub kind: String,
    pub resident_id: String,
    pub card_id: Option<String>,
    pub account_id: String,
    pub device_id: String,
    pub facility_id: String,
    pub incident_ref: String,
    pub reason: Option<String>,
    pub categories: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub review_status: Option<String>,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<i64>,
    pub review_note: Option<String>,
}

// ---- governance: disaster mode (RULES R11) ------------------------------------------------------

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = disaster_declarations)]
pub struct DisasterDeclarationRow {
    pub id: String,
    pub municipality_id: String,
    /// JSON array of district names; `[]` = the whole municipality.
    pub districts: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub reason: String,
    pub declared_by: String,
    pub created_at: i64,
    pub renewed_from: Option<String>,
    pub ended_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = disaster_accesses)]
pub struct DisasterAccessRow {
    pub id: String,
    pub municipality_id: String,
    pub declaration_id: String,
    pub resident_id: String,
    pub account_id: String,
    /// JSON array of the disclosed categories.
    pub categories: String,
    pub created_at: i64,
}

// ---- governance: applications, directory, notices (RULES R1, R6, R15, R17) ---------------------

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = facility_contacts)]
pub struct FacilityContactRow {
    pub facility_id: String,
    pub municipality_id: String,
    pub contact_email: String,
    pub manager_name: String,
    pub manager_phone: String,
    pub updated_at: i64,
}

/// An application to join, or a facility's change or withdrawal request (`request_type`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = facility_applications)]
pub struct FacilityApplicationRow {
    pub id: String,
    pub municipality_id: String,
    pub request_type: String,
    pub status: String,
    pub facility_id: Option<String>,
    pub kind: Option<String>,
    pub name_ja: Option<String>,
    pub name_en: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub contact_email: Option<String>,
    pub manager_name: Option<String>,
    pub manager_phone: Option<String>,
    pub listed: Option<bool>,
    pub note: Option<String>,
    pub status_token_hash: String,
    pub submitted_by: Option<String>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = application_notifications)]
pub struct ApplicationNotificationRow {
    pub id: String,
    pub municipality_id: String,
    pub application_id: String,
    pub status: String,
    pub reason: Option<String>,
    pub facility_id: Option<String>,
    pub recipient_email: Option<String>,
    pub created_at: i64,
    pub email_sent_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = notices)]
pub struct NoticeRow {
    pub id: String,
    pub municipality_id: String,
    pub kind: String,
    pub title_ja: String,
    pub title_en: String,
    pub body_ja: String,
    pub body_en: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub termination: bool,
    pub status: String,
    pub created_by: String,
    pub created_at: i64,
    pub withdrawn_by: Option<String>,
    pub withdrawn_at: Option<i64>,
}

/// The fields an approved change request sets on a facility (`None` = unchanged).
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = facilities)]
pub struct FacilityChanges {
    pub kind: Option<String>,
    pub name_ja: Option<String>,
    pub name_en: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub listed: Option<bool>,
}

impl FacilityChanges {
    pub fn is_empty(&self) -> bool {
        self.kind.is_none()
            && self.name_ja.is_none()
            && self.name_en.is_none()
            && self.address.is_none()
            && self.phone.is_none()
            && self.listed.is_none()
    }
}
