//! Randomness for identifiers, authorization codes and one-time passcodes. Behind a trait so
//! the flow state machine can be tested with a predictable source.

/// A source of random bytes.
pub trait Random {
    fn fill(&mut self, out: &mut [u8]) -> Result<(), jose::Error>;
}

/// The operating system's generator, through aws-lc-rs.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRandom;

impl Random for SystemRandom {
    fn fill(&mut self, out: &mut [u8]) -> Result<(), jose::Error> {
        jose::key::random_bytes(out)
    }
}

/// A six-digit passcode, uniform over 000000..=999999 (rejection sampling, no modulo bias).
pub fn otp(rng: &mut dyn Random) -> Result<String, jose::Error> {
    // The largest multiple of 10^6 that fits in a u32.
    const LIMIT: u32 = 4_294_000_000;
    loop {
        let mut b = [0u8; 4];
        rng.fill(&mut b)?;
        let n = u32::from_be_bytes(b);
        if n < LIMIT {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

/// A random (version 4) UUID, the form of PingOne's ids.
pub fn uuid(rng: &mut dyn Random) -> Result<String, jose::Error> {
    let mut b = [0u8; 16];
    rng.fill(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        hex.get(0..8).unwrap_or_default(),
        hex.get(8..12).unwrap_or_default(),
        hex.get(12..16).unwrap_or_default(),
        hex.get(16..20).unwrap_or_default(),
        hex.get(20..32).unwrap_or_default()
    ))
}

/// 256 random bits, base64url: authorization codes.
pub fn secret_token(rng: &mut dyn Random) -> Result<String, jose::Error> {
    let mut b = [0u8; 32];
    rng.fill(&mut b)?;
    Ok(jose::b64::encode(b))
}

/// An RFC 8628 §6.1 user code: 8 letters from a 20-letter alphabet without vowels (no words,
/// no look-alikes), shown as `XXXX-XXXX`; rejection sampling keeps it uniform.
pub fn user_code(rng: &mut dyn Random) -> Result<String, jose::Error> {
    const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
    let mut out = String::with_capacity(9);
    while out.len() < 9 {
        let mut b = [0u8; 1];
        rng.fill(&mut b)?;
        // 240 = 12 × 20: bytes at or above it are drawn again.
        if let Some(&c) = (b[0] < 240)
            .then(|| ALPHABET.get(usize::from(b[0] % 20)))
            .flatten()
        {
            if out.len() == 4 {
                out.push('-');
            }
            out.push(char::from(c));
        }
    }
    Ok(out)
}

/// A predictable source for tests: bytes from a counter.
#[derive(Debug, Clone, Default)]
pub struct Counter(pub u8);

impl Random for Counter {
    fn fill(&mut self, out: &mut [u8]) -> Result<(), jose::Error> {
        for b in out {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otps_have_six_digits() {
        let mut r = SystemRandom;
        for _ in 0..100 {
            let o = otp(&mut r).unwrap_or_default();
            assert_eq!(o.len(), 6);
            assert!(o.bytes().all(|c| c.is_ascii_digit()));
        }
        // 0x01020304 = 16909060 → 909060.
        assert_eq!(otp(&mut Counter(0)).ok().as_deref(), Some("909060"));
    }

    #[test]
    fn uuids_are_version_4() {
        let u = uuid(&mut SystemRandom).unwrap_or_default();
        assert_eq!(u.len(), 36);
        assert_eq!(u.chars().nth(14), Some('4'));
        assert!(matches!(u.chars().nth(19), Some('8' | '9' | 'a' | 'b')));
        assert_ne!(u, uuid(&mut SystemRandom).unwrap_or_default());
        assert_eq!(
            secret_token(&mut SystemRandom).map(|t| t.len()).ok(),
            Some(43)
        );
    }
}
