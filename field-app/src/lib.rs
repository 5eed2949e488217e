//! Kyukit field client: what a paramedic's device does, as `docs/device-protocol.md` specifies.
//!
//! - [`DeviceKey`]: the device's P-256 key, generated here and kept in a 0600 PKCS#8 PEM file;
//!   only its public JWK leaves the device (at enrollment).
//! - [`httpsig`]: RFC 9421 HTTP Message Signatures (label `kyukit`, `ecdsa-p256-sha256`) with an
//!   RFC 9530 `Content-Digest`; pure functions, tested against RFC 9421's own vector.
//! - [`Client`]: enrollment, the paramedic's signed login, scans, break-glass searches, access
//!   re-reads and logout; plus [`Client::prepare_signed`] for sending the same request twice.
//! - [`retry`]: reads and keyed changes are sent again, re-signed, after a `503` or a lost
//!   connection (a database failover), with back-off.
//! - [`card`]: card input (URL or file) and offline verification with `kyukit-card`.
//! - [`household`]: the household sticker (URL or file), verified offline.
//! - [`trust`]: the signed trust list: fetched, verified against the pinned key, cached; offline
//!   card verification against it.
//! - [`State`] and [`cli`]: the `kyukit-field` command-line tool.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod card;
pub mod cli;
pub mod client;
pub mod error;
pub mod household;
pub mod httpsig;
pub mod key;
pub mod retry;
pub mod state;
pub mod trust;

pub use card::{CardSource, verify_offline};
pub use client::{
    ACCEPT_FHIR, ACCEPT_JSON, BreakGlass, Client, Clock, Enrolled, PreparedRequest, read_json,
    system_now,
};
pub use error::{Error, Result};
pub use httpsig::{SignedHeaders, content_digest, signature_base, signature_params};
pub use key::DeviceKey;
pub use retry::RetryPolicy;
pub use state::State;
