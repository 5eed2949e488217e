//! Bulk onboarding from a paper-kit register (issue 26; `kyukit residents import` runs
//! `service::import::import_csv`). The register is made by `tests/tools/gen_register.py`: 10,000
//! rows of which 1 % are broken in known ways (its `.expected.json` names each broken line and
//! column). The dry run and the import report exactly those; the valid rows are imported with
//! their paper consent; a re-run imports none. Times are printed.

use diesel::prelude::*;
use kyukit_server::service::accounts::{self, Actor};
use kyukit_server::service::error::DomainError;
use kyukit_server::service::import::{self, Report};
use kyukit_tests::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Runs the fixture script; the CSV's bytes and its expectations.
pub fn register(dir: &Path, rows: usize, broken_percent: f64, seed: u64) -> (Vec<u8>, Value) {
    let out = dir.join(format!("register-{rows}-{seed}.csv"));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/gen_register.py");
    let status = std::process::Command::new("python3")
        .arg(&script)
        .args(["--rows", &rows.to_string()])
        .args(["--broken-percent", &broken_percent.to_string()])
        .args(["--seed", &seed.to_string()])
        .arg("--out")
        .arg(&out)
        .status()
        .expect("python3 runs tests/tools/gen_register.py");
    assert!(status.success(), "gen_register.py failed");
    let expected = std::fs::read_to_string(out.with_extension("expected.json")).expect("expected");
    (
        std::fs::read(&out).expect("csv"),
        serde_json::from_str(&expected).expect("json"),
    )
}

/// A city administrator (created as `kyukit admin create` does), as the import's operator.
pub fn city_admin(app: &TestApp) -> Actor {
    let db = app.db();
    let muni = app.municipality_id(&db);
    let staff = accounts::NewStaff {
        login_id: "clerk".into(),
        password: "a long clerk password".into(),
        role: "city_admin".into(),
        display_name: "福祉課 担当".into(),
        facility_id: None,
        profession: Some("city_staff".into()),
    };
    accounts::create_staff(&db, &muni, &staff, None, T0).expect("city admin");
    import::operator(&db, &muni, "clerk").expect("operator")
}

fn broken(expected: &Value) -> Vec<(u64, String)> {
    expected["broken"]
        .as_array()
        .expect("broken")
        .iter()
        .map(|b| {
            (
                b["line"].as_u64().expect("line"),
                b["column"].as_str().expect("column").to_string(),
            )
        })
        .collect()
}

/// The (line, column) of every reported problem.
fn reported(r: &Report) -> Vec<(u64, String)> {
    r.errors
        .iter()
        .map(|e| (e.line, e.column.clone()))
        .collect()
}

fn count(app: &TestApp, table: &str) -> i64 {
    table_counts(app)
        .into_iter()
        .find(|(t, _)| *t == table)
        .map_or_else(|| panic!("no table {table}"), |(_, n)| n)
}

fn run(app: &TestApp, admin: &Actor, csv: &[u8], dry_run: bool) -> (Report, f64) {
    let db = app.db();
    let started = Instant::now();
    let mut calls = 0;
    let report = import::import_csv(&db, admin, csv, dry_run, T0, &mut |_, _| calls += 1)
        .expect("import runs");
    let secs = started.elapsed().as_secs_f64();
    if !dry_run {
        assert!(calls >= 1, "progress is reported");
    }
    (report, secs)
}

both_backends!(
    a_register_of_10000_rows_imports_its_valid_rows_once_and_reports_each_broken_one,
    |app: TestApp| async move {
        let dir = app.data_dir.join("fixture");
        std::fs::create_dir_all(&dir).expect("dir");
        let (csv, expected) = register(&dir, 10_000, 1.0, 26);
        let want = broken(&expected);
        assert_eq!(want.len(), 100);
        let admin = city_admin(&app);
        let before = count(&app, "residents");

        let (dry, secs) = run(&app, &admin, &csv, true);
        eprintln!("{:?}: dry run of 10,000 rows: {secs:.2} s", app.backend);
        assert_eq!(
            reported(&dry),
            want,
            "the dry run reports exactly the broken rows"
        );
        assert_eq!(
            dry.rejected_lines,
            want.iter().map(|w| w.0).collect::<Vec<_>>()
        );
        assert_eq!((dry.rows, dry.imported, dry.already), (10_000, 9_900, 0));
        assert!(dry.import_id.is_none());
        assert_eq!(count(&app, "residents"), before, "a dry run writes nothing");

        let (done, secs) = run(&app, &admin, &csv, false);
        eprintln!("{:?}: import of 10,000 rows: {secs:.2} s", app.backend);
        assert_eq!(
            reported(&done),
            want,
            "the import reports exactly the broken rows"
        );
        assert_eq!((done.imported, done.already), (9_900, 0));
        assert_eq!(count(&app, "residents"), before + 9_900);
        assert_eq!(count(&app, "consents"), 9_900);

        // Each imported resident: no login, consent version 1 on paper with its form number.
        let db = app.db();
        let (no_login, paper): (i64, Vec<(String, String, String)>) = db
            .read(|c| {
                use kyukit_server::db::schema::*;
                let no_login = residents::table
                    .filter(residents::account_id.is_null())
                    .count()
                    .get_result(c)?;
                let paper = paper_consents::table
                    .select((
                        paper_consents::form_number,
                        paper_consents::signed_on,
                        paper_consents::signed_by,
                    ))
                    .load(c)?;
                Ok::<_, DomainError>((no_login, paper))
            })
            .expect("read");
        assert_eq!(no_login, 9_900);
        assert_eq!(paper.len(), 9_900);
        assert!(paper.iter().any(|p| p.0 == "K-000001" && p.2 == "self"));
        assert!(paper.iter().any(|p| p.2 == "family"));
        // A broken row's form is not there.
        let first_broken = want[0].0 as usize - 1; // line 2 is form K-000001
        assert!(!paper.iter().any(|p| p.0 == format!("K-{first_broken:06}")));
        let entries = db
            .read(|c| {
                Ok::<_, DomainError>(kyukit_server::audit::verify(
                    c,
                    &admin.municipality_id,
                    None,
                ))
            })
            .expect("read")
            .expect("the audit chain verifies");
        assert!(
            entries > 9_900,
            "one event per imported resident: {entries}"
        );

        let (again, secs) = run(&app, &admin, &csv, false);
        eprintln!("{:?}: re-run of 10,000 rows: {secs:.2} s", app.backend);
        assert_eq!(again.imported, 0, "a re-run imports nothing twice");
        assert_eq!(again.already, 9_900);
        assert_eq!(reported(&again), want, "and reports the same rows");
        assert_eq!(count(&app, "residents"), before + 9_900);
    }
);

const HEAD: &str = "form_number,consent_date,consent_by,family_name,given_name,date_of_birth,sex,address,family_name_kana,given_name_kana,district,phone,contact1_name,contact1_relation,contact1_phone,medications,conditions,allergies,name_on_print\n";

both_backends!(
    an_imported_resident_carries_the_paper_consent_and_one_registered_online_is_not_imported,
    |app: TestApp| async move {
        let admin = city_admin(&app);
        // Registered through the portal already: 山田 花子, 1941-05-12, 水海道1-1.
        let (online, _) = register_resident(&app, "hanako").await;
        let body = resident_body("hanako");
        let p = &body["profile"];
        let csv = format!(
            "{HEAD}K-1,2026-04-01,family,{},{},{},female,{},{},{},水海道,,山田太郎,長男,090-0000-0000,ワーファリン,てんかん,そば:重度,yes\n\
             K-2,2026-04-02,本人,常総,一郎,1940-01-01,男,茨城県常総市新石下1,ジョウソウ,イチロウ,石下,,,,,,,,\n",
            p["family_name"].as_str().unwrap(),
            p["given_name"].as_str().unwrap(),
            p["date_of_birth"].as_str().unwrap(),
            p["address"].as_str().unwrap(),
            p["family_name_kana"].as_str().unwrap_or(""),
            p["given_name_kana"].as_str().unwrap_or(""),
        );
        let (r, _) = run(&app, &admin, csv.as_bytes(), false);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!((r.imported, r.already), (1, 1));
        assert_eq!(r.registered_elsewhere, vec![(2, online.clone())]);
        // The audit names the operator, the resident and the import.
        let events: Vec<(Option<String>, Option<String>, Option<String>)> = app
            .db()
            .read(|c| {
                use kyukit_server::db::schema::*;
                audit_events::table
                    .filter(audit_events::action.eq("resident.import"))
                    .select((
                        audit_events::actor_account_id,
                        audit_events::resident_id,
                        audit_events::detail,
                    ))
                    .load(c)
                    .map_err(DomainError::from)
            })
            .expect("audit");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].0.as_deref(), Some(admin.account_id.as_str()));
        assert!(
            events[0]
                .2
                .as_deref()
                .is_some_and(|d| d.ends_with("line 3"))
        );
        // A refusal for anyone but a city administrator.
        let not_admin = Actor {
            role: kyukit_server::domain::Role::Paramedic,
            ..admin.clone()
        };
        let refused = import::import_csv(
            &app.db(),
            &not_admin,
            csv.as_bytes(),
            true,
            T0,
            &mut |_, _| {},
        );
        assert_eq!(refused.err().map(|e| e.code()), Some("forbidden"));
    }
);

both_backends!(
    a_batch_prints_the_consented_residents_of_a_district_sorted_and_reuses_their_cards,
    |app: TestApp| async move {
        use kyukit_server::service::batch::{self, Format, Selection};
        use kyukit_server::service::cards::IssuePolicy;
        let admin = city_admin(&app);
        let dir = app.data_dir.join("fixture");
        std::fs::create_dir_all(&dir).expect("dir");
        let (csv, expected) = register(&dir, 40, 0.0, 28);
        let (r, _) = run(&app, &admin, &csv, false);
        assert_eq!(r.imported, 40);
        let import_id = r.import_id.clone().expect("import id");
        // Registered through the portal in 水海道, no consent: skipped and listed.
        let (online, _) = register_resident(&app, "hanako").await;
        let db = app.db();
        let base = format!("{PUBLIC_URL}c/");
        let policy = IssuePolicy {
            data_dir: &app.data_dir,
            card_base_url: &base,
            validity_secs: 5 * 365 * 86_400,
        };
        let district = Selection::District("水海道".into());
        let started = Instant::now();
        let b = batch::run(
            &db,
            &admin,
            &district,
            Format::Wallet,
            &policy,
            T0,
            &mut |_, _| {},
        )
        .expect("batch");
        eprintln!(
            "{:?}: district batch: {:.2} s",
            app.backend,
            started.elapsed().as_secs_f64()
        );
        let n = expected["districts"]["水海道"].as_u64().expect("n") as usize;
        assert_eq!(b.printed.len(), n);
        assert!(b.printed.iter().all(|p| !p.reused));
        assert_eq!(b.skipped.len(), 1);
        assert_eq!(b.skipped[0].resident_id, online);
        assert_eq!(b.skipped[0].reason, "no consent in force");
        assert!(b.pdf.starts_with(b"%PDF-"));
        // Each card verifies against the municipality's keys.
        let keys =
            kyukit_server::service::keys::load(&db, &app.data_dir, &admin.municipality_id, false)
                .expect("keys")
                .trusted;
        for p in &b.printed {
            let url = kyukit_card::parse_card_url(&p.url).expect("url");
            let card = kyukit_card::verify(&url.cose, &keys, T0).expect("verifies");
            assert_eq!(card.claims.card_id.to_hex(), p.card_id);
        }
        // Sorted by address within the district (numbers as numbers: 町1-… before 町2-…).
        let nums: Vec<Vec<u64>> = b
            .printed
            .iter()
            .map(|p| {
                p.address
                    .split(|c: char| !c.is_ascii_digit())
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse().expect("number"))
                    .collect()
            })
            .collect();
        let mut sorted = nums.clone();
        sorted.sort();
        assert_eq!(nums, sorted);

        // The whole import: the district's cards are reused, the rest issued; nothing skipped.
        let all = batch::run(
            &db,
            &admin,
            &Selection::Import(import_id),
            Format::Fridge,
            &policy,
            T0,
            &mut |_, _| {},
        )
        .expect("batch");
        assert_eq!(all.printed.len(), 40);
        assert_eq!(all.printed.iter().filter(|p| p.reused).count(), n);
        assert!(all.skipped.is_empty());
        assert_eq!(count(&app, "cards"), 40, "no card issued twice");
        // Only a city administrator.
        let medic = Actor {
            role: kyukit_server::domain::Role::Paramedic,
            ..admin.clone()
        };
        let refused = batch::run(
            &db,
            &medic,
            &district,
            Format::Wallet,
            &policy,
            T0,
            &mut |_, _| {},
        );
        assert_eq!(refused.err().map(|e| e.code()), Some("forbidden"));
    }
);
