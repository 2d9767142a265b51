//! Clock and human-readable durations ("3 h ago", "in 12 min").

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// A signed distance from now, printed the way people say it: `3 h ago`, `in 12 min`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ago {
    /// Seconds; positive means in the past.
    pub seconds: f64,
}

impl Ago {
    pub fn between(then: f64, now: i64) -> Ago {
        Ago {
            seconds: now as f64 - then,
        }
    }
}

/// A Julian year in seconds (365.25 days).
const YEAR: f64 = 31_557_600.0;

/// Formats an unsigned number of seconds in its largest whole unit: `45 s`, `12 min`, `3 h`,
/// `2 d`, and from two years on `14 years`.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.abs().floor();
    let (n, unit) = if s < 60.0 {
        (s, "s")
    } else if s < 3600.0 {
        ((s / 60.0).floor(), "min")
    } else if s < 86_400.0 {
        ((s / 3600.0).floor(), "h")
    } else if s < 2.0 * YEAR {
        ((s / 86_400.0).floor(), "d")
    } else {
        ((s / YEAR).floor(), "years")
    };
    format!("{n} {unit}")
}

impl fmt::Display for Ago {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.seconds >= 0.0 {
            write!(f, "{} ago", human_duration(self.seconds))
        } else {
            write!(f, "in {}", human_duration(self.seconds))
        }
    }
}

/// RFC 3339 UTC rendering of a NumericDate, e.g. `2026-11-24T10:00:00Z`; None if out of range.
pub fn rfc3339(secs: f64) -> Option<String> {
    if !secs.is_finite() || secs.abs() > 253_402_300_799.0 {
        return None;
    }
    let total = secs.floor() as i64;
    let days = total.div_euclid(86_400);
    let rem = total.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    ))
}

// Howard Hinnant's days-from-civil inverse; exact for the proleptic Gregorian calendar.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_speech() {
        assert_eq!(
            Ago::between(1000.0, 1000 + 3 * 3600 + 59).to_string(),
            "3 h ago"
        );
        assert_eq!(Ago::between(1000.0, 955).to_string(), "in 45 s");
        assert_eq!(Ago::between(0.0, 12 * 60).to_string(), "12 min ago");
        assert_eq!(Ago::between(0.0, 2 * 86_400 + 5).to_string(), "2 d ago");
        assert_eq!(Ago::between(0.0, 700 * 86_400).to_string(), "700 d ago");
        // PingOne's documented example token, decoded in 2025.
        assert_eq!(
            Ago::between(1_300_819_391.0, 1_764_000_000).to_string(),
            "14 years ago"
        );
    }

    #[test]
    fn rfc3339_matches_known_dates() {
        assert_eq!(rfc3339(0.0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            rfc3339(1_451_606_400.0).as_deref(),
            Some("2016-01-01T00:00:00Z")
        );
        assert_eq!(
            rfc3339(951_782_400.0).as_deref(),
            Some("2000-02-29T00:00:00Z")
        );
        assert_eq!(rfc3339(-1.0).as_deref(), Some("1969-12-31T23:59:59Z"));
        assert_eq!(rfc3339(f64::NAN), None);
        assert_eq!(rfc3339(1e300), None);
    }
}
