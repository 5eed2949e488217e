//! Disclosure on request (RULES R13): a resident (or their proxy) may ask what is held about them
//! and how it was used. The answer is everything, at once: the profile, every dataset item, every
//! consent version, the cards (metadata; the signing keys are the municipality's, never the
//! resident's), the proxies (names and relations), every disclosure to a responder (scans,
//! break-glass searches, disaster-time reads) and the full access history from the audit chain.
//! As JSON, or as a bilingual PDF (`kyukit_print::disclosure_pdf`). The request itself is audited
//! (`resident.disclosure`) before the data is read, so the export includes it.

use super::accounts::Actor;
use super::consent::Consent;
use super::dataset::Item;
use super::residents::{AccessEntry, Profile, access_entries, facility_names, for_actor};
use crate::audit::{self, Action, Outcome};
use crate::db::{self, Db};
use crate::domain::{Category, ConsentStatus, DisclosureKind, GivenBy, Purpose, Role};
use crate::service::error::DomainError;
use crate::service::words;
use serde::Serialize;

/// Most audit events included (far more than a resident accumulates; bounds the work).
pub const HISTORY_LIMIT: i64 = 100_000;
/// The audit purpose of an export.
pub const PURPOSE: Purpose = Purpose::DisclosureRequest;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MunicipalityNames {
    pub name_ja: String,
    pub name_en: String,
}

/// A card, without its signed bytes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HeldCard {
    /// The card id (`cti`, hex).
    pub id: String,
    /// The municipality's signing key (its private half is never the resident's to hold).
    pub kid: String,
    /// Whether the card carries the offline triage core.
    pub triage: bool,
    pub issued_at: i64,
    pub expires_at: i64,
    /// `active` | `revoked`.
    pub status: String,
    pub revoked_at: Option<i64>,
    pub revoke_reason: Option<String>,
}

/// Someone who acts for the resident.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HeldProxy {
    pub display_name: String,
    /// `family` | `relative` | `care_manager` | `guardian` | `other`.
    pub relation: String,
    pub relation_detail: Option<String>,
    /// The statement the proxy accepted, verbatim, and when.
    pub consent_statement: String,
    pub consented_at: i64,
    /// When the proxy was removed (acts for the resident no more); absent while current.
    pub removed_at: Option<i64>,
}

/// One disclosure of the resident's data to a responder.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HeldAccess {
    pub id: String,
    /// `scan` | `break_glass` | `disaster`.
    #[schema(value_type = String)]
    pub kind: DisclosureKind,
    pub at: i64,
    /// End of the grant (scans, break-glass); absent for disaster reads.
    pub expires_at: Option<i64>,
    /// The categories disclosed.
    #[schema(value_type = Vec<String>)]
    pub categories: Vec<Category>,
    pub card_id: Option<String>,
    /// The responder's facility (fire department); absent for disaster responders.
    pub facility_id: Option<String>,
    pub facility_name: Option<String>,
    pub facility_name_en: Option<String>,
    /// The crew's incident reference (scans, break-glass).
    pub incident_ref: Option<String>,
    /// Why break-glass was used.
    pub reason: Option<String>,
    /// Break-glass: `pending` | `justified` | `unjustified`.
    pub review_status: Option<String>,
    /// Disaster reads: the declaration in force.
    pub declaration_id: Option<String>,
}

/// Everything held about one resident.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DataDisclosure {
    /// Unix seconds.
    pub generated_at: i64,
    pub municipality: MunicipalityNames,
    pub profile: Profile,
    /// Every dataset item, of every category.
    pub dataset: Vec<Item>,
    /// Every consent version, oldest first.
    pub consents: Vec<Consent>,
    pub cards: Vec<HeldCard>,
    pub proxies: Vec<HeldProxy>,
    /// The photo for identity check, if one is held: its description (the JPEG itself:
    /// `GET /api/v1/residents/{rid}/photo`).
    pub photo: Option<super::photo::PhotoInfo>,
    /// Disclosures to responders, newest first.
    pub accesses: Vec<HeldAccess>,
    /// Every audited event about the resident, newest first (this export included).
    pub access_history: Vec<AccessEntry>,
}

/// Collects the disclosure and audits the request (`format`: `json` or `pdf`).
pub fn export(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    format: &str,
    now: i64,
) -> Result<DataDisclosure, DomainError> {
    // The request is durable in the audit chain before anything is read; the (possibly long)
    // read then runs outside the write transaction, so it never holds up other writers.
    let resident = db.write(|c| {
        let (resident, _) = for_actor(c, actor, resident_id)?;
        let event = actor
            .event(Action::ResidentDisclosure, Outcome::Ok)
            .about(&resident.id)
            .purpose(PURPOSE)
            .detail(format.to_string());
        audit::append(c, &actor.municipality_id, &event, now);
        Ok::<_, DomainError>(resident)
    })?;
    db.read(|c| {
        let muni = &actor.municipality_id;
        let municipality = db::keys::municipality(c, muni)?
            .map(|m| MunicipalityNames {
                name_ja: m.name_ja,
                name_en: m.name_en,
            })
            .ok_or_else(|| DomainError::internal("municipality row missing"))?;
        let events = db::audit::audit_events_about(c, muni, &resident.id, HISTORY_LIMIT)?;
        let held = db::access::accesses_of_resident(c, muni, &resident.id)?;
        let names = facility_names(
            c,
            muni,
            &resident.id,
            events
                .iter()
                .filter_map(|e| e.facility_id.as_deref())
                .chain(held.iter().map(|a| a.facility_id.as_str())),
        )?;
        let dataset = db::residents::items(c, &resident.id)?
            .into_iter()
            .map(Item::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let consents = db::residents::consents(c, &resident.id)?
            .into_iter()
            .map(Consent::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let cards = db::cards::cards_of(c, &resident.id)?
            .into_iter()
            .map(|r| HeldCard {
                id: r.id,
                kid: r.kid,
                triage: r.triage,
                issued_at: r.issued_at,
                expires_at: r.expires_at,
                status: r.status.to_string(),
                revoked_at: r.revoked_at,
                revoke_reason: r.revoke_reason,
            })
            .collect();
        let proxies = db::residents::proxies_with_names(c, &resident.id)?
            .into_iter()
            .map(|(p, display_name)| HeldProxy {
                display_name,
                relation: p.relation.to_string(),
                relation_detail: p.relation_detail,
                consent_statement: p.consent_statement,
                consented_at: p.consented_at,
                removed_at: p.removed_at,
            })
            .collect();
        let photo =
            db::photos::photo(c, muni, &resident.id)?.map(|r| super::photo::Photo::from(r).info);
        let mut accesses = Vec::new();
        for a in held {
            let name = names.get(&a.facility_id);
            accesses.push(HeldAccess {
                categories: serde_json::from_str(&a.categories).map_err(DomainError::internal)?,
                facility_name: name.map(|n| n.0.clone()),
                facility_name_en: name.map(|n| n.1.clone()),
                id: a.id,
                kind: a.kind.into(),
                at: a.created_at,
                expires_at: Some(a.expires_at),
                card_id: a.card_id,
                facility_id: Some(a.facility_id),
                incident_ref: Some(a.incident_ref),
                reason: a.reason,
                review_status: a.review_status.map(|s| s.to_string()),
                declaration_id: None,
            });
        }
        for a in db::disasters::disaster_accesses_of_resident(c, muni, &resident.id)? {
            accesses.push(HeldAccess {
                categories: serde_json::from_str(&a.categories).map_err(DomainError::internal)?,
                id: a.id,
                kind: DisclosureKind::Disaster,
                at: a.created_at,
                expires_at: None,
                card_id: None,
                facility_id: None,
                facility_name: None,
                facility_name_en: None,
                incident_ref: None,
                reason: None,
                review_status: None,
                declaration_id: Some(a.declaration_id),
            });
        }
        accesses.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.id.cmp(&b.id)));
        let access_history = access_entries(events, &names, actor);
        Ok(DataDisclosure {
            generated_at: now,
            municipality,
            profile: resident.into(),
            dataset,
            consents,
            cards,
            proxies,
            photo,
            accesses,
            access_history,
        })
    })
}

/// The disclosure as a bilingual PDF.
pub fn pdf(db: &Db, actor: &Actor, resident_id: &str, now: i64) -> Result<Vec<u8>, DomainError> {
    let d = export(db, actor, resident_id, "pdf", now)?;
    kyukit_print::disclosure_pdf(&print_doc(&d)).map_err(|e| match e {
        kyukit_print::PrintError::TextTooLong { .. } => DomainError::unprocessable(
            "cannot_print",
            "the disclosure is too long for a PDF; use the JSON export",
        ),
        other => DomainError::internal(other),
    })
}

// ---- the printed form -----------------------------------------------------------------------------

/// `YYYY-MM-DD HH:MM JST` (Japan has one time zone and no daylight saving).
fn jst(t: i64) -> String {
    match crate::jst::minute_text(t) {
        s if s.is_empty() => t.to_string(),
        s => format!("{s} JST"),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "はい yes" } else { "いいえ no" }
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("—")
}

fn categories(c: &[Category]) -> String {
    if c.is_empty() {
        "—".into()
    } else {
        c.iter()
            .map(|c| words::both(words::category(*c)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A dataset item's value in words where the field holds a code (severity, device kind,
/// directive status); people's own text as entered.
fn coded_value(field: &str, v: &str) -> String {
    let w = match field {
        "severity" => v.parse().ok().map(words::severity),
        "kind" => v.parse().ok().map(words::device_kind),
        "status" => v.parse().ok().map(words::directive),
        _ => None,
    };
    w.map_or_else(|| v.to_string(), words::both)
}

fn item_line(i: &Item) -> String {
    let body = match &i.body {
        serde_json::Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {}", coded_value(k, s)),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    format!(
        "{}: {body}（入力 / by: {}; 確認日 / verified: {}; 更新 / updated: {}）",
        words::both(words::category(i.category)),
        i.provenance,
        opt(&i.last_verified),
        jst(i.updated_at)
    )
}

fn section(
    heading_ja: &str,
    heading_en: &str,
    lines: Vec<String>,
) -> kyukit_print::DisclosureSection {
    kyukit_print::DisclosureSection {
        heading_ja: heading_ja.into(),
        heading_en: heading_en.into(),
        lines,
    }
}

/// The bilingual document for `kyukit_print::disclosure_pdf`.
pub fn print_doc(d: &DataDisclosure) -> kyukit_print::DisclosureDoc {
    let p = &d.profile;
    let kana = match (&p.family_name_kana, &p.given_name_kana) {
        (None, None) => String::new(),
        (f, g) => format!(
            "（{} {}）",
            f.as_deref().unwrap_or(""),
            g.as_deref().unwrap_or("")
        ),
    };
    let name = format!("{} {}{kana}", p.family_name, p.given_name);
    let mut profile = vec![
        format!("氏名 / Name: {name}"),
        format!("生年月日 / Date of birth: {}", p.date_of_birth),
        format!("性別 / Sex: {}", p.sex),
        format!("住所 / Address: {}", p.address),
        format!("地区 / District: {}", opt(&p.district)),
        format!("電話 / Phone: {}", opt(&p.phone)),
        format!("言語 / Language: {}", p.preferred_language),
        format!("状態 / Status: {}", p.status),
    ];
    if let Some(t) = p.withdrawn_at {
        profile.push(format!("支援中止 / Withdrawn: {}", jst(t)));
    }
    if let Some(t) = p.purge_after {
        profile.push(format!("削除予定 / To be deleted after: {}", jst(t)));
    }
    profile.push(format!("ID: {}", p.id));
    if let Some(ph) = &d.photo {
        profile.push(format!(
            "本人確認用の写真 / Photo for identity check: {}×{} JPEG, {} {}",
            ph.width,
            ph.height,
            jst(ph.updated_at),
            ph.sha256
        ));
    }

    let consents = d
        .consents
        .iter()
        .map(|c| {
            format!(
                "v{} {} {} ({}): 共有する項目 / shared: {}; 災害時利用 / disaster use: {}; カードのトリアージ情報 / triage on card: {}; 印刷物の氏名 / name on print: {}",
                c.version,
                jst(c.recorded_at),
                if c.status == ConsentStatus::Granted { "同意 granted" } else { "支援中止 withdrawn" },
                if c.given_by == GivenBy::SelfGiven { "本人 self" } else { "代理人 proxy" },
                categories(&c.categories),
                yes_no(c.disaster_use),
                yes_no(c.triage_on_card),
                yes_no(c.name_on_print),
            )
        })
        .collect();
    let cards = d
        .cards
        .iter()
        .map(|c| {
            format!(
                "{}: 発行 / issued {}; 有効期限 / expires {}; 状態 / status {}{}",
                c.id,
                jst(c.issued_at),
                jst(c.expires_at),
                c.status,
                c.revoke_reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let proxies = d
        .proxies
        .iter()
        .map(|x| {
            format!(
                "{}: {}{}; 登録 / since {}",
                x.display_name,
                x.relation,
                x.relation_detail
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
                jst(x.consented_at)
            )
        })
        .collect();
    let accesses = d
        .accesses
        .iter()
        .map(|a| {
            let (kind, who) = match a.kind {
                DisclosureKind::Scan => {
                    ("救急隊（カード） scan", opt(&a.facility_name).to_string())
                }
                DisclosureKind::BreakGlass => (
                    "救急隊（緊急検索） break-glass",
                    opt(&a.facility_name).to_string(),
                ),
                DisclosureKind::Disaster => (
                    "災害時 disaster",
                    format!(
                        "災害対応 / responder; 宣言 / declaration {}",
                        opt(&a.declaration_id)
                    ),
                ),
            };
            let mut line = format!(
                "{} {kind}: {who}; 開示項目 / disclosed: {}",
                jst(a.at),
                categories(&a.categories)
            );
            if let Some(r) = &a.incident_ref {
                line.push_str(&format!("; 事案 / incident {r}"));
            }
            if let Some(r) = &a.reason {
                line.push_str(&format!("; 理由 / reason: {r}"));
            }
            if let Some(r) = &a.review_status {
                line.push_str(&format!("; 審査 / review: {r}"));
            }
            line
        })
        .collect();
    let history = d
        .access_history
        .iter()
        .map(|e| {
            let mut line = format!("{} {}", jst(e.at), words::both(words::action(&e.action)));
            if e.outcome != "ok" {
                line.push_str(&format!(" [{}]", e.outcome));
            }
            let who = if e.by_self {
                "本人 self".to_string()
            } else {
                e.role
                    .as_deref()
                    .map(|r| {
                        r.parse::<Role>()
                            .map_or_else(|_| r.to_string(), |r| words::both(words::role(r)))
                    })
                    .unwrap_or_else(|| "システム / system".into())
            };
            line.push_str(&format!(" — {who}"));
            if let Some(f) = &e.facility_name {
                line.push_str(&format!(", {f}"));
            }
            if let Some(p) = &e.purpose {
                let p = p
                    .parse::<Purpose>()
                    .map_or_else(|_| p.clone(), |p| words::both(words::purpose(p)));
                line.push_str(&format!("; 目的 / purpose: {p}"));
            }
            line.push_str(&format!(" #{}", e.audit_seq));
            line
        })
        .collect();
    kyukit_print::DisclosureDoc {
        municipality_ja: d.municipality.name_ja.clone(),
        municipality_en: d.municipality.name_en.clone(),
        resident_name: name,
        generated_at: jst(d.generated_at),
        sections: vec![
            section("本人情報", "Profile", profile),
            section(
                "救急医療情報",
                "Emergency dataset",
                d.dataset.iter().map(item_line).collect(),
            ),
            section("同意の履歴", "Consent history", consents),
            section("カード", "Cards", cards),
            section("代理人", "Proxies", proxies),
            section(
                "救急隊・災害時の閲覧",
                "Disclosures to responders",
                accesses,
            ),
            section(
                "利用履歴（監査記録）",
                "Access history (audit log)",
                history,
            ),
        ],
    }
}
