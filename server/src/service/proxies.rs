//! Proxies added after registration (issue 27): the resident hands a family member or care
//! manager a one-time invite code; its holder, logged in with a proxy account (or registering
//! one with the code), accepts the proxy statement and from then on acts for the resident. The
//! resident lists and removes proxies (a proxy may step down); a removed proxy acts for nobody at
//! once (`service::residents::for_actor` reads the link on every request). And a care manager's
//! list: the residents a proxy acts for, searched and filtered.
//!
//! The code: 128 random bits, base32 in groups of four, shown once; only its SHA-256 is stored.
//! It expires (`ttl_hours`, default [`INVITE_TTL_DEFAULT_HOURS`]) and is spent by its first use
//! (a conditional update, so two accepts cannot both win).

use super::accounts::{self, Actor, SessionPolicy};
use super::residents::{self as res, PROXY_STATEMENT_JA, Profile, Registered, Standing, for_actor};
use super::{deny, new_id, opt_text, text};
use crate::audit::{self, Action, Outcome};
use crate::db::invites::{self as q, InviteRow};
use crate::db::residents::ProxyRow;
use crate::db::{self, Db};
use crate::domain::{ProxyRelation, ResidentStatus, Role};
use crate::service::error::DomainError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long an invite is valid unless the resident says otherwise.
pub const INVITE_TTL_DEFAULT_HOURS: i64 = 72;
/// The longest an invite may be valid.
pub const INVITE_TTL_MAX_HOURS: i64 = 24 * 14;
/// Unused, unexpired invites one resident may have at a time.
pub const MAX_OPEN_INVITES: usize = 10;
/// A resident's emergency information is stale when nobody has checked or changed it for this
/// many days (the care manager's `stale` filter).
pub const STALE_AFTER_DAYS: i64 = 365;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteInput {
    /// The invitee's relation: `family` | `relative` | `care_manager` | `guardian` | `other`.
    pub relation: String,
    /// e.g. 長女, ○○居宅介護支援事業所; at most 50 characters.
    pub relation_detail: Option<String>,
    /// Hours the code stays valid: 1–336, default 72.
    pub ttl_hours: Option<i64>,
}

/// A new invite: the code is shown this once (only its hash is kept).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewInvite {
    pub id: String,
    /// The one-time code (26 base32 characters in groups of four), to hand to the invitee.
    pub code: String,
    /// The resident portal's page that accepts it (the code in the fragment, which browsers do
    /// not send to servers).
    pub link: String,
    pub relation: String,
    pub relation_detail: Option<String>,
    pub expires_at: i64,
    /// The link in full (the server's public URL) as a QR code in SVG, for the invitee's phone
    /// camera.
    pub qr_svg: String,
}

/// An invite as the resident sees it later (never the code).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Invite {
    pub id: String,
    pub relation: String,
    pub relation_detail: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// `open` | `used` | `expired` | `cancelled`.
    pub status: String,
    pub used_at: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInput {
    /// The invite code (case, spaces and dashes do not matter).
    pub code: String,
    /// Must be true: the proxy accepts [`PROXY_STATEMENT_JA`].
    pub accept_proxy_statement: bool,
}

/// Registering a proxy account with an invite code (for an invitee without a login).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterWithInvite {
    pub code: String,
    pub login_id: String,
    pub password: String,
    pub display_name: String,
    /// Must be true: the proxy accepts [`PROXY_STATEMENT_JA`].
    pub accept_proxy_statement: bool,
}

/// The invite accepted: the caller is a proxy of `resident_id`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub resident_id: String,
    pub proxy_id: String,
    /// The statement accepted, as recorded.
    pub proxy_statement: String,
}

/// One of a resident's current proxies.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProxyInfo {
    pub id: String,
    pub display_name: String,
    /// `family` | `relative` | `care_manager` | `guardian` | `other`.
    pub relation: String,
    pub relation_detail: Option<String>,
    /// The statement the proxy accepted, verbatim, and when.
    pub consent_statement: String,
    pub consented_at: i64,
    /// Whether this is the caller.
    pub is_me: bool,
}

/// The care manager's (or any caller's) list: filters, all optional.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListFilter {
    /// Part of the name, in kanji or kana (hiragana and katakana alike, spaces ignored).
    pub q: Option<String>,
    /// The district, exactly (spaces and width ignored).
    pub district: Option<String>,
    /// `true`: only residents whose information needs attention (see [`Listed::stale`]);
    /// `false`: only the others.
    pub stale: Option<bool>,
}

/// A resident in a list, with what the care manager needs to know about their data.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Listed {
    #[serde(flatten)]
    pub profile: Profile,
    /// The last day the emergency information was checked or changed (`YYYY-MM-DD`, Japan);
    /// absent when nothing has been entered.
    pub last_checked: Option<String>,
    /// An active card no longer matches the information (make a new card).
    pub card_stale: bool,
    /// The information needs attention: nothing entered, not checked for 365 days, or a card out
    /// of date.
    pub stale: bool,
}

/// Upper case without spaces and dashes: what is hashed.
fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(normalise_code(code).as_bytes()))
}

fn relation(value: &str) -> Result<ProxyRelation, DomainError> {
    value.parse().map_err(|_| {
        DomainError::unprocessable(
            "invalid_field",
            format!("relation: one of {}", ProxyRelation::TEXTS.join(", ")),
        )
    })
}

fn statement_accepted(accepted: bool) -> Result<(), DomainError> {
    if accepted {
        Ok(())
    } else {
        Err(DomainError::unprocessable(
            "proxy_statement_required",
            "the proxy must accept the proxy statement",
        ))
    }
}

fn status_of(row: &InviteRow, now: i64) -> &'static str {
    if row.used_at.is_some() {
        "used"
    } else if row.cancelled_at.is_some() {
        "cancelled"
    } else if row.expires_at <= now {
        "expired"
    } else {
        "open"
    }
}

/// Only the resident themself hands out invites and sees them: a proxy does not make others
/// proxies. Refusals are audited.
fn own_record(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    action: Action,
    now: i64,
) -> Result<crate::db::residents::ResidentRow, DomainError> {
    let found = db.read(|c| for_actor(c, actor, resident_id));
    let refuse = |err: DomainError| {
        let mut event = actor.event(action, Outcome::Denied);
        if super::check_id(resident_id).is_ok() && err.code() != "not_found" {
            event = event.about(resident_id);
        }
        deny(db, &actor.municipality_id, event, err, now)
    };
    match found {
        Ok((r, Standing::Own)) => Ok(r),
        Ok((_, Standing::Proxy(_))) => Err(refuse(DomainError::forbidden_code(
            "resident_only",
            "only the resident themself invites proxies",
        ))),
        Err(e) => Err(refuse(e)),
    }
}

/// Hands out a new invite code for the resident.
pub fn invite(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    input: &InviteInput,
    public_url: &str,
    now: i64,
) -> Result<NewInvite, DomainError> {
    let rel = relation(&input.relation)?;
    let detail = opt_text("relation_detail", &input.relation_detail, 50)?;
    let ttl = input.ttl_hours.unwrap_or(INVITE_TTL_DEFAULT_HOURS);
    if !(1..=INVITE_TTL_MAX_HOURS).contains(&ttl) {
        return Err(DomainError::unprocessable(
            "invalid_field",
            format!("ttl_hours: 1–{INVITE_TTL_MAX_HOURS}"),
        ));
    }
    let resident = own_record(db, actor, resident_id, Action::InviteProxy, now)?;
    if resident.status != ResidentStatus::Active {
        return Err(DomainError::conflict(
            "withdrawn",
            "the record is withdrawn (支援中止)",
        ));
    }
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|e| DomainError::internal(format!("no randomness: {e}")))?;
    let plain = data_encoding::BASE32_NOPAD.encode(&raw);
    let code = plain
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-");
    let row = InviteRow {
        code_hash: code_hash(&plain),
        id: new_id()?,
        municipality_id: actor.municipality_id.clone(),
        resident_id: resident.id.clone(),
        created_by: actor.account_id.clone(),
        relation: rel,
        relation_detail: detail.clone(),
        created_at: now,
        expires_at: now + ttl * 3600,
        used_at: None,
        used_by: None,
        cancelled_at: None,
    };
    db.write(|c| {
        let open = q::of_resident(c, &resident.id)?
            .iter()
            .filter(|i| status_of(i, now) == "open")
            .count();
        if open >= MAX_OPEN_INVITES {
            return Err(DomainError::conflict(
                "too_many_invites",
                format!("at most {MAX_OPEN_INVITES} open invites: cancel one first"),
            ));
        }
        q::insert(c, &row)?;
        let event = actor
            .event(Action::InviteProxy, Outcome::Ok)
            .about(&resident.id)
            .detail(format!("invite {} ({rel})", row.id));
        audit::append(c, &actor.municipality_id, &event, now);
        Ok(())
    })?;
    let link = format!("/pages/resident#accept={code}");
    let qr_svg = crate::qrsvg::svg(&format!("{}{}", public_url, &link[1..])).unwrap_or_default();
    Ok(NewInvite {
        link,
        qr_svg,
        id: row.id,
        code,
        relation: rel.to_string(),
        relation_detail: detail,
        expires_at: row.expires_at,
    })
}

/// The resident's invites, newest first.
pub fn invites(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    now: i64,
) -> Result<Vec<Invite>, DomainError> {
    let resident = own_record(db, actor, resident_id, Action::InviteProxy, now)?;
    db.read(|c| {
        Ok(q::of_resident(c, &resident.id)?
            .into_iter()
            .map(|r| Invite {
                status: status_of(&r, now).into(),
                id: r.id,
                relation: r.relation.to_string(),
                relation_detail: r.relation_detail,
                created_at: r.created_at,
                expires_at: r.expires_at,
                used_at: r.used_at,
            })
            .collect())
    })
}

/// Cancels an unused invite; a used, cancelled or unknown one is 404.
pub fn cancel(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    invite_id: &str,
    now: i64,
) -> Result<(), DomainError> {
    let resident = own_record(db, actor, resident_id, Action::CancelProxyInvite, now)?;
    super::check_id(invite_id)?;
    let done = db.write(|c| {
        if !q::cancel(c, &resident.id, invite_id, now)? {
            return Ok(false);
        }
        let event = actor
            .event(Action::CancelProxyInvite, Outcome::Ok)
            .about(&resident.id)
            .detail(format!("invite {invite_id}"));
        audit::append(c, &actor.municipality_id, &event, now);
        Ok::<_, DomainError>(true)
    })?;
    if done {
        Ok(())
    } else {
        Err(DomainError::not_found("no such open invite"))
    }
}

/// Finds the invite a code names and checks it can still be used; a refusal is audited (about
/// the resident when the code named one) and returned.
fn usable_invite(
    db: &Db,
    muni: &str,
    event: audit::Event,
    code: &str,
    now: i64,
) -> Result<InviteRow, DomainError> {
    let hash = code_hash(code);
    let found = db.read(|c| q::by_hash(c, muni, &hash).map_err(DomainError::from))?;
    let Some(inv) = found else {
        return Err(deny(
            db,
            muni,
            event,
            DomainError::not_found("no such invite: check the code"),
            now,
        ));
    };
    let event = event.about(&inv.resident_id);
    let refusal = match status_of(&inv, now) {
        "used" => Some(DomainError::conflict(
            "invite_used",
            "this invite has been used already; ask for a new one",
        )),
        "cancelled" => Some(DomainError::conflict(
            "invite_cancelled",
            "this invite was cancelled; ask for a new one",
        )),
        "expired" => Some(DomainError::conflict(
            "invite_expired",
            "this invite has expired; ask for a new one",
        )),
        _ => None,
    };
    if let Some(err) = refusal {
        return Err(deny(db, muni, event, err, now));
    }
    Ok(inv)
}

/// Inside the accepting transaction: spends the invite, links the account as a proxy (a link
/// removed earlier is made current again) and audits the acceptance.
fn take_invite(
    c: &mut crate::db::Tx<'_>,
    inv: &InviteRow,
    account_id: &str,
    event: audit::Event,
    now: i64,
) -> Result<String, DomainError> {
    let resident = db::residents::resident(c, &inv.municipality_id, &inv.resident_id)?
        .filter(|r| r.status == ResidentStatus::Active)
        .ok_or_else(|| DomainError::conflict("withdrawn", "the record is withdrawn (支援中止)"))?;
    if db::residents::proxy_for(c, &resident.id, account_id)?.is_some() {
        return Err(DomainError::conflict(
            "already_proxy",
            "you already act for this person",
        ));
    }
    if !q::spend(c, &inv.code_hash, account_id, now)? {
        return Err(DomainError::conflict(
            "invite_used",
            "this invite has been used already; ask for a new one",
        ));
    }
    let proxy_id = db::residents::link_proxy(
        c,
        &ProxyRow {
            id: new_id()?,
            municipality_id: inv.municipality_id.clone(),
            resident_id: resident.id.clone(),
            account_id: account_id.to_string(),
            relation: inv.relation,
            relation_detail: inv.relation_detail.clone(),
            consent_statement: PROXY_STATEMENT_JA.into(),
            consented_at: now,
            removed_at: None,
            removed_by: None,
        },
    )?;
    let event = event.about(&resident.id).detail(format!(
        "invite {} ({}), proxy {proxy_id}",
        inv.id, inv.relation
    ));
    audit::append(c, &inv.municipality_id, &event, now);
    Ok(proxy_id)
}

/// A logged-in proxy account accepts an invite.
pub fn accept(
    db: &Db,
    actor: &Actor,
    input: &AcceptInput,
    now: i64,
) -> Result<Accepted, DomainError> {
    statement_accepted(input.accept_proxy_statement)?;
    let muni = &actor.municipality_id;
    let event = || actor.event(Action::AcceptProxyInvite, Outcome::Ok);
    if actor.role != Role::Proxy {
        return Err(deny(
            db,
            muni,
            event(),
            DomainError::forbidden_code(
                "proxy_account_required",
                "log in with a family or care manager account (or register one with this code)",
            ),
            now,
        ));
    }
    let inv = usable_invite(db, muni, event(), &input.code, now)?;
    let proxy_id = db.write(|c| take_invite(c, &inv, &actor.account_id, event(), now))?;
    Ok(Accepted {
        resident_id: inv.resident_id,
        proxy_id,
        proxy_statement: PROXY_STATEMENT_JA.into(),
    })
}

/// Checks a registration with an invite before the slow password hashing.
pub fn check_register(req: &RegisterWithInvite) -> Result<(), DomainError> {
    statement_accepted(req.accept_proxy_statement)?;
    text("display_name", &req.display_name, 1, 60)?;
    accounts::validate_login_id(&req.login_id)?;
    accounts::validate_password(&req.password)
}

/// An invitee without a login registers a proxy account with the code and accepts it, in one
/// transaction; logged in.
pub fn register_with_invite(
    db: &Db,
    muni: &str,
    req: RegisterWithInvite,
    now: i64,
    policy: SessionPolicy,
) -> Result<Registered, DomainError> {
    check_register(&req)?;
    let event = audit::Event::new(Action::AcceptProxyInvite, Outcome::Ok);
    let inv = usable_invite(db, muni, event, &req.code, now)?;
    let display = text("display_name", &req.display_name, 1, 60)?;
    let account = res::new_account(
        muni,
        &req.login_id,
        &req.password,
        Role::Proxy,
        display,
        now,
    )?;
    db.write(|c| {
        res::insert_account(c, &account)?;
        let registered = audit::Event::new(Action::RegisterProxy, Outcome::Ok)
            .by(&account.id, Role::Proxy)
            .about(&inv.resident_id)
            .detail(format!("with invite {}", inv.id));
        audit::append(c, muni, &registered, now);
        let accepted =
            audit::Event::new(Action::AcceptProxyInvite, Outcome::Ok).by(&account.id, Role::Proxy);
        take_invite(c, &inv, &account.id, accepted, now)?;
        let token = accounts::create_session(c, &account, None, now, policy)?;
        Ok(Registered {
            resident_id: inv.resident_id.clone(),
            account_id: account.id.clone(),
            token,
        })
    })
}

/// The resident's current proxies (for the resident and for each proxy).
pub fn list(db: &Db, actor: &Actor, resident_id: &str) -> Result<Vec<ProxyInfo>, DomainError> {
    db.read(|c| {
        let (resident, _) = for_actor(c, actor, resident_id)?;
        Ok(db::residents::current_proxies_with_names(c, &resident.id)?
            .into_iter()
            .map(|(p, display_name)| ProxyInfo {
                is_me: p.account_id == actor.account_id,
                id: p.id,
                display_name,
                relation: p.relation.to_string(),
                relation_detail: p.relation_detail,
                consent_statement: p.consent_statement,
                consented_at: p.consented_at,
            })
            .collect())
    })
}

/// Removes a proxy: the resident any of theirs, a proxy only themself (stepping down). The
/// proxy's access ends with this transaction.
pub fn remove(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    proxy_id: &str,
    now: i64,
) -> Result<(), DomainError> {
    let muni = &actor.municipality_id;
    let standing = db.read(|c| for_actor(c, actor, resident_id).map(|(_, s)| s));
    let refuse = |err: DomainError, about: bool| {
        let mut event = actor.event(Action::RemoveProxy, Outcome::Denied);
        if about {
            event = event.about(resident_id);
        }
        deny(db, muni, event, err, now)
    };
    let standing = standing.map_err(|e| refuse(e, false))?;
    if super::check_id(proxy_id).is_err() {
        return Err(DomainError::not_found("no such proxy"));
    }
    if let Standing::Proxy(me) = &standing
        && me.id != proxy_id
    {
        return Err(refuse(
            DomainError::forbidden_code(
                "resident_only",
                "only the resident removes other proxies; a proxy may remove only themself",
            ),
            true,
        ));
    }
    let done = db.write(|c| {
        if db::residents::remove_proxy(c, resident_id, proxy_id, &actor.account_id, now)? == 0 {
            return Ok(false);
        }
        let event = actor
            .event(Action::RemoveProxy, Outcome::Ok)
            .about(resident_id)
            .detail(format!("proxy {proxy_id}"));
        audit::append(c, muni, &event, now);
        Ok::<_, DomainError>(true)
    })?;
    if done {
        Ok(())
    } else {
        Err(DomainError::not_found("no such proxy"))
    }
}

/// The newest day the resident's emergency information was checked or changed.
fn last_checked(items: &[crate::db::residents::DatasetItemRow]) -> Option<String> {
    items
        .iter()
        .map(|i| {
            let changed = crate::jst::date_text(i.updated_at);
            match &i.last_verified {
                Some(v) if *v > changed => v.clone(),
                _ => changed,
            }
        })
        .max()
}

/// The residents the caller acts for (themself, or those they are a proxy of), filtered.
pub fn listed(
    c: &mut crate::db::DbConnection,
    rows: Vec<crate::db::residents::ResidentRow>,
    filter: &ListFilter,
    now: i64,
) -> Result<Vec<Listed>, DomainError> {
    use super::registrations::match_key;
    let q = filter.q.as_deref().map(match_key).filter(|s| !s.is_empty());
    let district = filter
        .district
        .as_deref()
        .map(match_key)
        .filter(|s| !s.is_empty());
    let cutoff = crate::jst::date_text(now - STALE_AFTER_DAYS * 86_400);
    let mut out = Vec::new();
    for r in rows {
        if let Some(q) = &q {
            let names = [
                Some(format!("{}{}", r.family_name, r.given_name)),
                Some(r.family_name.clone()),
                Some(r.given_name.clone()),
                r.family_name_kana
                    .as_ref()
                    .map(|f| format!("{f}{}", r.given_name_kana.as_deref().unwrap_or(""))),
                r.given_name_kana.clone(),
            ];
            if !names.iter().flatten().any(|n| match_key(n).contains(q)) {
                continue;
            }
        }
        if let Some(d) = &district
            && r.district.as_deref().map(match_key).as_ref() != Some(d)
        {
            continue;
        }
        let items = db::residents::items(c, &r.id)?;
        let last = last_checked(&items);
        let card_stale = super::cards::any_stale(c, &r.id)?;
        let stale = card_stale || last.as_ref().is_none_or(|d| *d < cutoff);
        if filter.stale.is_some_and(|want| want != stale) {
            continue;
        }
        out.push(Listed {
            profile: r.into(),
            last_checked: last,
            card_stale,
            stale,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_normalise_before_hashing() {
        assert_eq!(code_hash("abcd-efgh ij"), code_hash("ABCDEFGHIJ"));
        assert_ne!(code_hash("ABCDEFGHIJ"), code_hash("ABCDEFGHIK"));
    }
}
