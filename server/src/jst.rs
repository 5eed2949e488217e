//! Japan time for people. Every date or time a person reads (pages, printables, the disclosure
//! export) is in Japan Standard Time: UTC+9, with no daylight saving since 1951, so a fixed offset
//! is exact. The API and the database keep Unix seconds (UTC); only what is shown is converted.

use time::{Date, OffsetDateTime, UtcOffset};

/// Japan Standard Time.
pub const OFFSET: UtcOffset = time::macros::offset!(+9);

/// The instant `t` (Unix seconds) in Japan time; `None` out of `time`'s range.
pub fn at(t: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .map(|d| d.to_offset(OFFSET))
}

/// The calendar day in Japan at `t`.
pub fn date(t: i64) -> Option<Date> {
    at(t).map(|d| d.date())
}

/// The calendar day in Japan at `t` as `YYYY-MM-DD` (empty out of range).
pub fn date_text(t: i64) -> String {
    date(t).map(|d| d.to_string()).unwrap_or_default()
}

/// `YYYY-MM-DD HH:MM` in Japan time, without a label (empty out of range).
pub fn minute_text(t: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    at(t).and_then(|d| d.format(&fmt).ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-06 22:50 UTC = 2026-12-07 07:50 JST.
    const BEFORE_NINE_JST: i64 = 1_796_597_400;

    #[test]
    fn before_nine_in_the_morning_japan_is_already_on_the_next_day() {
        assert_eq!(
            OffsetDateTime::from_unix_timestamp(BEFORE_NINE_JST)
                .unwrap()
                .date()
                .to_string(),
            "2026-12-06"
        );
        assert_eq!(date_text(BEFORE_NINE_JST), "2026-12-07");
        assert_eq!(minute_text(BEFORE_NINE_JST), "2026-12-07 07:50");
    }

    #[test]
    fn the_day_changes_at_midnight_japan_time_which_is_15_00_utc() {
        let midnight_jst = 1_796_569_200; // 2026-12-06 15:00:00 UTC
        assert_eq!(date_text(midnight_jst - 1), "2026-12-06");
        assert_eq!(minute_text(midnight_jst - 1), "2026-12-06 23:59");
        assert_eq!(date_text(midnight_jst), "2026-12-07");
        assert_eq!(minute_text(midnight_jst), "2026-12-07 00:00");
    }

    #[test]
    fn no_daylight_saving_in_summer() {
        // 2026-07-01 00:00 UTC is 09:00 JST, as in winter.
        assert_eq!(minute_text(1_782_864_000), "2026-07-01 09:00");
    }

    #[test]
    fn out_of_range_is_empty_not_a_panic() {
        assert_eq!(date_text(i64::MAX), "");
        assert_eq!(minute_text(i64::MIN), "");
    }
}
