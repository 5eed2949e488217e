//! Combinations a report cannot hold (CLINICAL.md): refused with `422 contradiction` and a
//! message naming both sides, so the crew corrects the entry rather than the ED guessing which
//! half is true. Checked on the whole record after each patch.
//!
//! | rule | why |
//! |---|---|
//! | JCS 0 or I-x with GCS E below 4 | JCS 0/I: awake without stimulus, eyes open spontaneously (E4) |
//! | JCS II-x with GCS E1 or E4 | JCS II: aroused only by stimulus (E2–E3) |
//! | JCS III-x with GCS E above 1 | JCS III: not aroused even by pain (E1) |
//! | JCS III-300 with GCS M above 1 | III-300: no response to pain at all (M1) |
//! | JCS suffix A with a level other than I | A (apallic state / akinetic mutism) is an eyes-open state: level I |
//! | activation `stroke` without last known well | reperfusion depends on it; "unknown" must be said (`last_known_well_unknown`) |
//! | activation `paediatric` for a patient known to be 18 or older | |
//! | `record.pregnancy` `pregnant` for a male patient | |
//!
//! The record's own contradictions (`record.rs`): weeks of gestation without `pregnant`; an arrest
//! witnessed by EMS with bystander CPR; CPR, a shock or ROSC before the collapse.
//!
//! JCS and GCS are compared only when their latest assessments are within
//! [`SAME_MOMENT_SECS`] of each other (the patient may change between two distant assessments).

use super::{Gcs, Jcs, Report};
use crate::service::error::DomainError;

/// Two assessments this close (seconds) describe the same moment.
pub const SAME_MOMENT_SECS: i64 = 300;
/// The age from which a `paediatric` activation is refused.
pub const ADULT_AGE: i64 = 18;

fn contradiction(message: String) -> DomainError {
    DomainError::unprocessable("contradiction", message)
}

fn gcs_text(g: &Gcs) -> String {
    format!("GCS E{}V{}M{} ({})", g.e, g.v, g.m, g.total)
}

/// JCS against GCS (same moment).
fn consciousness(j: &Jcs, g: &Gcs) -> Result<(), DomainError> {
    let both = || format!("JCS {} and {}", j.display, gcs_text(g));
    let eyes_ok = match j.score {
        0..=3 => g.e == 4,
        10..=30 => (2..=3).contains(&g.e),
        _ => g.e == 1,
    };
    if !eyes_ok {
        let why = match j.score {
            0..=3 => "JCS 0/I is awake without stimulus: eyes open spontaneously (E4)",
            10..=30 => "JCS II is aroused only by stimulus (E2–E3)",
            _ => "JCS III is not aroused even by pain (E1)",
        };
        return Err(contradiction(format!(
            "{} contradict each other: {why} / JCSとGCSの開眼が矛盾しています",
            both()
        )));
    }
    if j.score == 300 && g.m > 1 {
        return Err(contradiction(format!(
            "{} contradict each other: JCS III-300 is no response to pain (M1) / JCS III-300とGCSの運動反応が矛盾しています",
            both()
        )));
    }
    Ok(())
}

/// Checks a whole report version.
pub fn check(r: &Report) -> Result<(), DomainError> {
    if r.patient.sex.as_deref() == Some("male")
        && r.record
            .pregnancy
            .as_ref()
            .is_some_and(|p| p.status.as_deref() == Some("pregnant"))
    {
        return Err(contradiction(
            "record.pregnancy pregnant and sex male contradict each other / 妊娠と性別（男性）が矛盾しています".into(),
        ));
    }
    for j in &r.jcs_series {
        if j.suffixes.iter().any(|s| s == "A") && !(1..=3).contains(&j.score) {
            return Err(contradiction(format!(
                "JCS {}: suffix A (apallic state / akinetic mutism, an eyes-open state) belongs with level I, not {} / 付加A は I 桁のみ",
                j.display, j.level
            )));
        }
    }
    if let (Some(j), Some(g)) = (&r.jcs, &r.gcs) {
        let apart = match (j.assessed_at, g.assessed_at) {
            (Some(a), Some(b)) => (a - b).abs(),
            _ => 0,
        };
        if apart <= SAME_MOMENT_SECS {
            consciousness(j, g)?;
        }
    }
    if r.activation == "stroke" && r.last_known_well_at.is_none() && !r.last_known_well_unknown {
        return Err(contradiction(
            "activation stroke without last_known_well_at: send the time last seen normal, or last_known_well_unknown: true / 脳卒中の事前連絡には最終健常確認時刻が必要です"
                .into(),
        ));
    }
    if r.activation == "paediatric"
        && let Some(age) = r.patient.age
        && age >= ADULT_AGE
    {
        return Err(contradiction(format!(
            "activation paediatric for a patient aged {age} / {age}歳の患者に小児の事前連絡はできません"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{ReportInput, build};
    use crate::service::error::DomainError;
    const NOW: i64 = 1_795_000_000;

    fn first(patch: serde_json::Value) -> Result<super::Report, DomainError> {
        let mut v =
            serde_json::json!({"base_version": 0, "chief_complaint": "x", "activation": "general"});
        for (k, val) in patch.as_object().unwrap() {
            v[k] = val.clone();
        }
        let i: ReportInput = serde_json::from_value(v).unwrap();
        build(&i, None, 1, None, NOW)
    }

    fn refused(patch: serde_json::Value, needles: &[&str]) {
        let err = first(patch.clone()).unwrap_err();
        assert_eq!(err.code(), "contradiction", "{patch}: {}", err.message());
        for n in needles {
            assert!(err.message().contains(n), "{patch}: {}", err.message());
        }
    }

    #[test]
    fn contradictions_are_refused_naming_both_sides() {
        refused(
            serde_json::json!({"jcs": "0", "gcs": {"e": 1, "v": 1, "m": 1}}),
            &["JCS 0", "GCS E1V1M1 (3)"],
        );
        refused(
            serde_json::json!({"jcs": "III-300", "jcs_suffixes": ["A"]}),
            &["III-300A", "suffix A"],
        );
        refused(
            serde_json::json!({"jcs": "III-300", "gcs": {"e": 1, "v": 1, "m": 4}}),
            &["III-300", "M4", "M1"],
        );
        refused(
            serde_json::json!({"jcs": "II-10", "gcs": {"e": 4, "v": 4, "m": 6}}),
            &["II-10", "E4"],
        );
        refused(
            serde_json::json!({"activation": "stroke"}),
            &["stroke", "last_known_well_at"],
        );
        refused(
            serde_json::json!({"activation": "paediatric", "estimated_age": 85}),
            &["paediatric", "85"],
        );
    }

    #[test]
    fn consistent_combinations_pass() {
        for ok in [
            serde_json::json!({"jcs": "0", "gcs": {"e": 4, "v": 5, "m": 6}}),
            serde_json::json!({"jcs": "I-3", "jcs_suffixes": ["A"]}),
            serde_json::json!({"jcs": "III-300", "gcs": {"e": 1, "v": 1, "m": 1}}),
            serde_json::json!({"jcs": "II-30", "gcs": {"e": 2, "v": 2, "m": 5}}),
            serde_json::json!({"activation": "stroke", "last_known_well_at": NOW - 3600}),
            serde_json::json!({"activation": "stroke", "last_known_well_unknown": true}),
            serde_json::json!({"activation": "paediatric", "estimated_age": 6}),
            serde_json::json!({"activation": "paediatric"}),
            // Assessed 20 minutes apart: the patient may have woken up.
            serde_json::json!({"jcs": "0", "gcs": {"e": 1, "v": 1, "m": 1}, "gcs_at": NOW - 1200}),
        ] {
            assert!(first(ok.clone()).is_ok(), "{ok}");
        }
    }
}
