//! The little calendar arithmetic the runbooks need (`global:DATE`, `global:DATE_TIME`,
//! `aws:sleep`'s ISO-8601 `Duration` and `Timestamp`), in UTC, without a date-time dependency.
//! Times are epoch milliseconds (`i64`) everywhere in this crate: trivially serializable and
//! the same in SQLite and PostgreSQL.

/// Days since 1970-01-01 → (year, month, day). Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01. Howard Hinnant's `days_from_civil`.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn split(ms: i64) -> (i64, u32, u32, i64, i64, i64) {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    (y, mo, d, s / 3600, (s / 60) % 60, s % 60)
}

/// `global:DATE`: `yyyy-MM-dd` (UTC).
pub fn format_date(epoch_ms: i64) -> String {
    let (y, mo, d, ..) = split(epoch_ms);
    format!("{y:04}-{mo:02}-{d:02}")
}

/// `global:DATE_TIME`: `yyyy-MM-dd_HH.mm.ss` (UTC).
pub fn format_date_time(epoch_ms: i64) -> String {
    let (y, mo, d, h, mi, s) = split(epoch_ms);
    format!("{y:04}-{mo:02}-{d:02}_{h:02}.{mi:02}.{s:02}")
}

/// ISO-8601 duration as `aws:sleep` takes it (`PT10S`, `PT5M`, `P1DT2H`, `PT0.5S`, `P1W`) →
/// milliseconds. Years and months are refused: their length is not fixed.
pub fn parse_iso8601_duration(text: &str) -> Option<u64> {
    let rest = text
        .trim()
        .strip_prefix('P')
        .or_else(|| text.trim().strip_prefix('p'))?;
    if rest.is_empty() {
        return None;
    }
    let mut total_ms: f64 = 0.0;
    let mut in_time = false;
    let mut number = String::new();
    let mut any = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            'T' if !in_time && number.is_empty() => in_time = true,
            c2 if c2.is_ascii_digit() || c2 == '.' || c2 == ',' => {
                number.push(if c2 == ',' { '.' } else { c2 })
            }
            unit => {
                let n: f64 = number.parse().ok()?;
                number.clear();
                let secs = match (in_time, unit) {
                    (false, 'W') => 604_800.0,
                    (false, 'D') => 86_400.0,
                    (true, 'H') => 3600.0,
                    (true, 'M') => 60.0,
                    (true, 'S') => 1.0,
                    _ => return None,
                };
                total_ms += n * secs * 1000.0;
                any = true;
            }
        }
    }
    if !number.is_empty() || !any || !total_ms.is_finite() {
        return None;
    }
    Some(total_ms.round() as u64)
}

/// ISO-8601 / RFC 3339 timestamp (`2024-01-02T03:04:05Z`, `…05.123+02:00`; a missing zone is
/// UTC) → epoch milliseconds.
pub fn parse_iso8601_timestamp(text: &str) -> Option<i64> {
    let t = text.trim();
    let b = t.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &t[19..];
    let mut ms = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.is_empty() {
            return None;
        }
        let padded = format!("{:0<3}", &digits[..digits.len().min(3)]);
        ms = padded.parse().ok()?;
        rest = &frac[digits.len()..];
    }
    let offset_secs = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hm = rest[1..].replace(':', "");
            if hm.len() != 4 || !hm.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let oh: i64 = hm[..2].parse().ok()?;
            let om: i64 = hm[2..].parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    Some((days * 86_400 + h * 3600 + mi * 60 + s - offset_secs) * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        // 2024-02-29T13:14:15.678Z
        let ms = parse_iso8601_timestamp("2024-02-29T13:14:15.678Z").unwrap();
        assert_eq!(ms, 1_709_212_455_678);
        assert_eq!(format_date(ms), "2024-02-29");
        assert_eq!(format_date_time(ms), "2024-02-29_13.14.15");
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(
            parse_iso8601_timestamp("2024-02-29T15:14:15+02:00").unwrap(),
            1_709_212_455_000
        );
        assert_eq!(parse_iso8601_timestamp("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_iso8601_timestamp("yesterday"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_iso8601_duration("PT10S"), Some(10_000));
        assert_eq!(parse_iso8601_duration("PT10M"), Some(600_000));
        assert_eq!(parse_iso8601_duration("P1DT1H"), Some(90_000_000));
        assert_eq!(parse_iso8601_duration("PT0.5S"), Some(500));
        assert_eq!(parse_iso8601_duration("P1W"), Some(604_800_000));
        assert_eq!(parse_iso8601_duration("PT"), None);
        assert_eq!(parse_iso8601_duration("P1M"), None);
        assert_eq!(parse_iso8601_duration("10s"), None);
    }
}
