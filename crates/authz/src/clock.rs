//! The emulator's clock, in Unix milliseconds, and PingOne's timestamp format.
//!
//! The system clock by default. `Clock::starting_at` starts the clock at a given instant and lets
//! it run (monotonically) from there, so `SIGNET_NOW` fixes the server's "now" at start-up while
//! flows and codes still expire.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub enum Clock {
    System,
    Offset { start_ms: i64, started: Instant },
}

impl Clock {
    pub fn system() -> Clock {
        Clock::System
    }

    /// A clock that reads `unix_seconds` now and advances in real time.
    pub fn starting_at(unix_seconds: i64) -> Clock {
        Clock::Offset {
            start_ms: unix_seconds.saturating_mul(1000),
            started: Instant::now(),
        }
    }

    /// Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => match SystemTime::now().duration_since(UNIX_EPOCH) {
                Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
                Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
            },
            Clock::Offset { start_ms, started } => start_ms
                .saturating_add(i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)),
        }
    }
}

/// ISO 8601 UTC with milliseconds, as PingOne writes `createdAt`: `2021-07-20T22:51:31.743Z`.
pub fn iso_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    match jose::time::rfc3339(secs as f64) {
        Some(s) => format!("{}.{frac:03}Z", s.trim_end_matches('Z')),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_milliseconds() {
        assert_eq!(iso_millis(1_626_821_491_743), "2021-07-20T22:51:31.743Z");
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_millis(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn an_offset_clock_starts_where_told_and_runs() {
        let c = Clock::starting_at(1_000);
        let t = c.now_ms();
        assert!((1_000_000..1_010_000).contains(&t), "{t}");
        assert!(Clock::system().now_ms() > 1_700_000_000_000);
    }
}
