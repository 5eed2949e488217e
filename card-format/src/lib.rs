//! Kyukit signed emergency cards.
//!
//! A card is a COSE_Sign1 message (RFC 9052, ES256, `kid` in the protected header) whose payload is a
//! CWT claims set (RFC 8392). This crate builds, signs and verifies cards, exports and imports the
//! issuer's public keys as a JWKS (RFC 7517), and produces the two physical encodings: a QR code whose
//! content is an `https://` URL carrying the card as decimal digits, and an NDEF message for NFC tags.
//! [`identify`] and [`read_card_file`] tell what a file handed in as a card is (a QR image, NDEF, raw
//! COSE, a URL — or a PDF) and read the card out of it; QR images need the `qr-decode` feature.
//!
//! The crate is pure: it performs no I/O, never reads the clock (callers pass `now`) and never draws
//! randomness (callers pass card ids and key material). Every decoder bounds its input and returns a
//! typed [`CardError`] instead of panicking.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod claims;
mod cose;
mod digits;
mod error;
mod file;
mod household;
mod keys;
mod ndef;
mod qr;
mod trust;
mod url;

pub use claims::{Abo, BloodType, CardId, Claims, Rh, TriageCore, TriageFlag, TriageFlags};
pub use cose::{
    CLAIM_TRIAGE, CLAIM_VERSION, FORMAT_VERSION, MAX_COSE_LEN, VerifiedCard, decode_unverified,
    sign, verify, verify_as_issuer,
};
pub use digits::{bytes_to_digits, digits_len, digits_to_bytes};
pub use error::CardError;
pub use file::{
    CardFile, FileError, FileKind, MAX_IMAGE_SIDE, decode_qr_image, identify, read_card_file,
};
pub use household::{
    CLAIM_KIND, HouseholdClaims, KIND_HOUSEHOLD, VerifiedHousehold, decode_household_unverified,
    household_base, household_url, parse_household_url, sign_household, verify_household,
};
pub use keys::{IssuerKey, Jwk, Jwks, KeySet, Kid, MAX_JWKS_LEN, PublicKey};
pub use ndef::{EXTERNAL_TYPE, MAX_NDEF_LEN, NdefCard, build_ndef, parse_ndef};
pub use qr::{CardQr, EcLevel, QrLayout};
pub use trust::{
    CLAIM_DEPLOYMENT, CLAIM_ISSUERS, CLAIM_LIST_VERSION, Deployment, KIND_TRUST_LIST, KeyState,
    MAX_TRUST_LIST_LEN, TrustError, TrustList, TrustedIssuer, TrustedKey, VerifiedTrustList,
    check_not_older, decode_trust_list_unverified, sign_trust_list, verify_trust_list,
    verify_with_trust_list,
};
pub use url::{CardUrl, MAX_URL_LEN, canonical_base, card_url, parse_card_url};
