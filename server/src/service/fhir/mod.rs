//! The disclosure as an IPS-shaped FHIR R4 (4.0.1) document Bundle.
//!
//! The Bundle is a `document`: its first entry is a Composition (LOINC 60591-5, Patient summary
//! Document) whose sections follow the International Patient Summary (IPS) section codes, one per
//! disclosed category. Every other entry is referenced from the Composition, directly or through a
//! resource it references. Ids and `fullUrl`s are derived from the access id, so the same disclosure
//! always gives the same JSON, and two accesses never share resource URLs (only the Patient keeps
//! the resident's stable id, as `Disclosure` documents).
//!
//! Japanese code systems are those of JP Core: medication codes are YJ codes
//! (`urn:oid:1.2.392.100495.20.1.73`), HOT9 (`urn:oid:1.2.392.200119.4.403.1`) or HOT13
//! (`urn:oid:1.2.392.200119.4.402.1`); the kana name is a second HumanName marked with the
//! ISO 21090 EN representation `SYL` (the kanji name is `IDE`).
//!
//! Only categories in `Disclosure::categories` appear, and items are filtered by them again here:
//! a category that is not disclosed has no section, no resource and none of its items' text.

use super::dataset::{
    AdvanceDirective, Allergy, BloodTypeItem, CareTeam, Condition, Device, EmergencyContact, Item,
    Medication,
};
use super::disclosure::Disclosure;
use crate::domain::{Category, DirectiveStatus, DisclosureKind, GivenBy, Provenance};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub(super) const LOINC: &str = "http://loinc.org";
pub(super) const XHTML: &str = "http://www.w3.org/1999/xhtml";
const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
const BCP47: &str = "urn:ietf:bcp:47";
const EN_REPRESENTATION: &str =
    "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";
/// JP Core: YJ code (個別医薬品コード).
const YJ: &str = "urn:oid:1.2.392.100495.20.1.73";
/// JP Core: HOT9.
const HOT9: &str = "urn:oid:1.2.392.200119.4.403.1";
/// JP Core: HOT13.
const HOT13: &str = "urn:oid:1.2.392.200119.4.402.1";
const EMPTY_REASON: &str = "http://terminology.hl7.org/CodeSystem/list-empty-reason";
const ALLERGY_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
const ALLERGY_VERIFICATION: &str =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";
const CONDITION_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const CONDITION_VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
const CONDITION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
pub(super) const OBSERVATION_CATEGORY: &str =
    "http://terminology.hl7.org/CodeSystem/observation-category";
const DATA_ABSENT: &str = "http://terminology.hl7.org/CodeSystem/data-absent-reason";
const CONSENT_SCOPE: &str = "http://terminology.hl7.org/CodeSystem/consentscope";
const CONSENT_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/consentcategorycodes";
pub(super) const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const SNOMED: &str = "http://snomed.info/sct";

/// The disclosure as an IPS-shaped FHIR R4 document Bundle.
///
/// `server_base` is the server's public URL: the Kyukit Organization's web address and the base of
/// the Patient identifier's system (`{server_base}/fhir/sid/resident`). Left out when empty.
pub fn ips_bundle(d: &Disclosure, server_base: &str) -> Value {
    let mut doc = Doc::new(d, server_base.trim().trim_end_matches('/'));
    let mut sections = Vec::new();
    // IPS order: the required sections first, then the recommended and optional ones.
    for category in [
        Category::Medications,
        Category::Allergies,
        Category::Conditions,
        Category::Devices,
        Category::BloodType,
        Category::AdvanceDirective,
        Category::CareTeam,
        Category::EmergencyContacts,
    ] {
        if !doc.disclosed(category) {
            continue;
        }
        let section = match category {
            Category::Medications => doc.medications(),
            Category::Allergies => doc.allergies(),
            Category::Conditions => doc.conditions(),
            Category::Devices => doc.devices(),
            Category::BloodType => doc.blood_type(),
            Category::AdvanceDirective => doc.advance_directive(),
            Category::CareTeam => doc.care_team(),
            Category::EmergencyContacts => doc.emergency_contacts(),
            // Not in the loop: the identity photo is never part of the FHIR Bundle.
            Category::Photo => continue,
        };
        sections.push(section.into_json());
    }
    let composition = doc.composition(sections);
    let mut entries = vec![composition];
    entries.append(&mut doc.entries);
    json!({
        "resourceType": "Bundle",
        "id": uuid_of_access(&d.access_id),
        "identifier": {
            "system": "urn:ietf:rfc:3986",
            "value": format!("urn:uuid:{}", uuid_of_access(&d.access_id)),
        },
        "type": "document",
        "timestamp": instant(d.accessed_at),
        "entry": entries,
    })
}

/// The access id (128 random bits, 32 hex) written as a UUID; anything else is hashed into one.
fn uuid_of_access(access_id: &str) -> String {
    let id = access_id.to_ascii_lowercase();
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        dashed(&id)
    } else {
        derived_uuid(access_id, "bundle")
    }
}

/// A name-based UUID (RFC 9562 version 8, SHA-256) for one resource of one access.
pub(super) fn derived_uuid(access_id: &str, key: &str) -> String {
    let hash = Sha256::new()
        .chain_update(b"kyukit-fhir\0")
        .chain_update(access_id.as_bytes())
        .chain_update(b"\0")
        .chain_update(key.as_bytes())
        .finalize();
    let mut b = [0u8; 16];
    for (dst, src) in b.iter_mut().zip(hash.iter()) {
        *dst = *src;
    }
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    dashed(&hex::encode(b))
}

/// 32 hex characters as `8-4-4-4-12`.
fn dashed(h: &str) -> String {
    let part = |a: usize, b: usize| h.get(a..b).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        part(0, 8),
        part(8, 12),
        part(12, 16),
        part(16, 20),
        part(20, 32)
    )
}

/// Unix seconds as an RFC 3339 UTC instant (the epoch if out of range, which no clock gives).
pub(super) fn instant(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// `s` if it is a real `YYYY-MM-DD` date (a FHIR `date`, and a valid `dateTime`).
fn fhir_date(s: Option<&str>) -> Option<&str> {
    let s = s?;
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt).ok().map(|_| s)
}

/// Text escaped for XHTML.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({ "system": system, "code": code, "display": display })
}

pub(super) fn concept(system: &str, code: &str, display: &str) -> Value {
    json!({ "coding": [coding(system, code, display)] })
}

pub(super) fn reference(url: &str) -> Value {
    json!({ "reference": url })
}

/// A body of the given type, or `None` (logged) if the stored JSON no longer fits it.
fn body<T: DeserializeOwned>(item: &Item) -> Option<T> {
    match serde_json::from_value(item.body.clone()) {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::warn!(item = %item.id, category = %item.category, "FHIR export skips an unreadable item: {e}");
            None
        }
    }
}

/// The medication code as a JP Core coding: YJ (12 characters), HOT9 or HOT13 (digits).
fn medication_coding(code: &str, name: &str) -> Option<Value> {
    let digits = code.bytes().all(|b| b.is_ascii_digit());
    let alnum = code.bytes().all(|b| b.is_ascii_alphanumeric());
    let system = match code.len() {
        12 if alnum => YJ,
        9 if digits => HOT9,
        13 if digits => HOT13,
        _ => return None,
    };
    Some(coding(system, code, name))
}

fn severity_label(s: &str) -> &str {
    match s {
        "mild" => "mild / 軽度",
        "moderate" => "moderate / 中等度",
        "severe" => "severe / 重度",
        "anaphylaxis" => "anaphylaxis / アナフィラキシー",
        other => other,
    }
}

fn device_label(kind: &str) -> &str {
    match kind {
        "pacemaker" => "Cardiac pacemaker / ペースメーカー",
        "icd" => "Implantable cardioverter-defibrillator (ICD) / 植込み型除細動器",
        "insulin_pump" => "Insulin pump / インスリンポンプ",
        "shunt" => "Shunt / シャント",
        "stent" => "Stent / ステント",
        "joint_replacement" => "Joint replacement / 人工関節",
        "other" => "Other implanted device / その他の医療機器",
        other => other,
    }
}

/// One Composition section being built: narrative lines (already XHTML), entry references.
struct Section {
    title: &'static str,
    code: Value,
    lines: Vec<String>,
    entries: Vec<Value>,
    /// `(code, display, narrative)` when the section has no entries.
    empty: (&'static str, &'static str, &'static str),
}

impl Section {
    fn new(title: &'static str, loinc: Option<(&str, &str)>, text: &str) -> Self {
        let code = match loinc {
            Some((code, display)) => json!({
                "coding": [coding(LOINC, code, display)],
                "text": text,
            }),
            None => json!({ "text": text }),
        };
        Section {
            title,
            code,
            lines: Vec::new(),
            entries: Vec::new(),
            empty: ("unavailable", "Unavailable", "No information / 情報なし"),
        }
    }

    fn into_json(self) -> Value {
        let div = if self.lines.is_empty() {
            format!(r#"<div xmlns="{XHTML}"><p>{}</p></div>"#, esc(self.empty.2))
        } else {
            let items: String = self.lines.iter().map(|l| format!("<li>{l}</li>")).collect();
            format!(r#"<div xmlns="{XHTML}"><ul>{items}</ul></div>"#)
        };
        let mut s = json!({
            "title": self.title,
            "code": self.code,
            "text": { "status": "generated", "div": div },
        });
        if self.entries.is_empty() {
            s["emptyReason"] = json!({
                "coding": [coding(EMPTY_REASON, self.empty.0, self.empty.1)],
                "text": self.empty.2,
            });
        } else {
            s["entry"] = Value::Array(self.entries);
        }
        s
    }
}

/// The document being built: every entry but the Composition, which comes last and goes first.
struct Doc<'a> {
    d: &'a Disclosure,
    base: &'a str,
    entries: Vec<Value>,
    patient: Value,
    kyukit: Value,
    privacy: Value,
}

impl<'a> Doc<'a> {
    fn new(d: &'a Disclosure, base: &'a str) -> Self {
        let mut doc = Doc {
            d,
            base,
            entries: Vec::new(),
            patient: Value::Null,
            kyukit: Value::Null,
            privacy: Value::Null,
        };
        doc.patient = doc.patient_entry();
        doc.kyukit = doc.organization_entry();
        doc.privacy = doc.privacy_consent_entry();
        doc
    }

    fn disclosed(&self, category: Category) -> bool {
        self.d.categories.contains(&category)
    }

    /// The items of a category, if that category is disclosed.
    fn items(&self, category: Category) -> impl Iterator<Item = &'a Item> + use<'a> {
        let disclosed = self.disclosed(category);
        self.d
            .items
            .iter()
            .filter(move |i| disclosed && i.category == category)
    }

    /// Adds a resource under a per-access UUID (its id too, unless it has one); returns a
    /// reference to it.
    fn add(&mut self, key: &str, mut resource: Value) -> Value {
        let uuid = derived_uuid(&self.d.access_id, key);
        if resource.get("id").is_none() {
            resource["id"] = json!(uuid);
        }
        let url = format!("urn:uuid:{uuid}");
        self.entries
            .push(json!({ "fullUrl": url, "resource": resource }));
        reference(&url)
    }

    /// Who stated an item: the resident, a proxy, or a clinician.
    fn source(&self, item: &Item) -> Value {
        match item.provenance {
            Provenance::SelfEntered => self.patient.clone(),
            Provenance::Proxy => json!({ "display": "Proxy / 代理人" }),
            Provenance::Clinician => json!({ "display": "Clinician / 医療者" }),
        }
    }

    /// `confirmed` when a clinician entered the item, else `unconfirmed` (reported).
    fn verified(item: &Item) -> (&'static str, &'static str) {
        if item.provenance == Provenance::Clinician {
            ("confirmed", "Confirmed")
        } else {
            ("unconfirmed", "Unconfirmed")
        }
    }

    fn patient_entry(&mut self) -> Value {
        let p = &self.d.patient;
        let name = |rep: &str, family: &str, given: &str| {
            let text: Vec<&str> = [family, given]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            let mut n = json!({
                "extension": [{ "url": EN_REPRESENTATION, "valueCode": rep }],
                "use": "official",
                "text": text.join(" "),
            });
            if !family.is_empty() {
                n["family"] = json!(family);
            }
            if !given.is_empty() {
                n["given"] = json!([given]);
            }
            n
        };
        let mut names = vec![name("IDE", &p.family_name, &p.given_name)];
        let kana_family = p.family_name_kana.as_deref().unwrap_or_default();
        let kana_given = p.given_name_kana.as_deref().unwrap_or_default();
        if !kana_family.is_empty() || !kana_given.is_empty() {
            names.push(name("SYL", kana_family, kana_given));
        }
        let gender = match p.sex.as_str() {
            g @ ("female" | "male" | "other") => g,
            _ => "unknown",
        };
        let language = match p.preferred_language.as_str() {
            "en" => coding(BCP47, "en", "English"),
            _ => coding(BCP47, "ja", "Japanese"),
        };
        let valid_id = !p.id.is_empty()
            && p.id.len() <= 64
            && p.id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        let mut patient = json!({
            "resourceType": "Patient",
            "name": names,
            "gender": gender,
            "communication": [{ "language": { "coding": [language] }, "preferred": true }],
        });
        if valid_id {
            patient["id"] = json!(p.id);
        }
        if !self.base.is_empty() && !p.id.is_empty() {
            patient["identifier"] = json!([{
                "system": format!("{}/fhir/sid/resident", self.base),
                "value": p.id,
            }]);
        }
        if let Some(dob) = fhir_date(Some(&p.date_of_birth)) {
            patient["birthDate"] = json!(dob);
        }
        self.add("patient", patient)
    }

    fn organization_entry(&mut self) -> Value {
        let mut org = json!({
            "resourceType": "Organization",
            "active": true,
            "name": "Kyukit",
        });
        if !self.base.is_empty() {
            org["telecom"] = json!([{ "system": "url", "value": self.base }]);
        }
        self.add("organization", org)
    }

    /// The resident's consent to share the emergency dataset with responders.
    fn privacy_consent_entry(&mut self) -> Value {
        let c = &self.d.consent;
        let performer = if c.given_by == GivenBy::SelfGiven {
            self.patient.clone()
        } else {
            json!({ "display": "Proxy / 代理人" })
        };
        let mut purpose = vec![coding(ACT_REASON, "ETREAT", "Emergency Treatment")];
        if c.disaster_use {
            purpose.push(coding(ACT_REASON, "DISASTER", "disaster"));
        }
        let mut provision = json!({ "type": "permit", "purpose": purpose });
        if !c.categories.is_empty() {
            provision["code"] = c
                .categories
                .iter()
                .map(|cat| json!({ "text": cat }))
                .collect();
        }
        let consent = json!({
            "resourceType": "Consent",
            "status": "active",
            "scope": concept(CONSENT_SCOPE, "patient-privacy", "Privacy Consent"),
            "category": [concept(LOINC, "59284-0", "Patient Consent")],
            "patient": self.patient,
            "dateTime": instant(c.recorded_at),
            "performer": [performer],
            "organization": [self.kyukit],
            "policyRule": {
                "coding": [coding(ACT_CODE, "OPTIN", "opt-in")],
                "text": format!("Kyukit consent, version {}", c.version),
            },
            "provision": provision,
        });
        self.add("consent", consent)
    }

    fn composition(&self, sections: Vec<Value>) -> Value {
        let d = self.d;
        let (reason, label) = if d.kind == DisclosureKind::BreakGlass {
            (
                coding(ACT_REASON, "BTG", "break the glass"),
                "Break-glass access by an emergency responder / 緊急時特別閲覧",
            )
        } else {
            (
                coding(ACT_REASON, "ETREAT", "Emergency Treatment"),
                "Card scan by an emergency responder / 救急隊によるカード読取",
            )
        };
        let mut period = json!({ "start": instant(d.accessed_at) });
        if d.expires_at >= d.accessed_at {
            period["end"] = json!(instant(d.expires_at));
        }
        let mut composition = json!({
            "resourceType": "Composition",
            "status": "final",
            "type": concept(LOINC, "60591-5", "Patient summary Document"),
            "subject": self.patient,
            "date": instant(d.accessed_at),
            "author": [self.kyukit],
            "title": "International Patient Summary / 救急医療情報",
            "confidentiality": "R",
            "custodian": self.kyukit,
            "event": [{
                "code": [{ "coding": [reason], "text": label }],
                "period": period,
                "detail": [self.privacy],
            }],
        });
        if !sections.is_empty() {
            composition["section"] = Value::Array(sections);
        }
        let uuid = derived_uuid(&d.access_id, "composition");
        composition["id"] = json!(uuid);
        json!({ "fullUrl": format!("urn:uuid:{uuid}"), "resource": composition })
    }

    fn medications(&mut self) -> Section {
        let mut s = Section::new(
            "Medication Summary / 服薬",
            Some(("10160-0", "History of Medication use Narrative")),
            "Medications / 服薬",
        );
        for item in self.items(Category::Medications) {
            let Some(m) = body::<Medication>(item) else {
                continue;
            };
            let mut medication = json!({ "text": m.name });
            if let Some(c) = m
                .code
                .as_deref()
                .and_then(|c| medication_coding(c, &m.name))
            {
                medication["coding"] = json!([c]);
            }
            let dosage: Vec<&str> = [m.dose.as_deref(), m.frequency.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            let mut flags = Vec::new();
            if m.anticoagulant {
                flags.push("Anticoagulant / 抗凝固薬");
            }
            if m.insulin {
                flags.push("Insulin / インスリン");
            }
            let mut r = json!({
                "resourceType": "MedicationStatement",
                "status": "active",
                "medicationCodeableConcept": medication,
                "subject": self.patient,
                "informationSource": self.source(item),
            });
            if !dosage.is_empty() {
                r["dosage"] = json!([{ "text": dosage.join(" ") }]);
            }
            if !flags.is_empty() {
                r["note"] = flags.iter().map(|f| json!({ "text": f })).collect();
            }
            if let Some(date) = fhir_date(item.last_verified.as_deref()) {
                r["dateAsserted"] = json!(date);
            }
            let mut line = format!("<b>{}</b>", esc(&m.name));
            if !dosage.is_empty() {
                line.push_str(&format!(" — {}", esc(&dosage.join(" "))));
            }
            if !flags.is_empty() {
                line.push_str(&format!(" ({})", esc(&flags.join(", "))));
            }
            s.lines.push(line);
            s.entries.push(self.add(&format!("item:{}", item.id), r));
        }
        s
    }

    fn allergies(&mut self) -> Section {
        let mut s = Section::new(
            "Allergies and Intolerances / アレルギー",
            Some(("48765-2", "Allergies and adverse reactions Document")),
            "Allergies / アレルギー",
        );
        for item in self.items(Category::Allergies) {
            let Some(a) = body::<Allergy>(item) else {
                continue;
            };
            let serious = matches!(a.severity.as_str(), "severe" | "anaphylaxis");
            let (ver, ver_display) = Self::verified(item);
            let mut r = json!({
                "resourceType": "AllergyIntolerance",
                "clinicalStatus": concept(ALLERGY_CLINICAL, "active", "Active"),
                "verificationStatus": concept(ALLERGY_VERIFICATION, ver, ver_display),
                "criticality": if serious { "high" } else { "low" },
                "code": { "text": a.substance },
                "patient": self.patient,
                "asserter": self.source(item),
                "note": [{ "text": format!("Reported severity / 重症度: {}", severity_label(&a.severity)) }],
            });
            let severity = match a.severity.as_str() {
                "mild" => "mild",
                "moderate" => "moderate",
                _ => "severe",
            };
            let manifestation = match (&a.reaction, a.severity.as_str()) {
                (Some(reaction), _) => Some(json!({ "text": reaction })),
                (None, "anaphylaxis") => Some(json!({
                    "coding": [coding(SNOMED, "39579001", "Anaphylaxis")],
                    "text": "Anaphylaxis / アナフィラキシー",
                })),
                (None, _) => None,
            };
            if let Some(m) = manifestation {
                r["reaction"] = json!([{ "manifestation": [m], "severity": severity }]);
            }
            if let Some(date) = fhir_date(item.last_verified.as_deref()) {
                r["recordedDate"] = json!(date);
            }
            let mut line = format!("<b>{}</b>", esc(&a.substance));
            if let Some(reaction) = &a.reaction {
                line.push_str(&format!(" — {}", esc(reaction)));
            }
            line.push_str(&format!(" ({})", esc(severity_label(&a.severity))));
            s.lines.push(line);
            s.entries.push(self.add(&format!("item:{}", item.id), r));
        }
        s
    }

    fn conditions(&mut self) -> Section {
        let mut s = Section::new(
            "Problem List / 既往歴・持病",
            Some(("11450-4", "Problem list - Reported")),
            "Problems / 既往歴・持病",
        );
        for item in self.items(Category::Conditions) {
            let Some(c) = body::<Condition>(item) else {
                continue;
            };
            let mut code = json!({ "text": c.name });
            if let Some(icd) = &c.icd10 {
                code["coding"] = json!([{ "system": ICD10, "code": icd }]);
            }
            let (ver, ver_display) = Self::verified(item);
            let mut r = json!({
                "resourceType": "Condition",
                "clinicalStatus": concept(CONDITION_CLINICAL, "active", "Active"),
                "verificationStatus": concept(CONDITION_VERIFICATION, ver, ver_display),
                "category": [concept(CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
                "code": code,
                "subject": self.patient,
                "asserter": self.source(item),
            });
            match (fhir_date(c.since.as_deref()), &c.since) {
                (Some(date), _) => r["onsetDateTime"] = json!(date),
                (None, Some(since)) => r["onsetString"] = json!(since),
                (None, None) => {}
            }
            if let Some(date) = fhir_date(item.last_verified.as_deref()) {
                r["recordedDate"] = json!(date);
            }
            let mut line = format!("<b>{}</b>", esc(&c.name));
            if let Some(icd) = &c.icd10 {
                line.push_str(&format!(" (ICD-10 {})", esc(icd)));
            }
            if let Some(since) = &c.since {
                line.push_str(&format!(" — since / 発症 {}", esc(since)));
            }
            s.lines.push(line);
            s.entries.push(self.add(&format!("item:{}", item.id), r));
        }
        s
    }

    fn devices(&mut self) -> Section {
        let mut s = Section::new(
            "Medical Devices / 医療機器",
            Some(("46264-8", "History of medical device use")),
            "Medical devices / 医療機器",
        );
        for item in self.items(Category::Devices) {
            let Some(dev) = body::<Device>(item) else {
                continue;
            };
            let label = device_label(&dev.kind);
            let mut device = json!({
                "resourceType": "Device",
                "status": "active",
                "type": { "text": label },
                "patient": self.patient,
            });
            if let Some(desc) = &dev.description {
                device["deviceName"] = json!([{ "name": desc, "type": "user-friendly-name" }]);
            }
            let device_ref = self.add(&format!("item:{}", item.id), device);
            let mut usage = json!({
                "resourceType": "DeviceUseStatement",
                "status": "active",
                "subject": self.patient,
                "device": device_ref,
                "source": self.source(item),
            });
            if let Some(date) = fhir_date(item.last_verified.as_deref()) {
                usage["recordedOn"] = json!(date);
            }
            let mut line = format!("<b>{}</b>", esc(label));
            if let Some(desc) = &dev.description {
                line.push_str(&format!(" — {}", esc(desc)));
            }
            s.lines.push(line);
            s.entries
                .push(self.add(&format!("item:{}:use", item.id), usage));
        }
        s
    }

    fn blood_type(&mut self) -> Section {
        let mut s = Section::new(
            "Results: Blood Type / 検査結果: 血液型",
            Some((
                "30954-2",
                "Relevant diagnostic tests/laboratory data Narrative",
            )),
            "Results / 検査結果",
        );
        for item in self.items(Category::BloodType) {
            let Some(b) = body::<BloodTypeItem>(item) else {
                continue;
            };
            let abo = if b.abo == "unknown" {
                "ABO unknown"
            } else {
                &b.abo
            };
            let rh = match b.rh.as_str() {
                "+" => "Rh+",
                "-" => "Rh-",
                _ => "Rh unknown",
            };
            let value = format!("{abo} {rh}");
            let mut r = json!({
                "resourceType": "Observation",
                "status": "final",
                "category": [concept(OBSERVATION_CATEGORY, "laboratory", "Laboratory")],
                "code": {
                    "coding": [coding(LOINC, "882-1", "ABO and Rh group [Type] in Blood")],
                    "text": "Blood type / 血液型",
                },
                "subject": self.patient,
            });
            if b.abo == "unknown" && b.rh == "unknown" {
                r["dataAbsentReason"] = concept(DATA_ABSENT, "unknown", "Unknown");
            } else {
                r["valueCodeableConcept"] = json!({ "text": value });
            }
            if let Some(date) = fhir_date(item.last_verified.as_deref()) {
                r["effectiveDateTime"] = json!(date);
            }
            s.lines
                .push(format!("<b>Blood type / 血液型</b>: {}", esc(&value)));
            s.entries.push(self.add(&format!("item:{}", item.id), r));
        }
        s
    }

    fn advance_directive(&mut self) -> Section {
        let mut s = Section::new(
            "Advance Directives / 事前指示",
            Some(("42348-3", "Advance directives")),
            "Advance directives / 事前指示",
        );
        let mut none = false;
        for item in self.items(Category::AdvanceDirective) {
            let Some(a) = body::<AdvanceDirective>(item) else {
                continue;
            };
            let (category, rule, mut line) = match a.status.as_str() {
                "dnar" => (
                    coding(CONSENT_CATEGORY, "dnr", "Do Not Resuscitate"),
                    "Do not attempt resuscitation (DNAR) / 心肺蘇生を望まない (DNAR)",
                    "<b>DNAR</b> — do not attempt resuscitation / 心肺蘇生を望まない".to_string(),
                ),
                "acp" => (
                    coding(CONSENT_CATEGORY, "acd", "Advance Directive"),
                    "Advance care planning (ACP) on file / 人生会議 (ACP) の記録あり",
                    "<b>ACP</b> — advance care planning on file / 人生会議 (ACP) の記録あり"
                        .to_string(),
                ),
                _ => {
                    none = true;
                    continue;
                }
            };
            let mut r = json!({
                "resourceType": "Consent",
                "status": "active",
                "scope": concept(CONSENT_SCOPE, "adr", "Advanced Care Directive"),
                "category": [{ "coding": [category] }],
                "patient": self.patient,
                "policyRule": { "text": rule },
            });
            if a.status() == Some(DirectiveStatus::Dnar) {
                r["provision"] = json!({
                    "type": "deny",
                    "code": [{
                        "coding": [coding(SNOMED, "89666000", "Cardiopulmonary resuscitation")],
                        "text": "Cardiopulmonary resuscitation / 心肺蘇生",
                    }],
                });
            }
            if let Some(date) = fhir_date(item.last_verified.as_deref()) {
                r["dateTime"] = json!(date);
            }
            if let Some(location) = &a.document_location {
                r["sourceAttachment"] = json!({ "title": location });
                line.push_str(&format!(
                    "; document kept at / 書面の保管場所: {}",
                    esc(location)
                ));
            }
            s.lines.push(line);
            s.entries.push(self.add(&format!("item:{}", item.id), r));
        }
        if none && s.entries.is_empty() {
            s.empty = (
                "nilknown",
                "Nil Known",
                "No advance directive on file / 事前指示なし",
            );
        }
        s
    }

    fn care_team(&mut self) -> Section {
        let mut s = Section::new(
            "Care Team / かかりつけ・支援体制",
            Some(("85847-2", "Patient Care team information")),
            "Care team / かかりつけ・支援体制",
        );
        for item in self.items(Category::CareTeam) {
            let Some(t) = body::<CareTeam>(item) else {
                continue;
            };
            let phone = |p: &Option<String>| {
                p.as_ref()
                    .map(|p| json!([{ "system": "phone", "value": p }]))
            };
            let role = |text: &str| json!([{ "text": text }]);
            let mut participants = Vec::new();
            let mut lines = Vec::new();
            let mut hospital = None;
            if t.primary_hospital.is_some() || t.hospital_phone.is_some() {
                let name = t
                    .primary_hospital
                    .as_deref()
                    .unwrap_or("Primary hospital / かかりつけ病院");
                let mut org = json!({ "resourceType": "Organization", "name": name });
                if let Some(tel) = phone(&t.hospital_phone) {
                    org["telecom"] = tel;
                }
                let org_ref = self.add(&format!("item:{}:hospital", item.id), org);
                participants.push(json!({
                    "role": role("Primary hospital / かかりつけ病院"),
                    "member": org_ref,
                }));
                lines.push(contact_line(
                    "Primary hospital / かかりつけ病院",
                    t.primary_hospital.as_deref(),
                    t.hospital_phone.as_deref(),
                ));
                hospital = Some(org_ref);
            }
            if let Some(doctor) = &t.primary_doctor {
                let pr = json!({ "resourceType": "Practitioner", "name": [{ "text": doctor }] });
                let pr_ref = self.add(&format!("item:{}:doctor", item.id), pr);
                let mut p = json!({
                    "role": role("Primary doctor / かかりつけ医"),
                    "member": pr_ref,
                });
                if let Some(h) = &hospital {
                    p["onBehalfOf"] = h.clone();
                }
                participants.push(p);
                lines.push(contact_line(
                    "Primary doctor / かかりつけ医",
                    Some(doctor),
                    None,
                ));
            }
            if t.care_manager.is_some() || t.care_manager_phone.is_some() {
                let mut pr = json!({ "resourceType": "Practitioner" });
                if let Some(name) = &t.care_manager {
                    pr["name"] = json!([{ "text": name }]);
                }
                if let Some(tel) = phone(&t.care_manager_phone) {
                    pr["telecom"] = tel;
                }
                let pr_ref = self.add(&format!("item:{}:care-manager", item.id), pr);
                participants.push(json!({
                    "role": role("Care manager / ケアマネジャー"),
                    "member": pr_ref,
                }));
                lines.push(contact_line(
                    "Care manager / ケアマネジャー",
                    t.care_manager.as_deref(),
                    t.care_manager_phone.as_deref(),
                ));
            }
            let mut r = json!({
                "resourceType": "CareTeam",
                "status": "active",
                "name": "Care team / かかりつけ・支援体制",
                "subject": self.patient,
            });
            if !participants.is_empty() {
                r["participant"] = Value::Array(participants);
            }
            if lines.is_empty() {
                lines.push("No care team members recorded / 登録なし".to_string());
            }
            s.lines.append(&mut lines);
            s.entries.push(self.add(&format!("item:{}", item.id), r));
        }
        s
    }

    fn emergency_contacts(&mut self) -> Section {
        let mut s = Section::new(
            "Emergency Contacts / 緊急連絡先",
            None,
            "Emergency contacts / 緊急連絡先",
        );
        for item in self.items(Category::EmergencyContacts) {
            let Some(c) = body::<EmergencyContact>(item) else {
                continue;
            };
            let r = json!({
                "resourceType": "RelatedPerson",
                "active": true,
                "patient": self.patient,
                "relationship": [{ "text": c.relation }],
                "name": [{ "text": c.name }],
                "telecom": [{ "system": "phone", "value": c.phone }],
            });
            s.lines.push(format!(
                "<b>{}</b> ({}): {}",
                esc(&c.name),
                esc(&c.relation),
                esc(&c.phone)
            ));
            s.entries.push(self.add(&format!("item:{}", item.id), r));
        }
        s
    }
}

/// A narrative line: `<b>role</b>: name, tel phone`.
fn contact_line(role: &str, name: Option<&str>, phone: Option<&str>) -> String {
    let mut line = format!("<b>{}</b>:", esc(role));
    if let Some(n) = name {
        line.push_str(&format!(" {}", esc(n)));
    }
    if let Some(p) = phone {
        line.push_str(&format!(" (tel {})", esc(p)));
    }
    line
}

#[cfg(test)]
mod tests;
