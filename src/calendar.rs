//! Dates and event timestamps (ms since the epoch, UTC) as text, by `jiff`. Used by the simulator's
//! date partitions, the CLI's trees and the editor's hovers.
//!
//! Timestamps come from the log, so any `u64` must format without panicking: one outside the
//! calendar's range (after the year 9999) is shown as raw milliseconds.

use std::fmt::Write;

use jiff::civil::Date;
use jiff::{Span, Timestamp};

pub const HOUR_MS: u64 = 3_600_000;
pub const DAY_MS: u64 = 24 * HOUR_MS;

/// Appends the day `days` after 1970-01-01 as `YYYY-MM-DD`.
pub fn write_date(out: &mut String, days: i64) {
    match Span::new().try_days(days).and_then(|span| Date::constant(1970, 1, 1).checked_add(span)) {
        Ok(date) => write!(out, "{date}"),
        Err(_) => write!(out, "day {days}"),
    }
    .expect("writing to a String cannot fail");
}

fn timestamp(ms: u64, format: &str) -> String {
    match i64::try_from(ms).ok().and_then(|ms| Timestamp::from_millisecond(ms).ok()) {
        Some(t) => t.strftime(format).to_string(),
        None => format!("{ms} ms since 1970"),
    }
}

/// An event timestamp as `YYYY-MM-DD HH:MM:SS.mmm` (UTC).
pub fn format_timestamp(ms: u64) -> String {
    timestamp(ms, "%Y-%m-%d %H:%M:%S%.3f")
}

/// An event timestamp as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn format_timestamp_seconds(ms: u64) -> String {
    timestamp(ms, "%Y-%m-%d %H:%M:%S")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(days: i64) -> String {
        let mut s = String::new();
        write_date(&mut s, days);
        s
    }

    #[test]
    fn known_dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(20_089), "2025-01-01");
        assert_eq!(date(20_089 + 58), "2025-02-28");
        assert_eq!(date(20_089 + 59), "2025-03-01");
        assert_eq!(date(19_782), "2024-02-29");
        assert_eq!(date(-1), "1969-12-31");
        assert_eq!(date(i64::MAX), format!("day {}", i64::MAX));
    }

    #[test]
    fn timestamps() {
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00.000");
        assert_eq!(format_timestamp(1_750_000_000_000), "2025-06-15 15:06:40.000");
        assert_eq!(format_timestamp(951_782_400_123), "2000-02-29 00:00:00.123");
        assert_eq!(format_timestamp_seconds(951_782_400_123), "2000-02-29 00:00:00");
        assert_eq!(format_timestamp(u64::MAX), format!("{} ms since 1970", u64::MAX));
    }
}
