//! Signing keys derived from a secret seed (`[auth_token] key_seed`), so replicas on any number
//! of hosts agree on every key of every rolling period with no shared file, lock or database.
//!
//! Derivation (version 1; docs/DESIGN.md, "Derived keys", says the same):
//! - `PRK = HKDF-Extract(salt = "signet-gateway key_seed v1", IKM = seed)` (HKDF-SHA256, RFC 5869).
//! - For period `p` (a signed decimal) and algorithm `A` (`EdDSA`, `ES256`, `ES384`, `ES512`),
//!   attempt `k = 0, 1, …`: `OKM = HKDF-Expand(PRK, info = "signet-gateway auth-token key v1 "
//!   || A || " " || p || " " || k, L)`.
//! - `EdDSA`: L = 32, the Ed25519 seed (RFC 8032) at once.
//! - `ES256`/`ES384`/`ES512`: L = 32/48/66; for P-521 the first byte is masked to its lowest bit
//!   (521 bits); the big-endian integer is the private scalar when `1 ≤ d < n` (the curve's
//!   order), else the next attempt (rejection sampling; the chance of a retry is below 2^-32).
//! - The key's `kid` is its RFC 7638 thumbprint, as for stored keys. RSA is refused: its key
//!   generation is not a function of a short seed in any standard way.
//!
//! Periods: `p = floor(now / interval)` on the Unix-time grid (0 when rolling is off); the key of
//! period `p` is active from `p × interval`. Every replica publishes the keys of `p - 1`, `p` and
//! `p + 1`, and those of `p - 1` and `p` of `key_seed_previous` when one is configured.

use std::path::Path;

use aws_lc_rs::hkdf::{KeyType, Salt, HKDF_SHA256};
use jose::{Algorithm, Key};
use serde_json::{Map, Value};

/// A seed shorter than this is refused.
pub const MIN_SEED_BYTES: usize = 32;
const SALT: &[u8] = b"signet-gateway key_seed v1";
const INFO: &str = "signet-gateway auth-token key v1";

/// Why a seed or a derived key is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    #[error("{field} must be \"@FILE\" or \"env:NAME\", not a literal secret")]
    Form { field: &'static str },
    #[error("{field}: cannot read {file}: {reason}")]
    File {
        field: &'static str,
        file: String,
        reason: String,
    },
    #[error("{field}: the environment variable {name} is not set (or not UTF-8)")]
    Env { field: &'static str, name: String },
    #[error("{field} holds {len} bytes; a seed needs at least {MIN_SEED_BYTES} (e.g. `openssl rand -base64 48`)")]
    TooShort { field: &'static str, len: usize },
    #[error("signing_algorithm {0} cannot be derived from key_seed (use EdDSA, ES256, ES384 or ES512, or a keyset_file for RSA)")]
    Rsa(Algorithm),
    #[error("cannot derive a key: {0}")]
    Derive(String),
}

/// A seed's bytes (never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct Seed(Vec<u8>);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Seed({} bytes)", self.0.len())
    }
}

impl Seed {
    /// From bytes (at least [`MIN_SEED_BYTES`]).
    pub fn new(bytes: Vec<u8>, field: &'static str) -> Result<Seed, SeedError> {
        if bytes.len() < MIN_SEED_BYTES {
            return Err(SeedError::TooShort {
                field,
                len: bytes.len(),
            });
        }
        Ok(Seed(bytes))
    }

    /// `@FILE` (relative to `base_dir`) or `env:NAME`. Trailing ASCII whitespace (a newline at
    /// the end of a file or variable) is not part of the seed (our choice).
    pub fn load(spec: &str, base_dir: &Path, field: &'static str) -> Result<Seed, SeedError> {
        let bytes = if let Some(file) = spec.strip_prefix('@') {
            let path = base_dir.join(file);
            std::fs::read(&path).map_err(|e| SeedError::File {
                field,
                file: path.display().to_string(),
                reason: e.to_string(),
            })?
        } else if let Some(name) = spec.strip_prefix("env:") {
            std::env::var(name)
                .map_err(|_| SeedError::Env {
                    field,
                    name: name.to_owned(),
                })?
                .into_bytes()
        } else {
            return Err(SeedError::Form { field });
        };
        let end = bytes
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        Seed::new(bytes.get(..end).unwrap_or_default().to_vec(), field)
    }
}

struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn expand(seed: &Seed, info: &str, out: &mut [u8]) -> Result<(), SeedError> {
    let prk = Salt::new(HKDF_SHA256, SALT).extract(&seed.0);
    let info = [info.as_bytes()];
    prk.expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| SeedError::Derive("HKDF-Expand failed".into()))
}

/// The orders of P-256, P-384 and P-521 (big-endian), for rejection sampling.
const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
const P384_N: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";
const P521_N: &str = "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| s.get(2 * i..2 * i + 2))
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect()
}

/// The key of `period` for `alg`.
pub fn derive(seed: &Seed, alg: Algorithm, period: i64) -> Result<Key, SeedError> {
    let b64 = |b: &[u8]| Value::String(jose::b64::encode(b));
    let mut jwk = Map::new();
    match alg {
        Algorithm::EdDSA => {
            let mut d = [0u8; 32];
            expand(seed, &format!("{INFO} EdDSA {period} 0"), &mut d)?;
            let pair = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(&d)
                .map_err(|e| SeedError::Derive(e.to_string()))?;
            let public = aws_lc_rs::signature::KeyPair::public_key(&pair);
            jwk.insert("kty".into(), "OKP".into());
            jwk.insert("crv".into(), "Ed25519".into());
            jwk.insert("x".into(), b64(public.as_ref()));
            jwk.insert("d".into(), b64(&d));
        }
        Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512 => {
            let (curve, order, ecdh, len) = match alg {
                Algorithm::ES256 => ("P-256", P256_N, &aws_lc_rs::agreement::ECDH_P256, 32),
                Algorithm::ES384 => ("P-384", P384_N, &aws_lc_rs::agreement::ECDH_P384, 48),
                _ => ("P-521", P521_N, &aws_lc_rs::agreement::ECDH_P521, 66),
            };
            let order = hex(order);
            let mut d = vec![0u8; len];
            let mut attempt = 0u32;
            loop {
                expand(
                    seed,
                    &format!("{INFO} {} {period} {attempt}", alg.name()),
                    &mut d,
                )?;
                if alg == Algorithm::ES512 {
                    if let Some(first) = d.first_mut() {
                        *first &= 0x01;
                    }
                }
                if d.iter().any(|&b| b != 0) && d.as_slice() < order.as_slice() {
                    break;
                }
                attempt += 1;
                if attempt > 64 {
                    return Err(SeedError::Derive(
                        "no scalar in range after 64 attempts".into(),
                    ));
                }
            }
            let private = aws_lc_rs::agreement::PrivateKey::from_private_key(ecdh, &d)
                .map_err(|e| SeedError::Derive(e.to_string()))?;
            let public = private
                .compute_public_key()
                .map_err(|_| SeedError::Derive("cannot compute the public key".into()))?;
            let point = public.as_ref();
            let (x, y) = point
                .get(1..)
                .map(|xy| xy.split_at(len))
                .ok_or_else(|| SeedError::Derive("unexpected public key".into()))?;
            jwk.insert("kty".into(), "EC".into());
            jwk.insert("crv".into(), curve.into());
            jwk.insert("x".into(), b64(x));
            jwk.insert("y".into(), b64(y));
            jwk.insert("d".into(), b64(&d));
        }
        other => return Err(SeedError::Rsa(other)),
    }
    Key::from_jwk(&jwk).map_err(|e| SeedError::Derive(e.to_string()))
}

/// The rolling period at `now` (0 when rolling is off).
pub fn period(now: i64, interval_seconds: Option<i64>) -> i64 {
    match interval_seconds {
        Some(i) if i > 0 => now.div_euclid(i),
        _ => 0,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn seed(text: &str) -> Seed {
        Seed::new(text.as_bytes().to_vec(), "key_seed").unwrap()
    }

    /// The fixture's seed; `testdata/key_seed_vectors.json` records the thumbprints it gives, computed
    /// by an independent implementation (`testdata/key_seed_vectors.py`, Python `cryptography`).
    const FIXTURE_SEED: &str = "signet key_seed test vector seed, 48 bytes long!";

    #[test]
    fn derivation_matches_the_recorded_vectors() {
        let fixture: Value =
            serde_json::from_str(include_str!("../testdata/key_seed_vectors.json")).unwrap();
        assert_eq!(fixture["seed"], FIXTURE_SEED);
        let s = seed(FIXTURE_SEED);
        let mut checked = 0;
        for v in fixture["vectors"].as_array().unwrap() {
            let alg = Algorithm::from_name(v["alg"].as_str().unwrap()).unwrap();
            let period = v["period"].as_i64().unwrap();
            let key = derive(&s, alg, period).unwrap();
            assert_eq!(
                key.thumbprint(),
                v["thumbprint"].as_str().unwrap(),
                "{alg} {period}"
            );
            checked += 1;
        }
        assert_eq!(checked, 12);
    }

    #[test]
    fn periods_seeds_and_algorithms_give_different_keys_that_sign() {
        let a = seed(FIXTURE_SEED);
        let b = seed("another seed, also long enough to be used here.");
        for alg in [
            Algorithm::EdDSA,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::ES512,
        ] {
            let k0 = derive(&a, alg, 490_000).unwrap();
            assert_eq!(
                k0.thumbprint(),
                derive(&a, alg, 490_000).unwrap().thumbprint(),
                "deterministic"
            );
            assert_ne!(
                k0.thumbprint(),
                derive(&a, alg, 490_001).unwrap().thumbprint()
            );
            assert_ne!(
                k0.thumbprint(),
                derive(&b, alg, 490_000).unwrap().thumbprint()
            );
            let sig = k0.sign(alg, b"message").unwrap();
            k0.to_public()
                .unwrap()
                .verify(alg, b"message", &sig)
                .unwrap();
        }
        assert_eq!(
            derive(&a, Algorithm::RS256, 1).err(),
            Some(SeedError::Rsa(Algorithm::RS256))
        );
        assert_eq!(
            derive(&a, Algorithm::PS256, 1).err(),
            Some(SeedError::Rsa(Algorithm::PS256))
        );
    }

    #[test]
    fn seeds_come_from_files_or_the_environment_and_must_be_long() {
        let dir = crate::test_support::TempDir::new("seed");
        dir.write("seed.txt", &format!("{FIXTURE_SEED}\n"));
        dir.write("short.txt", "too short");
        assert_eq!(
            Seed::load("@seed.txt", &dir.0, "key_seed").unwrap(),
            seed(FIXTURE_SEED)
        );
        assert!(matches!(
            Seed::load("@short.txt", &dir.0, "key_seed"),
            Err(SeedError::TooShort { len: 9, .. })
        ));
        assert!(matches!(
            Seed::load("@missing", &dir.0, "key_seed"),
            Err(SeedError::File { .. })
        ));
        assert_eq!(
            Seed::load(
                "a literal secret that is long enough!!!",
                &dir.0,
                "key_seed"
            )
            .err(),
            Some(SeedError::Form { field: "key_seed" })
        );
        assert!(matches!(
            Seed::load("env:SIGNET_TEST_SEED_THAT_IS_NOT_SET", &dir.0, "key_seed"),
            Err(SeedError::Env { .. })
        ));
        assert_eq!(format!("{:?}", seed(FIXTURE_SEED)), "Seed(48 bytes)");
    }

    #[test]
    fn periods_are_on_the_unix_grid() {
        assert_eq!(period(7199, Some(3600)), 1);
        assert_eq!(period(7200, Some(3600)), 2);
        assert_eq!(period(7200, None), 0);
        assert_eq!(period(-1, Some(3600)), -1);
    }

    fn verify_with(keys: &crate::keyset::Keyset, now: i64, token: &str) -> bool {
        let set = jose::KeySet::from_jwks_json(&keys.jwks(now).body)
            .unwrap()
            .0;
        jose::Verifier::new(set)
            .verify_jwt(
                token,
                &jose::Validation {
                    now: Some(now),
                    ..jose::Validation::default()
                },
            )
            .is_ok()
    }

    #[test]
    fn replicas_deriving_keys_agree_and_roll_on_the_period_grid() {
        use crate::keyset::Keyset;
        let hour = std::time::Duration::from_secs(3600);
        let t = 1_764_003_000; // 10 minutes before an hour boundary (1_764_000_000 is on one)
        let build = |now| {
            Keyset::derived(seed(FIXTURE_SEED), None, Algorithm::ES256, Some(hour), now).unwrap()
        };
        let (mut a, b) = (build(t), build(t + 400));
        assert_eq!(
            a.jwks(t + 500).body,
            b.jwks(t + 500).body,
            "byte-identical JWKS"
        );
        assert_eq!(a.jwks(t + 500).etag, b.jwks(t + 500).etag);
        let kid = a.active_signing_key(t).kid().clone();
        assert_eq!(&kid, b.active_signing_key(t + 500).kid());
        let doc: Value = serde_json::from_slice(&a.jwks(t).body).unwrap();
        assert_eq!(
            doc["keys"].as_array().unwrap().len(),
            3,
            "previous, active, next"
        );
        assert_eq!(a.jwks(t).max_age_seconds, 300);
        assert_eq!(
            a.jwks(t + 500).max_age_seconds,
            100,
            "until the next period"
        );
        // Past the boundary: the next key signs, without a refresh, and the set moves on.
        let after = t + 700;
        let next = a.active_signing_key(after).kid().clone();
        assert_ne!(next, kid);
        assert!(!a.refresh(t + 500).unwrap());
        assert!(a.refresh(after).unwrap());
        assert_eq!(a.active_signing_key(after).kid(), &next);
        assert_eq!(a.jwks(after).body, build(after).jwks(after).body);
        let token = |k: &Keyset, now| {
            k.active_signing_key(now)
                .signer()
                .sign_claims(&serde_json::json!({"iat": now, "exp": now + 3600}))
                .unwrap()
        };
        // A token of the previous period still verifies after the roll.
        assert!(verify_with(&a, after, &token(&b, t)));
        assert!(
            Keyset::derived(seed(FIXTURE_SEED), None, Algorithm::RS256, Some(hour), t).is_err()
        );
    }

    #[test]
    fn the_previous_seed_still_verifies_during_the_overlap() {
        use crate::keyset::Keyset;
        let hour = std::time::Duration::from_secs(3600);
        let t = 1_764_003_000;
        let new = seed("the new seed, rotated in after the old one leaked");
        let old =
            Keyset::derived(seed(FIXTURE_SEED), None, Algorithm::EdDSA, Some(hour), t).unwrap();
        let rotated = Keyset::derived(
            new.clone(),
            Some(seed(FIXTURE_SEED)),
            Algorithm::EdDSA,
            Some(hour),
            t,
        )
        .unwrap();
        let alone = Keyset::derived(new, None, Algorithm::EdDSA, Some(hour), t).unwrap();
        let signed_by_old = old
            .active_signing_key(t)
            .signer()
            .sign_claims(&serde_json::json!({"iat": t, "exp": t + 300}))
            .unwrap();
        assert!(
            verify_with(&rotated, t, &signed_by_old),
            "overlap: old tokens verify"
        );
        assert!(
            !verify_with(&alone, t, &signed_by_old),
            "after the overlap they do not"
        );
        assert_ne!(
            old.active_signing_key(t).kid(),
            rotated.active_signing_key(t).kid()
        );
        let doc: Value = serde_json::from_slice(&rotated.jwks(t).body).unwrap();
        assert_eq!(
            doc["keys"].as_array().unwrap().len(),
            5,
            "3 new + previous and active old"
        );
    }

    #[test]
    fn p521_scalars_are_masked_to_521_bits() {
        let k = derive(&seed(FIXTURE_SEED), Algorithm::ES512, 7).unwrap();
        let jwk = k.private_jwk().unwrap();
        let d = jose::b64::decode(jwk["d"].as_str().unwrap()).unwrap();
        assert_eq!(d.len(), 66);
        assert!(d[0] <= 1);
    }
}
