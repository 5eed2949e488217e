//! Shared application state handed to handlers.

use crate::clock::Clock;
use kyukit_card::KeySet;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct AppState {
    /// Public keys of the issuer (all live keys).
    pub keys: KeySet,
    /// The JWKS document, serialised once at start.
    pub jwks_json: String,
    pub clock: Arc<dyn Clock>,
}
