//! The date in the United Kingdom, for ages: a resident born on 24 June turns 16 on
//! 24 June in the UK, which starts at 23:00 UTC the evening before during British Summer
//! Time.
//!
//! UK clocks run on GMT (UTC) and on BST (UTC + 1) from 01:00 UTC on the last Sunday in
//! March to 01:00 UTC on the last Sunday in October (The Summer Time Order 2002).
//!
//! Written here rather than taken from `chrono-tz`: this one rule is a dozen lines, where
//! the crate compiles the whole IANA time-zone database into the binary.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

/// The calendar date in the UK at `instant`.
pub fn uk_date(instant: DateTime<Utc>) -> NaiveDate {
    let offset = if in_summer_time(instant) {
        Duration::hours(1)
    } else {
        Duration::zero()
    };
    (instant + offset).date_naive()
}

/// Whether UK clocks show British Summer Time at `instant`.
pub fn in_summer_time(instant: DateTime<Utc>) -> bool {
    let year = instant.year();
    let starts = change_over(year, 3);
    let ends = change_over(year, 10);
    instant >= starts && instant < ends
}

/// 01:00 UTC on the last Sunday of `month` (March or October, both of 31 days) in `year`.
fn change_over(year: i32, month: u32) -> DateTime<Utc> {
    // Every year an instant can fall in has these dates.
    let Some(last_day) = NaiveDate::from_ymd_opt(year, month, 31) else {
        return DateTime::<Utc>::MIN_UTC;
    };
    let sunday = last_day - Duration::days(i64::from(last_day.weekday().num_days_from_sunday()));
    sunday
        .and_hms_opt(1, 0, 0)
        .map_or(DateTime::<Utc>::MIN_UTC, |t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn summer_time_runs_from_the_last_sunday_in_march_to_the_last_in_october() {
        // 2026: 29 March and 25 October; 2027: 28 March and 31 October.
        assert!(!in_summer_time(at("2026-03-29T00:59:59Z")));
        assert!(in_summer_time(at("2026-03-29T01:00:00Z")));
        assert!(in_summer_time(at("2026-10-25T00:59:59Z")));
        assert!(!in_summer_time(at("2026-10-25T01:00:00Z")));
        assert!(in_summer_time(at("2027-03-28T01:00:00Z")));
        assert!(in_summer_time(at("2027-10-31T00:30:00Z")));
        assert!(!in_summer_time(at("2027-10-31T01:00:00Z")));
        assert_eq!(
            (Weekday::Sun, Weekday::Sun),
            (
                change_over(2027, 3).weekday(),
                change_over(2027, 10).weekday()
            )
        );
    }

    #[test]
    fn the_uk_date_turns_at_uk_midnight() {
        assert_eq!(uk_date(at("2026-06-23T22:59:59Z")), date(2026, 6, 23));
        assert_eq!(uk_date(at("2026-06-23T23:00:00Z")), date(2026, 6, 24));
        assert_eq!(uk_date(at("2026-12-31T23:30:00Z")), date(2026, 12, 31));
        assert_eq!(uk_date(at("2027-01-01T00:00:00Z")), date(2027, 1, 1));
    }
}
