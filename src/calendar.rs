//! Calendar arithmetic with no date library: days since the Unix epoch ⇄ `YYYY-MM-DD`, and event
//! timestamps (ms since the epoch, UTC) as text. Used by the simulator's date partitions, the CLI's
//! trees and the editor's hovers.

use std::fmt::Write;

pub const HOUR_MS: u64 = 3_600_000;
pub const DAY_MS: u64 = 24 * HOUR_MS;

/// `(year, month, day)` of a day number (days since 1970-01-01), by Howard Hinnant's `civil_from_days`.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe as i64 + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Appends the day as `YYYY-MM-DD`.
pub fn write_date(out: &mut String, days: i64) {
    let (y, m, d) = civil_from_days(days);
    write!(out, "{y:04}-{m:02}-{d:02}").expect("writing to a String cannot fail");
}

/// An event timestamp as `YYYY-MM-DD HH:MM:SS.mmm` (UTC).
pub fn format_timestamp(ms: u64) -> String {
    let mut out = format_timestamp_seconds(ms);
    write!(out, ".{:03}", ms % 1000).expect("writing to a String cannot fail");
    out
}

/// An event timestamp as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn format_timestamp_seconds(ms: u64) -> String {
    let secs = ms / 1000;
    let mut out = String::with_capacity(23);
    write_date(&mut out, (secs / 86_400) as i64);
    let rem = secs % 86_400;
    write!(out, " {:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60).expect("writing to a String cannot fail");
    out
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
    }

    #[test]
    fn timestamps() {
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00.000");
        assert_eq!(format_timestamp(1_750_000_000_000), "2025-06-15 15:06:40.000");
        assert_eq!(format_timestamp(951_782_400_123), "2000-02-29 00:00:00.123");
        assert_eq!(format_timestamp_seconds(951_782_400_123), "2000-02-29 00:00:00");
    }
}
