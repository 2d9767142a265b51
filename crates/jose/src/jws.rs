//! Compact JWS (RFC 7515 §7.1): strict parsing, signing and verification.
//!
//! The verify path runs the cheapest, strictest checks first: size, segment count, base64url,
//! header JSON, `alg`, `crit`, key choice and key/algorithm binding, and only then the
//! signature. Header members that carry keys (`jwk`, `jku`, `x5u`, `x5c`) are never used: trust
//! comes only from the keys the caller supplies.

use std::fmt;
use std::sync::{Arc, Mutex};

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

/// Stack room for a decoded signature: every HMAC, ECDSA and EdDSA one (RSA's go to the heap).
const SIGNATURE_BUF: usize = 136;

/// [`decode_segment`] into `stack` when it fits, else into `heap`; the same errors.
pub(crate) fn decode_segment_into<'b>(
    text: &str,
    part: Part,
    stack: &'b mut [u8],
    heap: &'b mut Vec<u8>,
) -> Result<&'b [u8], Error> {
    match b64::decode_to_slice(text.as_bytes(), stack)
        .map_err(|reason| Error::Base64 { part, reason })?
    {
        Some(n) => Ok(stack.get(..n).unwrap_or_default()),
        None => {
            *heap = decode_segment(text, part)?;
            Ok(heap)
        }
    }
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

/// A JWS whose signature verified, its payload still encoded.
pub(crate) struct VerifiedParts<'t, 'v> {
    pub(crate) header: Map<String, Value>,
    pub(crate) payload_b64: &'t str,
    pub(crate) alg: Algorithm,
    pub(crate) key: &'v Key,
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
#[derive(Clone)]
pub struct Verifier {
    keys: KeySet,
    allowed: Vec<Algorithm>,
    understood_crit: Vec<String>,
    max_len: usize,
    headers: HeaderCache,
    claims_shape: json::ShapeCache,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.keys)
            .field("allowed", &self.allowed)
            .field("understood_crit", &self.understood_crit)
            .field("max_len", &self.max_len)
            .finish()
    }
}

/// A header segment that parsed strictly, with what the verify path reads from it. Everything
/// here is a function of the segment's bytes alone, not of the verifier's settings, so an entry
/// stays valid whatever the verifier allows; the settings are checked again on every use.
#[derive(Debug)]
struct ParsedHeader {
    segment: Box<str>,
    header: Map<String, Value>,
    alg: Algorithm,
    kid: Option<String>,
    has_crit: bool,
}

/// Header segments longer than this are never cached.
const MAX_CACHED_HEADER: usize = 1024;
/// Number of header segments remembered (a few, for key rotation across `kid`s).
const HEADER_CACHE_SLOTS: usize = 4;

/// The last few header segments of tokens whose signatures verified, so that the common case (one
/// issuer, one header) skips base64 and JSON for the header. Never blocks: when another thread
/// holds the lock, the token is parsed as if the cache were empty.
#[derive(Default)]
struct HeaderCache(Mutex<HeaderSlots>);

#[derive(Default)]
struct HeaderSlots {
    slots: [Option<Arc<ParsedHeader>>; HEADER_CACHE_SLOTS],
    next: usize,
}

impl HeaderCache {
    fn get(&self, segment: &str) -> Option<Arc<ParsedHeader>> {
        let slots = self.0.try_lock().ok()?;
        slots
            .slots
            .iter()
            .flatten()
            .find(|p| &*p.segment == segment)
            .cloned()
    }

    fn put(&self, parsed: ParsedHeader) {
        if parsed.segment.len() > MAX_CACHED_HEADER {
            return;
        }
        let Ok(mut slots) = self.0.try_lock() else {
            return;
        };
        let at = slots.next % HEADER_CACHE_SLOTS;
        slots.next = (at + 1) % HEADER_CACHE_SLOTS;
        if let Some(slot) = slots.slots.get_mut(at) {
            *slot = Some(Arc::new(parsed));
        }
    }
}

impl Clone for HeaderCache {
    /// A clone starts with an empty cache.
    fn clone(&self) -> HeaderCache {
        HeaderCache::default()
    }
}

/// A header for the verify path: from the cache, or parsed now (and then worth caching).
enum HeaderRef {
    Cached(Arc<ParsedHeader>),
    Fresh(ParsedHeader),
}

impl std::ops::Deref for HeaderRef {
    type Target = ParsedHeader;
    fn deref(&self) -> &ParsedHeader {
        match self {
            HeaderRef::Cached(p) => p,
            HeaderRef::Fresh(p) => p,
        }
    }
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
            headers: HeaderCache::default(),
            claims_shape: json::ShapeCache::default(),
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

    /// The shape of the last claims set parsed (see [`json::ShapeCache`]).
    pub(crate) fn claims_shape(&self) -> &json::ShapeCache {
        &self.claims_shape
    }

    /// Verifies a JWS with an opaque payload (raw mode: no JWT claim checks).
    pub fn verify(&self, token: &str) -> Result<Verified, Error> {
        let parts = self.verify_parts(token)?;
        let payload = decode_segment(parts.payload_b64, Part::Payload)?;
        Ok(Verified {
            header: parts.header,
            payload,
            alg: parts.alg,
            key_kid: parts.key.kid().map(str::to_owned),
        })
    }

    /// Everything [`Verifier::verify`] does but decoding the payload, which is left to the
    /// caller (the JWT path decodes it without allocating). Errors come in the same order.
    pub(crate) fn verify_parts<'t>(&self, token: &'t str) -> Result<VerifiedParts<'t, '_>, Error> {
        let (h, p, s) = split(token, self.max_len)?;
        if h.is_empty() {
            return Err(Error::EmptySegment { part: Part::Header });
        }
        // The checks run in the same order whether or not the header was cached: parse, alg,
        // allowed, crit, kid. A cached entry passed parse, alg and kid already, and those depend
        // on the segment alone; allowed and crit depend on the settings and run every time.
        let parsed = match self.headers.get(h) {
            Some(cached) => {
                if !self.allowed.contains(&cached.alg) {
                    return Err(self.not_allowed(cached.alg));
                }
                if cached.has_crit {
                    check_crit(&cached.header, &self.understood_crit)?;
                }
                HeaderRef::Cached(cached)
            }
            None => {
                let header = json::parse_object(&decode_segment(h, Part::Header)?, Part::Header)?;
                let alg = header_algorithm(&header)?;
                if !self.allowed.contains(&alg) {
                    return Err(self.not_allowed(alg));
                }
                check_crit(&header, &self.understood_crit)?;
                let kid = header_string(&header, "kid")?.map(str::to_owned);
                HeaderRef::Fresh(ParsedHeader {
                    segment: h.into(),
                    has_crit: header.contains_key("crit"),
                    header,
                    alg,
                    kid,
                })
            }
        };
        let alg = parsed.alg;
        let mut stack = [0u8; SIGNATURE_BUF];
        let mut heap = Vec::new();
        let signature = decode_segment_into(s, Part::Signature, &mut stack, &mut heap)?;
        let signing_input = token
            .get(..h.len() + 1 + p.len())
            .ok_or(Error::SegmentCount { found: 0 })?;
        let key = self.verify_signature(
            alg,
            parsed.kid.as_deref(),
            signing_input.as_bytes(),
            signature,
        )?;
        let header = match parsed {
            HeaderRef::Cached(cached) => cached.header.clone(),
            HeaderRef::Fresh(mut fresh) => {
                // Only headers of tokens whose signature verified enter the cache, sized to fit
                // so that copies of them are small.
                fresh.header = std::mem::take(&mut fresh.header).into_iter().collect();
                let header = fresh.header.clone();
                self.headers.put(fresh);
                header
            }
        };
        Ok(VerifiedParts {
            header,
            payload_b64: p,
            alg,
            key,
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
        let by_kid = self.keys.keys().iter().filter(|k| match (kid, k.kid()) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        });
        let mut tried = false;
        let mut last = None;
        for key in by_kid {
            tried = true;
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
        if !tried {
            return Err(Error::UnknownKid(kid.unwrap_or_default().to_owned()));
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
        let mut out = self.start_output(b64::encoded_len(payload.len()));
        b64::encode_append(payload, &mut out);
        self.finish_output(out)
    }

    /// Serializes `claims` as compact JSON (field order kept) and signs it.
    pub fn sign_claims<T: Serialize + ?Sized>(&self, claims: &T) -> Result<String, Error> {
        // The JSON is written straight into the output after the header, then base64url-encoded
        // where it stands: no separate payload buffer.
        let mut out = self.start_output(TYPICAL_CLAIMS * 7 / 3);
        let from = out.len();
        serde_json::to_writer(&mut out, claims).map_err(|e| Error::NotClaims(e.to_string()))?;
        b64::encode_tail_in_place(&mut out, from);
        self.finish_output(out)
    }

    /// A buffer holding `BASE64URL(header) '.'`, with room for `payload_room` more bytes and the
    /// signature.
    fn start_output(&self, payload_room: usize) -> Vec<u8> {
        let sig_len = b64::encoded_len(self.key.signature_len(self.alg));
        let mut out = Vec::with_capacity(self.header_b64.len() + 2 + payload_room + sig_len);
        out.extend_from_slice(self.header_b64.as_bytes());
        out.push(b'.');
        out
    }

    /// Signs the signing input in `out` and appends `'.' BASE64URL(signature)`.
    fn finish_output(&self, mut out: Vec<u8>) -> Result<String, Error> {
        let sig = self.key.sign_raw(self.alg, &out)?;
        out.push(b'.');
        b64::encode_append(sig, &mut out);
        // Only base64url and '.' were written.
        String::from_utf8(out).map_err(|_| Error::SigningFailed("compact JWS is not ASCII".into()))
    }
}

/// Bytes of JSON a claims set usually takes, for sizing the signer's output.
const TYPICAL_CLAIMS: usize = 256;

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

/// Property test: for every algorithm, random claims signed with a key verify with its public
/// key to exactly those claims (member order kept), and any change to the token fails.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod properties {
    use std::sync::OnceLock;

    use super::*;
    use proptest::prelude::*;

    /// One key per algorithm, made once (RSA generation is slow).
    fn keys() -> &'static Vec<(Algorithm, Key)> {
        static KEYS: OnceLock<Vec<(Algorithm, Key)>> = OnceLock::new();
        KEYS.get_or_init(|| {
            Algorithm::ALL
                .iter()
                .map(|&alg| (alg, Key::generate(alg).unwrap()))
                .collect()
        })
    }

    fn claims() -> impl Strategy<Value = Map<String, Value>> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<String>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            Just(Value::Null),
        ];
        let value = leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::vec(("[a-z]{1,4}", inner), 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        proptest::collection::vec(("[a-zA-Z_.]{1,8}", value), 0..6)
            .prop_map(|m| m.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_algorithm_round_trips_random_claims(claims in claims(), which in 0usize..14, flip in any::<proptest::sample::Index>()) {
            let (alg, key) = &keys()[which % keys().len()];
            let token = Signer::new(key.clone(), *alg).unwrap().sign_claims(&claims).unwrap();
            let public = if key.kind() == crate::KeyKind::Hmac { key.clone() } else { key.to_public().unwrap() };
            let verified = Verifier::new(public.clone()).verify(&token).unwrap();
            let back: Map<String, Value> = serde_json::from_slice(&verified.payload).unwrap();
            prop_assert_eq!(&back, &claims);
            prop_assert!(back.keys().eq(claims.keys()), "member order");
            // One character changed anywhere: refused (or, for a base64 character whose
            // change only touches padding bits, refused as non-canonical).
            let mut bytes = token.clone().into_bytes();
            let i = flip.index(bytes.len());
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered != token {
                prop_assert!(Verifier::new(public).verify(&tampered).is_err(), "{} verified after a change at {}", alg.name(), i);
            }
        }
    }
}
