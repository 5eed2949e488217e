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
    /// Whether a photo for identity check is offered: a card scan, `photo` disclosed and a photo
    /// on file. The scanning paramedic fetches it, signed, from `GET /api/v1/accesses/{access_id}/photo`
    /// within the grant. Never in the FHIR Bundle.
    #[serde(default)]
    pub photo: bool,
}
