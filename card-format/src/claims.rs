//! The card's claims: what a card says, and the opt-in offline triage core.
//!
//! A card never carries a name or free text. Its claims are a random card id (`cti`), validity times,
//! an optional issuer identifier, the format version and, only if the resident opted in, the triage
//! core: blood type and a handful of coded flags a paramedic can act on before any network answers.

use serde::Serialize;
use std::fmt;

/// A card id: 128 random bits chosen by the issuer (CWT `cti`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardId(pub [u8; 16]);

impl CardId {
    /// Lower-case hex, the form used in URLs, JSON and revocation lists.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses 32 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 32 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(CardId(out))
    }
}

impl fmt::Debug for CardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardId({})", self.to_hex())
    }
}

impl fmt::Display for CardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for CardId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

/// ABO group. Wire codes: 0 unknown, 1 A, 2 B, 3 O, 4 AB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Abo {
    Unknown,
    A,
    B,
    O,
    #[serde(rename = "ab")]
    AB,
}

/// Rh(D) status. Wire codes: 0 unknown, 1 positive, 2 negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rh {
    Unknown,
    Positive,
    Negative,
}

/// Blood type as ABO and Rh, each possibly unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BloodType {
    pub abo: Abo,
    pub rh: Rh,
}

impl BloodType {
    pub const UNKNOWN: BloodType = BloodType {
        abo: Abo::Unknown,
        rh: Rh::Unknown,
    };

    pub(crate) fn to_codes(self) -> (u8, u8) {
        let abo = match self.abo {
            Abo::Unknown => 0,
            Abo::A => 1,
            Abo::B => 2,
            Abo::O => 3,
            Abo::AB => 4,
        };
        let rh = match self.rh {
            Rh::Unknown => 0,
            Rh::Positive => 1,
            Rh::Negative => 2,
        };
        (abo, rh)
    }

    pub(crate) fn from_codes(abo: u64, rh: u64) -> Option<Self> {
        let abo = match abo {
            0 => Abo::Unknown,
            1 => Abo::A,
            2 => Abo::B,
            3 => Abo::O,
            4 => Abo::AB,
            _ => return None,
        };
        let rh = match rh {
            0 => Rh::Unknown,
            1 => Rh::Positive,
            2 => Rh::Negative,
            _ => return None,
        };
        Some(BloodType { abo, rh })
    }
}

impl fmt::Display for BloodType {
    /// `A+`, `AB-`, `O?` (Rh unknown), `?` (all unknown).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let abo = match self.abo {
            Abo::Unknown => "?",
            Abo::A => "A",
            Abo::B => "B",
            Abo::O => "O",
            Abo::AB => "AB",
        };
        let rh = match (self.abo, self.rh) {
            (Abo::Unknown, Rh::Unknown) => "",
            (_, Rh::Unknown) => "?",
            (_, Rh::Positive) => "+",
            (_, Rh::Negative) => "-",
        };
        write!(f, "{abo}{rh}")
    }
}

/// One triage flag. The discriminant is its bit in the wire bitfield.
///
/// A bit never changes meaning. Bit 4 was issued before DNAR and ACP had bits of their own and
/// meant "a DNAR order *or* an ACP document"; issuers no longer set it (Kyukit's server never
/// does), and a card that carries it is read as [`TriageFlag::AdvanceDirectiveUnspecified`]:
/// something is on file, the record says what — never as DNAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum TriageFlag {
    /// Takes an anticoagulant or antiplatelet drug (bleeding risk).
    Anticoagulant = 1,
    /// Has a severe (anaphylactic) allergy on record.
    SevereAllergy = 2,
    /// Legacy (cards issued before bits 64 and 128 existed): a DNAR order or an ACP document is
    /// on file, and the card does not say which. Shown neutrally ("check the record"), never as
    /// DNAR. Not set on new cards.
    AdvanceDirectiveUnspecified = 4,
    /// Pacemaker, ICD or another implanted device.
    ImplantedDevice = 8,
    /// Uses insulin.
    Insulin = 16,
    /// Has epilepsy.
    Epilepsy = 32,
    /// A DNAR order (do not attempt resuscitation) is on file.
    Dnar = 64,
    /// An ACP (advance care planning, 人生会議) document is on file — not a DNAR order.
    Acp = 128,
}

impl TriageFlag {
    pub const ALL: [TriageFlag; 8] = [
        TriageFlag::Anticoagulant,
        TriageFlag::SevereAllergy,
        TriageFlag::AdvanceDirectiveUnspecified,
        TriageFlag::ImplantedDevice,
        TriageFlag::Insulin,
        TriageFlag::Epilepsy,
        TriageFlag::Dnar,
        TriageFlag::Acp,
    ];
    /// The flags an issuer sets today: all but the legacy bit 4.
    pub const CURRENT: [TriageFlag; 7] = [
        TriageFlag::Anticoagulant,
        TriageFlag::SevereAllergy,
        TriageFlag::ImplantedDevice,
        TriageFlag::Insulin,
        TriageFlag::Epilepsy,
        TriageFlag::Dnar,
        TriageFlag::Acp,
    ];

    pub fn bit(self) -> u8 {
        self as u8
    }

    /// Whether only a card issued before DNAR and ACP had their own bits carries this flag.
    pub fn is_legacy(self) -> bool {
        self == TriageFlag::AdvanceDirectiveUnspecified
    }
}

/// A set of [`TriageFlag`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TriageFlags(u8);

impl TriageFlags {
    pub fn empty() -> Self {
        TriageFlags(0)
    }
    pub fn with(self, flag: TriageFlag) -> Self {
        TriageFlags(self.0 | flag.bit())
    }
    pub fn contains(self, flag: TriageFlag) -> bool {
        self.0 & flag.bit() != 0
    }
    pub fn bits(self) -> u8 {
        self.0
    }
    /// Accepts any 8-bit value: every bit of the byte is a defined flag (bits 64 and 128, DNAR
    /// and ACP, since issue 19). A wider value is refused.
    pub fn from_bits(bits: u64) -> Option<Self> {
        u8::try_from(bits).ok().map(TriageFlags)
    }
    pub fn iter(self) -> impl Iterator<Item = TriageFlag> {
        TriageFlag::ALL
            .into_iter()
            .filter(move |f| self.contains(*f))
    }
}

impl FromIterator<TriageFlag> for TriageFlags {
    fn from_iter<I: IntoIterator<Item = TriageFlag>>(iter: I) -> Self {
        iter.into_iter()
            .fold(TriageFlags::empty(), TriageFlags::with)
    }
}

impl Serialize for TriageFlags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// The opt-in offline triage core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TriageCore {
    #[serde(serialize_with = "blood_as_str")]
    pub blood_type: BloodType,
    pub flags: TriageFlags,
}

fn blood_as_str<S: serde::Serializer>(b: &BloodType, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(b)
}

/// What the issuer asserts on a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    /// CWT `cti`: the card id.
    #[serde(rename = "cti")]
    pub card_id: CardId,
    /// CWT `iss`, optional: a short issuer identifier (e.g. the municipality code), never a person.
    #[serde(rename = "iss", skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// CWT `iat`, optional, seconds since the Unix epoch.
    #[serde(rename = "iat", skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<i64>,
    /// CWT `exp`, seconds since the Unix epoch.
    #[serde(rename = "exp")]
    pub expires_at: i64,
    /// Present only if the resident opted in.
    #[serde(rename = "triage", skip_serializing_if = "Option::is_none")]
    pub triage: Option<TriageCore>,
}

/// Longest `iss` a card may carry. It is an identifier, not prose.
pub const MAX_ISSUER_LEN: usize = 32;

impl Claims {
    pub(crate) fn validate(&self) -> Result<(), crate::CardError> {
        if let Some(iss) = &self.issuer {
            let ok = !iss.is_empty()
                && iss.len() <= MAX_ISSUER_LEN
                && iss
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._:/".contains(&b));
            if !ok {
                return Err(crate::CardError::InvalidClaims(format!(
                    "iss must be 1–{MAX_ISSUER_LEN} characters of [A-Za-z0-9-._:/]"
                )));
            }
        }
        if self.expires_at <= 0
            || self
                .issued_at
                .is_some_and(|iat| iat < 0 || iat >= self.expires_at)
        {
            return Err(crate::CardError::InvalidClaims("need 0 ≤ iat < exp".into()));
        }
        Ok(())
    }
}
