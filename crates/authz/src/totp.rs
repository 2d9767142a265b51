//! TOTP devices (RFC 6238 over RFC 4226's HOTP): HMAC-SHA-1 (aws-lc-rs), 30-second steps from
//! the Unix epoch, 6 digits, and one step of clock drift either way, as authenticator apps and
//! PingOne's TOTP devices use them. Secrets are configured in base32 (RFC 4648), the form
//! authenticator apps take.

use aws_lc_rs::hmac;

pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: u32 = 6;
/// Steps of drift accepted either way.
pub const DRIFT_STEPS: i64 = 1;

/// A base32 secret (upper or lower case, `=` padding and spaces ignored), at least 10 bytes.
pub fn decode_secret(text: &str) -> Result<Vec<u8>, String> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let bytes = data_encoding::BASE32_NOPAD
        .decode(cleaned.as_bytes())
        .map_err(|e| format!("not base32 ({e})"))?;
    if bytes.len() < 10 {
        return Err(format!(
            "{} bytes; a TOTP secret needs at least 10 (RFC 4226 §4: 128 bits recommended)",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// HOTP (RFC 4226 §5.3) of `counter`, `digits` long.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let word = mac
        .get(offset..offset + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, |b| u32::from_be_bytes(b) & 0x7fff_ffff);
    let modulus = 10u32.saturating_pow(digits);
    format!("{:0width$}", word % modulus, width = digits as usize)
}

/// The code at Unix time `now`.
pub fn code_at(secret: &[u8], now: i64) -> String {
    hotp(
        secret,
        u64::try_from(now.div_euclid(STEP_SECONDS)).unwrap_or(0),
        DIGITS,
    )
}

/// Whether `code` is the code of the step at `now`, or of one step before or after.
pub fn verify(secret: &[u8], code: &str, now: i64) -> bool {
    let code = code.trim();
    (-DRIFT_STEPS..=DRIFT_STEPS).any(|d| {
        let at = now.saturating_add(d * STEP_SECONDS);
        aws_lc_rs::constant_time::verify_slices_are_equal(
            code_at(secret, at).as_bytes(),
            code.as_bytes(),
        )
        .is_ok()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B (SHA-1 seed "12345678901234567890"), 8 digits.
    #[test]
    fn rfc_6238_vectors() {
        let seed = b"12345678901234567890";
        for (t, expected) in [
            (59_i64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(hotp(seed, (t / 30) as u64, 8), expected, "T = {t}");
        }
        // RFC 4226 Appendix D: HOTP, 6 digits.
        assert_eq!(hotp(seed, 0, 6), "755224");
        assert_eq!(hotp(seed, 9, 6), "520489");
    }

    #[test]
    fn codes_are_accepted_one_step_either_way() {
        let secret = decode_secret("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
        assert_eq!(secret, b"12345678901234567890");
        let now = 1_764_000_015;
        let code = code_at(&secret, now);
        assert!(verify(&secret, &code, now));
        assert!(verify(&secret, &code, now + 30));
        assert!(verify(&secret, &code, now - 30));
        assert!(!verify(&secret, &code, now + 60));
        assert!(!verify(&secret, "000000x", now));
        assert_eq!(
            decode_secret("gezd gnbv gy3t qojq gezd gnbv gy3t qojq====").unwrap(),
            secret
        );
        assert!(decode_secret("not base32!").is_err());
        assert!(decode_secret("GEZDGNBV")
            .unwrap_err()
            .contains("at least 10"));
    }
}
