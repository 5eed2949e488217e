//! The emergency dataset: typed items per category, each with its provenance and last-verified
//! date. Bodies are validated by category (unknown fields refused) and stored as JSON.

use super::accounts::Actor;
use super::residents::{Standing, for_actor};
use super::{new_id, opt_text, past_date, phone, text, today};
use crate::audit;
use crate::db::residents::DatasetItemRow;
use crate::db::{self, Db};
use crate::domain::{Category, Provenance};
use crate::service::error::DomainError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Categories a resident can share with paramedics (the consent scope uses the same names).
/// `photo` is among them but holds no items: the photo is uploaded on its own route.
pub const CATEGORIES: &[Category] = Category::ALL;
/// Categories that hold at most one item.
const SINGLE: &[Category] = &[
    Category::BloodType,
    Category::AdvanceDirective,
    Category::CareTeam,
];
/// Items per resident and category, to bound storage and card work.
const MAX_ITEMS_PER_CATEGORY: usize = 50;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Medication {
    pub name: String,
    pub dose: Option<String>,
    pub frequency: Option<String>,
    /// YJ code (12 characters) or HOT code (9 or 13 digits), optional.
    pub code: Option<String>,
    #[serde(default)]
    pub anticoagulant: bool,
    #[serde(default)]
    pub insulin: bool,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub name: String,
    /// ICD-10 code, optional (e.g. `I48.9`).
    pub icd10: Option<String>,
    pub since: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Allergy {
    pub substance: String,
    pub reaction: Option<String>,
    /// `mild` | `moderate` | `severe` | `anaphylaxis`.
    pub severity: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// `pacemaker` | `icd` | `insulin_pump` | `shunt` | `stent` | `joint_replacement` | `other`.
    pub kind: String,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BloodTypeItem {
    /// `A` | `B` | `O` | `AB` | `unknown`.
    pub abo: String,
    /// `+` | `-` | `unknown`.
    pub rh: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceDirective {
    /// `none` | `acp` (advance care planning on file) | `dnar`.
    pub status: String,
    pub document_location: Option<String>,
}

impl AdvanceDirective {
    /// The status, typed (checked when the item is written; `None` for a text it does not know).
    pub fn status(&self) -> Option<crate::domain::DirectiveStatus> {
        self.status.parse().ok()
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CareTeam {
    pub primary_doctor: Option<String>,
    pub primary_hospital: Option<String>,
    pub hospital_phone: Option<String>,
    pub care_manager: Option<String>,
    pub care_manager_phone: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyContact {
    pub name: String,
    pub relation: String,
    pub phone: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    // Kept as text: an unknown category is refused by `parse_category` with `unknown_category`
    // (a 422), not by serde.
    pub category: String,
    #[schema(value_type = Object)]
    pub body: Value,
    /// `YYYY-MM-DD`; defaults to today.
    pub last_verified: Option<String>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Item {
    pub id: String,
    #[schema(value_type = String)]
    pub category: Category,
    #[schema(value_type = Object)]
    pub body: Value,
    /// `self` | `proxy` | `clinician`.
    #[schema(value_type = String)]
    pub provenance: Provenance,
    pub last_verified: Option<String>,
    pub updated_at: i64,
}

impl TryFrom<DatasetItemRow> for Item {
    type Error = DomainError;
    fn try_from(r: DatasetItemRow) -> Result<Self, DomainError> {
        Ok(Item {
            body: serde_json::from_str(&r.body).map_err(DomainError::internal)?,
            id: r.id,
            category: r.category,
            provenance: r.provenance,
            last_verified: r.last_verified,
            updated_at: r.updated_at,
        })
    }
}

fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<(), DomainError> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(DomainError::unprocessable(
            "invalid_field",
            format!("{field}: one of {}", allowed.join(", ")),
        ))
    }
}

fn parse<T: for<'de> Deserialize<'de>>(body: Value) -> Result<T, DomainError> {
    serde_json::from_value(body)
        .map_err(|e| DomainError::unprocessable("invalid_item", format!("item body: {e}")))
}

/// A category from request text, or `unknown_category` naming the allowed ones.
pub fn parse_category(text: &str) -> Result<Category, DomainError> {
    text.parse().map_err(|_| {
        DomainError::unprocessable(
            "unknown_category",
            format!(
                "unknown category {text:?}; one of {}",
                Category::TEXTS.join(", ")
            ),
        )
    })
}

/// Validates a body for its category and returns its normalised JSON.
pub fn validate_body(category: Category, body: Value, now: i64) -> Result<Value, DomainError> {
    let normalised = match category {
        Category::Medications => {
            let mut m: Medication = parse(body)?;
            m.name = text("name", &m.name, 1, 100)?;
            m.dose = opt_text("dose", &m.dose, 50)?;
            m.frequency = opt_text("frequency", &m.frequency, 50)?;
            m.code = opt_text("code", &m.code, 13)?;
            if let Some(code) = &mut m.code {
                // YJ: 12 characters, digits and capital letters; HOT: 9 or 13 digits.
                let yj = code.len() == 12 && code.bytes().all(|b| b.is_ascii_alphanumeric());
                let hot = [9, 13].contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit());
                if yj {
                    code.make_ascii_uppercase();
                }
                if !(yj || hot) {
                    return Err(DomainError::unprocessable(
                        "invalid_field",
                        "code: a 12-character YJ code or a 9/13-digit HOT code",
                    ));
                }
            }
            serde_json::to_value(m)
        }
        Category::Conditions => {
            let mut c: Condition = parse(body)?;
            c.name = text("name", &c.name, 1, 100)?;
            c.icd10 = opt_text("icd10", &c.icd10, 8)?;
            if let Some(code) = &c.icd10 {
                let b = code.as_bytes();
                let ok = b.len() >= 3
                    && b[0].is_ascii_uppercase()
                    && b[1].is_ascii_digit()
                    && b[2].is_ascii_alphanumeric()
                    && code[3..]
                        .bytes()
                        .all(|x| x.is_ascii_alphanumeric() || x == b'.');
                if !ok {
                    return Err(DomainError::unprocessable(
                        "invalid_field",
                        "icd10: e.g. I48.9",
                    ));
                }
            }
            c.since = c
                .since
                .as_deref()
                .map(|s| past_date("since", s, now))
                .transpose()?;
            serde_json::to_value(c)
        }
        Category::Allergies => {
            let mut a: Allergy = parse(body)?;
            a.substance = text("substance", &a.substance, 1, 100)?;
            a.reaction = opt_text("reaction", &a.reaction, 100)?;
            one_of(
                "severity",
                &a.severity,
                crate::domain::AllergySeverity::TEXTS,
            )?;
            serde_json::to_value(a)
        }
        Category::Devices => {
            let mut d: Device = parse(body)?;
            one_of("kind", &d.kind, crate::domain::DeviceKind::TEXTS)?;
            d.description = opt_text("description", &d.description, 100)?;
            serde_json::to_value(d)
        }
        Category::BloodType => {
            let b: BloodTypeItem = parse(body)?;
            one_of("abo", &b.abo, &["A", "B", "O", "AB", "unknown"])?;
            one_of("rh", &b.rh, &["+", "-", "unknown"])?;
            serde_json::to_value(b)
        }
        Category::AdvanceDirective => {
            let mut a: AdvanceDirective = parse(body)?;
            one_of("status", &a.status, crate::domain::DirectiveStatus::TEXTS)?;
            a.document_location = opt_text("document_location", &a.document_location, 100)?;
            serde_json::to_value(a)
        }
        Category::CareTeam => {
            let mut t: CareTeam = parse(body)?;
            t.primary_doctor = opt_text("primary_doctor", &t.primary_doctor, 60)?;
            t.primary_hospital = opt_text("primary_hospital", &t.primary_hospital, 100)?;
            t.care_manager = opt_text("care_manager", &t.care_manager, 60)?;
            t.hospital_phone = t
                .hospital_phone
                .as_deref()
                .map(|p| phone("hospital_phone", p))
                .transpose()?;
            t.care_manager_phone = t
                .care_manager_phone
                .as_deref()
                .map(|p| phone("care_manager_phone", p))
                .transpose()?;
            serde_json::to_value(t)
        }
        Category::EmergencyContacts => {
            let mut e: EmergencyContact = parse(body)?;
            e.name = text("name", &e.name, 1, 60)?;
            e.relation = text("relation", &e.relation, 1, 30)?;
            e.phone = phone("phone", &e.phone)?;
            serde_json::to_value(e)
        }
        Category::Photo => {
            return Err(DomainError::unprocessable(
                "unknown_category",
                "the photo is not a dataset item: upload it with PUT /api/v1/residents/{rid}/photo",
            ));
        }
    };
    normalised.map_err(DomainError::internal)
}

fn provenance(standing: &Standing) -> Provenance {
    match standing {
        Standing::Own => Provenance::SelfEntered,
        Standing::Proxy(_) => Provenance::Proxy,
    }
}

pub fn list(db: &Db, actor: &Actor, resident_id: &str) -> Result<Vec<Item>, DomainError> {
    db.read(|c| {
        for_actor(c, actor, resident_id)?;
        db::residents::items(c, resident_id)?
            .into_iter()
            .map(Item::try_from)
            .collect()
    })
}

pub fn add(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    input: ItemInput,
    now: i64,
) -> Result<Item, DomainError> {
    let category = parse_category(&input.category)?;
    let body = validate_body(category, input.body, now)?;
    let last_verified = Some(
        input
            .last_verified
            .as_deref()
            .map(|d| past_date("last_verified", d, now))
            .transpose()?
            .unwrap_or_else(|| today(now)),
    );
    let id = new_id()?;
    db.write(|c| {
        let (resident, standing) = for_actor(c, actor, resident_id)?;
        let existing = db::residents::items(c, resident_id)?
            .into_iter()
            .filter(|i| i.category == category)
            .count();
        if SINGLE.contains(&category) && existing > 0 {
            return Err(DomainError::conflict(
                "single_item_category",
                format!("{category} holds one item: update it instead"),
            ));
        }
        if existing >= MAX_ITEMS_PER_CATEGORY {
            return Err(DomainError::unprocessable(
                "too_many_items",
                format!("at most {MAX_ITEMS_PER_CATEGORY} items per category"),
            ));
        }
        let row = DatasetItemRow {
            id: id.clone(),
            municipality_id: resident.municipality_id,
            resident_id: resident.id,
            category,
            body: body.to_string(),
            provenance: provenance(&standing),
            last_verified: last_verified.clone(),
            updated_by: actor.account_id.clone(),
            created_at: now,
            updated_at: now,
        };
        db::residents::insert_item(c, &row)?;
        let event = audit::Event::new(audit::Action::WriteDataset, audit::Outcome::Ok)
            .by(&actor.account_id, actor.role)
            .about(resident_id)
            .detail(format!("add {} {}", row.category, row.id));
        audit::append(c, &actor.municipality_id, &event, now);
        super::reconfirm::touch(
            c,
            &actor.municipality_id,
            resident_id,
            super::reconfirm::BY_EDIT,
            now,
        )?;
        Item::try_from(row)
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemUpdate {
    #[schema(value_type = Object)]
    pub body: Value,
    pub last_verified: Option<String>,
}

pub fn update(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    item_id: &str,
    input: ItemUpdate,
    now: i64,
) -> Result<Item, DomainError> {
    super::check_id(item_id)?;
    let last_verified = Some(
        input
            .last_verified
            .as_deref()
            .map(|d| past_date("last_verified", d, now))
            .transpose()?
            .unwrap_or_else(|| today(now)),
    );
    db.write(|c| {
        let (_, standing) = for_actor(c, actor, resident_id)?;
        let mut row = db::residents::item(c, resident_id, item_id)?
            .ok_or_else(|| DomainError::not_found("no such item"))?;
        row.body = validate_body(row.category, input.body, now)?.to_string();
        row.provenance = provenance(&standing);
        row.last_verified = last_verified;
        row.updated_by = actor.account_id.clone();
        row.updated_at = now;
        db::residents::update_item(c, &row)?;
        let event = audit::Event::new(audit::Action::WriteDataset, audit::Outcome::Ok)
            .by(&actor.account_id, actor.role)
            .about(resident_id)
            .detail(format!("update {} {}", row.category, row.id));
        audit::append(c, &actor.municipality_id, &event, now);
        super::reconfirm::touch(
            c,
            &actor.municipality_id,
            resident_id,
            super::reconfirm::BY_EDIT,
            now,
        )?;
        Item::try_from(row)
    })
}

pub fn delete(
    db: &Db,
    actor: &Actor,
    resident_id: &str,
    item_id: &str,
    now: i64,
) -> Result<(), DomainError> {
    super::check_id(item_id)?;
    db.write(|c| {
        for_actor(c, actor, resident_id)?;
        if db::residents::delete_item(c, resident_id, item_id)? == 0 {
            return Err(DomainError::not_found("no such item"));
        }
        let event = audit::Event::new(audit::Action::WriteDataset, audit::Outcome::Ok)
            .by(&actor.account_id, actor.role)
            .about(resident_id)
            .detail(format!("delete {item_id}"));
        audit::append(c, &actor.municipality_id, &event, now);
        super::reconfirm::touch(
            c,
            &actor.municipality_id,
            resident_id,
            super::reconfirm::BY_EDIT,
            now,
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(c: &str) -> Result<Value, DomainError> {
        let body = serde_json::json!({ "name": "ワーファリン", "code": c });
        validate_body(Category::Medications, body, 1_795_000_000)
    }

    /// The code rule is the one the form's hint states: YJ, 12 characters (digits and capital
    /// letters); HOT, 9 or 13 digits.
    #[test]
    fn medication_codes_match_the_hint() {
        assert_eq!(code("3332001F1027").unwrap()["code"], "3332001F1027");
        assert_eq!(code("3332001f1027").unwrap()["code"], "3332001F1027");
        assert!(code("105271101").is_ok(), "HOT9");
        assert!(code("1052711010101").is_ok(), "HOT13");
        for bad in [
            "ABCDEFGHI",
            "10527110A",
            "105271101010A",
            "3332001F102",
            "3332001F1027X",
            "3332-01F1027",
        ] {
            assert_eq!(code(bad).unwrap_err().code(), "invalid_field", "{bad}");
        }
    }
}
