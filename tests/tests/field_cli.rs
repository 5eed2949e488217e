//! The `kyukit-field` command line against a real server: a crew enrolls, scans the resident's
//! card from its QR image (the PNG the server serves), and runs the whole pre-arrival side with
//! `kyukit-field incident …` — hospitals, open, report (flags and a JSON file), inquiry, show —
//! while an ED accepts through the API. The CLI runs in process (`cli::execute_args`: the parsing
//! and code of the binary, returning the JSON it prints) and signs on the system clock, so the
//! server's test clock is set to the system time first. `tests/walkthrough.sh` runs the binary
//! itself. On SQLite and PostgreSQL.

use kyukit_field::{Error as FieldError, State, system_now};
use kyukit_tests::field::{
    MEDIC_PASSWORD, add_staff, create_facility, enrollment_code, json_of, medic_login, staff_token,
    world,
};
use kyukit_tests::{StatusCode, TestApp, Value, both_backends, json, random_hex};

/// Runs `kyukit-field ARGS` in process on a blocking thread; its JSON, or its error.
async fn field(args: &[&str]) -> Result<Value, FieldError> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || kyukit_field::cli::execute_args(args))
        .await
        .expect("the CLI does not panic")
}

async fn ok(args: &[&str]) -> Value {
    field(args).await.unwrap_or_else(|e| {
        panic!(
            "kyukit-field {}: {}: {}",
            args.join(" "),
            e.code(),
            e.message()
        )
    })
}

/// The server's refusal: (status, code).
async fn refused(args: &[&str]) -> (u16, String) {
    match field(args).await {
        Err(e @ FieldError::Http { .. }) => {
            assert!(e.is_refusal(), "exit 1");
            match e {
                FieldError::Http { status, error, .. } => (status, error),
                _ => unreachable!(),
            }
        }
        other => panic!(
            "kyukit-field {}: expected a refusal, got {other:?}",
            args.join(" ")
        ),
    }
}

fn status_of(incident: &Value, hospital: &str) -> String {
    incident["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["hospital"]["id"] == hospital)
        .and_then(|t| t["status"].as_str())
        .unwrap_or("not asked")
        .to_string()
}

both_backends!(
    crew_cli_scans_a_png_and_runs_pre_arrival,
    |app: TestApp| async move {
        // The CLI signs with the system clock; the server must agree within ±60 s.
        app.clock.set(system_now());
        let w = world(&app).await;
        let mut hospitals = Vec::new();
        for (name, login) in [("きぬ医師会病院", "ed1"), ("水海道さくら病院", "ed2")]
        {
            let id = create_facility(&app, &w.admin, "hospital", name).await;
            add_staff(&app, &w.admin, &id, login, "ed_staff").await;
            hospitals.push(id);
        }
        let (h1, h2) = (hospitals[0].as_str(), hospitals[1].as_str());
        let ed1 = staff_token(&app, "ed1", MEDIC_PASSWORD).await;

        // Enrolment with the CLI; the paramedic's TOTP login through the library on its state
        // file (the CLI's `login` reads the password from the environment or stdin).
        let dir = std::env::temp_dir().join(format!("kyukit-field-cli-{}", random_hex(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("device.pem");
        let state = dir.join("device.json");
        let st = state.to_str().unwrap();
        let code = enrollment_code(&app, &w.admin, &w.fire_id, 60).await;
        let enrolled = ok(&[
            "enroll",
            "--server",
            &app.base,
            "--code",
            &code,
            "--key-file",
            key.to_str().unwrap(),
            "--label",
            "救急1号車",
        ])
        .await;
        assert_eq!(enrolled["facility_id"], w.fire_id.as_str());
        let mut s = State::load(&state).unwrap();
        let mut c = s.client().unwrap();
        medic_login(&app, &mut c, &w.medic_login)
            .await
            .expect("login");
        s.session = c.session().map(str::to_string);
        s.save(&state).unwrap();

        // The card as the resident downloads it: the server's QR PNG.
        let png = app
            .get(
                &format!("/api/v1/residents/{}/cards/{}/qr.png", w.rid, w.card_id),
                Some(&w.resident_token),
            )
            .await;
        assert_eq!(png.status(), StatusCode::OK);
        let card = dir.join("card.png");
        std::fs::write(&card, png.bytes().await.unwrap()).unwrap();
        let scan = ok(&[
            "scan",
            "--state",
            st,
            "--card",
            card.to_str().unwrap(),
            "--incident",
            "R8-1",
        ])
        .await;
        assert_eq!(scan["card_id"], w.card_id.as_str(), "{scan}");
        let access = scan["access_id"].as_str().expect("access id").to_string();

        // The hospitals the crew may ask.
        let list = ok(&["incident", "hospitals", "--state", st]).await;
        let ids: Vec<&str> = list["hospitals"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|h| h["id"].as_str())
            .collect();
        assert!(ids.contains(&h1) && ids.contains(&h2), "{list}");

        // Open from the scan: the consented dataset seeds it.
        let inc = ok(&[
            "incident",
            "open",
            "--state",
            st,
            "--incident",
            "R8-1",
            "--access",
            &access,
        ])
        .await;
        let iid = inc["id"].as_str().expect("incident id").to_string();
        assert_eq!(
            (inc["status"].as_str(), inc["version"].as_i64()),
            (Some("open"), Some(0))
        );
        assert!(inc["patient"].is_object(), "{inc}");

        // No inquiry before a report.
        assert_eq!(
            refused(&[
                "incident",
                "inquire",
                "--state",
                st,
                "--id",
                &iid,
                "--hospital",
                h1
            ])
            .await,
            (409, "report_required".to_string())
        );

        // The first report from flags (base version read from the incident).
        let v1 = ok(&[
            "incident",
            "report",
            "--state",
            st,
            "--id",
            &iid,
            "--chief-complaint",
            "右半身麻痺、構音障害",
            "--activation",
            "stroke",
            "--bp",
            "168/94",
            "--heart-rate",
            "88",
            "--respiratory-rate",
            "18",
            "--spo2",
            "97",
            "--temperature",
            "36.8",
            "--glucose",
            "132",
            "--jcs",
            "II-20R",
            "--gcs",
            "E3V2M5",
            "--onset-at",
            "-40m",
            "--last-known-well-at",
            "-60m",
            "--eta-minutes",
            "12",
            "--crew",
            "隊長 佐藤",
            "--crew",
            "救命士 鈴木",
        ])
        .await;
        assert_eq!(v1["version"], 1, "{v1}");
        let r = &v1["report"];
        assert_eq!(r["activation"], "stroke", "{r}");
        assert_eq!(r["vitals"]["systolic_bp"], 168, "{r}");
        assert_eq!(r["jcs"]["display"], "II-20R", "{r}");
        assert_eq!(r["gcs"]["total"], 10, "{r}");

        // A second version from a JSON file, a flag on top; a stale base is refused.
        let file = dir.join("report.json");
        std::fs::write(
            &file,
            serde_json::to_vec(&json!({
                "chief_complaint": "右半身麻痺、構音障害", "activation": "stroke",
                "vitals": {"systolic_bp": 172, "diastolic_bp": 96, "spo2": 95},
                "jcs": "II-30", "eta_minutes": 8
            }))
            .unwrap(),
        )
        .unwrap();
        let v2 = ok(&[
            "incident",
            "report",
            "--state",
            st,
            "--id",
            &iid,
            "--file",
            file.to_str().unwrap(),
            "--eta-minutes",
            "6",
        ])
        .await;
        assert_eq!(v2["version"], 2, "{v2}");
        assert_eq!(v2["report"]["vitals"]["systolic_bp"], 172, "{v2}");
        assert_eq!(
            refused(&[
                "incident",
                "report",
                "--state",
                st,
                "--id",
                &iid,
                "--file",
                file.to_str().unwrap(),
                "--base-version",
                "1",
            ])
            .await,
            (409, "version_conflict".to_string())
        );
        // Refused locally: a malformed flag never reaches the server.
        assert!(matches!(
            field(&[
                "incident", "report", "--state", st, "--id", &iid, "--gcs", "E9"
            ])
            .await,
            Err(FieldError::Usage(_))
        ));

        // Ask both hospitals at once; the first (and only) acceptance wins.
        let asked = ok(&[
            "incident",
            "inquire",
            "--state",
            st,
            "--id",
            &iid,
            "--hospital",
            &format!("{h1},{h2}"),
        ])
        .await;
        assert_eq!(
            (status_of(&asked, h1), status_of(&asked, h2)),
            ("pending".to_string(), "pending".to_string()),
            "{asked}"
        );
        let r = app
            .post(
                &format!("/api/v1/hospital/incidents/{iid}/answer"),
                Some(&ed1),
                json!({"decision": "accept"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", json_of(r).await);

        // The crew sees the answers.
        let shown = ok(&["incident", "show", "--state", st, "--id", &iid]).await;
        assert_eq!(shown["status"], "accepted", "{shown}");
        assert_eq!(shown["destination"]["id"], h1, "{shown}");
        assert_eq!(
            (status_of(&shown, h1), status_of(&shown, h2)),
            ("accepted".to_string(), "superseded".to_string()),
            "{shown}"
        );
        let fhir = ok(&["incident", "show", "--state", st, "--id", &iid, "--fhir"]).await;
        assert_eq!(
            (fhir["resourceType"].as_str(), fhir["type"].as_str()),
            (Some("Bundle"), Some("document"))
        );

        // Destination change and arrival close it.
        let moved = ok(&[
            "incident",
            "destination",
            "--state",
            st,
            "--id",
            &iid,
            "--hospital",
            h2,
        ])
        .await;
        assert_eq!(moved["destination"]["id"], h2, "{moved}");
        let arrived = ok(&["incident", "arrive", "--state", st, "--id", &iid]).await;
        assert_eq!(arrived["status"], "arrived", "{arrived}");

        // Someone else's (or no) incident: the server's 404, as for every crew read.
        assert_eq!(
            refused(&[
                "incident",
                "show",
                "--state",
                st,
                "--id",
                "0123456789abcdef"
            ])
            .await,
            (404, "not_found".to_string())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
);
