//! Business rules. Services take a database handle, the acting account and `now` (from the injected
//! clock), validate input, enforce per-object access, and call the query modules in `db`. They never read the
//! clock or the environment themselves.

pub mod access;
pub mod accounts;
pub mod admin;
pub mod backup;
pub mod batch;
pub mod board;
pub mod cards;
pub mod consent;
pub mod data_disclosure;
pub mod dataset;
pub mod demo;
pub mod devices;
pub mod disasters;
pub mod disclosure;
pub mod error;
pub mod facilities;
pub mod family;
pub mod feed;
pub mod fhir;
pub mod fhir_report;
pub mod governance;
pub mod households;
pub mod idempotency;
pub mod import;
pub mod import_jobs;
pub mod incidents;
pub mod keys;
pub mod memberships;
pub mod photo;
pub mod proxies;
pub mod purge;
pub mod push; // push
pub mod reconfirm;
pub mod registrations;
pub mod report;
pub mod residents;
pub mod review_view;
pub mod security;
pub mod staff;
pub mod trust_list;
pub mod webauthn;
pub mod words;

use crate::service::error::DomainError;

/// A fresh 128-bit random id as 32 lower-case hex characters.
pub fn new_id() -> Result<String, DomainError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| DomainError::internal(format!("no randomness: {e}")))?;
    Ok(hex::encode(b))
}

/// Checks an id from a URL before it reaches a query: 32 lower-case hex characters.
pub fn check_id(id: &str) -> Result<(), DomainError> {
    if id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(DomainError::not_found("no such object"))
    }
}

/// Trims, NFC-normalises and checks a free-text field: `min..=max` characters (after
/// normalisation), no control characters, and nothing that makes the text display as something
/// other than what it holds ([`hidden_char`]).
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String, DomainError> {
    let v = nfc(value.trim());
    let n = v.chars().count();
    if n < min || n > max {
        return Err(DomainError::unprocessable(
            "invalid_field",
            format!("{field}: must be {min}–{max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(DomainError::unprocessable(
            "invalid_field",
            format!("{field}: control characters are not allowed"),
        ));
    }
    visible(field, &v, "invalid_field")?;
    Ok(v)
}

/// `s` in Unicode Normalisation Form C: a name typed on one keyboard as `か` + U+3099 and on
/// another as `が` is stored (and matched, e.g. by break-glass) as one string.
pub fn nfc(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfc().collect()
}

/// What a character is, if it changes how text around it displays without showing itself:
/// bidirectional embeddings, overrides, isolates and marks (U+202E makes `txt.exe` of
/// `exe.txt`; a name shown to a paramedic would read differently from what is stored), and
/// zero-width or invisible characters (two names that look identical but differ: a search or a
/// comparison by eye misses). Refused in names, login ids and every other text a person reads.
pub fn hidden_char(c: char) -> Option<&'static str> {
    match c {
        '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{061C}' => Some("a bidirectional control character"),
        '\u{200B}'..='\u{200D}'
        | '\u{2060}'..='\u{2064}'
        | '\u{FEFF}'
        | '\u{00AD}'
        | '\u{180E}' => Some("an invisible character"),
        _ => None,
    }
}

/// Refuses `value` (422 `code`, naming the field and the character) if it holds a
/// [`hidden_char`].
pub fn visible(field: &str, value: &str, code: &'static str) -> Result<(), DomainError> {
    match value
        .chars()
        .find_map(|c| hidden_char(c).map(|what| (c, what)))
    {
        None => Ok(()),
        Some((c, what)) => Err(DomainError::unprocessable(
            code,
            format!("{field}: U+{:04X} ({what}) is not allowed", u32::from(c)),
        )),
    }
}

pub fn opt_text(
    field: &str,
    value: &Option<String>,
    max: usize,
) -> Result<Option<String>, DomainError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text(field, v, 1, max).map(Some),
    }
}

/// An ISO 8601 calendar date `YYYY-MM-DD` that exists, between 1900-01-01 and today in Japan
/// (inclusive): at 07:50 JST a resident's "today" is already tomorrow in UTC.
pub fn past_date(field: &str, value: &str, now: i64) -> Result<String, DomainError> {
    let bad = || {
        DomainError::unprocessable(
            "invalid_date",
            format!("{field}: must be a real date YYYY-MM-DD, not in the future"),
        )
    };
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(value, &fmt).map_err(|_| bad())?;
    let today = crate::jst::date(now).ok_or_else(bad)?;
    if date.year() < 1900 || date > today {
        return Err(bad());
    }
    Ok(value.to_string())
}

/// Today's date in Japan as `YYYY-MM-DD` (the calendar day a person there lives in).
pub fn today(now: i64) -> String {
    crate::jst::date_text(now)
}

/// A phone number: digits with optional `+`, spaces, hyphens and parentheses; 3–20 characters.
pub fn phone(field: &str, value: &str) -> Result<String, DomainError> {
    let v = value.trim();
    let ok = (3..=20).contains(&v.len())
        && v.bytes().any(|b| b.is_ascii_digit())
        && v.bytes()
            .all(|b| b.is_ascii_digit() || b" +-()".contains(&b));
    if ok {
        Ok(v.to_string())
    } else {
        Err(DomainError::unprocessable(
            "invalid_phone",
            format!("{field}: not a phone number"),
        ))
    }
}

/// Audits a denial (outcome `denied`, detail = the error code), then returns the refusal: in its
/// own transaction, now — or, on an inline handle ([`crate::db::Db::inline`]), held on that
/// handle for [`inline`] to write before it answers. If the audit write fails, the request fails
/// with that error instead.
pub(crate) fn deny(
    db: &crate::db::Db,
    muni: &str,
    event: crate::audit::Event,
    err: DomainError,
    now: i64,
) -> DomainError {
    let mut event = event;
    event.outcome = crate::audit::Outcome::Denied;
    event.detail = Some(err.code().to_string());
    let Some(held) = db.hold_denial(crate::audit::Pending::new(muni, event, now)) else {
        return err;
    };
    match db.write(|tx| {
        crate::audit::append_held(tx, vec![held]);
        Ok::<_, DomainError>(())
    }) {
        Ok(()) => err,
        Err(audit_failed) => audit_failed,
    }
}

/// A blocking service call, run on the async worker calling this when it needs only reads
/// ([`crate::db::Db::inline`]: SQLite, a free connection). `f` gets the inline handle: its
/// reads use the handle's connection, and its denials are held there rather than written (a
/// write would wait for a commit); they are audited here, through the group-commit writer
/// without blocking a thread, before the answer is returned; if that write fails, so does the
/// call. `None`: `f` needed more (a write, a wait, or PostgreSQL) and nothing of it was kept —
/// run it on the blocking pool instead.
pub async fn inline<T>(
    db: &crate::db::Db,
    f: impl FnOnce(&crate::db::Db) -> Result<T, DomainError>,
) -> Option<Result<T, DomainError>> {
    inline_signed(db, |here| {
        f(here).map_err(|err| devices::Failed::unverified(err, 0))
    })
    .await
}

/// [`inline`] for a signed request: a failure after its signature verified
/// ([`devices::Failed`]) has its nonce spent in the same write as its held denials
/// ([`devices::Failed::settle`]), so the request's end is one write either way — the access
/// row's on success, this one on refusal.
pub async fn inline_signed<T>(
    db: &crate::db::Db,
    f: impl FnOnce(&crate::db::Db) -> Result<T, devices::Failed>,
) -> Option<Result<T, DomainError>> {
    let ran = db.inline(|here| {
        // As on the blocking pool: a panic is a 500 for this request, not a dead worker.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(here))).unwrap_or_else(|_| {
            Err(devices::Failed::unverified(
                DomainError::internal("the request's handler panicked"),
                0,
            ))
        })
    });
    let (out, denials) = ran?;
    Some(match out {
        Ok(v) if denials.is_empty() => Ok(v),
        Ok(v) => db
            .write_async(move |tx| {
                crate::audit::append_held(tx, denials);
                Ok::<_, DomainError>(())
            })
            .await
            .map(|()| v),
        Err(failed) if !failed.to_write(&denials) => Err(failed.err),
        Err(failed) => match db.write_async(failed.settle(denials)).await {
            Ok(err) | Err(err) => Err(err),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    const NOW: i64 = 1_795_000_000; // 2026-11-18

    #[test]
    fn today_is_the_day_in_japan() {
        let before_nine_jst = 1_796_597_400; // 2026-12-06 22:50 UTC = 2026-12-07 07:50 JST
        assert_eq!(today(before_nine_jst), "2026-12-07");
        assert!(past_date("last_verified", "2026-12-07", before_nine_jst).is_ok());
        assert!(past_date("last_verified", "2026-12-08", before_nine_jst).is_err());
    }

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

    /// Inside `inline`, a denial is not written where it happens (that would wait for a
    /// commit on the async worker) but before `inline` answers; a write refused inside makes
    /// it `None` with nothing kept, denials included.
    #[test]
    fn inline_audits_denials_before_answering() {
        use crate::audit::{Action, Event, Outcome};
        use crate::db::Db;
        use crate::db::testing::{municipality, temp_db};
        let temp = temp_db("deny", 4);
        let db = &temp.db;
        db.write(|tx| {
            crate::db::keys::insert_municipality(tx, &municipality("m"))?;
            crate::audit::init_chain(tx, "m").map_err(DomainError::from)
        })
        .unwrap();
        let head = |db: &Db| db.read(|c| crate::audit::head(c, "m").map_err(DomainError::from));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let refuse = |db: &Db| {
            let event = Event::new(Action::Scan, Outcome::Denied);
            deny(
                db,
                "m",
                event,
                DomainError::forbidden_code("card_revoked", "x"),
                NOW,
            )
        };

        let answer: Option<Result<(), DomainError>> = rt.block_on(inline(db, |here| {
            let err = refuse(here);
            assert_eq!(head(here).unwrap().0, 0, "not written inside");
            Err(err)
        }));
        let err = answer.expect("reads and a denial only").unwrap_err();
        assert_eq!(err.code(), "card_revoked");
        assert_eq!(head(db).unwrap().0, 1, "written before the answer");
        let verified =
            db.read(|c| crate::audit::verify(c, "m", None).map_err(DomainError::internal));
        assert_eq!(verified.unwrap(), 1);

        // A denial, then a write: all of it is dropped, to be run again on the blocking pool.
        let answer: Option<Result<(), DomainError>> = rt.block_on(inline(db, |here| {
            let _ = refuse(here);
            here.write(|c| crate::audit::init_chain(c, "n").map_err(DomainError::from))
        }));
        assert!(answer.is_none());
        assert_eq!(
            head(db).unwrap().0,
            1,
            "the held-back denial was not written"
        );

        // A panic is this call's 500, and leaves nothing behind.
        let answer: Option<Result<(), DomainError>> =
            rt.block_on(inline(db, |_| panic!("a bug in a handler")));
        let err = answer.expect("no write was refused").unwrap_err();
        assert_eq!(err.kind(), crate::service::error::Kind::Internal);
        assert_eq!(
            rt.block_on(inline(db, |_| Ok(1))).map(|r| r.unwrap()),
            Some(1)
        );

        // Outside `inline`, a denial is written where it happens.
        let _ = refuse(db);
        assert_eq!(head(db).unwrap().0, 2);
    }

    #[test]
    fn texts() {
        assert_eq!(text("n", "  山田  ", 1, 10).unwrap(), "山田");
        assert!(text("n", "", 1, 10).is_err());
        assert!(text("n", "a\u{0}b", 1, 10).is_err());
        assert!(text("n", &"x".repeat(11), 1, 10).is_err());
        // NFC: decomposed input is stored composed, and counted after composing.
        assert_eq!(text("n", "\u{304B}\u{3099}", 1, 1).unwrap(), "\u{304C}");
        assert_eq!(text("n", "Jose\u{301}", 1, 4).unwrap(), "Jos\u{E9}");
    }

    #[test]
    fn bidi_controls_and_invisible_characters_are_refused_with_the_field() {
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{200B}', '\u{200C}',
            '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}',
        ] {
            for value in [format!("山{c}田"), format!("{c}山田"), format!("山田{c}")] {
                let err = text("family_name", &value, 1, 50).unwrap_err();
                assert_eq!(err.code(), "invalid_field", "{:04X}", u32::from(c));
                let message = err.message();
                assert!(
                    message.starts_with("family_name: ")
                        && message.contains(&format!("U+{:04X}", u32::from(c))),
                    "{message}"
                );
                assert!(opt_text("note", &Some(value.clone()), 50).is_err());
            }
        }
        // What stays allowed: Japanese, Latin with accents, ideographic and ordinary spaces, the
        // prolonged sound mark, emoji without joiners.
        for ok in [
            "山田 花子",
            "ヤマダ　ハナコ",
            "José Müller-Ōta",
            "ゆーこ",
            "a.b@c",
            "🚑",
        ] {
            assert_eq!(text("n", ok, 1, 50).unwrap(), ok);
        }
        assert_eq!(hidden_char('a'), None);
        assert_eq!(hidden_char('\u{3000}'), None);
        assert!(phone("p", "029-123-4567").is_ok());
        assert!(phone("p", "'; DROP TABLE").is_err());
    }
}
