//! Bulk onboarding from a city's paper-kit register (issue 26; docs/operations.md *Importing a
//! paper-kit register*): a CSV file, one resident a row, with the paper consent's form number and
//! date. Every row is checked by the rules the API applies (`residents::profile_fields`,
//! `dataset::validate_body`), and every problem is reported with its line, column and reason.
//! The valid rows are imported; a broken row is not imported at all (no resident is ever written
//! in part). A re-run imports nothing twice: each row has a natural key (SHA-256 over the
//! person's normalised names, kana, date of birth and address, [`natural_key`]), kept in
//! `imported_residents`; a row whose key is already there is counted as already imported, and a
//! row that matches a resident registered through the portal ([`registrations::same_person`]) is
//! not imported either (the city links the two by hand).
//!
//! Imported residents have no login. Their consent is version 1, "paper consent on file": the
//! form's number, the date it was signed and who signed it (self or family) in `paper_consents`.
//! Writes go in chunks of [`CHUNK`] rows, each chunk one transaction with one audit event per
//! resident; the run is recorded in `resident_imports` and audited once more with its counts.

use super::accounts::Actor;
use super::dataset::validate_body;
use super::error::DomainError;
use super::facilities::require_city_admin;
use super::registrations::{match_key, same_person};
use super::residents::{ProfileInput, profile_fields};
use super::{new_id, past_date, text};
use crate::audit::{self, Action, Event, Outcome};
use crate::db::imports::{self as q, Chunk, ImportRow, ImportedRow, PaperConsentRow};
use crate::db::residents::{ConsentRow, DatasetItemRow, ResidentRow};
use crate::db::{self, Db};
use crate::domain::{Category, ConsentStatus, GivenBy, Provenance};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

/// Rows per write transaction.
pub const CHUNK: usize = 250;
/// Most rows one file may hold.
pub const MAX_ROWS: usize = 100_000;
/// Items per category and resident (as `dataset::add` allows).
const MAX_ITEMS: usize = 50;

/// The columns, in the documented order. The first eight are required in the header.
pub const COLUMNS: &[&str] = &[
    "form_number",
    "consent_date",
    "consent_by",
    "family_name",
    "given_name",
    "date_of_birth",
    "sex",
    "address",
    "family_name_kana",
    "given_name_kana",
    "district",
    "phone",
    "preferred_language",
    "contact1_name",
    "contact1_relation",
    "contact1_phone",
    "contact2_name",
    "contact2_relation",
    "contact2_phone",
    "medications",
    "conditions",
    "allergies",
    "triage_on_card",
    "name_on_print",
    "disaster_use",
];
const REQUIRED: usize = 8;

/// The categories a paper consent shares (what the register holds).
pub const PAPER_CATEGORIES: [Category; 4] = [
    Category::Medications,
    Category::Conditions,
    Category::Allergies,
    Category::EmergencyContacts,
];

/// One problem with one row.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RowError {
    /// The line of the file the row starts on (the header is line 1).
    pub line: u64,
    /// The column's header name, or `-` for the row as a whole.
    pub column: String,
    pub reason: String,
}

/// What an import (or a dry run) found and did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `None` for a dry run.
    pub import_id: Option<String>,
    pub dry_run: bool,
    /// Data rows in the file.
    pub rows: usize,
    /// Imported (a dry run: would be imported).
    pub imported: usize,
    /// Already imported by an earlier run, or already registered through the portal.
    pub already: usize,
    /// The lines of the rows not imported because of a problem (each listed in `errors`).
    pub rejected_lines: Vec<u64>,
    pub errors: Vec<RowError>,
    /// `line` and the matching resident's id, for rows matching a resident registered through the
    /// portal (not imported; the city links them by hand).
    pub registered_elsewhere: Vec<(u64, String)>,
}

/// A row that passed every check, ready to write.
#[derive(Debug)]
struct Valid {
    line: u64,
    key: String,
    resident: ResidentRow,
    consent: ConsentTerms,
    items: Vec<(Category, serde_json::Value)>,
}

#[derive(Debug)]
struct ConsentTerms {
    form_number: String,
    signed_on: String,
    by_family: bool,
    triage_on_card: bool,
    name_on_print: bool,
    disaster_use: bool,
}

/// The natural key of a validated resident row: SHA-256 (hex) over the normalised
/// ([`match_key`]) kana and kanji names, the date of birth and the normalised address.
pub fn natural_key(r: &ResidentRow) -> String {
    let opt = |s: &Option<String>| s.as_deref().map(match_key).unwrap_or_default();
    let parts = [
        "kyukit-import-v1".to_string(),
        opt(&r.family_name_kana),
        opt(&r.given_name_kana),
        match_key(&r.family_name),
        match_key(&r.given_name),
        r.date_of_birth.clone(),
        match_key(&r.address),
    ];
    hex::encode(Sha256::digest(parts.join("\u{0}").as_bytes()))
}

/// The operator of a CLI import or batch: an active city administrator, by login id.
pub fn operator(db: &Db, muni: &str, login_id: &str) -> Result<Actor, DomainError> {
    let account = db
        .read(|c| Ok::<_, DomainError>(db::accounts::account_by_login(c, muni, login_id)?))?
        .filter(|a| a.status == crate::domain::AccountStatus::Active)
        .ok_or_else(|| {
            DomainError::not_found(format!("no active staff account with login id {login_id}"))
        })?;
    let actor = Actor::from_account(&account, None);
    require_city_admin(&actor)?;
    Ok(actor)
}

/// A whole-file problem: not UTF-8, no header, a missing or unknown column, too many rows.
fn file_error(message: impl Into<String>) -> DomainError {
    DomainError::unprocessable("invalid_csv", message)
}

/// The parsed header: for each documented column, its position in the file.
fn header(record: &csv::StringRecord) -> Result<HashMap<&'static str, usize>, DomainError> {
    let mut at = HashMap::new();
    for (i, name) in record.iter().enumerate() {
        let name = name.trim().trim_start_matches('\u{feff}');
        let known = COLUMNS
            .iter()
            .find(|c| **c == name)
            .ok_or_else(|| file_error(format!("unknown column {name:?} in the header")))?;
        if at.insert(*known, i).is_some() {
            return Err(file_error(format!("column {name:?} appears twice")));
        }
    }
    let missing: Vec<&str> = COLUMNS[..REQUIRED]
        .iter()
        .filter(|c| !at.contains_key(*c))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(file_error(format!(
            "the header lacks the column(s) {}",
            missing.join(", ")
        )));
    }
    Ok(at)
}

struct Row<'a> {
    record: &'a csv::StringRecord,
    at: &'a HashMap<&'static str, usize>,
    line: u64,
    errors: Vec<RowError>,
}

impl Row<'_> {
    fn get(&self, column: &str) -> &str {
        self.at
            .get(column)
            .and_then(|i| self.record.get(*i))
            .map_or("", str::trim)
    }
    fn opt(&self, column: &str) -> Option<String> {
        Some(self.get(column).to_string()).filter(|s| !s.is_empty())
    }
    fn fail(&mut self, column: &str, reason: impl Into<String>) {
        self.errors.push(RowError {
            line: self.line,
            column: column.into(),
            reason: reason.into(),
        });
    }
    /// A yes/no column (empty: `default`).
    fn flag(&mut self, column: &str, default: bool) -> bool {
        match self.get(column).to_lowercase().as_str() {
            "" => default,
            "yes" | "y" | "true" | "1" | "はい" | "有" | "○" => true,
            "no" | "n" | "false" | "0" | "いいえ" | "無" | "×" => false,
            _ => {
                self.fail(column, "yes or no");
                default
            }
        }
    }
    /// The entries of a free-text list column (separated by `;` or `；`).
    fn list(&self, column: &str) -> Vec<String> {
        self.get(column)
            .split([';', '；'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}

/// The reason of a validation error without the field name it starts with (the column says it).
fn reason(e: &DomainError, field: &str) -> String {
    let m = e.message();
    m.strip_prefix(field)
        .and_then(|r| r.strip_prefix(": "))
        .unwrap_or(m)
        .to_string()
}

fn sex(v: &str) -> String {
    match v {
        "女" | "女性" | "F" | "f" => "female".into(),
        "男" | "男性" | "M" | "m" => "male".into(),
        "不明" => "unknown".into(),
        other => other.to_lowercase(),
    }
}

fn severity(v: &str) -> Option<&'static str> {
    Some(match v.trim().to_lowercase().as_str() {
        "mild" | "軽度" | "軽い" => "mild",
        "moderate" | "中等度" => "moderate",
        "severe" | "重度" | "重い" => "severe",
        "anaphylaxis" | "アナフィラキシー" => "anaphylaxis",
        _ => return None,
    })
}

/// Checks one data row; `Err` holds its problems.
fn check_row(
    record: &csv::StringRecord,
    at: &HashMap<&'static str, usize>,
    line: u64,
    now: i64,
) -> Result<Valid, Vec<RowError>> {
    let mut row = Row {
        record,
        at,
        line,
        errors: Vec::new(),
    };
    if record.len() != at.len() {
        row.fail(
            "-",
            format!(
                "{} fields, the header has {} (a missing or extra comma, or an unclosed quote)",
                record.len(),
                at.len()
            ),
        );
        return Err(row.errors);
    }
    let form_number = text("form_number", row.get("form_number"), 1, 30)
        .map_err(|e| row.fail("form_number", reason(&e, "form_number")))
        .unwrap_or_default();
    let signed_on = past_date("consent_date", row.get("consent_date"), now)
        .map_err(|e| row.fail("consent_date", reason(&e, "consent_date")))
        .unwrap_or_default();
    let by_family = match row.get("consent_by") {
        "self" | "本人" => false,
        "family" | "家族" => true,
        _ => {
            row.fail("consent_by", "self or family (本人 or 家族)");
            false
        }
    };
    let profile = ProfileInput {
        family_name: row.get("family_name").into(),
        given_name: row.get("given_name").into(),
        family_name_kana: row.opt("family_name_kana"),
        given_name_kana: row.opt("given_name_kana"),
        date_of_birth: row.get("date_of_birth").into(),
        sex: sex(row.get("sex")),
        address: row.get("address").into(),
        district: row.opt("district"),
        phone: row.opt("phone"),
        preferred_language: row.opt("preferred_language").unwrap_or_else(|| "ja".into()),
    };
    let resident = match profile_fields(&profile, now) {
        Ok(r) => Some(r),
        Err(errors) => {
            for (field, e) in errors {
                row.fail(field, reason(&e, field));
            }
            None
        }
    };
    let mut items = Vec::new();
    for n in 1..=2 {
        let [name, relation, phone] =
            ["name", "relation", "phone"].map(|f| format!("contact{n}_{f}"));
        if [&name, &relation, &phone]
            .iter()
            .all(|c| row.get(c).is_empty())
        {
            continue;
        }
        let body = json!({"name": row.get(&name), "relation": row.get(&relation), "phone": row.get(&phone)});
        match validate_body(Category::EmergencyContacts, body, now) {
            Ok(v) => items.push((Category::EmergencyContacts, v)),
            Err(e) => {
                let m = e.message().to_string();
                let field = m.split(':').next().unwrap_or("");
                let column = format!("contact{n}_{field}");
                let column = if at.contains_key(column.as_str()) {
                    column
                } else {
                    name.clone()
                };
                row.fail(&column, reason(&e, field));
            }
        }
    }
    for (column, category) in [
        ("medications", Category::Medications),
        ("conditions", Category::Conditions),
        ("allergies", Category::Allergies),
    ] {
        let entries = row.list(column);
        if entries.len() > MAX_ITEMS {
            row.fail(column, format!("at most {MAX_ITEMS} entries"));
            continue;
        }
        for (i, entry) in entries.into_iter().enumerate() {
            let body = match category {
                Category::Medications => json!({ "name": entry }),
                Category::Conditions => json!({ "name": entry }),
                _ => {
                    let (substance, sev) = match entry.rsplit_once([':', '：']) {
                        Some((s, v)) => (s.trim().to_string(), severity(v)),
                        None => (entry.clone(), None),
                    };
                    let Some(sev) = sev else {
                        row.fail(
                            column,
                            format!(
                                "item {}: give the severity after a colon, e.g. ペニシリン:anaphylaxis (mild, moderate, severe, anaphylaxis)",
                                i + 1
                            ),
                        );
                        continue;
                    };
                    json!({ "substance": substance, "severity": sev })
                }
            };
            match validate_body(category, body, now) {
                Ok(v) => items.push((category, v)),
                Err(e) => row.fail(column, format!("item {}: {}", i + 1, e.message())),
            }
        }
    }
    let consent = ConsentTerms {
        form_number,
        signed_on,
        by_family,
        triage_on_card: row.flag("triage_on_card", true),
        name_on_print: row.flag("name_on_print", false),
        disaster_use: row.flag("disaster_use", false),
    };
    match resident {
        Some(resident) if row.errors.is_empty() => Ok(Valid {
            line,
            key: natural_key(&resident),
            resident,
            consent,
            items,
        }),
        _ => Err(row.errors),
    }
}

/// A file read and checked: the rows that passed, the problems, the lines rejected, the rows.
type Checked = (Vec<Valid>, Vec<RowError>, Vec<u64>, usize);

/// Reads and checks the whole file; the rows that passed, and the report so far.
fn check_file(csv_bytes: &[u8], now: i64) -> Result<Checked, DomainError> {
    if std::str::from_utf8(csv_bytes).is_err() {
        return Err(file_error(
            "the file is not UTF-8 (in Excel: save as \"CSV UTF-8\")",
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(csv_bytes);
    let at = header(
        &reader
            .headers()
            .map_err(|e| file_error(e.to_string()))?
            .clone(),
    )?;
    let mut valid = Vec::new();
    let mut errors = Vec::new();
    let mut rejected = Vec::new();
    let mut rows = 0;
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(file_error(format!("line {line}: {e}"))),
        }
        rows += 1;
        if rows > MAX_ROWS {
            return Err(file_error(format!(
                "more than {MAX_ROWS} rows: split the file"
            )));
        }
        let line = record.position().map_or(line, |p| p.line());
        match check_row(&record, &at, line, now) {
            Ok(v) => valid.push(v),
            Err(e) => {
                rejected.push(line);
                errors.extend(e);
            }
        }
    }
    Ok((valid, errors, rejected, rows))
}

/// Imports (or, `dry_run`, only checks) a register. `progress(done, total)` is called as rows
/// are written. A whole-file problem is an `Err`; row problems are in the report.
pub fn import_csv(
    db: &Db,
    actor: &Actor,
    csv_bytes: &[u8],
    dry_run: bool,
    now: i64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Report, DomainError> {
    require_city_admin(actor)?;
    let muni = actor.municipality_id.clone();
    let (checked, mut errors, mut rejected, rows) = check_file(csv_bytes, now)?;
    // Against what is already there: an earlier import's keys, and the active residents (a
    // person registered through the portal, or a second row for one person in this file).
    let (keys, active) = db.read(|c| {
        Ok::<_, DomainError>((q::import_keys(c, &muni)?, q::active_residents(c, &muni)?))
    })?;
    let keys: HashSet<String> = keys.into_iter().collect();
    let mut born: HashMap<String, Vec<(Option<u64>, ResidentRow)>> = HashMap::new();
    for r in active {
        born.entry(r.date_of_birth.clone())
            .or_default()
            .push((None, r));
    }
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut already = 0;
    let mut elsewhere = Vec::new();
    let mut todo = Vec::new();
    for v in checked {
        // A second row for one person is reported on every run, before an earlier run's
        // import of the first counts it as done.
        if let Some(first) = seen.get(&v.key) {
            rejected.push(v.line);
            errors.push(RowError {
                line: v.line,
                column: "-".into(),
                reason: format!("the same person as line {first}"),
            });
            continue;
        }
        seen.insert(v.key.clone(), v.line);
        if keys.contains(&v.key) {
            already += 1;
            continue;
        }
        let same = born
            .get(&v.resident.date_of_birth)
            .and_then(|list| list.iter().find(|(_, r)| same_person(r, &v.resident)));
        match same {
            Some((Some(first), _)) => {
                rejected.push(v.line);
                errors.push(RowError {
                    line: v.line,
                    column: "-".into(),
                    reason: format!("the same person as line {first}"),
                });
                continue;
            }
            Some((None, existing)) => {
                already += 1;
                elsewhere.push((v.line, existing.id.clone()));
                continue;
            }
            None => {}
        }
        born.entry(v.resident.date_of_birth.clone())
            .or_default()
            .push((Some(v.line), v.resident.clone()));
        todo.push(v);
    }
    rejected.sort_unstable();
    errors.sort_by_key(|e| e.line);
    let mut report = Report {
        import_id: None,
        dry_run,
        rows,
        imported: todo.len(),
        already,
        rejected_lines: rejected,
        errors,
        registered_elsewhere: elsewhere,
    };
    if dry_run {
        return Ok(report);
    }
    let import_id = new_id()?;
    let run = ImportRow {
        id: import_id.clone(),
        municipality_id: muni.clone(),
        file_sha256: hex::encode(Sha256::digest(csv_bytes)),
        imported_by: actor.account_id.clone(),
        started_at: now,
        finished_at: None,
        rows_total: count(rows),
        rows_imported: 0,
        rows_already: count(report.already),
        rows_rejected: count(report.rejected_lines.len()),
    };
    db.write(|c| Ok::<_, DomainError>(q::insert_import(c, &run)?))?;
    let total = todo.len();
    let mut done = 0;
    progress(0, total);
    for part in todo.chunks(CHUNK) {
        let chunk = build_chunk(actor, &import_id, part, now)?;
        db.write(|c| {
            q::insert_chunk(c, &chunk)?;
            // Confirmed as of the import (the city checked the register's row today).
            let confirmed: Vec<_> = chunk
                .residents
                .iter()
                .map(|r| crate::db::confirmations::ConfirmationRow {
                    resident_id: r.id.clone(),
                    municipality_id: muni.clone(),
                    confirmed_at: now,
                    how: super::reconfirm::BY_IMPORT.into(),
                    reminded_at: None,
                })
                .collect();
            crate::db::confirmations::insert_all(c, &confirmed)?;
            for (r, v) in chunk.residents.iter().zip(part) {
                let event = Event::new(Action::ImportResident, Outcome::Ok)
                    .by(&actor.account_id, actor.role)
                    .about(&r.id)
                    .detail(format!("import {import_id} line {}", v.line));
                audit::append(c, &muni, &event, now);
            }
            Ok::<_, DomainError>(())
        })?;
        done += part.len();
        progress(done, total);
    }
    let counts = (
        count(done),
        count(report.already),
        count(report.rejected_lines.len()),
    );
    db.write(|c| {
        q::finish_import(c, &import_id, counts, now)?;
        let event = Event::new(Action::ImportRun, Outcome::Ok)
            .by(&actor.account_id, actor.role)
            .detail(format!(
                "import {import_id}: {rows} rows, {} imported, {} already, {} rejected",
                counts.0, counts.1, counts.2
            ));
        audit::append(c, &muni, &event, now);
        Ok::<_, DomainError>(())
    })?;
    report.import_id = Some(import_id);
    Ok(report)
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The rows of one chunk: each resident with its key, consent version 1 on paper, and items.
fn build_chunk(
    actor: &Actor,
    import_id: &str,
    part: &[Valid],
    now: i64,
) -> Result<Chunk, DomainError> {
    let muni = &actor.municipality_id;
    let mut chunk = Chunk::default();
    let categories = serde_json::to_string(&PAPER_CATEGORIES).map_err(DomainError::internal)?;
    for v in part {
        let id = new_id()?;
        let mut resident = v.resident.clone();
        resident.id = id.clone();
        resident.municipality_id = muni.clone();
        chunk.imported.push(ImportedRow {
            resident_id: id.clone(),
            municipality_id: muni.clone(),
            import_id: import_id.into(),
            import_key: v.key.clone(),
            line: i32::try_from(v.line).unwrap_or(i32::MAX),
        });
        let t = &v.consent;
        let consent_id = new_id()?;
        chunk.consents.push(ConsentRow {
            id: consent_id.clone(),
            municipality_id: muni.clone(),
            resident_id: id.clone(),
            version: 1,
            status: ConsentStatus::Granted,
            categories: categories.clone(),
            disaster_use: t.disaster_use,
            triage_on_card: t.triage_on_card,
            name_on_print: t.name_on_print,
            // The paper kit's form asks nothing about telling family of a scan: off until the
            // resident or a proxy says so in the portal.
            notify_family: false,
            family_hospital_name: false,
            given_by: if t.by_family {
                GivenBy::Proxy
            } else {
                GivenBy::SelfGiven
            },
            proxy_id: None,
            recorded_by: actor.account_id.clone(),
            created_at: now,
        });
        chunk.paper.push(PaperConsentRow {
            consent_id,
            municipality_id: muni.clone(),
            resident_id: id.clone(),
            form_number: t.form_number.clone(),
            signed_on: t.signed_on.clone(),
            signed_by: if t.by_family { "family" } else { "self" }.into(),
            import_id: Some(import_id.into()),
        });
        for (category, body) in &v.items {
            chunk.items.push(DatasetItemRow {
                id: new_id()?,
                municipality_id: muni.clone(),
                resident_id: id.clone(),
                category: *category,
                body: body.to_string(),
                provenance: if t.by_family {
                    Provenance::Proxy
                } else {
                    Provenance::SelfEntered
                },
                // The paper form is the last time someone confirmed these.
                last_verified: Some(t.signed_on.clone()),
                updated_by: actor.account_id.clone(),
                created_at: now,
                updated_at: now,
            });
        }
        chunk.residents.push(resident);
    }
    Ok(chunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_219_200; // 2026-11-21

    fn check(csv: &str) -> Checked {
        check_file(csv.as_bytes(), NOW).expect("file")
    }

    const HEAD: &str = "form_number,consent_date,consent_by,family_name,given_name,date_of_birth,sex,address,family_name_kana,given_name_kana,district,phone,contact1_name,contact1_relation,contact1_phone,medications,conditions,allergies\n";

    #[test]
    fn a_good_row_passes_with_its_items() {
        let csv = format!(
            "{HEAD}K-001,2026-04-01,self,山田,花子,1941-05-12,女,茨城県常総市水海道1-1,ヤマダ,ハナコ,水海道,0297-00-0000,山田太郎,長男,090-0000-0000,ワーファリン;アムロジピン,心房細動,ペニシリン:anaphylaxis\n"
        );
        let (valid, errors, rejected, rows) = check(&csv);
        assert_eq!(
            (rows, errors.len(), rejected.len()),
            (1, 0, 0),
            "{errors:?}"
        );
        let v = &valid[0];
        assert_eq!(v.line, 2);
        assert_eq!(v.resident.sex, "female");
        assert_eq!(v.items.len(), 5);
        assert!(v.consent.triage_on_card && !v.consent.name_on_print && !v.consent.by_family);
    }

    #[test]
    fn every_problem_of_a_row_is_reported_with_line_and_column() {
        let csv = format!(
            "{HEAD}K-001,2026-04-01,self,山田,花子,1941-05-12,女,茨城県常総市水海道1-1,,,,,,,,,,\n\
             ,2099-01-01,neighbour,,花子,1941-02-30,x,住所,,,,abc,山田太郎,,090,,,ペニシリン\n"
        );
        let (valid, errors, rejected, _) = check(&csv);
        assert_eq!(valid.len(), 1);
        assert_eq!(rejected, vec![3]);
        let cols: Vec<&str> = errors.iter().map(|e| e.column.as_str()).collect();
        assert_eq!(
            cols,
            [
                "form_number",
                "consent_date",
                "consent_by",
                "family_name",
                "date_of_birth",
                "sex",
                "phone",
                "contact1_relation",
                "allergies"
            ]
        );
        assert!(errors.iter().all(|e| e.line == 3));
    }

    #[test]
    fn a_row_with_the_wrong_number_of_fields_is_reported_whole() {
        let csv = format!("{HEAD}K-001,2026-04-01,self,山田\n");
        let (_, errors, rejected, _) = check(&csv);
        assert_eq!(rejected, vec![2]);
        assert_eq!(errors[0].column, "-");
    }

    #[test]
    fn the_header_must_name_known_and_required_columns() {
        let err = |csv: &str| {
            check_file(csv.as_bytes(), NOW)
                .expect_err("refused")
                .message()
                .to_string()
        };
        assert!(err("form_number,consent_date\n").contains("lacks"));
        assert!(err(&HEAD.replace("phone", "telephone")).contains("unknown column"));
        assert!(
            check_file(&[b'a', 0x82, 0xa0, b'\n'], NOW)
                .expect_err("not utf-8")
                .message()
                .contains("UTF-8")
        );
    }

    #[test]
    fn the_natural_key_ignores_spacing_width_and_kana_script() {
        let row = |family: &str, kana: &str, address: &str| ResidentRow {
            family_name: family.into(),
            family_name_kana: Some(kana.into()),
            address: address.into(),
            ..profile_fields(
                &ProfileInput {
                    family_name: "x".into(),
                    given_name: "花子".into(),
                    family_name_kana: None,
                    given_name_kana: None,
                    date_of_birth: "1941-05-12".into(),
                    sex: "female".into(),
                    address: "x".into(),
                    district: None,
                    phone: None,
                    preferred_language: "ja".into(),
                },
                NOW,
            )
            .expect("valid")
        };
        assert_eq!(
            natural_key(&row("山田", "やまだ", "水海道１－１")),
            natural_key(&row("山 田", "ヤマダ", "水海道1-1"))
        );
        assert_ne!(
            natural_key(&row("山田", "ヤマダ", "水海道1-1")),
            natural_key(&row("山田", "ヤマダ", "水海道1-2"))
        );
    }
}
