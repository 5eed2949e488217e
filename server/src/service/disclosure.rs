//! What a responder is shown: the consented emergency dataset of one resident, for one access
//! (a card scan or a break-glass search). Built by `service::access`; rendered as JSON or, by
//! `service::fhir`, as an IPS-shaped FHIR R4 Bundle.

use super::consent::Consent;
use super::dataset::Item;
use serde::Serialize;

/// The resident as a responder needs to identify them.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Patient {
    /// The resident's id (stable; used as the FHIR Patient id).
    pub id: String,
    pub family_name: String,
    pub given_name: String,
    pub family_name_kana: Option<String>,
    pub given_name_kana: Option<String>,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// `female` | `male` | `other` | `unknown`.
    pub sex: String,
    /// Whole years at the time of access.
    pub age: u32,
    /// `ja` | `en`.
    pub preferred_language: String,
}

/// One disclosure of a resident's emergency data to a responder.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Disclosure {
    /// The access record's id (128 random bits, 32 hex); re-fetch with `GET /api/v1/accesses/{id}`.
    pub access_id: String,
    /// `scan` | `break_glass` | `disaster` (a disaster responder's read, RULES R11).
    #[schema(value_type = String)]
    pub kind: crate::domain::DisclosureKind,
    /// The crew's incident reference, as sent (disaster reads: the declaration's id).
    pub incident_ref: String,
    /// Unix seconds (UTC).
    pub accessed_at: i64,
    /// The grant ends at this time (Unix seconds); later reads are refused (disaster reads: the
    /// declaration's end).
    pub expires_at: i64,
    /// The scanned card's id (hex), for scans.
    pub card_id: Option<String>,
    /// The responder's facility (fire department); empty for disaster reads (responders belong
    /// to no facility).
    pub facility_id: String,
    pub patient: Patient,
    /// The consent in force (always a grant; a withdrawn consent discloses nothing).
    pub consent: Consent,
    /// The categories disclosed: the consented ones (for break-glass, only the emergency ones).
    #[schema(value_type = Vec<String>)]
    pub categories: Vec<crate::domain::Category>,
    /// The dataset items of the disclosed categories, and nothing else.
    pub items: Vec<Item>,
    /// Scans and their re-reads: whether the card presented still says what a card issued now
    /// would say (its signed triage core equals the one the current dataset and consent give).
    /// `false`: the card is out of date; show `triage`, not the card's. A card without a
    /// triage core is always current. Absent for break-glass and disaster reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_current: Option<bool>,
    /// With `card_current`, for a card that carries a triage core: the triage core as it is now
    /// (the card's shape: `{blood_type, flags}`), or absent if the consent no longer puts one on
    /// a card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage: Option<TriageNow>,
    /// Whether a photo for identity check is offered: a card scan, `photo` disclosed and a photo
    /// on file. The scanning paramedic fetches it, signed, from `GET /api/v1/accesses/{access_id}/photo`
    /// within the grant. Never in the FHIR Bundle.
    #[serde(default)]
    pub photo: bool,
}

/// A triage core as JSON, in the shape of `kyukit_card::TriageCore`'s serialization:
/// `{"blood_type": "A+", "flags": ["anticoagulant", "insulin"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TriageNow {
    /// `A+`, `AB-`, `O?` (Rh unknown), `?` (unknown), as on the card.
    pub blood_type: String,
    /// The flags set (snake_case names, as the card's).
    pub flags: Vec<String>,
}

impl TriageNow {
    pub fn of(core: &kyukit_card::TriageCore) -> Result<Self, super::error::DomainError> {
        let v = serde_json::to_value(core).map_err(super::error::DomainError::internal)?;
        serde_json::from_value(v).map_err(super::error::DomainError::internal)
    }
}

/// A card's currency for a disclosure: whether the card's signed core (`None`: a pointer card)
/// is the one a card issued now would carry, and that core (for a card that carries one).
pub fn currency(
    card_core: Option<&kyukit_card::TriageCore>,
    items: &[crate::db::residents::DatasetItemRow],
    consent: &Consent,
) -> Result<(Option<bool>, Option<TriageNow>), super::error::DomainError> {
    let now = super::cards::current_core(items, consent);
    let current = super::cards::is_current(card_core, now.as_ref());
    let triage = match (card_core, now) {
        (Some(_), Some(core)) => Some(TriageNow::of(&core)?),
        _ => None,
    };
    Ok((Some(current), triage))
}
