//! The CLI's clock. `SIGNET_NOW` (Unix seconds) fixes "now" for reproducible output, the way
//! `SOURCE_DATE_EPOCH` does for builds: tests and documentation examples use it.

/// Seconds since the Unix epoch: `SIGNET_NOW` if set to an integer, else the system clock.
pub fn now() -> i64 {
    std::env::var("SIGNET_NOW")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or_else(jose::time::now)
}
