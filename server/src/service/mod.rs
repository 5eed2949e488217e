//! Business rules. Services take a database handle, the acting account and `now` (from the injected
//! clock), validate input, enforce per-object access, and call `db::queries`. They never read the
//! clock or the environment themselves.

pub mod access;
pub mod accounts;
pub mod admin;
pub mod backup;
pub mod cards;
pub mod consent;
pub mod data_disclosure;
pub mod dataset;
pub mod demo;
pub mod devices;
pub mod disasters;
pub mod disclosure;
pub mod facilities;
pub mod feed;
pub mod fhir;
pub mod fhir_report;
pub mod governance;
pub mod incidents;
pub mod keys;
pub mod purge;
pub mod push; // push
pub mod report;
pub mod residents;
pub mod security;
pub mod staff;

use crate::error::ApiError;

/// A fresh 128-bit random id as 32 lower-case hex characters.
pub fn new_id() -> Result<String, ApiError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    Ok(hex::encode(b))
}

/// Checks an id from a URL before it reaches a query: 32 lower-case hex characters.
pub fn check_id(id: &str) -> Result<(), ApiError> {
    if id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(ApiError::not_found("no such object"))
    }
}

/// Trims and checks a free-text field: `min..=max` characters, no control characters.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    let n = v.chars().count();
    if n < min || n > max {
        return Err(ApiError::unprocessable(
            "invalid_field",
            format!("{field}: must be {min}–{max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "invalid_field",
            format!("{field}: control characters are not allowed"),
        ));
    }
    Ok(v.to_string())
}

pub fn opt_text(
    field: &str,
    value: &Option<String>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text(field, v, 1, max).map(Some),
    }
}

/// An ISO 8601 calendar date `YYYY-MM-DD` that exists, between 1900-01-01 and `today` (inclusive).
pub fn past_date(field: &str, value: &str, now: i64) -> Result<String, ApiError> {
    let bad = || {
        ApiError::unprocessable(
            "invalid_date",
            format!("{field}: must be a real date YYYY-MM-DD, not in the future"),
        )
    };
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(value, &fmt).map_err(|_| bad())?;
    let today = time::OffsetDateTime::from_unix_timestamp(now)
        .map_err(|_| bad())?
        .date();
    if date.year() < 1900 || date > today {
        return Err(bad());
    }
    Ok(value.to_string())
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today(now: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(now)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

/// A phone number: digits with optional `+`, spaces, hyphens and parentheses; 3–20 characters.
pub fn phone(field: &str, value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    let ok = (3..=20).contains(&v.len())
        && v.bytes().any(|b| b.is_ascii_digit())
        && v.bytes()
            .all(|b| b.is_ascii_digit() || b" +-()".contains(&b));
    if ok {
        Ok(v.to_string())
    } else {
        Err(ApiError::unprocessable(
            "invalid_phone",
            format!("{field}: not a phone number"),
        ))
    }
}

/// Appends a denial (outcome `denied`, detail = the error code) in its own transaction, then
/// returns the refusal. If the audit write fails, the request fails with that error instead.
pub(crate) fn deny(
    db: &crate::db::Db,
    muni: &str,
    event: crate::audit::Event,
    err: ApiError,
    now: i64,
) -> ApiError {
    let mut event = event;
    event.outcome = crate::audit::Outcome::Denied;
    event.detail = Some(err.code().to_string());
    match db.write(|c| crate::audit::append(c, muni, &event, now).map_err(ApiError::from)) {
        Ok(_) => err,
        Err(audit_failed) => audit_failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const NOW: i64 = 1_795_000_000; // 2026-11-18

    #[test]
    fn dates() {
        assert!(past_date("dob", "1941-02-28", NOW).is_ok());
        for bad in [
            "1941-02-30",
            "2030-01-01",
            "1899-12-31",
            "41-2-3",
            "1941-02-28T00:00:00Z",
            "",
        ] {
            assert!(past_date("dob", bad, NOW).is_err(), "{bad}");
        }
    }

    #[test]
    fn texts() {
        assert_eq!(text("n", "  山田  ", 1, 10).unwrap(), "山田");
        assert!(text("n", "", 1, 10).is_err());
        assert!(text("n", "a\u{0}b", 1, 10).is_err());
        assert!(text("n", &"x".repeat(11), 1, 10).is_err());
        assert!(phone("p", "029-123-4567").is_ok());
        assert!(phone("p", "'; DROP TABLE").is_err());
    }
}
