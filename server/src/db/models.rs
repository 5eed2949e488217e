//! Row types: one `…Row` (read) per table, and insert forms where they differ.
//!
//! The row types live in one module per aggregate, next to their queries; this module only
//! re-exports them, so that `db::models::NAME` keeps working.

pub use super::access::AccessRow;
pub use super::accounts::{AccountRow, SessionRow};
pub use super::cards::CardRow;
pub use super::disasters::{DisasterAccessRow, DisasterDeclarationRow};
pub use super::facilities::{DeviceRow, EnrollmentCodeRow, FacilityRow, SpentNonceRow};
pub use super::governance::{
    ApplicationNotificationRow, FacilityApplicationRow, FacilityChanges, FacilityContactRow,
    NoticeRow,
};
pub use super::keys::{IssuerKeyRow, MunicipalityRow};
pub use super::residents::{ConsentRow, DatasetItemRow, ProxyRow, ResidentRow};
