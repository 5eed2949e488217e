//! The one error type of the field client.

use std::path::PathBuf;
use thiserror::Error;

/// Why a field-client operation failed. Messages are one line and never contain key material,
/// passwords or session tokens.
#[derive(Debug, Error)]
pub enum Error {
    /// The server answered with a non-success status; `error` and `message` come from its
    /// `{"error": …, "message": …}` body (or describe the body when it is not that shape).
    #[error("{error}: {message} (HTTP {status})")]
    Http {
        status: u16,
        error: String,
        message: String,
    },
    /// The request could not be sent or its answer not read (connection refused, timeout, …).
    #[error("cannot reach the server: {}", chain(.0))]
    Transport(#[from] reqwest::Error),
    /// The server's answer was a success but not what the protocol says it should be.
    #[error("unexpected answer from the server: {0}")]
    InvalidResponse(String),
    /// A device key could not be generated, parsed or encoded.
    #[error("device key: {0}")]
    Key(String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A card could not be read, or failed offline verification.
    #[error("card rejected: {0}")]
    Card(#[from] kyukit_card::CardError),
    /// A trust list was refused (tampered, expired, rolled back, not signed by the pinned key),
    /// or a card was refused against one (unknown issuer, unknown key, compromised key).
    #[error("{0}")]
    Trust(#[from] kyukit_card::TrustError),
    /// A file given as a card is not one, or holds none that can be read; the message names what
    /// the file is ("card.pdf is a PDF, not a card", "card.png is a PNG image with no readable QR
    /// code").
    #[error("{} is {source}", path.display())]
    CardFile {
        path: PathBuf,
        source: kyukit_card::FileError,
    },
    /// A signed request needs the device id the server assigned at enrollment.
    #[error("this client has no device id: enroll the device first")]
    NotEnrolled,
    /// The operation needs a paramedic session: log in first.
    #[error("no session: log in first")]
    NoSession,
    /// The operating system's random number generator failed.
    #[error("no randomness: {0}")]
    Random(String),
    /// Bad input from the caller (a malformed base URL, state file, path, …).
    #[error("{0}")]
    Usage(String),
}

/// An error and its sources, joined with `: ` (reqwest's own message omits the cause).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A short machine-readable code: the server's `error` for [`Error::Http`], otherwise one of
    /// `transport`, `invalid_response`, `key`, `io`, `card_rejected` (also a card file whose
    /// content is not a card), `not_a_card` (a file that is no card encoding, or an image without
    /// a readable QR code), a trust-list refusal's code (`trust_list_expired`, `unknown_issuer`,
    /// `compromised_key`, … — `kyukit_card::TrustError::code`), `not_enrolled`, `no_session`, `randomness`, `usage`.
    pub fn code(&self) -> &str {
        match self {
            Error::Http { error, .. } => error,
            Error::Transport(_) => "transport",
            Error::InvalidResponse(_) => "invalid_response",
            Error::Key(_) => "key",
            Error::Io { .. } => "io",
            Error::Card(_)
            | Error::CardFile {
                source: kyukit_card::FileError::Card(..),
                ..
            } => "card_rejected",
            Error::CardFile { .. } => "not_a_card",
            Error::Trust(kyukit_card::TrustError::Card(_)) => "card_rejected",
            Error::Trust(e) => e.code(),
            Error::NotEnrolled => "not_enrolled",
            Error::NoSession => "no_session",
            Error::Random(_) => "randomness",
            Error::Usage(_) => "usage",
        }
    }

    /// The human part of the message (for [`Error::Http`], the server's `message`).
    pub fn message(&self) -> String {
        match self {
            Error::Http { message, .. } => message.clone(),
            Error::Card(e) => e.to_string(),
            other => other.to_string(),
        }
    }

    /// True when the server refused the request or a card failed verification (exit code 1 of the
    /// CLI); false for local, usage, file and transport problems (exit code 2).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Error::Http { .. }
                | Error::Card(_)
                | Error::Trust(_)
                | Error::CardFile {
                    source: kyukit_card::FileError::Card(..),
                    ..
                }
        )
    }
}

/// The field client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
