use super::*;
use crate::domain::{ConsentStatus, DisclosureKind, GivenBy, Provenance};
use crate::service::consent::Consent;
use crate::service::disclosure::Patient;
use std::collections::{BTreeMap, BTreeSet};

const ACCESS: &str = "0123456789abcdef0123456789abcdef";
const BASE: &str = "https://qq.city.joso.lg.jp/";

fn item(n: u32, category: Category, body: Value) -> Item {
    Item {
        id: format!("{n:032x}"),
        category,
        body,
        provenance: if n.is_multiple_of(2) {
            Provenance::SelfEntered
        } else {
            Provenance::Proxy
        },
        last_verified: Some("2026-10-01".into()),
        updated_at: 1_790_000_000,
    }
}

fn all_categories() -> Vec<Category> {
    crate::service::dataset::CATEGORIES.to_vec()
}

fn fixture() -> Disclosure {
    let items = vec![
        item(
            1,
            Category::Medications,
            json!({"name": "ワーファリン錠1mg", "dose": "2錠", "frequency": "1日1回朝", "code": "3332001F1020", "anticoagulant": true, "insulin": false}),
        ),
        item(
            2,
            Category::Medications,
            json!({"name": "ノボラピッド注", "dose": "6単位", "frequency": "毎食前", "code": "1234567890123", "anticoagulant": false, "insulin": true}),
        ),
        item(
            3,
            Category::Medications,
            json!({"name": "アムロジピン錠5mg <OD>", "dose": null, "frequency": null, "code": "123456789", "anticoagulant": false, "insulin": false}),
        ),
        item(
            4,
            Category::Conditions,
            json!({"name": "心房細動", "icd10": "I48.9", "since": "2015-04-01"}),
        ),
        item(
            5,
            Category::Conditions,
            json!({"name": "2型糖尿病", "icd10": null, "since": null}),
        ),
        item(
            6,
            Category::Allergies,
            json!({"substance": "ペニシリン", "reaction": "じんましん・呼吸困難", "severity": "anaphylaxis"}),
        ),
        item(
            7,
            Category::Allergies,
            json!({"substance": "そば", "reaction": null, "severity": "moderate"}),
        ),
        item(
            8,
            Category::Devices,
            json!({"kind": "pacemaker", "description": "Medtronic Azure"}),
        ),
        item(
            9,
            Category::Devices,
            json!({"kind": "joint_replacement", "description": null}),
        ),
        item(10, Category::BloodType, json!({"abo": "A", "rh": "+"})),
        item(
            11,
            Category::AdvanceDirective,
            json!({"status": "dnar", "document_location": "冷蔵庫の扉の内側"}),
        ),
        item(
            12,
            Category::CareTeam,
            json!({"primary_doctor": "鈴木一郎医師", "primary_hospital": "常総市立病院", "hospital_phone": "0297-00-1234", "care_manager": "佐藤ケアマネ", "care_manager_phone": "0297-00-5678"}),
        ),
        item(
            13,
            Category::EmergencyContacts,
            json!({"name": "山田太郎", "relation": "長男", "phone": "090-1234-5678"}),
        ),
        item(
            14,
            Category::EmergencyContacts,
            json!({"name": "山田次郎", "relation": "次男", "phone": "080-9876-5432"}),
        ),
    ];
    Disclosure {
        access_id: ACCESS.into(),
        kind: DisclosureKind::Scan,
        incident_ref: "R8-1234".into(),
        accessed_at: 1_795_000_000,
        expires_at: 1_795_000_000 + 12 * 3600,
        card_id: Some("00112233445566778899aabbccddeeff".into()),
        facility_id: "fd01".into(),
        patient: Patient {
            id: "fedcba9876543210fedcba9876543210".into(),
            family_name: "山田".into(),
            given_name: "花子".into(),
            family_name_kana: Some("ヤマダ".into()),
            given_name_kana: Some("ハナコ".into()),
            date_of_birth: "1941-02-28".into(),
            sex: "female".into(),
            age: 85,
            preferred_language: "ja".into(),
        },
        consent: Consent {
            version: 3,
            status: ConsentStatus::Granted,
            categories: all_categories(),
            disaster_use: true,
            triage_on_card: true,
            name_on_print: false,
            notify_family: false,
            family_hospital_name: false,
            given_by: GivenBy::Proxy,
            proxy_id: Some("abcdefabcdefabcdefabcdefabcdefab".into()),
            recorded_at: 1_790_000_000,
        },
        categories: all_categories(),
        items,
        card_current: None,
        triage: None,
        photo: true,
    }
}

fn resources(b: &Value) -> Vec<&Value> {
    b["entry"]
        .as_array()
        .map(|e| e.iter().map(|e| &e["resource"]).collect())
        .unwrap_or_default()
}

fn counts(b: &Value) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in resources(b) {
        *m.entry(r["resourceType"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    m
}

fn section_codes(b: &Value) -> Vec<String> {
    b["entry"][0]["resource"]["section"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|s| {
                    s["code"]["coding"][0]["code"]
                        .as_str()
                        .unwrap_or("text-only")
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if k == "reference" {
                    out.push(v.as_str().unwrap().to_string());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

#[test]
fn full_document() {
    let b = ips_bundle(&fixture(), BASE);
    assert_eq!(b["resourceType"], "Bundle");
    assert_eq!(b["type"], "document");
    assert_eq!(b["timestamp"], "2026-11-18T11:06:40Z");
    assert_eq!(b["identifier"]["system"], "urn:ietf:rfc:3986");
    assert_eq!(
        b["identifier"]["value"],
        "urn:uuid:01234567-89ab-cdef-0123-456789abcdef"
    );
    let expected: BTreeMap<String, usize> = [
        ("AllergyIntolerance", 2),
        ("CareTeam", 1),
        ("Composition", 1),
        ("Condition", 2),
        ("Consent", 2),
        ("Device", 2),
        ("DeviceUseStatement", 2),
        ("MedicationStatement", 3),
        ("Observation", 1),
        ("Organization", 2),
        ("Patient", 1),
        ("Practitioner", 2),
        ("RelatedPerson", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(counts(&b), expected);

    let comp = &b["entry"][0]["resource"];
    assert_eq!(comp["resourceType"], "Composition");
    assert_eq!(comp["type"]["coding"][0]["code"], "60591-5");
    assert_eq!(comp["confidentiality"], "R");
    assert_eq!(
        section_codes(&b),
        [
            "10160-0",
            "48765-2",
            "11450-4",
            "46264-8",
            "30954-2",
            "42348-3",
            "85847-2",
            "text-only"
        ]
    );
    for s in comp["section"].as_array().unwrap() {
        let div = s["text"]["div"].as_str().unwrap();
        assert!(div.starts_with(r#"<div xmlns="http://www.w3.org/1999/xhtml">"#));
        assert!(s["entry"].as_array().is_some_and(|e| !e.is_empty()));
        assert!(s.get("emptyReason").is_none());
    }
    // Narrative text is escaped.
    let meds = comp["section"][0]["text"]["div"].as_str().unwrap();
    assert!(meds.contains("アムロジピン錠5mg &lt;OD&gt;"), "{meds}");

    // Every fullUrl is a unique urn:uuid, every reference resolves to one.
    let urls: BTreeSet<String> = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fullUrl"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(urls.len(), b["entry"].as_array().unwrap().len());
    for u in &urls {
        assert!(is_uuid(u.strip_prefix("urn:uuid:").unwrap()), "{u}");
    }
    let mut refs = Vec::new();
    collect_refs(&b, &mut refs);
    assert!(refs.len() > 20);
    for r in &refs {
        assert!(urls.contains(r), "dangling reference {r}");
    }
    // Every entry but the Composition is referenced.
    let referenced: BTreeSet<&String> = refs.iter().collect();
    for e in b["entry"].as_array().unwrap().iter().skip(1) {
        let u = e["fullUrl"].as_str().unwrap().to_string();
        assert!(referenced.contains(&u), "unreferenced {}", e["resource"]);
    }

    let find = |t: &str| -> Vec<&Value> {
        resources(&b)
            .into_iter()
            .filter(|r| r["resourceType"] == t)
            .collect()
    };
    let patient = find("Patient")[0];
    assert_eq!(patient["id"], "fedcba9876543210fedcba9876543210");
    assert_eq!(patient["gender"], "female");
    assert_eq!(patient["birthDate"], "1941-02-28");
    assert_eq!(patient["name"][0]["family"], "山田");
    assert_eq!(patient["name"][0]["extension"][0]["valueCode"], "IDE");
    assert_eq!(patient["name"][1]["given"][0], "ハナコ");
    assert_eq!(patient["name"][1]["extension"][0]["valueCode"], "SYL");
    assert_eq!(
        patient["identifier"][0]["system"],
        "https://qq.city.joso.lg.jp/fhir/sid/resident"
    );
    assert_eq!(
        patient["communication"][0]["language"]["coding"][0]["code"],
        "ja"
    );

    let meds = find("MedicationStatement");
    let systems: Vec<&str> = meds
        .iter()
        .map(|m| {
            m["medicationCodeableConcept"]["coding"][0]["system"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(systems, [YJ, HOT13, HOT9]);
    assert_eq!(meds[0]["dosage"][0]["text"], "2錠 1日1回朝");
    assert_eq!(meds[0]["note"][0]["text"], "Anticoagulant / 抗凝固薬");
    assert!(meds[2].get("dosage").is_none());

    let allergies = find("AllergyIntolerance");
    assert_eq!(allergies[0]["criticality"], "high");
    assert_eq!(allergies[0]["reaction"][0]["severity"], "severe");
    assert_eq!(
        allergies[0]["verificationStatus"]["coding"][0]["code"],
        "unconfirmed"
    );
    assert_eq!(allergies[1]["criticality"], "low");
    assert!(allergies[1].get("reaction").is_none());

    let conditions = find("Condition");
    assert_eq!(conditions[0]["code"]["coding"][0]["system"], ICD10);
    assert_eq!(conditions[0]["onsetDateTime"], "2015-04-01");
    assert!(conditions[1]["code"].get("coding").is_none());

    let obs = find("Observation")[0];
    assert_eq!(obs["code"]["coding"][0]["code"], "882-1");
    assert_eq!(obs["valueCodeableConcept"]["text"], "A Rh+");

    let consents = find("Consent");
    let scopes: Vec<&str> = consents
        .iter()
        .map(|c| c["scope"]["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["patient-privacy", "adr"]);
    assert_eq!(consents[0]["dateTime"], "2026-09-21T14:13:20Z");
    assert_eq!(consents[1]["provision"]["type"], "deny");
    assert_eq!(consents[1]["sourceAttachment"]["title"], "冷蔵庫の扉の内側");
    assert_eq!(
        comp["event"][0]["detail"][0]["reference"],
        b["entry"][3]["fullUrl"]
    );

    let orgs = find("Organization");
    assert_eq!(orgs[0]["name"], "Kyukit");
    assert_eq!(
        find("RelatedPerson")[1]["telecom"][0]["value"],
        "080-9876-5432"
    );
}

#[test]
fn undisclosed_categories_leave_no_trace() {
    let mut d = fixture();
    // The caller's items still hold allergies, care team and contacts: they must be dropped here.
    d.categories = vec![
        Category::Medications,
        Category::Conditions,
        Category::Devices,
        Category::BloodType,
        Category::AdvanceDirective,
    ];
    let b = ips_bundle(&d, BASE);
    let c = counts(&b);
    for gone in [
        "AllergyIntolerance",
        "CareTeam",
        "Practitioner",
        "RelatedPerson",
    ] {
        assert!(!c.contains_key(gone), "{gone}");
    }
    assert_eq!(c["Organization"], 1, "only Kyukit");
    assert_eq!(
        section_codes(&b),
        ["10160-0", "11450-4", "46264-8", "30954-2", "42348-3"]
    );
    let text = b.to_string();
    for secret in [
        "ペニシリン",
        "じんましん",
        "そば",
        "鈴木一郎",
        "常総市立病院",
        "0297-00-1234",
        "佐藤ケアマネ",
        "山田太郎",
        "長男",
        "090-1234-5678",
        "080-9876-5432",
    ] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
    assert!(text.contains("ワーファリン"));

    // Nothing disclosed at all: a Composition with no sections, and no item resources.
    d.categories.clear();
    let b = ips_bundle(&d, BASE);
    assert!(b["entry"][0]["resource"].get("section").is_none());
    assert_eq!(
        counts(&b).keys().cloned().collect::<Vec<_>>(),
        ["Composition", "Consent", "Organization", "Patient"]
    );
    for it in &d.items {
        for v in it.body.as_object().unwrap().values() {
            if let Some(s) = v.as_str().filter(|s| s.chars().count() > 2) {
                assert!(!b.to_string().contains(s), "{s} leaked");
            }
        }
    }
}

#[test]
fn empty_categories_have_an_empty_reason() {
    let mut d = fixture();
    d.items.retain(|i| i.category == Category::Medications);
    d.items.push(item(
        20,
        Category::AdvanceDirective,
        json!({"status": "none", "document_location": null}),
    ));
    let b = ips_bundle(&d, "");
    let sections = b["entry"][0]["resource"]["section"].as_array().unwrap();
    assert_eq!(sections.len(), 8);
    for s in sections {
        let empty = s["code"]["coding"][0]["code"] != "10160-0";
        assert_eq!(s.get("entry").is_none(), empty, "{s}");
        assert_eq!(s.get("emptyReason").is_some(), empty, "{s}");
        if empty {
            let reason = &s["emptyReason"]["coding"][0];
            assert_eq!(
                reason["system"],
                "http://terminology.hl7.org/CodeSystem/list-empty-reason"
            );
            let expected = if s["code"]["coding"][0]["code"] == "42348-3" {
                "nilknown"
            } else {
                "unavailable"
            };
            assert_eq!(reason["code"], expected);
        }
    }
    assert_eq!(counts(&b)["Consent"], 1, "no ADR Consent for status none");
    // No server base: no identifier system or web address derived from it.
    assert!(!b.to_string().contains("/fhir/sid/"));
}

/// Issue 19: an ACP document is not a DNAR order. An ACP-only resident's bundle names no DNAR
/// anywhere (section title, narrative, codes); a DNAR resident's says DNAR and denies CPR.
#[test]
fn acp_only_says_no_dnar() {
    let mut d = fixture();
    d.items.retain(|i| i.category != Category::AdvanceDirective);
    d.items.push(item(
        60,
        Category::AdvanceDirective,
        json!({"status": "acp", "document_location": "冷蔵庫の横の棚"}),
    ));
    let text = serde_json::to_string(&ips_bundle(&d, BASE)).unwrap();
    assert!(!text.to_lowercase().contains("dnar"), "{text}");
    assert!(!text.contains("\"dnr\""), "{text}");
    assert!(!text.contains("89666000"), "no CPR provision");
    assert!(text.contains("ACP"));
    // The fixture's DNAR resident: DNAR, with the CPR provision.
    let dnar = serde_json::to_string(&ips_bundle(&fixture(), BASE)).unwrap();
    assert!(dnar.contains("<b>DNAR</b>") && dnar.contains("89666000"));
}

#[test]
fn deterministic() {
    let d = fixture();
    let a = serde_json::to_string(&ips_bundle(&d, BASE)).unwrap();
    assert_eq!(a, serde_json::to_string(&ips_bundle(&d, BASE)).unwrap());
    assert_eq!(
        a,
        serde_json::to_string(&ips_bundle(&d.clone(), BASE)).unwrap()
    );
    // Another access of the same data: same content, other document and resource URLs.
    let mut other = d.clone();
    other.access_id = "ffffffffffffffffffffffffffffffff".into();
    let b = ips_bundle(&other, BASE);
    let urls = |b: &Value| -> BTreeSet<String> {
        b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["fullUrl"].as_str().unwrap().to_string())
            .collect()
    };
    let first = ips_bundle(&d, BASE);
    assert!(urls(&first).is_disjoint(&urls(&b)));
    assert_eq!(counts(&first), counts(&b));
}

#[test]
fn uuids() {
    assert_eq!(
        uuid_of_access("0123456789ABCDEF0123456789abcdef"),
        "01234567-89ab-cdef-0123-456789abcdef"
    );
    let odd = uuid_of_access("not-an-id");
    assert!(is_uuid(&odd), "{odd}");
    let u = derived_uuid(ACCESS, "patient");
    assert!(is_uuid(&u));
    assert_eq!(&u[14..15], "8", "version 8");
    assert!("89ab".contains(&u[19..20]), "RFC variant");
    assert_ne!(u, derived_uuid(ACCESS, "organization"));
    assert_eq!(u, derived_uuid(ACCESS, "patient"));
}

#[test]
fn medication_codes() {
    assert_eq!(
        medication_coding("3332001F1020", "x").unwrap()["system"],
        YJ
    );
    assert_eq!(medication_coding("123456789", "x").unwrap()["system"], HOT9);
    assert_eq!(
        medication_coding("1234567890123", "x").unwrap()["system"],
        HOT13
    );
    assert!(medication_coding("12345678A", "x").is_none());
    assert!(medication_coding("1234", "x").is_none());
}

/// Writes sample bundles for the Python oracle (`tests/oracle/test_fhir.py`, fhir.resources'
/// R4 models) to `$KYUKIT_FHIR_SAMPLES`, `$CARGO_TARGET_DIR/fhir-samples` or
/// `target/fhir-samples`.
#[test]
fn write_oracle_samples() {
    let dir = std::env::var_os("KYUKIT_FHIR_SAMPLES")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(|t| std::path::PathBuf::from(t).join("fhir-samples"))
        })
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fhir-samples")
        });
    std::fs::create_dir_all(&dir).unwrap();
    let full = fixture();

    let mut break_glass = fixture();
    break_glass.kind = DisclosureKind::BreakGlass;
    break_glass.access_id = "00000000000000000000000000000001".into();
    break_glass.categories = vec![
        Category::Medications,
        Category::Allergies,
        Category::Conditions,
        Category::AdvanceDirective,
    ];
    break_glass
        .items
        .retain(|i| i.category == Category::Conditions);
    break_glass.items.push(item(
        30,
        Category::AdvanceDirective,
        json!({"status": "acp", "document_location": null}),
    ));

    let mut sparse = fixture();
    sparse.access_id = "00000000000000000000000000000002".into();
    sparse.patient.family_name_kana = None;
    sparse.patient.given_name_kana = None;
    sparse.patient.sex = "unknown".into();
    sparse.patient.preferred_language = "en".into();
    sparse.consent.given_by = GivenBy::SelfGiven;
    sparse.consent.disaster_use = false;
    sparse.items = vec![
        item(
            40,
            Category::BloodType,
            json!({"abo": "unknown", "rh": "unknown"}),
        ),
        item(
            41,
            Category::AdvanceDirective,
            json!({"status": "none", "document_location": null}),
        ),
        item(
            42,
            Category::CareTeam,
            json!({"primary_doctor": null, "primary_hospital": null, "hospital_phone": "03-0000-0000", "care_manager": null, "care_manager_phone": "03-1111-1111"}),
        ),
        item(
            43,
            Category::Devices,
            json!({"kind": "other", "description": "VPシャント & <弁>"}),
        ),
        item(
            44,
            Category::Allergies,
            json!({"substance": "卵", "reaction": null, "severity": "anaphylaxis"}),
        ),
        item(
            45,
            Category::Conditions,
            json!({"name": "てんかん", "icd10": "G40", "since": null}),
        ),
    ];

    let mut nothing = fixture();
    nothing.access_id = "00000000000000000000000000000003".into();
    nothing.categories.clear();

    for (name, d) in [
        ("unit-fixture", full),
        ("unit-break-glass", break_glass),
        ("unit-sparse", sparse),
        ("unit-no-categories", nothing),
    ] {
        let json = serde_json::to_string_pretty(&ips_bundle(&d, BASE)).unwrap();
        std::fs::write(dir.join(format!("{name}.json")), json).unwrap();
    }
}
