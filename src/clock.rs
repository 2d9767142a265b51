//! The CLI's clock. `SIGNET_NOW` (Unix seconds) fixes "now" for reproducible output, the way
//! `SOURCE_DATE_EPOCH` does for builds: tests and documentation examples use it.
//! `SIGNET_NOW=+N` (or `-N`) instead shifts the running system clock by N seconds: time passes,
//! and every process given the same offset agrees on it (our addition, for running the gateway
//! near a key-rolling boundary in tests).

/// How `SIGNET_NOW` sets the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Fixed(i64),
    Offset(i64),
    System,
}

/// Reads a `SIGNET_NOW` value.
pub fn setting(value: Option<&str>) -> Setting {
    let Some(v) = value.map(str::trim) else {
        return Setting::System;
    };
    if v.starts_with('+') || (v.starts_with('-') && v.len() > 1) {
        return v
            .trim_start_matches('+')
            .parse::<i64>()
            .map_or(Setting::System, Setting::Offset);
    }
    v.parse::<i64>().map_or(Setting::System, Setting::Fixed)
}

/// The time under a setting.
pub fn at(setting: Setting) -> i64 {
    match setting {
        Setting::Fixed(t) => t,
        Setting::Offset(d) => jose::time::now().saturating_add(d),
        Setting::System => jose::time::now(),
    }
}

/// Seconds since the Unix epoch: `SIGNET_NOW` if set, else the system clock.
pub fn now() -> i64 {
    at(setting(std::env::var("SIGNET_NOW").ok().as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_offset_or_system() {
        assert_eq!(setting(Some("1764000000")), Setting::Fixed(1_764_000_000));
        assert_eq!(setting(Some("+120")), Setting::Offset(120));
        assert_eq!(setting(Some("-3600")), Setting::Offset(-3600));
        assert_eq!(setting(Some("soon")), Setting::System);
        assert_eq!(setting(None), Setting::System);
        assert_eq!(at(Setting::Fixed(5)), 5);
        let shifted = at(Setting::Offset(1000)) - jose::time::now();
        assert!((999..=1001).contains(&shifted));
    }
}
