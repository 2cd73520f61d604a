//! Date text `yyyy-MM-dd HH:mm:ss.SSS` in UTC, as the SDK writes and reads it, with the
//! civil-date arithmetic behind it.
//!
//! The SDK formats dates with Java's `GregorianCalendar`, which is Julian before
//! 1582-10-15 and counts years in eras: the day before 0001-01-01 is 0001-12-31 of the
//! era before Christ, written without a sign. This module does the same, so every date
//! it writes is the text a Java peer writes; dates before year 1 therefore do not read
//! back to the same instant (the era is not in the text, for Java either).
//!
//! Reading accepts the SDK's pattern (`\d{4,5}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}.\d{3}`,
//! any character in place of the `.`), with years of up to nine digits because
//! [`format`] writes them for instants past year 99999. Out-of-range fields roll over as
//! in Java's lenient calendar: month 13 is January of the next year, day 0 the last day
//! of the month before.

use alloc::vec::Vec;

const MS_PER_DAY: i64 = 86_400_000;

/// 1582-10-15, the first Gregorian day, in days since 1970-01-01.
const GREGORIAN_CUTOVER_DAY: i64 = -141_427;

/// Days from 1970-01-01 to 0000-03-01 of the proleptic Gregorian calendar (negated).
const GREGORIAN_MARCH_0: i64 = 719_468;

/// Days from 1970-01-01 to 0000-03-01 of the Julian calendar (negated).
const JULIAN_MARCH_0: i64 = 719_470;

/// Day of a March-based year (March 1 = 0) of month `m` (1-12), day `d`.
fn day_of_march_year(m: i64, d: i64) -> i64 {
    let mp = (m + 9) % 12;
    (153 * mp + 2) / 5 + d - 1
}

/// Month (1-12) and day of a day of a March-based year.
fn month_day(doy: i64) -> (i64, i64) {
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (`m` 1-12, `d` from 1).
fn days_from_gregorian(y: i64, m: i64, d: i64) -> i64 {
    // Counting years from March puts the leap day at the end of the year.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + day_of_march_year(m, d);
    era * 146_097 + doe - GREGORIAN_MARCH_0
}

/// The proleptic Gregorian date of a day since 1970-01-01.
fn gregorian_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + GREGORIAN_MARCH_0;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let (m, d) = month_day(doe - (365 * yoe + yoe / 4 - yoe / 100));
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of a Julian date.
fn days_from_julian(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(4);
    let yoe = y - era * 4;
    era * 1461 + yoe * 365 + day_of_march_year(m, d) - JULIAN_MARCH_0
}

/// The Julian date of a day since 1970-01-01.
fn julian_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + JULIAN_MARCH_0;
    let era = z.div_euclid(1461);
    let doe = z - era * 1461;
    let yoe = (doe - doe / 1460) / 365;
    let (m, d) = month_day(doe - 365 * yoe);
    (yoe + era * 4 + i64::from(m <= 2), m, d)
}

/// Appends `value` in decimal, zero-padded to `width` digits.
fn push_padded(out: &mut Vec<u8>, value: i64, width: usize) {
    let mut digits = [0u8; 20];
    let mut n = value.unsigned_abs();
    let mut len = 0;
    loop {
        if let Some(slot) = digits.get_mut(len) {
            // n % 10 < 10, so the cast cannot truncate.
            *slot = b'0' + (n % 10) as u8;
        }
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for _ in len..width {
        out.push(b'0');
    }
    for i in (0..len).rev() {
        out.push(digits.get(i).copied().unwrap_or(b'0'));
    }
}

/// Appends the SDK's text of an instant (milliseconds since the epoch, UTC).
pub fn format(ms: i64, out: &mut Vec<u8>) {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (y, m, d) = if days >= GREGORIAN_CUTOVER_DAY {
        gregorian_from_days(days)
    } else {
        julian_from_days(days)
    };
    // Java's YEAR field counts within the era: astronomical year 0 is 1 BC.
    let year = if y <= 0 { 1 - y } else { y };
    push_padded(out, year, 4);
    out.push(b'-');
    push_padded(out, m, 2);
    out.push(b'-');
    push_padded(out, d, 2);
    out.push(b' ');
    push_padded(out, in_day / 3_600_000, 2);
    out.push(b':');
    push_padded(out, in_day / 60_000 % 60, 2);
    out.push(b':');
    push_padded(out, in_day / 1000 % 60, 2);
    out.push(b'.');
    push_padded(out, in_day % 1000, 3);
}

/// The SDK's text of an instant, as a `String`.
pub fn to_string(ms: i64) -> alloc::string::String {
    let mut out = Vec::with_capacity(23);
    format(ms, &mut out);
    alloc::string::String::from_utf8(out).unwrap_or_default()
}

/// Reads `n` ASCII digits at `text[at..]`.
fn digits(text: &[u8], at: usize, n: usize) -> Option<i64> {
    let field = text.get(at..at.checked_add(n)?)?;
    field.iter().try_fold(0i64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// Reads the SDK's date text; `None` if it does not follow the pattern or the instant
/// does not fit in 64 bits of milliseconds.
pub fn parse(text: &str) -> Option<i64> {
    let t = text.as_bytes();
    let year_len = t.iter().position(|&b| b == b'-')?;
    if !(4..=9).contains(&year_len) || t.len() != year_len + 19 {
        return None;
    }
    let year = digits(t, 0, year_len)?;
    let at = |i: usize| year_len + i;
    let separators = [(0, b'-'), (3, b'-'), (6, b' '), (9, b':'), (12, b':')];
    if separators
        .iter()
        .any(|&(i, sep)| t.get(at(i)) != Some(&sep))
    {
        return None;
    }
    let month = digits(t, at(1), 2)?;
    let day = digits(t, at(4), 2)?;
    let hour = digits(t, at(7), 2)?;
    let minute = digits(t, at(10), 2)?;
    let second = digits(t, at(13), 2)?;
    // The SDK's pattern has an unescaped `.` here: any character matches.
    let milli = digits(t, at(16), 3)?;

    let y = year + (month - 1).div_euclid(12);
    let m = (month - 1).rem_euclid(12) + 1;
    // Java picks the calendar by year; within 1582 by whether the Gregorian reading
    // falls on or after the cutover.
    let gregorian = days_from_gregorian(y, m, 1) + day - 1;
    let days = if y > 1582 || (y == 1582 && gregorian >= GREGORIAN_CUTOVER_DAY) {
        gregorian
    } else {
        days_from_julian(y, m, 1) + day - 1
    };
    days.checked_mul(MS_PER_DAY)?
        .checked_add(hour * 3_600_000 + minute * 60_000 + second * 1000 + milli)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ms: i64) -> alloc::string::String {
        to_string(ms)
    }

    /// Texts from Java's GregorianCalendar (UTC) for these instants.
    #[test]
    fn matches_java_calendar() {
        for (ms, text) in [
            (0, "1970-01-01 00:00:00.000"),
            (-1, "1969-12-31 23:59:59.999"),
            (949_406_400_000, "2000-02-01 12:00:00.000"),
            (1_700_000_000_123, "2023-11-14 22:13:20.123"),
            (-12_219_292_800_000, "1582-10-15 00:00:00.000"),
            (-12_219_292_800_001, "1582-10-04 23:59:59.999"),
            (-62_135_769_600_000, "0001-01-01 00:00:00.000"),
            (-62_135_769_600_001, "0001-12-31 23:59:59.999"),
            (-62_135_596_800_000, "0001-01-03 00:00:00.000"),
            (253_402_300_799_999, "9999-12-31 23:59:59.999"),
            (i64::MAX, "292278994-08-17 07:12:55.807"),
            (i64::MIN, "292269055-12-02 16:47:04.192"),
        ] {
            assert_eq!(s(ms), text, "{ms}");
        }
    }

    #[test]
    fn reads_back_and_rolls_over_like_java() {
        assert_eq!(parse("2023-11-14 22:13:20.123"), Some(1_700_000_000_123));
        assert_eq!(parse("2023-11-14 22:13:20,123"), Some(1_700_000_000_123));
        assert_eq!(parse("0001-01-01 00:00:00.000"), Some(-62_135_769_600_000));
        assert_eq!(parse("292278994-08-17 07:12:55.807"), Some(i64::MAX));
        // Java: month 13 day 40 of 2023 is 2024-02-09; 1582-10-10 falls in the gap and
        // is read as Julian.
        assert_eq!(parse("2023-13-40 00:00:00.000"), Some(1_707_436_800_000));
        assert_eq!(parse("1582-10-10 00:00:00.000"), Some(-12_218_860_800_000));
        assert_eq!(parse("999999999-01-01 00:00:00.000"), None);
        for bad in [
            "",
            "2023-11-14",
            "23-11-14 22:13:20.123",
            "2023-11-14T22:13:20.123",
            "2023-1x-14 22:13:20.123",
            "2023-11-14 22:13:20.1234",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn calendars_agree_with_themselves() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = gregorian_from_days(days);
            assert_eq!(days_from_gregorian(y, m, d), days);
            let (y, m, d) = julian_from_days(days);
            assert_eq!(days_from_julian(y, m, d), days);
        }
    }
}
