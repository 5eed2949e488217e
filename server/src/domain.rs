//! The closed sets of the domain: roles, the statuses of accounts, residents, consents, cards,
//! keys, facilities, devices, accesses, applications, notices, incidents, inquiry targets and push
//! deliveries, and the kinds and relations beside them (and the code lists of the dataset, reports
//! and the audit log's purposes, which people read only as words: never shown raw). Each is a Rust enum stored as the same
//! text as before (the migrations' CHECK constraints list the values) and sent as the same JSON
//! string; `text_enum!` declares the text forms once and derives the rest.

/// An unknown text for one of the enums of this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {text:?}")]
pub struct UnknownText {
    pub kind: &'static str,
    pub text: String,
}

/// Declares an enum with the exact text of each variant, and derives from it: `as_str`, `ALL`,
/// `FromStr` (an unknown text is an `UnknownText` error), `Display`, serde as that text, and
/// diesel `ToSql`/`FromSql` for `Text` on every backend (so rows hold the enum directly).
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::AsExpression, diesel::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every value's text, in declaration order.
            pub const TEXTS: &'static [&'static str] = &[$($text),+];

            /// The text stored in the database and sent on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::UnknownText;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::domain::UnknownText {
                        kind: stringify!($name),
                        text: s.to_string(),
                    }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(|_| {
                    ::serde::de::Error::unknown_variant(&text, &[$($text),+])
                })
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = <String as diesel::deserialize::FromSql<
                    diesel::sql_types::Text,
                    DB,
                >>::from_sql(bytes)?;
                Ok(text.parse::<$name>()?)
            }
        }
    };
}

text_enum! {
    /// An advance directive's status (the `advance_directive` dataset item's `status`).
    pub enum DirectiveStatus {
        None = "none",
        /// Advance care planning on file.
        Acp = "acp",
        Dnar = "dnar",
    }
}

text_enum! {
    /// An account's role (`accounts.role`).
    pub enum Role {
        Resident = "resident",
        Proxy = "proxy",
        Paramedic = "paramedic",
        EdStaff = "ed_staff",
        FacilityManager = "facility_manager",
        CityAdmin = "city_admin",
        DisasterResponder = "disaster_responder",
    }
}

text_enum! {
    /// `accounts.status`.
    pub enum AccountStatus {
        Active = "active",
        Suspended = "suspended",
    }
}

text_enum! {
    /// `residents.status`.
    pub enum ResidentStatus {
        Active = "active",
        Withdrawn = "withdrawn",
        Purged = "purged",
    }
}

text_enum! {
    /// A proxy's relation to the resident (`proxies.relation`).
    pub enum ProxyRelation {
        Family = "family",
        Relative = "relative",
        CareManager = "care_manager",
        Guardian = "guardian",
        Other = "other",
    }
}

text_enum! {
    /// Who entered a dataset item (`dataset_items.provenance`).
    pub enum Provenance {
        SelfEntered = "self",
        Proxy = "proxy",
        Clinician = "clinician",
    }
}

text_enum! {
    /// `consents.status`.
    pub enum ConsentStatus {
        Granted = "granted",
        Withdrawn = "withdrawn",
    }
}

text_enum! {
    /// Who gave a consent (`consents.given_by`).
    pub enum GivenBy {
        SelfGiven = "self",
        Proxy = "proxy",
    }
}

text_enum! {
    /// `cards.status`.
    pub enum CardStatus {
        Active = "active",
        Revoked = "revoked",
    }
}

text_enum! {
    /// `households.status` (the household sticker, issue 27).
    pub enum HouseholdStatus {
        Active = "active",
        Revoked = "revoked",
    }
}

text_enum! {
    /// `issuer_keys.status`.
    pub enum KeyStatus {
        Active = "active",
        Retired = "retired",
        Compromised = "compromised",
    }
}

text_enum! {
    /// `facilities.kind` (and `facility_applications.kind`).
    pub enum FacilityKind {
        FireDepartment = "fire_department",
        Hospital = "hospital",
        Clinic = "clinic",
        Pharmacy = "pharmacy",
        CareProvider = "care_provider",
        SupportCenter = "support_center",
    }
}

text_enum! {
    /// `facilities.status`.
    pub enum FacilityStatus {
        Active = "active",
        Suspended = "suspended",
        Withdrawn = "withdrawn",
    }
}

text_enum! {
    /// `devices.status`.
    pub enum DeviceStatus {
        Active = "active",
        Revoked = "revoked",
    }
}

text_enum! {
    /// `facility_municipalities.status`: a facility serving another municipality (issue 22).
    pub enum MembershipStatus {
        Active = "active",
        Suspended = "suspended",
    }
}

text_enum! {
    /// `accesses.kind`.
    pub enum AccessKind {
        Scan = "scan",
        BreakGlass = "break_glass",
    }
}

text_enum! {
    /// What kind of read a disclosure was: an access's kind, or a disaster responder's read.
    pub enum DisclosureKind {
        Scan = "scan",
        BreakGlass = "break_glass",
        Disaster = "disaster",
    }
}

impl From<AccessKind> for DisclosureKind {
    fn from(k: AccessKind) -> Self {
        match k {
            AccessKind::Scan => DisclosureKind::Scan,
            AccessKind::BreakGlass => DisclosureKind::BreakGlass,
        }
    }
}

text_enum! {
    /// Who asked for a held registration (`registration_holds.kind`).
    pub enum HoldKind {
        SelfRegistration = "self",
        Proxy = "proxy",
    }
}

text_enum! {
    /// A held registration (`registration_holds.status`): waiting for the city, linked to the
    /// existing record (proxies), or rejected.
    pub enum HoldStatus {
        Pending = "pending",
        Linked = "linked",
        Rejected = "rejected",
    }
}

text_enum! {
    /// A break-glass access's review (`accesses.review_status`).
    pub enum ReviewStatus {
        Pending = "pending",
        Justified = "justified",
        Unjustified = "unjustified",
    }
}

text_enum! {
    /// `facility_applications.request_type`.
    pub enum RequestType {
        Application = "application",
        Change = "change",
        Withdrawal = "withdrawal",
    }
}

text_enum! {
    /// `facility_applications.status`.
    pub enum ApplicationStatus {
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
    }
}

text_enum! {
    /// A decision on an application (`application_notifications.status`).
    pub enum Decision {
        Approved = "approved",
        Rejected = "rejected",
    }
}

text_enum! {
    /// `notices.kind`.
    pub enum NoticeKind {
        ServiceChange = "service_change",
        PlannedSuspension = "planned_suspension",
        Incident = "incident",
    }
}

text_enum! {
    /// `notices.status`.
    pub enum NoticeStatus {
        Published = "published",
        Withdrawn = "withdrawn",
    }
}

text_enum! {
    /// `incidents.status`.
    pub enum IncidentStatus {
        Open = "open",
        Accepted = "accepted",
        Arrived = "arrived",
        Cancelled = "cancelled",
    }
}

text_enum! {
    /// A hospital asked in an incident's inquiry (`inquiry_targets.status`).
    pub enum TargetStatus {
        Pending = "pending",
        Accepted = "accepted",
        Declined = "declined",
        Superseded = "superseded",
        Released = "released",
        Withdrawn = "withdrawn",
        Assigned = "assigned",
    }
}

text_enum! {
    /// `push_outbox.status`.
    pub enum OutboxStatus {
        Pending = "pending",
        Sent = "sent",
        Gone = "gone",
        Failed = "failed",
    }
}

text_enum! {
    /// A dataset category (`dataset_items.category`; the consent scope uses the same names).
    pub enum Category {
        Medications = "medications",
        Conditions = "conditions",
        Allergies = "allergies",
        Devices = "devices",
        BloodType = "blood_type",
        AdvanceDirective = "advance_directive",
        CareTeam = "care_team",
        EmergencyContacts = "emergency_contacts",
        /// A face photo for identity confirmation (opt-in): not a dataset item but an image of
        /// its own (`service::photo`), shown online to the scanning paramedic only.
        Photo = "photo",
    }
}

text_enum! {
    /// How severe an allergy is (the `allergies` dataset item's `severity`).
    pub enum AllergySeverity {
        Mild = "mild",
        Moderate = "moderate",
        Severe = "severe",
        Anaphylaxis = "anaphylaxis",
    }
}

text_enum! {
    /// An implanted or attached device (the `devices` dataset item's `kind`).
    pub enum DeviceKind {
        Pacemaker = "pacemaker",
        Icd = "icd",
        InsulinPump = "insulin_pump",
        Shunt = "shunt",
        Stent = "stent",
        JointReplacement = "joint_replacement",
        Other = "other",
    }
}

text_enum! {
    /// A pre-arrival report's activation type (`incidents.activation`; NEMSIS codes in
    /// `service::report::ACTIVATIONS`).
    pub enum Activation {
        Stroke = "stroke",
        Stemi = "stemi",
        Trauma = "trauma",
        CardiacArrest = "cardiac_arrest",
        Sepsis = "sepsis",
        Obstetric = "obstetric",
        Paediatric = "paediatric",
        General = "general",
    }
}

text_enum! {
    /// A patient's age band in reports, lists and pushes (`service::report::age_band`): never the
    /// exact age.
    pub enum AgeBand {
        Under10 = "0-9",
        Tens = "10s",
        Twenties = "20s",
        Thirties = "30s",
        Forties = "40s",
        Fifties = "50s",
        Sixties = "60s",
        Seventies = "70s",
        Eighties = "80s",
        Nineties = "90s",
        Hundred = "100+",
        Unknown = "unknown",
    }
}

text_enum! {
    /// Why a record was read or acted on (an audit event's `purpose`, shown in the access history).
    pub enum Purpose {
        Scan = "scan",
        BreakGlass = "break_glass",
        Reread = "reread",
        Incident = "incident",
        Escalation = "escalation",
        Disaster = "disaster",
        DisclosureRequest = "disclosure_request",
        /// The destination hospital's read of an incident's dataset after the crew's grant.
        Handover = "handover",
        /// A registration held because it matches an existing person (checked by the city).
        Registration = "registration",
        /// The scanning paramedic's view of the photo for identity check.
        Photo = "photo",
    }
}

text_enum! {
    /// Why a hospital declined an acceptance inquiry (`inquiry_targets.reason_code`): the reasons
    /// of the FDMA survey of difficult transports (搬送困難事案). Words: `service::words`.
    pub enum DeclineReason {
        /// 処置困難
        TreatmentDifficult = "treatment_difficult",
        /// 手術中・患者対応中
        Busy = "busy",
        /// ベッド満床
        BedsFull = "beds_full",
        /// 専門外
        OutsideSpecialty = "outside_specialty",
        /// 医師不在
        NoPhysician = "no_physician",
        /// 初診（かかりつけ医なし）
        FirstVisit = "first_visit",
        /// その他 (with the free-text reason)
        Other = "other",
    }
}

text_enum! {
    /// A category of what an ED can take now (応需情報, `hospital_capacity.category`).
    pub enum CapacityCategory {
        Stroke = "stroke",
        Cardiac = "cardiac",
        Trauma = "trauma",
        Paediatric = "paediatric",
        Obstetric = "obstetric",
        Burns = "burns",
        Psychiatric = "psychiatric",
        General = "general",
    }
}

text_enum! {
    /// Whether an ED can take patients of a category now (`hospital_capacity.status`).
    pub enum CapacityStatus {
        /// 受入可
        Available = "available",
        /// 条件付き
        Limited = "limited",
        /// 受入不可
        Unavailable = "unavailable",
    }
}

impl From<AccessKind> for Purpose {
    fn from(k: AccessKind) -> Self {
        match k {
            AccessKind::Scan => Purpose::Scan,
            AccessKind::BreakGlass => Purpose::BreakGlass,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn round_trips<T>(all: &[T])
    where
        T: Copy
            + PartialEq
            + std::fmt::Debug
            + std::fmt::Display
            + FromStr<Err = UnknownText>
            + serde::Serialize
            + serde::de::DeserializeOwned,
    {
        for v in all {
            let text = v.to_string();
            assert_eq!(T::from_str(&text), Ok(*v));
            let json = serde_json::to_string(v).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), *v);
        }
        let unknown = T::from_str("no_such_value").unwrap_err();
        assert_eq!(unknown.text, "no_such_value");
        assert!(T::from_str("").is_err());
        assert!(serde_json::from_str::<T>("\"no_such_value\"").is_err());
    }

    #[test]
    fn every_text_round_trips_and_unknown_text_is_an_error() {
        round_trips(Role::ALL);
        round_trips(AccountStatus::ALL);
        round_trips(ResidentStatus::ALL);
        round_trips(ProxyRelation::ALL);
        round_trips(Provenance::ALL);
        round_trips(ConsentStatus::ALL);
        round_trips(GivenBy::ALL);
        round_trips(CardStatus::ALL);
        round_trips(KeyStatus::ALL);
        round_trips(FacilityKind::ALL);
        round_trips(FacilityStatus::ALL);
        round_trips(DeviceStatus::ALL);
        round_trips(MembershipStatus::ALL);
        round_trips(AccessKind::ALL);
        round_trips(DisclosureKind::ALL);
        round_trips(ReviewStatus::ALL);
        round_trips(HoldKind::ALL);
        round_trips(HoldStatus::ALL);
        round_trips(RequestType::ALL);
        round_trips(ApplicationStatus::ALL);
        round_trips(Decision::ALL);
        round_trips(NoticeKind::ALL);
        round_trips(NoticeStatus::ALL);
        round_trips(IncidentStatus::ALL);
        round_trips(TargetStatus::ALL);
        round_trips(OutboxStatus::ALL);
        round_trips(Category::ALL);
        round_trips(DirectiveStatus::ALL);
        round_trips(AllergySeverity::ALL);
        round_trips(DeviceKind::ALL);
        round_trips(Activation::ALL);
        round_trips(AgeBand::ALL);
        round_trips(Purpose::ALL);
    }

    #[test]
    fn stored_text_loads_and_unknown_text_is_a_deserialization_error() {
        use diesel::prelude::*;
        use diesel::sql_types::Text;
        let conn = SqliteConnection::establish(":memory:").unwrap();
        // Through the MultiConnection, as the server queries.
        let mut conn = crate::db::DbConnection::Sqlite(conn);
        let read = |conn: &mut crate::db::DbConnection, text: &str| {
            diesel::select(text.into_sql::<Text>()).get_result::<Role>(conn)
        };
        assert_eq!(read(&mut conn, "city_admin").unwrap(), Role::CityAdmin);
        let bound = diesel::select(Role::EdStaff.into_sql::<Text>())
            .get_result::<String>(&mut conn)
            .unwrap();
        assert_eq!(bound, "ed_staff");
        assert!(matches!(
            read(&mut conn, "superuser"),
            Err(diesel::result::Error::DeserializationError(_))
        ));
    }

    #[test]
    fn text_forms_are_the_stored_ones() {
        assert_eq!(Role::CityAdmin.as_str(), "city_admin");
        assert_eq!(Provenance::SelfEntered.as_str(), "self");
        assert_eq!(GivenBy::SelfGiven.as_str(), "self");
        assert_eq!(FacilityKind::FireDepartment.as_str(), "fire_department");
        assert_eq!(Category::EmergencyContacts.as_str(), "emergency_contacts");
    }
}
