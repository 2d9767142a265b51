//! Checks both token profiles share: header rules, signature verification with the
//! application's keys, and claim checks, each failure mapped to its own [`Error`] variant.

use jose::jws::{Compact, Verified, Verifier};
use jose::{Algorithm, KeySet, Part, Validation};
use serde_json::{Map, Value};

use crate::app::Expected;
use crate::error::{Error, Profile};

/// Splits and decodes the token without verifying it (to read the header).
pub(crate) fn decode(token: &str) -> Result<Compact<'_>, Error> {
    jose::jws::decode(token).map_err(Error::Malformed)
}

/// PingOne supports no nested signing (`cty`) or encryption (`enc`) in these tokens.
pub(crate) fn forbid_nesting(header: &Map<String, Value>) -> Result<(), Error> {
    for member in ["cty", "enc"] {
        if header.contains_key(member) {
            return Err(Error::ForbiddenHeader(member));
        }
    }
    Ok(())
}

/// The header's `alg`: `Ok(None)` for exactly `none` (an unsigned token), `Ok(Some(alg))` for
/// an algorithm in `allowed`, an error otherwise.
pub(crate) fn header_alg(
    header: &Map<String, Value>,
    profile: Profile,
    allowed: &[Algorithm],
) -> Result<Option<Algorithm>, Error> {
    let name = match header.get("alg") {
        None => return Err(Error::Malformed(jose::Error::MissingAlg)),
        Some(Value::String(name)) => name,
        Some(_) => return Err(Error::Malformed(jose::Error::AlgNotString)),
    };
    if name == "none" {
        return Ok(None);
    }
    match Algorithm::from_name(name) {
        Ok(alg) if allowed.contains(&alg) => Ok(Some(alg)),
        _ => Err(not_allowed(profile, name, allowed)),
    }
}

pub(crate) fn not_allowed(profile: Profile, alg: &str, allowed: &[Algorithm]) -> Error {
    Error::AlgorithmNotAllowed {
        profile,
        alg: alg.to_owned(),
        allowed: allowed
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Verifies the signature with the caller's keys only, for one algorithm.
pub(crate) fn verify(token: &str, keys: KeySet, alg: Algorithm) -> Result<Verified, Error> {
    Verifier::new(keys)
        .allow_algorithms(&[alg])
        .verify(token)
        .map_err(|e| match e {
            jose::Error::InvalidSignature
            | jose::Error::SignatureLength { .. }
            | jose::Error::UnknownKid(_)
            | jose::Error::NoKeyForAlgorithm(_)
            | jose::Error::KeyAlgorithmMismatch { .. }
            | jose::Error::AlgorithmNotAllowed { .. }
            | jose::Error::HmacKeyTooShort { .. } => Error::Signature(e),
            other if !other.is_token_error() => Error::Key(other),
            other => Error::Malformed(other),
        })
}

/// The payload as a claims set.
pub(crate) fn claims(payload: &[u8]) -> Result<Map<String, Value>, Error> {
    jose::json::parse_object(payload, Part::Payload).map_err(Error::Malformed)
}

pub(crate) fn require(claims: &Map<String, Value>, names: &[&str]) -> Result<(), Error> {
    match names.iter().find(|n| !claims.contains_key(**n)) {
        Some(missing) => Err(Error::MissingClaim((*missing).to_owned())),
        None => Ok(()),
    }
}

/// Types of the registered claims, then `exp` and `nbf` (when present) against the clock.
pub(crate) fn times(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    expected: &Expected,
) -> Result<(), Error> {
    let v = Validation {
        leeway: expected.leeway,
        now: Some(expected.now),
        ..Validation::default()
    };
    jose::jwt::validate(header, claims, &v).map_err(|e| match e {
        jose::Error::Expired { exp, now, .. } => Error::Expired { exp, now },
        jose::Error::NotYetValid { nbf, now, .. } => Error::NotYetValid { nbf, now },
        jose::Error::ClaimType { claim, expected } => Error::ClaimType { claim, expected },
        jose::Error::MissingClaim(c) => Error::MissingClaim(c),
        other => Error::Malformed(other),
    })
}

/// A NumericDate claim in whole seconds (after [`times`] checked its type).
pub(crate) fn date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, Error> {
    let secs = jose::jwt::numeric_date(claims, name).map_err(Error::Malformed)?;
    // A JSON number is finite; `as` saturates at the i64 range.
    Ok(secs.map(|s| s.floor() as i64))
}

/// A string claim, if present; any other type is an error.
pub(crate) fn string<'c>(
    claims: &'c Map<String, Value>,
    name: &str,
) -> Result<Option<&'c str>, Error> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::ClaimType {
            claim: name.to_owned(),
            expected: "a string",
        }),
    }
}

/// A required, non-empty string claim.
pub(crate) fn non_empty<'c>(claims: &'c Map<String, Value>, name: &str) -> Result<&'c str, Error> {
    match string(claims, name)? {
        None => Err(Error::MissingClaim(name.to_owned())),
        Some("") => Err(Error::ClaimType {
            claim: name.to_owned(),
            expected: "a non-empty string",
        }),
        Some(s) => Ok(s),
    }
}

/// `iss` must be the application's client id.
pub(crate) fn issuer(claims: &Map<String, Value>, client_id: &str) -> Result<(), Error> {
    let iss = non_empty(claims, "iss")?;
    if iss == client_id {
        Ok(())
    } else {
        Err(Error::IssuerNotClientId {
            expected: client_id.to_owned(),
            found: iss.to_owned(),
        })
    }
}

/// `aud` (a string, or an array of strings) must contain one of the accepted audiences;
/// returns the one it contains.
pub(crate) fn audience(claims: &Map<String, Value>, expected: &Expected) -> Result<String, Error> {
    let aud = jose::jwt::audiences(claims)
        .map_err(|_| Error::ClaimType {
            claim: "aud".into(),
            expected: "a string or an array of strings",
        })?
        .ok_or_else(|| Error::MissingClaim("aud".into()))?;
    aud.iter()
        .find(|a| expected.audiences.iter().any(|want| want == *a))
        .map(|a| (*a).to_owned())
        .ok_or_else(|| Error::WrongAudience {
            expected: expected.audiences.clone(),
            found: aud.iter().map(|a| (*a).to_owned()).collect(),
        })
}
