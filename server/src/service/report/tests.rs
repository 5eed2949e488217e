use super::*;
const NOW: i64 = 1_795_000_000;

fn input() -> ReportInput {
    serde_json::from_value(serde_json::json!({
        "base_version": 0,
        "chief_complaint": "胸痛",
        "activation": "stemi",
        "vitals": {"systolic_bp": 92, "diastolic_bp": 60, "heart_rate": 112,
                   "respiratory_rate": 24, "spo2": 93, "temperature": 36.9, "glucose": 140},
        "jcs": "II-10", "jcs_suffixes": ["i", "R"],
        "gcs": {"e": 3, "v": 4, "m": 6},
        "onset_at": NOW - 1800, "last_known_well_at": NOW - 2400,
        "eta_minutes": 12, "crew": ["救急隊長 佐藤"], "estimated_age": 84, "sex": "female"
    }))
    .unwrap()
}

#[test]
fn a_full_report() {
    let r = build(&input(), None, 1, None, NOW).unwrap();
    assert_eq!(r.activation_code, "4224013");
    assert_eq!(r.gcs.unwrap().total, 13);
    let j = r.jcs.unwrap();
    assert_eq!((j.score, j.display.as_str()), (10, "II-10RI"));
    assert_eq!(r.eta_at, Some(NOW + 720));
    assert_eq!(r.patient.age_band, "80s");
}

#[test]
fn impossible_values_are_refused_with_their_field() {
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        (
            "implausible_vital",
            serde_json::json!({"vitals": {"heart_rate": 900}}),
            "heart_rate",
        ),
        (
            "implausible_vital",
            serde_json::json!({"vitals": {"spo2": 140}}),
            "spo2",
        ),
        (
            "implausible_vital",
            serde_json::json!({"vitals": {"temperature": 60.0}}),
            "temperature",
        ),
        (
            "implausible_vital",
            serde_json::json!({"vitals": {"systolic_bp": 80, "diastolic_bp": 120}}),
            "diastolic",
        ),
        ("invalid_jcs", serde_json::json!({"jcs": "II-15"}), "II-15"),
        (
            "invalid_jcs",
            serde_json::json!({"jcs": "0", "jcs_suffixes": ["R"]}),
            "JCS 0",
        ),
        (
            "invalid_jcs",
            serde_json::json!({"jcs": "I-1", "jcs_suffixes": ["X"]}),
            "X",
        ),
        (
            "invalid_gcs",
            serde_json::json!({"gcs": {"e": 5, "v": 1, "m": 1}}),
            "gcs.e",
        ),
        (
            "invalid_activation",
            serde_json::json!({"activation": "flu"}),
            "activation",
        ),
        (
            "invalid_eta",
            serde_json::json!({"eta_minutes": 999}),
            "eta_minutes",
        ),
        (
            "invalid_time",
            serde_json::json!({"onset_at": NOW + 3600}),
            "onset_at",
        ),
    ];
    for (code, patch, needle) in cases {
        let mut v = serde_json::to_value(serde_json::json!({
            "base_version": 0, "chief_complaint": "x", "activation": "general"
        }))
        .unwrap();
        for (k, val) in patch.as_object().unwrap() {
            v[k] = val.clone();
        }
        let i: ReportInput = serde_json::from_value(v).unwrap();
        let err = build(&i, None, 1, None, NOW).unwrap_err();
        assert_eq!(err.code(), code, "{patch}");
        assert!(err.message().contains(needle), "{patch}: {}", err.message());
        assert_eq!(err.kind(), crate::service::error::Kind::Invalid);
    }
}

fn patch(v: serde_json::Value) -> ReportInput {
    serde_json::from_value(v).unwrap()
}

#[test]
fn a_patch_keeps_what_it_does_not_send() {
    let v1 = build(&input(), None, 1, None, NOW).unwrap();
    let v2 = build(
        &patch(serde_json::json!({"base_version": 1, "chief_complaint": "胸痛、背部痛"})),
        Some(&v1),
        2,
        None,
        NOW + 60,
    )
    .unwrap();
    assert_eq!(v2.chief_complaint, "胸痛、背部痛");
    assert_eq!(v2.changed, ["chief_complaint"]);
    assert_eq!(
        (&v2.vitals, &v2.jcs, &v2.gcs, v2.eta_at, &v2.activation),
        (&v1.vitals, &v1.jcs, &v1.gcs, v1.eta_at, &v1.activation)
    );
    assert_eq!(
        (v2.onset_at, &v2.crew, &v2.patient),
        (v1.onset_at, &v1.crew, &v1.patient)
    );
    // A new reading joins the series, stamped with the server's time.
    let v3 = build(
        &patch(serde_json::json!({"base_version": 2, "vitals": {"spo2": 88}})),
        Some(&v2),
        3,
        None,
        NOW + 120,
    )
    .unwrap();
    assert_eq!(v3.vitals_series.len(), 2);
    assert_eq!(v3.vitals.spo2, Some(88));
    assert_eq!(v3.vitals.taken_at, Some(NOW + 120));
    assert_eq!(v3.vitals_series[0].taken_at, Some(NOW));
    // null clears a clearable field.
    let v4 = build(
        &patch(serde_json::json!({"base_version": 3, "notes": null, "onset_at": null})),
        Some(&v3),
        4,
        None,
        NOW + 130,
    )
    .unwrap();
    assert_eq!((v4.notes.as_deref(), v4.onset_at), (None, None));
    assert_eq!(v4.vitals_series.len(), 2);
}

#[test]
fn a_resent_eta_keeps_its_time_a_changed_one_moves() {
    let v1 = build(&input(), None, 1, None, NOW).unwrap();
    let again = patch(serde_json::json!({"base_version": 1, "eta_minutes": 12}));
    let v2 = build(&again, Some(&v1), 2, None, NOW + 3).unwrap();
    assert_eq!(v2.eta_at, Some(NOW + 720));
    assert!(!v2.changed.contains(&"eta_at".to_string()));
    let later = patch(serde_json::json!({"base_version": 2, "eta_minutes": 5}));
    let v3 = build(&later, Some(&v2), 3, None, NOW + 60).unwrap();
    assert_eq!(v3.eta_at, Some(NOW + 360));
    let absolute = patch(serde_json::json!({"base_version": 3, "eta_at": NOW + 400}));
    let v4 = build(&absolute, Some(&v3), 4, None, NOW + 70).unwrap();
    assert_eq!(v4.eta_at, Some(NOW + 400));
}

#[test]
fn the_first_report_needs_a_complaint_and_an_activation() {
    let err = build(
        &patch(serde_json::json!({"base_version": 0, "chief_complaint": "x"})),
        None,
        1,
        None,
        NOW,
    )
    .unwrap_err();
    assert!(err.message().contains("activation"), "{}", err.message());
}

#[test]
fn the_card_wins_over_the_crews_estimate() {
    let seeded = ReportPatient {
        age: Some(91),
        age_band: age_band(Some(91)),
        sex: Some("male".into()),
        source: "card".into(),
    };
    let r = build(&input(), None, 2, Some(&seeded), NOW).unwrap();
    assert_eq!(r.patient, seeded);
}

#[test]
fn bands() {
    assert_eq!(age_band(Some(0)), "0-9");
    assert_eq!(age_band(Some(19)), "10s");
    assert_eq!(age_band(Some(100)), "100+");
    assert_eq!(age_band(None), "unknown");
}

#[test]
fn activations_and_age_bands_are_the_domain_code_lists() {
    use crate::domain::{Activation, AgeBand};
    assert_eq!(ACTIVATIONS.map(|a| a.0).as_slice(), Activation::TEXTS);
    let mut bands: Vec<String> = (0..=120).map(|a| age_band(Some(a))).collect();
    bands.push(age_band(None));
    bands.dedup();
    assert_eq!(bands, AgeBand::TEXTS);
}
