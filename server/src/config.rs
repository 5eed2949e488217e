//! Typed configuration, from command-line flags with `KYUKIT_*` environment fallbacks.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything the server needs to start. Passed down explicitly; there is no global config.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Where keys (and, later, the database) live. Created on first start.
    pub data_dir: PathBuf,
    /// The public `https://` base URL residents' phones reach, ending in `/`. Card URLs are
    /// `<public_url>c/<digits>`. In production TLS is terminated in front of Kyukit.
    pub public_url: String,
}

impl Config {
    /// The base URL written into cards.
    pub fn card_base_url(&self) -> String {
        format!("{}c/", self.public_url)
    }

    /// Checks what cannot be expressed in the types.
    pub fn validate(&self) -> Result<(), String> {
        kyukit_card::canonical_base(&self.card_base_url())
            .map(|_| ())
            .map_err(|e| format!("KYUKIT_PUBLIC_URL {:?}: {e}", self.public_url))
    }
}
