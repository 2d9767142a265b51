//! Compact JWS (RFC 7515 §7.1): strict parsing, signing and verification.
//!
//! The verify path runs the cheapest, strictest checks first: size, segment count, base64url,
//! header JSON, `alg`, `crit`, key choice and key/algorithm binding, and only then the
//! signature. Header members that carry keys (`jwk`, `jku`, `x5u`, `x5c`) are never used: trust
//! comes only from the keys the caller supplies.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::alg::Algorithm;
use crate::b64;
use crate::error::{Error, Part};
use crate::json;
use crate::key::Key;
use crate::keyset::KeySet;

/// Default upper bound on a token's length (bytes).
pub const DEFAULT_MAX_TOKEN_LEN: usize = 256 * 1024;

/// Header members RFC 7515 defines; `crit` must not list them (§4.1.11).
const REGISTERED_HEADER: [&str; 11] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
];

/// A compact JWS split and decoded, not verified.
#[derive(Debug, Clone)]
pub struct Compact<'a> {
    /// `BASE64URL(header) '.' BASE64URL(payload)`, the bytes the signature covers.
    pub signing_input: &'a str,
    pub header_b64: &'a str,
    pub payload_b64: &'a str,
    pub signature_b64: &'a str,
    pub header: Map<String, Value>,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Splits `token` into exactly three segments.
fn split(token: &str, max_len: usize) -> Result<(&str, &str, &str), Error> {
    if token.is_empty() {
        return Err(Error::Empty);
    }
    if token.len() > max_len {
        return Err(Error::TooLarge {
            len: token.len(),
            max: max_len,
        });
    }
    let mut it = token.split('.');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(h), Some(p), Some(s), None) => Ok((h, p, s)),
        _ => Err(Error::SegmentCount {
            found: token.split('.').count(),
        }),
    }
}

fn decode_segment(text: &str, part: Part) -> Result<Vec<u8>, Error> {
    b64::decode(text).map_err(|reason| Error::Base64 { part, reason })
}

/// Parses a compact JWS strictly, without verifying it: for inspection (`signet decode`).
pub fn decode(token: &str) -> Result<Compact<'_>, Error> {
    decode_with_limit(token, DEFAULT_MAX_TOKEN_LEN)
}

pub fn decode_with_limit(token: &str, max_len: usize) -> Result<Compact<'_>, Error> {
    let (h, p, s) = split(token, max_len)?;
    if h.is_empty() {
        return Err(Error::EmptySegment { part: Part::Header });
    }
    let header = json::parse_object(&decode_segment(h, Part::Header)?, Part::Header)?;
    let payload = decode_segment(p, Part::Payload)?;
    let signature = decode_segment(s, Part::Signature)?;
    let signing_input = token
        .get(..h.len() + 1 + p.len())
        .ok_or(Error::SegmentCount { found: 0 })?;
    Ok(Compact {
        signing_input,
        header_b64: h,
        payload_b64: p,
        signature_b64: s,
        header,
        payload,
        signature,
    })
}

/// Reads the `alg` member: present, a string, registered, not `none`.
pub fn header_algorithm(header: &Map<String, Value>) -> Result<Algorithm, Error> {
    match header.get("alg") {
        None => Err(Error::MissingAlg),
        Some(Value::String(name)) => Algorithm::from_name(name),
        Some(_) => Err(Error::AlgNotString),
    }
}

fn header_string<'h>(
    header: &'h Map<String, Value>,
    member: &str,
) -> Result<Option<&'h str>, Error> {
    match header.get(member) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::HeaderMemberType {
            member: member.into(),
            expected: "a string",
        }),
    }
}

/// RFC 7515 §4.1.11: `crit` is a non-empty array of distinct strings naming extension members
/// that are present; each must be understood, or the JWS is rejected. Signet's core understands
/// no extensions (in particular not `b64`, RFC 7797), unless the caller names some.
pub fn check_crit(header: &Map<String, Value>, understood: &[String]) -> Result<(), Error> {
    let Some(crit) = header.get("crit") else {
        return Ok(());
    };
    let list = crit
        .as_array()
        .ok_or_else(|| Error::MalformedCritical("it must be an array of strings".into()))?;
    if list.is_empty() {
        return Err(Error::MalformedCritical("it must not be empty".into()));
    }
    let mut seen: Vec<&str> = Vec::with_capacity(list.len());
    for item in list {
        let name = item
            .as_str()
            .ok_or_else(|| Error::MalformedCritical("it must be an array of strings".into()))?;
        if REGISTERED_HEADER.contains(&name) {
            return Err(Error::MalformedCritical(format!(
                "it lists \"{name}\", which RFC 7515 defines"
            )));
        }
        if seen.contains(&name) {
            return Err(Error::MalformedCritical(format!(
                "it lists \"{name}\" twice"
            )));
        }
        seen.push(name);
        if !understood.iter().any(|u| u == name) {
            return Err(Error::UnknownCritical(name.into()));
        }
        if !header.contains_key(name) {
            return Err(Error::MalformedCritical(format!(
                "it lists \"{name}\", which the header does not contain"
            )));
        }
    }
    Ok(())
}

/// A JWS whose signature verified.
#[derive(Debug, Clone)]
pub struct Verified {
    pub header: Map<String, Value>,
    pub payload: Vec<u8>,
    pub alg: Algorithm,
    /// The `kid` of the key that verified it, if that key has one.
    pub key_kid: Option<String>,
}

/// Verifies compact JWS with the caller's keys. Build once, use for many tokens.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: KeySet,
    allowed: Vec<Algorithm>,
    understood_crit: Vec<String>,
    max_len: usize,
}

impl Verifier {
    /// A verifier over `keys`. Allowed algorithms default to those the keys can serve.
    pub fn new(keys: impl Into<KeySet>) -> Verifier {
        let keys = keys.into();
        let mut allowed: Vec<Algorithm> = keys.keys().iter().flat_map(Key::algorithms).collect();
        allowed.sort();
        allowed.dedup();
        Verifier {
            keys,
            allowed,
            understood_crit: Vec::new(),
            max_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }

    /// Restricts the accepted algorithms (in addition to what the keys allow).
    #[must_use]
    pub fn allow_algorithms(mut self, algs: &[Algorithm]) -> Verifier {
        self.allowed.retain(|a| algs.contains(a));
        self
    }

    /// Names `crit` extensions the caller processes itself.
    #[must_use]
    pub fn understand_crit(mut self, names: &[&str]) -> Verifier {
        self.understood_crit
            .extend(names.iter().map(|s| (*s).to_owned()));
        self
    }

    #[must_use]
    pub fn max_token_len(mut self, max: usize) -> Verifier {
        self.max_len = max;
        self
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Verifies a JWS with an opaque payload (raw mode: no JWT claim checks).
    pub fn verify(&self, token: &str) -> Result<Verified, Error> {
        let (h, p, s) = split(token, self.max_len)?;
        if h.is_empty() {
            return Err(Error::EmptySegment { part: Part::Header });
        }
        let header = json::parse_object(&decode_segment(h, Part::Header)?, Part::Header)?;
        let alg = header_algorithm(&header)?;
        if !self.allowed.contains(&alg) {
            return Err(self.not_allowed(alg));
        }
        check_crit(&header, &self.understood_crit)?;
        let kid = header_string(&header, "kid")?;
        let signature = decode_segment(s, Part::Signature)?;
        let signing_input = token
            .get(..h.len() + 1 + p.len())
            .ok_or(Error::SegmentCount { found: 0 })?;
        let key = self.verify_signature(alg, kid, signing_input.as_bytes(), &signature)?;
        let payload = decode_segment(p, Part::Payload)?;
        Ok(Verified {
            header,
            payload,
            alg,
            key_kid: key.kid().map(str::to_owned),
        })
    }

    fn not_allowed(&self, alg: Algorithm) -> Error {
        // With a single key, say why in terms of the key: that is the usual mistake.
        if let [only] = self.keys.keys() {
            if let Err(e) = only.check_algorithm(alg) {
                return e;
            }
        }
        Error::AlgorithmNotAllowed {
            alg: alg.name().into(),
            allowed: self
                .allowed
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Picks the keys `kid` and `alg` permit and checks the signature; returns the key that
    /// verified.
    fn verify_signature(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
        input: &[u8],
        sig: &[u8],
    ) -> Result<&Key, Error> {
        let by_kid: Vec<&Key> = self
            .keys
            .keys()
            .iter()
            .filter(|k| match (kid, k.kid()) {
                (Some(want), Some(have)) => want == have,
                _ => true,
            })
            .collect();
        if by_kid.is_empty() {
            return Err(Error::UnknownKid(kid.unwrap_or_default().to_owned()));
        }
        let mut last = None;
        for key in by_kid {
            match key.verify(alg, input, sig) {
                Ok(()) => return Ok(key),
                Err(e) => {
                    // A signature failure is more telling than a key that did not fit.
                    if !matches!(
                        last,
                        Some(Error::InvalidSignature | Error::SignatureLength { .. })
                    ) {
                        last = Some(e);
                    }
                }
            }
        }
        Err(last.unwrap_or(Error::NoKeyForAlgorithm(alg.name().into())))
    }
}

/// Signs compact JWS with one key and algorithm. The encoded header is computed once.
#[derive(Debug, Clone)]
pub struct Signer {
    key: Key,
    alg: Algorithm,
    header: Map<String, Value>,
    header_b64: String,
}

impl Signer {
    /// A signer with the header `{"alg":ALG,"typ":"JWT"}`, plus `kid` when the key has one.
    pub fn new(key: Key, alg: Algorithm) -> Result<Signer, Error> {
        let mut header = Map::new();
        header.insert("typ".into(), "JWT".into());
        if let Some(kid) = key.kid() {
            header.insert("kid".into(), kid.into());
        }
        Signer::with_header(key, alg, header)
    }

    /// A signer with a caller-built header. `alg` is set to the signing algorithm (first, if the
    /// header lacks it); a header that names a different `alg` is refused.
    pub fn with_header(
        key: Key,
        alg: Algorithm,
        header: Map<String, Value>,
    ) -> Result<Signer, Error> {
        if !key.can_sign() {
            return Err(Error::PublicKeyCannotSign);
        }
        key.check_algorithm(alg)?;
        let header = match header.get("alg") {
            Some(Value::String(a)) if a == alg.name() => header,
            Some(other) => {
                return Err(Error::HeaderAlgMismatch {
                    header: other.to_string(),
                    alg: alg.name().into(),
                })
            }
            None => {
                let mut with_alg = Map::new();
                with_alg.insert("alg".into(), alg.name().into());
                with_alg.extend(header);
                with_alg
            }
        };
        let header_b64 = b64::encode(Value::Object(header.clone()).to_string());
        Ok(Signer {
            key,
            alg,
            header,
            header_b64,
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    pub fn key(&self) -> &Key {
        &self.key
    }

    /// Signs an opaque payload.
    pub fn sign_bytes(&self, payload: &[u8]) -> Result<String, Error> {
        let mut out = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 100);
        out.push_str(&self.header_b64);
        out.push('.');
        b64::encode_into(payload, &mut out);
        let input_len = out.len();
        out.push('.');
        let (input, _) = out.split_at(input_len);
        let mut sig = String::new();
        self.key
            .sign_into_b64(self.alg, input.as_bytes(), &mut sig)?;
        out.push_str(&sig);
        Ok(out)
    }

    /// Serializes `claims` as compact JSON (field order kept) and signs it.
    pub fn sign_claims<T: Serialize + ?Sized>(&self, claims: &T) -> Result<String, Error> {
        let payload = serde_json::to_vec(claims).map_err(|e| Error::NotClaims(e.to_string()))?;
        self.sign_bytes(&payload)
    }
}

/// Signs exactly the given header and payload bytes, without checking the header. This is the
/// low-level primitive for byte-exact reproduction (RFC vectors, jwtgen compatibility, where a
/// custom header may even relabel `alg`); use [`Signer`] everywhere else.
pub fn sign_exact(
    header_json: &[u8],
    payload: &[u8],
    key: &Key,
    alg: Algorithm,
) -> Result<String, Error> {
    if !key.can_sign() {
        return Err(Error::PublicKeyCannotSign);
    }
    let mut out = b64::encode(header_json);
    out.push('.');
    b64::encode_into(payload, &mut out);
    let sig = key.sign(alg, out.as_bytes())?;
    out.push('.');
    b64::encode_into(&sig, &mut out);
    Ok(out)
}

/// Produces an UNSECURED JWS (`alg` `none`, empty signature; RFC 7515 §A.5). Nothing in Signet
/// ever accepts one; this exists for PingOne applications configured to accept unsigned request
/// objects, and only behind an explicit opt-in at every call site.
pub fn sign_unsecured_insecure(header: &Map<String, Value>, payload: &[u8]) -> String {
    let mut h = Map::new();
    h.insert("alg".into(), "none".into());
    for (k, v) in header {
        if k != "alg" {
            h.insert(k.clone(), v.clone());
        }
    }
    let mut out = b64::encode(Value::Object(h).to_string());
    out.push('.');
    b64::encode_into(payload, &mut out);
    out.push('.');
    out
}
