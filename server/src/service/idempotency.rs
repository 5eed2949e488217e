//! `Idempotency-Key` on the crew's changes (issue 21): opening an incident, a report version and
//! an inquiry. The paramedic app queues what it could not send and sends it again when the server
//! answers; an answer lost on the way (the change made, the phone never told) must not make a
//! second incident, version or inquiry. So a change that names a key claims it in its own
//! transaction and stores its answer there: a repeat with the same key from the same device and
//! account gets that first answer and writes nothing new (its nonce aside) and is not audited
//! again — the change was, once. The same key with another request, or from another account, is
//! refused (`422 idempotency_key_reused`). Keys expire after [`TTL_SECS`].

use crate::db::DbConnection;
use crate::db::idempotency as q;
use crate::service::accounts::Actor;
use crate::service::devices::SignedBy;
use crate::service::error::DomainError;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// How long a key is remembered (seconds).
pub const TTL_SECS: i64 = 24 * 3600;

/// A change's key and what it was for (the method, path and body, hashed).
#[derive(Debug, Clone)]
pub struct IdemKey {
    key: String,
    request_hash: String,
}

impl IdemKey {
    /// The `Idempotency-Key` header's value (1–100 characters of `A–Z a–z 0–9 - _ . :`, as a
    /// UUID is), or none; `request` names the call (method and path) and `body` its bytes.
    pub fn from_header(
        value: Option<&str>,
        request: &str,
        body: &[u8],
    ) -> Result<Option<IdemKey>, DomainError> {
        let Some(key) = value else { return Ok(None) };
        let ok = (1..=100).contains(&key.len())
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        if !ok {
            return Err(DomainError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key: 1–100 characters of A–Z, a–z, 0–9, '-', '_', '.', ':'",
            ));
        }
        let mut h = Sha256::new();
        h.update(request.as_bytes());
        h.update([0]);
        h.update(body);
        Ok(Some(IdemKey {
            key: key.to_owned(),
            request_hash: hex::encode(h.finalize()),
        }))
    }
}

/// What a change answers: done now, or the stored first answer of its key (JSON).
#[derive(Debug)]
pub enum Answer<T> {
    Fresh(T),
    Replay(String),
}

/// Claims the key in the change's transaction: `None` if this request is the first (go on and
/// [`finish`]), else the first answer.
pub fn begin(
    c: &mut DbConnection,
    actor: &Actor,
    by: &SignedBy,
    k: &IdemKey,
    now: i64,
) -> Result<Option<String>, DomainError> {
    q::prune(c, now - TTL_SECS)?;
    if q::claim(
        c,
        &by.device.id,
        &k.key,
        &actor.account_id,
        &k.request_hash,
        now,
    )? {
        return Ok(None);
    }
    let row = q::find(c, &by.device.id, &k.key)?
        .ok_or_else(|| DomainError::internal("idempotency key vanished"))?;
    if row.account_id != actor.account_id || row.request_hash != k.request_hash {
        return Err(DomainError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was used for another request; send a new key / この Idempotency-Key は別の要求に使われています",
        ));
    }
    row.response.map(Some).ok_or_else(|| {
        DomainError::conflict(
            "idempotency_in_progress",
            "the first request with this Idempotency-Key is still being processed; try again",
        )
    })
}

/// Stores the first answer of a claimed key.
pub fn finish<T: Serialize>(
    c: &mut DbConnection,
    by: &SignedBy,
    k: &IdemKey,
    answer: &T,
) -> Result<(), DomainError> {
    let json = serde_json::to_string(answer).map_err(DomainError::internal)?;
    q::complete(c, &by.device.id, &k.key, &json)?;
    Ok(())
}
