//! Federation between Kyukit deployments (issue 22; docs/federation.md).
//!
//! - **The server key**: `<data_dir>/server-key.pem` (P-256, PKCS#8, 0600, made on first start,
//!   never logged). It signs this deployment's requests to its peers (RFC 9421, the subset of
//!   `httpsig`); its public half is in the trust list's deployment server-keys slot.
//! - **Peers**: the operator adds a peer deployment with its trust-list URL and its pinned
//!   trust-list key (`kyukit federation peer add`); the peer's list is verified and kept as signed
//!   (`db::peers`). Its issuers (those the peer itself serves) join this deployment's trust list;
//!   its server keys authenticate its requests here. `refresh` re-fetches (rotation and compromise
//!   propagate; a rollback is refused), `remove` forgets the peer.
//! - **The federated scan**, both sides: [`prepare_scan`] (the paramedic's deployment: a card
//!   whose key is a peer's), [`call_peer`] (the signed request), and [`serve_scan`] (the home
//!   deployment: the signature, the card, the consent, the audit before the answer).

use super::accounts::Actor;
use super::deny;
use super::devices::{SIGNATURE_WINDOW_SECS, SignedBy};
use crate::audit::{self, Action, Event, Outcome};
use crate::config::Config;
use crate::db::peers::{FederatedAccessRow, PeerRow};
use crate::db::{self, Db, DbConnection};
use crate::domain::{Purpose, Role};
use crate::httpsig;
use crate::ratelimit::{Limit, RateLimits};
use crate::secrets;
use crate::service::disclosure::Disclosure;
use crate::service::error::DomainError;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use kyukit_card::{IssuerKey, KeySet, KeyState, PublicKey, TrustList, TrustedIssuer};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The home deployment's endpoint for a federated scan.
pub const SCAN_PATH: &str = "/api/v1/federation/scan";
/// How long the paramedic's deployment waits for the home deployment.
pub const CALL_TIMEOUT_SECS: u64 = 5;
/// The covered components of a federation request's signature.
const COMPONENTS: &str = "(\"@method\" \"@authority\" \"@path\" \"content-digest\")";

// ---- the server key -------------------------------------------------------------------------------

/// The server key's file in the data directory.
pub fn server_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(super::backup::SERVER_KEY_FILE)
}

/// The deployment's server-to-server signing key.
pub struct ServerKey {
    key: IssuerKey,
    signing: p256::ecdsa::SigningKey,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerKey({}, private key redacted)", self.key.kid())
    }
}

impl ServerKey {
    /// Reads `<data_dir>/server-key.pem`, creating it (0600, a fresh P-256 key) on first start.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Self> {
        let path = server_key_path(data_dir);
        let key = secrets::load_or_create_private_key(&path, "federation server key")?;
        use p256::pkcs8::DecodePrivateKey;
        let pem = key
            .to_pkcs8_pem()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let signing = p256::ecdsa::SigningKey::from_pkcs8_pem(&pem)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(ServerKey { key, signing })
    }

    pub fn public(&self) -> &PublicKey {
        self.key.public()
    }

    /// ES256 over `message`: `r‖s`.
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        use p256::ecdsa::signature::Signer;
        let sig: p256::ecdsa::Signature = self.signing.sign(message);
        let mut out = [0u8; 64];
        out.copy_from_slice(&sig.to_bytes());
        out
    }
}

/// The headers of a signed federation request: `Content-Digest`, `Signature-Input`, `Signature`.
#[derive(Debug, Clone)]
pub struct SignedHeaders {
    pub content_digest: String,
    pub signature_input: String,
    pub signature: String,
}

/// Signs a `POST` of `body` to `authority` + `path` (the base `httpsig::parse` rebuilds).
pub fn sign_request(
    key: &ServerKey,
    authority: &str,
    path: &str,
    body: &[u8],
    created: i64,
    nonce: &str,
) -> SignedHeaders {
    let digest = httpsig::content_digest(body);
    let params = format!(
        "{COMPONENTS};created={created};nonce=\"{nonce}\";keyid=\"{}\";alg=\"{}\"",
        key.public().kid().to_b64(),
        httpsig::ALG
    );
    let base = format!(
        "\"@method\": POST\n\"@authority\": {}\n\"@path\": {path}\n\"content-digest\": {digest}\n\"@signature-params\": {params}",
        authority.to_ascii_lowercase()
    );
    let sig = key.sign(base.as_bytes());
    SignedHeaders {
        content_digest: digest,
        signature_input: format!("{}={params}", httpsig::LABEL),
        signature: format!("{}=:{}:", httpsig::LABEL, STANDARD.encode(sig)),
    }
}

// ---- peers ---------------------------------------------------------------------------------------

/// A peer as the operator sees it.
#[derive(Debug, Serialize)]
pub struct PeerView {
    pub deployment_id: String,
    pub base_url: String,
    pub trust_list_url: String,
    pub list_version: u64,
    pub list_expires_at: i64,
    pub refreshed_at: i64,
    /// The peer's issuers: id and each key as `kid:status`.
    pub issuers: Vec<(String, Vec<String>)>,
    /// The peer's server keys (kids).
    pub server_keys: Vec<String>,
}

fn view(row: &PeerRow) -> Result<PeerView, DomainError> {
    let list = stored_list(row)?;
    Ok(PeerView {
        deployment_id: row.deployment_id.clone(),
        base_url: row.base_url.clone(),
        trust_list_url: row.trust_list_url.clone(),
        list_version: list.version,
        list_expires_at: list.expires_at,
        refreshed_at: row.refreshed_at,
        issuers: served(&list)
            .map(|i| {
                let keys = i
                    .keys
                    .iter()
                    .map(|k| format!("{}:{}", k.key.kid().to_b64(), k.status.as_str()))
                    .collect();
                (i.id.clone(), keys)
            })
            .collect(),
        server_keys: list
            .deployment
            .server_keys
            .iter()
            .map(|k| k.kid().to_b64())
            .collect(),
    })
}

/// The peer's list as kept (verified when it was stored).
fn stored_list(row: &PeerRow) -> Result<TrustList, DomainError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(&row.trust_list)
        .map_err(DomainError::internal)?;
    kyukit_card::decode_trust_list_unverified(&bytes)
        .map(|(_, l)| l)
        .map_err(DomainError::internal)
}

/// The issuers a peer's list names that the peer itself serves (never the peer's own peers:
/// trust is not transitive).
fn served(list: &TrustList) -> impl Iterator<Item = &TrustedIssuer> {
    list.issuers
        .iter()
        .filter(move |i| i.deployment == list.deployment.id)
}

/// `scheme://authority/` of a URL (http or https).
pub fn origin(url: &str) -> Result<String, DomainError> {
    let bad = || DomainError::unprocessable("invalid_url", format!("not an http(s) URL: {url}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    if !matches!(scheme, "http" | "https") {
        return Err(bad());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    Ok(format!("{scheme}://{}/", authority.to_ascii_lowercase()))
}

fn refused_list(e: kyukit_card::TrustError) -> DomainError {
    DomainError::unprocessable("peer_trust_list_refused", format!("{}: {e}", e.code()))
}

/// The peer's pinned key from its JWK (as `GET /api/v1/trust-list/key` serves it).
pub fn parse_trust_key(jwk_json: &str) -> Result<PublicKey, DomainError> {
    let jwk: kyukit_card::Jwk = serde_json::from_str(jwk_json.trim())
        .map_err(|e| DomainError::unprocessable("invalid_key", format!("trust key: {e}")))?;
    PublicKey::from_jwk(&jwk)
        .map_err(|e| DomainError::unprocessable("invalid_key", format!("trust key: {e}")))
}

/// Refuses a peer list whose issuers collide with this deployment's own or another peer's.
fn check_collisions(
    c: &mut DbConnection,
    config: &Config,
    muni: &str,
    list: &TrustList,
) -> Result<(), DomainError> {
    let own = super::trust_list::deployment_id(config);
    if list.deployment.id == own {
        return Err(DomainError::conflict(
            "peer_is_self",
            "that trust list is this deployment's own",
        ));
    }
    let m = db::keys::municipality(c, muni)?
        .ok_or_else(|| DomainError::internal("the municipality row is missing"))?;
    let mut taken = vec![super::trust_list::issuer_id(&m.code)];
    for row in db::peers::peers(c, muni)? {
        if row.deployment_id != list.deployment.id {
            taken.extend(served(&stored_list(&row)?).map(|i| i.id.clone()));
        }
    }
    if let Some(i) = served(list).find(|i| taken.contains(&i.id)) {
        return Err(DomainError::conflict(
            "issuer_collision",
            format!("issuer {} is already trusted here", i.id),
        ));
    }
    Ok(())
}

fn operator_event(detail: String) -> Event {
    Event::new(Action::FederationPeer, Outcome::Ok).detail(detail)
}

/// Adds a peer from its trust list (`bytes`, fetched from `trust_list_url`) and its pinned key.
pub fn add_peer(
    db: &Db,
    config: &Config,
    muni: &str,
    trust_list_url: &str,
    trust_key: &PublicKey,
    bytes: &[u8],
    now: i64,
) -> Result<PeerView, DomainError> {
    let list = kyukit_card::verify_trust_list(bytes, trust_key, now)
        .map_err(refused_list)?
        .list;
    let base_url = origin(trust_list_url)?;
    let row = PeerRow {
        municipality_id: muni.to_string(),
        deployment_id: list.deployment.id.clone(),
        base_url,
        trust_list_url: trust_list_url.to_string(),
        trust_key: serde_json::to_string(&trust_key.to_jwk().map_err(DomainError::internal)?)
            .map_err(DomainError::internal)?,
        list_version: i64::try_from(list.version).map_err(DomainError::internal)?,
        trust_list: URL_SAFE_NO_PAD.encode(bytes),
        added_at: now,
        refreshed_at: now,
    };
    db.write(|c| {
        if db::peers::peer(c, muni, &row.deployment_id)?.is_some() {
            return Err(DomainError::conflict(
                "peer_exists",
                format!(
                    "peer {} is already added (refresh it instead)",
                    row.deployment_id
                ),
            ));
        }
        check_collisions(c, config, muni, &list)?;
        db::peers::insert_peer(c, &row)?;
        db::peers::bump_epoch(c, muni)?;
        let detail = format!(
            "add {} version {} key {}",
            row.deployment_id,
            list.version,
            trust_key.kid().to_b64()
        );
        audit::append(c, muni, &operator_event(detail), now);
        Ok(())
    })?;
    view(&row)
}

/// The stored peer (for its URL before a refresh).
pub fn peer(db: &Db, muni: &str, deployment: &str) -> Result<PeerRow, DomainError> {
    db.read(|c| db::peers::peer(c, muni, deployment).map_err(DomainError::from))?
        .ok_or_else(|| {
            DomainError::not_found(format!("no peer {deployment}")).with_code("peer_unknown")
        })
}

/// Replaces a peer's list with a newer one (`bytes`, fetched again from its URL), verified
/// against the key pinned when it was added; a list older than the one kept is refused.
pub fn refresh_peer(
    db: &Db,
    config: &Config,
    muni: &str,
    deployment: &str,
    bytes: &[u8],
    now: i64,
) -> Result<PeerView, DomainError> {
    let row = peer(db, muni, deployment)?;
    let key = parse_trust_key(&row.trust_key)?;
    let list = kyukit_card::verify_trust_list(bytes, &key, now)
        .map_err(refused_list)?
        .list;
    if list.deployment.id != row.deployment_id {
        return Err(DomainError::conflict(
            "peer_mismatch",
            format!(
                "the list is {}'s, not {}'s",
                list.deployment.id, row.deployment_id
            ),
        ));
    }
    let held = stored_list(&row)?;
    kyukit_card::check_not_older(Some(&held), &list)
        .map_err(|e| DomainError::conflict("trust_list_rollback", format!("{}: {e}", e.code())))?;
    let changed = held.version != list.version || held.deployment != list.deployment;
    let updated = PeerRow {
        list_version: i64::try_from(list.version).map_err(DomainError::internal)?,
        trust_list: URL_SAFE_NO_PAD.encode(bytes),
        refreshed_at: now,
        ..row
    };
    db.write(|c| {
        check_collisions(c, config, muni, &list)?;
        db::peers::update_peer(c, &updated)?;
        if changed {
            db::peers::bump_epoch(c, muni)?;
        }
        let detail = format!("refresh {} version {}", updated.deployment_id, list.version);
        audit::append(c, muni, &operator_event(detail), now);
        Ok::<_, DomainError>(())
    })?;
    view(&updated)
}

pub fn remove_peer(db: &Db, muni: &str, deployment: &str, now: i64) -> Result<(), DomainError> {
    db.write(|c| {
        if db::peers::delete_peer(c, muni, deployment)? == 0 {
            return Err(
                DomainError::not_found(format!("no peer {deployment}")).with_code("peer_unknown")
            );
        }
        db::peers::bump_epoch(c, muni)?;
        audit::append(
            c,
            muni,
            &operator_event(format!("remove {deployment}")),
            now,
        );
        Ok(())
    })
}

pub fn list_peers(db: &Db, muni: &str) -> Result<Vec<PeerView>, DomainError> {
    db.read(|c| db::peers::peers(c, muni).map_err(DomainError::from))?
        .iter()
        .map(view)
        .collect()
}

/// The peers' issuers for this deployment's trust list, and the peers epoch (added to the list's
/// version so that it grows with every change of the peers).
pub fn peer_issuers(
    c: &mut DbConnection,
    muni: &str,
) -> Result<(Vec<TrustedIssuer>, u64), DomainError> {
    let (epoch, _) = db::peers::settings(c, muni)?;
    let mut issuers = Vec::new();
    for row in db::peers::peers(c, muni)? {
        issuers.extend(served(&stored_list(&row)?).cloned());
    }
    Ok((issuers, u64::try_from(epoch).unwrap_or(0)))
}

/// Gets a trust list from a URL (at most 64 KiB, within the call timeout).
pub async fn fetch_trust_list(url: &str) -> Result<Vec<u8>, DomainError> {
    origin(url)?;
    let unreachable =
        |e: String| DomainError::unavailable(format!("{url}: {e}")).with_code("peer_unavailable");
    let r = client()
        .get(url)
        .send()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    if !r.status().is_success() {
        return Err(unreachable(format!("HTTP {}", r.status())));
    }
    let bytes = r.bytes().await.map_err(|e| unreachable(e.to_string()))?;
    if bytes.len() > kyukit_card::MAX_TRUST_LIST_LEN {
        return Err(DomainError::unprocessable(
            "peer_trust_list_refused",
            "the trust list is too large",
        ));
    }
    Ok(bytes.to_vec())
}

fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(CALL_TIMEOUT_SECS))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    })
}

// ---- the request ---------------------------------------------------------------------------------

/// The fire department that asks (its deployment's ids and names).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FireDepartment {
    pub id: String,
    pub name_ja: String,
    pub name_en: String,
}

/// `POST /api/v1/federation/scan`: what the paramedic's deployment sends the home deployment.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FederatedScanRequest {
    /// The asking deployment's id (its trust list's deployment id).
    pub deployment: String,
    pub fire_department: FireDepartment,
    /// `scan` (a card presented). Break-glass does not cross deployments.
    pub purpose: String,
    /// The card's COSE bytes, base64url.
    pub card: String,
    /// The crew's incident reference (1–64 characters).
    pub incident_ref: String,
}

// ---- the paramedic's side --------------------------------------------------------------------------

/// A scan of a peer's card, authenticated and checked here: what is left is the call.
#[derive(Debug)]
pub struct FederatedScan {
    pub actor: Actor,
    pub by: SignedBy,
    pub peer_deployment: String,
    pub peer_base: String,
    pub card_id: String,
    pub request: FederatedScanRequest,
    pub now: i64,
}

fn refuse(db: &Db, actor: &Actor, err: DomainError, now: i64) -> DomainError {
    let event = actor
        .event(Action::FederatedScan, Outcome::Denied)
        .purpose(Purpose::Scan);
    deny(db, &actor.municipality_id, event, err, now)
}

/// A scan whose card is not signed by this municipality's keys (`trusted`): if its key is a
/// peer's, the checks of this side (a paramedic on a device; the key not compromised at the
/// peer; the card's signature and expiry) and the request to send; `Ok(None)` when no peer
/// holds the key (the local scan refuses it: `untrusted_issuer`). The peers are the deployment's,
/// stored under `peers_of` (its default municipality). Refusals are audited here.
#[allow(clippy::too_many_arguments)]
pub fn prepare_scan(
    db: &Db,
    config: &Config,
    peers_of: &str,
    trusted: &KeySet,
    actor: &Actor,
    by: &SignedBy,
    cose: &[u8],
    incident_ref: &str,
    now: i64,
) -> Result<Option<FederatedScan>, DomainError> {
    let Ok((kid, claims)) = kyukit_card::decode_unverified(cose) else {
        return Ok(None);
    };
    if trusted.get(&kid).is_some() {
        return Ok(None);
    }
    let muni = actor.municipality_id.as_str();
    let found = db.read(|c| -> Result<_, DomainError> {
        for row in db::peers::peers(c, peers_of)? {
            let list = stored_list(&row)?;
            let hit = served(&list).find_map(|i| {
                i.keys
                    .iter()
                    .find(|k| k.key.kid() == kid)
                    .map(|k| (i.id.clone(), k.clone()))
            });
            if let Some(hit) = hit {
                let fire = match &actor.facility_id {
                    Some(f) => db::facilities::facility(c, muni, f)?,
                    None => None,
                };
                return Ok(Some((row, hit, fire)));
            }
        }
        Ok(None)
    })?;
    let Some((row, (issuer, key), fire)) = found else {
        return Ok(None);
    };
    if actor.role != Role::Paramedic || actor.device_id.is_none() {
        let err =
            DomainError::forbidden("only paramedics on enrolled devices may read emergency data");
        return Err(refuse(db, actor, err, now));
    }
    let Some(fire) = fire else {
        let err = DomainError::forbidden("the paramedic has no fire department");
        return Err(refuse(db, actor, err, now));
    };
    if key.status == KeyState::Compromised {
        let err = DomainError::forbidden_code(
            "compromised_key",
            format!(
                "this card's key is marked compromised by its issuer {issuer} (deployment {})",
                row.deployment_id
            ),
        );
        return Err(refuse(db, actor, err, now));
    }
    let keys: KeySet = std::iter::once(key.key.clone()).collect();
    if let Err(e) = kyukit_card::verify(cose, &keys, now) {
        let err = match e {
            kyukit_card::CardError::Expired { .. } => DomainError::forbidden_code(
                "card_expired",
                "this card has expired; the resident needs a new one",
            ),
            _ => DomainError::forbidden_code(
                "card_not_genuine",
                "this card is not genuine: its signature does not verify",
            ),
        };
        return Err(refuse(db, actor, err, now));
    }
    Ok(Some(FederatedScan {
        actor: actor.clone(),
        by: by.clone(),
        peer_deployment: row.deployment_id,
        peer_base: row.base_url,
        card_id: claims.card_id.to_hex(),
        request: FederatedScanRequest {
            deployment: super::trust_list::deployment_id(config),
            fire_department: FireDepartment {
                id: fire.id,
                name_ja: fire.name_ja,
                name_en: fire.name_en,
            },
            purpose: Purpose::Scan.as_str().to_string(),
            card: URL_SAFE_NO_PAD.encode(cose),
            incident_ref: incident_ref.to_string(),
        },
        now,
    }))
}

/// The home deployment's refusal codes passed on to the paramedic as they are.
fn peer_code(code: &str) -> &'static str {
    match code {
        "consent_withdrawn" => "consent_withdrawn",
        "card_revoked" => "card_revoked",
        "card_unknown" => "card_unknown",
        "card_expired" => "card_expired",
        "card_not_genuine" => "card_not_genuine",
        "untrusted_issuer" => "untrusted_issuer",
        _ => "peer_refused",
    }
}

/// Sends the signed request to the home deployment and reads its answer: the disclosure, or
/// its refusal (the same kind and code), or `peer_unavailable` (503) when it cannot be reached
/// or answers with something else.
pub async fn call_peer(key: &ServerKey, scan: &FederatedScan) -> Result<Disclosure, DomainError> {
    let body = serde_json::to_vec(&scan.request).map_err(DomainError::internal)?;
    let url = format!("{}{}", scan.peer_base.trim_end_matches('/'), SCAN_PATH);
    let authority = scan
        .peer_base
        .split_once("://")
        .map_or("", |(_, r)| r.trim_end_matches('/'));
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce).map_err(DomainError::internal)?;
    let nonce = URL_SAFE_NO_PAD.encode(nonce);
    let h = sign_request(key, authority, SCAN_PATH, &body, scan.now, &nonce);
    let unreachable = |e: String| {
        DomainError::unavailable(format!("peer {}: {e}", scan.peer_deployment))
            .with_code("peer_unavailable")
    };
    let r = client()
        .post(url)
        .header("content-type", "application/json")
        .header("content-digest", h.content_digest)
        .header("signature-input", h.signature_input)
        .header("signature", h.signature)
        .body(body)
        .send()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let status = r.status();
    let bytes = r.bytes().await.map_err(|e| unreachable(e.to_string()))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes)
            .map_err(|e| unreachable(format!("an answer that is not a disclosure: {e}")));
    }
    let code = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_default();
    let message = format!(
        "the home deployment {} refused: {code} (HTTP {})",
        scan.peer_deployment,
        status.as_u16()
    );
    Err(match status.as_u16() {
        403 => DomainError::forbidden_code(peer_code(&code), message),
        404 => DomainError::not_found(message).with_code(peer_code(&code)),
        401 => DomainError::forbidden_code("peer_refused", message),
        _ => unreachable(format!("HTTP {}: {code}", status.as_u16())),
    })
}

/// The audit event of a federated scan at the paramedic's deployment: the card, the peer and the
/// outcome (`ok` or the error code).
pub fn scan_event(scan: &FederatedScan, outcome: Result<(), &DomainError>) -> Event {
    let (o, code) = match outcome {
        Ok(()) => (Outcome::Ok, "ok"),
        Err(e) if e.is_denial() => (Outcome::Denied, e.code()),
        Err(e) => (Outcome::Failed, e.code()),
    };
    scan.actor
        .event(Action::FederatedScan, o)
        .purpose(Purpose::Scan)
        .detail(format!(
            "card {} peer {} {code}",
            scan.card_id, scan.peer_deployment
        ))
}

/// The rest of a federated scan at the paramedic's deployment: the request's nonce spent, the
/// call ([`call_peer`]), and the read audited here — card, peer, outcome — before the answer
/// (a refusal or an unreachable peer too).
pub async fn scan_peer(
    db: &Db,
    key: &ServerKey,
    scan: &FederatedScan,
) -> Result<Disclosure, DomainError> {
    let by = scan.by.clone();
    db.write_async(move |c| super::devices::consume_nonce(c, &by))
        .await?;
    let answer = call_peer(key, scan).await;
    let event = scan_event(scan, answer.as_ref().map(|_| ()));
    let (muni, now) = (scan.actor.municipality_id.clone(), scan.now);
    db.write_async(move |c| {
        audit::append(c, &muni, &event, now);
        Ok::<_, DomainError>(())
    })
    .await?;
    answer
}

// ---- the home side ----------------------------------------------------------------------------------

/// The fire department's id on the home side: qualified by its deployment (`<deployment>/<id>`),
/// so it can never be taken for one of this deployment's facilities.
pub fn qualified_facility(deployment: &str, facility: &str) -> String {
    format!("{deployment}/{facility}")
}

/// The deployment of a qualified facility id ([`qualified_facility`]); `None` for this
/// deployment's own facilities.
pub fn deployment_of(facility_id: Option<&str>) -> Option<String> {
    facility_id
        .and_then(|f| f.split_once('/'))
        .map(|(d, _)| d.to_string())
}

/// The home deployment's side of `POST /api/v1/federation/scan`: the peer's signature (a peer
/// server key, the time window, the nonce), the request, the card (this municipality's keys),
/// the resident and the consent; the disclosure is recorded and audited (naming the peer's fire
/// department and deployment) before it is returned. Every refusal is audited. A peer over its
/// rate limit (`Limit::FederationPeer`) is refused with `rate_limited` (429).
pub fn serve_scan(
    db: &Db,
    config: &Config,
    limits: &RateLimits,
    muni: &str,
    signed: Result<Option<httpsig::Signed>, DomainError>,
    input: Result<FederatedScanRequest, DomainError>,
    now: i64,
) -> Result<Disclosure, DomainError> {
    let base = || {
        let mut e = Event::new(Action::FederatedScan, Outcome::Denied);
        e.actor_role = Some(Role::Paramedic.as_str().to_string());
        e
    };
    let unauth = |err: DomainError| deny(db, muni, base(), err, now);
    let signed = match signed {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(unauth(DomainError::unauthorized_code(
                "signature_required",
                "federation requests are signed by the peer deployment's server key",
            )));
        }
        Err(e) => return Err(unauth(e)),
    };
    // The peer whose list names this server key.
    let peer = db
        .read(|c| -> Result<_, DomainError> {
            for row in db::peers::peers(c, muni)? {
                let list = stored_list(&row)?;
                if let Some(k) = list
                    .deployment
                    .server_keys
                    .iter()
                    .find(|k| k.kid().to_b64() == signed.keyid)
                {
                    return Ok(Some((row.deployment_id.clone(), k.clone())));
                }
            }
            Ok(None)
        })
        .map_err(&unauth)?;
    let Some((deployment, key)) = peer else {
        return Err(unauth(DomainError::unauthorized_code(
            "peer_unknown",
            "the signing key is not a server key of a peer deployment",
        )));
    };
    if !key.verify_es256(signed.base.as_bytes(), &signed.signature) {
        return Err(unauth(DomainError::unauthorized_code(
            "signature_invalid",
            "the signature does not verify",
        )));
    }
    if (signed.created - now).abs() > SIGNATURE_WINDOW_SECS {
        return Err(unauth(DomainError::unauthorized_code(
            "signature_expired",
            format!("created must be within {SIGNATURE_WINDOW_SECS} s of the server's clock"),
        )));
    }
    // Per peer deployment, counted only once its signature verified (no one else can spend a
    // peer's budget); a throttle is audited at most once a minute per peer.
    let limit = Limit::FederationPeer;
    if !limits.check(limit, &deployment) {
        let err = DomainError::too_many(limit.retry_hint());
        if !limits.should_audit(limit, &deployment, now) {
            return Err(err);
        }
        let mut e = base();
        e.action = Action::Throttled;
        e.purpose = Some(limit.as_str().to_string());
        // The peer, as its facilities are named here (the fire department is not read yet).
        e.facility_id = Some(qualified_facility(&deployment, "-"));
        return Err(deny(db, muni, e, err, now));
    }
    let input = input?;
    let fire = FireDepartment {
        id: super::text("fire_department.id", &input.fire_department.id, 1, 64)?,
        name_ja: super::text(
            "fire_department.name_ja",
            &input.fire_department.name_ja,
            1,
            100,
        )?,
        name_en: super::text(
            "fire_department.name_en",
            &input.fire_department.name_en,
            1,
            100,
        )?,
    };
    let incident_ref = super::text("incident_ref", &input.incident_ref, 1, 64)?;
    let qualified = qualified_facility(&deployment, &fire.id);
    let event = |outcome: Outcome| {
        let mut e = base();
        e.outcome = outcome;
        e.facility_id = Some(qualified.clone());
        e.purpose = Some(Purpose::Scan.as_str().to_string());
        e
    };
    let refuse = |err: DomainError| deny(db, muni, event(Outcome::Denied), err, now);
    if input.deployment != deployment {
        return Err(refuse(DomainError::forbidden_code(
            "peer_mismatch",
            "the request names another deployment than the one whose key signed it",
        )));
    }
    if input.purpose != Purpose::Scan.as_str() {
        // Break-glass does not cross deployments (docs/federation.md).
        return Err(refuse(DomainError::forbidden_code(
            "federated_break_glass_not_allowed",
            "only card scans cross deployments",
        )));
    }
    let cose = URL_SAFE_NO_PAD
        .decode(input.card.trim())
        .map_err(|_| DomainError::unprocessable("invalid_card", "card: base64url COSE bytes"))?;
    let ring = super::keys::load(db, &config.data_dir, muni, false)?;
    let card = kyukit_card::verify(&cose, &ring.trusted, now).map_err(|e| {
        refuse(match e {
            kyukit_card::CardError::UnknownKid(_) => DomainError::forbidden_code(
                "untrusted_issuer",
                "this card was not issued by this deployment's municipality",
            ),
            kyukit_card::CardError::Expired { .. } => {
                DomainError::forbidden_code("card_expired", "this card has expired")
            }
            _ => DomainError::forbidden_code(
                "card_not_genuine",
                "this card is not genuine: its signature does not verify",
            ),
        })
    })?;
    let card_id = card.claims.card_id.to_hex();
    let id = super::new_id()?;
    let (nonce, created) = (signed.nonce.clone(), signed.created);
    let outcome = db.write(|c| {
        if db::peers::insert_nonce(c, muni, &deployment, created, &nonce)? == 0 {
            return Err(super::access::Refusal(
                None,
                DomainError::unauthorized_code(
                    "replayed_request",
                    "this signed request has already been received",
                ),
            ));
        }
        let (resident_id, d) =
            super::access::federated_read(c, muni, &card_id, &id, &qualified, &incident_ref, now)?;
        db::peers::insert_access(
            c,
            &FederatedAccessRow {
                id: id.clone(),
                municipality_id: muni.to_string(),
                resident_id: resident_id.clone(),
                card_id: card_id.clone(),
                deployment_id: deployment.clone(),
                facility_id: fire.id.clone(),
                facility_name_ja: fire.name_ja.clone(),
                facility_name_en: fire.name_en.clone(),
                purpose: Purpose::Scan.as_str().to_string(),
                incident_ref: incident_ref.clone(),
                categories: serde_json::to_string(&d.categories).map_err(DomainError::internal)?,
                created_at: now,
            },
        )?;
        let mut ok = event(Outcome::Ok);
        ok.resident_id = Some(resident_id);
        ok.detail = Some(format!("federated access {id} deployment {deployment}"));
        audit::append(c, muni, &ok, now);
        Ok(d)
    });
    outcome.map_err(|r| r.audited(db, muni, event(Outcome::Denied), now))
}

/// Deletes the peer nonces no replay can use any more.
pub fn purge_nonces(db: &Db, now: i64) -> Result<usize, DomainError> {
    let before = now - super::devices::NONCE_KEEP_SECS;
    db.write(|c| db::peers::delete_nonces_created_before(c, before).map_err(DomainError::from))
}
