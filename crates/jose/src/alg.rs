//! JWS algorithms (RFC 7518 §3, RFC 8037, RFC 8812) and what each needs from a key.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A JWS signature algorithm Signet implements. `none` is deliberately not a member: an unsecured
/// JWS is produced only through [`crate::jws::sign_unsecured_insecure`] and is never verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    ES256K,
    EdDSA,
}

/// The kind of key an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Hmac,
    Rsa,
    Ec(Curve),
    Ed25519,
}

/// Elliptic curves for ECDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    P256,
    P384,
    P521,
    Secp256k1,
}

impl Curve {
    /// The JWK `crv` name.
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
            Curve::Secp256k1 => "secp256k1",
        }
    }

    pub fn from_name(name: &str) -> Option<Curve> {
        Some(match name {
            "P-256" => Curve::P256,
            "P-384" => Curve::P384,
            "P-521" => Curve::P521,
            "secp256k1" => Curve::Secp256k1,
            _ => return None,
        })
    }

    /// Size in bytes of one coordinate, of the private scalar, and of R and S in a signature.
    pub fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 | Curve::Secp256k1 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The one algorithm that signs with this curve.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Curve::P256 => Algorithm::ES256,
            Curve::P384 => Algorithm::ES384,
            Curve::P521 => Algorithm::ES512,
            Curve::Secp256k1 => Algorithm::ES256K,
        }
    }

    pub const ALL: [Curve; 4] = [Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1];
}

impl Algorithm {
    pub const ALL: [Algorithm; 14] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::ES256K,
        Algorithm::EdDSA,
    ];

    /// The registered `alg` name (case-sensitive, RFC 7515 §4.1.1).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::ES256K => "ES256K",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Looks up a registered name exactly; `none` (any case) and unknown names are errors.
    pub fn from_name(name: &str) -> Result<Algorithm, Error> {
        if name.eq_ignore_ascii_case("none") {
            return Err(Error::AlgNone);
        }
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| Error::UnsupportedAlgorithm(name.to_owned()))
    }

    pub fn family(self) -> Family {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Family::Hmac,
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => Family::Rsa,
            Algorithm::ES256 => Family::Ec(Curve::P256),
            Algorithm::ES384 => Family::Ec(Curve::P384),
            Algorithm::ES512 => Family::Ec(Curve::P521),
            Algorithm::ES256K => Family::Ec(Curve::Secp256k1),
            Algorithm::EdDSA => Family::Ed25519,
        }
    }

    /// For HMAC algorithms, the hash output size in bytes: RFC 7518 §3.2 asks for a key at
    /// least this long.
    pub fn hmac_min_key_len(self) -> Option<usize> {
        match self {
            Algorithm::HS256 => Some(32),
            Algorithm::HS384 => Some(48),
            Algorithm::HS512 => Some(64),
            _ => None,
        }
    }

    /// Size in bytes of a signature, where it is fixed by the algorithm (HMAC, ECDSA, EdDSA).
    pub fn fixed_signature_len(self) -> Option<usize> {
        match self.family() {
            Family::Hmac => self.hmac_min_key_len(),
            Family::Ec(curve) => Some(2 * curve.coordinate_len()),
            Family::Ed25519 => Some(64),
            Family::Rsa => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Algorithm::from_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()).ok(), Some(alg));
        }
        assert!(matches!(
            Algorithm::from_name("hs256"),
            Err(Error::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            Algorithm::from_name("eddsa"),
            Err(Error::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn none_in_any_case_is_refused() {
        for n in ["none", "None", "NONE", "nOnE"] {
            assert!(matches!(Algorithm::from_name(n), Err(Error::AlgNone)));
        }
    }

    #[test]
    fn curves_map_to_one_algorithm() {
        for c in Curve::ALL {
            assert_eq!(c.algorithm().family(), Family::Ec(c));
            assert_eq!(Curve::from_name(c.name()), Some(c));
        }
    }
}
