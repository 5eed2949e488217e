//! The signed trust list on the device (issue 22, `docs/card-format.md` §10): fetched from the
//! server, verified against the trust-list key pinned at enrollment, checked against rollback and
//! cached in a file next to the state; offline card verification then uses the cached list
//! (unknown issuer, unknown key and compromised key are refused with distinct codes).

use crate::card::CardSource;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::key::read_limited;
use kyukit_card::{
    MAX_TRUST_LIST_LEN, PublicKey, TrustError, VerifiedCard, VerifiedTrustList, check_not_older,
    decode_trust_list_unverified, verify_trust_list, verify_with_trust_list,
};
use std::path::{Path, PathBuf};

/// Where a state file's trust list is cached: the state's path with the extension
/// `.trust-list.cose` (`device.json` → `device.trust-list.cose`).
pub fn cache_path(state_path: &Path) -> PathBuf {
    state_path.with_extension("trust-list.cose")
}

/// The pinned trust-list key from its JWK (as enrollment gave it).
pub fn pinned_key(jwk: &kyukit_card::Jwk) -> Result<PublicKey> {
    Ok(PublicKey::from_jwk(jwk)?)
}

/// Fetches `GET /api/v1/trust-list`, verifies it against `pinned` at `now`, refuses a list
/// older than the cached one (a cached list that no longer decodes is not trusted for
/// anything, so it cannot block an update), and replaces the cache atomically. A refused list
/// leaves the cache as it was (the last good list).
pub async fn fetch(
    client: &Client,
    pinned: &PublicKey,
    cache: &Path,
    now: i64,
) -> Result<VerifiedTrustList> {
    let url = format!(
        "{}/api/v1/trust-list",
        client.base_url().trim_end_matches('/')
    );
    let resp = client.http().get(&url).send().await?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.bytes().await.unwrap_or_default();
        return Err(crate::client::http_error(status.as_u16(), &body));
    }
    let bytes = resp.bytes().await?;
    if bytes.len() > MAX_TRUST_LIST_LEN {
        return Err(TrustError::Malformed(format!("{} bytes", bytes.len())).into());
    }
    let verified = verify_trust_list(&bytes, pinned, now)?;
    let held = cached_unverified(cache);
    check_not_older(held.as_ref(), &verified.list)?;
    write_atomically(cache, &bytes)?;
    Ok(verified)
}

/// The cached list's content, unverified (for the rollback check only), if there is one.
fn cached_unverified(cache: &Path) -> Option<kyukit_card::TrustList> {
    let bytes = read_limited(cache, MAX_TRUST_LIST_LEN as u64).ok()?;
    decode_trust_list_unverified(&bytes).ok().map(|(_, l)| l)
}

/// The cached list, verified again against `pinned` at `now` (an expired cache is refused).
pub fn load_cached(pinned: &PublicKey, cache: &Path, now: i64) -> Result<VerifiedTrustList> {
    if !cache.exists() {
        return Err(Error::Usage(format!(
            "no trust list cached at {}: run `kyukit-field trust-list fetch` first",
            cache.display()
        )));
    }
    let bytes = read_limited(cache, MAX_TRUST_LIST_LEN as u64)?;
    Ok(verify_trust_list(&bytes, pinned, now)?)
}

/// Verifies a card offline against a verified trust list.
pub fn verify_card(card: &CardSource, list: &VerifiedTrustList, now: i64) -> Result<VerifiedCard> {
    Ok(verify_with_trust_list(&card.cose()?, &list.list, now)?)
}

fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = crate::state::temp_sibling(path)?;
    std::fs::write(&tmp, data).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}
