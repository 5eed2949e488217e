//! `kyukit serve --demo`: a small bilingual demo data set, created through the same services as
//! real registrations (so every rule applies), only when the municipality has no residents yet.
//! Demo passwords are printed by the CLI; never use `--demo` with real data.

use super::accounts::{self, SessionPolicy};
use super::cards::{self, IssuePolicy};
use super::residents::{ProfileInput, RegisterProxy, RegisterResident};
use super::{consent, dataset, residents};
use crate::db::{self, Db};
use crate::domain::Category;
use crate::service::error::DomainError;
use serde_json::json;

/// A demo login the CLI prints.
#[derive(Debug)]
pub struct DemoLogin {
    pub login_id: &'static str,
    pub password: &'static str,
    pub who: &'static str,
}

fn profile(
    family: &str,
    given: &str,
    dob: &str,
    sex: &str,
    address: &str,
    lang: &str,
) -> ProfileInput {
    ProfileInput {
        family_name: family.into(),
        given_name: given.into(),
        family_name_kana: None,
        given_name_kana: None,
        date_of_birth: dob.into(),
        sex: sex.into(),
        address: address.into(),
        district: Some("水海道".into()),
        phone: Some("0297-00-0000".into()),
        preferred_language: lang.into(),
    }
}

/// One demo resident: login, proxy (name, relation) if registered by one, profile, items, shared categories.
type DemoPerson = (
    DemoLogin,
    Option<(&'static str, &'static str)>,
    ProfileInput,
    Vec<(Category, serde_json::Value)>,
    Vec<Category>,
);

/// Loads the demo set if there are no residents; returns the logins (empty if skipped).
pub fn load(
    db: &Db,
    muni: &str,
    policy: &IssuePolicy,
    now: i64,
) -> Result<Vec<DemoLogin>, DomainError> {
    if db.read(|c| db::residents::any_resident(c, muni).map_err(DomainError::from))? {
        return Ok(Vec::new());
    }
    let session = SessionPolicy::default();
    let people: [DemoPerson; 3] = [
        (
            DemoLogin {
                login_id: "demo-hanako",
                password: "kyukit-demo-hanako",
                who: "山田 花子 (resident, ja)",
            },
            None,
            profile(
                "山田",
                "花子",
                "1941-04-03",
                "female",
                "茨城県常総市水海道諏訪町1-1（デモ）",
                "ja",
            ),
            vec![
                (
                    Category::Medications,
                    json!({"name": "ワルファリン錠 1mg", "dose": "2錠", "frequency": "朝食後", "anticoagulant": true}),
                ),
                (
                    Category::Medications,
                    json!({"name": "アムロジピン錠 5mg", "dose": "1錠", "frequency": "朝食後"}),
                ),
                (
                    Category::Conditions,
                    json!({"name": "心房細動", "icd10": "I48.9"}),
                ),
                (
                    Category::Conditions,
                    json!({"name": "高血圧症", "icd10": "I10"}),
                ),
                (
                    Category::Allergies,
                    json!({"substance": "ペニシリン", "reaction": "アナフィラキシー", "severity": "anaphylaxis"}),
                ),
                (
                    Category::Devices,
                    json!({"kind": "pacemaker", "description": "2019年 植込み"}),
                ),
                (Category::BloodType, json!({"abo": "A", "rh": "+"})),
                (
                    Category::AdvanceDirective,
                    json!({"status": "acp", "document_location": "冷蔵庫の救急医療情報キット内"}),
                ),
                (
                    Category::CareTeam,
                    json!({"primary_doctor": "佐藤 医師", "primary_hospital": "みらい内科クリニック（デモ）", "hospital_phone": "0297-11-1111"}),
                ),
                (
                    Category::EmergencyContacts,
                    json!({"name": "山田 一郎", "relation": "長男", "phone": "090-0000-0001"}),
                ),
            ],
            vec![
                Category::Medications,
                Category::Conditions,
                Category::Allergies,
                Category::Devices,
                Category::BloodType,
                Category::AdvanceDirective,
                Category::CareTeam,
                Category::EmergencyContacts,
            ],
        ),
        (
            DemoLogin {
                login_id: "demo-john",
                password: "kyukit-demo-john",
                who: "John Smith (resident, en)",
            },
            None,
            profile(
                "Smith",
                "John",
                "1950-09-12",
                "male",
                "Joso, Ibaraki (demo)",
                "en",
            ),
            vec![
                (
                    Category::Medications,
                    json!({"name": "Insulin glargine", "dose": "18 units", "frequency": "bedtime", "insulin": true}),
                ),
                (
                    Category::Conditions,
                    json!({"name": "Type 1 diabetes", "icd10": "E10.9"}),
                ),
                (Category::BloodType, json!({"abo": "O", "rh": "-"})),
                (
                    Category::EmergencyContacts,
                    json!({"name": "Mary Smith", "relation": "wife", "phone": "+81-90-0000-0002"}),
                ),
            ],
            vec![
                Category::Medications,
                Category::Conditions,
                Category::BloodType,
                Category::EmergencyContacts,
            ],
        ),
        (
            DemoLogin {
                login_id: "demo-caremanager",
                password: "kyukit-demo-care",
                who: "佐藤 美咲 (care manager) for 鈴木 トメ",
            },
            Some(("佐藤 美咲", "care_manager")),
            profile(
                "鈴木",
                "トメ",
                "1936-01-20",
                "female",
                "茨城県常総市豊岡町（デモ）",
                "ja",
            ),
            vec![
                (
                    Category::Medications,
                    json!({"name": "レベチラセタム錠 500mg", "dose": "1錠", "frequency": "朝夕"}),
                ),
                (
                    Category::Conditions,
                    json!({"name": "てんかん", "icd10": "G40.9"}),
                ),
                (Category::BloodType, json!({"abo": "B", "rh": "unknown"})),
                (
                    Category::EmergencyContacts,
                    json!({"name": "鈴木 次郎", "relation": "次男", "phone": "090-0000-0003"}),
                ),
            ],
            vec![
                Category::Medications,
                Category::Conditions,
                Category::BloodType,
                Category::EmergencyContacts,
            ],
        ),
    ];
    let mut logins = Vec::new();
    for (login, proxy, prof, items, shared) in people {
        let reg = match proxy {
            None => residents::register_self(
                db,
                muni,
                RegisterResident {
                    login_id: login.login_id.into(),
                    password: login.password.into(),
                    profile: prof,
                },
                now,
                session,
            )?,
            Some((name, relation)) => residents::register_by_proxy(
                db,
                muni,
                RegisterProxy {
                    login_id: login.login_id.into(),
                    password: login.password.into(),
                    display_name: name.into(),
                    relation: relation.into(),
                    relation_detail: None,
                    accept_proxy_statement: true,
                    resident: prof,
                },
                now,
                session,
            )?,
        };
        let actor = accounts::authenticate(db, &reg.token, now, session)?;
        for (category, body) in items {
            dataset::add(
                db,
                &actor,
                &reg.resident_id,
                dataset::ItemInput {
                    category: category.to_string(),
                    body,
                    last_verified: None,
                },
                now,
            )?;
        }
        let input = consent::ConsentInput {
            categories: shared.iter().map(|s| s.to_string()).collect(),
            disaster_use: true,
            triage_on_card: true,
            name_on_print: true,
            notify_family: false,
            family_hospital_name: false,
        };
        consent::grant(db, &actor, &reg.resident_id, input, now)?;
        cards::issue(db, &actor, &reg.resident_id, policy, now)?;
        accounts::logout(db, &reg.token)?;
        logins.push(login);
    }
    Ok(logins)
}
